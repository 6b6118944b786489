/**
 * The Kubernetes actions (DESIGN.md §3): `/k8s contexts|use|ns|pods|deploy|nodes|events|logs|
 * describe` and, unless K8S_READ_ONLY, `scale|restart|rollback|delete` — the latter all
 * destructive, each with a server-side dry-run preview.
 */
import type { AnyAction } from '../../core/action.js';
import type { KubeActionDeps } from './common.js';
import { describeAction } from './describe.js';
import { logsAction } from './logs.js';
import { mutatingActions } from './mutate.js';
import { readActions } from './read.js';

export type { KubeActionDeps } from './common.js';

export function kubeActions(deps: KubeActionDeps): AnyAction[] {
  return [
    ...readActions(deps),
    logsAction(deps),
    describeAction(deps),
    ...(deps.readOnly ? [] : mutatingActions(deps)),
  ];
}

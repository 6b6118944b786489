/**
 * A compose project as a unit (`/docker restart shop/`): its containers, and the order to act
 * on them in — dependencies first, from compose v2's `com.docker.compose.depends_on` label
 * (`db:service_started:false,cache:service_healthy:true`), else by service name.
 */
import { ActionError, type ActionContext } from '../../core/action.js';
import { bold, line, result, text, value, type Block, type Result } from '../../core/result.js';
import { editDistance } from '../../core/suggest.js';
import { compareNames, counted } from '../../core/text.js';
import { stateEmoji } from './format.js';
import type { ContainerSummary, DockerPort } from './port.js';
import type { ExpectedStops } from './stops.js';

export const COMPOSE_DEPENDS_ON = 'com.docker.compose.depends_on';
const COMPOSE_ONEOFF = 'com.docker.compose.oneoff';
/** `shop/`: a whole compose project. */
export const PROJECT_REF = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}\/$/;
/** A project with more containers than this is refused: one approval should stay readable. */
export const PROJECT_MAX = 50;

export const isProjectRef = (s: string): boolean => PROJECT_REF.test(s);

/** Service names a container's depends_on label names (conditions and flags dropped). */
export function dependsOn(labels: Readonly<Record<string, string>>): string[] {
  const raw = labels[COMPOSE_DEPENDS_ON] ?? '';
  return raw
    .split(',')
    .map((entry) => entry.split(':')[0]!.trim())
    .filter((s) => s !== '');
}

const serviceOf = (c: ContainerSummary): string => c.service ?? c.name;

/**
 * The containers in the order to restart them: a service after every service it depends on
 * (within the project), ties and everything else by service name, then container name. A
 * dependency cycle cannot be honoured: its services follow in name order, after the rest.
 */
export function restartOrder(containers: readonly ContainerSummary[]): { order: ContainerSummary[]; cycle: string[] } {
  const byService = new Map<string, ContainerSummary[]>();
  for (const c of containers) byService.set(serviceOf(c), [...(byService.get(serviceOf(c)) ?? []), c]);
  const needs = new Map<string, Set<string>>();
  for (const [service, cs] of byService) {
    const deps = new Set(cs.flatMap((c) => dependsOn(c.labels)).filter((d) => d !== service && byService.has(d)));
    needs.set(service, deps);
  }
  const done: string[] = [];
  const left = new Set([...byService.keys()].sort(compareNames));
  for (;;) {
    const ready = [...left].find((s) => [...needs.get(s)!].every((d) => !left.has(d)));
    if (ready === undefined) break;
    done.push(ready);
    left.delete(ready);
  }
  const cycle = [...left];
  const order = [...done, ...cycle].flatMap((s) => [...byService.get(s)!].sort((a, b) => compareNames(a.name, b.name)));
  return { order, cycle };
}

/** The project's containers (all of them, running or not), or an error naming close projects. */
export async function projectContainers(
  port: DockerPort,
  ref: string,
  signal?: AbortSignal,
): Promise<{ project: string; containers: ContainerSummary[] }> {
  const project = ref.slice(0, -1);
  const all = await port.list({ all: true }, signal);
  // One-off containers (`compose run`) are not the project's services.
  const containers = all.filter((c) => c.project === project && c.labels[COMPOSE_ONEOFF] !== 'True');
  if (containers.length === 0) {
    const projects = [...new Set(all.flatMap((c) => (c.project ? [c.project] : [])))];
    const close = projects
      .filter((p) => editDistance(p.toLowerCase(), project.toLowerCase(), 3) <= 2)
      .sort(compareNames);
    const hint = close.length > 0 ? `; did you mean ${close.map((p) => `${p}/`).join(', ')}?` : '';
    throw new ActionError(`no compose project "${project}"${hint}`);
  }
  if (containers.length > PROJECT_MAX) {
    throw new ActionError(`compose project ${project} has ${containers.length} containers; at most ${PROJECT_MAX}`);
  }
  return { project, containers };
}

/** `1. db · shop-db-1 · 🟢 Up 2 hours` for each container, in order. */
function orderBlocks(order: readonly ContainerSummary[]): Block[] {
  return order.map((c, i) =>
    line(
      text(`${i + 1}. ${stateEmoji(c.state)} `),
      value(serviceOf(c)),
      text(' · '),
      value(c.name),
      text(' · '),
      value(c.status),
    ),
  );
}

/** The approval card's lines: every container of the project, in the order they will restart. */
export async function projectPreview(port: DockerPort, ref: string, graceSeconds: number, signal?: AbortSignal) {
  const { project, containers } = await projectContainers(port, ref, signal);
  const { order, cycle } = restartOrder(containers);
  return [
    line(
      text('Restarts '),
      bold(counted(order.length, 'container')),
      text(' of compose project '),
      value(project),
      text(', one at a time, dependencies first:'),
    ),
    ...orderBlocks(order),
    ...(cycle.length > 0 ? [line(text('Depend on each other (in name order): '), value(cycle.join(', ')))] : []),
    line(text(`Each running one gets SIGTERM, then SIGKILL after ${graceSeconds} s.`)),
  ];
}

/** The ids of the project's containers now, sorted: what an approval of its restart stands for. */
export async function projectIds(port: DockerPort, ref: string, signal?: AbortSignal): Promise<string[]> {
  return (await projectContainers(port, ref, signal)).containers.map((c) => c.id).sort();
}

export interface ProjectRestartDeps {
  readonly port: DockerPort;
  readonly stops: ExpectedStops;
  readonly graceSeconds: number;
}

/**
 * Restarts the project's containers in order, each once the one before has restarted; the
 * first failure stops the rest (what depends on a container that did not come back is left
 * alone), and the answer says which restarted, which failed and which were not touched.
 */
export async function restartProject(
  d: ProjectRestartDeps,
  ctx: ActionContext,
  ref: string,
  approved?: readonly string[],
): Promise<Result> {
  const { project, containers } = await projectContainers(d.port, ref, ctx.signal);
  if (approved !== undefined) {
    const now = new Set(containers.map((c) => c.id));
    const added = containers.filter((c) => !approved.includes(c.id)).map((c) => c.name);
    const gone = approved.filter((id) => !now.has(id)).length;
    if (added.length > 0 || gone > 0)
      throw new ActionError(
        `compose project ${project} changed since its card (${[
          ...(added.length > 0 ? [`new: ${added.join(', ')}`] : []),
          ...(gone > 0 ? [`${counted(gone, 'container')} gone`] : []),
        ].join('; ')}): nothing was restarted; ask again to see it as it is.`,
      );
  }
  const { order } = restartOrder(containers);
  const blocks: Block[] = [
    line(bold('Compose project '), value(project), text(`: ${counted(order.length, 'container')}`)),
  ];
  for (const [i, c] of order.entries()) {
    ctx.progress?.(`Restarting ${i + 1}/${order.length}: ${c.name} (up to ${d.graceSeconds} s if it ignores SIGTERM)…`);
    if (c.state === 'running') d.stops.expect(c.id);
    try {
      await d.port.restart(c.id, { graceSeconds: d.graceSeconds }, ctx.signal);
    } catch (e) {
      d.stops.forget(c.id);
      const why = e instanceof ActionError ? e.message : 'internal error';
      blocks.push(line(text(`❌ ${i + 1}. `), value(c.name), text(': '), value(why)));
      const rest = order.slice(i + 1);
      if (rest.length > 0) blocks.push(line(text('Not restarted: '), value(rest.map((r) => r.name).join(', '))));
      return result(blocks, { failure: `restarting ${c.name} failed: ${why}` });
    }
    blocks.push(line(text(`✅ ${i + 1}. `), value(c.name), text(' restarted')));
  }
  return result(blocks);
}

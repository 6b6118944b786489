/**
 * Just enough of kube-controller-manager: Deployments own ReplicaSets (one per pod template,
 * numbered by `deployment.kubernetes.io/revision`), ReplicaSets, StatefulSets and DaemonSets
 * keep their pods, and every owner's status follows its pods. New pods are Running and Ready.
 */
import { createHash } from 'node:crypto';
import { canonical, clone, setCondition, type ClusterState } from './cluster.js';
import type { Container, KObj, PodTemplate } from './types.js';

export const REVISION = 'deployment.kubernetes.io/revision';
const HASH_LABEL = 'pod-template-hash';
const REVISION_LABEL = 'controller-revision-hash';

/** Hash of a pod template without the label the controller itself adds. */
export function templateHash(t: PodTemplate | undefined): string {
  const copy = clone(t ?? { spec: { containers: [] } });
  if (copy.metadata?.labels) {
    delete copy.metadata.labels[HASH_LABEL];
    delete copy.metadata.labels[REVISION_LABEL];
  }
  return createHash('sha256').update(canonical(copy)).digest('hex').slice(0, 10);
}

const ownerRef = (o: KObj) => ({
  apiVersion: o.apiVersion,
  kind: o.kind,
  name: o.metadata.name,
  uid: o.metadata.uid,
  controller: true,
  blockOwnerDeletion: true,
});
const ownedBy = (child: KObj, owner: KObj) =>
  (child.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid);
const revisionOf = (o: KObj) => Number(o.metadata.annotations?.[REVISION] ?? 0);
const isReady = (p: KObj) => (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const matchLabels = (o: KObj): Record<string, string> => {
  const sel = o.spec?.selector as { matchLabels?: Record<string, string> } | undefined;
  return sel?.matchLabels ?? {};
};

/** Writes only when something differs, so reconcile converges. */
function save(
  c: ClusterState,
  resource: Parameters<ClusterState['put']>[0],
  before: KObj | undefined,
  after: KObj,
): boolean {
  if (before && canonical(before) === canonical(after)) return false;
  c.put(resource, after);
  return true;
}

function newPod(
  c: ClusterState,
  ns: string,
  name: string,
  tpl: PodTemplate,
  owner: KObj,
  nodeName: string,
  extraLabels: Record<string, string>,
): KObj {
  const now = new Date().toISOString();
  const containers: Container[] = clone(tpl.spec.containers);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: ns,
      uid: c.uid(),
      resourceVersion: '',
      creationTimestamp: now,
      labels: { ...(tpl.metadata?.labels ?? {}), ...extraLabels },
      ...(tpl.metadata?.annotations ? { annotations: clone(tpl.metadata.annotations) } : {}),
      ownerReferences: [ownerRef(owner)],
    },
    spec: { ...clone(tpl.spec), nodeName, restartPolicy: 'Always' },
    status: {
      phase: 'Running',
      hostIP: '10.0.0.1',
      podIP: `10.244.0.${(Number(c.resourceVersion) % 250) + 2}`,
      startTime: now,
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
        { type: 'Initialized', status: 'True', lastTransitionTime: now },
        { type: 'ContainersReady', status: 'True', lastTransitionTime: now },
        { type: 'Ready', status: 'True', lastTransitionTime: now },
      ],
      containerStatuses: containers.map((ct) => ({
        name: ct.name,
        image: ct.image,
        imageID: `docker-pullable://${ct.image}@sha256:${createHash('sha256').update(ct.image).digest('hex')}`,
        ready: true,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: now } },
        lastState: {},
      })),
    },
  };
}

function nodeNames(c: ClusterState): string[] {
  const names = c.list('nodes').map((n) => n.metadata.name);
  return names.length ? names : ['node-1'];
}

/** Keeps `want` pods owned by `owner` (named by `nameFor`), replacing outdated ones. */
function keepPods(
  c: ClusterState,
  owner: KObj,
  want: { name: string; node: string }[] | number,
  tpl: PodTemplate,
  labels: Record<string, string>,
  upToDate: (p: KObj) => boolean,
): boolean {
  const ns = owner.metadata.namespace!;
  let changed = false;
  const pods = c.list('pods', ns).filter((p) => ownedBy(p, owner));
  for (const p of pods) {
    if (!upToDate(p)) {
      c.remove('pods', ns, p.metadata.name);
      changed = true;
    }
  }
  const live = c.list('pods', ns).filter((p) => ownedBy(p, owner));
  const nodes = nodeNames(c);
  if (typeof want === 'number') {
    for (let i = live.length; i < want; i++) {
      const name = `${owner.metadata.name}-${c.suffix(owner.metadata.name)}`;
      c.put('pods', newPod(c, ns, name, tpl, owner, nodes[i % nodes.length]!, labels));
      c.addEvent({
        namespace: ns,
        involved: { kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid },
        type: 'Normal',
        reason: 'SuccessfulCreate',
        message: `Created pod: ${name}`,
      });
      changed = true;
    }
    const extra = live
      .sort(
        (a, b) =>
          b.metadata.creationTimestamp.localeCompare(a.metadata.creationTimestamp) ||
          b.metadata.name.localeCompare(a.metadata.name),
      )
      .slice(0, Math.max(0, live.length - want));
    for (const p of extra) {
      c.remove('pods', ns, p.metadata.name);
      c.addEvent({
        namespace: ns,
        involved: { kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid },
        type: 'Normal',
        reason: 'SuccessfulDelete',
        message: `Deleted pod: ${p.metadata.name}`,
      });
      changed = true;
    }
  } else {
    const wanted = new Set(want.map((w) => w.name));
    for (const p of live) {
      if (!wanted.has(p.metadata.name)) {
        c.remove('pods', ns, p.metadata.name);
        changed = true;
      }
    }
    const have = new Set(live.map((p) => p.metadata.name));
    for (const w of want) {
      if (have.has(w.name)) continue;
      c.put('pods', newPod(c, ns, w.name, tpl, owner, w.node, labels));
      changed = true;
    }
  }
  return changed;
}

function reconcileDeployment(c: ClusterState, d: KObj): boolean {
  const ns = d.metadata.namespace!;
  const tpl = d.spec?.template ?? { spec: { containers: [] } };
  const hash = templateHash(tpl);
  let changed = false;
  const owned = () => c.list('replicasets', ns).filter((rs) => ownedBy(rs, d));
  const maxRev = Math.max(0, ...owned().map(revisionOf));
  let current = owned().find((rs) => rs.metadata.labels?.[HASH_LABEL] === hash);
  if (!current) {
    const labels = { ...(tpl.metadata?.labels ?? {}), [HASH_LABEL]: hash };
    current = c.put('replicasets', {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata.name}-${hash}`,
        namespace: ns,
        uid: c.uid(),
        resourceVersion: '',
        creationTimestamp: new Date().toISOString(),
        generation: 1,
        labels,
        annotations: { [REVISION]: String(maxRev + 1) },
        ownerReferences: [ownerRef(d)],
      },
      spec: {
        replicas: 0,
        selector: { matchLabels: { ...matchLabels(d), [HASH_LABEL]: hash } },
        template: { ...clone(tpl), metadata: { ...clone(tpl.metadata ?? {}), labels } },
      },
      status: { replicas: 0, readyReplicas: 0, availableReplicas: 0, observedGeneration: 1 },
    });
    changed = true;
  } else if (revisionOf(current) < maxRev) {
    // Rolling back to an old template re-uses its ReplicaSet under a new revision number.
    current.metadata.annotations = { ...current.metadata.annotations, [REVISION]: String(maxRev + 1) };
    current = c.put('replicasets', current);
    changed = true;
  }
  const want = d.spec?.replicas ?? 1;
  for (const rs of owned()) {
    const replicas = rs.metadata.uid === current.metadata.uid ? want : 0;
    if (rs.spec?.replicas !== replicas) {
      const up = replicas > (rs.spec?.replicas ?? 0);
      c.put('replicasets', {
        ...rs,
        metadata: { ...rs.metadata, generation: (rs.metadata.generation ?? 1) + 1 },
        spec: { ...rs.spec, replicas },
      });
      c.addEvent({
        namespace: ns,
        involved: { kind: 'Deployment', name: d.metadata.name, uid: d.metadata.uid },
        type: 'Normal',
        reason: 'ScalingReplicaSet',
        message: `Scaled ${up ? 'up' : 'down'} replica set ${rs.metadata.name} to ${replicas}`,
      });
      changed = true;
    }
  }
  const all = owned();
  const cur = all.find((rs) => rs.metadata.uid === current.metadata.uid)!;
  const sum = (f: (rs: KObj) => number | undefined) => all.reduce((n, rs) => n + (f(rs) ?? 0), 0);
  const next = clone(d);
  next.metadata.annotations = { ...next.metadata.annotations, [REVISION]: String(revisionOf(cur)) };
  const ready = sum((rs) => rs.status?.readyReplicas);
  const updated = cur.status?.replicas ?? 0;
  const complete = updated === want && sum((rs) => rs.status?.replicas) === want && ready === want;
  next.status = {
    observedGeneration: d.metadata.generation ?? 1,
    replicas: sum((rs) => rs.status?.replicas),
    updatedReplicas: updated,
    readyReplicas: ready,
    availableReplicas: ready,
    ...(want - ready > 0 ? { unavailableReplicas: want - ready } : {}),
    conditions: [
      {
        ...setCondition(
          d.status?.conditions,
          'Available',
          ready >= want,
          ready >= want ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
        ).find((x) => x.type === 'Available')!,
        message:
          ready >= want ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.',
      },
      {
        ...setCondition(
          d.status?.conditions,
          'Progressing',
          true,
          complete ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated',
        ).find((x) => x.type === 'Progressing')!,
        message: complete
          ? `ReplicaSet "${cur.metadata.name}" has successfully progressed.`
          : `ReplicaSet "${cur.metadata.name}" is progressing.`,
      },
    ],
  };
  return save(c, 'deployments', d, next) || changed;
}

function reconcileReplicaSet(c: ClusterState, rs: KObj): boolean {
  const tpl = rs.spec?.template ?? { spec: { containers: [] } };
  const changed = keepPods(c, rs, rs.spec?.replicas ?? 0, tpl, {}, () => true);
  const pods = c.list('pods', rs.metadata.namespace).filter((p) => ownedBy(p, rs));
  const ready = pods.filter(isReady).length;
  const next = clone(rs);
  next.status = {
    replicas: pods.length,
    fullyLabeledReplicas: pods.length,
    readyReplicas: ready,
    availableReplicas: ready,
    observedGeneration: rs.metadata.generation ?? 1,
  };
  return save(c, 'replicasets', rs, next) || changed;
}

function reconcileStatefulSet(c: ClusterState, s: KObj): boolean {
  const tpl = s.spec?.template ?? { spec: { containers: [] } };
  const rev = `${s.metadata.name}-${templateHash(tpl)}`;
  const nodes = nodeNames(c);
  const want = Array.from({ length: s.spec?.replicas ?? 1 }, (_, i) => ({
    name: `${s.metadata.name}-${i}`,
    node: nodes[i % nodes.length]!,
  }));
  const changed = keepPods(
    c,
    s,
    want,
    tpl,
    { [REVISION_LABEL]: rev },
    (p) => p.metadata.labels?.[REVISION_LABEL] === rev,
  );
  const pods = c.list('pods', s.metadata.namespace).filter((p) => ownedBy(p, s));
  const ready = pods.filter(isReady).length;
  const next = clone(s);
  next.status = {
    observedGeneration: s.metadata.generation ?? 1,
    replicas: pods.length,
    readyReplicas: ready,
    availableReplicas: ready,
    currentReplicas: pods.length,
    updatedReplicas: pods.length,
    currentRevision: rev,
    updateRevision: rev,
  };
  return save(c, 'statefulsets', s, next) || changed;
}

function reconcileDaemonSet(c: ClusterState, ds: KObj): boolean {
  const tpl = ds.spec?.template ?? { spec: { containers: [] } };
  const rev = templateHash(tpl);
  const ns = ds.metadata.namespace!;
  const existing = c.list('pods', ns).filter((p) => ownedBy(p, ds));
  const want = nodeNames(c).map((node) => {
    const same = existing.find((p) => p.spec?.nodeName === node && p.metadata.labels?.[REVISION_LABEL] === rev);
    return { name: same?.metadata.name ?? `${ds.metadata.name}-${c.suffix(ds.metadata.name)}`, node };
  });
  const changed = keepPods(
    c,
    ds,
    want,
    tpl,
    { [REVISION_LABEL]: rev },
    (p) => p.metadata.labels?.[REVISION_LABEL] === rev,
  );
  const pods = c.list('pods', ns).filter((p) => ownedBy(p, ds));
  const ready = pods.filter(isReady).length;
  const next = clone(ds);
  next.status = {
    observedGeneration: ds.metadata.generation ?? 1,
    desiredNumberScheduled: want.length,
    currentNumberScheduled: pods.length,
    updatedNumberScheduled: pods.length,
    numberReady: ready,
    numberAvailable: ready,
    numberMisscheduled: 0,
  };
  return save(c, 'daemonsets', ds, next) || changed;
}

/** One pass of every controller; true when anything changed. */
export function reconcile(c: ClusterState): boolean {
  let changed = false;
  for (const d of c.list('deployments')) changed = reconcileDeployment(c, d) || changed;
  for (const rs of c.list('replicasets')) changed = reconcileReplicaSet(c, rs) || changed;
  for (const s of c.list('statefulsets')) changed = reconcileStatefulSet(c, s) || changed;
  for (const ds of c.list('daemonsets')) changed = reconcileDaemonSet(c, ds) || changed;
  return changed;
}

// What the rest of a cluster does to the objects, emulated so real-fault drills see a real
// cluster's reactions through the API (watches included):
//   - the StatefulSet controller (pkg/controller/statefulset): pods <name>-<ordinal> owned by the
//     StatefulSet; a deleted pod comes back after `recreateDelayMs` (same name, new uid, Pending),
//     and turns Running + Ready after `readyDelayMs` (what the kubelet and a readiness probe do);
//     status.replicas/readyReplicas follow;
//   - the scheduler: a new pod goes to the schedulable node (not cordoned, Ready) with the fewest
//     pods; with nodes but none schedulable it stays Pending (PodScheduled False, Unschedulable)
//     until one is; without any Node objects pods run unbound;
//   - graceful pod deletion (pkg/registry/core/pod/strategy.go CheckGracefulDelete and the generic
//     store): a bound pod gets deletionTimestamp/deletionGracePeriodSeconds (MODIFIED) and the
//     kubelet removes it after `terminationDelayMs` (DELETED); unbound or finished pods, or grace
//     period 0, go at once;
//   - the disruption controller (pkg/controller/disruption): PodDisruptionBudget status
//     (expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed, disruptedPods,
//     the DisruptionAllowed condition, observedGeneration).
import { labelSelectorEmpty, labelSelectorMatcher } from './selectors.mjs';
import { nowTime } from './schema.mjs';
import { RESOURCES, systemObject } from './resources.mjs';

const POD = RESOURCES.find((r) => r.resource === 'pods');
const DISRUPTION_TIMEOUT_MS = 2 * 60 * 1000; // disruption.go DeletionTimeout

export function isPodReady(pod) {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

const controllerOf = (o) => (o.metadata.ownerReferences ?? []).find((r) => r.controller === true);

// intstr.GetScaledValueFromIntOrPercent(v, total, roundUp=true)
function scaled(v, total) {
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(String(v));
  if (!m) return null;
  return Math.ceil((Number(m[1]) * total) / 100);
}

function condition(type, status, extra = {}) {
  return { type, status, lastProbeTime: null, lastTransitionTime: nowTime(), ...extra };
}

export class Controllers {
  constructor({ store, settings }) {
    this.store = store;
    this.settings = settings; // {recreateDelayMs, readyDelayMs, terminationDelayMs}
    this.timers = new Set();
    this.pendingCreates = new Set(); // "ns/name" of pods waiting to be recreated
    this.nextIP = 10;
    this.queued = new Set();
    this.listener = (ev) => this.onEvent(ev);
  }

  start() {
    this.store.listeners.add(this.listener);
    for (const s of this.store.list('statefulsets')) this.syncStatefulSet(s.metadata.namespace, s.metadata.name, true);
    for (const ns of new Set(this.store.list('poddisruptionbudgets').map((p) => p.metadata.namespace))) this.syncDisruption(ns);
  }

  stop() {
    this.store.listeners.delete(this.listener);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  later(ms, fn) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  // Coalesces work per key to the next tick: controllers react to committed events, never inside
  // the commit that caused them.
  enqueue(key, fn) {
    if (this.queued.has(key)) return;
    this.queued.add(key);
    setImmediate(() => {
      this.queued.delete(key);
      fn();
    });
  }

  onEvent(ev) {
    const o = ev.obj;
    const ns = o.metadata.namespace;
    switch (ev.storage) {
      case 'statefulsets':
        if (ev.type !== 'DELETED') this.enqueue(`sts/${ns}/${o.metadata.name}`, () => this.syncStatefulSet(ns, o.metadata.name, ev.type === 'ADDED'));
        break;
      case 'pods': {
        const owner = controllerOf(o);
        if (owner?.kind === 'StatefulSet') {
          if (ev.type === 'DELETED') this.podGone(ns, o.metadata.name, owner.name);
          this.enqueue(`stsstatus/${ns}/${owner.name}`, () => this.syncStatefulSetStatus(ns, owner.name));
        }
        this.enqueue(`pdb/${ns}`, () => this.syncDisruption(ns));
        break;
      }
      case 'poddisruptionbudgets':
        if (ev.type !== 'DELETED') this.enqueue(`pdb/${ns}`, () => this.syncDisruption(ns));
        break;
      case 'nodes':
        this.enqueue('schedule', () => this.schedulePending());
        break;
      default:
    }
  }

  // ---- StatefulSet controller ----

  podGone(ns, podName, stsName) {
    const key = `${ns}/${podName}`;
    if (this.pendingCreates.has(key)) return;
    this.pendingCreates.add(key);
    this.later(this.settings.recreateDelayMs, () => {
      this.pendingCreates.delete(key);
      this.syncStatefulSet(ns, stsName, false);
    });
  }

  syncStatefulSet(ns, name, initial) {
    const sts = this.store.get('statefulsets', ns, name);
    if (!sts) return;
    const replicas = sts.spec?.replicas ?? 1;
    for (let i = 0; i < replicas; i++) {
      const podName = `${name}-${i}`;
      if (this.pendingCreates.has(`${ns}/${podName}`) || this.store.get('pods', ns, podName)) continue;
      this.createPod(sts, i, initial);
    }
    this.syncStatefulSetStatus(ns, name);
  }

  createPod(sts, ordinal, ready) {
    const name = `${sts.metadata.name}-${ordinal}`;
    const ns = sts.metadata.namespace;
    const tpl = sts.spec?.template ?? {};
    const spec = structuredClone(tpl.spec ?? {});
    spec.hostname = name;
    if (sts.spec?.serviceName) spec.subdomain = sts.spec.serviceName;
    const body = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: {
        name, namespace: ns,
        labels: { ...(tpl.metadata?.labels ?? {}), 'apps.kubernetes.io/pod-index': String(ordinal), 'statefulset.kubernetes.io/pod-name': name },
        ...(tpl.metadata?.annotations ? { annotations: tpl.metadata.annotations } : {}),
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: sts.metadata.name, uid: sts.metadata.uid, controller: true, blockOwnerDeletion: true }],
      },
      spec,
      status: { phase: 'Pending', qosClass: 'BestEffort' },
    };
    const node = this.pickNode();
    if (node === null) {
      body.status.conditions = [condition('PodScheduled', 'False', { reason: 'Unschedulable', message: '0/0 nodes are available: no schedulable node.' })];
      this.store.commit('ADDED', 'pods', systemObject(POD, body));
      return;
    }
    if (node) body.spec.nodeName = node;
    this.startPod(body, ready);
    const created = this.store.commit('ADDED', 'pods', systemObject(POD, body));
    if (!ready) this.later(this.settings.readyDelayMs, () => this.markReady(ns, name, created.metadata.uid));
  }

  // Scheduled (and, when `ready`, running and ready) status for a pod being created.
  startPod(body, ready) {
    const ip = `10.244.0.${this.nextIP++ % 250 + 2}`;
    const containers = body.spec.containers ?? [];
    body.status = {
      phase: ready ? 'Running' : 'Pending',
      conditions: [
        condition('PodReadyToStartContainers', ready ? 'True' : 'False'), condition('Initialized', 'True'),
        condition('Ready', ready ? 'True' : 'False', ready ? {} : { reason: 'ContainersNotReady', message: `containers with unready status: [${containers.map((c) => c.name).join(' ')}]` }),
        condition('ContainersReady', ready ? 'True' : 'False', ready ? {} : { reason: 'ContainersNotReady', message: `containers with unready status: [${containers.map((c) => c.name).join(' ')}]` }),
        condition('PodScheduled', 'True'),
      ],
      hostIP: '10.0.0.1', podIP: ip, podIPs: [{ ip }], startTime: nowTime(), qosClass: 'BestEffort',
      containerStatuses: containers.map((c) => ({
        name: c.name, image: c.image ?? '', imageID: '', ready, restartCount: 0, started: ready,
        state: ready ? { running: { startedAt: nowTime() } } : { waiting: { reason: 'ContainerCreating' } },
      })),
    };
  }

  markReady(ns, name, uid) {
    const pod = this.store.get('pods', ns, name);
    if (!pod || pod.metadata.uid !== uid || pod.metadata.deletionTimestamp || !pod.spec?.nodeName && this.anyNodes()) return;
    const next = structuredClone(pod);
    const ip = pod.status?.podIP;
    this.startPod(next, true);
    if (ip) {
      next.status.podIP = ip;
      next.status.podIPs = [{ ip }];
    }
    this.store.commit('MODIFIED', 'pods', systemObject(POD, next, { uid, creationTimestamp: pod.metadata.creationTimestamp }), pod);
  }

  syncStatefulSetStatus(ns, name) {
    const sts = this.store.get('statefulsets', ns, name);
    if (!sts) return;
    const pods = this.store.list('pods', ns).filter((p) => controllerOf(p)?.uid === sts.metadata.uid);
    const ready = pods.filter((p) => isPodReady(p) && !p.metadata.deletionTimestamp).length;
    const status = {
      observedGeneration: sts.metadata.generation ?? 1, replicas: pods.length, readyReplicas: ready, currentReplicas: pods.length,
      updatedReplicas: pods.length, availableReplicas: ready, collisionCount: 0,
    };
    if (JSON.stringify(status) === JSON.stringify(sts.status ?? {})) return;
    this.store.commit('MODIFIED', 'statefulsets', { ...sts, status }, sts);
  }

  // ---- scheduler ----

  anyNodes() {
    return this.store.list('nodes').length > 0;
  }

  // -> node name, undefined (no Node objects: run unbound) or null (none schedulable).
  pickNode() {
    const nodes = this.store.list('nodes');
    if (nodes.length === 0) return undefined;
    const ok = nodes.filter((n) => !n.spec?.unschedulable
      && !(n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status !== 'True'));
    if (ok.length === 0) return null;
    const pods = this.store.list('pods');
    const load = (n) => pods.filter((p) => p.spec?.nodeName === n.metadata.name).length;
    ok.sort((a, b) => load(a) - load(b) || (a.metadata.name < b.metadata.name ? -1 : 1));
    return ok[0].metadata.name;
  }

  schedulePending() {
    for (const pod of this.store.list('pods')) {
      if (pod.spec?.nodeName || pod.metadata.deletionTimestamp || pod.status?.phase !== 'Pending') continue;
      if (!(pod.status?.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.status === 'False')) continue;
      const node = this.pickNode();
      if (!node) return;
      const next = structuredClone(pod);
      next.spec.nodeName = node;
      this.startPod(next, false);
      const uid = pod.metadata.uid;
      this.store.commit('MODIFIED', 'pods', systemObject(POD, next, { uid, creationTimestamp: pod.metadata.creationTimestamp }), pod);
      this.later(this.settings.readyDelayMs, () => this.markReady(pod.metadata.namespace, pod.metadata.name, uid));
    }
  }

  // ---- graceful deletion (the pod registry + the kubelet) ----

  // -> the object the DELETE answers with (pods: ReturnDeletedObject).
  deletePod(pod, gracePeriodSeconds, dryRun) {
    let period = gracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
    if (!pod.spec?.nodeName) period = 0;
    if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') period = 0;
    if (pod.metadata.deletionTimestamp) {
      // Already terminating: only a shorter grace period changes anything; 0 deletes now.
      if (period !== 0) return pod;
    }
    if (period === 0) return dryRun ? pod : this.store.commit('DELETED', 'pods', pod, pod);
    const next = structuredClone(pod);
    next.metadata.deletionTimestamp = new Date(Math.floor(Date.now() / 1000) * 1000 + period * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    next.metadata.deletionGracePeriodSeconds = period;
    if (dryRun) return next;
    const updated = this.store.commit('MODIFIED', 'pods', next, pod);
    const uid = pod.metadata.uid;
    this.later(Math.min(this.settings.terminationDelayMs, period * 1000), () => {
      const cur = this.store.get('pods', pod.metadata.namespace, pod.metadata.name);
      if (cur && cur.metadata.uid === uid) this.store.commit('DELETED', 'pods', cur, cur);
    });
    return updated;
  }

  // ---- disruption controller ----

  pdbsFor(pod) {
    return this.store.list('poddisruptionbudgets', pod.metadata.namespace).filter((pdb) => {
      if (labelSelectorEmpty(pdb.spec?.selector)) return false;
      const m = labelSelectorMatcher(pdb.spec.selector);
      return m !== null && m(pod.metadata.labels ?? {});
    });
  }

  syncDisruption(ns) {
    const pods = this.store.list('pods', ns);
    for (const pdb of this.store.list('poddisruptionbudgets', ns)) {
      const status = this.pdbStatus(pdb, pods);
      if (JSON.stringify(status) === JSON.stringify(pdb.status ?? {})) continue;
      this.store.commit('MODIFIED', 'poddisruptionbudgets', { ...pdb, status }, pdb);
    }
  }

  pdbStatus(pdb, allPods) {
    const m = labelSelectorEmpty(pdb.spec?.selector) ? null : labelSelectorMatcher(pdb.spec.selector);
    const pods = m ? allPods.filter((p) => m(p.metadata.labels ?? {})) : [];
    const spec = pdb.spec ?? {};
    let expected;
    let desired;
    let failSafe = null; // getExpectedScale's error: the budget fails safe (disruptionsAllowed 0)
    const scale = () => {
      const owners = new Map();
      for (const p of pods) {
        const c = controllerOf(p);
        if (!c) continue; // an unmanaged pod (no controller) does not count towards the scale
        const sts = c?.kind === 'StatefulSet' ? this.store.get('statefulsets', ns(p), c.name) : null;
        if (!sts || sts.metadata.uid !== c.uid) {
          failSafe ??= `found no controllers for pod "${p.metadata.name}"`;
          continue;
        }
        owners.set(sts.metadata.uid, sts.spec?.replicas ?? 1);
      }
      return [...owners.values()].reduce((a, b) => a + b, 0);
    };
    if (spec.maxUnavailable !== undefined && spec.maxUnavailable !== null) {
      expected = scale();
      desired = Math.max(0, expected - (scaled(spec.maxUnavailable, expected) ?? 0));
    } else if (typeof spec.minAvailable === 'number') {
      expected = pods.length;
      desired = spec.minAvailable;
    } else if (spec.minAvailable !== undefined && spec.minAvailable !== null) {
      expected = scale();
      desired = scaled(spec.minAvailable, expected) ?? 0;
    } else {
      expected = pods.length;
      desired = 0;
    }
    const now = Date.now();
    const disrupted = {};
    for (const p of pods) {
      const t = pdb.status?.disruptedPods?.[p.metadata.name];
      if (!t || p.metadata.deletionTimestamp) continue;
      if (Date.parse(t) + DISRUPTION_TIMEOUT_MS > now) disrupted[p.metadata.name] = t;
    }
    const healthy = pods.filter((p) => !p.metadata.deletionTimestamp && !disrupted[p.metadata.name] && isPodReady(p)).length;
    let allowed = healthy - desired;
    if (expected <= 0 || allowed <= 0) allowed = 0;
    if (failSafe) {
      // failSafe: only disruptionsAllowed 0 and the SyncFailed condition; the rest stays.
      return { ...structuredClone(pdb.status ?? {}), disruptionsAllowed: 0, conditions: [disruptionCondition(pdb, 0, 'SyncFailed', failSafe)] };
    }
    const status = { observedGeneration: pdb.metadata.generation ?? 1 };
    if (Object.keys(disrupted).length) status.disruptedPods = disrupted;
    Object.assign(status, { disruptionsAllowed: allowed, currentHealthy: healthy, desiredHealthy: desired, expectedPods: expected });
    status.conditions = [disruptionCondition(pdb, allowed)];
    return status;
  }
}

const ns = (o) => o.metadata.namespace;

// pdbhelper.UpdateDisruptionAllowedCondition (lastTransitionTime kept while the status stays).
export function disruptionCondition(pdb, allowed, failReason = null, message = '') {
  const status = allowed > 0 ? 'True' : 'False';
  const reason = failReason ?? (allowed > 0 ? 'SufficientPods' : 'InsufficientPods');
  const old = (pdb.status?.conditions ?? []).find((c) => c.type === 'DisruptionAllowed');
  return {
    type: 'DisruptionAllowed', status, observedGeneration: pdb.metadata.generation ?? 1,
    lastTransitionTime: old && old.status === status ? old.lastTransitionTime : nowTime(), reason, message,
  };
}

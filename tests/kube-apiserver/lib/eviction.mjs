// POST /api/v1/namespaces/{ns}/pods/{name}/eviction, following
// pkg/registry/core/pod/storage/eviction.go (EvictionREST.Create) step by step:
//   terminal, Pending or terminating pods are deleted without looking at budgets (canIgnorePDB);
//   more than one matching PodDisruptionBudget -> a 500 Status; none -> delete;
//   a not-ready pod while the budget is met -> delete (with a resourceVersion precondition);
//   otherwise checkAndDecrement: observedGeneration behind -> 429 "still being processed",
//   disruptionsAllowed 0 -> 429 "Cannot evict pod as it would violate the pod's disruption budget."
//   with the DisruptionBudget cause, else disruptionsAllowed-1 and disruptedPods[pod] = now on the
//   budget's status, then the pod is deleted (gracefully) and the answer is 201 Status Success.
import { ApiError, errors, statusObject } from './errors.mjs';
import { isPodReady, disruptionCondition } from './controllers.mjs';
import { nowTime } from './schema.mjs';
import { send } from './api.mjs';

const EVICTION = {
  group: 'policy', version: 'v1', apiVersion: 'policy/v1', kind: 'Eviction', def: 'io.k8s.api.policy.v1.Eviction',
  storageDef: 'io.k8s.api.policy.v1.Eviction', toStorage: (o) => o,
};

const PDB_RES = { group: 'policy', resource: 'poddisruptionbudget' }; // policy.Resource("poddisruptionbudget")

function tooManyRequests(message, retryAfterSeconds, cause) {
  // errors.NewTooManyRequests(message, n): details.retryAfterSeconds (omitted when 0) and the
  // Retry-After header only when n > 0; the cause is appended by the eviction handler.
  const details = { causes: [{ reason: 'DisruptionBudget', message: cause }] };
  if (retryAfterSeconds > 0) details.retryAfterSeconds = retryAfterSeconds;
  return new ApiError(statusObject(429, 'TooManyRequests', message, details), retryAfterSeconds > 0 ? { 'Retry-After': String(retryAfterSeconds) } : {});
}

function checkPreconditions(pod, pre) {
  const key = `/registry/pods/${pod.metadata.namespace}/${pod.metadata.name}`;
  const res = { group: '', resource: 'pods' };
  if (pre?.uid && pre.uid !== pod.metadata.uid) {
    throw errors.conflict(res, pod.metadata.name, `StorageError: invalid object, Code: 4, Key: ${key}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${pod.metadata.uid}`);
  }
  if (pre?.resourceVersion && pre.resourceVersion !== pod.metadata.resourceVersion) {
    throw errors.conflict(res, pod.metadata.name, `StorageError: invalid object, Code: 4, Key: ${key}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${pod.metadata.resourceVersion}`);
  }
}

export async function evict(api, req, res, podRes, sub, info, q) {
  const body = await api.readObject(req, { ...EVICTION, def: sub.def });
  if (body.apiVersion === 'policy/v1beta1') body.apiVersion = 'policy/v1'; // AcceptsGroupVersion: v1 and v1beta1
  const fieldValidation = q.get('fieldValidation') ?? 'Warn';
  const { obj: eviction } = api.decode(EVICTION, body, fieldValidation);
  const name = info.urlName;
  const ns = info.namespace;
  if (eviction.metadata.name !== name) throw errors.badRequest('name in URL does not match name in Eviction object');
  const opts = eviction.deleteOptions ?? {};
  const dryRun = q.getAll('dryRun').includes('All') || (opts.dryRun ?? []).includes('All');
  const pod = api.store.get('pods', ns, name);
  if (!pod) throw errors.notFound(podRes, name);
  const ctl = api.controllers;
  const success = () => send(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
  const remove = (pre) => {
    checkPreconditions(pod, pre);
    ctl.deletePod(pod, opts.gracePeriodSeconds, dryRun);
  };

  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed' || phase === 'Pending' || pod.metadata.deletionTimestamp) {
    remove(opts.preconditions);
    return success();
  }
  const pdbs = ctl.pdbsFor(pod);
  if (pdbs.length > 1) {
    // Returned as the create's *result* (not an error): the create handler
    // (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/create.go) keeps its HTTP code 201 and
    // only fills status.code when it is 0, so the wire status is 201 with a Failure Status whose
    // code is 500 (client-go's Result.Into turns any non-Success Status into an error). The
    // Kubernetes docs ("api-eviction") say 500; the source says 201.
    return send(res, 201, {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.', code: 500,
    });
  }
  if (pdbs.length === 1) {
    const pdb = pdbs[0];
    const st = pdb.status ?? {};
    if (!isPodReady(pod) && (st.currentHealthy ?? 0) >= (st.desiredHealthy ?? 0) && (st.desiredHealthy ?? 0) > 0) {
      try {
        remove({ ...(opts.preconditions ?? {}), resourceVersion: opts.preconditions?.resourceVersion ?? pod.metadata.resourceVersion });
      } catch (e) {
        if (e instanceof ApiError && e.code === 409 && !opts.preconditions?.resourceVersion) {
          throw tooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10, `The disruption budget ${pdb.metadata.name} is still being processed by the server.`);
        }
        throw e;
      }
      return success();
    }
    // checkAndDecrement
    if ((st.observedGeneration ?? 0) < (pdb.metadata.generation ?? 0)) {
      throw tooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10, `The disruption budget ${pdb.metadata.name} is still being processed by the server.`);
    }
    if ((st.disruptionsAllowed ?? 0) < 0) throw errors.forbidden(PDB_RES, pdb.metadata.name, 'pdb disruptions allowed is negative');
    if (Object.keys(st.disruptedPods ?? {}).length > 2000) {
      throw errors.forbidden(PDB_RES, pdb.metadata.name, 'DisruptedPods map too big - too many evictions not confirmed by PDB controller');
    }
    if ((st.disruptionsAllowed ?? 0) === 0) {
      throw tooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0,
        `The disruption budget ${pdb.metadata.name} needs ${st.desiredHealthy ?? 0} healthy pods and has ${st.currentHealthy ?? 0} currently`);
    }
    checkPreconditions(pod, opts.preconditions);
    if (!dryRun) {
      const next = structuredClone(pdb);
      next.status.disruptionsAllowed -= 1;
      if (next.status.disruptionsAllowed === 0) {
        next.status.conditions = [disruptionCondition(pdb, 0), ...(next.status.conditions ?? []).filter((c) => c.type !== 'DisruptionAllowed')];
      }
      next.status.disruptedPods = { ...(next.status.disruptedPods ?? {}), [name]: nowTime() };
      api.store.commit('MODIFIED', 'poddisruptionbudgets', next, pdb);
    }
  }
  remove(opts.preconditions);
  return success();
}

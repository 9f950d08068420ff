// The served types, described once: this drives decoding (Go json semantics: field order, omitempty,
// sorted map keys, unknown-field detection), the OpenAPI v3/v2 documents and strategic-merge-patch
// metadata.
import { GoTimeError, parseGoTime, RFC3339, RFC3339_MICRO } from './gotime.mjs';

export const str = { t: 'string' };
export const i32 = { t: 'integer', format: 'int32' };
export const i64 = { t: 'integer', format: 'int64' };
export const bool = { t: 'boolean' };
export const time = { t: 'time' }; // metav1.Time: RFC 3339, second precision, UTC
export const micro = { t: 'microtime' }; // metav1.MicroTime: RFC 3339 with 6 fractional digits
export const bytes = { t: 'bytes' }; // []byte: base64 string
export const any = { t: 'any' };
export const map = (of) => ({ t: 'map', of });
export const list = (of, ext = {}) => ({ t: 'list', of, ...ext });
export const ref = (name) => ({ t: 'ref', name });

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
export const OBJECT_META = `${META}ObjectMeta`;
export const LIST_META = `${META}ListMeta`;

// Property tuple: [jsonName, schema, mode, description]. mode follows the Go field:
//   'omitempty' value field with omitempty (zero values dropped; structs are never dropped by Go)
//   'ptr'       pointer field (dropped only when nil; zero values kept)
//   'always'    no omitempty (zero value emitted: "", 0, false, null for maps/lists/times, {} for structs)
const P = (name, schema, mode = 'omitempty', description = '') => ({ name, schema, mode, description });

const typeMeta = [
  P('kind', str, 'omitempty', 'Kind is a string value representing the REST resource this object represents.'),
  P('apiVersion', str, 'omitempty', 'APIVersion defines the versioned schema of this representation of an object.'),
];
const metaProp = P('metadata', ref(OBJECT_META), 'omitempty', "Standard object's metadata.");
const gvk = (group, version, kind) => [{ group, kind, version }];

export const DEFS = {
  [OBJECT_META]: {
    go: 'ObjectMeta',
    description: 'ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.',
    props: [
      P('name', str), P('generateName', str), P('namespace', str), P('selfLink', str), P('uid', str),
      P('resourceVersion', str), P('generation', i64), P('creationTimestamp', time), P('deletionTimestamp', time, 'ptr'),
      P('deletionGracePeriodSeconds', i64, 'ptr'), P('labels', map(str)), P('annotations', map(str)),
      P('ownerReferences', list(ref(`${META}OwnerReference`), { mergeKey: 'uid', strategy: 'merge', listType: 'map', listMapKeys: ['uid'] })),
      P('finalizers', list(str, { strategy: 'merge', listType: 'set' })),
      P('managedFields', list(ref(`${META}ManagedFieldsEntry`), { listType: 'atomic' })),
    ],
  },
  [`${META}OwnerReference`]: {
    go: 'OwnerReference',
    description: 'OwnerReference contains enough information to let you identify an owning object.',
    required: ['apiVersion', 'kind', 'name', 'uid'],
    mapType: 'atomic',
    props: [
      P('apiVersion', str, 'always'), P('kind', str, 'always'), P('name', str, 'always'), P('uid', str, 'always'),
      P('controller', bool, 'ptr'), P('blockOwnerDeletion', bool, 'ptr'),
    ],
  },
  [`${META}ManagedFieldsEntry`]: {
    go: 'ManagedFieldsEntry',
    description: 'ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource that the fieldset applies to.',
    props: [
      P('manager', str), P('operation', str), P('apiVersion', str), P('time', time, 'ptr'), P('fieldsType', str),
      P('fieldsV1', any, 'ptr'), P('subresource', str),
    ],
  },
  [LIST_META]: {
    go: 'ListMeta',
    description: 'ListMeta describes metadata that synthetic resources must have.',
    props: [P('selfLink', str), P('resourceVersion', str), P('continue', str), P('remainingItemCount', i64, 'ptr')],
  },
  'io.k8s.api.core.v1.ConfigMap': {
    go: 'ConfigMap',
    description: 'ConfigMap holds configuration data for pods to consume.',
    gvk: gvk('', 'v1', 'ConfigMap'),
    props: [
      ...typeMeta, metaProp,
      P('immutable', bool, 'ptr', 'Immutable, if set to true, ensures that data stored in the ConfigMap cannot be updated.'),
      P('data', map(str), 'omitempty', 'Data contains the configuration data.'),
      P('binaryData', map(bytes), 'omitempty', 'BinaryData contains the binary data.'),
    ],
  },
  'io.k8s.api.core.v1.Namespace': {
    go: 'Namespace',
    description: 'Namespace provides a scope for Names.',
    gvk: gvk('', 'v1', 'Namespace'),
    props: [...typeMeta, metaProp, P('spec', ref('io.k8s.api.core.v1.NamespaceSpec')), P('status', ref('io.k8s.api.core.v1.NamespaceStatus'))],
  },
  'io.k8s.api.core.v1.NamespaceSpec': {
    go: 'NamespaceSpec',
    description: 'NamespaceSpec describes the attributes on a Namespace.',
    props: [P('finalizers', list(str, { listType: 'atomic' }))],
  },
  'io.k8s.api.core.v1.NamespaceStatus': {
    go: 'NamespaceStatus',
    description: 'NamespaceStatus is information about the current status of a Namespace.',
    props: [P('phase', str), P('conditions', list(any, { mergeKey: 'type', strategy: 'merge', listType: 'map', listMapKeys: ['type'] }))],
  },
  'io.k8s.api.core.v1.ObjectReference': {
    go: 'ObjectReference',
    description: 'ObjectReference contains enough information to let you inspect or modify the referred object.',
    mapType: 'atomic',
    props: [P('kind', str), P('namespace', str), P('name', str), P('uid', str), P('apiVersion', str), P('resourceVersion', str), P('fieldPath', str)],
  },
  'io.k8s.api.core.v1.EventSource': {
    go: 'EventSource',
    description: 'EventSource contains information for an event.',
    props: [P('component', str), P('host', str)],
  },
  'io.k8s.api.core.v1.EventSeries': {
    go: 'EventSeries',
    description: 'EventSeries contain information on series of events.',
    props: [P('count', i32), P('lastObservedTime', micro)],
  },
  'io.k8s.api.core.v1.Event': {
    go: 'Event',
    description: 'Event is a report of an event somewhere in the cluster.',
    gvk: gvk('', 'v1', 'Event'),
    required: ['metadata', 'involvedObject'],
    props: [
      ...typeMeta, metaProp,
      P('involvedObject', ref('io.k8s.api.core.v1.ObjectReference'), 'always', 'The object that this event is about.'),
      P('reason', str), P('message', str), P('source', ref('io.k8s.api.core.v1.EventSource')),
      P('firstTimestamp', time), P('lastTimestamp', time), P('count', i32), P('type', str), P('eventTime', micro),
      P('series', ref('io.k8s.api.core.v1.EventSeries'), 'ptr'), P('action', str),
      P('related', ref('io.k8s.api.core.v1.ObjectReference'), 'ptr'),
      P('reportingComponent', str, 'always'), P('reportingInstance', str, 'always'),
    ],
  },
  'io.k8s.api.events.v1.EventSeries': {
    go: 'EventSeries',
    description: 'EventSeries contain information on series of events.',
    required: ['count', 'lastObservedTime'],
    props: [P('count', i32, 'always'), P('lastObservedTime', micro, 'always')],
  },
  'io.k8s.api.events.v1.Event': {
    go: 'Event',
    description: 'Event is a report of an event somewhere in the cluster.',
    gvk: gvk('events.k8s.io', 'v1', 'Event'),
    required: ['eventTime'],
    props: [
      ...typeMeta, metaProp,
      P('eventTime', micro, 'always'), P('series', ref('io.k8s.api.events.v1.EventSeries'), 'ptr'),
      P('reportingController', str), P('reportingInstance', str), P('action', str), P('reason', str),
      P('regarding', ref('io.k8s.api.core.v1.ObjectReference')),
      P('related', ref('io.k8s.api.core.v1.ObjectReference'), 'ptr'), P('note', str), P('type', str),
      P('deprecatedSource', ref('io.k8s.api.core.v1.EventSource')), P('deprecatedFirstTimestamp', time),
      P('deprecatedLastTimestamp', time), P('deprecatedCount', i32),
    ],
  },
  'io.k8s.api.coordination.v1.LeaseSpec': {
    go: 'LeaseSpec',
    description: 'LeaseSpec is a specification of a Lease.',
    props: [
      P('holderIdentity', str, 'ptr', 'holderIdentity contains the identity of the holder of a current lease.'),
      P('leaseDurationSeconds', i32, 'ptr'), P('acquireTime', micro, 'ptr'), P('renewTime', micro, 'ptr'),
      P('leaseTransitions', i32, 'ptr'), P('strategy', str, 'ptr'), P('preferredHolder', str, 'ptr'),
    ],
  },
  'io.k8s.api.coordination.v1.Lease': {
    go: 'Lease',
    description: 'Lease defines a lease concept.',
    gvk: gvk('coordination.k8s.io', 'v1', 'Lease'),
    props: [...typeMeta, metaProp, P('spec', ref('io.k8s.api.coordination.v1.LeaseSpec'))],
  },
  'io.k8s.api.core.v1.Pod': {
    go: 'Pod',
    description: 'Pod is a collection of containers that can run on a host (spec and status are free-form here).',
    gvk: gvk('', 'v1', 'Pod'),
    props: [...typeMeta, metaProp, P('spec', any, 'ptr'), P('status', any, 'ptr')],
  },
  'io.k8s.api.core.v1.NodeSpec': {
    go: 'NodeSpec',
    description: 'NodeSpec describes the attributes that a node is created with.',
    props: [
      P('podCIDR', str), P('podCIDRs', list(str, { strategy: 'merge', listType: 'set' })), P('providerID', str),
      P('unschedulable', bool, 'omitempty', 'Unschedulable controls node schedulability of new pods. By default, node is schedulable.'),
      P('taints', list(any, { listType: 'atomic' })), P('configSource', any, 'ptr'), P('externalID', str),
    ],
  },
  'io.k8s.api.core.v1.Node': {
    go: 'Node',
    description: 'Node is a worker node in Kubernetes (status is free-form here).',
    gvk: gvk('', 'v1', 'Node'),
    props: [...typeMeta, metaProp, P('spec', ref('io.k8s.api.core.v1.NodeSpec')), P('status', any, 'ptr')],
  },
  'io.k8s.api.apps.v1.StatefulSet': {
    go: 'StatefulSet',
    description: 'StatefulSet represents a set of pods with consistent identities (spec and status are free-form here).',
    gvk: gvk('apps', 'v1', 'StatefulSet'),
    props: [...typeMeta, metaProp, P('spec', any, 'ptr'), P('status', any, 'ptr')],
  },
  'io.k8s.api.policy.v1.PodDisruptionBudgetSpec': {
    go: 'PodDisruptionBudgetSpec',
    description: 'PodDisruptionBudgetSpec is a description of a PodDisruptionBudget.',
    props: [
      P('minAvailable', any, 'ptr', 'An eviction is allowed if at least "minAvailable" pods selected by "selector" will still be available after the eviction (int or percent).'),
      P('selector', any, 'ptr', 'Label query over pods whose evictions are managed by the disruption budget.'),
      P('maxUnavailable', any, 'ptr', 'An eviction is allowed if at most "maxUnavailable" pods selected by "selector" are unavailable after the eviction (int or percent).'),
      P('unhealthyPodEvictionPolicy', str, 'ptr'),
    ],
  },
  'io.k8s.api.policy.v1.PodDisruptionBudgetStatus': {
    go: 'PodDisruptionBudgetStatus',
    description: 'PodDisruptionBudgetStatus represents information about the status of a PodDisruptionBudget.',
    required: ['disruptionsAllowed', 'currentHealthy', 'desiredHealthy', 'expectedPods'],
    props: [
      P('observedGeneration', i64), P('disruptedPods', map(time)), P('disruptionsAllowed', i32, 'always'),
      P('currentHealthy', i32, 'always'), P('desiredHealthy', i32, 'always'), P('expectedPods', i32, 'always'),
      P('conditions', list(any, { mergeKey: 'type', strategy: 'merge', listType: 'map', listMapKeys: ['type'] })),
    ],
  },
  'io.k8s.api.policy.v1.PodDisruptionBudget': {
    go: 'PodDisruptionBudget',
    description: 'PodDisruptionBudget is an object to define the max disruption that can be caused to a collection of pods.',
    gvk: gvk('policy', 'v1', 'PodDisruptionBudget'),
    props: [
      ...typeMeta, metaProp, P('spec', ref('io.k8s.api.policy.v1.PodDisruptionBudgetSpec')),
      P('status', ref('io.k8s.api.policy.v1.PodDisruptionBudgetStatus')),
    ],
  },
  'io.k8s.api.networking.v1.NetworkPolicySpec': {
    go: 'NetworkPolicySpec',
    description: 'NetworkPolicySpec provides the specification of a NetworkPolicy.',
    props: [
      P('podSelector', any, 'always', 'podSelector selects the pods to which this NetworkPolicy object applies.'),
      P('ingress', list(any, { listType: 'atomic' })), P('egress', list(any, { listType: 'atomic' })),
      P('policyTypes', list(str, { listType: 'atomic' })),
    ],
  },
  'io.k8s.api.networking.v1.NetworkPolicy': {
    go: 'NetworkPolicy',
    description: 'NetworkPolicy describes what network traffic is allowed for a set of Pods.',
    gvk: gvk('networking.k8s.io', 'v1', 'NetworkPolicy'),
    props: [...typeMeta, metaProp, P('spec', ref('io.k8s.api.networking.v1.NetworkPolicySpec'))],
  },
  'io.k8s.apimachinery.pkg.apis.meta.v1.Preconditions': {
    go: 'Preconditions',
    description: 'Preconditions must be fulfilled before an operation (update, delete, etc.) is carried out.',
    props: [P('uid', str, 'ptr'), P('resourceVersion', str, 'ptr')],
  },
  'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions': {
    go: 'DeleteOptions',
    description: 'DeleteOptions may be provided when deleting an API object.',
    props: [
      ...typeMeta, P('gracePeriodSeconds', i64, 'ptr'), P('preconditions', ref('io.k8s.apimachinery.pkg.apis.meta.v1.Preconditions'), 'ptr'),
      P('orphanDependents', bool, 'ptr'), P('propagationPolicy', str, 'ptr'), P('dryRun', list(str, { listType: 'atomic' })),
      P('ignoreStoreReadErrorWithClusterBreakingPotential', bool, 'ptr'),
    ],
  },
  'io.k8s.api.policy.v1.Eviction': {
    go: 'Eviction',
    description: 'Eviction evicts a pod from its node subject to certain policies and safety constraints.',
    gvk: gvk('policy', 'v1', 'Eviction'),
    props: [...typeMeta, metaProp, P('deleteOptions', ref('io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions'), 'ptr')],
  },
};

// ---- decoding -------------------------------------------------------------------------------

export class DecodeError extends Error {}

function jsType(v) {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'bool';
  return typeof v; // string | object
}

function goType(s) {
  switch (s.t) {
    case 'string': return 'string';
    case 'integer': return s.format === 'int32' ? 'int32' : 'int64';
    case 'boolean': return 'bool';
    case 'time': case 'microtime': return 'v1.Time';
    case 'bytes': return '[]uint8';
    case 'map': return `map[string]${goType(s.of)}`;
    case 'list': return `[]${goType(s.of)}`;
    case 'ref': return `v1.${DEFS[s.name].go}`;
    default: return 'interface {}';
  }
}

function typeError(ctx, v, s, path) {
  // encoding/json names the literal only for numbers that do not fit a numeric field.
  const what = typeof v === 'number' && s.t === 'integer' ? `number ${v}` : jsType(v);
  throw new DecodeError(`json: cannot unmarshal ${what} into Go struct field ${ctx.goRoot}.${path} of type ${goType(s)}`);
}

// metav1.Time / metav1.MicroTime as their UnmarshalJSON parses them (Go's time.Parse with
// time.RFC3339 / RFC3339Micro, see gotime.mjs): {seconds, micros}, or throws DecodeError with Go's
// message.
export function parseTime(v, micro = false) {
  try {
    return parseGoTime(micro ? RFC3339_MICRO : RFC3339, v);
  } catch (e) {
    if (e instanceof GoTimeError) throw new DecodeError(e.message);
    throw e;
  }
}

export function formatTime(seconds) {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function formatMicroTime(seconds, micros) {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, `.${String(micros).padStart(6, '0')}Z`);
}

export function nowTime() {
  return formatTime(Math.floor(Date.now() / 1000));
}

export function nowMicroTime() {
  const ms = Date.now();
  return formatMicroTime(Math.floor(ms / 1000), (ms % 1000) * 1000);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isZero(v) {
  if (v === undefined || v === null || v === '' || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}

function isStruct(s) {
  return s.t === 'ref' || s.t === 'time' || s.t === 'microtime';
}

function zeroValue(s, ctx, path) {
  switch (s.t) {
    case 'string': case 'bytes': return '';
    case 'integer': return 0;
    case 'boolean': return false;
    case 'ref': return decodeValue(s, {}, path, ctx);
    default: return null; // maps, lists, times, interface{}
  }
}

function joinPath(path, key) {
  return path ? `${path}.${key}` : key;
}

// Decodes `v` as schema `s` the way the apiserver's JSON decoder would: returns the canonical
// value (or undefined when absent). Unknown fields are collected in ctx.unknown (dropped).
export function decodeValue(s, v, path, ctx) {
  if (v === null || v === undefined) return undefined;
  switch (s.t) {
    case 'string':
      if (typeof v !== 'string') typeError(ctx, v, s, path);
      return v;
    case 'integer': {
      if (typeof v !== 'number' || !Number.isInteger(v)) typeError(ctx, v, s, path);
      const lim = s.format === 'int32' ? 2 ** 31 : 2 ** 63;
      if (v < -lim || v >= lim) typeError(ctx, v, s, path);
      return v;
    }
    case 'boolean':
      if (typeof v !== 'boolean') typeError(ctx, v, s, path);
      return v;
    case 'time': case 'microtime': {
      if (typeof v !== 'string') typeError(ctx, v, s, path);
      const t = parseTime(v, s.t === 'microtime'); // "" too is an error: only null is the zero time
      return s.t === 'time' ? formatTime(t.seconds) : formatMicroTime(t.seconds, t.micros);
    }
    case 'bytes':
      if (typeof v !== 'string') typeError(ctx, v, s, path);
      if (!BASE64.test(v)) throw new DecodeError(`illegal base64 data at input byte 0`);
      return v;
    case 'map': {
      if (typeof v !== 'object' || Array.isArray(v)) typeError(ctx, v, s, path);
      const out = {};
      for (const k of Object.keys(v).sort()) {
        const d = decodeValue(s.of, v[k], path, ctx);
        out[k] = d === undefined ? zeroValue(s.of, ctx, path) : d;
      }
      return out;
    }
    case 'list': {
      if (!Array.isArray(v)) typeError(ctx, v, s, path);
      return v.map((item, i) => {
        const d = decodeValue(s.of, item, `${path}[${i}]`, ctx);
        return d === undefined ? zeroValue(s.of, ctx, path) : d;
      });
    }
    case 'ref': {
      const def = DEFS[s.name];
      if (typeof v !== 'object' || Array.isArray(v)) typeError(ctx, v, s, path);
      const out = {};
      const known = new Set();
      for (const p of def.props) {
        known.add(p.name);
        const d = decodeValue(p.schema, v[p.name], joinPath(path, p.name), ctx);
        const mode = p.mode === 'omitempty' && isStruct(p.schema) ? 'always' : p.mode;
        if (mode === 'ptr') {
          if (d !== undefined) out[p.name] = d;
        } else if (mode === 'omitempty') {
          if (!isZero(d)) out[p.name] = d;
        } else {
          out[p.name] = d === undefined ? zeroValue(p.schema, ctx, joinPath(path, p.name)) : d;
        }
      }
      for (const k of Object.keys(v)) {
        if (!known.has(k)) ctx.unknown.push(joinPath(path, k));
      }
      return out;
    }
    case 'any':
      return structuredClone(v);
    default:
      throw new Error(`bad schema ${s.t}`);
  }
}

// Decodes a whole object of definition `defName`. Returns {object, unknown}; throws DecodeError.
export function decodeObject(defName, v) {
  const ctx = { unknown: [], goRoot: DEFS[defName].go };
  const object = decodeValue(ref(defName), v, '', ctx);
  return { object, unknown: ctx.unknown };
}

// ---- OpenAPI -----------------------------------------------------------------------------------

function openapiType(s, v3) {
  const refTo = (name) => (v3 ? `#/components/schemas/${name}` : `#/definitions/${name}`);
  switch (s.t) {
    case 'string': return { type: 'string' };
    case 'integer': return { type: 'integer', format: s.format };
    case 'boolean': return { type: 'boolean' };
    case 'time': case 'microtime': return { type: 'string', format: 'date-time' };
    case 'bytes': return { type: 'string', format: 'byte' };
    case 'map': return { type: 'object', additionalProperties: { ...openapiType(s.of, v3), ...(v3 ? { default: '' } : {}) } };
    case 'list': {
      const o = { type: 'array', items: openapiType(s.of, v3) };
      if (s.listType) o['x-kubernetes-list-type'] = s.listType;
      if (s.listMapKeys) o['x-kubernetes-list-map-keys'] = s.listMapKeys;
      if (s.mergeKey) o['x-kubernetes-patch-merge-key'] = s.mergeKey;
      if (s.strategy) o['x-kubernetes-patch-strategy'] = s.strategy;
      return o;
    }
    case 'ref': return v3 ? { allOf: [{ $ref: refTo(s.name) }], default: {} } : { $ref: refTo(s.name) };
    case 'any': return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    default: throw new Error(`bad schema ${s.t}`);
  }
}

export function openapiSchemas(v3) {
  const out = {};
  for (const [name, def] of Object.entries(DEFS)) {
    const o = { description: def.description, type: 'object' };
    if (def.required) o.required = def.required;
    o.properties = {};
    for (const p of def.props) {
      const t = openapiType(p.schema, v3);
      o.properties[p.name] = p.description ? { ...t, description: p.description } : t;
    }
    if (def.gvk) o['x-kubernetes-group-version-kind'] = def.gvk;
    if (def.mapType) o['x-kubernetes-map-type'] = def.mapType;
    out[name] = o;
  }
  return out;
}

// Strategic-merge-patch metadata for a list field reached by following `path` (array of keys)
// from definition defName: {mergeKey, strategy} or null.
export function patchMeta(defName, path) {
  let s = ref(defName);
  let meta = null;
  for (const key of path) {
    while (s.t === 'list') s = s.of;
    if (s.t === 'map') {
      s = s.of;
      meta = null;
      continue;
    }
    if (s.t !== 'ref') return null;
    const p = DEFS[s.name].props.find((x) => x.name === key);
    if (!p) return null;
    s = p.schema;
    meta = s.t === 'list' ? { mergeKey: s.mergeKey, strategy: s.strategy, items: s.of } : null;
  }
  return meta;
}

// The served resources: REST mapping, validation (k8s.io/apimachinery validation messages),
// defaulting, server-side printing (meta.k8s.io Table) and the events.k8s.io <-> core/v1 Event
// conversion (both APIs share one storage, as in the real apiserver).
import { randomUUID } from 'node:crypto';
import { field } from './errors.mjs';
import { decodeObject, nowTime } from './schema.mjs';
import { workloadResources } from './workloads.mjs';

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

// ---- validation helpers (k8s.io/apimachinery/pkg/util/validation) ------------------------------

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

export function isDNS1123Subdomain(v) {
  const errs = [];
  if (v.length > 253) errs.push('must be no more than 253 characters');
  if (!DNS1123_SUBDOMAIN.test(v)) {
    errs.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
  }
  return errs;
}

export function isDNS1123Label(v) {
  const errs = [];
  if (v.length > 63) errs.push('must be no more than 63 characters');
  if (!DNS1123_LABEL.test(v)) {
    errs.push("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
  }
  return errs;
}

function isQualifiedName(v) {
  const errs = [];
  const parts = v.split('/');
  let name;
  if (parts.length === 1) {
    name = parts[0];
  } else if (parts.length === 2) {
    const [prefix] = parts;
    name = parts[1];
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else errs.push(...isDNS1123Subdomain(prefix).map((m) => `prefix part ${m}`));
  } else {
    return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  if (name.length && !QUALIFIED_NAME.test(name)) {
    errs.push("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
  }
  return errs;
}

function isLabelValue(v) {
  const errs = [];
  if (v.length > 63) errs.push('must be no more than 63 characters');
  if (!LABEL_VALUE.test(v)) {
    errs.push("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
  }
  return errs;
}

export function isConfigMapKey(v) {
  const errs = [];
  if (v.length > 253) errs.push('must be no more than 253 characters');
  if (!CONFIG_KEY.test(v)) {
    errs.push("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')");
  }
  if (v === '.') errs.push("must not be '.'");
  else if (v === '..') errs.push("must not be '..'");
  else if (v.startsWith('..')) errs.push("must not start with '..'");
  return errs;
}

function validateObjectMeta(meta, nameFn) {
  const errs = [];
  if (!meta.name && !meta.generateName) {
    errs.push(field.required('metadata.name', 'name or generateName is required'));
  } else if (meta.name) {
    for (const m of nameFn(meta.name)) errs.push(field.invalid('metadata.name', meta.name, m));
  }
  for (const [k, v] of Object.entries(meta.labels ?? {})) {
    for (const m of isQualifiedName(k)) errs.push(field.invalid('metadata.labels', k, m));
    for (const m of isLabelValue(v)) errs.push(field.invalid('metadata.labels', v, m));
  }
  let size = 0;
  for (const [k, v] of Object.entries(meta.annotations ?? {})) {
    for (const m of isQualifiedName(k.toLowerCase())) errs.push(field.invalid('metadata.annotations', k, m));
    size += k.length + v.length;
  }
  if (size > 256 * 1024) errs.push(field.tooLong('metadata.annotations', 256 * 1024));
  for (const [i, f] of (meta.finalizers ?? []).entries()) {
    for (const m of isQualifiedName(f)) errs.push(field.invalid(`metadata.finalizers[${i}]`, f, m));
  }
  for (const [i, o] of (meta.ownerReferences ?? []).entries()) {
    if (!o.uid) errs.push(field.invalid(`metadata.ownerReferences[${i}].uid`, '', 'uid must not be empty'));
    if (!o.name) errs.push(field.invalid(`metadata.ownerReferences[${i}].name`, '', 'name must not be empty'));
  }
  return errs;
}

// ---- server-side printing ------------------------------------------------------------------------

// k8s.io/apimachinery/pkg/util/duration.HumanDuration
export function humanDuration(ms) {
  const s = Math.floor(ms / 1000);
  if (s < -1) return '<invalid>';
  if (s < 0) return '0s';
  if (s < 60 * 2) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 60 * 3) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  if (h < 24 * 8) return h % 24 === 0 ? `${Math.floor(h / 24)}d` : `${Math.floor(h / 24)}d${h % 24}h`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24)}d`;
  if (h < 24 * 365 * 8) {
    const dy = Math.floor(h / 24) % 365;
    return dy === 0 ? `${Math.floor(h / 24 / 365)}y` : `${Math.floor(h / 24 / 365)}y${dy}d`;
  }
  return `${Math.floor(h / 24 / 365)}y`;
}

function since(ts) {
  if (!ts) return '<unknown>';
  return humanDuration(Date.now() - Date.parse(ts));
}

const col = (name, type, description, priority = 0, format = '') => ({ name, type, format, description, priority });
const NAME_COL = col('Name', 'string', 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names', 0, 'name');
const AGE_COL = col('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata');

function eventCells(e) {
  let first = e.firstTimestamp ? since(e.firstTimestamp) : since(e.eventTime);
  let last = e.lastTimestamp ? since(e.lastTimestamp) : first;
  let count = e.count ?? 0;
  if (e.series) {
    last = since(e.series.lastObservedTime);
    count = e.series.count ?? 0;
  } else if (count === 0) {
    count = 1;
  }
  if (!e.firstTimestamp && !e.eventTime) first = '<unknown>';
  const io = e.involvedObject ?? {};
  const target = io.name ? `${(io.kind ?? '').toLowerCase()}/${io.name}` : (io.kind ?? '').toLowerCase();
  const src = e.source?.component ? (e.source.host ? `${e.source.component}, ${e.source.host}` : e.source.component)
    : (e.reportingComponent ? (e.reportingInstance ? `${e.reportingComponent}, ${e.reportingInstance}` : e.reportingComponent) : '');
  return [last, e.type ?? '', e.reason ?? '', target, io.fieldPath ?? '', src, (e.message ?? '').trim(), first, count, e.metadata.name];
}

const EVENT_TABLE = {
  columns: [
    col('Last Seen', 'string', 'Time when last Event occurred'), col('Type', 'string', 'Type of this event.'),
    col('Reason', 'string', 'Short, machine understandable string that gives the reason for the transition into the object\'s current status.'),
    col('Object', 'string', 'Object this event is about.'), col('Subobject', 'string', 'FieldPath of the object this event is about.', 1),
    col('Source', 'string', 'The component reporting this event.', 1),
    col('Message', 'string', 'A human-readable description of the status of this operation.'),
    col('First Seen', 'string', 'Time when first Event occurred', 1), col('Count', 'integer', 'Number of times this event has occurred.', 1),
    col('Name', 'string', 'Name of the event.', 1),
  ],
  cells: eventCells,
};

// ---- events.k8s.io/v1 <-> core/v1 ------------------------------------------------------------------

const EVENT_FIELD_MAP = [
  ['regarding', 'involvedObject'], ['note', 'message'], ['reportingController', 'reportingComponent'],
  ['deprecatedSource', 'source'], ['deprecatedFirstTimestamp', 'firstTimestamp'],
  ['deprecatedLastTimestamp', 'lastTimestamp'], ['deprecatedCount', 'count'],
];
const EVENT_SAME = ['metadata', 'eventTime', 'series', 'reportingInstance', 'action', 'reason', 'related', 'type'];

function eventsV1ToCore(e) {
  const out = { kind: 'Event', apiVersion: 'v1' };
  for (const k of EVENT_SAME) if (e[k] !== undefined) out[k] = e[k];
  for (const [a, b] of EVENT_FIELD_MAP) if (e[a] !== undefined) out[b] = e[a];
  return out;
}

function coreToEventsV1(e) {
  const out = { kind: 'Event', apiVersion: 'events.k8s.io/v1' };
  for (const k of EVENT_SAME) if (e[k] !== undefined) out[k] = e[k];
  for (const [a, b] of EVENT_FIELD_MAP) if (e[b] !== undefined) out[a] = e[b];
  return out;
}

function validateCoreEvent(e, strictV1) {
  const errs = [];
  const ns = e.metadata.namespace ?? '';
  const io = e.involvedObject ?? {};
  const rc = strictV1 ? 'reportingController' : 'reportingComponent';
  if (!e.eventTime) {
    if (!io.namespace) {
      if (ns !== '' && ns !== 'default') errs.push(field.invalid('involvedObject.namespace', io.namespace ?? '', 'does not match event.namespace'));
    } else if (ns !== io.namespace) {
      errs.push(field.invalid('involvedObject.namespace', io.namespace, 'does not match event.namespace'));
    }
  } else {
    if (!io.namespace && ns !== 'default' && ns !== 'kube-system') {
      errs.push(field.invalid('involvedObject.namespace', io.namespace ?? '', 'does not match event.namespace'));
    }
    if (!e.reportingComponent) errs.push(field.required(rc));
    else for (const m of isQualifiedName(e.reportingComponent)) errs.push(field.invalid(rc, e.reportingComponent, m));
    if (!e.reportingInstance) errs.push(field.required('reportingInstance'));
    else if (e.reportingInstance.length > 128) errs.push(field.invalid('reportingInstance', '', 'can have at most 128 characters'));
    if (!e.action) errs.push(field.required('action'));
    else if (e.action.length > 128) errs.push(field.invalid('action', '', 'can have at most 128 characters'));
    if (!e.reason) errs.push(field.required('reason'));
    else if (e.reason.length > 128) errs.push(field.invalid('reason', '', 'can have at most 128 characters'));
    if ((e.message ?? '').length > 1024) errs.push(field.invalid('message', '', 'can have at most 1024 characters'));
  }
  if (strictV1) {
    if (!e.eventTime) errs.push(field.required('eventTime'));
    if (e.type !== 'Normal' && e.type !== 'Warning') errs.push(field.invalid('type', '', `has invalid value: ${e.type ?? ''}`));
    if (e.firstTimestamp) errs.push(field.invalid('firstTimestamp', '', 'needs to be unset'));
    if (e.lastTimestamp) errs.push(field.invalid('lastTimestamp', '', 'needs to be unset'));
    if (e.count) errs.push(field.invalid('count', '', 'needs to be unset'));
    if (e.source?.component || e.source?.host) errs.push(field.invalid('source', '', 'needs to be unset'));
  }
  return errs;
}

// ---- the resource table ------------------------------------------------------------------------------

const EVENT_FIELDS = {
  'metadata.name': 'metadata.name', 'metadata.namespace': 'metadata.namespace',
  'involvedObject.kind': 'involvedObject.kind', 'involvedObject.namespace': 'involvedObject.namespace',
  'involvedObject.name': 'involvedObject.name', 'involvedObject.uid': 'involvedObject.uid',
  'involvedObject.apiVersion': 'involvedObject.apiVersion', 'involvedObject.resourceVersion': 'involvedObject.resourceVersion',
  'involvedObject.fieldPath': 'involvedObject.fieldPath', reason: 'reason', reportingComponent: 'reportingComponent',
  source: 'source.component', type: 'type',
};
const META_FIELDS = { 'metadata.name': 'metadata.name', 'metadata.namespace': 'metadata.namespace' };

export const RESOURCES = [
  {
    group: '', version: 'v1', resource: 'namespaces', kind: 'Namespace', singular: 'namespace', namespaced: false,
    shortNames: ['ns'], verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    def: 'io.k8s.api.core.v1.Namespace', storage: 'namespaces',
    fields: { 'metadata.name': 'metadata.name', 'status.phase': 'status.phase' },
    nameFn: isDNS1123Label,
    prepare(obj) {
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name };
      obj.spec = { finalizers: obj.spec?.finalizers ?? ['kubernetes'] };
      obj.status = { phase: obj.status?.phase ?? 'Active', ...(obj.status?.conditions ? { conditions: obj.status.conditions } : {}) };
    },
    table: {
      columns: [NAME_COL, col('Status', 'string', 'The status of the namespace'), AGE_COL],
      cells: (o) => [o.metadata.name, o.status?.phase ?? '', since(o.metadata.creationTimestamp)],
    },
  },
  {
    group: '', version: 'v1', resource: 'configmaps', kind: 'ConfigMap', singular: 'configmap', namespaced: true,
    shortNames: ['cm'], verbs: ALL_VERBS, def: 'io.k8s.api.core.v1.ConfigMap', storage: 'configmaps',
    fields: META_FIELDS, nameFn: isDNS1123Subdomain,
    validate(obj, old) {
      const errs = [];
      let size = 0;
      for (const [k, v] of Object.entries(obj.data ?? {})) {
        for (const m of isConfigMapKey(k)) errs.push(field.invalid(`data[${k}]`, k, m));
        if (obj.binaryData && Object.hasOwn(obj.binaryData, k)) {
          errs.push(field.invalid(`data[${k}]`, k, 'duplicate of key present in binaryData'));
        }
        size += k.length + v.length;
      }
      for (const [k, v] of Object.entries(obj.binaryData ?? {})) {
        for (const m of isConfigMapKey(k)) errs.push(field.invalid(`binaryData[${k}]`, k, m));
        size += k.length + Math.floor((v.length * 3) / 4);
      }
      if (size > 1024 * 1024) errs.push(field.tooLong('', 1024 * 1024));
      if (old && old.immutable === true) {
        if (obj.immutable !== true) errs.push(field.forbidden('immutable', 'field is immutable when `immutable` is set'));
        if (JSON.stringify(obj.data ?? {}) !== JSON.stringify(old.data ?? {})) {
          errs.push(field.forbidden('data', 'field is immutable when `immutable` is set'));
        }
        if (JSON.stringify(obj.binaryData ?? {}) !== JSON.stringify(old.binaryData ?? {})) {
          errs.push(field.forbidden('binaryData', 'field is immutable when `immutable` is set'));
        }
      }
      return errs;
    },
    table: {
      columns: [NAME_COL, col('Data', 'integer', 'Data contains the configuration data.'), AGE_COL],
      cells: (o) => [o.metadata.name, Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length,
        since(o.metadata.creationTimestamp)],
    },
  },
  {
    group: '', version: 'v1', resource: 'events', kind: 'Event', singular: 'event', namespaced: true,
    shortNames: ['ev'], verbs: ALL_VERBS, def: 'io.k8s.api.core.v1.Event', storage: 'events',
    fields: EVENT_FIELDS, nameFn: isDNS1123Subdomain,
    validate: (obj) => validateCoreEvent(obj, false),
    table: EVENT_TABLE,
  },
  {
    // No create/update (pods come from the admin API, --state-file and the StatefulSet
    // controller); patch changes metadata only (Api.patch: the spec is immutable here, the
    // status kept, as pkg/registry/core/pod's strategy does); delete is graceful as in
    // pkg/registry/core/pod (see controllers.mjs).
    group: '', version: 'v1', resource: 'pods', kind: 'Pod', singular: 'pod', namespaced: true,
    shortNames: ['po'], categories: ['all'], verbs: ['delete', 'deletecollection', 'get', 'list', 'patch', 'watch'], def: 'io.k8s.api.core.v1.Pod', storage: 'pods',
    // pkg/registry/core/pod/storage/eviction.go: POST pods/{name}/eviction takes a policy/v1 Eviction.
    subresources: [{ subresource: 'eviction', group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'], def: 'io.k8s.api.policy.v1.Eviction' }],
    fields: {
      ...META_FIELDS, 'spec.nodeName': 'spec.nodeName', 'spec.restartPolicy': 'spec.restartPolicy',
      'spec.schedulerName': 'spec.schedulerName', 'spec.serviceAccountName': 'spec.serviceAccountName',
      'status.phase': 'status.phase', 'status.podIP': 'status.podIP', 'status.nominatedNodeName': 'status.nominatedNodeName',
    },
    nameFn: isDNS1123Subdomain,
    table: {
      columns: [NAME_COL, col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
        col('Status', 'string', 'The aggregate status of the containers in this pod.'),
        col('Restarts', 'string', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
        AGE_COL, col('IP', 'string', 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', 1),
        col('Node', 'string', 'NodeName is a request to schedule this pod onto a specific node.', 1),
        col('Nominated Node', 'string', 'nominatedNodeName is set when this pod preempts other pods on the node.', 1),
        col('Readiness Gates', 'string', 'If specified, all readiness gates will be evaluated for pod readiness.', 1)],
      cells: (o) => {
        const statuses = o.status?.containerStatuses ?? [];
        const total = (o.spec?.containers ?? []).length || statuses.length;
        const ready = statuses.filter((c) => c.ready).length;
        const restarts = statuses.reduce((a, c) => a + (c.restartCount ?? 0), 0);
        const gates = o.spec?.readinessGates ?? [];
        const conds = o.status?.conditions ?? [];
        const gatesCell = gates.length === 0 ? '<none>'
          : `${gates.filter((g) => conds.some((c) => c.type === g.conditionType && c.status === 'True')).length}/${gates.length}`;
        // printPod: "Terminating" once deletionTimestamp is set.
        const status = o.metadata.deletionTimestamp ? 'Terminating' : (o.status?.reason ?? o.status?.phase ?? '');
        return [o.metadata.name, `${ready}/${total}`, status, String(restarts),
          since(o.metadata.creationTimestamp), o.status?.podIP || '<none>', o.spec?.nodeName || '<none>',
          o.status?.nominatedNodeName || '<none>', gatesCell];
      },
    },
  },
  {
    group: 'coordination.k8s.io', version: 'v1', resource: 'leases', kind: 'Lease', singular: 'lease', namespaced: true,
    shortNames: [], verbs: ALL_VERBS, def: 'io.k8s.api.coordination.v1.Lease', storage: 'leases',
    fields: META_FIELDS, nameFn: isDNS1123Subdomain,
    validate(obj) {
      const errs = [];
      const s = obj.spec ?? {};
      if (s.leaseDurationSeconds !== undefined && s.leaseDurationSeconds <= 0) {
        errs.push(field.invalid('spec.leaseDurationSeconds', s.leaseDurationSeconds, 'must be greater than 0'));
      }
      if (s.leaseTransitions !== undefined && s.leaseTransitions < 0) {
        errs.push(field.invalid('spec.leaseTransitions', s.leaseTransitions, 'must be greater than or equal to 0'));
      }
      if (s.strategy !== undefined && s.strategy !== 'OldestEmulationVersion') {
        errs.push(field.notSupported('spec.strategy', s.strategy, ['OldestEmulationVersion']));
      }
      return errs;
    },
    table: {
      columns: [NAME_COL, col('Holder', 'string', 'holderIdentity contains the identity of the holder of a current lease.'), AGE_COL],
      cells: (o) => [o.metadata.name, o.spec?.holderIdentity ?? '', since(o.metadata.creationTimestamp)],
    },
  },
  {
    group: 'events.k8s.io', version: 'v1', resource: 'events', kind: 'Event', singular: 'event', namespaced: true,
    shortNames: ['ev'], verbs: ALL_VERBS, def: 'io.k8s.api.events.v1.Event', storage: 'events', storageDef: 'io.k8s.api.core.v1.Event',
    fields: {
      ...META_FIELDS, reason: 'reason', reportingController: 'reportingComponent', type: 'type',
      'regarding.kind': 'involvedObject.kind', 'regarding.namespace': 'involvedObject.namespace', 'regarding.name': 'involvedObject.name',
      'regarding.uid': 'involvedObject.uid', 'regarding.apiVersion': 'involvedObject.apiVersion',
      'regarding.resourceVersion': 'involvedObject.resourceVersion', 'regarding.fieldPath': 'involvedObject.fieldPath',
    },
    nameFn: isDNS1123Subdomain,
    toStorage: eventsV1ToCore,
    toExternal: coreToEventsV1,
    validate: (obj, old) => (old ? validateCoreEvent(obj, false) : validateCoreEvent(obj, true)),
    table: EVENT_TABLE,
  },
  ...workloadResources({ col, NAME_COL, AGE_COL, since, ALL_VERBS, META_FIELDS, isDNS1123Subdomain }),
];

for (const r of RESOURCES) {
  r.apiVersion = r.group ? `${r.group}/${r.version}` : r.version;
  r.listKind = `${r.kind}List`;
  r.storageDef ??= r.def;
  r.toStorage ??= (o) => o;
  r.toExternal ??= (o) => o;
  r.validateMeta = (meta) => validateObjectMeta(meta, r.nameFn);
}

export function findResource(group, version, resource) {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.resource === resource);
}

export function groupVersions() {
  const seen = new Map();
  for (const r of RESOURCES) {
    const k = `${r.group}/${r.version}`;
    if (!seen.has(k)) seen.set(k, { group: r.group, version: r.version, resources: [] });
    seen.get(k).resources.push(r);
  }
  return [...seen.values()];
}

// Builds a stored object written by the server itself (seeded and implicit namespaces, admin
// injections): defaults applied, system fields set unless given, canonical field order.
export function systemObject(r, body, { uid, creationTimestamp } = {}) {
  let obj = decodeObject(r.def, { ...body, kind: r.kind, apiVersion: r.apiVersion }).object;
  if (r.def !== r.storageDef) obj = decodeObject(r.storageDef, r.toStorage(obj)).object;
  obj.metadata.uid = uid ?? obj.metadata.uid ?? randomUUID();
  obj.metadata.creationTimestamp = creationTimestamp ?? obj.metadata.creationTimestamp ?? nowTime();
  delete obj.metadata.resourceVersion;
  r.prepare?.(obj);
  return decodeObject(r.storageDef, obj).object;
}


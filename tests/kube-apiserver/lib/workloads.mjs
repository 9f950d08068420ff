// The resources real-fault drills need next to the core ones: Nodes (cordon), StatefulSets (their
// pods come back after a delete, see controllers.mjs), PodDisruptionBudgets (honoured by the
// pods/eviction subresource) and NetworkPolicies. Validation, defaulting and server-side printing
// follow the real sources named at each function; the resource table entries are spread into
// RESOURCES by resources.mjs (`h` carries its printing and validation helpers).
import { field } from './errors.mjs';
import { formatLabelSelector } from './selectors.mjs';

const PORT_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

// k8s.io/apimachinery/pkg/util/validation IsValidPortNum / IsValidPortName.
function portErrors(port) {
  if (typeof port === 'number') return port >= 1 && port <= 65535 ? [] : ['must be between 1 and 65535, inclusive'];
  const errs = [];
  if (port.length > 15) errs.push('must be no more than 15 characters');
  if (!PORT_NAME.test(port)) errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (/--/.test(port)) errs.push('must not contain consecutive hyphens');
  if (!/[a-z]/.test(port)) errs.push('must contain at least one letter (a-z)');
  return errs;
}

function isCIDR(v) {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(v ?? '');
  if (!m) return false;
  const ip = m[1];
  const bits = Number(m[2]);
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return ip.split('.').every((o) => Number(o) <= 255 && String(Number(o)) === o) && bits <= 32;
  return ip.includes(':') && /^[0-9a-fA-F:.]+$/.test(ip) && bits <= 128;
}

// pkg/apis/networking/validation/validation.go ValidateNetworkPolicyPeer.
function validatePeer(peer, path) {
  const errs = [];
  let n = 0;
  if (peer?.podSelector) n++;
  if (peer?.namespaceSelector) n++;
  if (peer?.ipBlock) {
    n++;
    const b = peer.ipBlock;
    if (!b.cidr) errs.push(field.required(`${path}.ipBlock.cidr`, ''));
    else if (!isCIDR(b.cidr)) errs.push(field.invalid(`${path}.ipBlock.cidr`, b.cidr, 'not a valid CIDR'));
  }
  if (n === 0) errs.push(field.required(path, 'must specify a peer'));
  else if (n > 1 && peer.ipBlock) errs.push(field.forbidden(path, 'may not specify both ipBlock and another peer'));
  return errs;
}

// ValidateNetworkPolicyPort: protocol TCP/UDP/SCTP, port number or name.
function validatePort(port, path) {
  const errs = [];
  const proto = port?.protocol;
  if (proto !== undefined && !['TCP', 'UDP', 'SCTP'].includes(proto)) {
    errs.push(field.notSupported(`${path}.protocol`, proto, ['TCP', 'UDP', 'SCTP']));
  }
  if (port?.port !== undefined && port.port !== null) {
    for (const m of portErrors(port.port)) errs.push(field.invalid(`${path}.port`, port.port, m));
  }
  return errs;
}

// ValidateNetworkPolicySpec.
function validateNetworkPolicy(obj) {
  const errs = [];
  const spec = obj.spec ?? {};
  for (const [dir, peers] of [['ingress', 'from'], ['egress', 'to']]) {
    for (const [i, rule] of (spec[dir] ?? []).entries()) {
      const rp = `spec.${dir}[${i}]`;
      for (const [j, p] of (rule?.ports ?? []).entries()) errs.push(...validatePort(p, `${rp}.ports[${j}]`));
      for (const [j, p] of (rule?.[peers] ?? []).entries()) errs.push(...validatePeer(p, `${rp}.${peers}[${j}]`));
    }
  }
  const types = spec.policyTypes ?? [];
  if (types.length > 2) {
    errs.push(field.invalid('spec.policyTypes', types, 'may not specify more than two policyTypes'));
    return errs;
  }
  for (const [i, t] of types.entries()) {
    if (t !== 'Ingress' && t !== 'Egress') errs.push(field.notSupported(`spec.policyTypes[${i}]`, t, ['Ingress', 'Egress']));
  }
  return errs;
}

// pkg/apis/networking/v1/defaults.go: ports default to TCP; policyTypes to Ingress (+ Egress when
// egress rules exist).
function defaultNetworkPolicy(obj) {
  const spec = obj.spec ?? (obj.spec = {});
  spec.podSelector ??= {};
  for (const dir of ['ingress', 'egress']) {
    for (const rule of spec[dir] ?? []) for (const p of rule?.ports ?? []) if (p && p.protocol === undefined) p.protocol = 'TCP';
  }
  if (!spec.policyTypes || spec.policyTypes.length === 0) {
    spec.policyTypes = ['Ingress', ...((spec.egress ?? []).length ? ['Egress'] : [])];
  }
}

// Generation: 1 on create, +1 when the spec changes (the registries' PrepareForUpdate).
function bumpGeneration(obj, cur) {
  if (!cur) {
    obj.metadata.generation = 1;
    return;
  }
  const g = cur.metadata.generation ?? 1;
  obj.metadata.generation = JSON.stringify(obj.spec ?? {}) === JSON.stringify(cur.spec ?? {}) ? g : g + 1;
}

// printNode: Ready/NotReady/Unknown from the Ready condition, ",SchedulingDisabled" when cordoned.
function nodeStatus(o) {
  const ready = (o.status?.conditions ?? []).find((c) => c.type === 'Ready');
  const parts = [!ready ? 'Unknown' : ready.status === 'True' ? 'Ready' : 'NotReady'];
  if (o.spec?.unschedulable) parts.push('SchedulingDisabled');
  return parts.join(',');
}

function nodeRoles(o) {
  const roles = new Set();
  for (const [k, v] of Object.entries(o.metadata.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/') && k.length > 'node-role.kubernetes.io/'.length) roles.add(k.slice('node-role.kubernetes.io/'.length));
    else if (k === 'kubernetes.io/role' && v) roles.add(v);
  }
  return roles.size ? [...roles].sort().join(',') : '<none>';
}

const intOrPct = (v) => (v === undefined || v === null ? 'N/A' : String(v));

export function workloadResources(h) {
  const { col, NAME_COL, AGE_COL, since, ALL_VERBS, META_FIELDS, isDNS1123Subdomain } = h;
  return [
    {
      group: '', version: 'v1', resource: 'nodes', kind: 'Node', singular: 'node', namespaced: false,
      shortNames: ['no'], verbs: ALL_VERBS, def: 'io.k8s.api.core.v1.Node', storage: 'nodes',
      fields: { 'metadata.name': 'metadata.name', 'spec.unschedulable': 'spec.unschedulable' },
      nameFn: isDNS1123Subdomain,
      table: {
        columns: [NAME_COL, col('Status', 'string', 'The status of the node'), col('Roles', 'string', 'The roles of the node'), AGE_COL,
          col('Version', 'string', 'Kubelet Version reported by the node.'),
          col('Internal-IP', 'string', 'List of addresses reachable to the node.', 1), col('External-IP', 'string', 'List of addresses reachable to the node.', 1),
          col('OS-Image', 'string', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
          col('Kernel-Version', 'string', 'Kernel Version reported by the node from \'uname -r\' (e.g. 3.16.0-0.bpo.4-amd64).', 1),
          col('Container-Runtime', 'string', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', 1)],
        cells: (o) => {
          const addr = (t) => (o.status?.addresses ?? []).find((a) => a.type === t)?.address ?? '<none>';
          const ni = o.status?.nodeInfo ?? {};
          return [o.metadata.name, nodeStatus(o), nodeRoles(o), since(o.metadata.creationTimestamp), ni.kubeletVersion ?? '',
            addr('InternalIP'), addr('ExternalIP'), ni.osImage || '<unknown>', ni.kernelVersion || '<unknown>', ni.containerRuntimeVersion || '<unknown>'];
        },
      },
    },
    {
      group: 'apps', version: 'v1', resource: 'statefulsets', kind: 'StatefulSet', singular: 'statefulset', namespaced: true,
      shortNames: ['sts'], categories: ['all'], verbs: ['get', 'list', 'watch'], def: 'io.k8s.api.apps.v1.StatefulSet', storage: 'statefulsets',
      fields: META_FIELDS, nameFn: isDNS1123Subdomain,
      prepare: (obj, cur) => bumpGeneration(obj, cur),
      table: {
        columns: [NAME_COL, col('Ready', 'string', 'Number of the pod with ready state'), AGE_COL,
          col('Containers', 'string', 'Names of each container in the template.', 1), col('Images', 'string', 'Images referenced by each container in the template.', 1)],
        cells: (o) => {
          const cs = o.spec?.template?.spec?.containers ?? [];
          return [o.metadata.name, `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}`, since(o.metadata.creationTimestamp),
            cs.map((c) => c.name).join(','), cs.map((c) => c.image).join(',')];
        },
      },
    },
    {
      group: 'policy', version: 'v1', resource: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', singular: 'poddisruptionbudget',
      namespaced: true, shortNames: ['pdb'], verbs: ALL_VERBS, def: 'io.k8s.api.policy.v1.PodDisruptionBudget', storage: 'poddisruptionbudgets',
      fields: META_FIELDS, nameFn: isDNS1123Subdomain,
      // pkg/registry/policy/poddisruptionbudget/strategy.go: status is reset on create and kept on
      // update (it is the status subresource's), generation as usual.
      prepare(obj, cur) {
        bumpGeneration(obj, cur);
        obj.status = cur ? cur.status : {};
      },
      table: {
        columns: [NAME_COL, col('Min Available', 'string', 'The minimum number of pods that must be available, either as an absolute number or as a percentage.'),
          col('Max Unavailable', 'string', 'The maximum number of pods that may be unavailable, either as an absolute number or as a percentage.'),
          col('Allowed Disruptions', 'integer', 'Calculated number of pods that may be disrupted at this time.'), AGE_COL],
        cells: (o) => [o.metadata.name, intOrPct(o.spec?.minAvailable), intOrPct(o.spec?.maxUnavailable), o.status?.disruptionsAllowed ?? 0,
          since(o.metadata.creationTimestamp)],
      },
    },
    {
      group: 'networking.k8s.io', version: 'v1', resource: 'networkpolicies', kind: 'NetworkPolicy', singular: 'networkpolicy',
      namespaced: true, shortNames: ['netpol'], verbs: ALL_VERBS, def: 'io.k8s.api.networking.v1.NetworkPolicy', storage: 'networkpolicies',
      fields: META_FIELDS, nameFn: isDNS1123Subdomain,
      prepare(obj, cur) {
        defaultNetworkPolicy(obj);
        bumpGeneration(obj, cur);
      },
      validate: validateNetworkPolicy,
      table: {
        columns: [NAME_COL, col('Pod-Selector', 'string', 'Selects the pods to which this NetworkPolicy object applies.'), AGE_COL],
        cells: (o) => [o.metadata.name, formatLabelSelector(o.spec?.podSelector), since(o.metadata.creationTimestamp)],
      },
    },
  ];
}

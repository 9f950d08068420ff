// Discovery (legacy and aggregated apidiscovery.k8s.io/v2), /version and OpenAPI v3/v2 documents
// for the served types.
import { createHash } from 'node:crypto';
import { RESOURCES, groupVersions } from './resources.mjs';
import { DEFS, LIST_META, openapiSchemas } from './schema.mjs';

export const VERSION = {
  major: '1', minor: '32', gitVersion: 'v1.32.0-kube-apiserver-test', gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean', buildDate: '2024-12-11T00:00:00Z', goVersion: 'go1.23.3', compiler: 'gc', platform: 'linux/amd64',
};

function storageVersionHash(r) {
  return createHash('sha256').update(`${r.group}/${r.version}/${r.kind}`).digest('base64').slice(0, 11);
}

function apiResource(r) {
  const o = { name: r.resource, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs };
  if (r.shortNames.length) o.shortNames = r.shortNames;
  if (r.categories) o.categories = r.categories;
  o.storageVersionHash = storageVersionHash(r);
  return o;
}

export function apiVersions(hostPort) {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: hostPort }] };
}

function groupEntry(gv) {
  const v = { groupVersion: `${gv.group}/${gv.version}`, version: gv.version };
  return { name: gv.group, versions: [v], preferredVersion: v };
}

export function apiGroupList() {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groupVersions().filter((g) => g.group).map(groupEntry) };
}

export function apiGroup(group) {
  const gv = groupVersions().find((g) => g.group === group);
  return gv ? { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(gv) } : null;
}

export function apiResourceList(group, version) {
  const gv = groupVersions().find((g) => g.group === group && g.version === version);
  if (!gv) return null;
  const o = { kind: 'APIResourceList' };
  if (group) o.apiVersion = 'v1';
  o.groupVersion = group ? `${group}/${version}` : version;
  // Subresources are listed as "pods/eviction" with the group/version/kind they take, which is
  // what `kubectl drain` looks for (k8s.io/kubectl/pkg/drain CheckEvictionSupport).
  o.resources = gv.resources.flatMap((r) => [apiResource(r), ...(r.subresources ?? []).map((sr) => ({
    name: `${r.resource}/${sr.subresource}`, singularName: '', namespaced: r.namespaced, group: sr.group, version: sr.version,
    kind: sr.kind, verbs: sr.verbs,
  }))]);
  return o;
}

// Aggregated discovery (what kubectl >= 1.30 asks for first). `legacy` selects /api vs /apis.
export function aggregatedDiscovery(legacy, apiVersion) {
  const items = groupVersions().filter((g) => (legacy ? !g.group : !!g.group)).map((gv) => ({
    metadata: legacy ? { creationTimestamp: null } : { name: gv.group, creationTimestamp: null },
    versions: [{
      version: gv.version,
      resources: gv.resources.map((r) => {
        const o = {
          resource: r.resource, responseKind: { group: r.group, version: r.version, kind: r.kind },
          scope: r.namespaced ? 'Namespaced' : 'Cluster', singularResource: r.singular, verbs: r.verbs,
        };
        if (r.shortNames.length) o.shortNames = r.shortNames;
        if (r.categories) o.categories = r.categories;
        if (r.subresources) {
          o.subresources = r.subresources.map((sr) => ({
            subresource: sr.subresource, responseKind: { group: sr.group, version: sr.version, kind: sr.kind }, verbs: sr.verbs,
          }));
        }
        return o;
      }),
      freshness: 'Current',
    }],
  }));
  return { kind: 'APIGroupDiscoveryList', apiVersion, metadata: {}, items };
}

// ---- OpenAPI ----------------------------------------------------------------------------------------

function opId(verb, r, scope) {
  const g = r.group ? r.group.split('.')[0].replace(/^./, (c) => c.toUpperCase()) : 'Core';
  const v = r.version.replace(/^./, (c) => c.toUpperCase());
  return `${verb}${g}${v}${scope}${r.kind}`;
}

const q = (name, description, type = 'string') => ({ name, in: 'query', description, schema: { type, uniqueItems: true } });
const DRY_RUN = q('dryRun', 'When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed');
const FIELD_MANAGER = q('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.');
const FIELD_VALIDATION = q('fieldValidation', 'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict');
const FORCE = q('force', 'Force is going to "force" Apply requests.', 'boolean');
const LIST_PARAMS = [
  q('allowWatchBookmarks', 'allowWatchBookmarks requests watch events with type "BOOKMARK".', 'boolean'),
  q('continue', 'The continue option should be set when retrieving more results from the server.'),
  q('fieldSelector', 'A selector to restrict the list of returned objects by their fields.'),
  q('labelSelector', 'A selector to restrict the list of returned objects by their labels.'),
  q('limit', 'limit is a maximum number of responses to return for a list call.', 'integer'),
  q('resourceVersion', 'resourceVersion sets a constraint on what resource versions a request may be served from.'),
  q('resourceVersionMatch', 'resourceVersionMatch determines how resourceVersion is applied to list calls.'),
  q('sendInitialEvents', 'sendInitialEvents=true may be set together with watch=true.', 'boolean'),
  q('timeoutSeconds', 'Timeout for the list/watch call.', 'integer'),
  q('watch', 'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.', 'boolean'),
];
const JSON_TYPES = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];

function content(schemaRef, types = JSON_TYPES) {
  return Object.fromEntries(types.map((t) => [t, { schema: { $ref: schemaRef } }]));
}

function gvPaths(gv) {
  const paths = {};
  const prefix = gv.group ? `/apis/${gv.group}/${gv.version}` : `/api/${gv.version}`;
  for (const r of gv.resources) {
    const ref = `#/components/schemas/${r.def}`;
    const listRef = `#/components/schemas/${r.def}List`;
    const ext = { 'x-kubernetes-group-version-kind': { group: r.group, kind: r.kind, version: r.version } };
    const scope = r.namespaced ? 'Namespaced' : '';
    const coll = r.namespaced ? `${prefix}/namespaces/{namespace}/${r.resource}` : `${prefix}/${r.resource}`;
    const item = `${coll}/{name}`;
    const nsParam = r.namespaced ? [{ name: 'namespace', in: 'path', description: 'object name and auth scope, such as for teams and projects', required: true, schema: { type: 'string', uniqueItems: true } }] : [];
    const nameParam = { name: 'name', in: 'path', description: `name of the ${r.kind}`, required: true, schema: { type: 'string', uniqueItems: true } };
    const pretty = q('pretty', "If 'true', then the output is pretty printed.");
    const ok = (s) => ({ 200: { description: 'OK', content: content(s) }, 401: { description: 'Unauthorized' } });
    paths[coll] = {
      get: { tags: [r.apiVersion], description: `list or watch objects of kind ${r.kind}`, operationId: opId('list', r, scope), parameters: LIST_PARAMS, responses: ok(listRef), 'x-kubernetes-action': 'list', ...ext },
      parameters: [...nsParam, pretty],
    };
    if (r.verbs.includes('create')) {
      paths[coll].post = {
        tags: [r.apiVersion], description: `create a ${r.kind}`, operationId: opId('create', r, scope),
        parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION],
        requestBody: { content: content(ref, ['*/*']), required: true },
        responses: { 200: { description: 'OK', content: content(ref) }, 201: { description: 'Created', content: content(ref) }, 202: { description: 'Accepted', content: content(ref) }, 401: { description: 'Unauthorized' } },
        'x-kubernetes-action': 'post', ...ext,
      };
    }
    paths[item] = {
      get: { tags: [r.apiVersion], description: `read the specified ${r.kind}`, operationId: opId('read', r, scope), responses: ok(ref), 'x-kubernetes-action': 'get', ...ext },
      parameters: [nameParam, ...nsParam, pretty],
    };
    if (r.verbs.includes('update')) {
      paths[item].put = {
        tags: [r.apiVersion], description: `replace the specified ${r.kind}`, operationId: opId('replace', r, scope),
        parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION], requestBody: { content: content(ref, ['*/*']), required: true },
        responses: { ...ok(ref), 201: { description: 'Created', content: content(ref) } }, 'x-kubernetes-action': 'put', ...ext,
      };
      paths[item].patch = {
        tags: [r.apiVersion], description: `partially update the specified ${r.kind}`, operationId: opId('patch', r, scope),
        parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE],
        requestBody: {
          content: content('#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch',
            ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json']),
          required: true,
        },
        responses: ok(ref), 'x-kubernetes-action': 'patch', ...ext,
      };
    }
    if (r.verbs.includes('delete')) {
      paths[item].delete = {
        tags: [r.apiVersion], description: `delete a ${r.kind}`, operationId: opId('delete', r, scope),
        parameters: [DRY_RUN, q('gracePeriodSeconds', 'The duration in seconds before the object should be deleted.', 'integer'),
          q('propagationPolicy', 'Whether and how garbage collection will be performed.')],
        requestBody: { content: content('#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions', ['*/*']) },
        responses: ok('#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Status'), 'x-kubernetes-action': 'delete', ...ext,
      };
    }
    if (r.namespaced) {
      paths[`${prefix}/${r.resource}`] = {
        get: { tags: [r.apiVersion], description: `list or watch objects of kind ${r.kind}`, operationId: opId('list', r, 'ForAllNamespaces'), parameters: LIST_PARAMS, responses: ok(listRef), 'x-kubernetes-action': 'list', ...ext },
      };
    }
  }
  return paths;
}

function extraSchemas() {
  const out = {};
  for (const r of RESOURCES) {
    out[`${r.def}List`] = {
      description: `${r.kind}List is a list of ${r.kind} objects.`, type: 'object', required: ['items'],
      properties: {
        apiVersion: { type: 'string' }, kind: { type: 'string' },
        items: { type: 'array', items: { allOf: [{ $ref: `#/components/schemas/${r.def}` }], default: {} } },
        metadata: { allOf: [{ $ref: `#/components/schemas/${LIST_META}` }], default: {} },
      },
      'x-kubernetes-group-version-kind': [{ group: r.group, kind: r.listKind, version: r.version }],
    };
  }
  out['io.k8s.apimachinery.pkg.apis.meta.v1.Patch'] = { description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.', type: 'object' };
  out['io.k8s.apimachinery.pkg.apis.meta.v1.Status'] = {
    description: 'Status is a return value for calls that don\'t return other objects.', type: 'object',
    properties: {
      apiVersion: { type: 'string' }, code: { type: 'integer', format: 'int32' }, details: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      kind: { type: 'string' }, message: { type: 'string' }, metadata: { allOf: [{ $ref: `#/components/schemas/${LIST_META}` }], default: {} },
      reason: { type: 'string' }, status: { type: 'string' },
    },
    'x-kubernetes-group-version-kind': [{ group: '', kind: 'Status', version: 'v1' }],
  };
  return out;
}

let cache = null;

function build() {
  const schemas3 = { ...openapiSchemas(true), ...extraSchemas() };
  const docs = new Map();
  for (const gv of groupVersions()) {
    const key = gv.group ? `apis/${gv.group}/${gv.version}` : `api/${gv.version}`;
    const doc = {
      openapi: '3.0.0', info: { title: 'Kubernetes', version: VERSION.gitVersion }, paths: gvPaths(gv),
      components: { schemas: schemas3, securitySchemes: { BearerToken: { type: 'apiKey', description: 'Bearer Token authentication', name: 'authorization', in: 'header' } } },
    };
    const text = JSON.stringify(doc);
    const hash = createHash('sha512').update(text).digest('hex').toUpperCase();
    docs.set(key, { text, hash });
  }
  const index = { paths: Object.fromEntries([...docs].map(([k, d]) => [k, { serverRelativeURL: `/openapi/v3/${k}?hash=${d.hash}` }])) };
  // Swagger 2.0 (kubectl only falls back to it when v3 is missing).
  const definitions = JSON.parse(JSON.stringify({ ...openapiSchemas(false), ...extraSchemas() }).replaceAll('#/components/schemas/', '#/definitions/'));
  const paths2 = {};
  for (const gv of groupVersions()) {
    for (const [p, item] of Object.entries(gvPaths(gv))) {
      const out = {};
      for (const [verb, op] of Object.entries(item)) {
        if (verb === 'parameters') continue;
        const o = { ...op };
        delete o.requestBody;
        o.responses = { 200: { description: 'OK' } };
        o.parameters = (op.parameters ?? []).map((x) => ({ name: x.name, in: x.in, type: x.schema?.type ?? 'string', uniqueItems: true }));
        if (verb === 'patch') o.consumes = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'];
        out[verb] = o;
      }
      paths2[p] = out;
    }
  }
  const v2 = JSON.stringify({ swagger: '2.0', info: { title: 'Kubernetes', version: VERSION.gitVersion }, paths: paths2, definitions });
  return { docs, index: JSON.stringify(index), v2 };
}

export function openapi() {
  cache ??= build();
  return cache;
}

export { DEFS };

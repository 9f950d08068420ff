// The Kubernetes API request pipeline: request info -> authentication -> injected faults ->
// authorization -> handler (discovery, get/list/watch/create/update/patch/delete).
import { randomUUID, randomInt } from 'node:crypto';
import { constants as http2constants } from 'node:http2';
import { ApiError, errors, field } from './errors.mjs';
import { decodeObject, DecodeError, nowTime } from './schema.mjs';
import { findResource, RESOURCES, systemObject } from './resources.mjs';
import { parseFieldSelector, parseLabelSelector } from './selectors.mjs';
import { decodeJsonPatch, deepEqual, jsonPatch, mergePatch, PatchApplyError, strategicMergePatch } from './patch.mjs';
import { forbiddenMessage } from './auth.mjs';
import { evict } from './eviction.mjs';
import { decodeProtobuf, ProtobufError } from './protobuf.mjs';
import {
  aggregatedDiscovery, apiGroup, apiGroupList, apiResourceList, apiVersions, openapi, VERSION,
} from './discovery.mjs';

const PUBLIC_PATHS = new Set(['/version', '/healthz', '/livez', '/readyz']);
const MAX_BODY = 3 * 1024 * 1024;
const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'];
const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';
const TABLE_CT = 'application/json;as=Table;v=v1;g=meta.k8s.io';

// ---- request info (k8s.io/apiserver/pkg/endpoints/request.RequestInfoFactory) ------------------------

export function requestInfo(method, pathname, query) {
  const info = { method, path: pathname, isResource: false, verb: method.toLowerCase() };
  const parts = pathname.split('/').filter((p) => p !== '');
  let rest;
  if (parts[0] === 'api' && parts.length >= 2) {
    info.apiGroup = '';
    info.apiVersion = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    info.apiGroup = parts[1];
    info.apiVersion = parts[2];
    rest = parts.slice(3);
  } else {
    return info;
  }
  if (rest.length === 0) return info;
  info.isResource = true;
  let watchPath = false;
  if (rest[0] === 'watch') {
    watchPath = true;
    rest = rest.slice(1);
  }
  if (rest[0] === 'namespaces' && rest.length > 1) {
    info.namespace = rest[1];
    if (rest.length > 2) rest = rest.slice(2);
  }
  info.resource = rest[0];
  info.urlName = rest[1];
  info.subresource = rest[2];
  info.extraParts = rest.length > 3;
  const watch = watchPath || query.get('watch') === 'true' || query.get('watch') === '1';
  switch (method) {
    case 'GET': case 'HEAD':
      info.verb = info.urlName ? (watch ? 'watch' : 'get') : (watch ? 'watch' : 'list');
      break;
    case 'POST': info.verb = 'create'; break;
    case 'PUT': info.verb = 'update'; break;
    case 'PATCH': info.verb = 'patch'; break;
    case 'DELETE': info.verb = info.urlName ? 'delete' : 'deletecollection'; break;
    default: info.verb = '';
  }
  info.name = info.urlName;
  if ((info.verb === 'list' || info.verb === 'watch') && !info.urlName) {
    // RBAC sees a list/watch restricted to one name as a request for that name.
    const fs = query.get('fieldSelector');
    if (fs) {
      for (const part of fs.split(',')) {
        const m = /^metadata\.name\s*(==|=)\s*(.*)$/.exec(part.trim());
        if (m) info.name = m[2];
      }
    }
  }
  return info;
}

// ---- content negotiation ------------------------------------------------------------------------------

function parseMediaTypes(header) {
  if (!header) return [];
  return header.split(',').map((s) => {
    const [type, ...params] = s.split(';').map((x) => x.trim());
    const p = {};
    for (const kv of params) {
      const i = kv.indexOf('=');
      if (i > 0) p[kv.slice(0, i).trim()] = kv.slice(i + 1).trim();
    }
    return { type: type.toLowerCase(), params: p };
  });
}

// -> 'json' | 'table' | 'partial'
function negotiate(req) {
  const types = parseMediaTypes(req.headers.accept);
  if (types.length === 0) return 'json';
  for (const t of types) {
    if (t.type === '*/*' || t.type === 'application/*') return 'json';
    if (t.type !== 'application/json') continue;
    if (!t.params.as) return 'json';
    if (t.params.g === 'meta.k8s.io' && (t.params.v === 'v1' || t.params.v === 'v1beta1')) {
      if (t.params.as === 'Table') return 'table';
      if (t.params.as === 'PartialObjectMetadata' || t.params.as === 'PartialObjectMetadataList') return 'partial';
    }
  }
  throw errors.notAcceptable(['application/json', 'application/json;as=Table;v=v1;g=meta.k8s.io']);
}

// ---- helpers ---------------------------------------------------------------------------------------------

export function send(res, code, body, headers = {}) {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendError(res, e) {
  if (e instanceof ApiError) {
    send(res, e.code, e.status, e.headers);
  } else {
    const err = errors.internal(String(e?.message ?? e));
    send(res, 500, err.status);
  }
}

function readBody(req, raw = false) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(errors.tooLarge(`limit is ${MAX_BODY}`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(raw ? Buffer.concat(chunks) : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw errors.badRequest(`${what}: ${e.message}`);
  }
}

function mediaType(req) {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

function stripRV(o) {
  const c = structuredClone(o);
  delete c.metadata.resourceVersion;
  return c;
}

function parseRV(v, what = 'resourceVersion') {
  if (v === null || v === undefined || v === '') return null;
  if (!/^\d+$/.test(v)) throw errors.badRequest(`${what}: Invalid value: "${v}": strconv.ParseUint: parsing "${v}": invalid syntax`);
  return Number(v);
}

// ---- the API -----------------------------------------------------------------------------------------

// The attributes RBAC decides on (k8s.io/apiserver authorizer.AttributesRecord).
function authzAttributes(info) {
  return {
    verb: info.verb, apiGroup: info.apiGroup, resource: info.resource, subresource: info.subresource ?? '',
    namespace: info.namespace ?? '', name: info.name ?? '',
  };
}

export class Api {
  constructor({ store, auth, faults, requestLog, settings, controllers }) {
    this.store = store;
    this.controllers = controllers;
    this.auth = auth;
    this.faults = faults;
    this.requestLog = requestLog;
    this.settings = settings;
    this.watches = new Set(); // {res, cut()}
  }

  async handle(req, res) {
    const url = new URL(req.url, 'http://localhost');
    const info = requestInfo(req.method, url.pathname, url.searchParams);
    const entry = {
      time: new Date().toISOString(), method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams),
      verb: info.isResource ? info.verb : info.verb, resource: info.resource ?? '', namespace: info.namespace ?? '',
      name: info.name ?? '', watch: info.verb === 'watch', user: '', status: 0, httpVersion: req.httpVersion,
    };
    this.requestLog.add(entry);
    const writeHead = res.writeHead;
    res.writeHead = function (code, ...args) {
      entry.status = code;
      return writeHead.call(this, code, ...args);
    };
    try {
      const id = this.auth.authenticate(req.headers.authorization);
      if (!id || (id.anonymous && !PUBLIC_PATHS.has(url.pathname))) throw errors.unauthorized();
      entry.user = id.user;
      const fault = this.faults.take(entry, info.isResource && !this.auth.allowed(id, authzAttributes(info)));
      if (fault?.after && !entry.watch) {
        // The request is carried out (a create is stored, watchers see it), then its answer is
        // lost: what a client sees when the apiserver committed but the response never arrived.
        await this.handleAuthorized(req, discardingResponse(), url, info, id);
        await this.applyFault(fault, req, res, info);
        return;
      }
      if (fault && (await this.applyFault(fault, req, res, info))) return;
      await this.handleAuthorized(req, res, url, info, id);
    } catch (e) {
      sendError(res, e);
    }
  }

  async handleAuthorized(req, res, url, info, id) {
    try {
      if (!info.isResource) {
        this.nonResource(req, res, url);
        return;
      }
      const attrs = authzAttributes(info);
      if (!this.auth.allowed(id, attrs)) {
        throw errors.forbidden({ group: info.apiGroup, resource: info.resource }, info.name, forbiddenMessage(id.user, attrs));
      }
      const r = findResource(info.apiGroup, info.apiVersion, info.resource);
      if (!r || info.extraParts) throw errors.pathNotFound();
      if (info.subresource) {
        const sub = (r.subresources ?? []).find((x) => x.subresource === info.subresource);
        if (!sub || !info.urlName) throw errors.pathNotFound();
        if (!sub.verbs.includes(info.verb)) throw errors.methodNotAllowed();
        if (sub.subresource === 'eviction') {
          await evict(this, req, res, r, sub, info, url.searchParams);
          return;
        }
        throw errors.pathNotFound();
      }
      await this.resource(req, res, r, info, url.searchParams);
    } catch (e) {
      sendError(res, e);
    }
  }

  async applyFault(f, req, res, info) {
    if (f.delayMs) await new Promise((resolve) => setTimeout(resolve, f.delayMs));
    if (f.reset === 'stream' && req.stream) {
      // HTTP/2 RST_STREAM INTERNAL_ERROR, as Go's server sends for a handler that panics; the
      // connection and its other streams stay up.
      req.stream.close(http2constants.NGHTTP2_INTERNAL_ERROR);
      return true;
    }
    if (f.reset) {
      destroyConnection(req);
      return true;
    }
    if (!f.status) return false;
    const r = findResource(info.apiGroup, info.apiVersion, info.resource) ?? { group: info.apiGroup ?? '', resource: info.resource ?? '' };
    let e;
    switch (f.status) {
      case 429: e = errors.tooManyRequests(f.retryAfterSeconds ?? 1); break;
      case 409: e = errors.modified(r, info.urlName ?? ''); break;
      case 500: e = errors.internal(f.message ?? 'injected fault'); break;
      case 503: e = errors.serviceUnavailable(f.message); break;
      case 504: e = errors.timeout(f.message ?? 'request did not complete within the allotted timeout'); break;
      case 404: e = info.urlName ? errors.notFound(r, info.urlName) : errors.pathNotFound(); break;
      case 410: e = errors.expired(f.message ?? 'too old resource version'); break;
      case 401: e = errors.unauthorized(); break;
      default: e = new ApiError({
        kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: f.message ?? `injected fault ${f.status}`,
        reason: f.status >= 500 ? 'InternalError' : 'BadRequest', code: f.status,
      });
    }
    if (f.retryAfterSeconds !== undefined) {
      e.headers['Retry-After'] = String(f.retryAfterSeconds);
      e.status.details = { ...(e.status.details ?? {}), retryAfterSeconds: f.retryAfterSeconds };
    }
    sendError(res, e);
    return true;
  }

  // ---- discovery, version, openapi ----

  nonResource(req, res, url) {
    const p = url.pathname.replace(/\/+$/, '') || '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') throw errors.methodNotAllowed();
    if (p === '/healthz' || p === '/livez' || p === '/readyz') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
      res.end('ok');
      return;
    }
    if (p === '/version') return send(res, 200, VERSION);
    const aggregated = this.wantsAggregated(req);
    if (p === '/api' || p === '/apis') {
      if (aggregated) {
        return send(res, 200, aggregatedDiscovery(p === '/api', `apidiscovery.k8s.io/${aggregated}`), {
          'Content-Type': `application/json;g=apidiscovery.k8s.io;v=${aggregated};as=APIGroupDiscoveryList`, Vary: 'Accept',
        });
      }
      return send(res, 200, p === '/api' ? apiVersions(this.settings.hostPort) : apiGroupList(), { Vary: 'Accept' });
    }
    let m;
    if ((m = /^\/api\/([^/]+)$/.exec(p))) {
      const l = apiResourceList('', m[1]);
      if (l) return send(res, 200, l);
    } else if ((m = /^\/apis\/([^/]+)$/.exec(p))) {
      const g = apiGroup(m[1]);
      if (g) return send(res, 200, g);
    } else if ((m = /^\/apis\/([^/]+)\/([^/]+)$/.exec(p))) {
      const l = apiResourceList(m[1], m[2]);
      if (l) return send(res, 200, l);
    } else if (p === '/openapi/v3') {
      return send(res, 200, openapi().index);
    } else if (p.startsWith('/openapi/v3/')) {
      const d = openapi().docs.get(p.slice('/openapi/v3/'.length));
      if (d) {
        const cache = url.searchParams.get('hash') === d.hash ? 'public, immutable' : 'no-cache, private';
        return send(res, 200, d.text, { Etag: `"${d.hash}"`, 'Cache-Control': cache });
      }
    } else if (p === '/openapi/v2') {
      const types = parseMediaTypes(req.headers.accept);
      if (types.length && !types.some((t) => t.type === 'application/json' || t.type === '*/*')) {
        throw errors.notAcceptable(['application/json']);
      }
      return send(res, 200, openapi().v2);
    }
    if (p.startsWith('/api/') || p.startsWith('/apis/')) throw errors.pathNotFound();
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
    res.end('404 page not found\n');
  }

  wantsAggregated(req) {
    for (const t of parseMediaTypes(req.headers.accept)) {
      if (t.type === 'application/json' && t.params.g === 'apidiscovery.k8s.io' && t.params.as === 'APIGroupDiscoveryList'
        && (t.params.v === 'v2' || t.params.v === 'v2beta1')) return t.params.v;
      if (t.type === 'application/json' && !t.params.as) return null;
    }
    return null;
  }

  // ---- resources ----

  async resource(req, res, r, info, q) {
    const ns = r.namespaced ? info.namespace : undefined;
    const name = info.urlName;
    if (!r.namespaced && info.resource !== 'namespaces' && info.namespace) throw errors.pathNotFound();
    if (r.resource === 'namespaces' && name === undefined && info.namespace) throw errors.pathNotFound();
    const dryRun = q.getAll('dryRun');
    for (const d of dryRun) if (d !== 'All') throw errors.badRequest(`Invalid dryRun value "${d}". Only "All" is accepted`);
    const opts = { dryRun: dryRun.length > 0, fieldValidation: q.get('fieldValidation') ?? 'Warn' };
    if (!['Ignore', 'Warn', 'Strict'].includes(opts.fieldValidation)) {
      throw errors.badRequest(`fieldValidation parameter unsupported: ${opts.fieldValidation}`);
    }
    if (!r.verbs.includes(info.verb)) throw errors.methodNotSupported(r, info.verb);
    switch (info.verb) {
      case 'get': return this.get(req, res, r, ns, name);
      case 'list': return this.list(req, res, r, ns, q);
      case 'watch': return this.watch(req, res, r, ns, q, name);
      case 'create': {
        if (name) throw errors.methodNotAllowed();
        const body = await this.readObject(req, r);
        const { obj, warnings } = this.decode(r, body, opts.fieldValidation);
        const created = this.create(r, ns, obj, opts);
        return send(res, 201, this.external(r, created), warningHeaders(warnings));
      }
      case 'update': {
        const body = await this.readObject(req, r);
        const { obj, warnings } = this.decode(r, body, opts.fieldValidation);
        if (obj.metadata.name !== name) {
          throw errors.badRequest(`the name of the object (${obj.metadata.name ?? ''}) does not match the name on the URL (${name})`);
        }
        this.checkNamespace(r, obj, ns);
        const { object, created } = this.update(r, ns, name, obj, opts, r.resource === 'events' && r.group === '');
        return send(res, created ? 201 : 200, this.external(r, object), warningHeaders(warnings));
      }
      case 'patch': return this.patch(req, res, r, ns, name, opts);
      case 'delete': return this.delete(req, res, r, ns, name, opts);
      case 'deletecollection': return this.deleteCollection(req, res, r, ns, q, opts);
      default: throw errors.methodNotAllowed();
    }
  }

  // Stored (storage-version) object -> the object as served by resource r.
  external(r, stored) {
    if (r.def === r.storageDef) return stored;
    return decodeObject(r.def, r.toExternal(stored)).object;
  }

  async readObject(req, r) {
    const mt = mediaType(req);
    if (mt === 'application/vnd.kubernetes.protobuf') {
      const raw = await readBody(req, true);
      try {
        return decodeProtobuf(raw, r.def);
      } catch (e) {
        if (e instanceof ProtobufError || e instanceof RangeError) throw errors.badRequest(`${r.kind} in version "${r.version}" cannot be handled as a ${r.kind}: ${e.message}`);
        throw e;
      }
    }
    if (mt !== 'application/json') throw errors.unsupportedMediaType(['application/json', 'application/vnd.kubernetes.protobuf']);
    const text = await readBody(req);
    let body;
    try {
      body = JSON.parse(text);
    } catch (e) {
      const summary = text.length > 30 ? `${text.slice(0, 30)} ...` : text;
      throw errors.badRequest(`the object provided is unrecognized (must be of type ${r.kind}): couldn't get version/kind; json parse error: ${e.message} (${summary})`);
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw errors.badRequest(`${r.kind} in version "${r.version}" cannot be handled as a ${r.kind}: json: cannot unmarshal ${Array.isArray(body) ? 'array' : typeof body} into Go value of type struct`);
    }
    return body;
  }

  // Request body (external version) -> {obj (storage version), warnings}. Missing kind/apiVersion
  // default to the URL's, as the apiserver's decoder does.
  decode(r, body, directive, forPatch = false) {
    if (body.apiVersion !== undefined && body.apiVersion !== r.apiVersion) {
      throw errors.badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (${r.apiVersion})`);
    }
    if (body.kind !== undefined && body.kind !== r.kind) {
      throw errors.badRequest(`${body.kind} in version "${r.version}" cannot be handled as a ${r.kind}: no kind "${body.kind}" is registered for version "${r.apiVersion}" in scheme "pkg/api/legacyscheme/scheme.go:30"`);
    }
    let decoded;
    try {
      decoded = decodeObject(r.def, { ...body, kind: r.kind, apiVersion: r.apiVersion });
    } catch (e) {
      if (e instanceof DecodeError) {
        if (forPatch) throw errors.invalid('', '', '', [{ type: 'FieldValueInvalid', field: 'patch', message: `Invalid value: ${JSON.stringify(JSON.stringify(body))}: ${e.message}` }]);
        throw errors.badRequest(`${r.kind} in version "${r.version}" cannot be handled as a ${r.kind}: ${e.message}`);
      }
      throw e;
    }
    const unknown = decoded.unknown.map((f) => `unknown field "${f}"`);
    if (unknown.length && directive === 'Strict') {
      const msg = `strict decoding error: ${unknown.join(', ')}`;
      if (forPatch) throw errors.invalid('', '', '', [{ type: 'FieldValueInvalid', field: 'patch', message: `Invalid value: ${JSON.stringify(JSON.stringify(body))}: ${msg}` }]);
      throw errors.badRequest(`${r.kind} in version "${r.version}" cannot be handled as a ${r.kind}: ${msg}`);
    }
    let obj = decoded.object;
    if (r.def !== r.storageDef) obj = decodeObject(r.storageDef, r.toStorage(obj)).object;
    delete obj.metadata.managedFields;
    return { obj, warnings: directive === 'Warn' ? unknown : [] };
  }

  checkNamespace(r, obj, ns) {
    if (r.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== ns) {
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      obj.metadata.namespace = ns;
    } else {
      delete obj.metadata.namespace;
    }
  }

  validate(r, obj, old) {
    const errs = [...r.validateMeta(obj.metadata), ...(r.validate ? r.validate(obj, old) : [])];
    if (errs.length) throw errors.invalid(r.kind, r.group, obj.metadata.name ?? '', errs);
  }

  // The NamespaceLifecycle admission plugin (staging/src/k8s.io/apiserver/pkg/admission/plugin/
  // namespace/lifecycle/admission.go) refuses creates into a namespace that does not exist with
  // 404 `namespaces "x" not found`; it runs before validation and before storage (AlreadyExists).
  admitNamespace(ns) {
    if (!ns || this.settings.autoCreateNamespaces || this.store.get('namespaces', undefined, ns)) return;
    throw errors.notFound({ group: '', resource: 'namespaces' }, ns);
  }

  // --auto-create-namespaces (a test convenience, not a real server's behaviour).
  ensureNamespace(ns, dryRun) {
    if (!ns || this.store.get('namespaces', undefined, ns)) return;
    if (!this.settings.autoCreateNamespaces) throw errors.notFound({ group: '', resource: 'namespaces' }, ns);
    if (dryRun) return;
    const nsRes = RESOURCES.find((x) => x.resource === 'namespaces');
    this.store.commit('ADDED', 'namespaces', systemObject(nsRes, { metadata: { name: ns } }));
  }

  create(r, ns, obj, { dryRun }) {
    this.checkNamespace(r, obj, ns);
    const meta = obj.metadata;
    if (meta.resourceVersion) throw errors.badRequest('resourceVersion should not be set on objects to be created');
    this.admitNamespace(ns);
    if (!meta.name && meta.generateName) {
      for (let i = 0; i < 8; i++) {
        let suffix = '';
        for (let j = 0; j < 5; j++) suffix += NAME_CHARS[randomInt(NAME_CHARS.length)];
        meta.name = `${meta.generateName}${suffix}`;
        if (!this.store.get(r.storage, ns, meta.name)) break;
      }
    }
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.selfLink;
    meta.uid = randomUUID();
    meta.creationTimestamp = nowTime();
    r.prepare?.(obj);
    const ordered = decodeObject(r.storageDef, obj).object; // canonical field order after defaulting
    this.validate(r, ordered);
    if (this.store.get(r.storage, ns, meta.name)) throw errors.alreadyExists(r, meta.name);
    this.ensureNamespace(ns, dryRun);
    if (dryRun) return ordered;
    return this.store.commit('ADDED', r.storage, ordered);
  }

  // -> {object, created}
  update(r, ns, name, obj, opts, allowCreate = false) {
    const cur = this.store.get(r.storage, ns, name);
    if (!cur) {
      if (!allowCreate) throw errors.notFound(r, name);
      if (obj.metadata.resourceVersion) throw errors.notFound(r, name);
      return { object: this.create(r, ns, obj, opts), created: true };
    }
    const meta = obj.metadata;
    if (meta.resourceVersion && meta.resourceVersion !== cur.metadata.resourceVersion) throw errors.modified(r, name);
    if (meta.uid && meta.uid !== cur.metadata.uid) {
      throw errors.conflict(r, name, `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${cur.metadata.uid}`);
    }
    for (const k of ['uid', 'creationTimestamp', 'generation', 'deletionTimestamp', 'deletionGracePeriodSeconds']) {
      if (cur.metadata[k] !== undefined) meta[k] = cur.metadata[k];
      else delete meta[k];
    }
    delete meta.selfLink;
    meta.namespace = cur.metadata.namespace;
    if (r.resource === 'namespaces') obj.status = cur.status; // status is a subresource
    r.prepare?.(obj, cur);
    const next = decodeObject(r.storageDef, obj).object;
    next.metadata.resourceVersion = cur.metadata.resourceVersion;
    this.validate(r, next, cur);
    if (deepEqual(stripRV(next), stripRV(cur))) return { object: cur, created: false }; // no-op: no new revision
    if (opts.dryRun) return { object: next, created: false };
    return { object: this.store.commit('MODIFIED', r.storage, next, cur), created: false };
  }

  get(req, res, r, ns, name) {
    const mode = negotiate(req);
    const obj = this.store.get(r.storage, ns, name);
    if (!obj) throw errors.notFound(r, name);
    if (mode === 'table') return send(res, 200, this.table(r, [obj], obj.metadata.resourceVersion, req), { 'Content-Type': TABLE_CT });
    if (mode === 'partial') return send(res, 200, partial(this.external(r, obj)));
    return send(res, 200, this.external(r, obj));
  }

  selectors(r, q) {
    const label = parseLabelSelector(q.get('labelSelector') ?? '');
    const fieldSel = parseFieldSelector(q.get('fieldSelector') ?? '', r.fields);
    return { match: (o) => label(o.metadata.labels ?? {}) && fieldSel.match(o), fieldSel, hasSelector: !!(q.get('labelSelector') || q.get('fieldSelector')) };
  }

  list(req, res, r, ns, q) {
    const mode = negotiate(req);
    const { match, hasSelector } = this.selectors(r, q);
    const rvParam = parseRV(q.get('resourceVersion'));
    if (rvParam !== null && rvParam > this.store.rev) throw errors.tooLargeResourceVersion(rvParam, this.store.rev);
    if (rvParam !== null && q.get('resourceVersionMatch') === 'Exact' && rvParam !== this.store.rev) {
      if (rvParam < this.store.compacted) throw errors.expired(`too old resource version: ${rvParam} (${this.store.compacted})`);
    }
    let listRV = this.store.rev;
    let start = '';
    const cont = q.get('continue');
    if (cont) {
      let tok;
      try {
        tok = JSON.parse(Buffer.from(cont, 'base64').toString('utf8'));
      } catch {
        throw errors.badRequest('continue key is not valid: illegal base64 data at input byte 0');
      }
      if (tok?.v !== 'meta.k8s.io/v1' || typeof tok.rv !== 'number' || typeof tok.start !== 'string') {
        throw errors.badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
      }
      if (tok.rv < this.store.compacted) {
        throw errors.expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.');
      }
      listRV = tok.rv;
      start = tok.start;
    }
    const keyOf = (o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    let items = this.store.list(r.storage, ns).filter((o) => keyOf(o) >= start && match(o));
    const limit = Number(q.get('limit') ?? 0);
    const meta = { resourceVersion: String(listRV) };
    if (limit > 0 && items.length > limit) {
      const rest = items.length - limit;
      items = items.slice(0, limit);
      meta.continue = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: listRV, start: `${keyOf(items[items.length - 1])}\u0000` })).toString('base64');
      if (!hasSelector) meta.remainingItemCount = rest;
    }
    if (mode === 'table') {
      const t = this.table(r, items, String(listRV), req);
      if (meta.continue) t.metadata.continue = meta.continue;
      if (meta.remainingItemCount !== undefined) t.metadata.remainingItemCount = meta.remainingItemCount;
      return send(res, 200, t, { 'Content-Type': TABLE_CT });
    }
    if (mode === 'partial') {
      return send(res, 200, { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata: meta, items: items.map((o) => partial(this.external(r, o))) });
    }
    const out = items.map((o) => {
      const e = { ...this.external(r, o) };
      delete e.kind;
      delete e.apiVersion;
      return e;
    });
    return send(res, 200, { kind: r.listKind, apiVersion: r.apiVersion, metadata: meta, items: out });
  }

  table(r, objs, rv, req) {
    const include = new URL(req.url, 'http://x').searchParams.get('includeObject') ?? 'Metadata';
    return {
      kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion: rv }, columnDefinitions: r.table.columns,
      rows: objs.map((o) => {
        const row = { cells: r.table.cells(o) };
        if (include === 'Object') row.object = this.external(r, o);
        else if (include !== 'None') row.object = partial(this.external(r, o));
        return row;
      }),
    };
  }

  watch(req, res, r, ns, q, urlName) {
    const mode = negotiate(req);
    const { match: selMatch } = this.selectors(r, q);
    const match = urlName ? (o) => o.metadata.name === urlName && selMatch(o) : selMatch;
    const rvText = q.get('resourceVersion');
    const fromRV = parseRV(rvText);
    const sendInitial = q.get('sendInitialEvents') === 'true';
    const bookmarks = q.get('allowWatchBookmarks') === 'true' || q.get('allowWatchBookmarks') === '1';
    if (sendInitial && (!bookmarks || q.get('resourceVersionMatch') !== 'NotOlderThan')) {
      throw errors.invalid('ListOptions.meta.k8s.io', '', '', [{
        type: 'FieldValueForbidden', field: 'sendInitialEvents',
        message: 'Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled and allowWatchBookmarks is true with resourceVersionMatch NotOlderThan',
      }]);
    }
    const timeoutSeconds = Number(q.get('timeoutSeconds') ?? 0);
    // HTTP/1.1 streams chunked; HTTP/2 has its own framing (and forbids the header).
    const chunked = req.httpVersionMajor < 2 ? { 'Transfer-Encoding': 'chunked' } : {};
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', ...chunked });
    res.flushHeaders();
    req.socket.setNoDelay(true);
    const line = (type, object) => {
      if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify({ type, object })}\n`);
    };
    const format = (stored) => {
      if (mode === 'table') return this.table(r, [stored], stored.metadata.resourceVersion, req);
      if (mode === 'partial') return partial(this.external(r, stored));
      return this.external(r, stored);
    };
    const bookmark = (annotations) => {
      const o = decodeObject(r.def, { kind: r.kind, apiVersion: r.apiVersion, metadata: { resourceVersion: String(this.store.rev), annotations } }).object;
      line('BOOKMARK', o);
    };
    const w = {
      storage: r.storage, namespace: ns, match,
      send: (type, stored) => line(type, format(stored)),
    };
    const timers = [];
    const handle = {
      res,
      cut: () => {
        res.write('{"type":"MODIFIED","object":{"kind":', () => destroyConnection(req));
      },
    };
    const cleanup = () => {
      this.store.unwatch(w);
      this.watches.delete(handle);
      for (const t of timers) clearTimeout(t);
    };
    res.on('close', cleanup); // the response finished or the connection went away
    const end = () => {
      cleanup();
      if (!res.writableEnded) res.end();
    };
    if (fromRV !== null && fromRV > this.store.rev) {
      line('ERROR', errors.tooLargeResourceVersion(fromRV, this.store.rev).status);
      return end();
    }
    if (fromRV === null || fromRV === 0 || sendInitial) {
      for (const o of this.store.list(r.storage, ns)) if (match(o)) w.send('ADDED', o);
      if (sendInitial) bookmark({ 'k8s.io/initial-events-end': 'true' });
      this.store.watch(w, null);
    } else {
      const err = this.store.watch(w, fromRV);
      if (err) {
        line('ERROR', errors.expired(err).status);
        return end();
      }
    }
    this.watches.add(handle);
    if (bookmarks && this.settings.bookmarkIntervalMs > 0) {
      const tick = () => {
        bookmark(undefined);
        timers[0] = setTimeout(tick, this.settings.bookmarkIntervalMs);
      };
      timers[0] = setTimeout(tick, this.settings.bookmarkIntervalMs);
    }
    if (timeoutSeconds > 0) timers[1] = setTimeout(end, timeoutSeconds * 1000);
    return undefined;
  }

  async patch(req, res, r, ns, name, opts) {
    const mt = mediaType(req);
    if (!PATCH_TYPES.includes(mt)) throw errors.unsupportedMediaType(PATCH_TYPES);
    const text = await readBody(req);
    const patchBody = parseJson(text, 'error decoding patch');
    const cur = this.store.get(r.storage, ns, name);
    if (!cur) throw errors.notFound(r, name);
    const ext = structuredClone(this.external(r, cur));
    let patched;
    try {
      if (mt === 'application/json-patch+json') {
        patched = jsonPatch(ext, decodeJsonPatch(patchBody));
      } else if (mt === 'application/merge-patch+json') {
        if (patchBody === null || typeof patchBody !== 'object' || Array.isArray(patchBody)) throw errors.badRequest('Invalid JSON Patch');
        patched = mergePatch(ext, patchBody);
      } else {
        if (patchBody === null || typeof patchBody !== 'object' || Array.isArray(patchBody)) {
          throw errors.badRequest(`json: cannot unmarshal ${Array.isArray(patchBody) ? 'array' : typeof patchBody} into Go value of type map[string]interface {}`);
        }
        patched = strategicMergePatch(ext, patchBody, r.def);
      }
    } catch (e) {
      if (e instanceof PatchApplyError) {
        if (e.decode) throw errors.badRequest(e.message);
        if (mt === 'application/json-patch+json') throw errors.patchRejected();
        throw errors.badRequest(e.message);
      }
      throw e;
    }
    if (patched === null || typeof patched !== 'object' || Array.isArray(patched)) throw errors.patchRejected();
    const pm = patched.metadata ?? {};
    if (pm.name !== name) {
      throw errors.badRequest(`the name of the object (${pm.name ?? ''}) does not match the name on the URL (${name})`);
    }
    if (r.namespaced && pm.namespace !== ns) {
      throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    if (r.resource === 'pods') {
      // pkg/registry/core/pod/strategy.go PrepareForUpdate keeps the old status;
      // ValidatePodUpdate (pkg/apis/core/validation) refuses spec changes beyond a few fields,
      // none of which this server models: any spec change is that Forbidden.
      patched.status = ext.status;
      if (JSON.stringify(patched.spec) !== JSON.stringify(ext.spec)) {
        throw errors.invalid('Pod', '', name, [field.forbidden('spec', 'pod updates may not change fields other than ' +
          '`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,' +
          '`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` ' +
          '(allow it to be set to 1 if it was previously negative)')]);
      }
    }
    const { obj, warnings } = this.decode(r, patched, opts.fieldValidation, true);
    const { object } = this.update(r, ns, name, obj, opts);
    return send(res, 200, this.external(r, object), warningHeaders(warnings));
  }

  async deleteOptions(req, q) {
    const text = (await readBody(req)).trim();
    const o = text ? parseJson(text, "couldn't get version/kind; json parse error") : {};
    if (o === null || typeof o !== 'object' || Array.isArray(o)) throw errors.badRequest('DeleteOptions must be a JSON object');
    const dryRun = Array.isArray(o.dryRun) && o.dryRun.includes('All');
    let gracePeriodSeconds = typeof o.gracePeriodSeconds === 'number' ? o.gracePeriodSeconds : undefined;
    if (gracePeriodSeconds === undefined && q?.get('gracePeriodSeconds')) gracePeriodSeconds = Number(q.get('gracePeriodSeconds'));
    return { preconditions: o.preconditions ?? {}, dryRun, propagationPolicy: o.propagationPolicy ?? q?.get('propagationPolicy'), gracePeriodSeconds };
  }

  deleteOne(r, cur, dryRun, gracePeriodSeconds) {
    if (r.resource === 'pods' && this.controllers) return this.controllers.deletePod(cur, gracePeriodSeconds, dryRun);
    if (r.resource === 'namespaces') {
      for (const other of RESOURCES) {
        if (!other.namespaced || other.storage !== other.resource || other.group === 'events.k8s.io') continue;
        for (const o of this.store.list(other.storage, cur.metadata.name)) if (!dryRun) this.store.commit('DELETED', other.storage, o, o);
      }
    }
    if (dryRun) return cur;
    return this.store.commit('DELETED', r.storage, cur, cur);
  }

  async delete(req, res, r, ns, name, opts) {
    const o = await this.deleteOptions(req, new URL(req.url, 'http://x').searchParams);
    const cur = this.store.get(r.storage, ns, name);
    if (!cur) throw errors.notFound(r, name);
    const key = `/registry/${r.storage}/${ns ? `${ns}/` : ''}${name}`;
    const pre = o.preconditions;
    if (pre.uid && pre.uid !== cur.metadata.uid) {
      throw errors.conflict(r, name, `StorageError: invalid object, Code: 4, Key: ${key}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`);
    }
    if (pre.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion) {
      throw errors.conflict(r, name, `StorageError: invalid object, Code: 4, Key: ${key}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`);
    }
    const deleted = this.deleteOne(r, cur, opts.dryRun || o.dryRun, o.gracePeriodSeconds);
    // The pod registry sets ReturnDeletedObject: DELETE answers with the pod (terminating, or its
    // last state), not a Status (pkg/registry/core/pod/storage/storage.go).
    if (r.resource === 'pods') return send(res, 200, this.external(r, deleted));
    if (r.resource === 'namespaces') {
      const out = structuredClone(this.external(r, deleted));
      out.metadata.deletionTimestamp = nowTime();
      out.status = { ...(out.status ?? {}), phase: 'Terminating' };
      return send(res, 200, out);
    }
    const details = { name };
    if (r.group) details.group = r.group;
    details.kind = r.resource;
    details.uid = cur.metadata.uid;
    return send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details });
  }

  async deleteCollection(req, res, r, ns, q, opts) {
    const o = await this.deleteOptions(req, q);
    const { match } = this.selectors(r, q);
    const items = this.store.list(r.storage, ns).filter(match).map((x) => this.deleteOne(r, x, opts.dryRun || o.dryRun, o.gracePeriodSeconds));
    const out = items.map((x) => {
      const e = { ...this.external(r, x) };
      delete e.kind;
      delete e.apiVersion;
      return e;
    });
    return send(res, 200, { kind: r.listKind, apiVersion: r.apiVersion, metadata: { resourceVersion: String(this.store.rev) }, items: out });
  }

  cutWatches() {
    const n = this.watches.size;
    for (const w of [...this.watches]) w.cut();
    return n;
  }
}

// Drops the TCP connection the request came on. Over HTTP/2 req.socket is a proxy whose
// destroy() resets only this stream: destroy the session (and its socket) instead.
// A response that goes nowhere (for faults whose request is carried out but whose answer is lost).
function discardingResponse() {
  return {
    headersSent: false, writableEnded: false, statusCode: 200,
    writeHead(code) { this.statusCode = code; this.headersSent = true; return this; },
    setHeader() {}, getHeader() { return undefined; }, removeHeader() {}, flushHeaders() {},
    write() { return true; }, end() { this.writableEnded = true; this.headersSent = true; },
    on() { return this; }, once() { return this; }, off() { return this; },
  };
}

function destroyConnection(req) {
  if (req.stream?.session) req.stream.session.destroy();
  else req.socket?.destroy();
}

function partial(obj) {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

function warningHeaders(warnings) {
  return warnings.length ? { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`) } : {};
}


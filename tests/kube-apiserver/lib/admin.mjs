// Test-control API (plain HTTP on its own loopback port): faults, watch cuts, compaction, tokens,
// pause/resume, the request log and an object dump/injection.
import { RESOURCES, systemObject } from './resources.mjs';

export class Faults {
  constructor() {
    this.rules = [];
    this.nextId = 1;
  }

  add(spec) {
    const match = spec.match ?? {};
    if (typeof match !== 'object') throw new Error('match must be an object');
    for (const k of Object.keys(match)) {
      if (!['verb', 'resource', 'name', 'namespace', 'path', 'pathPrefix', 'method'].includes(k)) throw new Error(`unknown match key ${k}`);
    }
    const status = spec.status;
    if (status !== undefined && !(Number.isInteger(status) && status >= 400 && status <= 599)) throw new Error('status must be an HTTP error code (400..599)');
    if (status === undefined && !spec.delayMs && !spec.reset) throw new Error('a fault needs status, delayMs or reset');
    if (spec.reset !== undefined && ![true, false, 'connection', 'stream'].includes(spec.reset)) {
      throw new Error('reset must be true, "connection" or "stream"');
    }
    if (spec.after !== undefined && typeof spec.after !== 'boolean') throw new Error('after must be a boolean');
    if (spec.after && status === undefined && !spec.reset) throw new Error('an after fault needs status or reset (its answer replaces the real one)');
    const count = spec.count ?? 1;
    if (!Number.isInteger(count) || count < 0) throw new Error('count must be a non-negative integer (0 = until cleared)');
    const rule = {
      id: this.nextId++, match, count, remaining: count, status, retryAfterSeconds: spec.retryAfterSeconds,
      delayMs: spec.delayMs ?? 0, reset: spec.reset === 'stream' ? 'stream' : spec.reset ? 'connection' : false, message: spec.message,
      after: spec.after === true, hits: 0,
    };
    this.rules.push(rule);
    return rule;
  }

  // Returns the first rule matching the request entry (and consumes one of its counts).
  // `denied`: the request's user may not do it. The real apiserver's filter chain runs
  // authentication -> priority and fairness (429) -> authorization -> the handler (storage errors,
  // 5xx, 409, 404, 410, 504): a denied request never reaches the handler, so it answers 403, not
  // the handler's fault. Only what happens before authorization (429) or below HTTP (a dropped
  // connection or stream, a delay on the wire) still applies to it.
  take(e, denied = false) {
    for (const rule of this.rules) {
      if (denied && !(rule.status === 429 || (rule.status === undefined && !rule.after))) continue;
      const m = rule.match;
      if (m.verb !== undefined && m.verb !== e.verb) continue;
      if (m.resource !== undefined && m.resource !== e.resource) continue;
      if (m.name !== undefined && m.name !== e.name) continue;
      if (m.namespace !== undefined && m.namespace !== e.namespace) continue;
      if (m.method !== undefined && m.method.toUpperCase() !== e.method) continue;
      if (m.path !== undefined && m.path !== e.path) continue;
      if (m.pathPrefix !== undefined && !e.path.startsWith(m.pathPrefix)) continue;
      rule.hits++;
      if (rule.count > 0) {
        rule.remaining--;
        if (rule.remaining <= 0) this.rules = this.rules.filter((x) => x !== rule);
      }
      return rule;
    }
    return null;
  }

  clear() {
    const n = this.rules.length;
    this.rules = [];
    return n;
  }
}

export class RequestLog {
  constructor(limit = 20000) {
    this.entries = [];
    this.limit = limit;
  }

  add(e) {
    this.entries.push(e);
    if (this.entries.length > this.limit) this.entries.shift();
  }

  clear() {
    const n = this.entries.length;
    this.entries = [];
    return n;
  }
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d) => {
      text += d;
    });
    req.on('end', () => {
      if (text.trim() === '') return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch (e) {
        reject(new Error(`invalid JSON body: ${e.message}`));
      }
    });
    req.on('error', reject);
  });
}

function reply(res, code, body) {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

// ctx: {store, auth, faults, requestLog, api, listener: {pause(mode), resume(), state()}}
export function adminHandler(ctx) {
  const { store, auth, faults, requestLog, api, listener } = ctx;
  return async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const p = url.pathname.replace(/\/+$/, '') || '/';
    const route = `${req.method} ${p}`;
    try {
      if (route === 'GET /healthz') return reply(res, 200, { ok: true });
      if (route === 'POST /faults') return reply(res, 201, faults.add(await readJson(req)));
      if (route === 'GET /faults') return reply(res, 200, { faults: faults.rules });
      if (route === 'DELETE /faults') return reply(res, 200, { deleted: faults.clear() });
      if (route === 'POST /connections/cut') {
        const b = await readJson(req);
        const count = b.count ?? 1;
        if (!Number.isInteger(count) || count < 0) throw new Error('count must be a non-negative integer');
        listener.cutConnections = count;
        return reply(res, 200, { cutConnections: count });
      }
      if (route === 'POST /watch/cut') return reply(res, 200, { cut: api.cutWatches() });
      if (route === 'GET /watches') return reply(res, 200, { open: api.watches.size });
      if (route === 'POST /compact') return reply(res, 200, { compactedResourceVersion: String(store.compact()) });
      if (route === 'POST /tokens') {
        const b = await readJson(req);
        auth.set(b.token, { user: b.user, groups: b.groups, rules: b.rules ?? [] });
        return reply(res, 201, { token: b.token, user: b.user });
      }
      if (route === 'GET /tokens') return reply(res, 200, { tokens: auth.list() });
      if (req.method === 'DELETE' && p.startsWith('/tokens/')) {
        const ok = auth.delete(decodeURIComponent(p.slice('/tokens/'.length)));
        return reply(res, ok ? 200 : 404, { deleted: ok });
      }
      if (route === 'POST /pause') {
        const b = await readJson(req);
        await listener.pause(b.mode ?? 'refuse');
        return reply(res, 200, listener.state());
      }
      if (route === 'POST /resume') {
        await listener.resume();
        return reply(res, 200, listener.state());
      }
      if (route === 'GET /listener') return reply(res, 200, listener.state());
      if (route === 'GET /requests') return reply(res, 200, { requests: requestLog.entries });
      if (route === 'DELETE /requests') return reply(res, 200, { deleted: requestLog.clear() });
      if (route === 'GET /controllers') return reply(res, 200, controllerSettings(api.settings));
      if (route === 'POST /controllers') {
        const b = await readJson(req);
        for (const [k, key] of CONTROLLER_KEYS) {
          if (b[k] === undefined) continue;
          if (typeof b[k] !== 'number' || !(b[k] >= 0)) throw new Error(`${k} must be a number of seconds >= 0`);
          api.settings[key] = b[k] * 1000;
        }
        return reply(res, 200, controllerSettings(api.settings));
      }
      if (route === 'GET /objects') return reply(res, 200, store.dump());
      if (route === 'POST /objects') return reply(res, 200, putObject(store, await readJson(req)));
      if (route === 'DELETE /objects') return reply(res, 200, deleteObject(store, await readJson(req)));
      return reply(res, 404, { error: `no admin route ${route}` });
    } catch (e) {
      return reply(res, 400, { error: e.message });
    }
  };
}

// The emulated controllers' delays (controllers.mjs), in seconds as on the command line.
const CONTROLLER_KEYS = [['podRecreateDelay', 'recreateDelayMs'], ['podReadyDelay', 'readyDelayMs'], ['podTerminationDelay', 'terminationDelayMs']];

function controllerSettings(settings) {
  return Object.fromEntries(CONTROLLER_KEYS.map(([k, key]) => [k, settings[key] / 1000]));
}

function resourceFor(obj) {
  const r = RESOURCES.find((x) => x.apiVersion === obj?.apiVersion && x.kind === obj?.kind);
  if (!r) throw new Error(`unsupported apiVersion/kind ${obj?.apiVersion}/${obj?.kind}`);
  return r;
}

// Creates or replaces any served object (pods included), bypassing auth and validation; the write
// gets a new resourceVersion and is seen by watches like any other.
export function putObject(store, body) {
  const r = resourceFor(body);
  const m = body.metadata ?? {};
  if (!m.name) throw new Error('metadata.name is required');
  const ns = r.namespaced ? (m.namespace || 'default') : undefined;
  const cur = store.get(r.storage, ns, m.name);
  const obj = systemObject(r, { ...body, metadata: { ...m, namespace: ns } }, cur ? { uid: cur.metadata.uid, creationTimestamp: cur.metadata.creationTimestamp } : {});
  return store.commit(cur ? 'MODIFIED' : 'ADDED', r.storage, obj, cur);
}

function deleteObject(store, body) {
  const r = resourceFor(body);
  const ns = r.namespaced ? (body.namespace ?? body.metadata?.namespace ?? 'default') : undefined;
  const name = body.name ?? body.metadata?.name;
  const cur = store.get(r.storage, ns, name);
  if (!cur) throw new Error(`${r.resource} "${name}" not found`);
  return store.commit('DELETED', r.storage, cur, cur);
}

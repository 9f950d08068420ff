// The three PATCH flavours the apiserver accepts with a JSON body:
//   application/merge-patch+json           RFC 7386
//   application/strategic-merge-patch+json  Kubernetes strategic merge (list merge keys from the schema)
//   application/json-patch+json            RFC 6902
import { patchMeta } from './schema.mjs';

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const clone = (v) => (v === undefined ? undefined : structuredClone(v));

export class PatchApplyError extends Error {}

// RFC 7386.
export function mergePatch(target, patch) {
  if (!isObj(patch)) return clone(patch);
  const out = isObj(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// ---- strategic merge patch ---------------------------------------------------------------------

function stripDirectives(v) {
  if (Array.isArray(v)) return v.filter((x) => !(isObj(x) && x.$patch === 'delete')).map(stripDirectives);
  if (!isObj(v)) return v;
  const out = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/') || k.startsWith('$deleteFromPrimitiveList/')) continue;
    if (x === null) continue;
    out[k] = stripDirectives(x);
  }
  return out;
}

export function strategicMergePatch(original, patch, defName, path = []) {
  if (!isObj(patch)) throw new PatchApplyError('invalid patch: expected a JSON object');
  return smpMap(original, patch, defName, path);
}

function smpMap(original, patch, defName, path) {
  if (patch.$patch === 'replace') return stripDirectives(patch);
  if (patch.$patch === 'delete') return undefined;
  if (patch.$patch !== undefined) throw new PatchApplyError(`Unknown patch type: ${patch.$patch}`);
  let out = isObj(original) ? clone(original) : {};
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys);
    out = Object.fromEntries(Object.entries(out).filter(([k]) => keep.has(k)));
  }
  const orders = [];
  for (const [key, v] of Object.entries(patch)) {
    if (key === '$patch' || key === '$retainKeys') continue;
    if (key.startsWith('$setElementOrder/')) {
      orders.push([key.slice('$setElementOrder/'.length), v]);
      continue;
    }
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const f = key.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[f]) && Array.isArray(v)) out[f] = out[f].filter((x) => !v.includes(x));
      continue;
    }
    if (v === null) {
      delete out[key];
      continue;
    }
    const childPath = [...path, key];
    if (Array.isArray(v)) {
      const meta = patchMeta(defName, childPath);
      if (meta?.strategy?.split(',').includes('merge')) {
        out[key] = meta.mergeKey ? mergeListByKey(out[key], v, meta.mergeKey, defName, childPath)
          : mergePrimitiveList(out[key], v);
      } else {
        out[key] = stripDirectives(v);
      }
      continue;
    }
    if (isObj(v)) {
      const r = smpMap(out[key], v, defName, childPath);
      if (r === undefined) delete out[key];
      else out[key] = r;
      continue;
    }
    out[key] = v;
  }
  for (const [f, order] of orders) {
    if (!Array.isArray(out[f]) || !Array.isArray(order)) continue;
    const meta = patchMeta(defName, [...path, f]);
    const keyOf = (x) => (meta?.mergeKey && isObj(x) ? JSON.stringify(x[meta.mergeKey]) : JSON.stringify(x));
    const rank = new Map(order.map((x, i) => [keyOf(x), i]));
    out[f] = out[f].map((x, i) => [x, i]).sort((a, b) => {
      const ra = rank.get(keyOf(a[0])) ?? Infinity;
      const rb = rank.get(keyOf(b[0])) ?? Infinity;
      return ra === rb ? a[1] - b[1] : ra - rb;
    }).map(([x]) => x);
  }
  return out;
}

function mergeListByKey(original, patch, mergeKey, defName, path) {
  if (patch.some((x) => isObj(x) && x.$patch === 'replace')) {
    return stripDirectives(patch.filter((x) => !(isObj(x) && x.$patch === 'replace')));
  }
  const out = Array.isArray(original) ? clone(original) : [];
  for (const item of patch) {
    if (!isObj(item)) throw new PatchApplyError(`merging list with merge key ${mergeKey}: expected maps`);
    const key = item[mergeKey];
    const idx = out.findIndex((x) => isObj(x) && x[mergeKey] === key);
    if (item.$patch === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = smpMap(out[idx], item, defName, path);
    else out.push(stripDirectives(item));
  }
  return out;
}

function mergePrimitiveList(original, patch) {
  const out = Array.isArray(original) ? clone(original) : [];
  for (const x of patch) if (!out.some((y) => JSON.stringify(y) === JSON.stringify(x))) out.push(x);
  return out;
}

// ---- RFC 6902 -------------------------------------------------------------------------------------

function parsePointer(p) {
  if (p === '') return [];
  if (typeof p !== 'string' || p[0] !== '/') throw new PatchApplyError(`invalid JSON pointer: ${JSON.stringify(p)}`);
  return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function resolveParent(doc, tokens, op, path) {
  let cur = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9]\d*)$/.test(t) || Number(t) >= cur.length) throw new PatchApplyError(`${op} operation does not apply: doc is missing path: "${path}": missing value`);
      cur = cur[Number(t)];
    } else if (isObj(cur) && Object.hasOwn(cur, t)) {
      cur = cur[t];
    } else {
      throw new PatchApplyError(`${op} operation does not apply: doc is missing path: "${path}": missing value`);
    }
  }
  if (!isObj(cur) && !Array.isArray(cur)) throw new PatchApplyError(`${op} operation does not apply: doc is missing path: "${path}": missing value`);
  return cur;
}

function getAt(doc, path, op) {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return doc;
  const parent = resolveParent(doc, tokens, op, path);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) {
    if (!/^(0|[1-9]\d*)$/.test(last) || Number(last) >= parent.length) throw new PatchApplyError(`${op} operation does not apply: doc is missing key: ${path}: missing value`);
    return parent[Number(last)];
  }
  if (!Object.hasOwn(parent, last)) throw new PatchApplyError(`${op} operation does not apply: doc is missing key: ${path}: missing value`);
  return parent[last];
}

function removeAt(doc, path, op) {
  const tokens = parsePointer(path);
  const parent = resolveParent(doc, tokens, op, path);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) {
    if (!/^(0|[1-9]\d*)$/.test(last) || Number(last) >= parent.length) throw new PatchApplyError(`${op} operation does not apply: doc is missing path: "${path}": missing value`);
    return parent.splice(Number(last), 1)[0];
  }
  if (!Object.hasOwn(parent, last)) throw new PatchApplyError(`${op} operation does not apply: doc is missing path: "${path}": missing value`);
  const v = parent[last];
  delete parent[last];
  return v;
}

function addAt(doc, path, value, op, replace) {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return clone(value);
  const parent = resolveParent(doc, tokens, op, path);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) {
    if (last === '-' && !replace) {
      parent.push(clone(value));
    } else {
      const i = /^(0|[1-9]\d*)$/.test(last) ? Number(last) : NaN;
      if (Number.isNaN(i) || i > parent.length || (replace && i >= parent.length)) throw new PatchApplyError(`${op} operation does not apply: doc is missing path: "${path}": missing value`);
      if (replace) parent[i] = clone(value);
      else parent.splice(i, 0, clone(value));
    }
  } else {
    if (replace && !Object.hasOwn(parent, last)) throw new PatchApplyError(`replace operation does not apply: doc is missing key: ${path}: missing value`);
    parent[last] = clone(value);
  }
  return doc;
}

function deepEqual(a, b) {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

// Throws PatchApplyError for a bad operation list (the apiserver's 400) as `decode: true`.
export function decodeJsonPatch(ops) {
  if (!Array.isArray(ops)) {
    const e = new PatchApplyError('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
    e.decode = true;
    throw e;
  }
  return ops;
}

export function jsonPatch(doc, ops) {
  let out = clone(doc);
  for (const o of ops) {
    if (!isObj(o)) throw new PatchApplyError('Unexpected kind: <nil>');
    const op = o.op;
    switch (op) {
      case 'add':
        if (!('value' in o)) throw new PatchApplyError('add operation, missing value');
        out = addAt(out, o.path, o.value, 'add', false);
        break;
      case 'remove':
        removeAt(out, o.path, 'remove');
        break;
      case 'replace':
        if (!('value' in o)) throw new PatchApplyError('replace operation, missing value');
        out = addAt(out, o.path, o.value, 'replace', true);
        break;
      case 'move': {
        const v = removeAt(out, o.from, 'move');
        out = addAt(out, o.path, v, 'move', false);
        break;
      }
      case 'copy': {
        const v = getAt(out, o.from, 'copy');
        out = addAt(out, o.path, v, 'copy', false);
        break;
      }
      case 'test': {
        let v;
        try {
          v = getAt(out, o.path, 'test');
        } catch {
          v = undefined;
        }
        if (!deepEqual(v, o.value)) throw new PatchApplyError(`testing value ${o.path} failed: test failed`);
        break;
      }
      default:
        throw new PatchApplyError(`Unexpected kind: ${op}`);
    }
  }
  return out;
}

export { deepEqual };

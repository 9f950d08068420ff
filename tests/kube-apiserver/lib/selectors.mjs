// Label selectors (equality- and set-based) and field selectors, as the apiserver parses them.
import { errors } from './errors.mjs';

// Returns a predicate over a labels map, or throws a 400 BadRequest.
export function parseLabelSelector(text) {
  if (!text) return () => true;
  const reqs = [];
  for (const raw of splitTopLevel(text)) {
    const part = raw.trim();
    if (!part) throw errors.badRequest(`unable to parse requirement: found '', expected: identifier`);
    let m;
    if ((m = /^!\s*([^\s=!(),]+)$/.exec(part))) {
      reqs.push({ key: checkKey(m[1]), op: '!' });
    } else if ((m = /^([^\s=!(),]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part))) {
      const values = m[3].split(',').map((v) => v.trim()).filter((v) => v !== '');
      reqs.push({ key: checkKey(m[1]), op: m[2], values: values.map(checkValue) });
    } else if ((m = /^([^\s=!(),]+)\s*(==|=|!=)\s*([^\s=!(),]*)$/.exec(part))) {
      reqs.push({ key: checkKey(m[1]), op: m[2] === '!=' ? '!=' : '=', values: [checkValue(m[3])] });
    } else if ((m = /^([^\s=!(),]+)$/.exec(part))) {
      reqs.push({ key: checkKey(m[1]), op: 'exists' });
    } else {
      throw errors.badRequest(`unable to parse requirement: ${part}`);
    }
  }
  return (labels = {}) => reqs.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    switch (r.op) {
      case '!': return !has;
      case 'exists': return has;
      case '=': return has && labels[r.key] === r.values[0];
      case '!=': return !has || labels[r.key] !== r.values[0];
      case 'in': return has && r.values.includes(labels[r.key]);
      case 'notin': return !has || !r.values.includes(labels[r.key]);
      default: return false;
    }
  });
}

function splitTopLevel(text) {
  const out = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out;
}

const KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkKey(k) {
  if (!KEY.test(k)) throw errors.badRequest(`unable to parse requirement: invalid label key "${k}"`);
  return k;
}

function checkValue(v) {
  if (!VALUE.test(v) || v.length > 63) throw errors.badRequest(`unable to parse requirement: invalid label value: "${v}"`);
  return v;
}

// Field selectors: `a=b`, `a==b`, `a!=b`, comma separated (backslash escapes as in fields.ParseSelector).
// `supported` maps each field label the resource supports to its path in the stored object.
export function parseFieldSelector(text, supported) {
  if (!text) return { match: () => true, name: undefined, namespace: undefined };
  const reqs = [];
  for (const part of splitUnescaped(text, ',')) {
    if (part === '') continue;
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/s.exec(part);
    if (!m) throw errors.badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const label = m[1].trim();
    if (!Object.hasOwn(supported, label)) throw errors.badRequest(`field label not supported: ${label}`);
    reqs.push({ label, path: supported[label], neg: m[2] === '!=', value: unescape(m[3]) });
  }
  const eqName = reqs.find((r) => r.label === 'metadata.name' && !r.neg);
  const eqNs = reqs.find((r) => r.label === 'metadata.namespace' && !r.neg);
  return {
    match: (obj) => reqs.every((r) => (fieldValue(obj, r.path) === r.value) !== r.neg),
    name: eqName?.value,
    namespace: eqNs?.value,
  };
}

function splitUnescaped(text, sep) {
  const out = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && i + 1 < text.length) {
      cur += text[i] + text[i + 1];
      i++;
    } else if (text[i] === sep) {
      out.push(cur);
      cur = '';
    } else {
      cur += text[i];
    }
  }
  out.push(cur);
  return out;
}

function unescape(v) {
  return v.replace(/\\(.)/g, '$1');
}

export function fieldValue(obj, path) {
  let v = obj;
  for (const k of path.split('.')) v = v?.[k];
  if (v === undefined || v === null) return '';
  return String(v);
}

// metav1.LabelSelector (matchLabels + matchExpressions) -> predicate over a labels map, as
// metav1.LabelSelectorAsSelector builds it: an empty selector ({}) matches everything, a missing
// one (null) nothing; an invalid one -> null (callers treat it as matching nothing, as the eviction
// handler and the disruption controller do).
export function labelSelectorMatcher(sel) {
  if (sel === null || sel === undefined) return () => false;
  if (typeof sel !== 'object') return null;
  const reqs = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) reqs.push({ key: k, operator: 'In', values: [v] });
  for (const e of sel.matchExpressions ?? []) {
    if (!e || typeof e.key !== 'string' || !['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(e.operator)) return null;
    reqs.push({ key: e.key, operator: e.operator, values: e.values ?? [] });
  }
  return (labels = {}) => reqs.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    switch (r.operator) {
      case 'In': return has && r.values.includes(labels[r.key]);
      case 'NotIn': return !has || !r.values.includes(labels[r.key]);
      case 'Exists': return has;
      default: return !has;
    }
  });
}

// True when the selector selects nothing special: null, {} (selector.Empty()).
export function labelSelectorEmpty(sel) {
  return !sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0);
}

// metav1.FormatLabelSelector: "<none>" for an empty selector, else the selector string.
export function formatLabelSelector(sel) {
  if (labelSelectorEmpty(sel)) return '<none>';
  const parts = Object.keys(sel.matchLabels ?? {}).sort().map((k) => `${k}=${sel.matchLabels[k]}`);
  for (const e of sel.matchExpressions ?? []) {
    if (e.operator === 'In' || e.operator === 'NotIn') parts.push(`${e.key} ${e.operator.toLowerCase()} (${[...(e.values ?? [])].sort().join(',')})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

// Bearer-token authentication and an RBAC-like authorizer with the real apiserver's Forbidden
// message (k8s.io/apiserver/pkg/endpoints/handlers/responsewriters.forbiddenMessage).

export const ADMIN_RULES = [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }];

export class Auth {
  // unsecured: requests without a token act as the admin "system:unsecured" (what the legacy
  // insecure port did; client-go never sends a token over plain http).
  constructor({ unsecured = false } = {}) {
    this.tokens = new Map(); // token -> {user, groups, rules}
    this.unsecured = unsecured;
  }

  set(token, { user, groups = [], rules = [] }) {
    if (typeof token !== 'string' || token === '') throw new Error('token must be a non-empty string');
    if (typeof user !== 'string' || user === '') throw new Error('user must be a non-empty string');
    if (!Array.isArray(rules)) throw new Error('rules must be an array');
    for (const r of rules) {
      for (const k of ['apiGroups', 'resources', 'verbs']) {
        if (!Array.isArray(r[k])) throw new Error(`every rule needs ${k} (an array)`);
      }
    }
    this.tokens.set(token, { user, groups: [...groups, 'system:authenticated'], rules });
  }

  delete(token) {
    return this.tokens.delete(token);
  }

  list() {
    return Object.fromEntries([...this.tokens].map(([t, v]) => [t, v]));
  }

  // -> {user} | {anonymous: true} | null (a token was presented but is not valid)
  authenticate(header) {
    if (!header && this.unsecured) return { user: 'system:unsecured', groups: ['system:masters', 'system:authenticated'], rules: ADMIN_RULES };
    if (!header) return { anonymous: true, user: 'system:anonymous', groups: ['system:unauthenticated'], rules: [] };
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return null;
    const id = this.tokens.get(m[1]);
    return id ? { ...id, token: m[1] } : null;
  }

  // attrs: {verb, apiGroup, resource, namespace, name}
  allowed(identity, attrs) {
    return identity.rules.some((r) => ruleAllows(r, attrs));
  }
}

const has = (list, v) => list.includes('*') || list.includes(v);

// RBAC matches a subresource request only by "resource/subresource" (or "*", or "*/subresource").
function resourceMatches(resources, a) {
  if (resources.includes('*')) return true;
  if (!a.subresource) return resources.includes(a.resource);
  return resources.includes(`${a.resource}/${a.subresource}`) || resources.includes(`*/${a.subresource}`);
}

function ruleAllows(r, a) {
  if (!has(r.verbs, a.verb) || !has(r.apiGroups, a.apiGroup) || !resourceMatches(r.resources, a)) return false;
  if (Array.isArray(r.namespaces) && r.namespaces.length > 0) {
    if (!a.namespace || !(r.namespaces.includes('*') || r.namespaces.includes(a.namespace))) return false;
  }
  if (Array.isArray(r.resourceNames) && r.resourceNames.length > 0) {
    if (!a.name || !r.resourceNames.includes(a.name)) return false;
  }
  return true;
}

// responsewriters.forbiddenMessage: the resource is "resource/subresource" for subresources.
export function forbiddenMessage(user, a) {
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  if (a.namespace) {
    return `User "${user}" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup}" in the namespace "${a.namespace}"`;
  }
  return `User "${user}" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup}" at the cluster scope`;
}

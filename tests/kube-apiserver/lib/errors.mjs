// Kubernetes `Status` errors with the real kube-apiserver's reasons, codes and message formats
// (k8s.io/apimachinery/pkg/api/errors).

export class ApiError extends Error {
  constructor(status, headers = {}) {
    super(status.message);
    this.status = status;
    this.headers = headers;
  }
  get code() {
    return this.status.code;
  }
}

export function statusObject(code, reason, message, details) {
  const s = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason };
  if (details) s.details = details;
  s.code = code;
  return s;
}

function err(code, reason, message, details, headers) {
  return new ApiError(statusObject(code, reason, message, details), headers);
}

// "configmaps" or "leases.coordination.k8s.io" (schema.GroupResource.String()).
export function qualified(res) {
  return res.group ? `${res.resource}.${res.group}` : res.resource;
}

function resDetails(res, name) {
  const d = {};
  if (name) d.name = name;
  if (res.group) d.group = res.group;
  d.kind = res.resource;
  return d;
}

export const errors = {
  notFound: (res, name) => err(404, 'NotFound', `${qualified(res)} "${name}" not found`, resDetails(res, name)),
  // Unknown resource under a served group/version, or an unknown API path.
  pathNotFound: () => err(404, 'NotFound', 'the server could not find the requested resource', {}),
  alreadyExists: (res, name) =>
    err(409, 'AlreadyExists', `${qualified(res)} "${name}" already exists`, resDetails(res, name)),
  conflict: (res, name, why) =>
    err(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(res)} "${name}": ${why}`, resDetails(res, name)),
  modified: (res, name) => errors.conflict(res, name,
    'the object has been modified; please apply your changes to the latest version and try again'),
  // causes: [{type, message, field}] (field.Error: type is e.g. FieldValueInvalid, message is the body).
  invalid: (kind, group, name, causes) => {
    const agg = causes.map((c) => `${c.field}: ${c.message}`);
    const gk = group ? `${kind}.${group}` : kind;
    const message = agg.length === 0 ? `${gk} "${name}" is invalid`
      : agg.length === 1 ? `${gk} "${name}" is invalid: ${agg[0]}` : `${gk} "${name}" is invalid: [${agg.join(', ')}]`;
    const details = {};
    if (name) details.name = name;
    if (group) details.group = group;
    if (kind) details.kind = kind;
    details.causes = causes.map((c) => ({ reason: c.type, message: c.message, field: c.field }));
    return err(422, 'Invalid', message, details);
  },
  // What the apiserver returns when a JSON patch cannot be applied (NewGenericServerResponse 422).
  patchRejected: () => err(422, 'Invalid', 'the server rejected our request due to an error in our request', {}),
  badRequest: (message) => err(400, 'BadRequest', message),
  unauthorized: () => err(401, 'Unauthorized', 'Unauthorized'),
  forbidden: (res, name, msg) => {
    if (!res) return err(403, 'Forbidden', `forbidden: ${msg}`, {});
    const message = name ? `${qualified(res)} "${name}" is forbidden: ${msg}` : `${qualified(res)} is forbidden: ${msg}`;
    return err(403, 'Forbidden', message, resDetails(res, name));
  },
  methodNotSupported: (res, action) => err(405, 'MethodNotAllowed',
    `${action} is not supported on resources of kind "${qualified(res)}"`, { ...(res.group ? { group: res.group } : {}), kind: res.resource }),
  methodNotAllowed: () => err(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {}),
  expired: (message) => err(410, 'Expired', message),
  gone: (message) => err(410, 'Gone', message),
  unsupportedMediaType: (types) => err(415, 'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${types.join(', ')}`),
  notAcceptable: (types) => err(406, 'NotAcceptable', `only the following media types are accepted: ${types.join(', ')}`),
  tooLarge: (message) => err(413, 'RequestEntityTooLarge', `Request entity too large: ${message}`),
  tooManyRequests: (retryAfterSeconds = 1) => err(429, 'TooManyRequests', 'Too many requests, please try again later.',
    { retryAfterSeconds }, { 'Retry-After': String(retryAfterSeconds) }),
  internal: (message) => err(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] }),
  serviceUnavailable: (message = 'the server is currently unable to handle the request') =>
    err(503, 'ServiceUnavailable', message),
  timeout: (message, retryAfterSeconds = 1) => err(504, 'Timeout', `Timeout: ${message}`, { retryAfterSeconds }),
  tooLargeResourceVersion: (requested, current) => new ApiError({
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
    message: `Timeout: Too large resource version: ${requested}, current: ${current}`, reason: 'Timeout',
    details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 },
    code: 504,
  }),
};

// field.Error helpers: the `message` is field.Error.ErrorBody().
export const field = {
  invalid: (path, value, detail) => ({
    type: 'FieldValueInvalid', field: path,
    message: `Invalid value: ${goValue(value)}${detail ? `: ${detail}` : ''}`,
  }),
  required: (path, detail) => ({ type: 'FieldValueRequired', field: path, message: `Required value${detail ? `: ${detail}` : ''}` }),
  forbidden: (path, detail) => ({ type: 'FieldValueForbidden', field: path, message: `Forbidden: ${detail}` }),
  tooLong: (path, max) => ({ type: 'FieldValueTooLong', field: path, message: `Too long: must have at most ${max} bytes` }),
  notSupported: (path, value, valid) => ({
    type: 'FieldValueNotSupported', field: path,
    message: `Unsupported value: ${goValue(value)}: supported values: ${valid.map((v) => JSON.stringify(v)).join(', ')}`,
  }),
  duplicate: (path, value) => ({ type: 'FieldValueDuplicate', field: path, message: `Duplicate value: ${goValue(value)}` }),
};

function goValue(v) {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

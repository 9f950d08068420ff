// Decoding of request bodies sent as application/vnd.kubernetes.protobuf (what kubectl's typed
// clients use, e.g. `kubectl create configmap`). The envelope is "k8s\0" + runtime.Unknown; the
// message is converted to the JSON form and then goes through the normal JSON decoding.
import { DEFS, formatMicroTime, formatTime } from './schema.mjs';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';

// Field numbers from the generated.proto files of k8s.io/api and k8s.io/apimachinery.
const FIELDS = {
  [`${META}ObjectMeta`]: { 1: 'name', 2: 'generateName', 3: 'namespace', 4: 'selfLink', 5: 'uid', 6: 'resourceVersion', 7: 'generation', 8: 'creationTimestamp', 9: 'deletionTimestamp', 10: 'deletionGracePeriodSeconds', 11: 'labels', 12: 'annotations', 13: 'ownerReferences', 14: 'finalizers' },
  [`${META}OwnerReference`]: { 1: 'kind', 3: 'name', 4: 'uid', 5: 'apiVersion', 6: 'controller', 7: 'blockOwnerDeletion' },
  'io.k8s.api.core.v1.ConfigMap': { 1: 'metadata', 2: 'data', 3: 'binaryData', 4: 'immutable' },
  'io.k8s.api.core.v1.Namespace': { 1: 'metadata', 2: 'spec', 3: 'status' },
  'io.k8s.api.core.v1.NamespaceSpec': { 1: 'finalizers' },
  'io.k8s.api.core.v1.NamespaceStatus': { 1: 'phase' },
  'io.k8s.api.core.v1.ObjectReference': { 1: 'kind', 2: 'namespace', 3: 'name', 4: 'uid', 5: 'apiVersion', 6: 'resourceVersion', 7: 'fieldPath' },
  'io.k8s.api.core.v1.EventSource': { 1: 'component', 2: 'host' },
  'io.k8s.api.core.v1.EventSeries': { 1: 'count', 2: 'lastObservedTime' },
  'io.k8s.api.core.v1.Event': { 1: 'metadata', 2: 'involvedObject', 3: 'reason', 4: 'message', 5: 'source', 6: 'firstTimestamp', 7: 'lastTimestamp', 8: 'count', 9: 'type', 10: 'eventTime', 11: 'series', 12: 'action', 13: 'related', 14: 'reportingComponent', 15: 'reportingInstance' },
  'io.k8s.api.events.v1.EventSeries': { 1: 'count', 2: 'lastObservedTime' },
  'io.k8s.api.events.v1.Event': { 1: 'metadata', 2: 'eventTime', 3: 'series', 4: 'reportingController', 5: 'reportingInstance', 6: 'action', 7: 'reason', 8: 'regarding', 9: 'related', 10: 'note', 11: 'type', 12: 'deprecatedSource', 13: 'deprecatedFirstTimestamp', 14: 'deprecatedLastTimestamp', 15: 'deprecatedCount' },
  'io.k8s.api.coordination.v1.LeaseSpec': { 1: 'holderIdentity', 2: 'leaseDurationSeconds', 3: 'acquireTime', 4: 'renewTime', 5: 'leaseTransitions', 6: 'strategy', 7: 'preferredHolder' },
  'io.k8s.api.coordination.v1.Lease': { 1: 'metadata', 2: 'spec' },
  // k8s.io/api/policy/v1/generated.proto and apimachinery meta/v1 (what `kubectl drain` POSTs).
  'io.k8s.api.policy.v1.Eviction': { 1: 'metadata', 2: 'deleteOptions' },
  [`${META}DeleteOptions`]: { 1: 'gracePeriodSeconds', 2: 'preconditions', 3: 'orphanDependents', 4: 'propagationPolicy', 5: 'dryRun', 6: 'ignoreStoreReadErrorWithClusterBreakingPotential' },
  [`${META}Preconditions`]: { 1: 'uid', 2: 'resourceVersion' },
};

export class ProtobufError extends Error {}

function readVarint(buf, pos) {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos.i >= buf.length) throw new ProtobufError('unexpected EOF');
    const b = buf[pos.i++];
    result |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return result;
    shift += 7n;
    if (shift > 63n) throw new ProtobufError('varint overflow');
  }
}

// -> Map(fieldNumber -> [values]) where values are BigInt (varint) or Buffer (length-delimited).
function parseMessage(buf) {
  const pos = { i: 0 };
  const fields = new Map();
  while (pos.i < buf.length) {
    const tag = Number(readVarint(buf, pos));
    const num = tag >>> 3;
    const wire = tag & 7;
    let v;
    if (wire === 0) v = readVarint(buf, pos);
    else if (wire === 2) {
      const len = Number(readVarint(buf, pos));
      if (pos.i + len > buf.length) throw new ProtobufError('unexpected EOF');
      v = buf.subarray(pos.i, pos.i + len);
      pos.i += len;
    } else if (wire === 1) {
      v = buf.readBigInt64LE(pos.i);
      pos.i += 8;
    } else if (wire === 5) {
      v = BigInt(buf.readInt32LE(pos.i));
      pos.i += 4;
    } else {
      throw new ProtobufError(`unsupported wire type ${wire}`);
    }
    if (!fields.has(num)) fields.set(num, []);
    fields.get(num).push(v);
  }
  return fields;
}

const str = (b) => Buffer.from(b).toString('utf8');
const signed64 = (v) => Number(BigInt.asIntN(64, v));

function timeValue(buf, micro) {
  const f = parseMessage(buf);
  const seconds = signed64(f.get(1)?.[0] ?? 0n);
  const nanos = signed64(f.get(2)?.[0] ?? 0n);
  return micro ? formatMicroTime(seconds, Math.floor(nanos / 1000)) : formatTime(seconds);
}

function scalar(schema, v) {
  switch (schema.t) {
    case 'string': return str(v);
    case 'bytes': return Buffer.from(v).toString('base64');
    case 'integer': return schema.format === 'int32' ? Number(BigInt.asIntN(32, v)) : signed64(v);
    case 'boolean': return v !== 0n;
    case 'time': return timeValue(v, false);
    case 'microtime': return timeValue(v, true);
    case 'ref': return message(schema.name, v);
    default: throw new ProtobufError(`cannot decode ${schema.t} from protobuf`);
  }
}

function message(defName, buf) {
  const def = DEFS[defName];
  const nums = FIELDS[defName];
  if (!def || !nums) throw new ProtobufError(`no protobuf mapping for ${defName}`);
  const out = {};
  for (const [num, values] of parseMessage(buf)) {
    const name = nums[num];
    if (!name) continue;
    const prop = def.props.find((p) => p.name === name);
    const s = prop.schema;
    if (s.t === 'map') {
      const m = {};
      for (const entry of values) {
        const e = parseMessage(entry);
        const k = e.has(1) ? str(e.get(1)[0]) : '';
        m[k] = e.has(2) ? scalar(s.of, e.get(2)[0]) : (s.of.t === 'string' || s.of.t === 'bytes' ? '' : null);
      }
      out[name] = m;
    } else if (s.t === 'list') {
      out[name] = values.map((v) => scalar(s.of, v));
    } else {
      out[name] = scalar(s, values[values.length - 1]);
    }
  }
  return out;
}

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

// body: Buffer -> {apiVersion, kind, ...} (JSON form) for the given definition.
export function decodeProtobuf(body, defName) {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw new ProtobufError('provided object is not a protobuf message (missing "k8s\\0" prefix)');
  const unknown = parseMessage(body.subarray(4));
  const tm = unknown.has(1) ? parseMessage(unknown.get(1)[0]) : new Map();
  const apiVersion = tm.has(1) ? str(tm.get(1)[0]) : undefined;
  const kind = tm.has(2) ? str(tm.get(2)[0]) : undefined;
  const raw = unknown.get(2)?.[0] ?? Buffer.alloc(0);
  const obj = message(defName, raw);
  return { ...(kind ? { kind } : {}), ...(apiVersion ? { apiVersion } : {}), ...obj };
}

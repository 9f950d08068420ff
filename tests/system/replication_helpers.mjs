// Helpers shared by the replication system tests (replication, replication_faults,
// replication_follow).
import { mkdirSync, writeFileSync, readFileSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { join, relative } from 'node:path';

export function write(path, data) {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, data);
}

// Files of a real source were written long before a capture: age the recently written ones (the
// scanner does not cache files modified in the last 50 ms); older files keep their mtime.
export function settle(dir) {
  const past = new Date(Date.now() - 10000);
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) { if (e.name !== '.agency-ha') walk(p); } else if (statSync(p).mtimeMs > past.getTime()) utimesSync(p, past, past);
    }
  };
  walk(dir);
}

// path -> {data, mode} for every file, ignoring the local state dir.
export function tree(dir) {
  const out = {};
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (relative(dir, p) !== '.agency-ha') walk(p);
      } else {
        out[relative(dir, p)] = { data: readFileSync(p).toString('base64'), mode: statSync(p).mode & 0o777 };
      }
    }
  };
  walk(dir);
  return out;
}

// Sum of a metric's samples whose labels contain `match` (0 when absent).
export function metric(body, name, match = '') {
  let sum = 0;
  for (const line of body.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith('{') || rest.startsWith(' '))) continue;
    if (match && !rest.includes(match)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

// A state.json for the two-region sidecar tests: us-east-1 active, us-west-2 passive, promoted for
// the regions in `promotedFor` (serving as well when that is not empty).
export function stateJson(promotedFor) {
  const now = new Date().toISOString();
  const region = (active, promoted) => ({
    status: 'healthy', since: now, reason: '', active, promoted: promoted.length > 0,
    promotedFor: promoted, promotedSince: promoted.length > 0 ? now : null, lastProbe: null,
  });
  return JSON.stringify({
    apiVersion: 'agency-ha/v1', generation: Date.now(), updatedAt: now, panic: false,
    panicSince: null, failedRegions: [],
    servingRegions: promotedFor.length ? ['us-east-1', 'us-west-2'] : ['us-east-1'],
    regions: { 'us-east-1': region(true, []), 'us-west-2': region(false, promotedFor) },
    transitions: [],
  });
}

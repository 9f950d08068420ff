// Helpers shared by the replication system tests (replication, replication_faults,
// replication_follow).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync, readFileSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runAsync } from './helpers.mjs';

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

// The sidecar tests (sidecar_events, sidecar_events_failures): the state ConfigMap's state.json
// set through the CLI, a sidecar config with a ConfigMap state source, the sidecar's position.
export async function setState(kube, cm, promotedFor) {
  const r = await runAsync(['state', 'set', '--configmap', `agency/${cm}`, '--kubeconfig', kube.kubeconfig,
    'state.json', '--value', stateJson(promotedFor)]);
  assert.equal(r.status, 0, r.stderr);
}

export function sidecarConfig(dir, name, source, remote, cm, kubeconfig, handoff) {
  const path = join(dir, `sidecar-${name}.yaml`);
  writeFileSync(path, `source: ${source}\nregion: ${name}\nremotes:\n  - {url: "file://${remote}"}\n`
    + `debounceMilliseconds: 50\nsyncIntervalSeconds: 2\nlisten: "127.0.0.1:0"\n`
    + `handoff: {${handoff}, state: {configMap: {namespace: agency, name: ${cm}}}, `
    + `kubeconfig: "${kubeconfig}", followIntervalSeconds: 0.1, timeoutSeconds: 5}\n`);
  return path;
}

export const position = (source) => {
  const p = join(source, '.agency-ha', 'position.json');
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : {};
};

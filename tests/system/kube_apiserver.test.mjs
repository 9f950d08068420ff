// The Kubernetes API test server (tests/kube-apiserver/server.mjs) proven with the real kubectl
// (default flags) and with direct HTTPS requests: discovery, CRUD, patches, watches, RBAC, faults
// and the admin API. Runs the server as a child process, as the C++ tests will.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVER = join(dirname(fileURLToPath(import.meta.url)), '..', 'kube-apiserver', 'server.mjs');
const KUBECTL = process.env.KUBECTL || '/usr/bin/kubectl';
const HAVE_KUBECTL = existsSync(KUBECTL);
const kubectlTest = (name, fn) => test(name, { skip: HAVE_KUBECTL ? false : `kubectl not found at ${KUBECTL}` }, fn);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- harness ---------------------------------------------------------------------------------------

const children = new Set();
const dirs = new Set();

function tempDir() {
  const d = mkdtempSync(join(tmpdir(), 'kas-test-'));
  dirs.add(d);
  return d;
}

// Starts the server; resolves with its ready line plus {child, dir, ca}.
async function startServer(extraArgs = []) {
  const dir = tempDir();
  const kubeconfig = join(dir, 'kubeconfig.yaml');
  const child = spawn(process.execPath, [SERVER, '--kubeconfig', kubeconfig, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { err += d; });
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready in 10 s: ${err}`)), 10000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      out += d;
      const i = out.indexOf('\n');
      if (i >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, i)));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${err}`));
    });
  });
  const ca = ready.caFile ? readFileSync(ready.caFile) : null;
  if (ready.caFile) serverTmp.add(dirname(ready.caFile));
  return { ...ready, child, dir, ca, stderr: () => err };
}

async function stopServer(srv) {
  if (srv.child.exitCode !== null) return srv.child.exitCode;
  const exited = new Promise((r) => srv.child.once('exit', (code) => r(code)));
  srv.child.kill('SIGTERM');
  return exited;
}

// Servers still running at the end get SIGTERM (they remove their temp dir), SIGKILL if stuck.
const serverTmp = new Set();
after(async () => {
  await Promise.all([...children].map((c) => new Promise((resolve) => {
    const timer = setTimeout(() => c.kill('SIGKILL'), 3000);
    c.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    c.kill('SIGTERM');
  })));
  for (const d of [...dirs, ...serverTmp]) rmSync(d, { recursive: true, force: true });
});

// One HTTP(S) request to the API. body: object (JSON) or string; returns {status, headers, text, json}.
function request(srv, method, path, { body, token = srv.token, contentType, headers = {}, noAuth = false } = {}) {
  const url = new URL(path, srv.url);
  const lib = url.protocol === 'https:' ? https : http;
  const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const h = { Accept: 'application/json', ...headers };
  if (!noAuth) h.Authorization = `Bearer ${token}`;
  if (data !== undefined) {
    h['Content-Type'] = contentType ?? 'application/json';
    h['Content-Length'] = Buffer.byteLength(data);
  }
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method, headers: h, ca: srv.ca, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

async function admin(srv, method, path, body) {
  const res = await fetch(new URL(path, srv.adminUrl), {
    method, headers: body ? { 'Content-Type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: await res.json() };
}

// A watch stream: parsed events, the unparsed tail, and how it ended.
function openWatch(srv, path, { token = srv.token, headers = {} } = {}) {
  const url = new URL(path, srv.url);
  const lib = url.protocol === 'https:' ? https : http;
  const w = { events: [], tail: '', ended: false, error: null, status: 0, headers: null };
  const waiters = new Set();
  const notify = () => { for (const fn of waiters) fn(); };
  let onResponse;
  w.response = new Promise((r) => { onResponse = r; });
  const req = lib.request(url, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...headers }, ca: srv.ca, agent: false }, (res) => {
    w.status = res.statusCode;
    w.headers = res.headers;
    onResponse(res);
    res.setEncoding('utf8');
    res.on('data', (d) => {
      w.tail += d;
      let i;
      while ((i = w.tail.indexOf('\n')) >= 0) {
        const line = w.tail.slice(0, i);
        w.tail = w.tail.slice(i + 1);
        if (line.trim()) w.events.push(JSON.parse(line));
      }
      notify();
    });
    res.on('end', () => { w.ended = true; notify(); });
    res.on('error', (e) => { w.error = e; notify(); });
    res.on('aborted', () => { w.error ??= new Error('aborted'); notify(); });
  });
  req.on('error', (e) => { w.error = e; onResponse(null); notify(); });
  req.end();
  w.waitFor = (pred, ms = 5000, what = 'watch condition') => new Promise((resolve, reject) => {
    const check = () => {
      const v = pred(w);
      if (v) {
        waiters.delete(check);
        clearTimeout(timer);
        resolve(v);
      }
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`timed out waiting for ${what}; events: ${JSON.stringify(w.events).slice(0, 2000)} tail=${w.tail} ended=${w.ended} error=${w.error}`));
    }, ms);
    waiters.add(check);
    check();
  });
  w.close = () => req.destroy();
  return w;
}

function kubectl(srv, args, { input } = {}) {
  const r = spawnSync(KUBECTL, ['--kubeconfig', srv.kubeconfig, ...args], {
    encoding: 'utf8', timeout: 30000, input, env: { ...process.env, KUBECACHEDIR: join(srv.dir, 'kcache') },
  });
  if (r.error) throw r.error;
  return r;
}

function ok(r) {
  assert.equal(r.status, 0, `kubectl failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

const cm = (name, data, extra = {}) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...extra }, data });
const NS = '/api/v1/namespaces/default';

let srv;
before(async () => {
  // Like a real cluster, only the default namespaces exist unless created (as these are here).
  srv = await startServer(['--bookmark-interval', '0.3', '--namespace', 'sel', '--namespace', 'watch-ns', '--namespace', 'agency']);
});

// ---- discovery ------------------------------------------------------------------------------------------

test('version is public; discovery needs a token and lists the served resources', async () => {
  const v = await request(srv, 'GET', '/version', { noAuth: true });
  assert.equal(v.status, 200);
  assert.equal(v.json.major, '1');
  assert.equal((await request(srv, 'GET', '/api', { noAuth: true })).status, 401);

  const core = await request(srv, 'GET', '/api/v1');
  assert.equal(core.json.kind, 'APIResourceList');
  const byName = Object.fromEntries(core.json.resources.map((r) => [r.name, r]));
  assert.deepEqual(Object.keys(byName).sort(), ['configmaps', 'events', 'namespaces', 'nodes', 'pods', 'pods/eviction']);
  assert.deepEqual(byName.configmaps.shortNames, ['cm']);
  assert.equal(byName.configmaps.namespaced, true);
  assert.equal(byName.namespaces.namespaced, false);
  assert.deepEqual(byName.pods.verbs, ['delete', 'deletecollection', 'get', 'list', 'patch', 'watch']);
  // What kubectl drain's CheckEvictionSupport looks for.
  assert.deepEqual(byName['pods/eviction'], { name: 'pods/eviction', singularName: '', namespaced: true, group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] });
  assert.equal(byName.nodes.namespaced, false);
  assert.ok(byName.configmaps.verbs.includes('patch') && byName.configmaps.verbs.includes('watch'));

  const groups = await request(srv, 'GET', '/apis');
  assert.deepEqual(groups.json.groups.map((g) => g.preferredVersion.groupVersion).sort(),
    ['apps/v1', 'coordination.k8s.io/v1', 'events.k8s.io/v1', 'networking.k8s.io/v1', 'policy/v1']);
  const leases = await request(srv, 'GET', '/apis/coordination.k8s.io/v1');
  assert.equal(leases.json.resources[0].kind, 'Lease');

  const agg = await request(srv, 'GET', '/apis', { headers: { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' } });
  assert.match(agg.headers['content-type'], /as=APIGroupDiscoveryList/);
  assert.equal(agg.json.kind, 'APIGroupDiscoveryList');
  assert.deepEqual(agg.json.items.map((i) => i.metadata.name).sort(), ['apps', 'coordination.k8s.io', 'events.k8s.io', 'networking.k8s.io', 'policy']);
  const aggCore = await request(srv, 'GET', '/api', { headers: { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' } });
  const aggPods = aggCore.json.items[0].versions[0].resources.find((r) => r.resource === 'pods');
  assert.deepEqual(aggPods.subresources, [{ subresource: 'eviction', responseKind: { group: 'policy', version: 'v1', kind: 'Eviction' }, verbs: ['create'] }]);

  const oa = await request(srv, 'GET', '/openapi/v3');
  const doc = await request(srv, 'GET', oa.json.paths['api/v1'].serverRelativeURL);
  const patchOp = doc.json.paths['/api/v1/namespaces/{namespace}/configmaps/{name}'].patch;
  assert.ok(patchOp.parameters.some((p) => p.name === 'fieldValidation'));
  assert.ok(patchOp.requestBody.content['application/strategic-merge-patch+json']);
  assert.equal((await request(srv, 'GET', '/apis/nope.example.com/v1/things')).status, 404);
});

// ---- kubectl --------------------------------------------------------------------------------------------

kubectlTest('kubectl get/apply/patch/delete a ConfigMap with default flags', async () => {
  const empty = kubectl(srv, ['get', 'cm', '-n', 'kubectl-ns']);
  assert.equal(empty.status, 0, empty.stderr);
  assert.equal(empty.stdout, '');
  assert.match(empty.stderr, /No resources found in kubectl-ns namespace\./);

  const file = join(srv.dir, 'cm.yaml');
  const yaml = (value) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\n  namespace: kubectl-ns\n  labels: {app: demo}\ndata:\n  mode: ${value}\n  keep: "yes"\n`;
  writeFileSync(file, yaml('active'));
  // The namespace does not exist yet: the real NamespaceLifecycle admission answers 404.
  const noNs = kubectl(srv, ['apply', '-f', file]);
  assert.notEqual(noNs.status, 0);
  assert.match(noNs.stderr, /Error from server \(NotFound\): error when creating ".*cm\.yaml": namespaces "kubectl-ns" not found/);
  assert.match(ok(kubectl(srv, ['create', 'namespace', 'kubectl-ns'])), /namespace\/kubectl-ns created/);
  assert.match(ok(kubectl(srv, ['apply', '-f', file])), /^configmap\/app-config created$/m);
  const first = JSON.parse(ok(kubectl(srv, ['get', 'cm', 'app-config', '-n', 'kubectl-ns', '-o', 'json'])));
  assert.deepEqual(first.data, { keep: 'yes', mode: 'active' });

  writeFileSync(file, yaml('passive'));
  assert.match(ok(kubectl(srv, ['apply', '-f', file])), /^configmap\/app-config configured$/m);
  assert.match(ok(kubectl(srv, ['apply', '-f', file])), /^configmap\/app-config unchanged$/m);
  const got = JSON.parse(ok(kubectl(srv, ['get', 'cm', 'app-config', '-n', 'kubectl-ns', '-o', 'json'])));
  assert.deepEqual(got.data, { keep: 'yes', mode: 'passive' });
  assert.equal(got.metadata.uid, first.metadata.uid);
  assert.ok(Number(got.metadata.resourceVersion) > Number(first.metadata.resourceVersion));
  assert.ok(got.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'].includes('passive'));

  const table = ok(kubectl(srv, ['get', 'cm', '-n', 'kubectl-ns']));
  assert.match(table, /^NAME\s+DATA\s+AGE\n/);
  assert.match(table, /^app-config\s+2\s+\d+s$/m);

  // The three patch types kubectl knows; the server applies them.
  assert.match(ok(kubectl(srv, ['patch', 'cm', 'app-config', '-n', 'kubectl-ns', '--type', 'merge', '-p', '{"data":{"merged":"1","keep":null}}'])), /patched/);
  assert.match(ok(kubectl(srv, ['patch', 'cm', 'app-config', '-n', 'kubectl-ns', '-p', '{"data":{"strategic":"2"}}'])), /patched/);
  assert.match(ok(kubectl(srv, ['patch', 'cm', 'app-config', '-n', 'kubectl-ns', '--type', 'json', '-p',
    '[{"op":"test","path":"/data/mode","value":"passive"},{"op":"replace","path":"/data/mode","value":"json"}]'])), /patched/);
  const after = await request(srv, 'GET', '/api/v1/namespaces/kubectl-ns/configmaps/app-config');
  assert.deepEqual(after.json.data, { merged: '1', mode: 'json', strategic: '2' });
  const failed = kubectl(srv, ['patch', 'cm', 'app-config', '-n', 'kubectl-ns', '--type', 'json', '-p', '[{"op":"test","path":"/data/mode","value":"nope"}]']);
  assert.notEqual(failed.status, 0);
  assert.match(failed.stderr, /the server rejected our request due to an error in our request/);

  assert.match(ok(kubectl(srv, ['delete', 'cm', 'app-config', '-n', 'kubectl-ns'])), /configmap "app-config" deleted/);
  const gone = kubectl(srv, ['get', 'cm', 'app-config', '-n', 'kubectl-ns']);
  assert.notEqual(gone.status, 0);
  assert.match(gone.stderr, /Error from server \(NotFound\): configmaps "app-config" not found/);
});

kubectlTest('kubectl get -w -o json streams the MODIFIED object', async (t) => {
  const created = await request(srv, 'POST', `${NS}/configmaps`, { body: cm('watched', { v: '1' }) });
  assert.equal(created.status, 201);
  const child = spawn(KUBECTL, ['--kubeconfig', srv.kubeconfig, 'get', 'cm', 'watched', '-w', '-o', 'json'], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECACHEDIR: join(srv.dir, 'kcache') },
  });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { err += d; });
  const objects = [];
  const seen = (pred, what) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kubectl -w did not print ${what}: ${out} ${err}`)), 10000);
    const check = () => {
      // kubectl prints a stream of pretty-printed JSON objects.
      const parts = out.split(/\n}\n/);
      objects.length = 0;
      for (const p of parts.slice(0, -1)) objects.push(JSON.parse(`${p}\n}`));
      const hit = objects.find(pred);
      if (hit) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve(hit);
      }
    };
    const onData = (d) => { out += d; check(); };
    child.stdout.on('data', onData);
    check();
  });
  const initial = await seen((o) => o.data?.v === '1', 'the initial object');
  assert.equal(initial.metadata.name, 'watched');
  const patched = await request(srv, 'PATCH', `${NS}/configmaps/watched`, { body: { data: { v: '2' } }, contentType: 'application/merge-patch+json' });
  assert.equal(patched.status, 200);
  const modified = await seen((o) => o.data?.v === '2', 'the MODIFIED object');
  assert.equal(modified.metadata.resourceVersion, patched.json.metadata.resourceVersion);
  child.kill('SIGTERM');
});

kubectlTest('kubectl create -f a Lease, get leases, AlreadyExists on a second create', () => {
  const file = join(srv.dir, 'lease.yaml');
  const leaseYaml = (renewTime) => `apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: agency-ha-leader\nspec:\n  holderIdentity: controller-a\n  leaseDurationSeconds: 15\n  renewTime: "${renewTime}"\n`;
  // renewTime is a MicroTime: a real server parses it with RFC3339Micro, exactly 6 fractional digits.
  writeFileSync(file, leaseYaml('2024-05-01T10:00:00Z'));
  const seconds = kubectl(srv, ['create', '-f', file]);
  assert.notEqual(seconds.status, 0);
  assert.match(seconds.stderr, /Error from server \(BadRequest\): error when creating ".*lease\.yaml": Lease in version "v1" cannot be handled as a Lease: parsing time "2024-05-01T10:00:00Z" as "2006-01-02T15:04:05\.000000Z07:00": cannot parse "Z" as "\.000000"/);
  writeFileSync(file, leaseYaml('2024-05-01T10:00:00.000000Z'));
  assert.match(ok(kubectl(srv, ['create', '-f', file])), /lease.coordination.k8s.io\/agency-ha-leader created/);
  const list = ok(kubectl(srv, ['get', 'leases']));
  assert.match(list, /^NAME\s+HOLDER\s+AGE\n/);
  assert.match(list, /^agency-ha-leader\s+controller-a\s+/m);
  const lease = JSON.parse(ok(kubectl(srv, ['get', 'lease', 'agency-ha-leader', '-o', 'json'])));
  assert.equal(lease.spec.renewTime, '2024-05-01T10:00:00.000000Z'); // MicroTime, as the apiserver stores it
  assert.equal(lease.spec.leaseDurationSeconds, 15);
  const again = kubectl(srv, ['create', '-f', file]);
  assert.notEqual(again.status, 0);
  assert.match(again.stderr, /\(AlreadyExists\).*leases.coordination.k8s.io "agency-ha-leader" already exists/);
});

kubectlTest('kubectl typed commands (protobuf bodies): create configmap, label, create namespace', async () => {
  assert.match(ok(kubectl(srv, ['create', 'configmap', 'typed', '--from-literal=a=1', '--from-literal=b=2'])), /configmap\/typed created/);
  assert.match(ok(kubectl(srv, ['label', 'cm', 'typed', 'tier=gold'])), /labeled/);
  const got = await request(srv, 'GET', `${NS}/configmaps/typed`);
  assert.deepEqual(got.json.data, { a: '1', b: '2' });
  assert.deepEqual(got.json.metadata.labels, { tier: 'gold' });
  assert.match(ok(kubectl(srv, ['create', 'namespace', 'typed-ns'])), /namespace\/typed-ns created/);
  assert.match(ok(kubectl(srv, ['get', 'ns', 'typed-ns'])), /typed-ns\s+Active/);
  assert.match(ok(kubectl(srv, ['get', 'cm', '-l', 'tier=gold', '-o', 'name'])), /^configmap\/typed$/m);
});

// ---- CRUD semantics over HTTP --------------------------------------------------------------------------

test('create/get/update: resourceVersion, uid, 404/409 Status bodies, stale update conflicts', async () => {
  const c = await request(srv, 'POST', `${NS}/configmaps`, { body: cm('crud', { a: '1' }) });
  assert.equal(c.status, 201);
  assert.match(c.json.metadata.uid, /^[0-9a-f-]{36}$/);
  assert.match(c.json.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const rv1 = c.json.metadata.resourceVersion;
  assert.match(rv1, /^\d+$/);

  const dup = await request(srv, 'POST', `${NS}/configmaps`, { body: cm('crud', { a: '1' }) });
  assert.equal(dup.status, 409);
  assert.deepEqual(dup.json, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'configmaps "crud" already exists',
    reason: 'AlreadyExists', details: { name: 'crud', kind: 'configmaps' }, code: 409,
  });

  const missing = await request(srv, 'GET', `${NS}/configmaps/nope`);
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'configmaps "nope" not found',
    reason: 'NotFound', details: { name: 'nope', kind: 'configmaps' }, code: 404,
  });
  const missingLease = await request(srv, 'GET', '/apis/coordination.k8s.io/v1/namespaces/default/leases/nope');
  assert.equal(missingLease.json.message, 'leases.coordination.k8s.io "nope" not found');
  assert.deepEqual(missingLease.json.details, { name: 'nope', group: 'coordination.k8s.io', kind: 'leases' });

  const u = await request(srv, 'PUT', `${NS}/configmaps/crud`, { body: { ...c.json, data: { a: '2' } } });
  assert.equal(u.status, 200);
  assert.ok(Number(u.json.metadata.resourceVersion) > Number(rv1));
  assert.equal(u.json.metadata.uid, c.json.metadata.uid);
  assert.equal(u.json.metadata.creationTimestamp, c.json.metadata.creationTimestamp);

  const stale = await request(srv, 'PUT', `${NS}/configmaps/crud`, { body: { ...c.json, data: { a: '3' } } });
  assert.equal(stale.status, 409);
  assert.equal(stale.json.reason, 'Conflict');
  assert.equal(stale.json.message, 'Operation cannot be fulfilled on configmaps "crud": the object has been modified; please apply your changes to the latest version and try again');
  assert.deepEqual(stale.json.details, { name: 'crud', kind: 'configmaps' });

  const unconditional = await request(srv, 'PUT', `${NS}/configmaps/crud`, { body: cm('crud', { a: '4' }) });
  assert.equal(unconditional.status, 200);
  assert.deepEqual(unconditional.json.data, { a: '4' });

  const putMissing = await request(srv, 'PUT', `${NS}/configmaps/ghost`, { body: cm('ghost', { a: '1' }) });
  assert.equal(putMissing.status, 404);
  const wrongName = await request(srv, 'PUT', `${NS}/configmaps/crud`, { body: cm('other', {}) });
  assert.equal(wrongName.status, 400);
  assert.equal(wrongName.json.message, 'the name of the object (other) does not match the name on the URL (crud)');

  // Writing identical content is a no-op: no new resourceVersion.
  const same = await request(srv, 'PUT', `${NS}/configmaps/crud`, { body: unconditional.json });
  assert.equal(same.status, 200);
  assert.equal(same.json.metadata.resourceVersion, unconditional.json.metadata.resourceVersion);

  const list = await request(srv, 'GET', `${NS}/configmaps?fieldSelector=metadata.name%3Dcrud`);
  assert.equal(list.json.kind, 'ConfigMapList');
  assert.equal(list.json.items.length, 1);
  assert.ok(Number(list.json.metadata.resourceVersion) >= Number(unconditional.json.metadata.resourceVersion));

  const preconditioned = await request(srv, 'DELETE', `${NS}/configmaps/crud`, {
    body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { resourceVersion: rv1 } },
  });
  assert.equal(preconditioned.status, 409);
  assert.match(preconditioned.json.message, /Precondition failed: ResourceVersion in precondition: \d+, ResourceVersion in object meta: \d+$/);
  const del = await request(srv, 'DELETE', `${NS}/configmaps/crud`);
  assert.equal(del.status, 200);
  assert.equal(del.json.status, 'Success');
  assert.equal(del.json.details.uid, c.json.metadata.uid);
  assert.equal((await request(srv, 'DELETE', `${NS}/configmaps/crud`)).status, 404);
});

test('validation: DNS-1123 names, ConfigMap keys, lease duration -> 422 Invalid; unknown fields', async () => {
  const badName = await request(srv, 'POST', `${NS}/configmaps`, { body: cm('Bad_Name', {}) });
  assert.equal(badName.status, 422);
  assert.equal(badName.json.reason, 'Invalid');
  assert.match(badName.json.message, /^ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of/);
  assert.equal(badName.json.details.causes[0].field, 'metadata.name');

  const badKey = await request(srv, 'POST', `${NS}/configmaps`, { body: cm('badkey', { 'no spaces': 'x' }) });
  assert.equal(badKey.status, 422);
  assert.match(badKey.json.message, /data\[no spaces\]: Invalid value: "no spaces": a valid config key must consist of alphanumeric characters/);

  const lease = await request(srv, 'POST', '/apis/coordination.k8s.io/v1/namespaces/default/leases', {
    body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'bad' }, spec: { leaseDurationSeconds: 0 } },
  });
  assert.equal(lease.status, 422);
  assert.equal(lease.json.message, 'Lease.coordination.k8s.io "bad" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0');

  const typeErr = await request(srv, 'POST', `${NS}/configmaps`, { body: { ...cm('typed-err', {}), data: { n: 1 } } });
  assert.equal(typeErr.status, 400);
  assert.match(typeErr.json.message, /cannot unmarshal number into Go struct field ConfigMap.data of type string/);

  const strict = await request(srv, 'POST', `${NS}/configmaps?fieldValidation=Strict`, { body: { ...cm('strict', {}), bogus: 1 } });
  assert.equal(strict.status, 400);
  assert.equal(strict.json.message, 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus"');
  const warn = await request(srv, 'POST', `${NS}/configmaps`, { body: { ...cm('warned', { a: 'b' }), bogus: 1 } });
  assert.equal(warn.status, 201);
  assert.equal(warn.headers.warning, '299 - "unknown field \\"bogus\\""');
  assert.equal(warn.json.bogus, undefined);

  const gen = await request(srv, 'POST', `${NS}/configmaps`, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'gen-' } } });
  assert.equal(gen.status, 201);
  assert.match(gen.json.metadata.name, /^gen-[a-z0-9]{5}$/);
});

test('patches: merge-patch null deletes, strategic merge, json-patch test op, no-op keeps resourceVersion', async () => {
  const base = await request(srv, 'POST', `${NS}/configmaps`, { body: cm('patchme', { a: '1', b: '2', c: '3' }) });
  assert.equal(base.status, 201);
  const merge = await request(srv, 'PATCH', `${NS}/configmaps/patchme`, { body: { data: { b: null, d: '4' } }, contentType: 'application/merge-patch+json' });
  assert.equal(merge.status, 200);
  assert.deepEqual(merge.json.data, { a: '1', c: '3', d: '4' });

  const smp = await request(srv, 'PATCH', `${NS}/configmaps/patchme`, {
    body: { metadata: { labels: { role: 'x' }, finalizers: ['example.com/f1'] }, data: { a: null, e: '5' } }, contentType: 'application/strategic-merge-patch+json',
  });
  assert.equal(smp.status, 200);
  assert.deepEqual(smp.json.data, { c: '3', d: '4', e: '5' });
  // finalizers use patchStrategy=merge: a second patch adds to the list instead of replacing it.
  const smp2 = await request(srv, 'PATCH', `${NS}/configmaps/patchme`, { body: { metadata: { finalizers: ['example.com/f2'] } }, contentType: 'application/strategic-merge-patch+json' });
  assert.deepEqual(smp2.json.metadata.finalizers, ['example.com/f1', 'example.com/f2']);
  const merge2 = await request(srv, 'PATCH', `${NS}/configmaps/patchme`, { body: { metadata: { finalizers: ['example.com/f3'] } }, contentType: 'application/merge-patch+json' });
  assert.deepEqual(merge2.json.metadata.finalizers, ['example.com/f3']);

  const jp = await request(srv, 'PATCH', `${NS}/configmaps/patchme`, {
    body: [{ op: 'test', path: '/data/c', value: '3' }, { op: 'remove', path: '/data/c' }, { op: 'add', path: '/data/f', value: '6' }],
    contentType: 'application/json-patch+json',
  });
  assert.equal(jp.status, 200);
  assert.deepEqual(jp.json.data, { d: '4', e: '5', f: '6' });

  const failedTest = await request(srv, 'PATCH', `${NS}/configmaps/patchme`, { body: [{ op: 'test', path: '/data/d', value: 'x' }], contentType: 'application/json-patch+json' });
  assert.equal(failedTest.status, 422);
  assert.deepEqual(failedTest.json, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
    message: 'the server rejected our request due to an error in our request', reason: 'Invalid', details: {}, code: 422,
  });

  const noop = await request(srv, 'PATCH', `${NS}/configmaps/patchme`, { body: { data: { d: '4' } }, contentType: 'application/merge-patch+json' });
  assert.equal(noop.json.metadata.resourceVersion, jp.json.metadata.resourceVersion);

  const stalePatch = await request(srv, 'PATCH', `${NS}/configmaps/patchme`, {
    body: { metadata: { resourceVersion: base.json.metadata.resourceVersion }, data: { z: '1' } }, contentType: 'application/merge-patch+json',
  });
  assert.equal(stalePatch.status, 409);
  assert.equal(stalePatch.json.reason, 'Conflict');

  assert.equal((await request(srv, 'PATCH', `${NS}/configmaps/ghost`, { body: {}, contentType: 'application/merge-patch+json' })).status, 404);
  const badType = await request(srv, 'PATCH', `${NS}/configmaps/patchme`, { body: {}, contentType: 'application/json' });
  assert.equal(badType.status, 415);
});

test('list: label selectors, field selectors, limit/continue, cluster-wide list', async () => {
  for (const [name, tier] of [['sel-a', 'web'], ['sel-b', 'web'], ['sel-c', 'db']]) {
    assert.equal((await request(srv, 'POST', '/api/v1/namespaces/sel/configmaps', { body: cm(name, {}, { labels: { tier, group: 'sel' } }) })).status, 201);
  }
  const names = (r) => r.json.items.map((i) => i.metadata.name);
  assert.deepEqual(names(await request(srv, 'GET', '/api/v1/namespaces/sel/configmaps?labelSelector=tier%3Dweb')), ['sel-a', 'sel-b']);
  assert.deepEqual(names(await request(srv, 'GET', '/api/v1/namespaces/sel/configmaps?labelSelector=tier%3Dweb,group%3Dsel')), ['sel-a', 'sel-b']);
  assert.deepEqual(names(await request(srv, 'GET', '/api/v1/namespaces/sel/configmaps?labelSelector=tier!%3Dweb')), ['sel-c']);
  assert.deepEqual(names(await request(srv, 'GET', '/api/v1/namespaces/sel/configmaps?labelSelector=tier+in+(db)')), ['sel-c']);
  assert.deepEqual(names(await request(srv, 'GET', '/api/v1/configmaps?fieldSelector=metadata.namespace%3Dsel,metadata.name%3Dsel-b')), ['sel-b']);
  const bad = await request(srv, 'GET', '/api/v1/namespaces/sel/configmaps?fieldSelector=data.x%3Dy');
  assert.equal(bad.status, 400);
  assert.equal(bad.json.message, 'field label not supported: data.x');

  const p1 = await request(srv, 'GET', '/api/v1/namespaces/sel/configmaps?limit=2');
  assert.deepEqual(names(p1), ['sel-a', 'sel-b']);
  assert.equal(p1.json.metadata.remainingItemCount, 1);
  const p2 = await request(srv, 'GET', `/api/v1/namespaces/sel/configmaps?limit=2&continue=${encodeURIComponent(p1.json.metadata.continue)}`);
  assert.deepEqual(names(p2), ['sel-c']);
  assert.equal(p2.json.metadata.continue, undefined);
});

test('events: core/v1 and events.k8s.io/v1 share one storage', async () => {
  const e = await request(srv, 'POST', `${NS}/events`, {
    body: {
      apiVersion: 'v1', kind: 'Event', metadata: { name: 'failover.1' }, involvedObject: { kind: 'ConfigMap', name: 'state', namespace: 'default' },
      reason: 'Failover', message: 'promoted eu-west-1', type: 'Normal', count: 1, source: { component: 'agency-ha' },
      firstTimestamp: '2024-05-01T10:00:00Z', lastTimestamp: '2024-05-01T10:00:00Z',
    },
  });
  assert.equal(e.status, 201, e.text);
  assert.equal(e.json.reportingComponent, '');
  const v1 = await request(srv, 'GET', '/apis/events.k8s.io/v1/namespaces/default/events/failover.1');
  assert.equal(v1.status, 200);
  assert.equal(v1.json.apiVersion, 'events.k8s.io/v1');
  assert.equal(v1.json.note, 'promoted eu-west-1');
  assert.equal(v1.json.regarding.name, 'state');
  assert.equal(v1.json.deprecatedCount, 1);
  assert.equal(v1.json.metadata.resourceVersion, e.json.metadata.resourceVersion);
  const byReason = await request(srv, 'GET', `${NS}/events?fieldSelector=reason%3DFailover,involvedObject.name%3Dstate`);
  assert.deepEqual(byReason.json.items.map((i) => i.metadata.name), ['failover.1']);
  const newApi = await request(srv, 'POST', '/apis/events.k8s.io/v1/namespaces/default/events', {
    body: { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'ev2' }, eventTime: '2024-05-01T10:00:00.123456Z', reportingController: 'agency-ha/controller', reportingInstance: 'pod-1', action: 'Promote', reason: 'Failover', type: 'Normal', regarding: { kind: 'ConfigMap', name: 'state', namespace: 'default' }, note: 'x' },
  });
  assert.equal(newApi.status, 201, newApi.text);
  const invalid = await request(srv, 'POST', '/apis/events.k8s.io/v1/namespaces/default/events', { body: { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'ev3' } } });
  assert.equal(invalid.status, 422);
  assert.match(invalid.json.message, /^Event.events.k8s.io "ev3" is invalid: .*eventTime: Required value/);
  const core = await request(srv, 'GET', `${NS}/events/ev2`);
  assert.equal(core.json.message, 'x');
  assert.equal(core.json.eventTime, '2024-05-01T10:00:00.123456Z');
});

// pkg/registry/core/event/strategy.go (EventToSelectableFields) and the Event field label
// conversion in pkg/apis/core/v1/conversion.go: these labels, anything else is a 400.
test('events: field selectors on involvedObject.* (uid included), reason, type, source; others are 400', async () => {
  const c = await request(srv, 'POST', `${NS}/configmaps`, { body: cm('ev-target', {}) });
  assert.equal(c.status, 201);
  const uid = c.json.metadata.uid;
  const ev = (name, io, extra = {}) => request(srv, 'POST', `${NS}/events`, {
    body: {
      apiVersion: 'v1', kind: 'Event', metadata: { name }, involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', name: 'ev-target', namespace: 'default', ...io },
      reason: 'RegionFailed', message: name, type: 'Warning', source: { component: 'agency-ha-controller' },
      firstTimestamp: '2024-05-01T10:00:00Z', lastTimestamp: '2024-05-01T10:00:00Z', count: 1, ...extra,
    },
  });
  assert.equal((await ev('sel.with-uid', { uid, resourceVersion: c.json.metadata.resourceVersion })).status, 201);
  assert.equal((await ev('sel.no-uid', {})).status, 201);
  assert.equal((await ev('sel.other-uid', { uid: '00000000-0000-0000-0000-000000000000' }, { type: 'Normal', reason: 'RegionRecovered' })).status, 201);
  const names = async (sel) => {
    const r = await request(srv, 'GET', `${NS}/events?fieldSelector=${encodeURIComponent(sel)}`);
    assert.equal(r.status, 200, r.text);
    return r.json.items.map((i) => i.metadata.name).sort();
  };
  // What kubectl describe sends (describe.go searchEvents → GetFieldSelector).
  assert.deepEqual(await names(`involvedObject.name=ev-target,involvedObject.namespace=default,involvedObject.kind=ConfigMap,involvedObject.uid=${uid}`), ['sel.with-uid']);
  assert.deepEqual(await names('involvedObject.name=ev-target'), ['sel.no-uid', 'sel.other-uid', 'sel.with-uid']);
  assert.deepEqual(await names('involvedObject.name=ev-target,involvedObject.uid='), ['sel.no-uid'], 'a missing uid is the empty string');
  assert.deepEqual(await names('involvedObject.name=ev-target,type!=Warning'), ['sel.other-uid']);
  assert.deepEqual(await names('involvedObject.name=ev-target,reason=RegionFailed,source=agency-ha-controller'), ['sel.no-uid', 'sel.with-uid']);
  assert.deepEqual(await names(`involvedObject.name=ev-target,involvedObject.resourceVersion=${c.json.metadata.resourceVersion},involvedObject.apiVersion=v1`), ['sel.with-uid']);
  for (const bad of ['involvedObject.foo=x', 'message=x', 'count=1']) {
    const r = await request(srv, 'GET', `${NS}/events?fieldSelector=${encodeURIComponent(bad)}`);
    assert.equal(r.status, 400, bad);
    assert.equal(r.json.message, `field label not supported: ${bad.split('=')[0]}`);
  }
});

kubectlTest('kubectl describe configmap lists only the Events that carry its uid', async () => {
  const c = await request(srv, 'POST', `${NS}/configmaps`, { body: cm('described', { k: 'v' }) });
  assert.equal(c.status, 201);
  const ev = (name, io) => request(srv, 'POST', `${NS}/events`, {
    body: {
      apiVersion: 'v1', kind: 'Event', metadata: { name }, involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', name: 'described', namespace: 'default', ...io },
      reason: name === 'described.a' ? 'WithUid' : 'WithoutUid', message: `message of ${name}`, type: 'Warning', source: { component: 'agency-ha-controller' },
      firstTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), count: 1,
    },
  });
  assert.equal((await ev('described.a', { uid: c.json.metadata.uid })).status, 201);
  assert.equal((await ev('described.b', {})).status, 201);
  const out = ok(kubectl(srv, ['describe', 'configmap', 'described']));
  const events = out.slice(out.search(/^Events:/m));
  assert.match(events, /^\s+Warning\s+WithUid\s+\S+\s+agency-ha-controller\s+message of described\.a$/m, out);
  assert.doesNotMatch(events, /WithoutUid/, out);
});

// kube-apiserver (Go net/http + TLS) offers "h2" by ALPN and Go clients such as kubectl take it;
// --http1-only offers "http/1.1" alone. The request log records the protocol of each request.
kubectlTest('HTTPS offers HTTP/2 by ALPN (kubectl uses it, get and watch); --http1-only does not', async (t) => {
  const h2 = await startServer(['--namespace', 'proto']);
  const h1 = await startServer(['--namespace', 'proto', '--http1-only']);
  t.after(() => Promise.all([stopServer(h2), stopServer(h1)]));
  for (const [srvx, version] of [[h2, '2.0'], [h1, '1.1']]) {
    assert.match(ok(kubectl(srvx, ['-n', 'proto', 'create', 'configmap', 'c', '--from-literal=a=b'])), /configmap\/c created/);
    assert.match(ok(kubectl(srvx, ['-n', 'proto', 'get', 'cm', 'c'])), /^c\s+1\s+/m);
    // A watch that ends by the server's timeout (kubectl get -w --request-timeout).
    const w = kubectl(srvx, ['-n', 'proto', 'get', 'cm', '-w', '--request-timeout=2s', '-o', 'name']);
    assert.match(w.stdout, /^configmap\/c$/m, w.stderr);
    assert.match(ok(kubectl(srvx, ['-n', 'proto', 'describe', 'cm', 'c'])), /^Events:\s+<none>/m);
    const log = (await admin(srvx, 'GET', '/requests')).json.requests.filter((r) => r.path.startsWith('/api'));
    assert.ok(log.length >= 4);
    assert.deepEqual([...new Set(log.map((r) => r.httpVersion))], [version], JSON.stringify(log.map((r) => [r.path, r.httpVersion])));
    assert.ok(log.some((r) => r.watch && r.httpVersion === version), 'the watch too');
  }
  // Clients without HTTP/2 (node's https here) get HTTP/1.1 from the h2 server.
  await admin(h2, 'DELETE', '/requests');
  assert.equal((await request(h2, 'GET', '/api/v1/namespaces/proto/configmaps/c')).status, 200);
  assert.deepEqual((await admin(h2, 'GET', '/requests')).json.requests.map((r) => r.httpVersion), ['1.1']);
});

// metav1.MicroTime.UnmarshalJSON parses with RFC3339Micro ("2006-01-02T15:04:05.000000Z07:00",
// apimachinery pkg/apis/meta/v1/micro_time.go), metav1.Time with time.RFC3339: Go's time.Parse rules.
test('MicroTime needs exactly 6 fractional digits; Time takes any; both with Go\'s errors', async () => {
  const lease = (name, spec) => request(srv, 'POST', '/apis/coordination.k8s.io/v1/namespaces/default/leases', {
    body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15, ...spec } } });
  const layout = '2006-01-02T15:04:05.000000Z07:00';
  const rejected = {
    '2024-05-01T10:00:00Z': 'cannot parse "Z" as ".000000"',
    '2024-05-01T10:00:00.123Z': 'cannot parse ".123Z" as ".000000"',
    '2024-05-01T10:00:00.123456789Z': 'cannot parse "789Z" as "Z07:00"',
    '2024-05-01t10:00:00.123456Z': 'cannot parse "t10:00:00.123456Z" as "T"',
    '2024-05-01T10:00:00.123456z': 'cannot parse "z" as "Z07:00"',
    '': 'cannot parse "" as "2006"',
  };
  let i = 0;
  for (const [v, why] of Object.entries(rejected)) {
    for (const field of ['renewTime', 'acquireTime']) {
      const r = await lease(`mt-bad-${i++}`, { [field]: v });
      assert.equal(r.status, 400, `${field}=${v}: ${r.text}`);
      assert.equal(r.json.message, `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(v)} as "${layout}": ${why}`);
    }
  }
  const range = await lease('mt-range', { renewTime: '2024-02-30T10:00:00.000000Z' });
  assert.equal(range.json.message, 'Lease in version "v1" cannot be handled as a Lease: parsing time "2024-02-30T10:00:00.000000Z": day out of range');
  const accepted = {
    '2024-05-01T10:00:00.123456Z': '2024-05-01T10:00:00.123456Z',
    '2024-05-01T12:00:00.000001+02:00': '2024-05-01T10:00:00.000001Z',
    '2024-05-01T10:00:00,654321Z': '2024-05-01T10:00:00.654321Z', // Go accepts a comma
  };
  for (const [v, stored] of Object.entries(accepted)) {
    const r = await lease(`mt-ok-${i++}`, { renewTime: v, acquireTime: null });
    assert.equal(r.status, 201, `${v}: ${r.text}`);
    assert.equal(r.json.spec.renewTime, stored);
    assert.equal(r.json.spec.acquireTime, undefined, 'null is the zero time (omitted)');
  }
  // metav1.Time (Event firstTimestamp): any fraction, or none; stored in seconds.
  const ev = (name, firstTimestamp) => request(srv, 'POST', `${NS}/events`, {
    body: { apiVersion: 'v1', kind: 'Event', metadata: { name }, involvedObject: { kind: 'ConfigMap', name: 'x', namespace: 'default' }, reason: 'R', type: 'Normal', firstTimestamp } });
  assert.equal((await ev('t-frac', '2024-05-01T10:00:00.5Z')).json.firstTimestamp, '2024-05-01T10:00:00Z');
  assert.equal((await ev('t-plain', '2024-05-01T10:00:00Z')).json.firstTimestamp, '2024-05-01T10:00:00Z');
  const badTime = await ev('t-bad', '2024-05-01T10:00:00');
  assert.equal(badTime.status, 400);
  assert.equal(badTime.json.message, 'Event in version "v1" cannot be handled as a Event: parsing time "2024-05-01T10:00:00" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00"');
});

// The NamespaceLifecycle admission plugin: creates into a namespace that does not exist are 404
// (before validation); reads are not admitted (the object is simply not found, lists are empty).
test('namespaces are not created on the fly (unless --auto-create-namespaces)', async (t) => {
  const missing = '/api/v1/namespaces/no-such-ns';
  const create = await request(srv, 'POST', `${missing}/configmaps`, { body: cm('x', {}) });
  assert.equal(create.status, 404);
  assert.deepEqual(create.json, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'namespaces "no-such-ns" not found',
    reason: 'NotFound', details: { name: 'no-such-ns', kind: 'namespaces' }, code: 404,
  });
  const invalid = await request(srv, 'POST', `${missing}/configmaps`, { body: cm('Not_A_Name', {}) });
  assert.equal(invalid.status, 404, 'admission runs before validation');
  assert.equal((await request(srv, 'POST', `${missing}/configmaps?dryRun=All`, { body: cm('x', {}) })).status, 404);
  const lease = await request(srv, 'POST', '/apis/coordination.k8s.io/v1/namespaces/no-such-ns/leases', {
    body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l' }, spec: {} } });
  assert.equal(lease.json.message, 'namespaces "no-such-ns" not found');
  const putEvent = await request(srv, 'PUT', `${missing}/events/e1`, {
    body: { apiVersion: 'v1', kind: 'Event', metadata: { name: 'e1' }, involvedObject: { kind: 'ConfigMap', name: 'x', namespace: 'no-such-ns' }, reason: 'R', type: 'Normal' } });
  assert.equal(putEvent.status, 404, 'create-on-update of core events is admitted as a create');
  assert.equal(putEvent.json.message, 'namespaces "no-such-ns" not found');
  const get = await request(srv, 'GET', `${missing}/configmaps/x`);
  assert.equal(get.status, 404);
  assert.equal(get.json.message, 'configmaps "x" not found');
  const list = await request(srv, 'GET', `${missing}/configmaps`);
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.items, []);
  assert.equal((await request(srv, 'GET', '/api/v1/namespaces/no-such-ns')).status, 404, 'and it was not created');

  // Created first, as on a real cluster, it works.
  assert.equal((await request(srv, 'POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'made-ns' } } })).status, 201);
  assert.equal((await request(srv, 'POST', '/api/v1/namespaces/made-ns/configmaps', { body: cm('x', {}) })).status, 201);

  // The opt-in: the namespace appears with the first object written into it.
  const auto = await startServer(['--auto-create-namespaces']);
  t.after(() => stopServer(auto));
  assert.equal((await request(auto, 'POST', '/api/v1/namespaces/on-the-fly/configmaps', { body: cm('x', {}) })).status, 201);
  assert.equal((await request(auto, 'GET', '/api/v1/namespaces/on-the-fly')).json.status.phase, 'Active');
  const badNs = await startServer(['--namespace', 'Bad_Name']).then(() => null, (e) => e);
  assert.match(String(badNs), /--namespace Bad_Name: not a DNS-1123 label/);
});

// ---- watches --------------------------------------------------------------------------------------------

test('watch: initial ADDED events, resume from a resourceVersion, fieldSelector, timeoutSeconds', async (t) => {
  const a = await request(srv, 'POST', '/api/v1/namespaces/watch-ns/configmaps', { body: cm('w-a', { v: '0' }) });
  const from = a.json.metadata.resourceVersion;
  await request(srv, 'PATCH', '/api/v1/namespaces/watch-ns/configmaps/w-a', { body: { data: { v: '1' } }, contentType: 'application/merge-patch+json' });
  await request(srv, 'POST', '/api/v1/namespaces/watch-ns/configmaps', { body: cm('w-b', {}) });
  await request(srv, 'DELETE', '/api/v1/namespaces/watch-ns/configmaps/w-b');

  const resumed = openWatch(srv, `/api/v1/namespaces/watch-ns/configmaps?watch=true&resourceVersion=${from}`);
  t.after(() => resumed.close());
  await resumed.waitFor((w) => w.events.length >= 3, 5000, '3 replayed events');
  assert.deepEqual(resumed.events.map((e) => [e.type, e.object.metadata.name]), [['MODIFIED', 'w-a'], ['ADDED', 'w-b'], ['DELETED', 'w-b']]);
  assert.equal(resumed.headers['content-type'], 'application/json');
  assert.equal(resumed.headers['transfer-encoding'], 'chunked');
  const rvs = resumed.events.map((e) => Number(e.object.metadata.resourceVersion));
  assert.ok(rvs[0] > Number(from) && rvs[1] > rvs[0] && rvs[2] > rvs[1]);
  assert.equal(resumed.events[0].object.kind, 'ConfigMap');

  const initial = openWatch(srv, '/api/v1/namespaces/watch-ns/configmaps?watch=1&fieldSelector=metadata.name%3Dw-a');
  t.after(() => initial.close());
  await initial.waitFor((w) => w.events.length >= 1, 5000, 'the initial ADDED');
  assert.equal(initial.events[0].type, 'ADDED');
  assert.equal(initial.events[0].object.data.v, '1');

  await request(srv, 'POST', '/api/v1/namespaces/watch-ns/configmaps', { body: cm('w-c', {}) });
  await request(srv, 'PATCH', '/api/v1/namespaces/watch-ns/configmaps/w-a', { body: { data: { v: '2' } }, contentType: 'application/merge-patch+json' });
  await resumed.waitFor((w) => w.events.some((e) => e.type === 'MODIFIED' && e.object.data?.v === '2'), 5000, 'live MODIFIED');
  await initial.waitFor((w) => w.events.some((e) => e.type === 'MODIFIED' && e.object.data?.v === '2'), 5000, 'live MODIFIED (filtered)');
  assert.ok(!initial.events.some((e) => e.object.metadata.name !== 'w-a'), 'fieldSelector leaked other objects');

  const timed = openWatch(srv, '/api/v1/namespaces/watch-ns/configmaps?watch=true&timeoutSeconds=1&resourceVersion=0');
  t.after(() => timed.close());
  const started = Date.now();
  await timed.waitFor((w) => w.ended, 4000, 'the server to end the watch');
  assert.ok(Date.now() - started >= 900);
});

test('watch: BOOKMARK events carry only the resourceVersion', async (t) => {
  const w = openWatch(srv, '/apis/coordination.k8s.io/v1/namespaces/default/leases?watch=true&allowWatchBookmarks=true&resourceVersion=0');
  t.after(() => w.close());
  const bm = await w.waitFor((x) => x.events.find((e) => e.type === 'BOOKMARK'), 3000, 'a BOOKMARK');
  assert.equal(bm.object.kind, 'Lease');
  assert.equal(bm.object.apiVersion, 'coordination.k8s.io/v1');
  assert.match(bm.object.metadata.resourceVersion, /^\d+$/);
  assert.deepEqual(Object.keys(bm.object.metadata).sort(), ['creationTimestamp', 'resourceVersion']);
  const plain = openWatch(srv, '/apis/coordination.k8s.io/v1/namespaces/default/leases?watch=true&resourceVersion=0');
  t.after(() => plain.close());
  await plain.response;
  await sleep(800);
  assert.ok(!plain.events.some((e) => e.type === 'BOOKMARK'), 'bookmarks were not requested');
});

test('watch: 410 Expired ERROR event after /compact', async (t) => {
  const c = await request(srv, 'POST', `${NS}/configmaps`, { body: cm('compacted', {}) });
  const old = c.json.metadata.resourceVersion;
  await request(srv, 'PATCH', `${NS}/configmaps/compacted`, { body: { data: { x: '1' } }, contentType: 'application/merge-patch+json' });
  const compact = await admin(srv, 'POST', '/compact');
  assert.equal(compact.status, 200);
  const w = openWatch(srv, `${NS}/configmaps?watch=true&resourceVersion=${old}`);
  t.after(() => w.close());
  await w.waitFor((x) => x.ended, 5000, 'the watch to end');
  assert.equal(w.status, 200);
  assert.equal(w.events.length, 1);
  assert.equal(w.events[0].type, 'ERROR');
  assert.equal(w.events[0].object.code, 410);
  assert.equal(w.events[0].object.reason, 'Expired');
  assert.equal(w.events[0].object.message, `too old resource version: ${old} (${compact.json.compactedResourceVersion})`);
  // The current revision can still be watched.
  const fresh = openWatch(srv, `${NS}/configmaps?watch=true&resourceVersion=${compact.json.compactedResourceVersion}`);
  t.after(() => fresh.close());
  await fresh.response;
  await request(srv, 'PATCH', `${NS}/configmaps/compacted`, { body: { data: { x: '2' } }, contentType: 'application/merge-patch+json' });
  await fresh.waitFor((x) => x.events.some((e) => e.type === 'MODIFIED'), 5000, 'MODIFIED after compaction');
});

test('admin: /watch/cut closes every watch mid-event', async (t) => {
  const w = openWatch(srv, `${NS}/configmaps?watch=true&resourceVersion=0`);
  t.after(() => w.close());
  await w.response;
  const open = await admin(srv, 'GET', '/watches');
  assert.ok(open.json.open >= 1);
  const cut = await admin(srv, 'POST', '/watch/cut');
  assert.ok(cut.json.cut >= 1);
  await w.waitFor((x) => x.error || x.ended, 5000, 'the stream to break');
  assert.equal(w.tail, '{"type":"MODIFIED","object":{"kind":', 'a partial JSON line was written before the cut');
  assert.ok(w.error, 'the stream must end abnormally, not cleanly');
  const after = await admin(srv, 'GET', '/watches');
  assert.equal(after.json.open, 0);
});

// ---- authentication and authorization -------------------------------------------------------------------

test('401 without a token or with an unknown token', async () => {
  const none = await request(srv, 'GET', `${NS}/configmaps`, { noAuth: true });
  assert.equal(none.status, 401);
  assert.deepEqual(none.json, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
  const bad = await request(srv, 'GET', '/version', { token: 'not-a-token' });
  assert.equal(bad.status, 401);
});

test('403 with the RBAC message; resourceNames apply to list/watch only through fieldSelector', async (t) => {
  const token = 'restricted-token';
  const user = 'system:serviceaccount:agency:controller';
  const add = await admin(srv, 'POST', '/tokens', {
    token, user,
    rules: [
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'patch'], resourceNames: ['state'], namespaces: ['agency'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'], namespaces: ['agency'] },
    ],
  });
  assert.equal(add.status, 201);
  assert.equal((await request(srv, 'POST', '/api/v1/namespaces/agency/configmaps', { body: cm('state', { a: '1' }) })).status, 201);
  assert.equal((await request(srv, 'POST', '/api/v1/namespaces/agency/configmaps', { body: cm('other', {}) })).status, 201);
  const as = { token };

  assert.equal((await request(srv, 'GET', '/api/v1/namespaces/agency/configmaps/state', as)).status, 200);
  const patch = await request(srv, 'PATCH', '/api/v1/namespaces/agency/configmaps/state', { ...as, body: { data: { a: '2' } }, contentType: 'application/merge-patch+json' });
  assert.equal(patch.status, 200);

  const del = await request(srv, 'DELETE', '/api/v1/namespaces/agency/configmaps/state', as);
  assert.equal(del.status, 403);
  assert.deepEqual(del.json, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
    message: `configmaps "state" is forbidden: User "${user}" cannot delete resource "configmaps" in API group "" in the namespace "agency"`,
    reason: 'Forbidden', details: { name: 'state', kind: 'configmaps' }, code: 403,
  });
  const other = await request(srv, 'GET', '/api/v1/namespaces/agency/configmaps/other', as);
  assert.equal(other.status, 403);
  assert.equal(other.json.message, `configmaps "other" is forbidden: User "${user}" cannot get resource "configmaps" in API group "" in the namespace "agency"`);
  const otherNs = await request(srv, 'GET', '/api/v1/namespaces/default/configmaps/state', as);
  assert.equal(otherNs.status, 403);

  const list = await request(srv, 'GET', '/api/v1/namespaces/agency/configmaps', as);
  assert.equal(list.status, 403);
  assert.equal(list.json.message, `configmaps is forbidden: User "${user}" cannot list resource "configmaps" in API group "" in the namespace "agency"`);
  assert.deepEqual(list.json.details, { kind: 'configmaps' });
  const named = await request(srv, 'GET', '/api/v1/namespaces/agency/configmaps?fieldSelector=metadata.name%3Dstate', as);
  assert.equal(named.status, 200);
  assert.deepEqual(named.json.items.map((i) => i.metadata.name), ['state']);
  const namedOther = await request(srv, 'GET', '/api/v1/namespaces/agency/configmaps?fieldSelector=metadata.name%3Dother', as);
  assert.equal(namedOther.status, 403);
  assert.match(namedOther.json.message, /^configmaps "other" is forbidden: User .* cannot list resource/);

  const w = openWatch(srv, '/api/v1/namespaces/agency/configmaps?watch=true&fieldSelector=metadata.name%3Dstate', { token });
  t.after(() => w.close());
  await w.waitFor((x) => x.events.length >= 1, 5000, 'the allowed watch');
  assert.equal(w.status, 200);
  const denied = await request(srv, 'GET', '/api/v1/namespaces/agency/configmaps?watch=true', as);
  assert.equal(denied.status, 403);
  assert.match(denied.json.message, /cannot watch resource "configmaps" in API group "" in the namespace "agency"$/);

  const lease = await request(srv, 'POST', '/apis/coordination.k8s.io/v1/namespaces/agency/leases', { ...as, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l' }, spec: {} } });
  assert.equal(lease.status, 201);
  const leaseDel = await request(srv, 'DELETE', '/apis/coordination.k8s.io/v1/namespaces/agency/leases/l', as);
  assert.equal(leaseDel.status, 403);
  assert.equal(leaseDel.json.message, `leases.coordination.k8s.io "l" is forbidden: User "${user}" cannot delete resource "leases" in API group "coordination.k8s.io" in the namespace "agency"`);
  const clusterList = await request(srv, 'GET', '/api/v1/configmaps', as);
  assert.equal(clusterList.status, 403);
  assert.match(clusterList.json.message, /cannot list resource "configmaps" in API group "" at the cluster scope$/);
});

test('token rotation through the admin API', async () => {
  const first = await admin(srv, 'POST', '/tokens', { token: 'rot-1', user: 'rotator', rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }] });
  assert.equal(first.status, 201);
  assert.equal((await request(srv, 'GET', `${NS}/configmaps`, { token: 'rot-1' })).status, 200);
  await admin(srv, 'POST', '/tokens', { token: 'rot-2', user: 'rotator', rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }] });
  const removed = await admin(srv, 'DELETE', '/tokens/rot-1');
  assert.equal(removed.json.deleted, true);
  assert.equal((await request(srv, 'GET', `${NS}/configmaps`, { token: 'rot-1' })).status, 401);
  assert.equal((await request(srv, 'GET', `${NS}/configmaps`, { token: 'rot-2' })).status, 200);
  assert.equal((await admin(srv, 'DELETE', '/tokens/rot-1')).status, 404);
});

test('--state-file defines tokens and rules at start-up', async (t) => {
  const dir = tempDir();
  const state = join(dir, 'rbac.json');
  writeFileSync(state, JSON.stringify({
    tokens: { 'reader-token': { user: 'system:serviceaccount:ns:reader', rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'], resourceNames: ['x'], namespaces: ['ns'] }] } },
    objects: [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'seeded', namespace: 'ns' }, status: { phase: 'Running' } }],
  }));
  const s2 = await startServer(['--state-file', state, '--insecure-http', '--namespace', 'ns']);
  t.after(() => stopServer(s2));
  assert.match(s2.url, /^http:\/\//);
  assert.equal(s2.caFile, null);
  const seeded = await request(s2, 'GET', '/api/v1/namespaces/ns/pods/seeded');
  assert.equal(seeded.json.status.phase, 'Running');
  assert.equal(await request(s2, 'GET', '/api/v1/namespaces/ns/pods/seeded', { noAuth: true }).then((r) => r.status), 200, 'plain http: no token = admin');
  await request(s2, 'POST', '/api/v1/namespaces/ns/configmaps', { body: cm('x', {}) });
  assert.equal((await request(s2, 'GET', '/api/v1/namespaces/ns/configmaps/x', { token: 'reader-token' })).status, 200);
  const p = await request(s2, 'PATCH', '/api/v1/namespaces/ns/configmaps/x', { token: 'reader-token', body: {}, contentType: 'application/merge-patch+json' });
  assert.equal(p.status, 403);
  assert.equal(p.json.message, 'configmaps "x" is forbidden: User "system:serviceaccount:ns:reader" cannot patch resource "configmaps" in API group "" in the namespace "ns"');
  if (HAVE_KUBECTL) {
    assert.match(readFileSync(s2.kubeconfig, 'utf8'), /server: "http:\/\/127\.0\.0\.1:\d+"/);
    assert.match(ok(kubectl(s2, ['get', 'cm', 'x', '-n', 'ns', '-o', 'name'])), /configmap\/x/);
  }
});

// ---- faults, request log, pause/resume ------------------------------------------------------------------

test('faults: 503 twice then OK, 429 with Retry-After; the request log records them', async () => {
  await request(srv, 'POST', `${NS}/configmaps`, { body: cm('faulty', {}) });
  assert.equal((await admin(srv, 'DELETE', '/requests')).status, 200);
  const f = await admin(srv, 'POST', '/faults', { match: { verb: 'get', resource: 'configmaps', name: 'faulty' }, count: 2, status: 503 });
  assert.equal(f.status, 201);
  const r1 = await request(srv, 'GET', `${NS}/configmaps/faulty`);
  const other = await request(srv, 'GET', `${NS}/configmaps/patchme`);
  const r2 = await request(srv, 'GET', `${NS}/configmaps/faulty`);
  const r3 = await request(srv, 'GET', `${NS}/configmaps/faulty`);
  assert.deepEqual([r1.status, other.status, r2.status, r3.status], [503, 200, 503, 200]);
  assert.equal(r1.json.kind, 'Status');
  assert.equal(r1.json.reason, 'ServiceUnavailable');

  await admin(srv, 'POST', '/faults', { match: { verb: 'patch' }, count: 1, status: 429, retryAfterSeconds: 2 });
  const throttled = await request(srv, 'PATCH', `${NS}/configmaps/faulty`, { body: {}, contentType: 'application/merge-patch+json' });
  assert.equal(throttled.status, 429);
  assert.equal(throttled.headers['retry-after'], '2');
  assert.equal(throttled.json.reason, 'TooManyRequests');
  assert.equal(throttled.json.details.retryAfterSeconds, 2);

  await admin(srv, 'POST', '/faults', { match: { verb: 'update', resource: 'configmaps' }, count: 1, status: 409 });
  const conflict = await request(srv, 'PUT', `${NS}/configmaps/faulty`, { body: cm('faulty', { a: '1' }) });
  assert.equal(conflict.status, 409);
  assert.equal(conflict.json.message, 'Operation cannot be fulfilled on configmaps "faulty": the object has been modified; please apply your changes to the latest version and try again');

  await admin(srv, 'POST', '/faults', { match: { resource: 'configmaps', name: 'faulty', verb: 'get' }, count: 1, delayMs: 400 });
  const t0 = Date.now();
  const slow = await request(srv, 'GET', `${NS}/configmaps/faulty`);
  assert.equal(slow.status, 200);
  assert.ok(Date.now() - t0 >= 380, 'the delay fault delays the answer');
  await admin(srv, 'POST', '/faults', { match: { pathPrefix: '/api/v1/namespaces/default/configmaps/faulty' }, count: 1, reset: true });
  await assert.rejects(request(srv, 'GET', `${NS}/configmaps/faulty`), /socket hang up|ECONNRESET/);

  const log = (await admin(srv, 'GET', '/requests')).json.requests;
  const gets = log.filter((e) => e.verb === 'get' && e.name === 'faulty');
  assert.deepEqual(gets.map((e) => e.status), [503, 503, 200, 200, 0]);
  assert.equal(gets[0].user, 'kubernetes-admin');
  assert.equal(gets[0].path, `${NS}/configmaps/faulty`);
  assert.equal((await admin(srv, 'GET', '/faults')).json.faults.length, 0);
});

test('faults: after=true carries the create out, then loses the answer; the retry meets AlreadyExists', async () => {
  const ev = { apiVersion: 'v1', kind: 'Event', metadata: { name: 'lost-answer.1' },
    involvedObject: { kind: 'ConfigMap', namespace: 'default', name: 'faulty' }, reason: 'R', message: 'm', type: 'Normal' };
  await admin(srv, 'POST', '/faults', { match: { verb: 'create', resource: 'events' }, count: 1, status: 503, after: true });
  const first = await request(srv, 'POST', `${NS}/events`, { body: ev });
  assert.equal(first.status, 503);
  assert.equal(first.json.reason, 'ServiceUnavailable');
  const again = await request(srv, 'POST', `${NS}/events`, { body: ev });
  assert.equal(again.status, 409);
  assert.equal(again.json.reason, 'AlreadyExists');
  assert.equal(again.json.message, 'events "lost-answer.1" already exists');
  assert.equal((await request(srv, 'GET', `${NS}/events/lost-answer.1`)).status, 200, 'the first create was stored');
  await admin(srv, 'POST', '/faults', { match: { verb: 'create', resource: 'events' }, count: 1, reset: true, after: true });
  await assert.rejects(request(srv, 'POST', `${NS}/events`, { body: { ...ev, metadata: { name: 'lost-answer.2' } } }),
    /socket hang up|ECONNRESET/);
  assert.equal((await request(srv, 'GET', `${NS}/events/lost-answer.2`)).status, 200, 'stored before the reset');
  assert.equal((await admin(srv, 'POST', '/faults', { match: {}, after: true, delayMs: 5 })).status, 400,
    'an after fault must replace the answer');
});

test('faults and RBAC: a denied request answers 403 before handler faults; 429 and resets still hit it', async () => {
  const token = 'faults-rbac-token';
  assert.equal((await admin(srv, 'POST', '/tokens', {
    token, user: 'system:serviceaccount:agency:gate',
    rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'], resourceNames: ['faulty'], namespaces: ['default'] }],
  })).status, 201);
  const as = { token };
  // A 503 rule for every configmap get: the denied get is answered by RBAC, and leaves the rule
  // for the next request that reaches the handler (the real filter chain authorizes first).
  await admin(srv, 'POST', '/faults', { match: { verb: 'get', resource: 'configmaps' }, count: 1, status: 503 });
  const denied = await request(srv, 'GET', `${NS}/configmaps/patchme`, as);
  assert.equal(denied.status, 403);
  assert.equal(denied.json.reason, 'Forbidden');
  const allowed = await request(srv, 'GET', `${NS}/configmaps/faulty`, as);
  assert.equal(allowed.status, 503, 'the handler fault hits the next authorized request');
  // Priority and fairness runs before authorization: a 429 answers a request RBAC would deny.
  await admin(srv, 'POST', '/faults', { match: { verb: 'get', resource: 'configmaps' }, count: 1, status: 429, retryAfterSeconds: 1 });
  assert.equal((await request(srv, 'GET', `${NS}/configmaps/patchme`, as)).status, 429);
  // A dropped connection is below HTTP: it hits any request.
  await admin(srv, 'POST', '/faults', { match: { verb: 'get', resource: 'configmaps' }, count: 1, reset: true });
  await assert.rejects(request(srv, 'GET', `${NS}/configmaps/patchme`, as), /socket hang up|ECONNRESET/);
  assert.equal((await admin(srv, 'GET', '/faults')).json.faults.length, 0);
});

function connectRefused(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(false); });
    s.on('error', (e) => resolve(e.code === 'ECONNREFUSED'));
  });
}

test('pause closes the listener and every connection; resume listens on the same port', async (t) => {
  const s3 = await startServer();
  t.after(() => stopServer(s3));
  const port = Number(new URL(s3.url).port);
  const w = openWatch(s3, `${NS}/configmaps?watch=true`);
  t.after(() => w.close());
  await w.response;
  const paused = await admin(s3, 'POST', '/pause');
  assert.equal(paused.json.mode, 'paused');
  await w.waitFor((x) => x.error || x.ended, 5000, 'the watch to be dropped');
  assert.equal(await connectRefused(port), true);
  if (HAVE_KUBECTL) assert.notEqual(kubectl(s3, ['get', 'cm', '--request-timeout=2s']).status, 0);
  const resumed = await admin(s3, 'POST', '/resume');
  assert.equal(resumed.json.mode, 'serving');
  assert.equal(resumed.json.port, port);
  assert.equal((await request(s3, 'GET', `${NS}/configmaps`)).status, 200);

  await admin(s3, 'POST', '/pause', { mode: 'hang' });
  const hung = await Promise.race([request(s3, 'GET', `${NS}/configmaps`).then(() => 'answered'), sleep(500).then(() => 'hung')]);
  assert.equal(hung, 'hung');
  await admin(s3, 'POST', '/resume');
  assert.equal((await request(s3, 'GET', `${NS}/configmaps`)).status, 200);
});

test('SIGTERM stops the server cleanly and removes its temp dir', async () => {
  const s4 = await startServer();
  assert.ok(existsSync(s4.caFile));
  const w = openWatch(s4, `${NS}/configmaps?watch=true`);
  await w.response;
  const code = await stopServer(s4);
  assert.equal(code, 0);
  assert.equal(existsSync(s4.caFile), false);
  await w.waitFor((x) => x.error || x.ended, 5000, 'the watch to close');
});

test('admin: objects can be injected (pods are not created through the API) and dumped', async () => {
  const put = await admin(srv, 'POST', '/objects', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-0', namespace: 'default', labels: { app: 'web' } },
    spec: { containers: [{ name: 'c', image: 'x' }] }, status: { phase: 'Running', containerStatuses: [{ name: 'c', ready: true, restartCount: 0 }] },
  });
  assert.equal(put.status, 200);
  const pods = await request(srv, 'GET', `${NS}/pods?labelSelector=app%3Dweb`);
  assert.deepEqual(pods.json.items.map((p) => p.metadata.name), ['web-0']);
  const create = await request(srv, 'POST', `${NS}/pods`, { body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } } });
  assert.equal(create.status, 405);
  assert.equal(create.json.reason, 'MethodNotAllowed');
  const dump = await admin(srv, 'GET', '/objects');
  assert.ok(dump.json.items.some((o) => o.kind === 'Pod' && o.metadata.name === 'web-0'));
  assert.match(dump.json.resourceVersion, /^\d+$/);
  if (HAVE_KUBECTL) assert.match(ok(kubectl(srv, ['get', 'pods'])), /^web-0\s+1\/1\s+Running\s+0\s+/m);
});

// ---- what real-fault drills need: pods of a StatefulSet, nodes, evictions and budgets, network policies

// Polls fn() (async) until it returns a truthy value.
async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const AG = '/api/v1/namespaces/agency';
const podReady = (p) => (p?.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

// A cluster of two Ready nodes and a StatefulSet "web" (2 replicas, app=web) in namespace agency.
async function startCluster(extra = []) {
  const dir = tempDir();
  const state = join(dir, 'cluster.json');
  const node = (name, labels) => ({
    apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } },
    status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.32.0' } },
  });
  writeFileSync(state, JSON.stringify({
    objects: [
      node('node-a', { zone: 'a' }), node('node-b', { zone: 'b' }),
      {
        apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'web', namespace: 'agency' },
        spec: {
          replicas: 2, serviceName: 'web', selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'agency-ha:test' }] } },
        },
      },
    ],
  }));
  return startServer(['--namespace', 'agency', '--state-file', state, '--pod-recreate-delay', '0.3', '--pod-ready-delay', '0.3', ...extra]);
}

const getPod = async (s, name) => (await request(s, 'GET', `${AG}/pods/${name}`)).json;

test('StatefulSet pods: seeded Ready on the nodes; kubectl get pods -l; delete returns the pod; recreated with a new uid, Ready later; watch sees it all', async (t) => {
  const s = await startCluster();
  t.after(() => stopServer(s));
  const list = await request(s, 'GET', `${AG}/pods?labelSelector=${encodeURIComponent('app=web')}`);
  assert.deepEqual(list.json.items.map((p) => [p.metadata.name, p.spec.nodeName, podReady(p)]), [['web-0', 'node-a', true], ['web-1', 'node-b', true]]);
  const sts = await request(s, 'GET', '/apis/apps/v1/namespaces/agency/statefulsets/web');
  assert.equal(sts.json.status.readyReplicas, 2);
  const old = await getPod(s, 'web-0');
  assert.deepEqual(old.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: sts.json.metadata.uid, controller: true, blockOwnerDeletion: true }]);
  assert.equal((await request(s, 'GET', `${AG}/pods?labelSelector=app%3Dother`)).json.items.length, 0);
  if (HAVE_KUBECTL) {
    assert.equal(ok(kubectl(s, ['-n', 'agency', 'get', 'pods', '-l', 'app=web', '-o', 'name'])), 'pod/web-0\npod/web-1\n');
    assert.match(ok(kubectl(s, ['-n', 'agency', 'get', 'sts'])), /^web\s+2\/2\s+/m);
  }

  const w = openWatch(s, `${AG}/pods?watch=1&fieldSelector=metadata.name%3Dweb-0&resourceVersion=${list.json.metadata.resourceVersion}`);
  const del = await request(s, 'DELETE', `${AG}/pods/web-0`);
  assert.equal(del.status, 200);
  // A bound pod is deleted gracefully (default grace period 30 s) and the DELETE answers with the pod.
  assert.equal(del.json.kind, 'Pod');
  assert.equal(del.json.metadata.uid, old.metadata.uid);
  assert.equal(del.json.metadata.deletionGracePeriodSeconds, 30);
  assert.ok(del.json.metadata.deletionTimestamp);
  await w.waitFor((x) => x.events.some((e) => e.type === 'MODIFIED' && podReady(e.object) && e.object.metadata.uid !== old.metadata.uid), 5000, 'the recreated pod Ready');
  w.close();
  const seq = w.events.map((e) => [e.type, e.object.metadata.uid === old.metadata.uid ? 'old' : 'new', podReady(e.object)]);
  assert.deepEqual(seq, [['MODIFIED', 'old', true], ['DELETED', 'old', true], ['ADDED', 'new', false], ['MODIFIED', 'new', true]]);
  assert.ok(w.events[0].object.metadata.deletionTimestamp);
  assert.equal(w.events[2].object.status.phase, 'Pending');
  assert.equal(w.events[3].object.status.phase, 'Running');

  // Unbound or grace period 0: gone at once, the DELETE answers with its last state.
  const web1 = await getPod(s, 'web-1');
  const now = await request(s, 'DELETE', `${AG}/pods/web-1?gracePeriodSeconds=0`);
  assert.equal(now.status, 200);
  assert.equal(now.json.metadata.uid, web1.metadata.uid);
  assert.equal(now.json.metadata.deletionTimestamp, undefined);
  const missing = await request(s, 'DELETE', `${AG}/pods/nope`);
  assert.equal(missing.status, 404);
  assert.equal(missing.json.message, 'pods "nope" not found');
  const back1 = await until(async () => { const p = await getPod(s, 'web-1'); return podReady(p) && p; }, 5000, 'web-1 back');
  assert.notEqual(back1.metadata.uid, web1.metadata.uid);

  if (HAVE_KUBECTL) {
    const before = await getPod(s, 'web-1');
    assert.match(ok(kubectl(s, ['-n', 'agency', 'delete', 'pod', 'web-1'])), /pod "web-1" deleted/);
    const after = await until(async () => { const p = await getPod(s, 'web-1'); return podReady(p) && p; }, 5000, 'web-1 recreated');
    assert.notEqual(after.metadata.uid, before.metadata.uid);
  }
});

test('pods: a patch changes metadata (labels) only; the status is kept and a spec change is the real 422', async (t) => {
  const s = await startCluster();
  t.after(() => stopServer(s));
  const before = await getPod(s, 'web-0');
  const merge = await request(s, 'PATCH', `${AG}/pods/web-0`, {
    body: { metadata: { labels: { 'agency-ha/drill-isolated': 'true' } }, status: { phase: 'Failed' } },
    contentType: 'application/merge-patch+json' });
  assert.equal(merge.status, 200);
  assert.equal(merge.json.metadata.labels['agency-ha/drill-isolated'], 'true');
  assert.equal(merge.json.metadata.labels.app, 'web');
  assert.equal(merge.json.metadata.uid, before.metadata.uid);
  assert.equal(merge.json.status.phase, 'Running', 'status is not patched through the pod itself');
  const sel = await request(s, 'GET', `${AG}/pods?labelSelector=${encodeURIComponent('agency-ha/drill-isolated')}`);
  assert.deepEqual(sel.json.items.map((p) => p.metadata.name), ['web-0']);
  const off = await request(s, 'PATCH', `${AG}/pods/web-0`, {
    body: { metadata: { labels: { 'agency-ha/drill-isolated': null } } }, contentType: 'application/merge-patch+json' });
  assert.equal(off.status, 200);
  assert.equal(off.json.metadata.labels['agency-ha/drill-isolated'], undefined);
  const spec = await request(s, 'PATCH', `${AG}/pods/web-0`, {
    body: { spec: { nodeName: 'node-b' } }, contentType: 'application/merge-patch+json' });
  assert.equal(spec.status, 422);
  assert.match(spec.json.message, /^Pod "web-0" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers\[\*\].image`/);
  assert.deepEqual(spec.json.details.causes.map((c) => [c.reason, c.field]), [['FieldValueForbidden', 'spec']]);
  if (HAVE_KUBECTL) {
    assert.match(ok(kubectl(s, ['-n', 'agency', 'label', 'pod', 'web-1', 'drill=x'])), /pod\/web-1 labeled/);
    assert.equal((await getPod(s, 'web-1')).metadata.labels.drill, 'x');
  }
});

test('nodes: list by label, kubectl cordon/uncordon patch spec.unschedulable; new pods avoid cordoned nodes', async (t) => {
  const s = await startCluster();
  t.after(() => stopServer(s));
  const zoneA = await request(s, 'GET', `/api/v1/nodes?labelSelector=${encodeURIComponent('zone=a')}`);
  assert.deepEqual(zoneA.json.items.map((n) => n.metadata.name), ['node-a']);
  const merge = await request(s, 'PATCH', '/api/v1/nodes/node-a', { body: { spec: { unschedulable: true } }, contentType: 'application/merge-patch+json' });
  assert.equal(merge.status, 200);
  assert.equal(merge.json.spec.unschedulable, true);
  const cordoned = await request(s, 'GET', '/api/v1/nodes?fieldSelector=spec.unschedulable%3Dtrue');
  assert.deepEqual(cordoned.json.items.map((n) => n.metadata.name), ['node-a']);
  const smp = await request(s, 'PATCH', '/api/v1/nodes/node-a', { body: { spec: { unschedulable: null } }, contentType: 'application/strategic-merge-patch+json' });
  assert.deepEqual(smp.json.spec, {});
  if (HAVE_KUBECTL) {
    assert.equal(ok(kubectl(s, ['get', 'nodes', '-l', 'zone=b', '-o', 'name'])), 'node/node-b\n');
    assert.match(ok(kubectl(s, ['cordon', 'node-a'])), /^node\/node-a cordoned$/m);
    assert.match(ok(kubectl(s, ['cordon', 'node-a'])), /^node\/node-a already cordoned$/m);
    assert.match(ok(kubectl(s, ['get', 'nodes'])), /^node-a\s+Ready,SchedulingDisabled\s+<none>\s+/m);
    assert.equal((await request(s, 'GET', '/api/v1/nodes/node-a')).json.spec.unschedulable, true);
    const patches = (await admin(s, 'GET', '/requests')).json.requests.filter((r) => r.verb === 'patch' && r.name === 'node-a');
    assert.equal(patches.at(-1).status, 200);
  } else {
    await request(s, 'PATCH', '/api/v1/nodes/node-a', { body: { spec: { unschedulable: true } }, contentType: 'application/strategic-merge-patch+json' });
  }
  // web-0 (on node-a) deleted: it comes back on node-b, the only schedulable node.
  await request(s, 'DELETE', `${AG}/pods/web-0?gracePeriodSeconds=0`);
  const back = await until(async () => { const p = await getPod(s, 'web-0'); return podReady(p) && p; }, 5000, 'web-0 back');
  assert.equal(back.spec.nodeName, 'node-b');
  // Both cordoned: a recreated pod stays Pending (unschedulable) until a node is uncordoned.
  await request(s, 'PATCH', '/api/v1/nodes/node-b', { body: { spec: { unschedulable: true } }, contentType: 'application/merge-patch+json' });
  await request(s, 'DELETE', `${AG}/pods/web-1?gracePeriodSeconds=0`);
  const pending = await until(async () => (await request(s, 'GET', `${AG}/pods/web-1`)).json?.status?.phase === 'Pending' && getPod(s, 'web-1'), 5000, 'web-1 Pending');
  assert.equal(pending.spec.nodeName, undefined);
  assert.deepEqual(pending.status.conditions.map((c) => [c.type, c.status, c.reason]), [['PodScheduled', 'False', 'Unschedulable']]);
  await sleep(700);
  assert.equal((await getPod(s, 'web-1')).status.phase, 'Pending');
  if (HAVE_KUBECTL) assert.match(ok(kubectl(s, ['uncordon', 'node-a'])), /^node\/node-a uncordoned$/m);
  else await request(s, 'PATCH', '/api/v1/nodes/node-a', { body: { spec: { unschedulable: null } }, contentType: 'application/strategic-merge-patch+json' });
  assert.equal((await request(s, 'GET', '/api/v1/nodes/node-a')).json.spec.unschedulable, undefined);
  const scheduled = await until(async () => { const p = await getPod(s, 'web-1'); return podReady(p) && p; }, 5000, 'web-1 scheduled');
  assert.equal(scheduled.spec.nodeName, 'node-a');
});

const EVICTION_BLOCKED = {
  kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
  message: "Cannot evict pod as it would violate the pod's disruption budget.", reason: 'TooManyRequests',
  details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget web needs 1 healthy pods and has 1 currently' }] },
  code: 429,
};

const evictionOf = (name) => ({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: 'agency' } });

test('evictions honour PodDisruptionBudgets: 201 Success, 429 with the real Status body, a code-500 Status with two budgets; PDB status', async (t) => {
  // An evicted pod is away for 2 s: the second eviction below meets the exhausted budget.
  const s = await startCluster(['--pod-recreate-delay', '2']);
  t.after(() => stopServer(s));
  // Without a budget an eviction is a (graceful) delete.
  const free = await request(s, 'POST', `${AG}/pods/web-1/eviction`, { body: evictionOf('web-1') });
  assert.equal(free.status, 201);
  assert.deepEqual(free.json, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
  await until(async () => podReady(await getPod(s, 'web-1')), 8000, 'web-1 back');

  const pdb = { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'web' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } } };
  const created = await request(s, 'POST', '/apis/policy/v1/namespaces/agency/poddisruptionbudgets', { body: pdb });
  assert.equal(created.status, 201);
  assert.equal(created.json.metadata.generation, 1);
  const PDB = '/apis/policy/v1/namespaces/agency/poddisruptionbudgets/web';
  const st = await until(async () => { const p = (await request(s, 'GET', PDB)).json; return p.status.observedGeneration === 1 && p.status; }, 5000, 'PDB status');
  assert.deepEqual({ ...st, conditions: st.conditions.map((c) => [c.type, c.status, c.reason]) }, {
    observedGeneration: 1, disruptionsAllowed: 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2,
    conditions: [['DisruptionAllowed', 'True', 'SufficientPods']],
  });
  if (HAVE_KUBECTL) assert.match(ok(kubectl(s, ['-n', 'agency', 'get', 'pdb'])), /^web\s+1\s+N\/A\s+1\s+/m);

  // A protobuf body (what typed clients may send): "k8s\0" + runtime.Unknown{typeMeta, raw Eviction}.
  const ld = (num, buf) => Buffer.concat([Buffer.from([(num << 3) | 2, buf.length]), buf]);
  const pb = (name) => Buffer.concat([Buffer.from('k8s\0', 'latin1'),
    ld(1, Buffer.concat([ld(1, Buffer.from('policy/v1')), ld(2, Buffer.from('Eviction'))])),
    ld(2, ld(1, ld(1, Buffer.from(name))))]);
  const proto = await request(s, 'POST', `${AG}/pods/nope/eviction`, { body: pb('nope').toString('latin1'), contentType: 'application/vnd.kubernetes.protobuf', headers: {} });
  assert.equal(proto.json?.message, 'pods "nope" not found', proto.text);
  const protoName = await request(s, 'POST', `${AG}/pods/web-0/eviction`, { body: pb('other').toString('latin1'), contentType: 'application/vnd.kubernetes.protobuf' });
  assert.equal(protoName.json.message, 'name in URL does not match name in Eviction object');
  const name = await request(s, 'POST', `${AG}/pods/web-0/eviction`, { body: evictionOf('web-1') });
  assert.equal(name.status, 400);
  assert.equal(name.json.message, 'name in URL does not match name in Eviction object');
  const first = await request(s, 'POST', `${AG}/pods/web-0/eviction`, { body: evictionOf('web-0') });
  assert.equal(first.status, 201);
  const second = await request(s, 'POST', `${AG}/pods/web-1/eviction`, { body: evictionOf('web-1') });
  assert.equal(second.status, 429);
  assert.deepEqual(second.json, EVICTION_BLOCKED);
  assert.equal(second.headers['retry-after'], undefined);
  const after = (await request(s, 'GET', PDB)).json.status;
  assert.equal(after.disruptionsAllowed, 0);
  assert.deepEqual(after.conditions.map((c) => [c.type, c.status, c.reason]), [['DisruptionAllowed', 'False', 'InsufficientPods']]);
  // web-0 comes back Ready: the budget allows one disruption again.
  await until(async () => (await request(s, 'GET', PDB)).json.status.disruptionsAllowed === 1, 8000, 'disruptionsAllowed back to 1');
  assert.equal((await request(s, 'GET', PDB)).json.status.disruptedPods, undefined);
  assert.equal((await request(s, 'POST', `${AG}/pods/nope/eviction`, { body: evictionOf('nope') })).json.message, 'pods "nope" not found');

  const extra = await request(s, 'POST', '/apis/policy/v1/namespaces/agency/poddisruptionbudgets', { body: { ...pdb, metadata: { name: 'web-extra' } } });
  assert.equal(extra.status, 201);
  const two = await request(s, 'POST', `${AG}/pods/web-1/eviction`, { body: evictionOf('web-1') });
  assert.equal(two.status, 201, 'the create handler keeps 201 for a returned (not thrown) Status');
  assert.deepEqual(two.json, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
    message: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.', code: 500,
  });
  const gone = await request(s, 'DELETE', '/apis/policy/v1/namespaces/agency/poddisruptionbudgets/web-extra');
  assert.equal(gone.json.status, 'Success');
  assert.equal(podReady(await getPod(s, 'web-1')), true, 'the refused evictions left web-1 alone');

  // maxUnavailable (a percentage): expectedPods from the StatefulSet's replicas, rounded up.
  await request(s, 'DELETE', PDB);
  await request(s, 'POST', '/apis/policy/v1/namespaces/agency/poddisruptionbudgets', { body: { ...pdb, metadata: { name: 'web-max' }, spec: { maxUnavailable: '50%', selector: { matchLabels: { app: 'web' } } } } });
  const MAX = '/apis/policy/v1/namespaces/agency/poddisruptionbudgets/web-max';
  const ms = await until(async () => { const p = (await request(s, 'GET', MAX)).json; return p.status.observedGeneration === 1 && p.status; }, 5000, 'web-max status');
  assert.deepEqual([ms.expectedPods, ms.desiredHealthy, ms.currentHealthy, ms.disruptionsAllowed], [2, 1, 2, 1]);
  // A matching pod without a controller is left out of the scale (but counts as healthy).
  await admin(s, 'POST', '/objects', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'loner', namespace: 'agency', labels: { app: 'web' } },
    spec: { nodeName: 'node-a' }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  });
  const unmanaged = await until(async () => { const p = (await request(s, 'GET', MAX)).json; return p.status.currentHealthy === 3 && p.status; }, 5000, 'loner counted');
  assert.deepEqual([unmanaged.expectedPods, unmanaged.desiredHealthy, unmanaged.disruptionsAllowed], [2, 1, 2]);
  // One whose controller does not exist: the scale is unknown, the budget fails safe.
  await admin(s, 'POST', '/objects', {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: 'orphan', namespace: 'agency', labels: { app: 'web' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'gone', uid: '00000000-0000-0000-0000-000000000001', controller: true }],
    },
    spec: { nodeName: 'node-a' }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  });
  const safe = await until(async () => { const p = (await request(s, 'GET', MAX)).json; return p.status.conditions[0].reason === 'SyncFailed' && p.status; }, 5000, 'SyncFailed');
  assert.equal(safe.disruptionsAllowed, 0);
  assert.equal(safe.conditions[0].message, 'found no controllers for pod "orphan"');
  assert.equal(safe.currentHealthy, 3, 'failSafe keeps the rest of the status');
  const blocked = await request(s, 'POST', `${AG}/pods/web-0/eviction`, { body: evictionOf('web-0') });
  assert.equal(blocked.status, 429);
  assert.equal(blocked.json.details.causes[0].message, 'The disruption budget web-max needs 1 healthy pods and has 3 currently');
});

kubectlTest('kubectl drain evicts through the budget, and fails with the budget\'s message when it is exhausted', async (t) => {
  const s = await startCluster();
  t.after(() => stopServer(s));
  const file = join(s.dir, 'pdb.yaml');
  writeFileSync(file, 'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: web\n  namespace: agency\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels:\n      app: web\n');
  assert.match(ok(kubectl(s, ['apply', '-f', file])), /poddisruptionbudget.policy\/web created/);
  await until(async () => (await request(s, 'GET', '/apis/policy/v1/namespaces/agency/poddisruptionbudgets/web')).json.status.disruptionsAllowed === 1, 5000, 'the budget');
  const web0 = await getPod(s, 'web-0');
  const drained = kubectl(s, ['drain', 'node-a', '--pod-selector', 'app=web', '--timeout', '20s']);
  assert.equal(drained.status, 0, drained.stderr);
  assert.match(drained.stdout, /^node\/node-a cordoned$/m);
  assert.match(drained.stdout, /^pod\/web-0 evicted$/m);
  assert.match(drained.stdout, /^node\/node-a drained$/m);
  const evictions = (await admin(s, 'GET', '/requests')).json.requests.filter((r) => r.path === `${AG}/pods/web-0/eviction`);
  assert.deepEqual(evictions.map((r) => [r.method, r.status, r.verb]), [['POST', 201, 'create']]);
  // web-0 is recreated on node-b (node-a is cordoned). Deleted again with readiness slowed to
  // 60 s, it comes back not Ready: the budget is exhausted, so draining node-b must fail with
  // the eviction's 429 message.
  const back = await until(async () => { const p = await getPod(s, 'web-0'); return p?.metadata?.uid !== web0.metadata.uid && p?.status?.phase === 'Running' && p; }, 5000, 'web-0 running');
  assert.equal(back.spec.nodeName, 'node-b');
  assert.deepEqual((await admin(s, 'POST', '/controllers', { podReadyDelay: 60 })).json, { podRecreateDelay: 0.3, podReadyDelay: 60, podTerminationDelay: 0 });
  await request(s, 'DELETE', '/api/v1/namespaces/agency/pods/web-0?gracePeriodSeconds=0');
  await until(async () => (await getPod(s, 'web-0'))?.metadata?.name, 5000, 'web-0 recreated (not Ready yet)');
  const blocked = kubectl(s, ['drain', 'node-b', '--pod-selector', 'app=web,statefulset.kubernetes.io/pod-name=web-1', '--timeout', '2s']);
  assert.notEqual(blocked.status, 0);
  assert.match(blocked.stderr, /error when evicting pods\/"web-1" -n "agency" \(will retry after 5s\): Cannot evict pod as it would violate the pod's disruption budget\./);
  assert.equal(podReady(await getPod(s, 'web-1')), true);
});

test('network policies: kubectl apply/get/delete, watch, defaults, 422 Invalid with causes', async (t) => {
  const s = await startCluster();
  t.after(() => stopServer(s));
  const NP = '/apis/networking.k8s.io/v1/namespaces/agency/networkpolicies';
  const list0 = await request(s, 'GET', NP);
  assert.equal(list0.json.kind, 'NetworkPolicyList');
  const w = openWatch(s, `${NP}?watch=1&resourceVersion=${list0.json.metadata.resourceVersion}`);
  const policy = {
    apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'isolate-web', namespace: 'agency' },
    spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 8080 }] }] },
  };
  if (HAVE_KUBECTL) {
    const file = join(s.dir, 'netpol.json');
    writeFileSync(file, JSON.stringify(policy));
    assert.match(ok(kubectl(s, ['apply', '-f', file])), /^networkpolicy.networking.k8s.io\/isolate-web created$/m);
    assert.match(ok(kubectl(s, ['-n', 'agency', 'get', 'networkpolicy'])), /^isolate-web\s+app=web\s+/m);
    policy.spec.egress = [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }];
    writeFileSync(file, JSON.stringify(policy));
    assert.match(ok(kubectl(s, ['apply', '-f', file])), /^networkpolicy.networking.k8s.io\/isolate-web configured$/m);
    const bad = join(s.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...policy, metadata: { name: 'bad', namespace: 'agency' }, spec: { podSelector: {}, ingress: [{ from: [{}] }] } }));
    const refused = kubectl(s, ['apply', '-f', bad]);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /The NetworkPolicy "bad" is invalid: spec.ingress\[0\].from\[0\]: Required value: must specify a peer/);
  } else {
    assert.equal((await request(s, 'POST', NP, { body: policy })).status, 201);
    policy.spec.egress = [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }];
    const cur = (await request(s, 'GET', `${NP}/isolate-web`)).json;
    assert.equal((await request(s, 'PUT', `${NP}/isolate-web`, { body: { ...policy, metadata: cur.metadata } })).status, 200);
  }
  const got = (await request(s, 'GET', `${NP}/isolate-web`)).json;
  // Defaults (pkg/apis/networking/v1/defaults.go): TCP ports; policyTypes from the rules present,
  // only when empty: the first apply stored ["Ingress"] and the second apply's patch leaves it
  // alone (as on a real cluster), a full PUT without policyTypes defaults it afresh.
  assert.deepEqual(got.spec.ingress[0].ports, [{ port: 8080, protocol: 'TCP' }]);
  assert.deepEqual(got.spec.policyTypes, HAVE_KUBECTL ? ['Ingress'] : ['Ingress', 'Egress']);
  assert.deepEqual(got.spec.egress, [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }]);
  assert.equal(got.metadata.generation, 2);

  const malformed = await request(s, 'POST', NP, {
    body: {
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'bad' },
      spec: { podSelector: {}, ingress: [{ ports: [{ protocol: 'ICMP', port: 70000 }], from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }], policyTypes: ['Sideways'] },
    },
  });
  assert.equal(malformed.status, 422);
  assert.deepEqual(malformed.json, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
    message: 'NetworkPolicy.networking.k8s.io "bad" is invalid: [spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP", spec.ingress[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive, spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer, spec.policyTypes[0]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"]',
    reason: 'Invalid',
    details: {
      name: 'bad', group: 'networking.k8s.io', kind: 'NetworkPolicy',
      causes: [
        { reason: 'FieldValueNotSupported', message: 'Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"', field: 'spec.ingress[0].ports[0].protocol' },
        { reason: 'FieldValueInvalid', message: 'Invalid value: 70000: must be between 1 and 65535, inclusive', field: 'spec.ingress[0].ports[0].port' },
        { reason: 'FieldValueForbidden', message: 'Forbidden: may not specify both ipBlock and another peer', field: 'spec.ingress[0].from[0]' },
        { reason: 'FieldValueNotSupported', message: 'Unsupported value: "Sideways": supported values: "Ingress", "Egress"', field: 'spec.policyTypes[0]' },
      ],
    },
    code: 422,
  });
  if (HAVE_KUBECTL) assert.match(ok(kubectl(s, ['-n', 'agency', 'delete', 'networkpolicy', 'isolate-web'])), /networkpolicy.networking.k8s.io "isolate-web" deleted/);
  else assert.equal((await request(s, 'DELETE', `${NP}/isolate-web`)).status, 200);
  await w.waitFor((x) => x.events.some((e) => e.type === 'DELETED'), 5000, 'DELETED');
  w.close();
  assert.deepEqual(w.events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'isolate-web'], ['MODIFIED', 'isolate-web'], ['DELETED', 'isolate-web']]);
  assert.equal((await request(s, 'GET', `${NP}/isolate-web`)).json.message, 'networkpolicies.networking.k8s.io "isolate-web" not found');
});

test('RBAC covers pods, pods/eviction (a subresource), nodes, budgets and network policies with the real message', async (t) => {
  const s = await startCluster();
  t.after(() => stopServer(s));
  const user = 'system:serviceaccount:agency:drill';
  await admin(s, 'POST', '/tokens', {
    token: 'drill', user,
    rules: [
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'create', 'delete'], namespaces: ['agency'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list'] },
    ],
  });
  const as = { token: 'drill' };
  assert.equal((await request(s, 'GET', `${AG}/pods/web-0`, as)).status, 200);
  // A rule on "pods" does not cover the eviction subresource, not even with verb create.
  const ev = await request(s, 'POST', `${AG}/pods/web-0/eviction`, { ...as, body: evictionOf('web-0') });
  assert.equal(ev.status, 403);
  assert.deepEqual(ev.json, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
    message: `pods "web-0" is forbidden: User "${user}" cannot create resource "pods/eviction" in API group "" in the namespace "agency"`,
    reason: 'Forbidden', details: { name: 'web-0', kind: 'pods' }, code: 403,
  });
  const cordon = await request(s, 'PATCH', '/api/v1/nodes/node-a', { ...as, body: { spec: { unschedulable: true } }, contentType: 'application/strategic-merge-patch+json' });
  assert.equal(cordon.status, 403);
  assert.equal(cordon.json.message, `nodes "node-a" is forbidden: User "${user}" cannot patch resource "nodes" in API group "" at the cluster scope`);
  const np = await request(s, 'GET', '/apis/networking.k8s.io/v1/namespaces/agency/networkpolicies', as);
  assert.equal(np.json.message, `networkpolicies.networking.k8s.io is forbidden: User "${user}" cannot list resource "networkpolicies" in API group "networking.k8s.io" in the namespace "agency"`);
  const pdb = await request(s, 'DELETE', '/apis/policy/v1/namespaces/agency/poddisruptionbudgets/web', as);
  assert.equal(pdb.json.message, `poddisruptionbudgets.policy "web" is forbidden: User "${user}" cannot delete resource "poddisruptionbudgets" in API group "policy" in the namespace "agency"`);
  if (HAVE_KUBECTL) {
    const kc = join(s.dir, 'drill.yaml');
    writeFileSync(kc, readFileSync(s.kubeconfig, 'utf8').replace(/token: .*/, 'token: "drill"'));
    // (kubectl cordon prints the error and still exits 0.)
    const r = kubectl({ ...s, kubeconfig: kc }, ['cordon', 'node-a']);
    assert.match(r.stderr, /nodes "node-a" is forbidden: User "system:serviceaccount:agency:drill" cannot patch resource "nodes" in API group "" at the cluster scope/);
  }
  await admin(s, 'POST', '/tokens', {
    token: 'drill', user,
    rules: [{ apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'], namespaces: ['agency'] }],
  });
  const allowed = await request(s, 'POST', `${AG}/pods/web-0/eviction`, { ...as, body: evictionOf('web-0') });
  assert.equal(allowed.status, 201);
  assert.equal((await request(s, 'GET', `${AG}/pods/web-0`, as)).status, 403, 'pods/eviction does not grant get on pods');
});

// Shared helpers for the black-box system tests: the real binary, real loopback servers.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import http from 'node:http';
import net from 'node:net';

export const BIN = process.env.AHA_BINARY;
if (!BIN) throw new Error('AHA_BINARY must point at the agency-ha binary');

export function tempDir(t) {
  const dir = mkdtempSync(join(tmpdir(), 'aha-sys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function run(args, opts = {}) {
  return spawnSync(BIN, args, { encoding: 'utf8', timeout: 30000, ...opts });
}

// A region endpoint that can be taken down (listener closed: connection refused) and brought
// back on the same port, or switched to answering 503.
export class Endpoint {
  constructor() {
    this.status = 200;
    this.server = null;
    this.port = 0;
  }
  async up() {
    this.server = http.createServer((req, res) => {
      res.writeHead(this.status, { 'content-type': 'text/plain' });
      res.end(this.status === 200 ? 'ok\n' : 'unhealthy\n');
    });
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    return this;
  }
  async down() {
    if (!this.server) return;
    const s = this.server;
    this.server = null;
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  get url() {
    return `http://127.0.0.1:${this.port}/health`;
  }
}

// Starts `agency-ha controller`; resolves once it logged its start line (with the HTTP port).
export function startController(t, configPath, env = {}) {
  return startRole(t, ['controller', '--config', configPath], 'controller starting', env);
}

export function readKey(stateDir, key) {
  const p = join(stateDir, key);
  return existsSync(p) ? readFileSync(p, 'utf8') : null;
}

export function regionList(stateDir, key) {
  const v = readKey(stateDir, key);
  return v === null ? null : v.split('\n').filter((l) => l.length > 0);
}

export async function waitFor(what, pred, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function writeConfig(dir, cfg) {
  const path = join(dir, 'controller.yaml');
  writeFileSync(path, cfg);
  return path;
}

export async function get(port, path) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

// Like run(), without blocking the event loop (needed when the child talks to servers that live
// in this test process).
export function runAsync(args) {
  return new Promise((resolve) => {
    const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

// Starts `agency-ha ARGS...` as a long-running role; resolves once it logged `startMsg` (the
// parsed JSON line is returned as `start`). stderr lines are collected in `lines`; `exited`
// resolves with the exit code.
export async function startRole(t, args, startMsg, env = {}) {
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const lines = [];
  let buf = '';
  const start = await new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let j;
        try { j = JSON.parse(line); } catch { j = { raw: line }; }
        lines.push(j);
        if (j.msg === startMsg) resolve(j);
      }
    });
    child.once('exit', (c) => reject(new Error(`${args[0]} exited ${c}: ${buf}`)));
  });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, start, port: start.port, exited };
}

// A free loopback port (for configs that must name their port up front).
export async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

// Starts `agency-ha gate` for `region` with the given state section (YAML flow text) on a fixed
// free port, so that `gate check --config` (reading the same file) finds it.
export async function startGate(t, dir, region, stateYaml, extraYaml = '') {
  const port = await freePort();
  const cfg = join(dir, `gate-${region}.yaml`);
  writeFileSync(cfg, `region: ${region}\nlisten: "127.0.0.1:${port}"\nstate: ${stateYaml}\n${extraYaml}`);
  const g = await startRole(t, ['gate', '--config', cfg], 'gate starting');
  return { ...g, cfg, url: `http://127.0.0.1:${port}/health` };
}

// Starts the Kubernetes API test server (tests/kube-apiserver); resolves with its ready line plus
// an admin() helper for its fault/inspection API. Like a real cluster it has only the default
// namespaces: pass ['--namespace', 'agency'] for the ones a test writes into.
export async function startKubeServer(t, dir, args = []) {
  const server = new URL('../kube-apiserver/server.mjs', import.meta.url).pathname;
  const kubeconfig = join(dir, 'kubeconfig.yaml');
  const child = spawn(process.execPath, [server, '--kubeconfig', kubeconfig, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => { if (child.exitCode === null) child.kill('SIGTERM'); });
  const ready = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) resolve(JSON.parse(buf.slice(0, i)));
    });
    child.once('exit', (c) => reject(new Error(`kube test server exited ${c}`)));
  });
  const admin = async (method, path, body) => {
    const res = await fetch(`${ready.adminUrl}${path}`, {
      method, headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return res.json();
  };
  return { ...ready, child, admin };
}

// ---- network namespaces (quorum_netns, fencing_netns) ---------------------------------------

// Runs `cmd args`: its stdout, or an error naming the command, its exit code and stderr.
export function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20000 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}
export const ip = (...args) => sh('ip', args);
// spawnSync's result; never throws (probes and cleanup).
export const quiet = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8', timeout: 20000 });

// Why network namespaces cannot be used here, or null when they can. `tools`: the iproute2
// commands the test needs; `prefix`: of the probe namespace's name; `probe(ns)`: a further check
// run in the probe namespace (which has a veth pair v0/v1), returning why it failed or null.
export function netnsUnavailable({ tools = ['ip'], prefix = 'nprobe', probe = null } = {}) {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid && process.getuid() !== 0) return 'creating network namespaces needs root';
  for (const tool of tools) {
    const r = spawnSync(tool, ['-V'], { encoding: 'utf8' });
    if (r.error) return `${tool} (iproute2) is not installed`;
  }
  const name = `${prefix}${randomBytes(3).toString('hex')}`;
  const r = quiet('ip', ['netns', 'add', name]);
  if (r.status !== 0) return `cannot create a network namespace: ${r.stderr.trim()}`;
  const v = quiet('ip', ['-n', name, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
  const failed = v.status === 0 && probe ? probe(name) : null;
  quiet('ip', ['netns', 'del', name]);
  if (v.status !== 0) return `cannot create veth pairs: ${v.stderr.trim()}`;
  return failed;
}

// Every NetnsWorld not yet destroyed.
const liveWorlds = new Set();
// Call once at a netns test's top level: whatever is still alive at exit (a failed assertion, a
// timeout, Ctrl-C) is removed.
export function destroyWorldsAtExit() {
  const all = () => { for (const w of liveWorlds) w.destroy(); };
  process.on('exit', all);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => { all(); process.exit(130); });
  }
}

// The namespaces, processes and host link one scenario owns (names end in a random suffix, so
// scenarios run concurrently): a hub namespace `hub` with bridge br0, namespaces attached to it
// by veth pairs, and the test process's own veth into it. destroy() runs after the test (and at
// exit, see destroyWorldsAtExit): it kills the processes and deletes every namespace and link.
export class NetnsWorld {
  constructor(t) {
    this.sfx = randomBytes(3).toString('hex');
    this.namespaces = [];
    this.procs = [];
    liveWorlds.add(this);
    t.after(() => this.destroy());
  }
  addNs(name) {
    ip('netns', 'add', name);
    this.namespaces.push(name);
    ip('-n', name, 'link', 'set', 'lo', 'up');
  }
  // The namespace this.hub with the bridge br0.
  addHub() {
    this.addNs(this.hub);
    ip('-n', this.hub, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', this.hub, 'link', 'set', 'br0', 'up');
  }
  // ns's eth0 with addr/24, on the hub's bridge through the veth hubLink.
  attach(ns, hubLink, addr) {
    ip('-n', this.hub, 'link', 'add', hubLink, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('-n', this.hub, 'link', 'set', hubLink, 'master', 'br0', 'up');
    ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
  }
  // The test process's own way into the hub: hostLink here with addr/24, h<suffix> on br0.
  addHostLink(hostLink, addr) {
    this.hostLink = hostLink;
    ip('link', 'add', hostLink, 'type', 'veth', 'peer', 'name', `h${this.sfx}`, 'netns', this.hub);
    ip('-n', this.hub, 'link', 'set', `h${this.sfx}`, 'master', 'br0', 'up');
    ip('addr', 'add', `${addr}/24`, 'dev', hostLink);
    ip('link', 'set', hostLink, 'up');
  }
  destroy() {
    if (!liveWorlds.has(this)) return;
    liveWorlds.delete(this);
    for (const p of this.procs) {
      if (p.exitCode === null && p.signalCode === null) {
        try { p.kill('SIGKILL'); } catch { /* gone */ }
      }
    }
    for (const ns of this.namespaces.reverse()) quiet('ip', ['netns', 'del', ns]);
    if (this.hostLink) quiet('ip', ['link', 'del', this.hostLink]);
  }
}

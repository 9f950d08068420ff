// Shared helpers for the black-box system tests: the real binary, real loopback servers.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

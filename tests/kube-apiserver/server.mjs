#!/usr/bin/env node
// A faithful Kubernetes API test server for the subset agency-ha uses (see README.md).
//
//   node tests/kube-apiserver/server.mjs --kubeconfig OUT.yaml [--port 0] [--host 127.0.0.1]
//        [--admin-port 0] [--state-file rbac.json] [--insecure-http] [--token TOKEN]
//        [--bookmark-interval SECONDS] [--history N] [--namespace NS]... [--auto-create-namespaces]
//        [--http1-only] [--pod-recreate-delay S] [--pod-ready-delay S] [--pod-termination-delay S]
//
// Prints one JSON line on stdout when ready; SIGTERM/SIGINT stop it and remove its temp dir.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Api, sendError } from './lib/api.mjs';
import { adminHandler, Faults, putObject, RequestLog } from './lib/admin.mjs';
import { ADMIN_RULES, Auth } from './lib/auth.mjs';
import { RESOURCES, systemObject } from './lib/resources.mjs';
import { Store } from './lib/store.mjs';
import { Controllers } from './lib/controllers.mjs';

let args;
try {
  ({ values: args } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'admin-port': { type: 'string', default: '0' },
    'state-file': { type: 'string' },
    'insecure-http': { type: 'boolean', default: false },
    token: { type: 'string' },
    'bookmark-interval': { type: 'string', default: '1' },
    history: { type: 'string', default: '10000' },
    namespace: { type: 'string', multiple: true, default: [] },
    'auto-create-namespaces': { type: 'boolean', default: false },
    'http1-only': { type: 'boolean', default: false },
    'pod-recreate-delay': { type: 'string', default: '1' },
    'pod-ready-delay': { type: 'string', default: '1' },
    'pod-termination-delay': { type: 'string', default: '0' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
  }));
} catch (e) {
  process.stderr.write(`kube-apiserver-test: ${e.message}\n`);
  process.exit(2);
}

if (args.help) {
  process.stdout.write(readFileSync(new URL(import.meta.url)).toString().split('\n').filter((l) => l.startsWith('//')).join('\n') + '\n');
  process.exit(0);
}

function fail(msg) {
  process.stderr.write(`kube-apiserver-test: ${msg}\n`);
  process.exit(2);
}

const tmp = mkdtempSync(join(tmpdir(), 'kube-apiserver-test-'));
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', cleanup);

// ---- TLS material (Debian's openssl CLI, never through a shell) ----------------------------------------

function makeCerts(dir) {
  const run = (argv) => execFileSync('openssl', argv, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  writeFileSync(join(dir, 'server.ext'), [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '',
  ].join('\n'));
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key',
    '-out', 'ca.crt', '-days', '2', '-subj', '/CN=kube-apiserver-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key',
    '-out', 'server.csr', '-subj', '/CN=kube-apiserver']);
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt',
    '-days', '2', '-extfile', 'server.ext']);
  return {
    caFile: join(dir, 'ca.crt'),
    ca: readFileSync(join(dir, 'ca.crt')),
    cert: readFileSync(join(dir, 'server.crt')),
    key: readFileSync(join(dir, 'server.key')),
  };
}

// ---- a listener that can be paused (closed, or accepting but never answering) and resumed on the same port

class Listener {
  constructor(factory, host, port) {
    this.factory = factory;
    this.host = host;
    this.port = port;
    this.server = null;
    this.sockets = new Set();
    this.mode = 'stopped';
    this.parked = new Set();
    this.cutConnections = 0;
  }

  async start() {
    const server = this.factory();
    const track = (s) => {
      if (this.cutConnections > 0) {
        // A server restarting under the client: the TCP connection is accepted and closed before
        // any byte (over TLS: the handshake is cut; over plain HTTP: the request gets no answer).
        this.cutConnections--;
        s.destroy();
        return;
      }
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    };
    server.on('connection', track);
    server.on('clientError', (err, socket) => socket.destroy());
    await new Promise((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolveListen();
      });
    });
    this.port = server.address().port;
    this.server = server;
    this.mode = 'serving';
  }

  destroyAll() {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.parked.clear();
  }

  async stop() {
    if (this.server) {
      const s = this.server;
      this.server = null;
      const closed = new Promise((r) => s.close(() => r()));
      this.destroyAll();
      await closed;
    }
    this.mode = 'stopped';
  }

  async pause(mode) {
    if (mode !== 'refuse' && mode !== 'hang') throw new Error('mode must be "refuse" or "hang"');
    if (this.mode !== 'serving') await this.resume();
    if (mode === 'refuse') {
      await this.stop();
      this.mode = 'paused';
    } else {
      this.destroyAll();
      this.mode = 'hanging';
    }
  }

  async resume() {
    if (this.mode === 'hanging') {
      this.destroyAll();
      this.mode = 'serving';
    } else if (this.mode !== 'serving') {
      await this.start();
    }
  }

  // Called by the request handler: true when the request must be left unanswered.
  park(req) {
    if (this.mode !== 'hanging') return false;
    this.parked.add(req.socket);
    return true;
  }

  state() {
    return { mode: this.mode, port: this.port, openConnections: this.sockets.size };
  }
}

// ---- wiring ------------------------------------------------------------------------------------------------------

const bookmarkSeconds = Number(args['bookmark-interval']);
if (!Number.isFinite(bookmarkSeconds) || bookmarkSeconds < 0) fail('--bookmark-interval must be a number of seconds >= 0');
const historyLimit = Number(args.history);
if (!Number.isInteger(historyLimit) || historyLimit < 1) fail('--history must be a positive integer');

const delays = {};
for (const [opt, key] of [['pod-recreate-delay', 'recreateDelayMs'], ['pod-ready-delay', 'readyDelayMs'], ['pod-termination-delay', 'terminationDelayMs']]) {
  const v = Number(args[opt]);
  if (!Number.isFinite(v) || v < 0) fail(`--${opt} must be a number of seconds >= 0`);
  delays[key] = v * 1000;
}

const store = new Store({ historyLimit });
const auth = new Auth({ unsecured: args['insecure-http'] });
const faults = new Faults();
const requestLog = new RequestLog();
const adminToken = args.token ?? randomBytes(24).toString('hex');
auth.set(adminToken, { user: 'kubernetes-admin', groups: ['system:masters'], rules: ADMIN_RULES });

const nsResource = RESOURCES.find((x) => x.resource === 'namespaces');
for (const ns of new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease', ...args.namespace])) {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns) || ns.length > 63) fail(`--namespace ${ns}: not a DNS-1123 label`);
  store.commit('ADDED', 'namespaces', systemObject(nsResource, { metadata: { name: ns } }));
}

if (args['state-file']) {
  let state;
  try {
    state = JSON.parse(readFileSync(args['state-file'], 'utf8'));
  } catch (e) {
    fail(`--state-file: ${e.message}`);
  }
  try {
    for (const [token, v] of Object.entries(state.tokens ?? {})) auth.set(token, v);
  } catch (e) {
    fail(`--state-file tokens: ${e.message}`);
  }
  try {
    for (const o of state.objects ?? []) putObject(store, o);
  } catch (e) {
    fail(`--state-file objects: ${e.message}`);
  }
}

const settings = {
  ...delays,
  bookmarkIntervalMs: bookmarkSeconds * 1000,
  autoCreateNamespaces: args['auto-create-namespaces'],
  hostPort: '',
};
// The emulated StatefulSet, scheduler, kubelet and disruption controllers; started after seeding
// so seeded StatefulSets get their pods (Running and Ready at once).
const controllers = new Controllers({ store, settings });
controllers.start();
const api = new Api({ store, auth, faults, requestLog, settings, controllers });

let listener;
const onRequest = (req, res) => {
  if (listener.park(req)) return;
  api.handle(req, res).catch((e) => sendError(res, e));
};
const tls = args['insecure-http'] ? null : makeCerts(tmp);
// Like kube-apiserver (Go's net/http with TLS), HTTPS offers HTTP/2 by ALPN ("h2", then
// "http/1.1"): clients with HTTP/2 support (kubectl, libcurl with nghttp2) use it. --http1-only
// offers "http/1.1" only, like a server (or proxy) without HTTP/2.
const factory = !tls
  ? () => http.createServer({ keepAliveTimeout: 60000 }, onRequest)
  : args['http1-only']
    ? () => https.createServer({ cert: tls.cert, key: tls.key, keepAliveTimeout: 60000, ALPNProtocols: ['http/1.1'] }, onRequest)
    : () => http2.createSecureServer({ cert: tls.cert, key: tls.key, allowHTTP1: true }, onRequest);
listener = new Listener(factory, args.host, Number(args.port));
try {
  await listener.start();
} catch (e) {
  fail(`cannot listen on ${args.host}:${args.port}: ${e.message}`);
}
const hostForUrl = args.host.includes(':') ? `[${args.host}]` : args.host;
settings.hostPort = `${hostForUrl}:${listener.port}`;
const url = `${tls ? 'https' : 'http'}://${hostForUrl}:${listener.port}`;

const adminListener = new Listener(() => http.createServer(adminHandler({ store, auth, faults, requestLog, api, listener })), '127.0.0.1', Number(args['admin-port']));
await adminListener.start();
const adminUrl = `http://127.0.0.1:${adminListener.port}`;

let kubeconfigPath;
if (args.kubeconfig) {
  kubeconfigPath = resolve(args.kubeconfig);
  const q = (s) => JSON.stringify(s);
  const cluster = tls
    ? `    server: ${q(url)}\n    certificate-authority-data: ${q(tls.ca.toString('base64'))}\n`
    : `    server: ${q(url)}\n`;
  writeFileSync(kubeconfigPath, [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: kube-apiserver-test',
    '  cluster:',
    cluster.trimEnd(),
    'users:',
    '- name: kubernetes-admin',
    '  user:',
    `    token: ${q(adminToken)}`,
    'contexts:',
    '- name: kube-apiserver-test',
    '  context:',
    '    cluster: kube-apiserver-test',
    '    user: kubernetes-admin',
    '    namespace: default',
    'current-context: kube-apiserver-test',
    'preferences: {}',
    '',
  ].join('\n'), { mode: 0o600 });
}

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  await Promise.race([
    Promise.all([listener.stop(), adminListener.stop()]),
    new Promise((r) => setTimeout(r, 2000)),
  ]);
  cleanup();
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

process.stdout.write(`${JSON.stringify({
  ready: true, url, kubeconfig: kubeconfigPath ?? null, adminUrl, token: adminToken, caFile: tls ? tls.caFile : null,
})}\n`);

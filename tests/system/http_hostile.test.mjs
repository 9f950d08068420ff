// Hostile input against the binary's HTTP servers (issue 13): DNS rebinding, bearer scheme case,
// unbounded and chunked bodies, slow-loris connections, initialize floods. Raw sockets are used
// where a well-behaved client library would hide the attack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { startController, startGate, startRole, tempDir, writeConfig } from './helpers.mjs';

const THREE = `  - {name: us-east-1, endpoint: "http://127.0.0.1:9/health"}
  - {name: eu-west-1, endpoint: "http://127.0.0.1:9/health"}
  - {name: ap-southeast-1, active: false, endpoint: "http://127.0.0.1:9/health"}`;

function mcpConfig(dir, mcp = '') {
  const path = join(dir, 'mcp.yaml');
  writeFileSync(path, `regions:\n${THREE}\nstate: {file: "${join(dir, 'state')}"}\n` +
    `mcp: {minDurationSeconds: 1, maxDurationSeconds: 600, defaultDurationSeconds: 60, ` +
    `auditLog: "${join(dir, 'audit.jsonl')}"${mcp}}\n`);
  return path;
}

async function startMcp(t, dir, mcp = '') {
  const s = await startRole(t, ['mcp', '--config', mcpConfig(dir, mcp), '--http', '127.0.0.1:0'],
    'mcp server starting');
  return { ...s, url: `http://127.0.0.1:${s.port}/mcp` };
}

const H = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } });

// One request on a fresh socket with verbatim headers (fetch would replace Host). Resolves with
// {status, headers (lower-case names), body}.
function rawRequest(port, head, body = '') {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    sock.setEncoding('latin1');
    sock.on('data', (d) => { data += d; });
    sock.on('error', reject);
    sock.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(data);
      if (!m) return reject(new Error(`no HTTP response: ${JSON.stringify(data.slice(0, 200))}`));
      const headers = {};
      for (const l of m[2].split('\r\n')) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(m[1]), headers, body: m[3] });
    });
    sock.write(`${head.replace(/\n/g, '\r\n')}\r\nConnection: close\r\n\r\n${body}`);
  });
}

function mcpPost(port, host, body, extra = '') {
  return rawRequest(port, `POST /mcp HTTP/1.1\nHost: ${host}\nContent-Type: application/json\n` +
    `Accept: application/json, text/event-stream\nContent-Length: ${Buffer.byteLength(body)}${extra}`, body);
}

test('MCP refuses a rebinding Host that merely starts with 127. and creates no session', async (t) => {
  const srv = await startMcp(t, tempDir(t));
  const p = srv.port;
  for (const host of [`127.evil.example:${p}`, `localhost.evil:${p}`, `127.0.0.1.evil.example:${p}`,
    `127.1:${p}`, `127.0.0.1:${p}:x`]) {
    // The same Origin as the Host: what a rebinding page sends.
    const r = await mcpPost(p, host, INIT, `\nOrigin: http://${host}`);
    assert.equal(r.status, 403, `Host ${host}`);
    assert.equal(r.headers['mcp-session-id'], undefined, `no session for Host ${host}`);
  }
  for (const host of [`127.0.0.1:${p}`, `127.1.2.3:${p}`, `localhost:${p}`, `[::1]:${p}`]) {
    const r = await mcpPost(p, host, INIT);
    assert.equal(r.status, 200, `Host ${host}`);
    assert.match(r.headers['mcp-session-id'], /^[0-9a-f]{32}$/);
  }
});

test('MCP --http: a 127.-prefixed DNS name is not loopback, so it needs a token', async (t) => {
  const { run } = await import('./helpers.mjs');
  const dir = tempDir(t);
  const r = run(['mcp', '--config', mcpConfig(dir), '--check', '--http', '127.evil.example:0']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /non-loopback/);
});

test('MCP accepts the bearer scheme in any case (RFC 7235), and only the right token', async (t) => {
  const dir = tempDir(t);
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 's3cret-token\n');
  const srv = await startMcp(t, dir, `, httpTokenFile: "${tokenFile}"`);
  const host = `127.0.0.1:${srv.port}`;
  for (const auth of ['bearer s3cret-token', 'BEARER s3cret-token', 'Bearer s3cret-token']) {
    const r = await mcpPost(srv.port, host, INIT, `\nAuthorization: ${auth}`);
    assert.equal(r.status, 200, auth);
  }
  for (const auth of ['bearer s3cret-tokem', 'Basic s3cret-token', 'bearers3cret-token']) {
    const r = await mcpPost(srv.port, host, INIT, `\nAuthorization: ${auth}`);
    assert.equal(r.status, 401, auth);
  }
});

// VmRSS / VmHWM (peak RSS) of a process, in KiB.
function memKiB(pid) {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(st)[1]);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

// Sends a request head and then a chunked body of up to `totalBytes` (1 MiB chunks, with
// backpressure) until the server answers or closes. Resolves with the status (0: no answer) and
// how many body bytes had been written when the answer came.
function chunkedFlood(port, head, totalBytes) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunk = Buffer.concat([Buffer.from('100000\r\n'), Buffer.alloc(1 << 20, 97), Buffer.from('\r\n')]);
    let sent = 0;
    let answer = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      sock.destroy();
      resolve({ status: m ? Number(m[1]) : 0, sentWhenAnswered: sent });
    };
    sock.on('data', (d) => { answer += d.toString('latin1'); if (answer.includes('\r\n\r\n')) finish(); });
    sock.on('error', finish);
    sock.on('close', finish);
    sock.on('connect', async () => {
      sock.write(`${head.replace(/\n/g, '\r\n')}\r\nTransfer-Encoding: chunked\r\n\r\n`);
      while (!done && sent < totalBytes) {
        sent += chunk.length;
        if (!sock.write(chunk)) await new Promise((r) => { sock.once('drain', r); sock.once('close', r); });
      }
    });
  });
}

const MiB = 1 << 20;

test('gate: 4 parallel 300 MB chunked POSTs to /ready get 413 unread; peak RSS grows < 32 MiB', async (t) => {
  const dir = tempDir(t);
  const g = await startGate(t, dir, 'us-east-1', `{file: "${join(dir, 'state')}"}`);
  const before = memKiB(g.child.pid);
  const head = `POST /ready HTTP/1.1\nHost: 127.0.0.1:${g.port}`;
  const floods = await Promise.all([0, 1, 2, 3].map(() => chunkedFlood(g.port, head, 300 * MiB)));
  for (const f of floods) assert.equal(f.status, 413, JSON.stringify(f));
  // A GET with a body is refused the same way.
  const get = await chunkedFlood(g.port, `GET /ready HTTP/1.1\nHost: 127.0.0.1:${g.port}`, 300 * MiB);
  assert.equal(get.status, 413);
  const after = memKiB(g.child.pid);
  // Buffering even one of those bodies would add 300 MiB; the bound leaves room for allocator
  // noise (and the sanitizer build's own bookkeeping).
  assert.ok(after.hwm - before.hwm < 32 * 1024, `peak RSS grew from ${before.hwm} to ${after.hwm} KiB`);
  assert.equal(g.child.exitCode, null, 'gate still running');
  assert.equal((await fetch(`http://127.0.0.1:${g.port}/healthz`)).status, 200);
});

test('MCP: chunked bodies are bounded (413), and unauthenticated ones are refused (401) unread', async (t) => {
  const dir = tempDir(t);
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 's3cret-token\n');
  const srv = await startMcp(t, dir, `, httpTokenFile: "${tokenFile}"`);
  const before = memKiB(srv.child.pid);
  const head = `POST /mcp HTTP/1.1\nHost: 127.0.0.1:${srv.port}\nContent-Type: application/json\n` +
    'Accept: application/json, text/event-stream';
  const unauth = await Promise.all([0, 1].map(() => chunkedFlood(srv.port, head, 300 * MiB)));
  for (const f of unauth) assert.equal(f.status, 401, JSON.stringify(f));
  const authed = await chunkedFlood(srv.port, `${head}\nAuthorization: Bearer s3cret-token`, 100 * MiB);
  assert.equal(authed.status, 413, 'over maxRequestBytes (1 MiB), chunked');
  const after = memKiB(srv.child.pid);
  assert.ok(after.hwm - before.hwm < 32 * 1024, `peak RSS grew from ${before.hwm} to ${after.hwm} KiB`);
  const ok = await mcpPost(srv.port, `127.0.0.1:${srv.port}`, INIT, '\nAuthorization: Bearer s3cret-token');
  assert.equal(ok.status, 200, 'still serving');
});

test('controller: /healthz answers while 200 slow-loris connections are open', async (t) => {
  const dir = tempDir(t);
  const cfg = writeConfig(dir, `regions:\n  - {name: us-east-1, endpoint: "http://127.0.0.1:1/h"}\n` +
    `probe: {intervalSeconds: 1, timeoutSeconds: 0.5}\nstate: {file: "${join(dir, 'state')}"}\n` +
    'listen: "127.0.0.1:0"\n');
  const ctl = await startController(t, cfg);
  const slow = [];
  let closedEarly = 0; // closed by the server before the 10 s head deadline: must not happen
  const opened = Date.now();
  for (let i = 0; i < 200; i++) {
    const s = net.connect(ctl.port, '127.0.0.1');
    s.on('error', () => {});
    s.on('close', () => { if (Date.now() - opened < 9000) closedEarly++; });
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    slow.push(s);
  }
  t.after(() => { for (const s of slow) s.destroy(); });
  // One more header byte per connection every 500 ms (a slow-loris drip), for ~3 s, while
  // /healthz is asked 20 times.
  let drip = 0;
  const timer = setInterval(() => { drip++; for (const s of slow) s.write('X'); }, 500);
  try {
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`http://127.0.0.1:${ctl.port}/healthz`, { signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'ok\n');
      await new Promise((r) => setTimeout(r, 150));
    }
  } finally {
    clearInterval(timer);
  }
  assert.ok(drip >= 4);
  // The 200 slow connections were really held (a server that simply dropped them would make the
  // /healthz answers meaningless). Counted by close time, so a slow test run cannot fail it.
  assert.equal(closedEarly, 0, 'slow connections closed before the head deadline');
});

test('MCP: 1,100 initialize calls do not evict a session in use', async (t) => {
  const srv = await startMcp(t, tempDir(t));
  const post = (body, headers = {}) => fetch(srv.url, { method: 'POST', headers: { ...H, ...headers }, body });
  let res = await post(INIT);
  const sid = res.headers.get('mcp-session-id');
  assert.ok(sid);
  const S = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
  assert.equal((await post('{"jsonrpc":"2.0","method":"notifications/initialized"}', S)).status, 202);
  for (let i = 0; i < 1100; i++) {
    res = await post(INIT);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  }
  res = await post('{"jsonrpc":"2.0","id":7,"method":"ping"}', S);
  assert.equal(res.status, 200, 'the working session survived the flood');
  assert.deepEqual((await res.json()).result, {});
});

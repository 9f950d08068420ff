// Hostile input against the binary's HTTP servers (issue 13): DNS rebinding, bearer scheme case,
// unbounded and chunked bodies, slow-loris connections, initialize floods. Raw sockets are used
// where a well-behaved client library would hide the attack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { startRole, tempDir } from './helpers.mjs';

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

// Black-box tests of `agency-ha mcp` with the official MCP TypeScript SDK client, over stdio and
// Streamable HTTP, plus raw protocol abuse; the last test runs a complete drill against the real
// controller and gates (file state store) and checks the report against the state files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import net from 'node:net';
import { BIN, freePort, readKey, run, startController, startRole, tempDir, waitFor } from './helpers.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;

const TOOLS = ['end_regional_outage', 'get_drill_report', 'get_failover_status', 'get_replication_status',
  'list_regions', 'simulate_regional_outage'];

function mcpConfig(dir, { regions, mcp = '', extra = '' }) {
  const path = join(dir, 'mcp.yaml');
  writeFileSync(path, `regions:\n${regions}\nstate: {file: "${join(dir, 'state')}"}\n${extra}` +
    `mcp: {minDurationSeconds: 1, maxDurationSeconds: 600, defaultDurationSeconds: 60, ` +
    `auditLog: "${join(dir, 'audit.jsonl')}"${mcp}}\n`);
  return path;
}

const THREE = `  - {name: us-east-1, endpoint: "http://127.0.0.1:9/health"}
  - {name: eu-west-1, endpoint: "http://127.0.0.1:9/health"}
  - {name: ap-southeast-1, active: false, endpoint: "http://127.0.0.1:9/health"}`;

async function stdioClient(t, cfg, env = undefined) {
  const client = new Client({ name: 'aha-system-test', version: '1.0.0' });
  const transport = new StdioClientTransport({ command: BIN, args: ['mcp', '--config', cfg],
    stderr: 'ignore', env });
  await client.connect(transport);
  t.after(() => client.close());
  return client;
}

async function call(client, name, args = {}) {
  return client.callTool({ name, arguments: args });
}

const text = (r) => r.content.map((c) => c.text).join('\n');

test('mcp --check validates like the controller, plus the mcp section and --http rules', (t) => {
  const dir = tempDir(t);
  const ok = mcpConfig(dir, { regions: THREE });
  let r = run(['mcp', '--config', ok, '--check']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /valid \(3 regions/);
  writeFileSync(ok, readFileSync(ok, 'utf8').replace('maxDurationSeconds: 600', 'maxDurationSeconds: 0'));
  r = run(['mcp', '--config', ok, '--check']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /mcp\.maxDurationSeconds: must be between/);
  const open = mcpConfig(dir, { regions: THREE });
  r = run(['mcp', '--config', open, '--check', '--http', '0.0.0.0:0']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /non-loopback address: set mcp\.httpToken/);
  const withToken = mcpConfig(dir, { regions: THREE, mcp: ', httpToken: "t0ken"' });
  r = run(['mcp', '--config', withToken, '--check', '--http', '0.0.0.0:0']);
  assert.equal(r.status, 0, r.stderr);
});

test('mcp takes its config from AGENCY_HA_CONFIG when launched without --config (MCP Inspector CLI)', async (t) => {
  const dir = tempDir(t);
  const cfg = mcpConfig(dir, { regions: THREE });
  const client = new Client({ name: 'aha-system-test', version: '1.0.0' });
  const transport = new StdioClientTransport({ command: BIN, args: ['mcp'], stderr: 'ignore',
    env: { ...process.env, AGENCY_HA_CONFIG: cfg } });
  await client.connect(transport);
  t.after(() => client.close());
  const regions = await call(client, 'list_regions');
  assert.match(text(regions), /ap-southeast-1/);
  // Without either, the error names both ways to give it.
  const r = run(['mcp'], { env: { ...process.env, AGENCY_HA_CONFIG: '' } });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--config.*AGENCY_HA_CONFIG|AGENCY_HA_CONFIG.*--config|--config is required/);
});

test('mcp over stdio with the SDK client: every tool, and refusals as isError results', async (t) => {
  const dir = tempDir(t);
  const client = await stdioClient(t, mcpConfig(dir, { regions: THREE }));
  assert.equal(client.getServerVersion().name, 'agency-ha-mcp');
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((x) => x.name).sort(), TOOLS);
  for (const tool of tools) {
    assert.equal(tool.inputSchema.type, 'object');
    assert.equal(tool.outputSchema.type, 'object', tool.name);
  }

  let r = await call(client, 'list_regions');
  assert.equal(r.isError, false);
  assert.deepEqual(r.structuredContent.regions.map((x) => x.name), ['us-east-1', 'eu-west-1', 'ap-southeast-1']);
  r = await call(client, 'get_failover_status');
  assert.equal(r.isError, false);
  assert.equal(r.structuredContent.panic, false);
  assert.match(text(r), /not written state\.json yet/);

  // Dry run: validated and described, nothing written.
  r = await call(client, 'simulate_regional_outage', { region: 'us-east-1', dry_run: true, duration_seconds: 30 });
  assert.equal(r.isError, false, text(r));
  assert.equal(r.structuredContent.dryRun, true);
  assert.equal(r.structuredContent.drillId, null);
  assert.equal(readKey(join(dir, 'state'), 'simulatedOutages'), null);

  // Refusals.
  const refused = async (args, re) => {
    const x = await call(client, 'simulate_regional_outage', args);
    assert.equal(x.isError, true, JSON.stringify(args));
    assert.match(text(x), re);
  };
  await refused({ region: 'mars-1' }, /unknown region "mars-1"; configured regions: us-east-1, eu-west-1, ap-southeast-1/);
  await refused({ region: 'us-east-1', duration_seconds: 601 }, /duration_seconds: 601 is out of bounds \(1\.\.600/);
  await refused({ region: 'us-east-1', duration_seconds: 0 }, /out of bounds/);
  await refused({ region: 'us-east-1', duration_seconds: 'long' }, /whole number/);
  // Without mcp.faults the real-fault types are refused naming the setting; node is not built.
  await refused({ region: 'us-east-1', failure_type: 'pod' }, /failure_type "pod" needs the agent pods' labels: set mcp.faults.podLabels/);
  await refused({ region: 'us-east-1', failure_type: 'network' }, /mcp.faults.podLabels/);
  await refused({ region: 'us-east-1', failure_type: 'node' }, /"node" is not supported yet/);
  await refused({ region: 'us-east-1', failure_type: 'meteor' }, /unknown value "meteor"/);
  await refused({ region: 'us-east-1', colour: 'red' }, /unknown argument "colour"/);
  await refused({}, /region: required/);

  // A real drill: written with its expiry; one per region at a time; ended early.
  r = await call(client, 'simulate_regional_outage', { region: 'eu-west-1', duration_seconds: 120 });
  assert.equal(r.isError, false, text(r));
  const id = r.structuredContent.drillId;
  const stored = JSON.parse(readKey(join(dir, 'state'), 'simulatedOutages'));
  assert.equal(stored.outages.length, 1);
  assert.equal(stored.outages[0].id, id);
  assert.equal(stored.outages[0].expiresAt, r.structuredContent.expiresAt);
  assert.equal(Date.parse(stored.outages[0].expiresAt) - Date.parse(stored.outages[0].startedAt), 120000);
  await refused({ region: 'eu-west-1' }, /drill already running for region eu-west-1/);
  r = await call(client, 'get_failover_status');
  assert.deepEqual(r.structuredContent.activeDrills.map((d) => d.drillId), [id]);
  r = await call(client, 'get_drill_report', { drill_id: id });
  assert.equal(r.isError, false, text(r));
  assert.equal(r.structuredContent.phase, 'injected');
  assert.equal(r.structuredContent.timeline.regionFailedAt, null, 'nothing is estimated');
  r = await call(client, 'end_regional_outage', { region: 'eu-west-1' });
  assert.equal(r.isError, false, text(r));
  assert.equal(r.structuredContent.drillId, id);
  assert.deepEqual(JSON.parse(readKey(join(dir, 'state'), 'simulatedOutages')).outages, []);
  r = await call(client, 'end_regional_outage', { region: 'eu-west-1' });
  assert.equal(r.isError, true);
  assert.match(text(r), /no active drill for region eu-west-1/);
  r = await call(client, 'get_drill_report', { region: 'eu-west-1' });
  assert.equal(r.structuredContent.endedBy, 'ended');
  r = await call(client, 'get_drill_report', { region: 'us-east-1' });
  assert.equal(r.isError, true);

  const audit = readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(audit.map((a) => a.event), ['DrillDryRun', 'DrillStarted', 'DrillEnded']);
  assert.equal(audit[1].drillId, id);
});

test('mcp refuses to take down the last region that could serve unless forced', async (t) => {
  const dir = tempDir(t);
  const client = await stdioClient(t, mcpConfig(dir, {
    regions: '  - {name: solo-1, endpoint: "http://127.0.0.1:9/health"}' }));
  let r = await call(client, 'simulate_regional_outage', { region: 'solo-1', duration_seconds: 5 });
  assert.equal(r.isError, true);
  assert.match(text(r), /refusing to take down solo-1: no other region could serve.*force: true/s);
  assert.equal(readKey(join(dir, 'state'), 'simulatedOutages'), null);
  r = await call(client, 'simulate_regional_outage', { region: 'solo-1', duration_seconds: 5, force: true });
  assert.equal(r.isError, false, text(r));
  assert.equal(r.structuredContent.forced, true);
});

// Raw stdio: what a broken or hostile client sends.
test('mcp stdio: protocol faults are JSON-RPC errors, and the server keeps serving', async (t) => {
  const dir = tempDir(t);
  const cfg = mcpConfig(dir, { regions: THREE, mcp: ', maxRequestBytes: 2048' });
  const child = spawn(BIN, ['mcp', '--config', cfg], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const replies = [];
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) { replies.push(JSON.parse(buf.slice(0, i))); buf = buf.slice(i + 1); }
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const send = async (line) => {
    const n = replies.length;
    child.stdin.write(line + '\n');
    await waitFor(`reply to ${line.slice(0, 60)}`, () => replies.length > n, 5000);
    return replies[n];
  };
  let r = await send('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"1999-01-01","capabilities":{}}}');
  assert.equal(r.error.code, -32602);
  assert.equal(r.error.message, 'Unsupported protocol version');
  assert.deepEqual(r.error.data.supported, ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05']);
  r = await send('{"jsonrpc":"2.0","id":2,"method":"tools/list"}');
  assert.equal(r.error.code, -32600, 'not initialized');
  r = await send('{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}');
  assert.equal(r.result.protocolVersion, '2024-11-05');
  child.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
  assert.equal((await send('{"jsonrpc": "2.0", "id": 4, "method": "tools/list"')).error.code, -32700);
  r = await send('[{"jsonrpc":"2.0","id":5,"method":"ping"}]');
  assert.equal(r.error.code, -32600);
  assert.match(r.error.message, /batch/);
  r = await send(`{"jsonrpc":"2.0","id":6,"method":"ping","params":{"pad":"${'x'.repeat(5000)}"}}`);
  assert.equal(r.error.code, -32600);
  assert.match(r.error.message, /larger than 2048 bytes/);
  assert.equal((await send('{"jsonrpc":"2.0","id":7,"method":"prompts/list"}')).error.code, -32601);
  assert.equal((await send('{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"arguments":{}}}')).error.code, -32602);
  assert.equal((await send('{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"rm_rf"}}')).error.code, -32602);
  assert.equal((await send('{"jsonrpc":"2.0","id":10,"method":"tools/call","params":"x"}')).error.code, -32602);
  r = await send('{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"list_regions"}}');
  assert.equal(r.id, 11);
  assert.equal(r.result.isError, false);
  assert.equal(r.result.structuredContent, undefined, '2024-11-05 has no structuredContent');
  // Nesting that would overflow a recursive copy is refused, not a crash.
  r = await send(`{"jsonrpc":"2.0","id":12,"method":"ping","params":{"a":${'['.repeat(500)}${']'.repeat(500)}}}`);
  assert.equal(r.error.code, -32600);
  assert.match(r.error.message, /nested deeper than 64/);
  // The stateless 2026-07-28 revision, next to the legacy session: per-request _meta.
  const meta = (v) => ({ 'io.modelcontextprotocol/protocolVersion': v,
    'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'new', version: '1' } });
  r = await send(JSON.stringify({ jsonrpc: '2.0', id: 13, method: 'server/discover', params: { _meta: meta('2026-07-28') } }));
  assert.deepEqual(r.result.supportedVersions, ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05']);
  assert.equal(r.result.resultType, 'complete');
  assert.equal(r.result._meta['io.modelcontextprotocol/serverInfo'].name, 'agency-ha-mcp');
  assert.equal(r.result.cacheScope, 'private');
  assert.ok(r.result.ttlMs >= 0);
  r = await send(JSON.stringify({ jsonrpc: '2.0', id: 14, method: 'tools/call',
    params: { name: 'list_regions', arguments: {}, _meta: meta('2026-07-28') } }));
  assert.equal(r.result.resultType, 'complete');
  assert.equal(r.result.structuredContent.regions.length, 3);
  r = await send(JSON.stringify({ jsonrpc: '2.0', id: 15, method: 'tools/list', params: { _meta: meta('2099-01-01') } }));
  assert.equal(r.error.code, -32022);
  assert.deepEqual(r.error.data, { supported: ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'],
    requested: '2099-01-01' });
  child.stdin.end();
  const code = await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, 'end of input ends the server');
  for (const line of stderr.trim().split('\n')) JSON.parse(line); // logs: JSON lines on stderr only
});

async function startHttp(t, cfg, listen = '127.0.0.1:0') {
  const s = await startRole(t, ['mcp', '--config', cfg, '--http', listen], 'mcp server starting');
  return { ...s, url: `http://127.0.0.1:${s.port}/mcp` };
}

const H = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } });

test('mcp over Streamable HTTP: SDK client, sessions, and transport-level refusals', async (t) => {
  const dir = tempDir(t);
  const srv = await startHttp(t, mcpConfig(dir, { regions: THREE, mcp: ', maxRequestBytes: 4096' }));
  const client = new Client({ name: 'aha-system-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(srv.url));
  await client.connect(transport);
  assert.ok(transport.sessionId, 'session id issued');
  assert.equal(transport.protocolVersion, '2025-11-25');
  assert.deepEqual((await client.listTools()).tools.map((x) => x.name).sort(), TOOLS);
  const st = await call(client, 'get_failover_status');
  assert.equal(st.isError, false);
  await client.ping();

  const post = (body, headers = {}) => fetch(srv.url, { method: 'POST', headers: { ...H, ...headers }, body });
  const sid = { 'mcp-session-id': transport.sessionId, 'mcp-protocol-version': '2025-11-25' };
  let res = await post('{"jsonrpc":"2.0","method":"notifications/initialized"}', sid);
  assert.equal(res.status, 202);
  assert.equal(await res.text(), '');
  res = await post('{"jsonrpc":"2.0","id":2,"method":"ping"}', { ...sid, 'mcp-protocol-version': '2031-01-01' });
  assert.equal(res.status, 400, 'unsupported MCP-Protocol-Version');
  res = await post('{"jsonrpc":"2.0","id":2,"method":"ping"}');
  assert.equal(res.status, 400, 'no session id');
  res = await post('{"jsonrpc":"2.0","id":2,"method":"ping"}', { 'mcp-session-id': 'nope' });
  assert.equal(res.status, 404, 'unknown session');
  res = await post('{"jsonrpc":"2.0","id":2,"method":"nope/nope"}', sid);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).error.code, -32601);
  res = await post('{"jsonrpc":', sid);
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.code, -32700);
  res = await post('[{"jsonrpc":"2.0","id":1,"method":"ping"}]', sid);
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.code, -32600);
  res = await post(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'ping', params: { pad: 'x'.repeat(8000) } }), sid);
  assert.equal(res.status, 413, 'request size limit');
  res = await post(INIT, { accept: 'application/json' });
  assert.equal(res.status, 406, 'Accept must list both types');
  res = await post(INIT, { 'content-type': 'text/plain' });
  assert.equal(res.status, 415);
  res = await post(INIT, { origin: 'https://evil.example' });
  assert.equal(res.status, 403, 'foreign Origin (DNS rebinding)');
  res = await post(INIT, { origin: 'http://localhost:3000' });
  assert.equal(res.status, 200, 'loopback Origin while bound to loopback');
  res = await fetch(srv.url, { headers: { accept: 'text/event-stream', ...sid } });
  assert.equal(res.status, 405, 'no standalone SSE stream');
  // DNS rebinding: a browser on attacker.example resolved to 127.0.0.1 sends its own Host.
  const rebound = await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, path: '/mcp', method: 'POST',
      headers: { ...H, host: `attacker.example:${srv.port}` } }, (r) => { r.resume(); resolve(r.statusCode); });
    req.on('error', reject);
    req.end(INIT);
  });
  assert.equal(rebound, 403, 'Host must name a loopback host');
  res = await fetch(`http://127.0.0.1:${srv.port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /regional_failover_recovery_time/);

  await transport.terminateSession();
  res = await post('{"jsonrpc":"2.0","id":2,"method":"ping"}', sid);
  assert.equal(res.status, 404, 'deleted session');
  await client.close();
  srv.child.kill('SIGTERM');
  assert.equal(await srv.exited, 0);
});

test('mcp over HTTP with a token: required on every request', async (t) => {
  const dir = tempDir(t);
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 's3cret-token\n');
  const srv = await startHttp(t, mcpConfig(dir, { regions: THREE, mcp: `, httpTokenFile: "${tokenFile}"` }));
  let res = await fetch(srv.url, { method: 'POST', headers: H, body: INIT });
  assert.equal(res.status, 401);
  assert.match(res.headers.get('www-authenticate'), /^Bearer/);
  res = await fetch(srv.url, { method: 'POST', headers: { ...H, authorization: 'Bearer wrong' }, body: INIT });
  assert.equal(res.status, 401);
  const noToken = new Client({ name: 't', version: '1' });
  await assert.rejects(noToken.connect(new StreamableHTTPClientTransport(new URL(srv.url))));
  const client = new Client({ name: 't', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(srv.url),
    { requestInit: { headers: { authorization: 'Bearer s3cret-token' } } }));
  assert.equal((await call(client, 'list_regions')).isError, false);
  await client.close();
});

async function httpClient(t, cfg) {
  const srv = await startHttp(t, cfg);
  const client = new Client({ name: 'aha-system-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(srv.url)));
  t.after(() => client.close());
  client.metricsUrl = `http://127.0.0.1:${srv.port}/metrics`;
  return client;
}

for (const transport of ['stdio', 'http'])
test(`full drill over ${transport}: outage → region failed → serving set changed → expiry → recovered, measured`, async (t) => {
  const dir = tempDir(t);
  const stateDir = join(dir, 'state');
  const gate = async (region) => {
    const cfg = join(dir, `gate-${region}.yaml`);
    writeFileSync(cfg, `region: ${region}\nlisten: "127.0.0.1:0"\nstate: {file: "${stateDir}"}\n`);
    return startRole(t, ['gate', '--config', cfg], 'gate starting');
  };
  const [gus, geu, gap] = await Promise.all([gate('us-east-1'), gate('eu-west-1'), gate('ap-southeast-1')]);
  const url = (g) => `http://127.0.0.1:${g.port}/health`;
  const cfg = mcpConfig(dir, {
    regions: `  - {name: us-east-1, endpoint: "${url(gus)}"}
  - {name: eu-west-1, endpoint: "${url(geu)}"}
  - {name: ap-southeast-1, active: false, endpoint: "${url(gap)}"}`,
    extra: `probe: {intervalSeconds: 0.2, timeoutSeconds: 0.1, failureThreshold: 3, successThreshold: 2}
policy: {failbackSeconds: 0.5}
listen: "127.0.0.1:0"
`,
  });
  const ctl = await startController(t, cfg);
  await waitFor('initial state written', () => readKey(stateDir, 'state.json') !== null);
  const client = transport === 'stdio' ? await stdioClient(t, cfg) : await httpClient(t, cfg);

  const sim = await call(client, 'simulate_regional_outage', { region: 'us-east-1', duration_seconds: 3 });
  assert.equal(sim.isError, false, text(sim));
  const id = sim.structuredContent.drillId;
  assert.deepEqual(sim.structuredContent.servingBefore, ['eu-west-1', 'us-east-1']);

  let report;
  await waitFor('drill complete', async () => {
    report = (await call(client, 'get_drill_report', { drill_id: id })).structuredContent;
    return report.complete;
  }, 20000);
  const tl = report.timeline;
  const ms = (k) => Date.parse(tl[k]);
  // Order of the measured steps.
  const order = ['injectedAt', 'regionFailedAt', 'servingChangedAt', 'outageEndedAt', 'regionRecoveredAt',
    'servingRestoredAt'];
  for (const k of [...order, 'firstFailedProbeAt', 'firstHealthyProbeAt']) {
    assert.ok(tl[k], `${k} measured: ${JSON.stringify(tl)}`);
  }
  for (let i = 1; i < order.length; i++) {
    assert.ok(ms(order[i - 1]) <= ms(order[i]), `${order[i - 1]} <= ${order[i]}: ${JSON.stringify(tl)}`);
  }
  // A probe's time is when its round started; a round that started a few ms before the gate saw the
  // change can already observe it, hence one probe interval of tolerance before the cause.
  assert.ok(ms('firstFailedProbeAt') >= ms('injectedAt') - 200 && ms('firstFailedProbeAt') <= ms('regionFailedAt'));
  assert.ok(ms('firstHealthyProbeAt') >= ms('outageEndedAt') - 200 && ms('firstHealthyProbeAt') <= ms('regionRecoveredAt'));
  assert.ok(ms('regionFailedAt') <= ms('failedObservedAt'));
  assert.equal(report.promotedRegion, 'ap-southeast-1');
  assert.deepEqual(report.servingDuring, ['ap-southeast-1', 'eu-west-1']);

  // Every time is one the state files carry.
  const outage = JSON.parse(readKey(stateDir, 'simulatedOutages')).outages.find((o) => o.id === id);
  assert.equal(tl.injectedAt, outage.startedAt);
  assert.equal(tl.outageEndedAt, outage.expiresAt);
  const st = JSON.parse(readKey(stateDir, 'state.json'));
  const tr = (type, region) => st.transitions.find((x) => x.type === type && x.region === region &&
    Date.parse(x.at) >= Date.parse(outage.startedAt));
  const failed = tr('RegionFailed', 'us-east-1');
  const recovered = tr('RegionRecovered', 'us-east-1');
  assert.equal(tl.regionFailedAt, failed.at);
  assert.equal(tl.firstFailedProbeAt, failed.firstProbeAt);
  assert.equal(tl.regionRecoveredAt, recovered.at);
  assert.equal(tl.firstHealthyProbeAt, recovered.firstProbeAt);
  assert.equal(tl.promotedAt, tr('RegionPromoted', 'ap-southeast-1').at);
  assert.equal(tl.demotedAt, tr('RegionDemoted', 'ap-southeast-1').at);
  const secs = (a, b) => (Date.parse(b) - Date.parse(a)) / 1000;
  const d = report.durationsSeconds;
  assert.equal(d.injectedToRegionFailed, secs(outage.startedAt, failed.at));
  assert.equal(d.injectedToFirstFailedProbe, secs(outage.startedAt, failed.firstProbeAt));
  assert.equal(d.outage, 3);
  assert.equal(d.outageEndedToRegionRecovered, secs(outage.expiresAt, recovered.at));
  assert.equal(report.regional_failover_recovery_time, d.outageEndedToRegionRecovered);
  // Detection needs failureThreshold probes after injection; recovery successThreshold after expiry.
  assert.ok(d.injectedToRegionFailed >= 0.4 && d.injectedToRegionFailed < 3, JSON.stringify(d));
  // (The first healthy probe's round may start just before the expiry and reach the gate after
  // it, so recovery can take less than successThreshold × interval after the expiry; but it takes
  // successThreshold probes, the later one after the first.)
  assert.ok(d.outageEndedToRegionRecovered > 0 && d.outageEndedToRegionRecovered < 3, JSON.stringify(d));
  assert.ok(ms('firstHealthyProbeAt') < ms('regionRecoveredAt'), JSON.stringify(tl));
  // The controller saw it the same way.
  const events = ctl.lines.filter((l) => l.msg === 'region transition').map((l) => `${l.event}:${l.region}`);
  assert.deepEqual(events, ['RegionFailed:us-east-1', 'RegionPromoted:ap-southeast-1',
    'RegionRecovered:us-east-1', 'RegionDemoted:ap-southeast-1']);
  // Audited, with the measured report.
  await waitFor('completion audited', () => readFileSync(join(dir, 'audit.jsonl'), 'utf8').includes('DrillCompleted'), 5000);
  const audit = readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const done = audit.find((a) => a.event === 'DrillCompleted');
  assert.equal(done.report.drillId, id);
  assert.equal(done.report.regional_failover_recovery_time, report.regional_failover_recovery_time);
  // The drill, its observations and its final report are in the shared state too.
  const stored = JSON.parse(readKey(stateDir, 'drills')).drills.find((x) => x.id === id);
  assert.deepEqual(stored.report.timeline, report.timeline);
  assert.equal(stored.report.regional_failover_recovery_time, report.regional_failover_recovery_time);
  assert.ok(stored.observations.length >= 3, JSON.stringify(stored.observations));
  assert.ok(stored.observations.every((o) => !o.gap));
  assert.equal(tl.servingChangedAt, stored.observations.find((o) => o.serving.join() !== 'eu-west-1,us-east-1').at);
  assert.equal(tl.servingRestoredAt, stored.observations.at(-1).at);
  assert.deepEqual(stored.observations.at(-1).serving, ['eu-west-1', 'us-east-1']);
  if (client.metricsUrl) { // the measured recovery, under upstream's metric name
    const m = (await (await fetch(client.metricsUrl)).text())
      .match(/^regional_failover_recovery_time\{region="us-east-1"\} (\S+)$/m);
    assert.ok(m, 'regional_failover_recovery_time exported');
    assert.equal(Number(m[1]), report.regional_failover_recovery_time);
  }
  if (process.env.AHA_PRINT_REPORT) console.log(JSON.stringify(report, null, 2));
});

test('two MCP servers on one state dir: concurrent drills both land, one region has one winner, a restarted server still reports', async (t) => {
  const dir = tempDir(t);
  const cfg = mcpConfig(dir, { regions: THREE });
  const a = await stdioClient(t, cfg);
  const b = await stdioClient(t, cfg);
  const [ra, rb] = await Promise.all([
    call(a, 'simulate_regional_outage', { region: 'us-east-1', duration_seconds: 300 }),
    call(b, 'simulate_regional_outage', { region: 'eu-west-1', duration_seconds: 300 })]);
  assert.equal(ra.isError, false, text(ra));
  assert.equal(rb.isError, false, text(rb));
  let stored = JSON.parse(readKey(join(dir, 'state'), 'simulatedOutages')).outages;
  assert.deepEqual(stored.map((o) => o.region).sort(), ['eu-west-1', 'us-east-1'], 'no drill lost');
  // Both go for the last region at once: the state decides, exactly one wins.
  const both = await Promise.all([a, b].map((c) =>
    call(c, 'simulate_regional_outage', { region: 'ap-southeast-1', duration_seconds: 300, force: true })));
  assert.deepEqual(both.map((r) => r.isError).sort(), [false, true], both.map(text).join('\n'));
  const lost = both.find((r) => r.isError);
  assert.match(text(lost), /drill already running for region ap-southeast-1 \(drill-ap-southeast-1-\d+, until /);
  stored = JSON.parse(readKey(join(dir, 'state'), 'simulatedOutages')).outages;
  assert.equal(stored.length, 3);
  // Server b reports a's drill (the drills live in the shared state) ...
  const idA = ra.structuredContent.drillId;
  let r = await call(b, 'get_drill_report', { drill_id: idA });
  assert.equal(r.isError, false, text(r));
  assert.equal(r.structuredContent.region, 'us-east-1');
  // ... and so does a new server after a has gone.
  await a.close();
  const c = await stdioClient(t, cfg);
  r = await call(c, 'get_drill_report', { region: 'us-east-1' });
  assert.equal(r.isError, false, text(r));
  assert.equal(r.structuredContent.drillId, idA);
  assert.equal(r.structuredContent.timeline.injectedAt, ra.structuredContent.startedAt);
  r = await call(c, 'end_regional_outage', { region: 'us-east-1' });
  assert.equal(r.isError, false, text(r));
  r = await call(b, 'get_drill_report', { drill_id: idA });
  assert.equal(r.structuredContent.endedBy, 'ended', 'ended by another server, seen by this one');
  const audit = readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(audit.filter((x) => x.event === 'DrillStarted').length, 3);
});

test('mcp over HTTP, 2026-07-28: sessionless requests, mirrored headers, version errors', async (t) => {
  const dir = tempDir(t);
  const srv = await startHttp(t, mcpConfig(dir, { regions: THREE }));
  const V = '2026-07-28';
  const meta = (v = V) => ({ 'io.modelcontextprotocol/protocolVersion': v,
    'io.modelcontextprotocol/clientCapabilities': {} });
  const post = async (body, headers) => {
    const res = await fetch(srv.url, { method: 'POST', headers: { ...H, ...headers }, body: JSON.stringify(body) });
    const txt = await res.text();
    return { status: res.status, body: txt ? JSON.parse(txt) : null, headers: res.headers };
  };
  const hdr = (method, name, v = V) => ({ 'mcp-protocol-version': v, 'mcp-method': method,
    ...(name ? { 'mcp-name': name } : {}) });
  let r = await post({ jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: meta() } }, hdr('server/discover'));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.headers.get('mcp-session-id'), null, 'no session in 2026-07-28');
  assert.deepEqual(r.body.result.supportedVersions, [V, '2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05']);
  assert.equal(r.body.result.resultType, 'complete');
  r = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: { _meta: meta() } }, hdr('tools/list'));
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.result.tools.map((x) => x.name).sort(), TOOLS);
  r = await post({ jsonrpc: '2.0', id: 3, method: 'tools/call',
    params: { name: 'list_regions', arguments: {}, _meta: meta() } }, hdr('tools/call', 'list_regions'));
  assert.equal(r.status, 200);
  assert.equal(r.body.result.resultType, 'complete');
  assert.equal(r.body.result.structuredContent.regions.length, 3);
  // Header faults: HeaderMismatch -32020, HTTP 400.
  const call3 = { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'list_regions', arguments: {}, _meta: meta() } };
  for (const [headers, re] of [
    [hdr('tools/call', 'get_failover_status'), /Mcp-Name "get_failover_status" does not match params\.name "list_regions"/],
    [hdr('tools/call'), /Mcp-Name header is required/],
    [hdr('tools/list', 'list_regions'), /Mcp-Method "tools\/list" does not match the method "tools\/call"/],
    [{ 'mcp-protocol-version': V }, /Mcp-Method header is required/],
    [{ 'mcp-method': 'tools/call', 'mcp-name': 'list_regions' }, /MCP-Protocol-Version header is required/],
    [hdr('tools/call', 'list_regions', '2025-11-25'), /MCP-Protocol-Version "2025-11-25" does not match _meta/]]) {
    r = await post(call3, headers);
    assert.equal(r.status, 400, JSON.stringify(headers));
    assert.equal(r.body.error.code, -32020, JSON.stringify(r.body));
    assert.match(r.body.error.message, re);
    assert.equal(r.body.id, 4);
  }
  r = await post({ jsonrpc: '2.0', id: 5, method: 'tools/list', params: {} }, hdr('tools/list'));
  assert.equal(r.status, 400, 'header says 2026-07-28, body has no _meta version');
  assert.equal(r.body.error.code, -32020);
  // An unknown version: -32022 with the supported list.
  r = await post({ jsonrpc: '2.0', id: 6, method: 'tools/list', params: { _meta: meta('2099-01-01') } },
    hdr('tools/list', null, '2099-01-01'));
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, -32022);
  assert.deepEqual(r.body.error.data, { supported: [V, '2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'],
    requested: '2099-01-01' });
  // Notifications: 202; the legacy session flow still works next to it.
  r = await post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: meta() } },
    hdr('notifications/cancelled'));
  assert.equal(r.status, 202);
  const client = new Client({ name: 'legacy', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(srv.url)));
  assert.equal((await call(client, 'list_regions')).isError, false);
  await client.close();
});

const S3ENV = { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

// s3rver (npm), the local S3 API emulator the replication tests use, with bucket `bkt`.
async function startS3rver(t, dir) {
  const port = await freePort();
  mkdirSync(join(dir, 's3rver'), { recursive: true });
  const child = spawn(process.execPath, ['--openssl-legacy-provider',
    join(ROOT, 'tests/support/s3rver.cjs'), '--directory', join(dir, 's3rver'),
    '--port', String(port), '--address', '127.0.0.1', '--silent', '--configure-bucket', 'bkt'],
  { stdio: 'ignore' });
  t.after(() => child.kill('SIGTERM'));
  await waitFor('s3rver listening', () => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
    s.on('error', () => resolve(false));
  }), 15000);
  return `http://127.0.0.1:${port}`;
}

test('get_replication_status: the newest snapshot per region from real replicate --once runs', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'hello');
  writeFileSync(join(src, 'sub', 'b.bin'), Buffer.alloc(1000, 7));
  const r1 = join(dir, 'r1');
  const r2 = join(dir, 'r2');
  const broken = join(dir, 'broken');
  for (const region of ['us-east-1', 'eu-west-1']) { // a remote answering garbage
    mkdirSync(join(broken, region), { recursive: true });
    writeFileSync(join(broken, region, 'latest'), 'not json');
  }
  const endpoint = await startS3rver(t, dir);
  const s3 = `{url: "s3://bkt/replicas", endpoint: "${endpoint}", pathStyle: true}`;
  const replicate = (region, remotes) => {
    const cfg = join(dir, `rep-${region}.yaml`);
    writeFileSync(cfg, `source: ${src}\nregion: ${region}\nstateDir: ${join(dir, `st-${region}`)}\nlisten: ""\nremotes:\n` +
      remotes.map((r) => `  - ${r.startsWith('{') ? r : `{url: "file://${r}"}`}\n`).join(''));
    const r = run(['replicate', '--config', cfg, '--once'], { env: S3ENV });
    assert.equal(r.status, 0, r.stderr);
  };
  replicate('us-east-1', [r1, r2, s3]);
  replicate('eu-west-1', [r1]);
  const remotes = `, replication: {remotes: [{url: "file://${r1}"}, {url: "file://${r2}"}, ${s3}, {url: "file://${broken}"}]}`;
  // The remotes are checked by the replication config's own parser.
  const bad = mcpConfig(dir, { regions: THREE, mcp: ', replication: {remotes: [{url: "ftp://x"}]}' });
  let c = run(['mcp', '--config', bad, '--check']);
  assert.equal(c.status, 2);
  assert.match(c.stderr, /mcp\.replication\.remotes\[0\]\.url: invalid remote "ftp:\/\/x"/);
  const client = await stdioClient(t, mcpConfig(dir, { regions: THREE, mcp: remotes }), S3ENV);
  const before = Date.now();
  const r = await call(client, 'get_replication_status');
  assert.equal(r.isError, false, text(r));
  const s = r.structuredContent;
  const by = Object.fromEntries(s.regions.map((x) => [x.region, x]));
  const listed = JSON.parse(run(['snapshots', '--remote', `file://${r1}`, '--region', 'us-east-1', '--json']).stdout);
  const newest = listed.find((x) => x.latest);
  const us = by['us-east-1'];
  assert.equal(us.latest.id, newest.id);
  assert.equal(us.latest.createdAt, newest.createdAt);
  assert.equal(us.latest.files, 2);
  assert.equal(us.latest.bytes, 1005);
  const age = (before - Date.parse(newest.createdAt)) / 1000;
  assert.ok(us.latest.ageSeconds >= age - 0.001 && us.latest.ageSeconds <= (Date.parse(s.measuredAt) - Date.parse(newest.createdAt)) / 1000,
    `age ${us.latest.ageSeconds} measured from the record's createdAt`);
  assert.deepEqual(us.haveLatest, [`file://${r1}`, `file://${r2}`, 's3://bkt/replicas']);
  assert.deepEqual(us.failed.map((f) => f.remote), [`file://${broken}`]);
  assert.match(us.failed[0].error, /us-east-1\/latest/);
  const eu = by['eu-west-1'];
  assert.deepEqual(eu.haveLatest, [`file://${r1}`]);
  assert.deepEqual(eu.missingLatest, [`file://${r2}`, 's3://bkt/replicas']);
  assert.equal(by['ap-southeast-1'].latest, null);
  assert.match(text(r), /us-east-1: latest \S+ .* on 3\/4 remotes; 1 remote\(s\) failed/);
  const one = await call(client, 'get_replication_status', { region: 'eu-west-1' });
  assert.deepEqual(one.structuredContent.regions.map((x) => x.region), ['eu-west-1']);
  assert.equal((await call(client, 'get_replication_status', { region: 'mars-1' })).isError, true);
});

// A region endpoint with a data position in X-Agency-Data (as a gate sends it); 503 to its first
// `failFirst` requests.
async function dataEndpoint(t, data, failFirst = 0) {
  let n = 0;
  const srv = http.createServer((req, res) => {
    n += 1;
    res.writeHead(n <= failFirst ? 503 : 200, { 'content-type': 'text/plain', 'x-agency-data': data() });
    res.end('x\n');
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.after(() => { srv.closeAllConnections(); return new Promise((resolve) => srv.close(resolve)); });
  return `http://127.0.0.1:${srv.address().port}/health`;
}
const snapshotId = (ms, seq = 1) => new Date(ms).toISOString().replace(/[-:]/g, '') +
  `-${String(seq).padStart(6, '0')}`;

test('after a quiet period get_failover_status and get_replication_status show the controller\'s live probes and data positions; state.json (labelled) when it is down', async (t) => {
  const dir = tempDir(t);
  const stateDir = join(dir, 'state');
  // A real lineage on a file remote: us-east-1 written by replicate --once.
  const src = join(dir, 'src');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'hello');
  const remote = join(dir, 'remote');
  const rcfg = join(dir, 'rep.yaml');
  writeFileSync(rcfg, `source: ${src}\nregion: us-east-1\nstateDir: ${join(dir, 'st')}\nlisten: ""\n` +
    `remotes:\n  - {url: "file://${remote}"}\n`);
  assert.equal(run(['replicate', '--config', rcfg, '--once']).status, 0);
  const latest = JSON.parse(run(['snapshots', '--remote', `file://${remote}`, '--region', 'us-east-1', '--json']).stdout)
    .find((x) => x.latest).id;
  const latestMs = Date.parse(latest.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)\.(\d{3})Z.*$/, '$1-$2-$3T$4:$5:$6.$7Z'));
  const behind = snapshotId(latestMs - 2500, 3);
  const us = await dataEndpoint(t, () => `role=writer; lineage=us-east-1; epoch=0; caught-up=1; ready=1; snapshot=${latest}`, 1);
  const eu = await dataEndpoint(t, () => 'role=fenced; lineage=eu-west-1; epoch=1; caught-up=0; ready=0');
  const ap = await dataEndpoint(t, () => `role=follower; lineage=us-east-1; epoch=0; caught-up=0; ready=0; snapshot=${behind}; head-epoch=0; head=${latest}`);
  const port = await freePort();
  // One file for both roles, as in production: the MCP server finds the controller at `listen`.
  const cfg = mcpConfig(dir, {
    regions: `  - {name: us-east-1, endpoint: "${us}"}
  - {name: eu-west-1, endpoint: "${eu}"}
  - {name: ap-southeast-1, active: false, endpoint: "${ap}"}`,
    extra: `probe: {intervalSeconds: 0.3, timeoutSeconds: 0.25, failureThreshold: 3, successThreshold: 2}
listen: "127.0.0.1:${port}"
`,
    mcp: `, replication: {remotes: [{url: "file://${remote}"}]}`,
  });
  const ctl = await startController(t, cfg);
  const live = async () => JSON.parse(await (await fetch(`http://127.0.0.1:${port}/v1/status`)).text());
  await waitFor('a quiet period of >= 10 good probes', async () =>
    ((await live()).regions['us-east-1']?.consecutiveSuccesses ?? 0) >= 10);
  const stateBefore = readKey(stateDir, 'state.json');

  const client = await stdioClient(t, cfg);
  const s = await call(client, 'get_failover_status');
  assert.equal(s.isError, false, text(s));
  const now = await live();
  const out = s.structuredContent;
  assert.equal(out.observations.source, 'controller');
  assert.equal(out.observations.url, `http://127.0.0.1:${port}/v1/status`);
  for (const r of out.regions) {
    assert.ok(r.lastProbe, `${r.name}: live last probe`);
    assert.equal(r.lastProbe.ok, true, r.name);
    const lag = Date.parse(now.regions[r.name].lastProbe.at) - Date.parse(r.lastProbe.at);
    assert.ok(lag >= 0 && lag < 1500, `${r.name}: the probe shown is the controller's latest (${lag} ms older)`);
    assert.match(r.reason, /^healthy: \d+ consecutive successes$/, r.name);
    assert.ok(r.consecutiveSuccesses >= 10, r.name);
  }
  const by = Object.fromEntries(out.regions.map((r) => [r.name, r]));
  assert.match(by['us-east-1'].statusReason, /^first probe failed: /);
  assert.equal(by['us-east-1'].data.role, 'writer');
  assert.equal(by['eu-west-1'].data.fenced, true);
  assert.equal(by['ap-southeast-1'].data.behindSeconds, 2.5);
  assert.match(text(s), /us-east-1: healthy: \d+ consecutive successes; writer of us-east-1 @ epoch 0, data ready/);
  assert.match(text(s), /eu-west-1: .*FENCED fenced of eu-west-1 @ epoch 1/);
  assert.match(text(s), /ap-southeast-1: .*follower of us-east-1 @ epoch 0, 2\.5 s behind/);
  assert.equal(readKey(stateDir, 'state.json'), stateBefore, 'reading live status wrote nothing');

  // get_replication_status: the lineage, its writer and how far behind each follower is.
  const rep = await call(client, 'get_replication_status', { region: 'us-east-1' });
  assert.equal(rep.isError, false, text(rep));
  const lin = rep.structuredContent.regions[0];
  assert.equal(lin.latest.id, latest);
  const pos = Object.fromEntries(lin.positions.map((p) => [p.region, p]));
  assert.deepEqual(Object.keys(pos).sort(), ['ap-southeast-1', 'us-east-1']);
  assert.equal(pos['us-east-1'].role, 'writer');
  assert.equal(pos['us-east-1'].behindLatestSeconds, 0);
  assert.equal(pos['ap-southeast-1'].role, 'follower');
  assert.equal(pos['ap-southeast-1'].behindLatestSeconds, 2.5);
  assert.match(text(rep), /ap-southeast-1: follower of us-east-1 @ epoch 0, 2\.5 s behind .*; 2\.5 s behind the latest/);

  // The controller gone: the state's observations, labelled with their age and the error.
  ctl.child.kill('SIGTERM');
  await ctl.exited;
  const down = (await call(client, 'get_failover_status')).structuredContent;
  assert.equal(down.observations.source, 'state');
  assert.match(down.observations.controllerError, /127\.0\.0\.1/);
  assert.equal(down.observations.asOf, JSON.parse(readKey(stateDir, 'state.json')).updatedAt);
  for (const r of down.regions) {
    assert.ok(r.lastProbe, `${r.name}: state.json has a probe (written after the first round)`);
    assert.equal(r.data, null);
  }
});

test('a drill report fetched by a fresh MCP process has its failover time, from the controller\'s persisted decisions', async (t) => {
  const dir = tempDir(t);
  const stateDir = join(dir, 'state');
  const posFile = join(dir, 'ap-position.json');
  writeFileSync(posFile, JSON.stringify({ lineage: 'us-east-1', role: 'follower', epoch: 2, caughtUp: true,
    dataReady: false, snapshot: snapshotId(Date.now()), head: snapshotId(Date.now()), headEpoch: 2 }));
  const gate = async (region, extra = '') => {
    const cfg = join(dir, `gate-${region}.yaml`);
    writeFileSync(cfg, `region: ${region}\nlisten: "127.0.0.1:0"\nstate: {file: "${stateDir}"}\n${extra}`);
    return startRole(t, ['gate', '--config', cfg], 'gate starting');
  };
  const [gus, geu, gap] = await Promise.all([gate('us-east-1'), gate('eu-west-1'),
    gate('ap-southeast-1', `positionFile: ${posFile}\n`)]);
  const url = (g) => `http://127.0.0.1:${g.port}/health`;
  const port = await freePort();
  const cfg = mcpConfig(dir, {
    regions: `  - {name: us-east-1, endpoint: "${url(gus)}"}
  - {name: eu-west-1, endpoint: "${url(geu)}"}
  - {name: ap-southeast-1, active: false, endpoint: "${url(gap)}"}`,
    extra: `probe: {intervalSeconds: 0.2, timeoutSeconds: 0.1, failureThreshold: 3, successThreshold: 2}
policy: {failbackSeconds: 0.5}
listen: "127.0.0.1:${port}"
`,
  });
  await startController(t, cfg);
  await waitFor('first round observed', () => {
    const st = readKey(stateDir, 'state.json');
    return st !== null && Object.values(JSON.parse(st).regions).every((r) => r.lastProbe);
  });
  // One process per call, as the MCP Inspector CLI does: nobody watches the state in between.
  const once = async (name, args) => {
    const c = new Client({ name: 'aha-system-test', version: '1.0.0' });
    await c.connect(new StdioClientTransport({ command: BIN, args: ['mcp', '--config', cfg], stderr: 'ignore' }));
    try { return await call(c, name, args); } finally { await c.close(); }
  };
  const sim = await once('simulate_regional_outage', { region: 'us-east-1', duration_seconds: 2 });
  assert.equal(sim.isError, false, text(sim));
  const id = sim.structuredContent.drillId;
  await waitFor('failed over', () => readKey(stateDir, 'failedRegions') === 'us-east-1\n');
  await waitFor('failed back', () => readKey(stateDir, 'failedRegions') === '' &&
    readKey(stateDir, 'servingRegions') === 'eu-west-1\nus-east-1\n', 20000);

  const r = await once('get_drill_report', { drill_id: id });
  assert.equal(r.isError, false, text(r));
  const rep = r.structuredContent;
  const st = JSON.parse(readKey(stateDir, 'state.json'));
  const tr = (type, region) => st.transitions.find((x) => x.type === type && x.region === region &&
    Date.parse(x.at) >= Date.parse(rep.timeline.injectedAt));
  const failed = tr('RegionFailed', 'us-east-1');
  const promoted = tr('RegionPromoted', 'ap-southeast-1');
  const later = (a, b) => (Date.parse(a) >= Date.parse(b) ? a : b);
  assert.equal(rep.timeline.servingChangedAt, Date.parse(promoted.at) < Date.parse(failed.at) ? promoted.at : failed.at);
  assert.equal(rep.timelineSources.servingChangedAt, 'controller-decision');
  assert.equal(rep.durationsSeconds.injectedToServingChanged,
    (Date.parse(rep.timeline.servingChangedAt) - Date.parse(rep.timeline.injectedAt)) / 1000);
  assert.equal(rep.timeline.servingRestoredAt,
    later(tr('RegionRecovered', 'us-east-1').at, tr('RegionDemoted', 'ap-southeast-1').at));
  assert.equal(rep.complete, true);
  assert.match(text(r), /failover: \d+\.\d+ s/);
  // The data positions recorded with the drill and read now (ap-southeast-1's gate reports its file).
  assert.equal(rep.positions.atInjection['ap-southeast-1'].role, 'follower');
  assert.equal(rep.positions.atInjection['ap-southeast-1'].lineage, 'us-east-1');
  assert.equal(rep.positions.now['ap-southeast-1'].epoch, 2);
  assert.equal(rep.positions.now['us-east-1'], null, 'no position file: not reported');
  assert.match(text(r), /data now:\n(.*\n){2} +ap-southeast-1: follower of us-east-1 @ epoch 2, caught up/);
});

// Hostile state, black-box: an operator's hand edit with a wrong type (the runbook has them edit
// state keys), or a type-confused record on a remote, must not take a role down. The MCP server
// answers a tool error naming the key and stays up (also across a restart); `restore` and
// `replicate` report the bad record and exit with an error instead of aborting (exit 134).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { run, tempDir } from './helpers.mjs';

const THREE = `  - {name: us-east-1, endpoint: "http://127.0.0.1:9/health"}
  - {name: eu-west-1, endpoint: "http://127.0.0.1:9/health"}
  - {name: ap-southeast-1, active: false, endpoint: "http://127.0.0.1:9/health"}`;

function mcpConfig(dir, mcp = '') {
  const path = join(dir, 'mcp.yaml');
  writeFileSync(path, `regions:\n${THREE}\nstate: {file: "${join(dir, 'state')}"}\n` +
    `mcp: {minDurationSeconds: 1, maxDurationSeconds: 600, defaultDurationSeconds: 60${mcp}}\n`);
  return path;
}

function writeKey(stateDir, key, value) {
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(stateDir, key), value);
}

async function connect(t, cfg) {
  const stderr = [];
  const client = new Client({ name: 'aha-hostile-test', version: '1.0.0' });
  const transport = new StdioClientTransport({ command: process.env.AHA_BINARY, args: ['mcp', '--config', cfg],
    stderr: 'pipe' });
  transport.stderr?.on('data', (d) => stderr.push(d.toString()));
  await client.connect(transport);
  t.after(() => client.close());
  return { client, stderr, transport };
}

const text = (r) => r.content.map((c) => c.text).join('\n');
const call = (client, name, args = {}) => client.callTool({ name, arguments: args });

test('mcp: a corrupt drills entry or state.json is a tool error; the server stays up, also after a restart', async (t) => {
  const dir = tempDir(t);
  const stateDir = join(dir, 'state');
  writeKey(stateDir, 'failedRegions', '');
  writeKey(stateDir, 'servingRegions', 'eu-west-1\nus-east-1\n');
  // A drills entry with a numeric failureType; state.json with a region that is a number.
  writeKey(stateDir, 'drills', JSON.stringify({ apiVersion: 'agency-ha/v1', drills: [{ id: 'd1',
    region: 'us-east-1', failureType: 5, injectedAt: '2026-11-27T17:00:00Z', expiresAt: '2026-11-27T17:01:00Z' }] }));
  writeKey(stateDir, 'state.json', JSON.stringify({ regions: { 'us-east-1': 5 } }));
  const cfg = mcpConfig(dir);
  for (const round of ['first start', 'restart']) {
    const { client, stderr } = await connect(t, cfg);
    let r = await call(client, 'get_failover_status');
    assert.equal(r.isError, true, round);
    assert.match(text(r), /state\.json/);
    r = await call(client, 'get_drill_report', { region: 'us-east-1' });
    assert.equal(r.isError, true);
    assert.match(text(r), /drills\.drills\[0\]\.failureType: expected string, got number 5/);
    r = await call(client, 'simulate_regional_outage', { region: 'eu-west-1', dry_run: true });
    assert.equal(r.isError, true);
    assert.match(text(r), /drills key is malformed/);
    r = await call(client, 'list_regions');
    assert.equal(r.isError, false, text(r));
    // Still the same process, still answering.
    assert.ok((await client.listTools()).tools.length >= 6);
    assert.ok(stderr.join('').includes('drills key is malformed'), 'the watcher logged the bad key');
    await client.close();
  }
  // Once the key is repaired, the tools work again without a restart of anything.
  const { client } = await connect(t, cfg);
  writeKey(stateDir, 'state.json', '');
  writeKey(stateDir, 'drills', '');
  const r = await call(client, 'simulate_regional_outage', { region: 'eu-west-1', dry_run: true });
  assert.equal(r.isError, false, text(r));
});

test('restore, snapshots and get_replication_status report a type-confused record instead of aborting', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'hello');
  const remote = join(dir, 'remote');
  const cfg = join(dir, 'rep.yaml');
  writeFileSync(cfg, `source: ${src}\nregion: us-east-1\nstateDir: ${join(dir, 'st')}\nlisten: ""\n` +
    `remotes:\n  - {url: "file://${remote}"}\n`);
  let r = run(['replicate', '--config', cfg, '--once']);
  assert.equal(r.status, 0, r.stderr);
  // Corrupt the record: a string mode and datasets: [1].
  const snaps = join(remote, 'us-east-1', 'snapshots');
  const [name] = readdirSync(snaps);
  const rec = JSON.parse(readFileSync(join(snaps, name), 'utf8'));
  rec.files[0].mode = '644';
  rec.datasets = [1];
  writeFileSync(join(snaps, name), JSON.stringify(rec));

  r = run(['restore', '--region', 'us-east-1', '--to', join(dir, 'out'), '--remote', `file://${remote}`]);
  assert.notEqual(r.status, 0);
  assert.equal(r.signal, null, 'not aborted');
  assert.notEqual(r.status, 134);
  assert.match(r.stderr, /files\[0\]\.mode: expected non-negative integer, got string/);

  r = run(['snapshots', '--remote', `file://${remote}`, '--region', 'us-east-1', '--json']);
  assert.equal(r.signal, null, 'not aborted');
  assert.notEqual(r.status, 134);

  const mcpDir = join(dir, 'mcp');
  mkdirSync(mcpDir);
  const { client } = await connect(t, mcpConfig(mcpDir, `, replication: {remotes: [{url: "file://${remote}"}]}`));
  const s = await call(client, 'get_replication_status', { region: 'us-east-1' });
  assert.equal(s.isError, false, text(s));
  const row = s.structuredContent.regions[0];
  assert.deepEqual(row.failed.map((f) => f.remote), [`file://${remote}`]);
  assert.match(row.failed[0].error, /files\[0\]\.mode/);
  assert.equal((await call(client, 'list_regions')).isError, false, 'still up');
});

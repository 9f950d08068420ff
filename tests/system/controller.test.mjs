// Black-box tests of `agency-ha controller` and the CLI: the real binary, real HTTP endpoints on
// loopback, the real state directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import {
  BIN, Endpoint, get, readKey, regionList, run, runAsync, startController, tempDir, waitFor, writeConfig,
} from './helpers.mjs';

test('version and help', () => {
  const v = run(['--version']);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^agency-ha \d+\.\d+\.\d+/);
  const h = run(['help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /controller/);
  assert.match(h.stdout, /demo/);
  const bad = run(['no-such-role']);
  assert.notEqual(bad.status, 0);
});

function config(stateDir, regions, extra = '') {
  const r = regions
    .map((x) => `  - {name: ${x.name}, active: ${x.active ?? true}, endpoint: "${x.url}"` +
      (x.priority !== undefined ? `, priority: ${x.priority}` : '') + '}')
    .join('\n');
  return `regions:\n${r}\nprobe: {intervalSeconds: 0.2, timeoutSeconds: 0.1, failureThreshold: 3, successThreshold: 2}\n` +
    `policy: {failbackSeconds: 1}\nstate: {file: "${stateDir}"}\nlisten: "127.0.0.1:0"\n${extra}`;
}

test('--check accepts a valid config and writes nothing', (t) => {
  const dir = tempDir(t);
  const stateDir = join(dir, 'state');
  const cfg = writeConfig(dir, config(stateDir, [{ name: 'us-east-1', url: 'http://127.0.0.1:1/h' }]));
  const r = run(['controller', '--config', cfg, '--check']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /valid/);
  assert.equal(existsSync(stateDir), false);
});

const badConfigs = [
  ['duplicate name', (s) => config(s, [{ name: 'eu-west-1', url: 'http://127.0.0.1:1/h' }, { name: 'eu-west-1', url: 'http://127.0.0.1:2/h' }]),
    /regions\[1\]\.name: duplicate region "eu-west-1"/],
  ['unknown key', (s) => config(s, [{ name: 'a', url: 'http://127.0.0.1:1/h' }], 'failureTreshold: 3\n'),
    /failureTreshold: unknown key/],
  ['shell metacharacters', (s) => config(s, [{ name: '"a;touch /tmp/pwned"', url: 'http://127.0.0.1:1/h' }]),
    /regions\[0\]\.name: invalid region name "a;touch \/tmp\/pwned"/],
  ['uppercase', (s) => config(s, [{ name: 'US-EAST-1', url: 'http://127.0.0.1:1/h' }]),
    /regions\[0\]\.name: invalid region name "US-EAST-1"/],
  ['timeout >= interval', (s) => config(s, [{ name: 'a', url: 'http://127.0.0.1:1/h' }]).replace('timeoutSeconds: 0.1', 'timeoutSeconds: 0.2'),
    /probe\.timeoutSeconds: must be less than/],
  ['bad URL', (s) => config(s, [{ name: 'a', url: 'htp:/nowhere' }]), /regions\[0\]\.endpoint: invalid URL/],
  ['malformed YAML', () => 'regions: [\n  {name: a', /invalid YAML at line/],
];

for (const [name, make, expected] of badConfigs) {
  test(`bad config (${name}): exit 2, key named, nothing written`, (t) => {
    const dir = tempDir(t);
    const stateDir = join(dir, 'state');
    const cfg = writeConfig(dir, make(stateDir));
    for (const args of [['--check'], []]) {
      const r = run(['controller', '--config', cfg, ...args]);
      assert.equal(r.status, 2, `args ${args}: ${r.stderr}`);
      assert.match(r.stderr, expected);
      assert.equal(existsSync(stateDir), false, 'state dir must not be created');
    }
    assert.equal(existsSync('/tmp/pwned'), false);
  });
}

test('missing config file: exit 2', (t) => {
  const dir = tempDir(t);
  const r = run(['controller', '--config', join(dir, 'nope.yaml')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /nope\.yaml/);
});

test('unwritable state dir: exit 2, nothing written', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'file'), 'x');
  const cfg = writeConfig(dir, config(join(dir, 'file', 'state'), [{ name: 'a', url: 'http://127.0.0.1:1/h' }]));
  const r = run(['controller', '--config', cfg]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /state\.file: .*file\/state/);
  assert.deepEqual(readdirSync(dir).sort(), ['controller.yaml', 'file']);
});

test('fails an active region, promotes the passive one, recovers and fails back', async (t) => {
  const dir = tempDir(t);
  const stateDir = join(dir, 'state');
  const us = await new Endpoint().up();
  const eu = await new Endpoint().up();
  const ap = await new Endpoint().up();
  t.after(() => Promise.all([us.down(), eu.down(), ap.down()]));
  const cfg = writeConfig(dir, config(stateDir, [
    { name: 'us-east-1', url: us.url },
    { name: 'eu-west-1', url: eu.url },
    { name: 'ap-southeast-1', url: ap.url, active: false },
  ]));
  const ctl = await startController(t, cfg);

  await waitFor('initial state', () => readKey(stateDir, 'servingRegions') === 'eu-west-1\nus-east-1\n');
  assert.equal(readKey(stateDir, 'failedRegions'), '');
  await waitFor('ready', async () => (await get(ctl.port, '/readyz')).status === 200);
  assert.equal((await get(ctl.port, '/healthz')).status, 200);

  await us.down();
  await waitFor('us-east-1 failed', () => readKey(stateDir, 'failedRegions') === 'us-east-1\n');
  assert.deepEqual(regionList(stateDir, 'servingRegions'), ['ap-southeast-1', 'eu-west-1']);

  const status = JSON.parse((await get(ctl.port, '/v1/status')).body);
  assert.equal(status.regions['us-east-1'].status, 'failed');
  assert.equal(status.regions['ap-southeast-1'].promoted, true);
  assert.deepEqual(status.regions['ap-southeast-1'].promotedFor, ['us-east-1']);
  assert.match(status.regions['us-east-1'].lastProbe.detail, /refused/);
  assert.equal(status.panic, false);

  const metrics = (await get(ctl.port, '/metrics'));
  assert.match(metrics.type, /text\/plain/);
  assert.match(metrics.body, /agency_ha_region_failed\{region="us-east-1"\} 1\n/);
  assert.match(metrics.body, /agency_ha_region_serving\{region="ap-southeast-1"\} 1\n/);
  assert.match(metrics.body, /agency_ha_transitions_total\{region="us-east-1",type="RegionFailed"\} 1\n/);
  assert.match(metrics.body, /agency_ha_probe_duration_seconds_bucket\{region="eu-west-1",le="\+Inf"\} \d+/);
  assert.match(metrics.body, /agency_ha_panic 0\n/);

  const state = JSON.parse(readKey(stateDir, 'state.json'));
  assert.equal(state.regions['us-east-1'].status, 'failed');
  assert.ok(state.transitions.some((x) => x.type === 'RegionPromoted' && x.region === 'ap-southeast-1'));

  await us.up();
  await waitFor('us-east-1 recovered', () => readKey(stateDir, 'failedRegions') === '');
  await waitFor('ap-southeast-1 demoted', () => readKey(stateDir, 'servingRegions') === 'eu-west-1\nus-east-1\n');

  // One JSON log line per transition.
  const events = ctl.lines.filter((l) => l.msg === 'region transition').map((l) => `${l.event}:${l.region}`);
  assert.deepEqual(events, ['RegionFailed:us-east-1', 'RegionPromoted:ap-southeast-1',
    'RegionRecovered:us-east-1', 'RegionDemoted:ap-southeast-1']);

  ctl.child.kill('SIGTERM');
  const code = await ctl.exited;
  assert.equal(code, 0);
  assert.ok(ctl.lines.some((l) => l.msg === 'controller stopped'));
});

test('every region down: panic keeps the serving set and says so', async (t) => {
  const dir = tempDir(t);
  const stateDir = join(dir, 'state');
  const a = await new Endpoint().up();
  const b = await new Endpoint().up();
  t.after(() => Promise.all([a.down(), b.down()]));
  const ctl = await startController(t, writeConfig(dir, config(stateDir, [
    { name: 'a', url: a.url }, { name: 'b', url: b.url }])));
  await waitFor('ready', async () => (await get(ctl.port, '/readyz')).status === 200);
  a.status = 503;
  b.status = 503;
  await waitFor('both failed', () => readKey(stateDir, 'failedRegions') === 'a\nb\n');
  assert.equal(readKey(stateDir, 'servingRegions'), 'a\nb\n', 'serving set never drained');
  const state = JSON.parse(readKey(stateDir, 'state.json'));
  assert.equal(state.panic, true);
  await waitFor('panic metric', async () => /agency_ha_panic 1\n/.test((await get(ctl.port, '/metrics')).body));
  assert.ok(ctl.lines.some((l) => l.level === 'error' && l.event === 'PanicEntered'));
  a.status = 200;
  await waitFor('panic over', () => JSON.parse(readKey(stateDir, 'state.json')).panic === false);
  assert.equal(readKey(stateDir, 'servingRegions'), 'a\n');
});

test('a restart reads the state back and does not flap', async (t) => {
  const dir = tempDir(t);
  const stateDir = join(dir, 'state');
  const a = await new Endpoint().up();
  const b = await new Endpoint().up();
  t.after(() => Promise.all([a.down(), b.down()]));
  const cfg = writeConfig(dir, config(stateDir, [{ name: 'a', url: a.url }, { name: 'b', url: b.url }]));
  let ctl = await startController(t, cfg);
  await b.down();
  await waitFor('b failed', () => readKey(stateDir, 'failedRegions') === 'b\n');
  const before = JSON.parse(readKey(stateDir, 'state.json'));
  ctl.child.kill('SIGTERM');
  assert.equal((await ctl.exited), 0);

  ctl = await startController(t, cfg);
  await waitFor('ready', async () => (await get(ctl.port, '/readyz')).status === 200);
  await new Promise((r) => setTimeout(r, 1000)); // five probe rounds with b still down
  assert.equal(readKey(stateDir, 'failedRegions'), 'b\n');
  const after = JSON.parse(readKey(stateDir, 'state.json'));
  assert.equal(after.generation, before.generation, 'no decision changed across the restart');
  assert.equal(after.regions.b.since, before.regions.b.since);
  assert.ok(!ctl.lines.some((l) => l.msg === 'region transition'), 'no transition after restart');
  ctl.child.kill('SIGTERM');
  assert.equal((await ctl.exited), 0);
});

test('malformed persisted state is replaced, with a warning', async (t) => {
  const dir = tempDir(t);
  const stateDir = join(dir, 'state');
  const a = await new Endpoint().up();
  t.after(() => a.down());
  const cfg = writeConfig(dir, config(stateDir, [{ name: 'a', url: a.url }]));
  // A plain file, as someone editing the directory by hand would leave it.
  const { mkdirSync } = await import('node:fs');
  mkdirSync(stateDir);
  writeFileSync(join(stateDir, 'state.json'), '{not json');
  const ctl = await startController(t, cfg);
  await waitFor('rewritten', () => {
    try { return JSON.parse(readKey(stateDir, 'state.json')).apiVersion === 'agency-ha/v1'; } catch { return false; }
  });
  assert.ok(ctl.lines.some((l) => l.level === 'warn' && /malformed/.test(l.msg)));
  ctl.child.kill('SIGTERM');
  assert.equal((await ctl.exited), 0);
});

test('probe: one round against real endpoints, exit code says whether all are up', async (t) => {
  const up = await new Endpoint().up();
  const bad = await new Endpoint().up();
  bad.status = 503;
  t.after(() => Promise.all([up.down(), bad.down()]));
  let r = await runAsync(['probe', up.url, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const [res] = JSON.parse(r.stdout);
  assert.equal(res.ok, true);
  assert.equal(res.detail, 'HTTP 200');
  r = await runAsync(['probe', up.url, bad.url]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /DOWN .*HTTP 503/);
  r = await runAsync(['probe', 'ftp://x/']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /invalid URL "ftp:\/\/x\/"/);
});

// A region endpoint that answers 503 to its first `failFirst` probes, then 200, and carries a data
// position in X-Agency-Data as a gate does (docs/WRITER.md).
class DataEndpoint {
  constructor({ data = '', failFirst = 0 } = {}) {
    this.data = data;
    this.failFirst = failFirst;
    this.requests = 0;
  }
  async up() {
    this.server = http.createServer((req, res) => {
      this.requests += 1;
      const headers = { 'content-type': 'text/plain' };
      if (this.data) headers['x-agency-data'] = this.data;
      res.writeHead(this.requests <= this.failFirst ? 503 : 200, headers);
      res.end('x\n');
    });
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = this.server.address().port;
    return this;
  }
  async down() {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
  get url() { return `http://127.0.0.1:${this.port}/health`; }
}

// A snapshot id (replication/snapshot.h MakeSnapshotId) for a time in ms.
const snapshotId = (ms, seq = 1) => new Date(ms).toISOString().replace(/[-:]/g, '') +
  `-${String(seq).padStart(6, '0')}`;

test('quiet system: /v1/status shows live probes, reasons describe the current state, data positions per region; the state is written once after the first round and not again', async (t) => {
  const dir = tempDir(t);
  const stateDir = join(dir, 'state');
  const head = Date.parse('2026-12-04T10:00:10.500Z');
  const us = await new DataEndpoint({ failFirst: 1,
    data: `role=writer; lineage=us-east-1; epoch=4; caught-up=1; ready=1; snapshot=${snapshotId(head)}` }).up();
  const eu = await new DataEndpoint({ data: 'role=fenced; lineage=eu-west-1; epoch=2; caught-up=0; ready=0' }).up();
  const ap = await new DataEndpoint({ data: `role=follower; lineage=us-east-1; epoch=4; caught-up=0; ready=0; ` +
    `snapshot=${snapshotId(head - 4500, 7)}; head-epoch=4; head=${snapshotId(head)}` }).up();
  t.after(() => Promise.all([us.down(), eu.down(), ap.down()]));
  const cfg = writeConfig(dir, config(stateDir, [
    { name: 'us-east-1', url: us.url }, { name: 'eu-west-1', url: eu.url },
    { name: 'ap-southeast-1', url: ap.url, active: false }]));
  const ctl = await startController(t, cfg);
  const status = async () => JSON.parse((await get(ctl.port, '/v1/status')).body);
  const writes = async () => Number((await get(ctl.port, '/metrics')).body
    .match(/^agency_ha_state_writes_total (\d+)/m)?.[1] ?? 0);

  // us-east-1's first probe failed (fewer than failureThreshold), every later one succeeded.
  // Until the controller has read its state, /v1/status lists no regions yet.
  await waitFor('a quiet period of >= 10 good probes', async () =>
    ((await status()).regions['us-east-1']?.consecutiveSuccesses ?? 0) >= 10);
  const st = await status();
  const r = st.regions['us-east-1'];
  assert.equal(r.status, 'healthy');
  assert.equal(r.reason, `healthy: ${r.consecutiveSuccesses} consecutive successes`);
  assert.match(r.statusReason, /^first probe failed: /, 'why it has had its status, kept apart');
  assert.equal(st.live, true);
  assert.ok(Date.now() - Date.parse(r.lastProbe.at) < 2000, 'the last probe is live');

  // Data positions: who writes which lineage, who is fenced, how far behind the head a follower is.
  assert.deepEqual(
    (({ role, lineage, epoch, fenced, caughtUp, ready }) => ({ role, lineage, epoch, fenced, caughtUp, ready }))(r.data),
    { role: 'writer', lineage: 'us-east-1', epoch: 4, fenced: false, caughtUp: true, ready: true });
  assert.equal(st.regions['eu-west-1'].data.fenced, true);
  const f = st.regions['ap-southeast-1'].data;
  assert.equal(f.role, 'follower');
  assert.equal(f.lineage, 'us-east-1');
  assert.equal(f.behindSeconds, 4.5);
  assert.equal(f.headEpoch, 4);
  assert.equal(f.snapshot, snapshotId(head - 4500, 7));

  // The state: written once after the first round (no "not observed yet" left), then quiet.
  const saved = JSON.parse(readKey(stateDir, 'state.json'));
  for (const [name, x] of Object.entries(saved.regions)) {
    assert.ok(x.lastProbe, `${name}: state.json has a probe result`);
    assert.notEqual(x.reason, 'not observed yet', name);
  }
  const before = { text: readKey(stateDir, 'state.json'), writes: await writes() };
  await new Promise((res) => setTimeout(res, 1000));
  assert.equal(readKey(stateDir, 'state.json'), before.text, 'a quiet system writes nothing');
  assert.equal(await writes(), before.writes);
});

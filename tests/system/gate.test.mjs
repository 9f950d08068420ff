// Black-box tests of `agency-ha gate` with the file state source: the real binary, a real app
// health endpoint, and the state directory written the way the controller writes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Endpoint, get, run, runAsync, startController, startGate, tempDir, waitFor, writeConfig } from './helpers.mjs';

function writeKey(dir, key, value) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `.${key}.tmp`), value);
  renameSync(join(dir, `.${key}.tmp`), join(dir, key)); // atomic, like the controller's writes
}

function startFileGate(t, dir, region, stateDir, appUrl) {
  const extra = `${appUrl ? `appHealthUrl: "${appUrl}"\n` : ''}appTimeoutSeconds: 0.5\n`;
  return startGate(t, dir, region, `{file: "${stateDir}"}`, extra);
}

const ready = async (g) => (await get(g.port, '/ready')).status;
const health = async (g) => (await get(g.port, '/health')).status;

test('gate: serving by default, drained by servingRegions, health independent of serving', async (t) => {
  const dir = tempDir(t);
  const stateDir = join(dir, 'state');
  const app = await new Endpoint().up();
  t.after(() => app.down());
  const g = await startFileGate(t, dir, 'eu-west-1', stateDir, app.url);
  assert.equal(await ready(g), 200, 'no state yet: serving by default');
  assert.match((await get(g.port, '/ready')).body, /not (read|written) yet/);

  writeKey(stateDir, 'servingRegions', 'eu-west-1\nus-east-1\n');
  await waitFor('synced', async () => JSON.parse((await get(g.port, '/v1/status')).body).synced);
  assert.equal(await ready(g), 200);

  // Exact names: eu-west-10 is not eu-west-1.
  writeKey(stateDir, 'servingRegions', 'eu-west-10\nus-east-1\n');
  await waitFor('drained', async () => (await ready(g)) === 503, 2000);
  assert.match((await get(g.port, '/ready')).body, /not in servingRegions/);
  assert.equal(await health(g), 200, '/health ignores the serving decision');

  writeKey(stateDir, 'servingRegions', 'eu-west-1\n');
  await waitFor('serving again', async () => (await ready(g)) === 200, 2000);

  // App unhealthy: both fail.
  app.status = 500;
  assert.equal(await health(g), 503);
  assert.equal(await ready(g), 503);
  assert.match((await get(g.port, '/health')).body, /HTTP 500/);
  app.status = 200;
  await app.down();
  assert.equal(await health(g), 503, 'app down: connection refused is unhealthy');
  await app.up();
  assert.equal(await health(g), 200);

  // Exec-probe helper.
  assert.equal((await runAsync(['gate', 'check', '--config', g.cfg])).status, 0);
  writeKey(stateDir, 'servingRegions', 'us-east-1\n');
  await waitFor('drained', async () => (await ready(g)) === 503, 2000);
  const chk = (await runAsync(['gate', 'check', '--config', g.cfg]));
  assert.equal(chk.status, 1);
  assert.match(chk.stderr, /not in servingRegions/);

  g.child.kill('SIGTERM');
  assert.equal(await g.exited, 0);
  assert.equal((await runAsync(['gate', 'check', '--config', g.cfg])).status, 1, 'unreachable gate: not ready');
});

test('gate: simulated outages make /health fail until they expire', async (t) => {
  const dir = tempDir(t);
  const stateDir = join(dir, 'state');
  const g = await startFileGate(t, dir, 'us-east-1', stateDir, null);
  const now = Date.now();
  const outage = (region, ms) => ({ id: `drill-${region}`, region, failureType: 'health',
    startedAt: new Date(now).toISOString(), expiresAt: new Date(now + ms).toISOString(), by: 'test' });
  writeKey(stateDir, 'simulatedOutages', JSON.stringify({ apiVersion: 'agency-ha/v1',
    outages: [outage('us-east-1', 1500), outage('eu-west-1', 60000)] }));
  await waitFor('outage active', async () => (await health(g)) === 503, 2000);
  assert.match((await get(g.port, '/health')).body, /simulated outage drill-us-east-1/);
  assert.equal(await ready(g), 503);
  // Expiry is judged by the gate's clock: no writer needs to be alive to end the drill.
  await waitFor('outage expired', async () => (await health(g)) === 200, 5000);
  assert.ok(Date.now() - now >= 1400, 'not before its expiry');
});

test('gate: malformed state keeps the last known values (fail-static)', async (t) => {
  const dir = tempDir(t);
  const stateDir = join(dir, 'state');
  const g = await startFileGate(t, dir, 'us-east-1', stateDir, null);
  writeKey(stateDir, 'servingRegions', 'eu-west-1\n');
  await waitFor('drained', async () => (await ready(g)) === 503, 2000);
  writeKey(stateDir, 'servingRegions', 'us-east-1; rm -rf /\n');
  await waitFor('problem reported', async () =>
    JSON.parse((await get(g.port, '/v1/status')).body).problems !== null, 2000);
  assert.equal(await ready(g), 503, 'still drained: the last good value stays in force');
  assert.ok(g.lines.some((l) => l.level === 'error' && /fail-static/.test(l.msg)));
  writeKey(stateDir, 'servingRegions', 'us-east-1\n');
  await waitFor('serving', async () => (await ready(g)) === 200, 2000);
});

test('gate: a wrong-typed simulatedOutages entry or invalid UTF-8 keeps the last known state (fail-static)', async (t) => {
  const dir = tempDir(t);
  const stateDir = join(dir, 'state');
  const g = await startFileGate(t, dir, 'us-east-1', stateDir, null);
  const now = Date.now();
  const outage = (region) => ({ id: `drill-${region}`, region, failureType: 'health',
    startedAt: new Date(now).toISOString(), expiresAt: new Date(now + 60000).toISOString(), by: 'test' });
  // Last known state: us-east-1 serving, a drill active for eu-west-1 only.
  writeKey(stateDir, 'servingRegions', 'us-east-1\n');
  writeKey(stateDir, 'simulatedOutages', JSON.stringify({ apiVersion: 'agency-ha/v1', outages: [outage('eu-west-1')] }));
  await waitFor('outage seen', async () =>
    JSON.parse((await get(g.port, '/v1/status')).body).outages.length === 1, 2000);

  // A hand edit with a wrong type, in another region's entry.
  const bad = outage('eu-west-1');
  bad.id = 5;
  writeKey(stateDir, 'simulatedOutages', JSON.stringify({ apiVersion: 'agency-ha/v1', outages: [outage('us-east-1'), bad] }));
  await waitFor('problem reported', async () => {
    const r = await get(g.port, '/v1/status');
    return r.status === 200 && JSON.parse(r.body).problems !== null;
  }, 2000);
  const st = JSON.parse((await get(g.port, '/v1/status')).body);
  assert.match(st.problems, /simulatedOutages\.outages\[1\]\.id: expected string, got number/);
  assert.deepEqual(st.outages.map((o) => o.region), ['eu-west-1'], 'the last known outages stay in force');
  assert.equal(await health(g), 200, 'the us-east-1 entry of the malformed key is not applied');
  assert.equal(await ready(g), 200);
  assert.match((await get(g.port, '/ready')).body, /fail-static: simulatedOutages malformed/);
  assert.equal((await get(g.port, '/metrics')).status, 200);
  assert.ok(g.lines.some((l) => l.level === 'error' && /simulatedOutages is malformed/.test(l.msg) &&
    /outages\[1\]\.id/.test(l.error)), 'the log names the bad entry');

  // servingRegions with bytes that are not UTF-8: fail static too, and every endpoint answers.
  writeFileSync(join(stateDir, '.sr.tmp'), Buffer.from([0xff, 0xfe, 0x0a]));
  renameSync(join(stateDir, '.sr.tmp'), join(stateDir, 'servingRegions'));
  await waitFor('servingRegions problem reported', async () => {
    const r = await get(g.port, '/v1/status');
    return r.status === 200 && /servingRegions malformed/.test(JSON.parse(r.body).problems ?? '');
  }, 2000);
  assert.match(JSON.parse((await get(g.port, '/v1/status')).body).problems, /\\xff\\xfe/);
  for (const path of ['/health', '/ready', '/metrics']) {
    assert.equal((await get(g.port, path)).status, 200, path);
  }
  assert.equal(g.child.exitCode, null, 'still running');
});

test('gate: bad config exits 2 naming the key', (t) => {
  const dir = tempDir(t);
  const cfg = join(dir, 'g.yaml');
  writeFileSync(cfg, 'region: US_EAST\nstate: {file: /tmp/x}\n');
  let r = run(['gate', '--config', cfg]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /region: invalid region name "US_EAST"/);
  writeFileSync(cfg, 'region: a\nstate: {file: /tmp/x}\nlisten: nope\n');
  r = run(['gate', 'check', '--config', cfg]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /listen: invalid address "nope"/);
  writeFileSync(cfg, 'region: a\nstate: {}\n');
  r = run(['gate', '--config', cfg, '--check']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /state: set either file/);
});

test('full loop: drill on a region → controller fails it via the gate → gate drains → recovery visible', async (t) => {
  const dir = tempDir(t);
  const stateDir = join(dir, 'state');
  const gus = await startFileGate(t, dir, 'us-east-1', stateDir, null);
  const geu = await startFileGate(t, dir, 'eu-west-1', stateDir, null);
  const gap = await startFileGate(t, dir, 'ap-southeast-1', stateDir, null);
  const url = (g) => `http://127.0.0.1:${g.port}/health`;
  const cfg = writeConfig(dir, `regions:
  - {name: us-east-1, endpoint: "${url(gus)}"}
  - {name: eu-west-1, endpoint: "${url(geu)}"}
  - {name: ap-southeast-1, active: false, endpoint: "${url(gap)}"}
probe: {intervalSeconds: 0.2, timeoutSeconds: 0.1, failureThreshold: 3, successThreshold: 2}
policy: {failbackSeconds: 0.5}
state: {file: "${stateDir}"}
listen: "127.0.0.1:0"
`);
  const ctl = await startController(t, cfg);
  await waitFor('ap drained, us serving', async () => (await ready(gap)) === 503 && (await ready(gus)) === 200);

  // The drill: simulatedOutages for us-east-1, written beside the controller's keys.
  const drill = JSON.stringify({ apiVersion: 'agency-ha/v1', outages: [{
    id: 'd1', region: 'us-east-1', failureType: 'health', startedAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 2500).toISOString(), by: 'test' }] });
  const set = run(['state', 'set', '--dir', stateDir, 'simulatedOutages', '--value', drill]);
  assert.equal(set.status, 0, set.stderr);
  await waitFor('us-east-1 drained', async () => (await ready(gus)) === 503, 5000);
  await waitFor('ap-southeast-1 promoted', async () => (await ready(gap)) === 200, 5000);
  // Recovery is visible: the controller probes /health, which ignores servingRegions.
  await waitFor('us-east-1 back after expiry', async () => (await ready(gus)) === 200, 8000);
  await waitFor('ap-southeast-1 demoted', async () => (await ready(gap)) === 503, 5000);
  const events = ctl.lines.filter((l) => l.msg === 'region transition').map((l) => `${l.event}:${l.region}`);
  assert.deepEqual(events, ['RegionFailed:us-east-1', 'RegionPromoted:ap-southeast-1',
    'RegionRecovered:us-east-1', 'RegionDemoted:ap-southeast-1']);
});

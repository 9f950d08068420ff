// The chart's replication alerts against real metrics: writers whose remote is dead from
// start-up on an idle source (`replicate` and the `sidecar`), a healthy writer and a follower
// with a dead remote. Each role's real /metrics is scraped and the alert expressions rendered by
// helm are evaluated against the scrape (tests/support/promql.mjs, a small evaluator of exactly
// the operators these expressions use; promtool is not available here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { tempDir, startRole, freePort, get, waitFor } from './helpers.mjs';
import { parseExposition, evaluate } from '../support/promql.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const CHART = process.env.AHA_CHART || join(ROOT, 'deployment/chart/simple-cli');
const HELM = process.env.HELM || join(ROOT, 'node_modules/.tools/helm/helm');
const SINCE_START_MINUTES = 0.1; // 6 s: the alert's threshold in this test

function renderAlerts(dir) {
  const values = join(dir, 'alert-values.yaml');
  writeFileSync(values, `metrics: {prometheusRule: {noSnapshotSinceStartMinutes: ${SINCE_START_MINUTES}}}\n`);
  const r = spawnSync(HELM, ['template', 'simple-agency', CHART, '--namespace', 'agency',
    '-f', join(CHART, 'ci/monitoring-values.yaml'), '-f', values], { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, r.stderr);
  const rule = parseAllDocuments(r.stdout).map((d) => d.toJS()).find((o) => o?.kind === 'PrometheusRule');
  return Object.fromEntries(rule.spec.groups.flatMap((g) => g.rules).map((x) => [x.alert, x]));
}

// A dead S3 remote: a closed loopback port (connection refused), nothing leaves the machine.
const DEAD = '{url: "s3://agency-backup/agency", endpoint: "http://127.0.0.1:9", region: us-east-1, pathStyle: true}';
const ENV = { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_EC2_METADATA_DISABLED: 'true' };

async function start(t, dir, name, kind, remote, handoff = '') {
  const src = join(dir, name, 'src');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'notes.md'), 'idle\n'); // never changes: no inotify event ever fires
  const port = await freePort();
  const cfg = join(dir, name, 'config.yaml');
  writeFileSync(cfg, `source: ${src}\nregion: us-east-1\nremotes: [${remote}]\nlisten: "127.0.0.1:${port}"\n${handoff}`);
  const role = await startRole(t, [kind, '--config', cfg], `${kind} starting`, ENV);
  return { name, port, role, startedMs: Date.now() };
}

async function scrape(r) {
  const res = await get(r.port, '/metrics');
  assert.equal(res.status, 200);
  // The target labels a ServiceMonitor scrape adds; the alerts join on them.
  return parseExposition(res.body, { namespace: 'agency', pod: r.name });
}
const value = (samples, name) => samples.find((s) => s.labels.__name__ === name)?.value;

test('AgencyNoSnapshotSinceStart fires for writers that never published, not for a healthy writer or a follower', async (t) => {
  const dir = tempDir(t);
  const alerts = renderAlerts(dir);
  const since = alerts.AgencyNoSnapshotSinceStart;
  assert.ok(since, `no AgencyNoSnapshotSinceStart in ${Object.keys(alerts)}`);
  assert.equal(since.expr, `agency_ha_replication_lag_seconds > ${SINCE_START_MINUTES * 60} and on(namespace, pod) agency_ha_replication_last_success_timestamp_seconds == 0`);
  assert.equal(since.labels.severity, 'critical');
  const exprs = {
    since: since.expr,
    lagHigh: alerts.AgencyReplicationLagHigh.expr,
    noRecent: alerts.AgencyNoRecentSnapshot.expr,
  };
  const state = join(dir, 'state');
  mkdirSync(state);
  const handoff = (name, extra) => `handoff: {state: {file: "${state}"}, positionFile: "${join(dir, name, 'position.json')}"${extra}}\n`;
  const roles = await Promise.all([
    start(t, dir, 'replicate-dead', 'replicate', DEAD),
    start(t, dir, 'sidecar-dead', 'sidecar', DEAD, handoff('sidecar-dead', ', active: true')),
    start(t, dir, 'replicate-ok', 'replicate', `{url: "file://${join(dir, 'bucket')}"}`),
    start(t, dir, 'follower-dead', 'sidecar', DEAD, handoff('follower-dead', ', active: false, followRegion: eu-west-1, followIntervalSeconds: 0.5')),
  ]);
  const [repDead, carDead, repOk, follower] = roles;

  // From start-up: the start time and "never" are exported before any publish could succeed.
  for (const r of roles) {
    const s = await scrape(r);
    const started = value(s, 'agency_ha_replication_start_time_seconds');
    assert.ok(started > r.startedMs / 1000 - 60 && started <= Date.now() / 1000 + 1, `${r.name}: start time ${started}`);
    assert.notEqual(value(s, 'agency_ha_replication_last_success_timestamp_seconds'), undefined, `${r.name}: last success exported from start`);
  }

  // The healthy writer publishes its first capture: last success set, lag 0.
  await waitFor('the healthy replicate published', async () =>
    value(await scrape(repOk), 'agency_ha_replication_last_success_timestamp_seconds') > 0, 60000);

  // The dead writers: lag grows from start-up while the last success stays 0; the alert fires
  // once the lag passes the threshold (and not before).
  for (const r of [repDead, carDead]) {
    const early = await scrape(r);
    assert.equal(value(early, 'agency_ha_replication_last_success_timestamp_seconds'), 0, r.name);
    const lag = value(early, 'agency_ha_replication_lag_seconds');
    if (lag <= SINCE_START_MINUTES * 60) {
      assert.deepEqual(evaluate(exprs.since, early, Date.now() / 1000), [], `${r.name}: fired at lag ${lag}`);
    }
    const fired = await waitFor(`${r.name}: AgencyNoSnapshotSinceStart fires`, async () => {
      const v = evaluate(exprs.since, await scrape(r), Date.now() / 1000);
      return v.length ? v : false;
    }, 60000);
    assert.equal(fired.length, 1);
    assert.equal(fired[0].labels.pod, r.name);
    assert.ok(fired[0].value > SINCE_START_MINUTES * 60, `$value is the lag: ${fired[0].value}`);
    // The lag counts from start-up (within the time it took to start and scrape).
    const elapsed = (Date.now() - r.startedMs) / 1000;
    assert.ok(fired[0].value <= elapsed + 1, `lag ${fired[0].value} > ${elapsed} s since start`);
  }

  // By now more than the threshold has passed for every role: the healthy writer and the
  // follower (which has nothing to publish) do not fire.
  await new Promise((r) => setTimeout(r, Math.max(0, follower.startedMs + SINCE_START_MINUTES * 60000 + 1000 - Date.now())));
  for (const r of [repOk, follower]) {
    const s = await scrape(r);
    assert.equal(value(s, 'agency_ha_replication_lag_seconds'), 0, `${r.name}: lag`);
    assert.deepEqual(evaluate(exprs.since, s, Date.now() / 1000), [], r.name);
    for (const e of [exprs.lagHigh, exprs.noRecent]) assert.deepEqual(evaluate(e, s, Date.now() / 1000), [], `${r.name}: ${e}`);
  }
  assert.equal(value(await scrape(follower), 'agency_ha_replication_last_success_timestamp_seconds'), 0, 'the follower never published');
  // The older alerts still evaluate (no series they need is missing in a way that breaks them),
  // and the lag alert fires for a dead writer once its lag passes the RPO target: shown by
  // evaluating the same scrape with a lower threshold (the rendered expression, its number swapped).
  const dead = await scrape(repDead);
  const lagHighLow = exprs.lagHigh.replace(/> \d+$/, `> ${SINCE_START_MINUTES * 60}`);
  assert.notEqual(lagHighLow, exprs.lagHigh);
  assert.equal(evaluate(lagHighLow, dead, Date.now() / 1000).length, 1);

  for (const r of roles) {
    r.role.child.kill('SIGTERM');
    assert.equal(await r.role.exited, 0, `${r.name} stops cleanly`);
  }
});

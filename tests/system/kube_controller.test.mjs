// The controller and gates against the Kubernetes API test server: ConfigMap state, watches,
// Events, and two controller replicas with Lease leader election (one killed with SIGKILL).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  get, runAsync, startController, startGate, startKubeServer, tempDir, waitFor, writeConfig,
} from './helpers.mjs';

const KUBECTL = process.env.KUBECTL || '/usr/bin/kubectl';
const HAVE_KUBECTL = existsSync(KUBECTL);

function startKubeGate(t, dir, region, kubeconfig) {
  return startGate(t, dir, region, '{configMap: {namespace: agency, name: simple-agency-failover}}',
    `kubeconfig: "${kubeconfig}"\n`);
}

const ready = async (g) => (await get(g.port, '/ready')).status;

async function configMap(kube) {
  const dump = await kube.admin('GET', '/objects');
  return dump.items.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'simple-agency-failover');
}

test('ConfigMap state, watch-driven gates, Events, leader election with SIGKILL failover', async (t) => {
  const dir = tempDir(t);
  const kube = await startKubeServer(t, dir, ['--namespace', 'agency']);
  const gus = await startKubeGate(t, dir, 'us-east-1', kube.kubeconfig);
  const geu = await startKubeGate(t, dir, 'eu-west-1', kube.kubeconfig);
  const gap = await startKubeGate(t, dir, 'ap-southeast-1', kube.kubeconfig);
  const cfg = writeConfig(dir, `regions:
  - {name: us-east-1, endpoint: "${gus.url}"}
  - {name: eu-west-1, endpoint: "${geu.url}"}
  - {name: ap-southeast-1, active: false, endpoint: "${gap.url}"}
probe: {intervalSeconds: 0.2, timeoutSeconds: 0.1, failureThreshold: 3, successThreshold: 2}
policy: {failbackSeconds: 0.5}
state: {configMap: {namespace: agency, name: simple-agency-failover}}
kubeconfig: "${kube.kubeconfig}"
leaderElection:
  lease: {namespace: agency, name: simple-agency-failover-controller}
  leaseDurationSeconds: 2
  renewDeadlineSeconds: 1.5
  retryPeriodSeconds: 0.3
listen: "127.0.0.1:0"
`);
  const r1 = await startController(t, cfg, { POD_NAME: 'controller-1' });
  const r2 = await startController(t, cfg, { POD_NAME: 'controller-2' });

  // Exactly one leader; it creates the ConfigMap.
  await waitFor('ConfigMap written', async () => (await configMap(kube))?.data?.servingRegions === 'eu-west-1\nus-east-1\n');
  const lease = async () => (await kube.admin('GET', '/objects')).items.find((o) => o.kind === 'Lease');
  const leaderId = (await lease()).spec.holderIdentity;
  assert.ok(['controller-1', 'controller-2'].includes(leaderId));
  const [leader, standby] = leaderId === 'controller-1' ? [r1, r2] : [r2, r1];
  await waitFor('leader reports itself', async () => /^ready; leader controller-/.test((await get(leader.port, '/readyz')).body), 5000);
  await waitFor('standby reports the leader', async () => {
    const r = await get(standby.port, '/readyz');
    return r.status === 200 && r.body.includes(`standby, leader is ${leaderId}`);
  }, 5000);
  assert.match((await get(leader.port, '/metrics')).body, /agency_ha_leader\{identity="controller-\d"\} 1/);
  await waitFor('gates see the state', async () => (await ready(gus)) === 200 && (await ready(gap)) === 503);

  // Steady state: no writes at all while nothing changes.
  await kube.admin('DELETE', '/requests');
  await new Promise((r) => setTimeout(r, 1500));
  const reqs = (await kube.admin('GET', '/requests')).requests;
  const cmWrites = reqs.filter((r) => r.resource === 'configmaps' && ['create', 'update', 'patch'].includes(r.verb));
  assert.equal(cmWrites.length, 0, `ConfigMap writes in steady state: ${JSON.stringify(cmWrites)}`);

  // A drill through the API: the outage key is written next to the controller's keys.
  const drill = JSON.stringify({ apiVersion: 'agency-ha/v1', outages: [{ id: 'k1', region: 'us-east-1',
    failureType: 'health', startedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 6000).toISOString(), by: 'test' }] });
  const set = await runAsync(['state', 'set', '--configmap', 'agency/simple-agency-failover',
    '--kubeconfig', kube.kubeconfig, 'simulatedOutages', '--value', drill]);
  assert.equal(set.status, 0, set.stderr);
  await waitFor('us-east-1 failed in the ConfigMap', async () => (await configMap(kube)).data.failedRegions === 'us-east-1\n', 5000);
  await waitFor('gate drained', async () => (await ready(gus)) === 503, 2000);
  await waitFor('passive promoted', async () => (await ready(gap)) === 200, 2000);
  const cm = await configMap(kube);
  assert.equal(cm.data.simulatedOutages, drill, 'the drill key survives the controller writes');
  // Events are recorded right after the state write, one request each: wait for both.
  const events = async () => (await kube.admin('GET', '/objects')).items.filter((o) => o.kind === 'Event');
  await waitFor('RegionFailed event', async () => (await events()).some((e) => e.reason === 'RegionFailed' &&
    e.involvedObject.name === 'simple-agency-failover' && e.type === 'Warning'), 3000);
  await waitFor('RegionPromoted event', async () => (await events()).some((e) => e.reason === 'RegionPromoted' &&
    e.type === 'Normal'), 3000);

  // SIGKILL the leader: the standby takes over within lease duration + retry period and
  // carries the drill through to recovery.
  const killedAt = Date.now();
  leader.child.kill('SIGKILL');
  await waitFor('standby leads', async () => /leader controller-/.test((await get(standby.port, '/readyz')).body), 6000);
  const takeover = Date.now() - killedAt;
  assert.ok(takeover <= 2000 + 300 + 1500, `takeover took ${takeover} ms`);
  await waitFor('recovered after expiry', async () => (await configMap(kube)).data.failedRegions === '', 10000);
  await waitFor('failback', async () => (await configMap(kube)).data.servingRegions === 'eu-west-1\nus-east-1\n', 5000);
  await waitFor('gates follow', async () => (await ready(gus)) === 200 && (await ready(gap)) === 503, 2000);
  assert.equal((await lease()).spec.holderIdentity, standby === r1 ? 'controller-1' : 'controller-2');
  assert.equal((await lease()).spec.leaseTransitions, 1, 'one handover, counted as client-go does');

  // SIGTERM releases the lease at once.
  standby.child.kill('SIGTERM');
  assert.equal((await standby.exited), 0);
  assert.equal((await lease()).spec.holderIdentity ?? '', '');
  assert.equal((await lease()).spec.leaseTransitions, 1, 'a release keeps the count (the next holder adds one)');
  assert.equal((await lease()).spec.leaseDurationSeconds, 1);
});

// The README and the runbook send operators to `kubectl describe cm <state ConfigMap>`. kubectl
// selects the Events by involvedObject.uid (describe.go searchEvents), as the API test server does:
// an Event without the ConfigMap's uid shows as `Events: <none>`.
test('kubectl describe configmap shows the controller\'s Events after a failover', { skip: HAVE_KUBECTL ? false : `kubectl not found at ${KUBECTL}` }, async (t) => {
  const dir = tempDir(t);
  const kube = await startKubeServer(t, dir, ['--namespace', 'agency']);
  const gus = await startKubeGate(t, dir, 'us-east-1', kube.kubeconfig);
  const geu = await startKubeGate(t, dir, 'eu-west-1', kube.kubeconfig);
  const cfg = writeConfig(dir, `regions:
  - {name: us-east-1, endpoint: "${gus.url}"}
  - {name: eu-west-1, endpoint: "${geu.url}"}
probe: {intervalSeconds: 0.2, timeoutSeconds: 0.1, failureThreshold: 2, successThreshold: 2}
state: {configMap: {namespace: agency, name: simple-agency-failover}}
kubeconfig: "${kube.kubeconfig}"
listen: "127.0.0.1:0"
`);
  await startController(t, cfg);
  await waitFor('ConfigMap written', async () => (await configMap(kube))?.data?.servingRegions === 'eu-west-1\nus-east-1\n');
  const drill = JSON.stringify({ apiVersion: 'agency-ha/v1', outages: [{ id: 'd1', region: 'us-east-1',
    failureType: 'health', startedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 60000).toISOString(), by: 'test' }] });
  const set = await runAsync(['state', 'set', '--configmap', 'agency/simple-agency-failover',
    '--kubeconfig', kube.kubeconfig, 'simulatedOutages', '--value', drill]);
  assert.equal(set.status, 0, set.stderr);
  await waitFor('RegionFailed event stored', async () => (await kube.admin('GET', '/objects')).items
    .some((o) => o.kind === 'Event' && o.reason === 'RegionFailed'), 5000);

  const describe = spawnSync(KUBECTL, ['--kubeconfig', kube.kubeconfig, '-n', 'agency', 'describe', 'configmap',
    'simple-agency-failover'], { encoding: 'utf8', timeout: 30000 });
  assert.equal(describe.status, 0, describe.stderr);
  const out = describe.stdout;
  assert.doesNotMatch(out, /^Events:\s*<none>/m, out);
  const events = out.slice(out.search(/^Events:/m));
  assert.match(events, /^\s+Warning\s+RegionFailed\s+\S+\s+agency-ha-controller\s+region us-east-1: /m, out);
  // What kubectl asked for: the ConfigMap's uid in the Events' field selector.
  const uid = (await configMap(kube)).metadata.uid;
  const list = (await kube.admin('GET', '/requests')).requests.find((r) => r.resource === 'events' && r.verb === 'list');
  assert.ok(list, 'kubectl listed events');
  assert.match(list.query.fieldSelector, new RegExp(`involvedObject\\.uid=${uid}`));
});

test('gate fails static while the API is unreachable, and recovers', async (t) => {
  const dir = tempDir(t);
  const kube = await startKubeServer(t, dir, ['--namespace', 'agency']);
  const g = await startKubeGate(t, dir, 'us-east-1', kube.kubeconfig);
  const set = (v) => runAsync(['state', 'set', '--configmap', 'agency/simple-agency-failover',
    '--kubeconfig', kube.kubeconfig, 'servingRegions', '--value', v]);
  assert.equal((await set('eu-west-1\n')).status, 0);
  await waitFor('drained', async () => (await ready(g)) === 503, 3000);
  await kube.admin('POST', '/pause');
  await waitFor('error reported', async () => JSON.parse((await get(g.port, '/v1/status')).body).sourceError !== null, 5000);
  assert.equal(await ready(g), 503, 'last known state stays in force');
  assert.match((await get(g.port, '/ready')).body, /last known state in force/);
  await kube.admin('POST', '/resume');
  assert.equal((await set('us-east-1\n')).status, 0);
  await waitFor('serving again', async () => (await ready(g)) === 200, 15000);
});

test('controller started while the API is unreachable writes the state once it is back', async (t) => {
  const dir = tempDir(t);
  const kube = await startKubeServer(t, dir, ['--namespace', 'agency']);
  await kube.admin('POST', '/pause');
  const cfg = writeConfig(dir, `regions:
  - {name: us-east-1, endpoint: "http://127.0.0.1:1/health"}
probe: {intervalSeconds: 0.2, timeoutSeconds: 0.1}
state: {configMap: {namespace: agency, name: simple-agency-failover}}
kubeconfig: "${kube.kubeconfig}"
listen: "127.0.0.1:0"
`);
  const ctl = await startController(t, cfg);
  await waitFor('retrying', () => ctl.lines.some((l) => /cannot read state; retrying/.test(l.msg ?? '')), 20000);
  assert.equal((await get(ctl.port, '/readyz')).status, 503);
  await kube.admin('POST', '/resume');
  await waitFor('state written', async () => (await configMap(kube))?.data?.servingRegions === 'us-east-1\n', 20000);
  await waitFor('ready', async () => (await get(ctl.port, '/readyz')).status === 200, 5000);
  ctl.child.kill('SIGTERM');
  assert.equal((await ctl.exited), 0);
});

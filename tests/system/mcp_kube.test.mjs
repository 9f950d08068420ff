// The MCP server in ConfigMap mode: `agency-ha mcp` with `state: {configMap: ...}` and a kubeconfig,
// against the Kubernetes API test server, with the controller and the gates on the same ConfigMap.
// A drill started through the official SDK client (stdio) must reach the ConfigMap, be detected and
// recovered by the real controller, be reported with measured times that match the ConfigMap's
// state.json, and leave the drill Events on the ConfigMap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  BIN, get, startController, startGate, startKubeServer, tempDir, waitFor,
} from './helpers.mjs';

const CM = 'simple-agency-failover';

async function configMap(kube) {
  const dump = await kube.admin('GET', '/objects');
  return dump.items.find((o) => o.kind === 'ConfigMap' && o.metadata.name === CM);
}

async function events(kube) {
  return (await kube.admin('GET', '/objects')).items.filter((o) => o.kind === 'Event');
}

const text = (r) => r.content.map((c) => c.text).join('\n');

test('mcp on a ConfigMap: drill via the SDK → region failed in the ConfigMap → measured report, Events', async (t) => {
  const dir = tempDir(t);
  const kube = await startKubeServer(t, dir, ['--namespace', 'agency']);
  const stateYaml = `{configMap: {namespace: agency, name: ${CM}}}`;
  const kubeYaml = `kubeconfig: "${kube.kubeconfig}"\n`;
  const [gus, geu, gap] = await Promise.all(['us-east-1', 'eu-west-1', 'ap-southeast-1']
    .map((r) => startGate(t, dir, r, stateYaml, kubeYaml)));
  const cfg = join(dir, 'mcp.yaml');
  writeFileSync(cfg, `regions:
  - {name: us-east-1, endpoint: "${gus.url}"}
  - {name: eu-west-1, endpoint: "${geu.url}"}
  - {name: ap-southeast-1, active: false, endpoint: "${gap.url}"}
probe: {intervalSeconds: 0.2, timeoutSeconds: 0.1, failureThreshold: 3, successThreshold: 2}
policy: {failbackSeconds: 0.5}
state: ${stateYaml}
${kubeYaml}listen: "127.0.0.1:0"
mcp: {minDurationSeconds: 1, maxDurationSeconds: 600, defaultDurationSeconds: 60, auditLog: "${join(dir, 'audit.jsonl')}"}
`);
  const ctl = await startController(t, cfg);
  await waitFor('ConfigMap written by the controller',
    async () => (await configMap(kube))?.data?.servingRegions === 'eu-west-1\nus-east-1\n');
  await waitFor('gates see the state', async () => (await get(gus.port, '/ready')).status === 200 &&
    (await get(gap.port, '/ready')).status === 503);

  const client = new Client({ name: 'aha-system-test', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: BIN, args: ['mcp', '--config', cfg],
    stderr: 'ignore', env: { ...process.env, POD_NAME: 'mcp-test' } }));
  t.after(() => client.close());

  let r = await client.callTool({ name: 'list_regions', arguments: {} });
  assert.equal(r.isError, false, text(r));
  assert.deepEqual(r.structuredContent.regions.filter((x) => x.serving).map((x) => x.name).sort(),
    ['eu-west-1', 'us-east-1']);

  const sim = await client.callTool({ name: 'simulate_regional_outage',
    arguments: { region: 'us-east-1', duration_seconds: 3 } });
  assert.equal(sim.isError, false, text(sim));
  const id = sim.structuredContent.drillId;
  assert.deepEqual(sim.structuredContent.servingBefore, ['eu-west-1', 'us-east-1']);
  // The drill is in the ConfigMap, next to the controller's keys.
  let cm = await configMap(kube);
  const outage = JSON.parse(cm.data.simulatedOutages).outages.find((o) => o.id === id);
  assert.ok(outage, `drill ${id} in the ConfigMap: ${cm.data.simulatedOutages}`);
  assert.equal(outage.expiresAt, sim.structuredContent.expiresAt);
  assert.equal(Date.parse(outage.expiresAt) - Date.parse(outage.startedAt), 3000);

  await waitFor('us-east-1 failed in the ConfigMap',
    async () => (await configMap(kube)).data.failedRegions === 'us-east-1\n', 10000);
  await waitFor('passive promoted', async () => (await get(gap.port, '/ready')).status === 200, 3000);
  cm = await configMap(kube);
  assert.equal(cm.data.servingRegions, 'ap-southeast-1\neu-west-1\n');

  let report;
  await waitFor('drill complete', async () => {
    report = (await client.callTool({ name: 'get_drill_report', arguments: { drill_id: id } }))
      .structuredContent;
    return report.complete;
  }, 20000);
  const tl = report.timeline;
  const order = ['injectedAt', 'regionFailedAt', 'servingChangedAt', 'outageEndedAt',
    'regionRecoveredAt', 'servingRestoredAt'];
  for (const k of order) assert.ok(tl[k], `${k} measured: ${JSON.stringify(tl)}`);
  for (let i = 1; i < order.length; i++) {
    assert.ok(Date.parse(tl[order[i - 1]]) <= Date.parse(tl[order[i]]),
      `${order[i - 1]} <= ${order[i]}: ${JSON.stringify(tl)}`);
  }
  // Every time is one the ConfigMap carries.
  cm = await configMap(kube);
  assert.equal(cm.data.failedRegions, '');
  assert.equal(tl.injectedAt, outage.startedAt);
  assert.equal(tl.outageEndedAt, outage.expiresAt);
  const st = JSON.parse(cm.data['state.json']);
  const tr = (type, region) => st.transitions.find((x) => x.type === type && x.region === region &&
    Date.parse(x.at) >= Date.parse(outage.startedAt));
  const failed = tr('RegionFailed', 'us-east-1');
  const recovered = tr('RegionRecovered', 'us-east-1');
  assert.equal(tl.regionFailedAt, failed.at);
  assert.equal(tl.regionRecoveredAt, recovered.at);
  const secs = (a, b) => (Date.parse(b) - Date.parse(a)) / 1000;
  assert.equal(report.durationsSeconds.injectedToRegionFailed, secs(outage.startedAt, failed.at));
  assert.equal(report.regional_failover_recovery_time, secs(outage.expiresAt, recovered.at));
  // Two good rounds 0.2 s apart; a round's time is taken after its probes, so the measured gap
  // can be a few ms under 0.2 s (0.193 s seen).
  assert.ok(report.regional_failover_recovery_time >= 0.1 && report.regional_failover_recovery_time < 3,
    JSON.stringify(report.durationsSeconds));
  assert.equal(report.promotedRegion, 'ap-southeast-1');

  // A second drill, ended early.
  r = await client.callTool({ name: 'simulate_regional_outage',
    arguments: { region: 'eu-west-1', duration_seconds: 60 } });
  assert.equal(r.isError, false, text(r));
  const id2 = r.structuredContent.drillId;
  r = await client.callTool({ name: 'end_regional_outage', arguments: { region: 'eu-west-1' } });
  assert.equal(r.isError, false, text(r));
  assert.deepEqual(JSON.parse((await configMap(kube)).data.simulatedOutages).outages, []);

  // The drill Events, on the ConfigMap, from the MCP server.
  // Written in the background (kube/event_queue.h): wait for the last of them.
  await waitFor('DrillCompleted and DrillEnded events', async () => {
    const all = await events(kube);
    return all.some((e) => e.reason === 'DrillCompleted' && e.message.includes(id)) &&
      all.some((e) => e.reason === 'DrillEnded' && e.message.includes(id2));
  }, 5000);
  const ev = (await events(kube)).filter((e) => e.reportingComponent === 'agency-ha-mcp');
  const cmUid = (await configMap(kube)).metadata.uid;
  for (const e of ev) {
    assert.equal(e.involvedObject.kind, 'ConfigMap');
    assert.equal(e.involvedObject.name, CM);
    assert.equal(e.involvedObject.namespace, 'agency');
    // kubectl describe selects Events by involvedObject.uid.
    assert.equal(e.involvedObject.uid, cmUid);
    assert.equal(e.reportingInstance, 'mcp-test');
  }
  const find = (reason, drill) => ev.find((e) => e.reason === reason && e.message.includes(drill));
  assert.equal(find('DrillStarted', id)?.type, 'Warning');
  assert.match(find('DrillStarted', id).message, /simulated health outage of region us-east-1 for 3s/);
  const done = find('DrillCompleted', id);
  assert.equal(done?.type, 'Normal');
  assert.match(done.message, new RegExp(`regional_failover_recovery_time=${report.regional_failover_recovery_time.toFixed(6)}s`));
  assert.equal(find('DrillStarted', id2)?.type, 'Warning');
  assert.equal(find('DrillEnded', id2)?.type, 'Normal');
  // The controller's own Events sit next to them.
  const all = await events(kube);
  assert.ok(all.some((e) => e.reason === 'RegionFailed' && e.involvedObject.name === CM));
  assert.ok(all.some((e) => e.reason === 'RegionRecovered' && e.involvedObject.name === CM));

  // A second MCP server on the same ConfigMap: it reports the first one's drill (kept in the
  // ConfigMap), and of two concurrent drills on one region exactly one wins (resourceVersion
  // precondition on the write).
  const client2 = new Client({ name: 'aha-system-test-2', version: '1.0.0' });
  await client2.connect(new StdioClientTransport({ command: BIN, args: ['mcp', '--config', cfg],
    stderr: 'ignore', env: { ...process.env, POD_NAME: 'mcp-test-2' } }));
  t.after(() => client2.close());
  r = await client2.callTool({ name: 'get_drill_report', arguments: { drill_id: id } });
  assert.equal(r.isError, false, text(r));
  assert.deepEqual(r.structuredContent.timeline, report.timeline);
  const both = await Promise.all([client, client2].map((c) => c.callTool({
    name: 'simulate_regional_outage', arguments: { region: 'eu-west-1', duration_seconds: 60 } })));
  assert.deepEqual(both.map((x) => x.isError).sort(), [false, true], both.map(text).join('\n'));
  assert.match(text(both.find((x) => x.isError)), /drill already running for region eu-west-1/);
  assert.equal(JSON.parse((await configMap(kube)).data.simulatedOutages).outages.length, 1);
  r = await client2.callTool({ name: 'end_regional_outage', arguments: { region: 'eu-west-1' } });
  assert.equal(r.isError, false, text(r));
  await client2.close();

  await client.close();
  ctl.child.kill('SIGTERM');
  assert.equal(await ctl.exited, 0);
});

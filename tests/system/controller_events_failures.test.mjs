// `agency-ha controller` when its Events on the state ConfigMap cannot be written, with
// kube-apiserver's real failure modes from the Kubernetes API test server: 403 Forbidden (the
// Role lacks `create` on events: the real RBAC Status) and an events API that does not answer in
// time. failedRegions is written and the next rounds go on; /readyz and /v1/status keep answering
// while an Event write hangs; each failure is counted and logged once, naming the Event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startController, startKubeServer, tempDir, waitFor, writeConfig } from './helpers.mjs';

// A region endpoint whose health the test switches.
async function endpoint(t) {
  const e = { healthy: true };
  const server = http.createServer((req, res) => {
    res.writeHead(e.healthy ? 200 : 503, { 'content-type': 'text/plain' });
    res.end('x\n');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
  e.url = `http://127.0.0.1:${server.address().port}/health`;
  return e;
}

async function forbiddenKubeconfig(kube, dir) {
  await kube.admin('POST', '/tokens', {
    token: 'controller-no-events', user: 'system:serviceaccount:agency:controller', groups: ['system:serviceaccounts'],
    rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['*'], namespaces: ['agency'] }],
  });
  const path = join(dir, 'kubeconfig-no-events.yaml');
  writeFileSync(path, readFileSync(kube.kubeconfig, 'utf8').replace(/token: .*/, 'token: controller-no-events'));
  return path;
}

// A local answer, bounded: a handler stuck behind an Event write would not answer within it.
async function quick(port, path) {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2500) });
  return { status: r.status, body: await r.text() };
}

for (const mode of ['forbidden', 'hang']) {
  test(`Event writes that fail (${mode}) never hold up failedRegions, the next rounds or /readyz`, { timeout: 120000 }, async (t) => {
    const dir = tempDir(t);
    const kube = await startKubeServer(t, dir, ['--namespace', 'agency']);
    const kubeconfig = mode === 'forbidden' ? await forbiddenKubeconfig(kube, dir) : kube.kubeconfig;
    if (mode === 'hang') {
      // Every Event create is answered only after 10 s (then 504, nothing stored).
      await kube.admin('POST', '/faults', { match: { verb: 'create', resource: 'events' }, count: 0, delayMs: 10000, status: 504 });
    }
    const us = await endpoint(t);
    const eu = await endpoint(t);
    const ap = await endpoint(t);
    const cfg = writeConfig(dir, `regions:
  - {name: us-east-1, endpoint: "${us.url}"}
  - {name: eu-west-1, endpoint: "${eu.url}"}
  - {name: ap-southeast-1, active: false, endpoint: "${ap.url}"}
probe: {intervalSeconds: 0.2, timeoutSeconds: 0.1, failureThreshold: 3, successThreshold: 2}
policy: {failbackSeconds: 0.5}
state: {configMap: {namespace: agency, name: state}}
kubeconfig: "${kubeconfig}"
listen: "127.0.0.1:0"
`);
    const c = await startController(t, cfg);
    const cm = async () => (await kube.admin('GET', '/objects')).items.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'state');
    await waitFor('state written', async () => (await cm())?.data?.servingRegions === 'eu-west-1\nus-east-1\n');

    us.healthy = false;
    await waitFor('us-east-1 failed in the ConfigMap', async () => (await cm()).data.failedRegions === 'us-east-1\n', 10000);
    // The RegionFailed Event is being written (hang: for up to 2 x 3 s) right now: the controller
    // still answers.
    assert.equal((await quick(c.port, '/readyz')).status, 200);
    assert.match((await quick(c.port, '/v1/status')).body, /"failedRegions"/);
    us.healthy = true;
    await waitFor('recovery written', async () => (await cm()).data.failedRegions === '', 10000);

    const budget = mode === 'hang' ? 30000 : 5000; // hang: each Event costs 2 attempts x 3 s
    const metric = async () => (await quick(c.port, '/metrics')).body;
    await waitFor('failures counted', async () => {
      const m = await metric();
      return /agency_ha_event_errors_total\{reason="RegionFailed"\} 1\n/.test(m)
        && /agency_ha_event_errors_total\{reason="RegionRecovered"\} 1\n/.test(m);
    }, budget);
    const m = await metric();
    assert.doesNotMatch(m, /agency_ha_events_total\{/, 'nothing was recorded');
    for (const reason of ['RegionFailed', 'RegionRecovered']) {
      const lines = c.lines.filter((l) => l.msg === 'cannot record event' && l.reason === reason);
      assert.equal(lines.length, 1, `one warning for ${reason}: ${JSON.stringify(lines)}`);
      assert.equal(lines[0].object, 'ConfigMap agency/state');
      if (mode === 'forbidden') {
        assert.ok(lines[0].error.includes('events is forbidden: User "system:serviceaccount:agency:controller" cannot '
          + 'create resource "events" in API group "" in the namespace "agency"'), lines[0].error);
      } else {
        assert.match(lines[0].error, /Timeout was reached .*gave up after 2 attempts/, lines[0].error);
      }
    }
    assert.equal((await kube.admin('GET', '/objects')).items.filter((o) => o.kind === 'Event').length, 0);
    c.child.kill('SIGTERM');
    assert.equal(await c.exited, 0);
  });
}

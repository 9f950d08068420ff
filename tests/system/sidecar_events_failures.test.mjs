// `agency-ha sidecar` when its Kubernetes Events cannot be written, with kube-apiserver's real
// failure modes from the Kubernetes API test server: 403 Forbidden (the service account's Role
// lacks `create` on events: the real RBAC Status) and an events API that does not answer in time
// (each attempt runs into the 3 s timeout). Fencing, the divergent-tail rejoin and the new writer's
// publishing go on as without Events; each failure is counted and logged once, naming the Event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runAsync, startKubeServer, startRole, tempDir, waitFor } from './helpers.mjs';
import { write, settle, setState, sidecarConfig, position } from './replication_helpers.mjs';

const metrics = async (role) => (await fetch(`http://127.0.0.1:${role.port}/metrics`)).text();
const events = async (kube) => (await kube.admin('GET', '/objects')).items.filter((o) => o.kind === 'Event');
const warnings = (role, reason) => role.lines.filter((l) => l.msg === 'cannot record event' && l.reason === reason);

// A kubeconfig for a service account that may read and watch the state ConfigMaps but not create
// Events (the chart's `create` on events missing from the Role).
async function forbiddenKubeconfig(kube, dir) {
  await kube.admin('POST', '/tokens', {
    token: 'sidecar-no-events', user: 'system:serviceaccount:agency:sidecar', groups: ['system:serviceaccounts'],
    rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'], namespaces: ['agency'] }],
  });
  const path = join(dir, 'kubeconfig-no-events.yaml');
  const text = readFileSync(kube.kubeconfig, 'utf8');
  assert.match(text, /token: /);
  writeFileSync(path, text.replace(/token: .*/, 'token: sidecar-no-events'));
  return path;
}

for (const mode of ['forbidden', 'hang']) {
  test(`Event writes that fail (${mode}) never hold up fencing, the rejoin or publishing`, { timeout: 150000 }, async (t) => {
    const dir = tempDir(t);
    const kube = await startKubeServer(t, dir, ['--namespace', 'agency']);
    const kubeconfig = mode === 'forbidden' ? await forbiddenKubeconfig(kube, dir) : kube.kubeconfig;
    if (mode === 'hang') {
      // Every Event create is answered only after 10 s (then 504, nothing stored): each attempt
      // runs into the sidecar's 3 s timeout.
      await kube.admin('POST', '/faults', { match: { verb: 'create', resource: 'events' }, count: 0, delayMs: 10000, status: 504 });
    }
    const remote = join(dir, 'bucket');
    const east = join(dir, 'east', 'agent');
    const west = join(dir, 'west', 'agent');
    mkdirSync(east, { recursive: true });
    mkdirSync(west, { recursive: true });
    await setState(kube, 'state-east', []);
    await setState(kube, 'state-west', []);
    write(join(east, 'a.txt'), 'east 1\n');
    settle(east);
    const podEnv = (name) => ({ POD_NAME: name, POD_NAMESPACE: 'agency', POD_UID: `uid-${name}` });
    const a = await startRole(t, ['sidecar', '--config', sidecarConfig(dir, 'us-east-1', east, remote, 'state-east',
      kubeconfig, 'active: true')], 'sidecar starting', podEnv('agency-us-east-1-0'));
    const w = await startRole(t, ['sidecar', '--config', sidecarConfig(dir, 'us-west-2', west, remote, 'state-west',
      kubeconfig, 'active: false, followRegion: us-east-1')], 'sidecar starting', podEnv('agency-us-west-2-0'));
    await waitFor('west follows east', () => position(west).caughtUp && position(west).lineage === 'us-east-1', 30000);

    // Fencing: the fence is taken at once, whatever the Event write does.
    await setState(kube, 'state-west', ['us-east-1']);
    await waitFor('west took over', () => position(west).role === 'writer' && position(west).epoch === 2, 30000);
    write(join(east, 'a.txt'), 'east 2: written by the old writer after the takeover\n');
    settle(east);
    await waitFor('east fenced', () => position(east).role === 'fenced', 30000);

    // The new writer publishes while the old one's Event is failing (or still hanging).
    const before = position(west).snapshot;
    write(join(west, 'b.txt'), 'west 1\n');
    settle(west);
    await waitFor('west published', () => position(west).snapshot && position(west).snapshot !== before, 30000);

    // East rejoins as a follower (divergent tail set aside) while its Events keep failing.
    await setState(kube, 'state-east', ['us-east-1']);
    await waitFor('east rejoined on west\'s snapshot', () => position(east).caughtUp && position(east).divergent?.files === 1
      && position(east).snapshot === position(west).snapshot, 30000).catch((e) => {
      throw new Error(`${e.message}: east ${JSON.stringify(position(east))} west ${JSON.stringify(position(west))}`);
    });
    assert.equal(readFileSync(join(east, 'b.txt'), 'utf8'), 'west 1\n');

    // Each failed Event is counted and logged once (not per attempt), with its reason and why.
    const budget = mode === 'hang' ? 20000 : 5000; // hang: 2 attempts x 3 s each, one Event after the other
    await waitFor('both failures counted', async () => {
      const m = await metrics(a);
      return /agency_ha_sidecar_event_errors_total\{reason="WriterFenced"\} 1\n/.test(m)
        && /agency_ha_sidecar_event_errors_total\{reason="DivergentTailPreserved"\} 1\n/.test(m);
    }, budget);
    const m = await metrics(a);
    assert.doesNotMatch(m, /agency_ha_sidecar_events_total\{/, 'nothing was recorded');
    assert.doesNotMatch(m, /agency_ha_sidecar_events_dropped_total\{/, 'two Events: nothing dropped');
    for (const reason of ['WriterFenced', 'DivergentTailPreserved']) {
      const lines = warnings(a, reason);
      assert.equal(lines.length, 1, `one warning for ${reason}: ${JSON.stringify(lines)}`);
      assert.equal(lines[0].level, 'warn');
      assert.equal(lines[0].object, 'Pod agency/agency-us-east-1-0');
      if (mode === 'forbidden') {
        assert.ok(lines[0].error.includes('events is forbidden: User "system:serviceaccount:agency:sidecar" cannot create '
          + 'resource "events" in API group "" in the namespace "agency"'), lines[0].error);
        assert.ok(lines[0].error.includes('verbs: ["create"]'), lines[0].error);
      } else {
        assert.match(lines[0].error, /^create events "agency-us-east-1-0\.[0-9a-f]+" in namespace "agency": Timeout was reached .*gave up after 2 attempts\)$/, lines[0].error);
      }
    }
    const creates = (await kube.admin('GET', '/requests')).requests.filter((r) => r.verb === 'create' && r.resource === 'events');
    assert.equal(creates.length, mode === 'forbidden' ? 2 : 4, 'forbidden: no retry; otherwise 2 attempts per Event');
    assert.equal((await events(kube)).length, 0);
    assert.equal(warnings(w, 'WriterFenced').length + warnings(w, 'DivergentTailPreserved').length, 0);

    for (const c of [a, w]) c.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all([a.exited, w.exited]), [0, 0]);
  });
}

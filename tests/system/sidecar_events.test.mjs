// Kubernetes Events from `agency-ha sidecar` (issue 12) against the Kubernetes API test server:
// an old writer that is fenced records `WriterFenced`, and the divergent tail it sets aside when it
// rejoins as a follower records `DivergentTailPreserved`, both about the sidecar's own Pod (uid
// from the downward-API env), so `kubectl describe pod` lists them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runAsync, startKubeServer, startRole, tempDir, waitFor } from './helpers.mjs';
import { write, settle, setState, sidecarConfig, position } from './replication_helpers.mjs';

const KUBECTL = process.env.KUBECTL || '/usr/bin/kubectl';
const HAVE_KUBECTL = existsSync(KUBECTL);

async function addPod(kube, name) {
  await kube.admin('POST', '/objects', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'agency' },
    spec: { containers: [{ name: 'sidecar', image: 'agency-ha' }] }, status: { phase: 'Running' },
  });
  const dump = await kube.admin('GET', '/objects');
  return dump.items.find((o) => o.kind === 'Pod' && o.metadata.name === name).metadata.uid;
}

const events = async (kube) => (await kube.admin('GET', '/objects')).items.filter((o) => o.kind === 'Event');

test('a fenced writer and its divergent tail are Kubernetes Events about its Pod', { timeout: 120000 }, async (t) => {
  const dir = tempDir(t);
  const kube = await startKubeServer(t, dir, ['--namespace', 'agency']);
  const remote = join(dir, 'bucket');
  const east = join(dir, 'east', 'agent');
  const west = join(dir, 'west', 'agent');
  mkdirSync(east, { recursive: true });
  mkdirSync(west, { recursive: true });
  // Two clusters that disagree: east's state never shows the promotion, west's does.
  await setState(kube, 'state-east', []);
  await setState(kube, 'state-west', []);
  const eastUid = await addPod(kube, 'agency-us-east-1-0');
  const westUid = await addPod(kube, 'agency-us-west-2-0');
  assert.ok(eastUid && westUid && eastUid !== westUid);
  write(join(east, 'a.txt'), 'east 1\n');
  settle(east);
  const podEnv = (name, uid) => ({ POD_NAME: name, POD_NAMESPACE: 'agency', POD_UID: uid });
  const a = await startRole(t, ['sidecar', '--config', sidecarConfig(dir, 'us-east-1', east, remote, 'state-east',
    kube.kubeconfig, 'active: true')], 'sidecar starting', podEnv('agency-us-east-1-0', eastUid));
  const w = await startRole(t, ['sidecar', '--config', sidecarConfig(dir, 'us-west-2', west, remote, 'state-west',
    kube.kubeconfig, 'active: false, followRegion: us-east-1')], 'sidecar starting',
  podEnv('agency-us-west-2-0', westUid));
  await waitFor('west follows east', () => position(west).caughtUp && position(west).lineage === 'us-east-1', 30000);

  // 1. Fencing: only west sees the promotion; east's next publish finds a higher epoch.
  await setState(kube, 'state-west', ['us-east-1']);
  await waitFor('west took over', () => position(west).role === 'writer' && position(west).epoch === 2, 30000);
  write(join(east, 'a.txt'), 'east 2: written by the old writer after the takeover\n');
  settle(east);
  await waitFor('east fenced', () => position(east).role === 'fenced', 30000);
  await waitFor('WriterFenced event', async () => (await events(kube)).some((e) => e.reason === 'WriterFenced'), 10000);
  const fenced = (await events(kube)).filter((e) => e.reason === 'WriterFenced');
  assert.equal(fenced.length, 1, 'one Event per fencing');
  const [fe] = fenced;
  assert.equal(fe.type, 'Warning');
  assert.deepEqual(
    { kind: fe.involvedObject.kind, ns: fe.involvedObject.namespace, name: fe.involvedObject.name, uid: fe.involvedObject.uid },
    { kind: 'Pod', ns: 'agency', name: 'agency-us-east-1-0', uid: eastUid });
  assert.match(fe.message, /lineage us-east-1/);
  assert.match(fe.message, /epoch 2 by us-west-2\//, fe.message);
  assert.equal(fe.source.component, 'agency-ha-sidecar');

  // 2. East rejoins as a follower once its state shows the promotion: its unpublished write is
  //    set aside (divergent tail) before the volume becomes west's lineage.
  await setState(kube, 'state-east', ['us-east-1']);
  await waitFor('DivergentTailPreserved event', async () => (await events(kube))
    .some((e) => e.reason === 'DivergentTailPreserved'), 30000);
  const [de] = (await events(kube)).filter((e) => e.reason === 'DivergentTailPreserved');
  assert.equal(de.type, 'Warning');
  assert.equal(de.involvedObject.kind, 'Pod');
  assert.equal(de.involvedObject.name, 'agency-us-east-1-0');
  assert.equal(de.involvedObject.uid, eastUid);
  assert.match(de.message, /lineage us-east-1: 1 file\(s\), \d+ byte\(s\)/, de.message);
  assert.match(de.message, /\.agency-ha-divergent/, de.message);
  assert.equal((await events(kube)).filter((e) => e.involvedObject.uid === westUid).length, 0,
    'west was neither fenced nor had a tail');

  const m = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
  assert.match(m, /agency_ha_sidecar_events_total\{reason="WriterFenced"\} 1/);
  assert.match(m, /agency_ha_sidecar_events_total\{reason="DivergentTailPreserved"\} 1/);
  assert.doesNotMatch(m, /agency_ha_sidecar_event_errors_total\{/);

  if (HAVE_KUBECTL) {
    // kubectl selects a Pod's Events by involvedObject.uid (describe.go searchEvents).
    const d = spawnSync(KUBECTL, ['--kubeconfig', kube.kubeconfig, '-n', 'agency', 'describe', 'pod',
      'agency-us-east-1-0'], { encoding: 'utf8', timeout: 30000 });
    assert.equal(d.status, 0, d.stderr);
    const evs = d.stdout.slice(d.stdout.search(/^Events:/m));
    assert.match(evs, /^\s+Warning\s+WriterFenced\s+\S+\s+agency-ha-sidecar\s+fenced: lineage us-east-1/m, d.stdout);
    assert.match(evs, /^\s+Warning\s+DivergentTailPreserved\s+\S+\s+agency-ha-sidecar\s+lineage us-east-1/m, d.stdout);
  }
  for (const c of [a, w]) c.child.kill('SIGTERM');
  assert.deepEqual(await Promise.all([a.exited, w.exited]), [0, 0]);
});

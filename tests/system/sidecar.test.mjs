// `agency-ha sidecar` (docs/WRITER.md), black-box: two real sidecars (active us-east-1, passive
// us-west-2 following it) whose roles follow a state directory written with `agency-ha state set`,
// sharing a file:// remote. The data follows the promotion and comes back at failback, with the
// old writer's local writes preserved aside, never lost; the gate reads the position file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, existsSync, readdirSync, statSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, run, startRole, waitFor, get, startGate } from './helpers.mjs';
import { write, settle, tree, stateJson } from './replication_helpers.mjs';

function setState(stateDir, promotedFor) {
  const r = run(['state', 'set', '--dir', stateDir, 'state.json', '--value', stateJson(promotedFor)]);
  assert.equal(r.status, 0, r.stderr);
}

function sidecarConfig(dir, name, source, remote, stateDir, handoff) {
  const path = join(dir, `sidecar-${name}.yaml`);
  writeFileSync(path, `source: ${source}\nregion: ${name}\nremotes:\n  - {url: "file://${remote}"}\n`
    + `debounceMilliseconds: 50\nsyncIntervalSeconds: 2\nlisten: "127.0.0.1:0"\n`
    + `handoff: {${handoff}, state: {file: "${stateDir}"}, followIntervalSeconds: 0.1, timeoutSeconds: 5}\n`);
  return path;
}

function position(source) {
  const p = join(source, '.agency-ha', 'position.json');
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : {};
}

// path -> text of every file (the state dir excluded).
function content(dir) {
  const out = {};
  for (const [k, v] of Object.entries(tree(dir))) out[k] = Buffer.from(v.data, 'base64').toString('utf8');
  return out;
}

async function health(port) {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  await res.text();
  return { status: res.status, data: res.headers.get('x-agency-data') };
}

test('data follows promotion and failback; the old writer is fenced by the state and its tail kept',
  { timeout: 120000 }, async (t) => {
    const dir = tempDir(t);
    const remote = join(dir, 'bucket');
    const stateDir = join(dir, 'state');
    const east = join(dir, 'east', 'agent');
    const west = join(dir, 'west', 'agent');
    mkdirSync(east, { recursive: true });
    mkdirSync(west, { recursive: true });
    setState(stateDir, []);
    write(join(east, 'notes', 'one.md'), 'written in us-east-1\n');
    write(join(east, 'brain', 'memory.lance', 'data', '1.lance'), 'rows-1');
    write(join(east, 'brain', 'memory.lance', '_versions', '1.manifest'), 'v1');
    settle(east);

    const a = await startRole(t, ['sidecar', '--config', sidecarConfig(dir, 'us-east-1', east, remote,
      stateDir, 'active: true')], 'sidecar starting');
    const p = await startRole(t, ['sidecar', '--config', sidecarConfig(dir, 'us-west-2', west, remote,
      stateDir, 'active: false, followRegion: us-east-1')], 'sidecar starting');

    // 1. Normal operation: east writes, west follows (warm standby, in place).
    await waitFor('east is the writer with data ready',
      () => position(east).role === 'writer' && position(east).dataReady === true);
    await waitFor('west follows east\'s data', () => {
      const pos = position(west);
      return pos.role === 'follower' && pos.caughtUp && content(west)['notes/one.md'] === 'written in us-east-1\n';
    });
    assert.equal(position(west).dataReady, false, 'a follower is never data-ready (it must not serve)');
    const westInode = statSync(west).ino;
    assert.equal(position(east).epoch, 1, 'the first writer claims epoch 1');

    // The gate of west: not ready while its sidecar follows; /health carries the position.
    const gate = await startGate(t, dir, 'us-west-2', `{file: "${stateDir}"}`,
      `positionFile: "${join(west, '.agency-ha', 'position.json')}"\n`);
    const gatePort = new URL(gate.url).port;
    const hv = await health(gatePort);
    assert.equal(hv.status, 200);
    assert.match(hv.data, /role=follower; lineage=us-east-1; epoch=\d+; caught-up=1; ready=0/);

    // 2. Promotion: west becomes the writer of us-east-1's lineage without a restart; east
    //    becomes a follower (stops publishing).
    setState(stateDir, ['us-east-1']);
    await waitFor('west took over us-east-1', () => {
      const pos = position(west);
      return pos.role === 'writer' && pos.lineage === 'us-east-1' && pos.dataReady;
    });
    await waitFor('east stepped down', () => position(east).role === 'follower');
    assert.equal(statSync(west).ino, westInode, 'the volume directory the app mounted is the same inode');
    await waitFor('west gate ready (serving and data ready)', async () => (await get(gatePort, '/ready')).status === 200);
    assert.equal(position(west).epoch, 2, 'a takeover raises the epoch');
    const takeover = p.lines.find((l) => l.msg === 'writer');
    assert.ok(takeover && takeover.lineage === 'us-east-1' && takeover.takeoverMs >= 0, JSON.stringify(takeover));

    // West writes during the outage; east's app also wrote locally (a partition does not stop it).
    write(join(west, 'notes', 'outage.md'), 'written in us-west-2 during the outage\n');
    write(join(west, 'brain', 'memory.lance', 'data', '2.lance'), 'rows-2');
    write(join(west, 'brain', 'memory.lance', '_versions', '2.manifest'), 'v2');
    settle(west);
    write(join(east, 'notes', 'divergent.md'), 'east kept writing while not the writer\n');
    settle(east);
    // East follows the lineage as west extends it; its local write is preserved aside first.
    // (An in-place apply is not atomic across files: the gate is the fence. Wait for the position.)
    await waitFor('east applied west\'s writes', () => {
      const pe = position(east);
      return pe.caughtUp && pe.snapshot === position(west).snapshot
        && content(east)['brain/memory.lance/_versions/2.manifest'] === 'v2';
    }, 30000);
    assert.equal(content(east)['notes/outage.md'], 'written in us-west-2 during the outage\n');
    assert.equal(content(east)['notes/divergent.md'], undefined, 'the volume is the lineage, not a merge');
    const kept = join(dir, 'east', '.agency-ha-divergent');
    assert.ok(existsSync(kept), 'divergent tail directory exists');
    const tails = readdirSync(kept);
    assert.equal(tails.length, 1, `one divergent tail: ${JSON.stringify(tails.map((x) => readFileSync(join(kept, x, 'manifest.json'), 'utf8')))}`);
    const [tail] = tails;
    assert.equal(readFileSync(join(kept, tail, 'files', 'notes', 'divergent.md'), 'utf8'),
      'east kept writing while not the writer\n');
    const manifest = JSON.parse(readFileSync(join(kept, tail, 'manifest.json'), 'utf8'));
    assert.equal(manifest.files.length, 1);
    assert.equal(manifest.files[0].path, 'notes/divergent.md');
    assert.equal(position(east).divergent.files, 1);
    assert.ok(a.lines.some((l) => l.msg === 'divergent tail preserved'));

    // 3. Failback: east is the writer again and holds everything west wrote; west follows.
    setState(stateDir, []);
    await waitFor('east is the writer again', () => position(east).role === 'writer' && position(east).dataReady, 30000);
    await waitFor('west follows again', () => position(west).role === 'follower');
    assert.equal(position(east).epoch, 3, 'failback is a takeover at the next epoch');
    await waitFor('west released the lineage (planned handoff)', () => p.lines.some((l) => l.msg === 'releasing lineage'));
    assert.equal(content(east)['notes/outage.md'], 'written in us-west-2 during the outage\n',
      'no write made in the promoted region is lost at failback');
    assert.equal(content(east)['brain/memory.lance/_versions/2.manifest'], 'v2');
    const h = await get(gatePort, '/ready');
    assert.equal(h.status, 503, 'west is neither serving nor data-ready after failback');

    // East keeps publishing; west follows it again.
    write(join(east, 'notes', 'after.md'), 'after failback\n');
    settle(east);
    await waitFor('west follows east after failback', () => content(west)['notes/after.md'] === 'after failback\n', 30000);
    assert.deepEqual(content(west), content(east));
  });

test('a writer that cannot see the promotion is fenced at its next publish and leaves service',
  { timeout: 120000 }, async (t) => {
    // Two clusters that disagree: east's state never shows the promotion (its cluster is cut off
    // from the controller), west's does. Both still reach the object store.
    const dir = tempDir(t);
    const remote = join(dir, 'bucket');
    const eastState = join(dir, 'state-east');
    const westState = join(dir, 'state-west');
    const east = join(dir, 'east', 'agent');
    const west = join(dir, 'west', 'agent');
    mkdirSync(east, { recursive: true });
    mkdirSync(west, { recursive: true });
    setState(eastState, []);
    setState(westState, []);
    write(join(east, 'a.txt'), 'east 1\n');
    settle(east);
    const a = await startRole(t, ['sidecar', '--config', sidecarConfig(dir, 'us-east-1', east, remote,
      eastState, 'active: true')], 'sidecar starting');
    const w = await startRole(t, ['sidecar', '--config', sidecarConfig(dir, 'us-west-2', west, remote,
      westState, 'active: false, followRegion: us-east-1')], 'sidecar starting');
    await waitFor('west follows east', () => content(west)['a.txt'] === 'east 1\n' && position(west).caughtUp);

    setState(westState, ['us-east-1']);  // only west sees the promotion
    await waitFor('west took over', () => position(west).role === 'writer' && position(west).epoch === 2);
    write(join(east, 'a.txt'), 'east 2: written by the old writer after the takeover\n');
    settle(east);
    await waitFor('east fenced', () => position(east).role === 'fenced', 30000);
    assert.equal(position(east).dataReady, false, 'a fenced writer leaves service');
    assert.match(position(east).error, /fenced/);
    assert.ok(a.lines.some((l) => l.level === 'error' && /fenced/.test(l.msg)));
    const m = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
    assert.match(m, /agency_ha_replication_fenced_total\{lineage="us-east-1"\} 1/);
    // Nothing the old writer wrote after the takeover is the lineage's head anywhere.
    const latest = JSON.parse(readFileSync(join(remote, 'us-east-1', 'latest'), 'utf8'));
    assert.equal(latest.epoch, 2);
    assert.ok(latest.writer.startsWith('us-west-2/'), latest.writer);
    write(join(west, 'b.txt'), 'west\n');
    settle(west);
    await waitFor('west keeps publishing', () => {
      const l = JSON.parse(readFileSync(join(remote, 'us-east-1', 'latest'), 'utf8'));
      return l.id === position(west).snapshot && l.epoch === 2;
    });
    // East never advances the lineage again while its state still says "writer".
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(position(east).role, 'fenced');
    const l2 = JSON.parse(readFileSync(join(remote, 'us-east-1', 'latest'), 'utf8'));
    assert.ok(l2.writer.startsWith('us-west-2/'));
    for (const c of [a, w]) c.child.kill('SIGTERM');  // before the temp dir goes
    await Promise.all([a.exited, w.exited]);
  });

const latestOf = (remote) => JSON.parse(readFileSync(join(remote, 'us-east-1', 'latest'), 'utf8'));

test('a takeover the state overtakes is abandoned: it never claims the lineage the state gave back',
  { timeout: 120000 }, async (t) => {
    // West stands in for east and dies without releasing; failback starts east's planned
    // takeover, which waits for west's release. The state promotes west again meanwhile: east
    // must give the takeover up at once, not claim the lineage when its handoff timeout expires.
    const dir = tempDir(t);
    const remote = join(dir, 'bucket');
    const stateDir = join(dir, 'state');
    const east = join(dir, 'east', 'agent');
    const west = join(dir, 'west', 'agent');
    mkdirSync(east, { recursive: true });
    mkdirSync(west, { recursive: true });
    setState(stateDir, []);
    write(join(east, 'a.txt'), 'east\n');
    settle(east);
    const a = await startRole(t, ['sidecar', '--config', sidecarConfig(dir, 'us-east-1', east, remote,
      stateDir, 'active: true')], 'sidecar starting');
    const w = await startRole(t, ['sidecar', '--config', sidecarConfig(dir, 'us-west-2', west, remote,
      stateDir, 'active: false, followRegion: us-east-1')], 'sidecar starting');
    await waitFor('west follows east', () => content(west)['a.txt'] === 'east\n' && position(west).caughtUp);
    setState(stateDir, ['us-east-1']);
    await waitFor('west took over', () => position(west).role === 'writer' && position(west).epoch === 2);
    await waitFor('east follows', () => position(east).role === 'follower');
    w.child.kill('SIGKILL');  // no release: the head stays west's, unreleased
    await w.exited;
    const held = latestOf(remote);
    assert.equal(held.epoch, 2);
    assert.equal(held.released, false);

    setState(stateDir, []);  // failback: east waits for west's release (timeoutSeconds: 5)
    await waitFor('east started its planned takeover', () => a.lines.some((l) => l.msg === 'role change'
      && l.to === 'writer' && /no stand-in/.test(l.why) && l.from === 'follower'));
    setState(stateDir, ['us-east-1']);  // west promoted again before the handoff completed
    await waitFor('east gave the takeover up', () => a.lines.some((l) => l.msg === 'takeover abandoned: the failover state moved the role meanwhile'), 10000);
    // Past east's handoff timeout: the lineage is still west's at epoch 2, east a follower.
    await new Promise((r) => setTimeout(r, 6500));
    const now = latestOf(remote);
    assert.equal(now.epoch, 2, JSON.stringify(now));
    assert.ok(now.writer.startsWith('us-west-2/'), now.writer);
    assert.equal(position(east).role, 'follower');
    assert.ok(!a.lines.some((l) => l.msg === 'writer' && l.epoch === 3), 'east never claimed epoch 3');
    if (process.env.DEBUG_SIDECAR) console.log(JSON.stringify(a.lines, null, 1));
    a.child.kill('SIGTERM');  // before the temp dir goes
    await a.exited;
  });

test('a writer fenced by a stand-in that had not seen the state takes its lineage back once released',
  { timeout: 120000 }, async (t) => {
    // East is the writer as the state says; a stale stand-in (here: written by the test, as
    // another sidecar would) claims epoch 2 and later hands the lineage back (released). East is
    // fenced at its next publish, follows, and retakes the lineage at epoch 3 on the release,
    // without the state having to change.
    const dir = tempDir(t);
    const remote = join(dir, 'bucket');
    const stateDir = join(dir, 'state');
    const east = join(dir, 'east', 'agent');
    mkdirSync(east, { recursive: true });
    setState(stateDir, []);
    write(join(east, 'a.txt'), 'east 1\n');
    settle(east);
    const a = await startRole(t, ['sidecar', '--config', sidecarConfig(dir, 'us-east-1', east, remote,
      stateDir, 'active: true')], 'sidecar starting');
    await waitFor('east writes epoch 1', () => position(east).role === 'writer' && position(east).dataReady
      && existsSync(join(remote, 'us-east-1', 'latest')) && latestOf(remote).id === position(east).snapshot);
    const head = latestOf(remote);
    const standIn = { ...head, epoch: 2, writer: 'us-west-2/stale', released: false };
    writeFileSync(join(remote, 'us-east-1', 'latest'), JSON.stringify(standIn));
    write(join(east, 'a.txt'), 'east 2\n');
    settle(east);
    await waitFor('east fenced', () => position(east).role === 'fenced', 30000);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(position(east).role, 'fenced', 'not while the stand-in holds the lineage');
    assert.equal(latestOf(remote).epoch, 2);
    writeFileSync(join(remote, 'us-east-1', 'latest'), JSON.stringify({ ...standIn, released: true }));
    await waitFor('east took its lineage back', () => position(east).role === 'writer'
      && position(east).dataReady && position(east).epoch === 3, 30000);
    assert.ok(a.lines.some((l) => /released the lineage; the state makes this region its writer/.test(l.msg)));
    write(join(east, 'b.txt'), 'after\n');
    settle(east);
    await waitFor('east publishes at epoch 3', () => {
      const l = latestOf(remote);
      return l.epoch === 3 && l.writer.startsWith('us-east-1/') && l.id === position(east).snapshot;
    }, 30000);
    a.child.kill('SIGTERM');  // before the temp dir goes
    await a.exited;
  });

test('sidecar config errors name the key', () => {
  const dir = tempDir({ after() {} });
  const cfg = join(dir, 'bad.yaml');
  writeFileSync(cfg, `source: /tmp/x\nregion: a\nremotes: [{url: "file:///tmp/r"}]\nhandoff: {active: false, state: {file: /tmp/s}}\n`);
  const r = run(['sidecar', '--config', cfg]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /handoff\.followRegion: required/);
  writeFileSync(cfg, `source: /tmp/x\nregion: a\nremotes: [{url: "file:///tmp/r"}]\n`);
  const r2 = run(['sidecar', '--config', cfg]);
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /handoff: required/);
});

// Fencing across clusters (docs/WRITER.md), under a real network partition. One "cluster" per
// region, each its own Linux network namespace with its own state store (a state directory
// written only by its own controller), its own controller in the observer quorum, its own gate
// (the endpoint the controllers probe) and its own replication sidecar writing a real .agent
// volume. The object store is s3rver (with conditional writes, tests/support/s3rver.cjs) on the
// test process's own address, reachable from every namespace: S3 conditional writes over HTTP
// are the only thing the clusters share.
//
//   a (active, writer of lineage a)   b (active, writer of lineage b)   c (passive, follows a)
//
// The test cuts a off from b and c (blackhole routes on both sides) while a still reaches the
// object store. b and c's quorum fails a and promotes c; c's sidecar claims lineage a at epoch 2.
// a's controller is partitioned: its state still says "a serves, nobody is promoted", so a's
// sidecar still believes it is the writer and its app keeps writing (while its gate is ready).
// Asserted: a's next publish is refused (fenced: position, metric, log, gate unready), a never
// advances the lineage again, `latest` (read over HTTP every 50 ms, and on s3rver's disk every
// 10 ms) and the lineage's records never show a lower epoch after the higher-epoch claim, readers
// (`snapshots`, `restore`) pick c's snapshot; a follows c's lineage through the object store with
// its divergent tail preserved (every note its app wrote is in the lineage or in the tail). After
// the heal a stays a follower until the failback: c releases the lineage, a takes it back at
// epoch 3 and serves again, nothing c wrote lost. One writer per epoch throughout.
// The measured times (cut -> failed, takeover, claim at the store -> first refused publish,
// failback) are reported as a test diagnostic.
//
// Needs root and iproute2 (CI runs as root); otherwise the test skips with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { join } from 'node:path';
import { BIN, NetnsWorld, destroyWorldsAtExit, ip, netnsUnavailable, quiet, tempDir } from './helpers.mjs';
import { tree, write, metric } from './replication_helpers.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const REGIONS = ['a', 'b', 'c']; // a, b active; c passive, stands in for a
const CTL_PORT = 9090;
const GATE_PORT = 8081;
const CAR_PORT = 9091;
const BUCKET = 'bkt';
const PREFIX = 'fence';
const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
// A region fails after 4 × 0.5 s of failed probes seen by a quorum; a peer report counts for 3 s.
// Failback comes 30 s after a recovered: time for the rejoin checks before it.
const PROBE = { interval: 0.5, timeout: 0.4, fail: 4, succeed: 2, staleness: 3, failback: 30 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Set to a reason string to mark the partition test `todo` (it was, until the sidecar's takeover
// coped with a head that keeps moving: c32f25b).
const PENDING = null;

// ---- namespaces ---------------------------------------------------------------------------

const SKIP = netnsUnavailable({
  prefix: 'fprobe',
  probe: (ns) => {
    const b = quiet('ip', ['-n', ns, 'route', 'add', 'blackhole', '10.99.99.99/32']);
    return b.status === 0 ? null : `cannot add blackhole routes: ${b.stderr.trim()}`;
  },
});
destroyWorldsAtExit();

// Every region is one namespace on a private /24 behind a bridge in a hub namespace; the test
// process has its own veth into the hub (.1), where s3rver listens.
class Clusters extends NetnsWorld {
  constructor(t) {
    super(t);
    this.net = `10.214.${1 + Math.floor(Math.random() * 250)}`;
    this.hub = `fh${this.sfx}`;
  }
  ns(r) { return `f${r}${this.sfx}`; }
  ip(r) { return `${this.net}.${11 + REGIONS.indexOf(r)}`; }
  get hostIp() { return `${this.net}.1`; }

  setup() {
    this.addHub();
    for (const r of REGIONS) {
      this.addNs(this.ns(r));
      this.attach(this.ns(r), `l${r}${this.sfx}`, this.ip(r));
    }
    this.addHostLink(`ft${this.sfx}`, this.hostIp);
  }

  // Cuts region r off from every other region, both ways (blackhole routes on each side); the
  // test process's address (the object store) stays reachable from everywhere.
  cut(r, on) {
    const verb = on ? 'add' : 'del';
    for (const o of REGIONS.filter((x) => x !== r)) {
      ip('-n', this.ns(r), 'route', verb, 'blackhole', `${this.ip(o)}/32`);
      ip('-n', this.ns(o), 'route', verb, 'blackhole', `${this.ip(r)}/32`);
    }
  }

  // Spawns `cmd args` (in namespace `ns`, or here when null); resolves once a line satisfies
  // `ready`. Every output line is kept, parsed when it is JSON ({raw} otherwise).
  async spawnIn(ns, cmd, args, ready, what, env = {}) {
    const argv = ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
    const child = spawn(argv[0], argv[1], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.procs.push(child);
    const lines = [];
    let buf = '';
    await new Promise((resolve, reject) => {
      const onData = (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          let j;
          try { j = JSON.parse(line); } catch { j = { raw: line }; }
          lines.push(j);
          if (ready(j)) resolve();
        }
      };
      child.stdout.setEncoding('utf8');
      child.stderr.setEncoding('utf8');
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (c, s) => reject(new Error(`${what} exited (${c ?? s}): ${lines.slice(-5).map((l) => JSON.stringify(l)).join('\n')}${buf}`)));
    });
    return { child, lines };
  }
}

async function waitFor(what, pred, timeoutMs, last = () => '') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}; last: ${await last()}`);
    await sleep(50);
  }
}

async function httpGet(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return { status: res.status, body: await res.text() };
  } catch (e) {
    return { status: 0, body: String(e) };
  }
}

function readJson(path) {
  try { return JSON.parse(readFileSync(path, 'utf8')); } catch { return null; }
}

// ---- the clusters -------------------------------------------------------------------------

class World {
  constructor(t, dir, clusters) {
    this.t = t;
    this.dir = dir;
    this.net = clusters;
    this.token = join(dir, 'token');
    this.cluster = {};
    for (const r of REGIONS) {
      const home = join(dir, `cluster-${r}`);
      this.cluster[r] = {
        home,
        stateDir: join(home, 'state'),
        volume: join(home, 'volume', 'agent'),
        divergent: join(home, 'volume', '.agency-ha-divergent'),
      };
      mkdirSync(this.cluster[r].volume, { recursive: true });
    }
  }

  get s3() { return `http://${this.net.hostIp}:${this.s3Port}`; }
  remoteArgs(region) {
    return ['--remote', `s3://${BUCKET}/${PREFIX}`, '--endpoint', this.s3, '--path-style', '--region', region];
  }

  async startS3() {
    this.s3Port = await new Promise((resolve) => {
      const srv = net.createServer();
      srv.listen(0, this.net.hostIp, () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
    });
    const dir = join(this.dir, 's3rver');
    mkdirSync(dir, { recursive: true });
    this.s3proc = await this.net.spawnIn(null, process.execPath, ['--openssl-legacy-provider',
      join(ROOT, 'tests/support/s3rver.cjs'), '--directory', dir, '--port', String(this.s3Port),
      '--address', this.net.hostIp, '--silent', '--configure-bucket', BUCKET], (l) => /listening/i.test(l.raw ?? l.msg ?? ''), 's3rver');
  }

  writeConfigs(r) {
    const c = this.cluster[r];
    const regions = REGIONS.map((x) => `  - {name: ${x}, active: ${x !== 'c'}, endpoint: "http://${this.net.ip(x)}:${GATE_PORT}/health"}`).join('\n');
    const peers = REGIONS.filter((x) => x !== r)
      .map((x) => `  - {name: ${x}, url: "http://${this.net.ip(x)}:${CTL_PORT}/v1/observations"}`).join('\n');
    c.controllerCfg = join(c.home, 'controller.yaml');
    writeFileSync(c.controllerCfg, `regions:\n${regions}\n` +
      `probe: {intervalSeconds: ${PROBE.interval}, timeoutSeconds: ${PROBE.timeout}, failureThreshold: ${PROBE.fail}, successThreshold: ${PROBE.succeed}}\n` +
      `policy: {failbackSeconds: ${PROBE.failback}}\n` +
      `state: {file: "${c.stateDir}"}\nlisten: "0.0.0.0:${CTL_PORT}"\npeers:\n${peers}\n` +
      `quorum: {region: ${r}, stalenessSeconds: ${PROBE.staleness}, peerTimeoutSeconds: ${PROBE.timeout}, isolation: keep-serving}\n` +
      `observationsToken: "${this.token}"\n`);
    c.positionFile = join(c.volume, '.agency-ha', 'position.json');
    c.gateCfg = join(c.home, 'gate.yaml');
    writeFileSync(c.gateCfg, `region: ${r}\nlisten: "0.0.0.0:${GATE_PORT}"\nstate: {file: "${c.stateDir}"}\n` +
      `positionFile: "${c.positionFile}"\n`);
    c.sidecarCfg = join(c.home, 'sidecar.yaml');
    const handoff = r === 'c' ? 'active: false, followRegion: a' : 'active: true';
    writeFileSync(c.sidecarCfg, `source: ${c.volume}\nregion: ${r}\n` +
      `remotes:\n  - {url: "s3://${BUCKET}/${PREFIX}", endpoint: "${this.s3}", pathStyle: true}\n` +
      `debounceMilliseconds: 100\nsyncIntervalSeconds: 5\nlisten: "0.0.0.0:${CAR_PORT}"\n` +
      `handoff: {${handoff}, state: {file: "${c.stateDir}"}, followIntervalSeconds: 0.2, timeoutSeconds: 5}\n`);
  }

  async start() {
    this.net.setup();
    writeFileSync(this.token, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
    await this.startS3();
    for (const r of REGIONS) this.writeConfigs(r);
    for (const r of REGIONS) {
      const c = this.cluster[r];
      c.gate = await this.net.spawnIn(this.net.ns(r), BIN, ['gate', '--config', c.gateCfg],
        (l) => l.msg === 'gate starting', `gate ${r}`);
      c.sidecar = await this.net.spawnIn(this.net.ns(r), BIN, ['sidecar', '--config', c.sidecarCfg],
        (l) => l.msg === 'sidecar starting', `sidecar ${r}`, S3_ENV);
    }
    for (const r of REGIONS) {
      const c = this.cluster[r];
      c.controller = await this.net.spawnIn(this.net.ns(r), BIN, ['controller', '--config', c.controllerCfg],
        (l) => l.msg === 'controller starting', `controller ${r}`);
    }
  }

  state(r) { return readJson(join(this.cluster[r].stateDir, 'state.json')); }
  position(r) { return readJson(this.cluster[r].positionFile) ?? {}; }
  async status(r) {
    const g = await httpGet(`http://${this.net.ip(r)}:${CTL_PORT}/v1/status`);
    return g.status === 200 ? JSON.parse(g.body) : null;
  }
  async ready(r) { return (await httpGet(`http://${this.net.ip(r)}:${GATE_PORT}/ready`)).status; }
  async metrics(r) { return (await httpGet(`http://${this.net.ip(r)}:${CAR_PORT}/metrics`)).body; }
  async latest(lineage) {
    const g = await httpGet(`${this.s3}/${BUCKET}/${PREFIX}/${lineage}/latest`);
    if (g.status !== 200) return null;
    try { return JSON.parse(g.body); } catch { return null; }
  }
  cli(args) {
    return spawnSync(BIN, args, { encoding: 'utf8', timeout: 60000, env: { ...process.env, ...S3_ENV } });
  }
}

// Samples `latest` of a lineage every 50 ms over HTTP: every distinct value, with the start of
// the first request that returned it (`at`), the end of that response (`seenBy`) and the start
// of the last request that still returned it (`lastAt`): a value read was current at some point
// between its request's start and its response.
function latestSampler(world, lineage) {
  const seen = [];
  let running = true;
  let samples = 0;
  let maxLatencyMs = 0;
  const loop = (async () => {
    while (running) {
      const start = Date.now();
      const l = await world.latest(lineage);
      const end = Date.now();
      samples += 1;
      maxLatencyMs = Math.max(maxLatencyMs, end - start);
      const prev = seen[seen.length - 1];
      if (l && (!prev || prev.id !== l.id || prev.epoch !== l.epoch || prev.writer !== l.writer || prev.released !== l.released)) {
        seen.push({ at: start, seenBy: end, lastAt: start, id: l.id, epoch: l.epoch, writer: l.writer, released: l.released });
      } else if (l) {
        prev.lastAt = start;
      }
      await sleep(50);
    }
  })();
  return {
    seen,
    stats: () => ({ samples, maxLatencyMs }),
    stop: async () => { running = false; await loop; },
  };
}

// Watches `latest` where s3rver keeps it on disk, every 10 ms: every distinct value with the
// file's mtime, i.e. when the object store wrote it (the test process shares the clock). This
// times the claim at the store itself, independent of how slowly a loaded s3rver answers GETs.
function storeWatcher(world, lineage) {
  const file = join(world.dir, 's3rver', BUCKET, PREFIX, lineage, 'latest._S3rver_object');
  const seen = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const st = statSync(file);
        const l = JSON.parse(readFileSync(file, 'utf8'));
        const prev = seen[seen.length - 1];
        if (!prev || prev.id !== l.id || prev.epoch !== l.epoch || prev.writer !== l.writer || prev.released !== l.released) {
          seen.push({ mtime: st.mtimeMs, at: Date.now(), id: l.id, epoch: l.epoch, writer: l.writer, released: l.released });
        }
      } catch { /* absent, or being written */ }
      await sleep(10);
    }
  })();
  return { seen, stop: async () => { running = false; await loop; } };
}

// The app of a region: writes a new note every `everyMs` (and rewrites its session file) while
// its pod is in service, i.e. while its gate's /ready answers 200 (checked before every write,
// as the demo's app does: a pod out of service gets no requests). docs/WRITER.md's contract:
// the sidecar changes a follower's volume in place and the gate is the fence, so an app must
// not write while its gate is unready. Remembers what it wrote and when.
function app(world, r, everyMs) {
  const vol = world.cluster[r].volume;
  const notes = new Map(); // path -> {content, at}
  let running = true;
  let k = 0;
  let skipped = 0;
  const loop = (async () => {
    while (running) {
      if ((await world.ready(r)) === 200) {
        k += 1;
        const path = `notes/${r}-${String(k).padStart(4, '0')}.md`;
        const content = `${r} note ${k} at ${new Date().toISOString()}\n`;
        write(join(vol, path), content);
        write(join(vol, 'session.json'), JSON.stringify({ region: r, k }));
        notes.set(path, { content, at: Date.now() });
      } else {
        skipped += 1;
      }
      await sleep(everyMs);
    }
  })();
  return { notes, skipped: () => skipped, stop: async () => { running = false; await loop; } };
}

const tsOf = (line) => Date.parse(line.ts);
const logLines = (proc, pred) => proc.lines.filter((l) => l.msg !== undefined && pred(l));
const content = (dir) => Object.fromEntries(Object.entries(tree(dir)).map(([k, v]) => [k, Buffer.from(v.data, 'base64').toString('utf8')]));

test('fencing across clusters: the cut-off writer is fenced by the object store while its own cluster still calls it the writer',
  { timeout: 420000, todo: PENDING ?? false }, async (t) => {
    if (SKIP) { t.skip(SKIP); return; }
    // Teardown order (hooks run first to last): processes and namespaces, logs, then the files.
    const clusters = new Clusters(t);
    const loops = []; // the apps and the sampler, stopped before the files are removed
    t.after(async () => { for (const l of loops) await l.stop(); });
    let w = null;
    // FENCING_LOGS=DIR keeps every role's log lines there (for a failed run).
    if (process.env.FENCING_LOGS) {
      t.after(() => {
        mkdirSync(process.env.FENCING_LOGS, { recursive: true });
        for (const r of REGIONS) {
          for (const role of ['controller', 'gate', 'sidecar']) {
            const lines = w?.cluster[r][role]?.lines ?? [];
            writeFileSync(join(process.env.FENCING_LOGS, `${r}-${role}.log`), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
          }
        }
      });
    }
    const dir = tempDir(t);
    w = new World(t, dir, clusters);
    write(join(w.cluster.a.volume, 'notes', 'seed.md'), 'seed of lineage a\n');
    write(join(w.cluster.b.volume, 'notes', 'seed.md'), 'seed of lineage b\n');
    await w.start();
    const { a, b, c } = w.cluster;

    // 1. All three clusters agree: a and b write their lineages at epoch 1, c follows a.
    await waitFor('every controller reaches all three observers', async () => {
      for (const r of REGIONS) {
        const s = await w.status(r);
        if (!s || s.partitioned !== false || s.quorum.reachable !== 3 || s.failedRegions.length) return false;
      }
      return true;
    }, 60000);
    await waitFor('a writes lineage a at epoch 1, data ready', () => {
      const p = w.position('a');
      return p.role === 'writer' && p.lineage === 'a' && p.epoch === 1 && p.dataReady;
    }, 60000, () => JSON.stringify(w.position('a')));
    await waitFor('b writes lineage b', () => w.position('b').role === 'writer' && w.position('b').dataReady, 60000);
    await waitFor("c follows a's lineage", () => {
      const p = w.position('c');
      return p.role === 'follower' && p.lineage === 'a' && p.caughtUp && p.snapshot;
    }, 60000, () => JSON.stringify(w.position('c')));
    await waitFor("a's gate is ready", async () => (await w.ready('a')) === 200, 30000);
    assert.equal(await w.ready('c'), 503, 'the passive region does not serve');

    const sampler = latestSampler(w, 'a');
    const onDisk = storeWatcher(w, 'a');
    const appA = app(w, 'a', 300);
    loops.push(sampler, onDisk, appA);
    await waitFor('a publishes its app\'s writes', () => sampler.seen.filter((x) => x.epoch === 1).length >= 3, 30000);

    // 2. Cut a off from b and c; everyone still reaches the object store.
    const tCut = Date.now();
    w.net.cut('a', true);
    t.diagnostic(`partition: a cut off from b and c at ${new Date(tCut).toISOString()}`);
    const took = {};
    await Promise.all(['b', 'c'].map((r) => waitFor(`${r}'s cluster fails a and promotes c`, () => {
      const st = w.state(r);
      if (!st || st.failedRegions.join(',') !== 'a' || st.regions.c.promotedFor?.[0] !== 'a') return false;
      took[r] = Date.now() - tCut;
      return true;
    }, 60000, () => JSON.stringify(w.state(r)?.regions))));
    const promoted = (w.state('c').transitions ?? []).find((x) => x.type === 'RegionPromoted' && x.region === 'c');
    assert.ok(promoted, JSON.stringify(w.state('c').transitions));

    // c's sidecar claims lineage a at epoch 2. (If the old writer's publishes kept moving the head
    // under the claim, this is where it would loop.)
    const claimLine = await waitFor('c takes over lineage a at epoch 2', () => {
      const p = w.position('c');
      return p.role === 'writer' && p.lineage === 'a' && p.epoch === 2 && p.dataReady &&
        logLines(c.sidecar, (l) => l.msg === 'writer' && l.lineage === 'a' && l.epoch === 2)[0];
    }, 180000, () => JSON.stringify({ position: w.position('c'), log: logLines(c.sidecar, (l) => l.level !== 'info').slice(-3) }));
    // When the claim reached the object store: the first epoch-2 `latest` on s3rver's disk names
    // the head the claim took over (a claim keeps the head's id), written at its file's mtime.
    // Also bounded by what readers saw over HTTP: after the last GET that still returned epoch 1
    // was sent, before the first GET that returned epoch 2 was answered.
    await waitFor('the claim is seen in latest', () => sampler.seen.some((x) => x.epoch === 2) &&
      onDisk.seen.some((x) => x.epoch === 2), 30000);
    const e2 = sampler.seen.findIndex((x) => x.epoch === 2);
    const tClaimSeen = sampler.seen[e2].seenBy;
    const tClaimAfter = sampler.seen[e2 - 1].lastAt;
    const claimOnDisk = onDisk.seen.find((x) => x.epoch === 2);
    assert.ok(claimOnDisk.writer.startsWith('c/'), JSON.stringify(claimOnDisk));
    // null when c's first own snapshot replaced the claim within one 10 ms poll.
    const tClaim = claimOnDisk.id === claimLine.from ? claimOnDisk.mtime : null;
    assert.ok(tClaimAfter <= tClaimSeen);
    if (tClaim !== null) assert.ok(tClaim <= tClaimSeen + 1, `claim at ${tClaim}, seen by ${tClaimSeen}`);
    const tClaimLow = tClaim ?? tClaimAfter; // the claim happened at or after this
    const failedTakeovers = logLines(c.sidecar, (l) => l.msg === 'sidecar round failed' &&
      /claiming a: .*the head is .* not /.test(l.error ?? ''));
    const headMoves = logLines(c.sidecar, (l) => /head moved/.test(l.msg));
    // The old writer keeps publishing (moving the head) while c applies it: the takeover must
    // still claim in one go (re-applying the moved head a bounded number of times, then claiming
    // whatever the head is, which fences the old writer), not fail whole rounds on 409 "the head
    // is X, not Y" until it happens to win a race (seen: 13 refused rounds, 22 s).
    assert.deepEqual(failedTakeovers.map((l) => `${l.ts} ${l.error}`), [], 'takeover rounds refused by a moving head');

    // The clusters disagree: a's own cluster still says a serves and nobody stands in for it.
    await waitFor("a's controller reports partitioned (it cannot reach a quorum)", () => w.state('a')?.partitioned === true, 30000);
    const sa = w.state('a');
    assert.deepEqual(sa.failedRegions, []);
    assert.ok(sa.servingRegions.includes('a'), JSON.stringify(sa.servingRegions));
    assert.deepEqual(sa.regions.c.promotedFor ?? [], []);

    // 3. a's app keeps writing; its next publish is refused by the object store: fenced.
    await waitFor('a is fenced', () => w.position('a').role === 'fenced', 60000, () => JSON.stringify(w.position('a')));
    const fenceLine = logLines(a.sidecar, (l) => l.level === 'error' && /^fenced/.test(l.msg))[0];
    assert.ok(fenceLine, "a's sidecar logged the fence");
    assert.match(fenceLine.why, /epoch/);
    const tFenced = tsOf(fenceLine);
    const pa = w.position('a');
    assert.equal(pa.dataReady, false, 'a fenced writer leaves service');
    await waitFor("a's gate turns unready", async () => (await w.ready('a')) === 503, 10000);
    assert.equal(metric(await w.metrics('a'), 'agency_ha_replication_fenced_total', 'lineage="a"'), 1);
    // Still the case at the moment of the fence: a's cluster believes a is the writer.
    assert.deepEqual(w.state('a').regions.c.promotedFor ?? [], []);
    assert.ok(w.state('a').servingRegions.includes('a'));
    // Writes the old writer's app made after the claim (while its gate still said ready).
    const oldWritesAfterClaim = [...appA.notes.values()].filter((n) => n.at >= tClaimLow).length;
    await waitFor("c's gate is ready (serving in its cluster, data ready)", async () => (await w.ready('c')) === 200, 30000);

    // 4. The promoted app writes; a's app goes on writing for a while; nothing of a's reaches
    //    the lineage.
    const appC = app(w, 'c', 400);
    loops.push(appC);
    await sleep(4000);
    await appA.stop();
    await sleep(1000);
    await appC.stop();
    // c publishes its last writes; a (a follower now, it still reaches the object store) applies
    // them and keeps what it had not published aside.
    await waitFor('c published its last writes', async () => {
      const l = await w.latest('a');
      return l && l.id === w.position('c').snapshot && l.epoch === 2;
    }, 30000);
    await waitFor('a follows the new head', () => {
      const p = w.position('a');
      return p.snapshot === w.position('c').snapshot && p.caughtUp;
    }, 30000, () => JSON.stringify(w.position('a')));
    assert.equal(w.position('a').dataReady, false);
    assert.equal(metric(await w.metrics('a'), 'agency_ha_replication_fenced_total', 'lineage="a"'), 1, 'fenced once');

    // 5. Readers: `snapshots` orders c's snapshot last and `latest`; restore gets c's data.
    const snaps = w.cli(['snapshots', '--json', ...w.remoteArgs('a')]);
    assert.equal(snaps.status, 0, snaps.stderr);
    const rows = JSON.parse(snaps.stdout);
    const head = rows[rows.length - 1];
    assert.equal(head.epoch, 2);
    assert.ok(head.writer.startsWith('c/'), head.writer);
    assert.equal(head.latest, true);
    const restored = join(dir, 'restored', 'agent');
    mkdirSync(join(restored, '..'), { recursive: true });
    const rs = w.cli(['restore', ...w.remoteArgs('a'), '--to', restored, '--quiet']);
    assert.equal(rs.status, 0, rs.stderr);
    const lineageNow = content(restored);
    assert.deepEqual(lineageNow, content(c.volume), "a reader restores exactly the promoted writer's volume");
    assert.deepEqual(content(a.volume), lineageNow, "the old writer's volume is the lineage's head again");

    // The lineage's history: ordered by id (creation time), no record is at a lower epoch than
    // an earlier one (two writers advancing one lineage), and the old writer published nothing
    // after the claim.
    const byId = [...rows].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    let maxEpoch = 0;
    const interleaved = [];
    for (const r of byId) {
      assert.equal(r.error, undefined, JSON.stringify(r));
      if (r.epoch < maxEpoch) interleaved.push(r);
      maxEpoch = Math.max(maxEpoch, r.epoch);
    }
    // Records the old writer uploaded in a publish that passed its epoch check just before the
    // claim (its `latest` write then failed): never part of the lineage (never latest, below).
    const lateOld = byId.filter((r) => r.epoch < 2 && r.id > claimLine.from);
    const writers = new Set(byId.filter((r) => r.epoch === 1).map((r) => r.writer));
    assert.deepEqual([...writers].map((x) => x.split('/')[0]), ['a'], 'epoch 1 is a\'s');
    assert.deepEqual(interleaved, [], 'two writers advanced one lineage');
    assert.equal(byId.filter((r) => r.epoch === 2 && r.id <= claimLine.from).length, 0);

    // 6. Heal. a rejoins as a follower (its cluster's state may or may not have seen the
    //    promotion meanwhile): it never publishes again, and its divergent tail is kept aside.
    const tHeal = Date.now();
    w.net.cut('a', false);
    await waitFor('a back in quorum', () => w.state('a')?.partitioned === false, 60000);
    await waitFor('b and c see a healthy again', () => ['b', 'c'].every((r) => w.state(r)?.failedRegions.length === 0), 60000);
    // c keeps writing after the heal; a follows.
    write(join(c.volume, 'notes', 'after-heal.md'), 'written by c after the heal\n');
    await waitFor('a applies c\'s write after the heal', () => content(a.volume)['notes/after-heal.md'] === 'written by c after the heal\n', 30000);
    const pa2 = w.position('a');
    const healToFollowMs = Date.now() - tHeal;
    assert.ok(['fenced', 'follower'].includes(pa2.role), JSON.stringify(pa2));
    assert.equal(pa2.dataReady, false);
    assert.equal(pa2.lineage, 'a');
    const l2 = await w.latest('a');
    assert.equal(l2.epoch, 2);
    assert.ok(l2.writer.startsWith('c/'), l2.writer);
    assert.equal(logLines(a.sidecar, (l) => l.msg === 'writer' && tsOf(l) >= tClaimLow).length, 0, 'a took nothing over');

    // Every note a's app wrote is either in the lineage (published before the claim) or in a
    // divergent tail, byte for byte; the writes a made after the claim are all in the tail.
    assert.ok(existsSync(a.divergent), 'a divergent tail was preserved');
    const tails = readdirSync(a.divergent);
    const kept = new Map();
    for (const d of tails) {
      const m = JSON.parse(readFileSync(join(a.divergent, d, 'manifest.json'), 'utf8'));
      for (const f of m.files) kept.set(f.path, readFileSync(join(a.divergent, d, 'files', f.path), 'utf8'));
    }
    const final = content(a.volume);
    const lost = [];
    let inTail = 0;
    for (const [path, n] of appA.notes) {
      if (final[path] === n.content) continue;
      if (kept.get(path) === n.content) { inTail++; continue; }
      lost.push(path);
    }
    assert.deepEqual(lost.map((x) => `${x} ${new Date(appA.notes.get(x).at).toISOString()}`), [],
      'notes of the old writer lost (neither in the lineage nor in a tail)');
    for (const [path, n] of appA.notes) {
      if (n.at >= tClaimSeen) assert.equal(final[path], undefined, `${path} (written after the claim) is not in the lineage`);
    }
    assert.ok(inTail >= 1, 'the refused writes are in the tail');
    assert.equal(w.position('a').divergent.files >= inTail, true, JSON.stringify(w.position('a').divergent));

    // 7. Failback (30 s after b and c saw a recover, a's data caught up): c is demoted in b's and
    //    c's clusters, its sidecar publishes a final snapshot and releases the lineage; a, whose
    //    own cluster called it the writer all along, takes the released lineage back at epoch 3
    //    and serves again. Nothing c's app wrote is lost.
    await waitFor('b and c demote c (failback)', () => ['b', 'c'].every((r) => {
      const st = w.state(r);
      return st && (st.regions.c.promotedFor ?? []).length === 0 && st.servingRegions.includes('a');
    }), 90000, () => JSON.stringify(['b', 'c'].map((r) => w.state(r)?.regions.c)));
    const tDemoted = Date.now();
    await waitFor('c released lineage a', () => onDisk.seen.some((x) => x.epoch === 2 && x.released), 60000,
      () => JSON.stringify(onDisk.seen.slice(-2)));
    const back = await waitFor('a writes lineage a again at epoch 3', () => {
      const p = w.position('a');
      return p.role === 'writer' && p.epoch === 3 && p.dataReady &&
        logLines(a.sidecar, (l) => l.msg === 'writer' && l.lineage === 'a' && l.epoch === 3)[0];
    }, 60000, () => JSON.stringify({ position: w.position('a'), log: logLines(a.sidecar, (l) => l.level !== 'info').slice(-3) }));
    await waitFor("a's gate is ready again", async () => (await w.ready('a')) === 200, 30000);
    await waitFor('c follows lineage a again', () => w.position('c').role === 'follower', 30000);
    assert.equal(await w.ready('c'), 503);
    const afterFailback = content(a.volume);
    const wantedAtFailback = new Map([...appC.notes].map(([k, v]) => [k, v.content]));
    wantedAtFailback.set('notes/after-heal.md', 'written by c after the heal\n');
    const lostAtFailback = [...wantedAtFailback].filter(([k, v]) => afterFailback[k] !== v).map(([k]) => k);
    assert.deepEqual(lostAtFailback, [], "c's writes lost at failback");
    write(join(a.volume, 'notes', 'after-failback.md'), 'a writes its lineage again\n');
    await waitFor('c follows a after failback', () => content(c.volume)['notes/after-failback.md'] === 'a writes its lineage again\n', 30000);
    const l3 = await w.latest('a');
    assert.equal(l3.epoch, 3);
    assert.ok(l3.writer.startsWith('a/'), l3.writer);
    const snaps3 = w.cli(['snapshots', '--json', ...w.remoteArgs('a')]);
    assert.equal(snaps3.status, 0, snaps3.stderr);
    let max3 = 0;
    const interleaved3 = [];
    for (const r of JSON.parse(snaps3.stdout).sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))) {
      if (r.epoch < max3) interleaved3.push(r);
      max3 = Math.max(max3, r.epoch);
    }
    assert.deepEqual(interleaved3, [], 'two writers advanced one lineage (after failback)');

    // `latest`, as readers saw it over HTTP (every 50 ms) and as the store wrote it (every 10 ms),
    // through the partition, the heal and the failback: (epoch, id) only ever grows, each epoch
    // has one writer (2: c, 3: a), and the old writer never shows at epoch 1 after the claim.
    await sampler.stop();
    await onDisk.stop();
    const oldAfter = [];
    const writersOf = {};
    for (const [name, seen] of [['http', sampler.seen], ['store', onDisk.seen]]) {
      const firstE2 = seen.findIndex((x) => x.epoch === 2);
      assert.ok(firstE2 > 0, `${name}: ${JSON.stringify(seen)}`);
      const backwards = seen.filter((x, i) => i > 0 && (x.epoch < seen[i - 1].epoch ||
        (x.epoch === seen[i - 1].epoch && x.id < seen[i - 1].id)));
      assert.deepEqual(backwards, [], `${name}: latest went backwards`);
      oldAfter.push(...seen.slice(firstE2).filter((x) => x.epoch < 2));
      for (const x of seen) (writersOf[x.epoch] ??= new Set()).add(x.writer.split('/')[0]);
    }
    assert.deepEqual(oldAfter, [], 'latest showed the old writer after the claim');
    assert.deepEqual(Object.fromEntries(Object.entries(writersOf).map(([e, ws]) => [e, [...ws]])),
      { 1: ['a'], 2: ['c'], 3: ['a'] }, 'one writer per epoch');

    // b's lineage was never touched.
    const lb = await w.latest('b');
    assert.equal(lb.epoch, 1);
    assert.ok(lb.writer.startsWith('b/'));

    const stats = {
      cutToFailedMs: took,
      promotedAt: promoted.at ?? promoted.time ?? null,
      claimAtStore: tClaim === null ? null : new Date(tClaim).toISOString(),
      claimSeenOverHttpBetween: [new Date(tClaimAfter).toISOString(), new Date(tClaimSeen).toISOString()],
      writerLoggedAt: claimLine.ts,
      takeoverMs: claimLine.takeoverMs,
      failedClaimRounds: failedTakeovers.length,
      headMovedDuringTakeover: headMoves.length,
      fencedAt: fenceLine.ts,
      claimToFencedMs: tClaim === null ? null : tFenced - tClaim,
      claimToFencedMsBoundsFromHttp: [tFenced - tClaimSeen, tFenced - tClaimAfter],
      oldWritesAfterClaim,
      oldWriterOrphanRecordsAfterClaim: lateOld.length,
      cutToFencedMs: tFenced - tCut,
      latestValuesSampled: { http: sampler.seen.length, store: onDisk.seen.length },
      latestSampling: sampler.stats(),
      takeoverStartedAt: logLines(c.sidecar, (l) => l.msg === 'role change' && l.to === 'writer')[0]?.ts,
      records: rows.length,
      twoWritersAdvancedOneLineage: interleaved.length + interleaved3.length + oldAfter.length,
      divergentFilesKept: kept.size,
      notesInTail: inTail,
      healToFollowMs,
      roleAfterHeal: pa2.role,
      aStateSawPromotion: (w.state('a').transitions ?? []).some((x) => x.type === 'RegionPromoted'),
      demotedToADataReadyMs: tsOf(back) - tDemoted,
      failbackTakeoverMs: back.takeoverMs,
    };
    t.diagnostic(`fencing: ${JSON.stringify(stats)}`);
  });

// `agency-ha follow` (warm standby), black-box: the real binary following snapshots that the real
// `replicate --once` publishes to file:// remotes and s3rver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  mkdirSync, writeFileSync, readFileSync, readdirSync, statSync, rmSync, existsSync, utimesSync,
  chmodSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { tempDir, run, freePort, startRole, waitFor, get, BIN } from './helpers.mjs';
import { write, settle, tree, metric } from './replication_helpers.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const S3ENV = { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

function makeSource(dir, bigBytes = 300 * 1024) {
  write(join(dir, 'notes.txt'), 'hello\n');
  write(join(dir, 'copy-of-notes.txt'), 'hello\n');
  write(join(dir, 'big.bin'), randomBytes(bigBytes));
  write(join(dir, 'secret.key'), 'k');
  chmodSync(join(dir, 'secret.key'), 0o600);
  const ds = join(dir, 'brain', 'memory.lance');
  write(join(ds, 'data', '0001.lance'), randomBytes(20000));
  write(join(ds, '_versions', '1.manifest'), randomBytes(300));
  settle(dir);
}

function config(dir, source, remotes, extra = '') {
  const path = join(dir, `replicate-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, `source: ${source}\nregion: us-east-1\nremotes:\n${remotes
    .map((r) => `  - ${JSON.stringify(r)}\n`).join('')}retention: {keepLast: 0, keepWithinSeconds: 0}\n${extra}`);
  return path;
}

function once(cfg, env = process.env) {
  const r = run(['replicate', '--config', cfg, '--once'], { env });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  return JSON.parse(r.stdout);
}

async function metrics(port) {
  return (await get(port, '/metrics')).body;
}

async function health(port) {
  const h = await get(port, '/healthz');
  return { status: h.status, ...JSON.parse(h.body) };
}

function startFollow(t, remotes, to, extra = [], env = {}) {
  const args = ['follow', '--region', 'us-east-1', '--to', to, '--listen', '127.0.0.1:0', ...extra];
  for (const r of remotes) args.push('--remote', r);
  return startRole(t, args, 'follow starting', env);
}

function followOnce(remotes, to, extra = [], env = process.env) {
  const args = ['follow', '--region', 'us-east-1', '--to', to, '--once', ...extra];
  for (const r of remotes) args.push('--remote', r);
  const r = run(args, { env });
  let report = null;
  try { report = JSON.parse(r.stdout); } catch { /* asserted by callers */ }
  return { ...r, report };
}

async function startS3rver(t, dir) {
  const port = await freePort();
  mkdirSync(join(dir, 's3rver'), { recursive: true });
  const child = spawn(process.execPath, ['--openssl-legacy-provider',
    join(ROOT, 'tests/support/s3rver.cjs'), '--directory', join(dir, 's3rver'),
    '--port', String(port), '--address', '127.0.0.1', '--silent', '--configure-bucket', 'bkt'],
  { stdio: 'ignore' });
  t.after(() => child.kill('SIGTERM'));
  await waitFor('s3rver listening', () => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
    s.on('error', () => resolve(false));
  }));
  return `http://127.0.0.1:${port}`;
}

test('follow: converges to each new snapshot fetching only changed blobs; idle rounds cost one request; SIGTERM exits 0', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  makeSource(src);
  const remoteDir = join(dir, 'remote');
  const remote = `file://${remoteDir}`;
  const cfg = config(dir, src, [{ url: remote }]);
  const s1 = once(cfg);
  const to = join(dir, 'standby', 'agent');
  const f = await startFollow(t, [remote], to, ['--interval', '0.2']);
  await waitFor('first snapshot applied', async () => (await health(f.port)).snapshot === s1.snapshot);
  assert.deepEqual(tree(to), tree(src));
  let m = await metrics(f.port);
  assert.equal(metric(m, 'agency_ha_follow_fetched_objects_total'), 5, 'one fetch per distinct blob');
  assert.equal(metric(m, 'agency_ha_follow_applied_total'), 1);
  assert.equal(metric(m, 'agency_ha_follow_last_applied_info', s1.snapshot), 1);
  assert.ok(metric(m, 'agency_ha_follow_lag_seconds') > 0);
  const h = await health(f.port);
  assert.equal(h.status, 200);

  // Idle: each round is one GET of `latest`, nothing else.
  const r0 = metric(m, 'agency_ha_follow_rounds_total');
  const q0 = metric(m, 'agency_ha_follow_requests_total');
  await waitFor('three idle rounds', async () => metric(await metrics(f.port), 'agency_ha_follow_rounds_total') >= r0 + 3);
  m = await metrics(f.port);
  const idleRounds = metric(m, 'agency_ha_follow_rounds_total') - r0;
  assert.equal(metric(m, 'agency_ha_follow_requests_total') - q0, idleRounds);
  assert.equal(metric(m, 'agency_ha_follow_fetched_objects_total'), 5);
  console.log(`follow idle: ${idleRounds} rounds, ${metric(m, 'agency_ha_follow_requests_total') - q0} requests`);

  // One file changed, one added: exactly those two blobs travel; the 300 KiB file is a hard link.
  const bigIno = statSync(join(to, 'big.bin')).ino;
  const fetchedBytes0 = metric(m, 'agency_ha_follow_fetched_bytes_total');
  writeFileSync(join(src, 'notes.txt'), 'hello, changed\n');
  write(join(src, 'brain', 'memory.lance', '_versions', '2.manifest'), randomBytes(400));
  settle(src);
  const s2 = once(cfg);
  await waitFor('second snapshot applied', async () => (await health(f.port)).snapshot === s2.snapshot);
  assert.deepEqual(tree(to), tree(src));
  m = await metrics(f.port);
  assert.equal(metric(m, 'agency_ha_follow_fetched_objects_total'), 7);
  assert.equal(metric(m, 'agency_ha_follow_fetched_bytes_total') - fetchedBytes0, 15 + 400);
  assert.equal(statSync(join(to, 'big.bin')).ino, bigIno, 'unchanged file hard-linked, not fetched');
  console.log(`follow incremental: fetched ${metric(m, 'agency_ha_follow_fetched_objects_total') - 5} blobs, `
    + `${metric(m, 'agency_ha_follow_fetched_bytes_total') - fetchedBytes0} bytes`);

  // A deletion and a mode change follow too; a restored-by-follow copy never keeps stale files.
  rmSync(join(src, 'copy-of-notes.txt'));
  chmodSync(join(src, 'big.bin'), 0o640);
  const s3 = once(cfg);
  await waitFor('third snapshot applied', async () => (await health(f.port)).snapshot === s3.snapshot);
  assert.deepEqual(tree(to), tree(src));
  assert.equal(metric(await metrics(f.port), 'agency_ha_follow_fetched_objects_total'), 7, 'mode change: a local copy');
  assert.deepEqual(readdirSync(join(dir, 'standby')).sort(), ['.agent.aha-follow.lock', 'agent']);

  f.child.kill('SIGTERM');
  assert.equal(await f.exited, 0);
  assert.ok(f.lines.some((l) => l.msg === 'follow stopped'));
});

test('follow: SIGKILL at any point, restart converges; DIR is always one whole snapshot', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  makeSource(src, 8 << 20);
  for (let i = 0; i < 150; i++) write(join(src, 'many', `${i}.txt`), `file ${i} v0\n`);
  settle(src);
  const remote = `file://${join(dir, 'remote')}`;
  const cfg = config(dir, src, [{ url: remote }]);
  const to = join(dir, 'agent');
  const seen = new Map(); // snapshot id -> tree
  const snapshot = () => {
    const s = once(cfg);
    seen.set(s.snapshot, tree(src));
    return s.snapshot;
  };
  const isWhole = () => {
    if (!existsSync(to)) return 'absent';
    const cur = JSON.stringify(tree(to));
    for (const [id, tr] of seen) if (JSON.stringify(tr) === cur) return id;
    return null;
  };
  let kills = 0;
  let midApply = 0;
  for (let round = 0; round < 6; round++) {
    // Every round changes the big file and a few small ones: something to fetch and to link.
    writeFileSync(join(src, 'big.bin'), randomBytes(8 << 20));
    for (let i = round; i < 150; i += 10) writeFileSync(join(src, 'many', `${i}.txt`), `file ${i} v${round + 1}\n`);
    settle(src);
    const id = snapshot();
    const f = spawn(BIN, ['follow', '--region', 'us-east-1', '--to', to, '--remote', remote, '--interval', '0.1'],
      { stdio: 'ignore' });
    // Kill once a staging dir exists (the apply is under way), at a varying point after that:
    // while fetching, linking, fsyncing, around the swap or while the old tree is removed.
    const deadline = Date.now() + 30000;
    let staged = false;
    while (Date.now() < deadline && !staged) {
      staged = readdirSync(dir).some((n) => n.startsWith('.agent.aha-follow-'));
      if (!staged) await new Promise((r) => setTimeout(r, 1));
    }
    await new Promise((r) => setTimeout(r, (round * 37) % 120));
    f.kill('SIGKILL');
    await new Promise((r) => f.once('exit', r));
    kills++;
    if (staged) midApply++;
    const whole = isWhole();
    assert.ok(whole !== null, `after kill ${kills}: DIR is not one whole snapshot`);
    assert.ok(whole === 'absent' || seen.has(whole));
    void id;
  }
  // A normal run: cleans the leftovers and converges to the newest snapshot.
  const last = snapshot();
  const r = run(['follow', '--region', 'us-east-1', '--to', to, '--remote', remote, '--once']);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.equal(JSON.parse(r.stdout).snapshot, last);
  assert.deepEqual(tree(to), tree(src));
  assert.deepEqual(readdirSync(dir).filter((n) => n.includes('aha') && !n.endsWith('.aha-follow.lock')), [],
    'stale staging removed');
  console.log(`follow SIGKILL: ${kills} kills, ${midApply} while a staging dir existed`);
  assert.ok(midApply >= 5, `only ${midApply} kills after an apply had started`);

  // SIGTERM mid-apply: a clean exit 0, the round abandoned, no staging left, DIR whole.
  writeFileSync(join(src, 'big.bin'), randomBytes(8 << 20));
  for (let i = 0; i < 150; i++) writeFileSync(join(src, 'many', `${i}.txt`), `file ${i} final\n`);
  settle(src);
  snapshot();
  const f = spawn(BIN, ['follow', '--region', 'us-east-1', '--to', to, '--remote', remote, '--interval', '0.1'],
    { stdio: 'ignore' });
  const exited = new Promise((resolve) => f.once('exit', (code, signal) => resolve({ code, signal })));
  await waitFor('an apply under way', () => readdirSync(dir).some((n) => n.startsWith('.agent.aha-follow-')), 30000);
  f.kill('SIGTERM');
  assert.deepEqual(await exited, { code: 0, signal: null });
  assert.deepEqual(readdirSync(dir).filter((n) => n.includes('aha') && !n.endsWith('.aha-follow.lock')), []);
  assert.ok(seen.has(isWhole()));
});

test('follow: a reader never observes DIR half-updated while snapshots are swapped in', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  const N = 40;
  const writeVersion = (v) => {
    for (let i = 0; i < N; i++) write(join(src, 'd', `${i % 4}`, `f${i}.txt`), `v${v} ${i} ${'x'.repeat(2000)}\n`);
    write(join(src, 'version'), `${v}\n`);
    settle(src);
  };
  writeVersion(0);
  const remote = `file://${join(dir, 'remote')}`;
  const cfg = config(dir, src, [{ url: remote }]);
  once(cfg);
  const to = join(dir, 'agent');
  const f = await startFollow(t, [remote], to, ['--interval', '0.1']);
  await waitFor('first snapshot', async () => (await health(f.port)).snapshot);
  // The reader: version, all files, version again. When both version reads agree, nothing was
  // swapped in between (every snapshot has a new version), so every file must carry it.
  const readerScript = join(dir, 'reader.cjs');
  writeFileSync(readerScript, `
const fs = require('fs');
const path = require('path');
const [to, n, ms] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const until = Date.now() + ms;
let checks = 0, consistent = 0, raced = 0, violations = [], versions = new Set();
const version = () => { try { return fs.readFileSync(path.join(to, 'version'), 'utf8').trim(); } catch (e) { raced++; return 'error ' + e.code; } };
while (Date.now() < until) {
  checks++;
  const v1 = version();
  const got = [];
  let missing = null;
  for (let i = 0; i < n; i++) {
    try { got.push(fs.readFileSync(path.join(to, 'd', String(i % 4), 'f' + i + '.txt'), 'utf8').split(' ')[0]); }
    catch (e) { missing = e.code + ' f' + i; }
  }
  const v2 = version();
  if (v1 !== v2 || v1.startsWith('error')) continue;
  consistent++;
  versions.add(v1);
  if (missing) violations.push('version ' + v1 + ': ' + missing);
  const bad = got.filter((x) => x !== 'v' + v1);
  if (bad.length) violations.push('version ' + v1 + ': files of ' + [...new Set(bad)].join(','));
}
process.stdout.write(JSON.stringify({ checks, consistent, raced, versions: versions.size, violations: violations.slice(0, 5) }));
`);
  const reader = spawn(process.execPath, [readerScript, to, String(N), '6000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  reader.stdout.on('data', (d) => { out += d; });
  const readerDone = new Promise((resolve) => reader.once('exit', resolve));
  let finished = false;
  readerDone.then(() => { finished = true; });
  let v = 0;
  let lastId = null;
  while (!finished) {
    writeVersion(++v);
    const s = await new Promise((resolve) => {
      const c = spawn(BIN, ['replicate', '--config', cfg, '--once'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let o = '';
      c.stdout.on('data', (d) => { o += d; });
      c.on('exit', () => resolve(JSON.parse(o)));
    });
    assert.equal(s.ok, true);
    lastId = s.snapshot;
    await waitFor(`version ${v} applied`, async () => (await health(f.port)).snapshot === lastId, 30000);
  }
  assert.equal(await readerDone, 0);
  const res = JSON.parse(out);
  console.log(`follow reader: ${JSON.stringify(res)} across ${v} snapshots`);
  assert.deepEqual(res.violations, []);
  assert.ok(res.versions >= 2, `the reader saw only ${res.versions} version(s)`);
  f.child.kill('SIGTERM');
  assert.equal(await f.exited, 0);
});

test('follow: never overwrites local writes (a promoted standby), nor an unknown directory', (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  makeSource(src);
  const remote = `file://${join(dir, 'remote')}`;
  const cfg = config(dir, src, [{ url: remote }]);
  const s1 = once(cfg);
  const to = join(dir, 'agent');
  let r = followOnce([remote], to);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.report.applied, true);
  assert.equal(r.report.snapshot, s1.snapshot);
  // Idle: up to date, one request.
  r = followOnce([remote], to);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.report.applied, false);
  assert.equal(r.report.requests, 1);

  // A local write in DIR, then a new snapshot upstream: refused, DIR untouched.
  writeFileSync(join(to, 'brain', 'new-local.txt'), 'written on the promoted side');
  writeFileSync(join(src, 'notes.txt'), 'upstream change\n');
  const s2 = once(cfg);
  const before = tree(to);
  r = followOnce([remote], to);
  assert.equal(r.status, 1);
  assert.equal(r.report.refused, true);
  assert.match(r.stderr, /local writes since snapshot .*brain\/new-local\.txt was added/);
  assert.deepEqual(tree(to), before);
  rmSync(join(to, 'brain', 'new-local.txt'));
  writeFileSync(join(to, 'notes.txt'), 'local edit\n');
  r = followOnce([remote], to);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /notes\.txt was modified/);
  assert.equal(readFileSync(join(to, 'notes.txt'), 'utf8'), 'local edit\n');

  // A fresh standby that then gets promoted: `replicate` on it (its own lineage, another remote)
  // makes it a primary; follow refuses from then on even with no file changed.
  const to2 = join(dir, 'agent2');
  assert.equal(followOnce([remote], to2).status, 0);
  const own = config(dir, to2, [{ url: `file://${join(dir, 'own')}` }]);
  writeFileSync(own, readFileSync(own, 'utf8').replace('region: us-east-1', 'region: eu-west-1'));
  const pub = run(['replicate', '--config', own, '--once']);
  assert.equal(pub.status, 0, pub.stderr + pub.stdout);
  writeFileSync(join(src, 'notes.txt'), 'another upstream change\n');
  const s3 = once(cfg);
  r = followOnce([remote], to2);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /`replicate` has taken snapshots of it/);
  assert.equal(readFileSync(join(to2, 'notes.txt'), 'utf8'), 'upstream change\n');
  void s2; void s3;

  // A non-empty directory follow did not write.
  const foreign = join(dir, 'foreign');
  write(join(foreign, 'keep.txt'), 'precious');
  r = followOnce([remote], foreign);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /not empty and holds no snapshot written by restore or follow/);
  assert.deepEqual(readdirSync(foreign), ['keep.txt']);

  // A restored copy is adopted: only the changed blobs are fetched.
  const restored = join(dir, 'restored');
  const rs = run(['restore', '--remote', remote, '--region', 'us-east-1', '--to', restored,
    '--snapshot', s1.snapshot, '--quiet']);
  assert.equal(rs.status, 0, rs.stderr);
  assert.equal(rs.stderr, '', '--quiet: no progress');
  r = followOnce([remote], restored);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.report.applied, true);
  assert.equal(r.report.blobsFetched, 1, 'notes.txt only');
  assert.deepEqual(tree(restored), tree(src));
});

test('follow: usage errors exit 2, a second follow on the same DIR is refused, remote fallback, --config and AWS_ENDPOINT_URL_S3', async (t) => {
  const dir = tempDir(t);
  const endpoint = await startS3rver(t, dir);
  const src = join(dir, 'src');
  makeSource(src);
  const s3 = { url: 's3://bkt/replicas', endpoint, pathStyle: true };
  const cfg = config(dir, src, [s3]);
  const snap = once(cfg, S3ENV);
  const to = join(dir, 'agent');

  for (const [args, re] of [
    [['--region', 'us-east-1', '--to', to], /--remote \(or --config\) is required/],
    [['--remote', 'http://x/y', '--region', 'us-east-1', '--to', to], /--remote "http:\/\/x\/y": unsupported scheme/],
    [['--remote', 'file://rel', '--region', 'us-east-1', '--to', to], /absolute path/],
    [['--remote', 's3://bkt/x', '--region', 'Not_A_Label', '--to', to], /--region "Not_A_Label"/],
    [['--remote', 's3://bkt/x', '--region', 'us-east-1', '--to', to, '--endpoint', 'ftp://h'], /--endpoint "ftp:\/\/h"/],
    [['--remote', 's3://bkt/x', '--region', 'us-east-1', '--to', to, '--s3-region', 'EU WEST'], /--s3-region/],
    [['--remote', 's3://bkt/x', '--region', 'us-east-1', '--to', to, '--listen', 'nope'], /--listen "nope"/],
    [['--remote', 's3://bkt/x', '--region', 'us-east-1', '--to', to, '--interval', '0'], /interval/],
    [['--config', join(dir, 'missing.yaml'), '--to', to], /--config .*missing\.yaml/],
  ]) {
    const r = run(['follow', '--once', ...args], { env: S3ENV });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.ok(!existsSync(to), 'nothing written');
  }

  // --config: remotes (with endpoint and pathStyle) and region come from the sidecar's config.
  let r = run(['follow', '--config', cfg, '--to', to, '--once'], { env: S3ENV });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.equal(JSON.parse(r.stdout).snapshot, snap.snapshot);
  assert.deepEqual(tree(to), tree(src));

  // AWS_ENDPOINT_URL_S3 (path-style is automatic for custom endpoints), restore and snapshots.
  const envEp = { ...S3ENV, AWS_ENDPOINT_URL_S3: endpoint, AWS_REGION: 'eu-west-1' };
  const out = join(dir, 'out');
  r = run(['restore', '--remote', 's3://bkt/replicas', '--region', 'us-east-1', '--to', out], { env: envEp });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /restore: \d+\/\d+ files, .*\(100%\), fsynced/);
  assert.deepEqual(tree(out), tree(src));
  r = run(['snapshots', '--config', cfg, '--json'], { env: S3ENV });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).map((s) => s.id), [snap.snapshot]);
  // --endpoint and --path-style flags override the environment.
  r = run(['snapshots', '--remote', 's3://bkt/replicas', '--region', 'us-east-1', '--endpoint', endpoint,
    '--path-style', '--s3-region', 'us-east-1', '--json'], { env: { ...S3ENV, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1' } });
  assert.equal(r.status, 0, r.stderr);

  // A running follow holds DIR's lock.
  const f = await startFollow(t, ['s3://bkt/replicas'], to, ['--endpoint', endpoint, '--interval', '5'], S3ENV);
  r = run(['follow', '--remote', 's3://bkt/replicas', '--endpoint', endpoint, '--region', 'us-east-1', '--to', to, '--once'], { env: S3ENV });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /another follow is already keeping/);
  f.child.kill('SIGTERM');
  assert.equal(await f.exited, 0);

  // Fallback: an unreachable first remote, then s3rver.
  const down = `http://127.0.0.1:${await freePort()}`;
  writeFileSync(join(src, 'notes.txt'), 'newer\n');
  const snap2 = once(cfg, S3ENV);
  const fileRemote = join(dir, 'file-remote');
  const cfg2 = config(dir, src, [{ url: `file://${fileRemote}` }]);
  void cfg2;
  r = run(['follow', '--remote', 's3://bkt/replicas', '--remote', `file://${fileRemote}`, '--region', 'us-east-1',
    '--to', to, '--once', '--endpoint', down], { env: S3ENV, timeout: 120000 });
  assert.equal(r.status, 1, 'both remotes unusable: the s3 one is down, the file one empty');
  assert.match(r.stderr, /no remote could provide the latest snapshot/);
  r = run(['follow', '--config', cfg, '--remote', `file://${fileRemote}`, '--remote', 's3://bkt/replicas',
    '--to', to, '--once', '--endpoint', endpoint], { env: S3ENV });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.snapshot, snap2.snapshot);
  assert.match(rep.latestFrom, /s3:\/\/bkt\/replicas/);
  assert.equal(rep.blobsFetched, 1);
  assert.equal(readFileSync(join(to, 'notes.txt'), 'utf8'), 'newer\n');
});

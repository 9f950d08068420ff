// Replication under faults, black-box: the real binary against a real s3rver (npm) and real
// filesystems. Every test ends by proving that nothing was lost: the remote's snapshots restore
// byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  mkdirSync, writeFileSync, readFileSync, readdirSync, statSync, rmSync, existsSync, utimesSync,
  chmodSync, chownSync, mkdtempSync, rmdirSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { tempDir, run, freePort, startRole, waitFor, get, BIN } from './helpers.mjs';
import { write, settle, tree } from './replication_helpers.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const S3ENV = { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

function makeSource(dir, bigBytes = 300 * 1024) {
  write(join(dir, 'notes.txt'), 'hello\n');
  write(join(dir, 'big.bin'), randomBytes(bigBytes));
  for (let i = 0; i < 20; i++) write(join(dir, 'small', `${i}.txt`), `small ${i}\n`);
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

function once(cfg, env = S3ENV) {
  const r = run(['replicate', '--config', cfg, '--once'], { env, timeout: 120000 });
  let report = null;
  try { report = JSON.parse(r.stdout); } catch { /* asserted by callers */ }
  return { ...r, report };
}

function restore(remotes, to, extra = [], env = S3ENV) {
  const args = ['restore', '--region', 'us-east-1', '--to', to, '--quiet', ...extra];
  for (const r of remotes) args.push('--remote', r);
  return run(args, { env, timeout: 120000 });
}

function snapshotIds(remote, extra = [], env = S3ENV) {
  const r = run(['snapshots', '--remote', remote, '--region', 'us-east-1', '--json', ...extra], { env });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).map((s) => s.id);
}

// s3rver on `port` (0: a free one) over `dir`; stop() kills it, the same port and directory can be
// started again.
async function startS3rver(t, dir, port = 0) {
  port = port || await freePort();
  mkdirSync(dir, { recursive: true });
  const child = spawn(process.execPath, ['--openssl-legacy-provider',
    join(ROOT, 'tests/support/s3rver.cjs'), '--directory', dir,
    '--port', String(port), '--address', '127.0.0.1', '--silent', '--configure-bucket', 'bkt'],
  { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  await waitFor('s3rver listening', () => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
    s.on('error', () => resolve(false));
  }));
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => { child.kill('SIGKILL'); await exited; },
  };
}

// Restores every snapshot on `remote` (one after the other into the same target) and returns
// the trees by id.
function restoreAll(t, remote, extra) {
  const ids = snapshotIds(remote, extra);
  const out = {};
  const to = join(mkdtempSync(join(tmpdir(), 'aha-faults-all-')), 'r');
  t.after(() => rmSync(join(to, '..'), { recursive: true, force: true }));
  for (const id of ids) {
    const r = restore([remote], to, ['--snapshot', id, '--force', ...extra]);
    assert.equal(r.status, 0, `snapshot ${id}: ${r.stderr}`);
    out[id] = JSON.stringify(tree(to));
  }
  return out;
}

test('SIGKILL of replicate mid-upload, 10 times: the next run converges, every snapshot restores', async (t) => {
  const dir = tempDir(t);
  const s3 = await startS3rver(t, join(dir, 's3rver'));
  const src = join(dir, 'src');
  makeSource(src, 20 << 20); // above the 16 MiB part size: a multipart upload
  const remote = { url: 's3://bkt/replicas', endpoint: s3.endpoint, pathStyle: true };
  const cfg = config(dir, src, [remote]);
  const first = once(cfg);
  assert.equal(first.status, 0, first.stderr + first.stdout);
  const trees = new Map([[first.report.snapshot, JSON.stringify(tree(src))]]);
  // The duration of a run like the killed ones (a new big file), measured with a warm s3rver.
  writeFileSync(join(src, 'big.bin'), randomBytes(20 << 20));
  settle(src);
  const t0 = performance.now();
  const second = once(cfg);
  const full = performance.now() - t0;
  assert.equal(second.status, 0, second.stderr + second.stdout);
  trees.set(second.report.snapshot, JSON.stringify(tree(src)));
  let running = 0;
  for (let i = 0; i < 10; i++) {
    writeFileSync(join(src, 'big.bin'), randomBytes(20 << 20));
    writeFileSync(join(src, 'notes.txt'), `round ${i}\n`);
    settle(src);
    const c = spawn(BIN, ['replicate', '--config', cfg, '--once'], { env: S3ENV, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    const exited = new Promise((resolve) => c.once('exit', resolve));
    // Spread the kills over the measured duration of a full run: capture, parts, record.
    await new Promise((r) => setTimeout(r, full * (0.2 + 0.07 * i)));
    if (c.exitCode === null) running++;
    c.kill('SIGKILL');
    await exited;
    if (out) {
      const rep = JSON.parse(out);
      if (rep.ok) trees.set(rep.snapshot, JSON.stringify(tree(src)));
    }
  }
  console.log(`replicate SIGKILL: full run ${full.toFixed(0)} ms, ${running}/10 kills landed while it ran`);
  assert.ok(running >= 5, `only ${running} kills landed while replicate ran`);
  const last = once(cfg);
  assert.equal(last.status, 0, last.stderr + last.stdout);
  trees.set(last.report.snapshot, JSON.stringify(tree(src)));
  const out = join(dir, 'out');
  const r = restore(['s3://bkt/replicas'], out, ['--endpoint', s3.endpoint]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(tree(out), tree(src));
  // Every snapshot on the remote (including any a killed run completed) restores, and those we
  // know the content of restore to exactly that content.
  const all = restoreAll(t, 's3://bkt/replicas', ['--endpoint', s3.endpoint]);
  assert.ok(Object.keys(all).length >= 2);
  for (const [id, tr] of trees) assert.equal(all[id], tr, `snapshot ${id}`);
});

test('s3rver stopped mid-sync and brought back: the sidecar retries with backoff and converges', async (t) => {
  const dir = tempDir(t);
  const s3dir = join(dir, 's3rver');
  let s3 = await startS3rver(t, s3dir);
  const src = join(dir, 'src');
  makeSource(src, 4 << 20);
  const remote = { url: 's3://bkt/replicas', endpoint: s3.endpoint, pathStyle: true };
  const cfg = config(dir, src, [remote], 'syncIntervalSeconds: 1\ndebounceMilliseconds: 50\nlisten: "127.0.0.1:0"\n');
  const r = await startRole(t, ['replicate', '--config', cfg], 'replicate starting', S3ENV);
  const snaps = () => r.lines.filter((l) => l.msg === 'snapshot');
  await waitFor('first snapshot', () => snaps().some((l) => l.ok), 60000);
  const n0 = snaps().length;
  // A change, and the store goes away while it is being shipped.
  writeFileSync(join(src, 'big.bin'), randomBytes(24 << 20));
  writeFileSync(join(src, 'notes.txt'), 'written during the outage\n');
  await new Promise((res) => setTimeout(res, 150));
  await s3.stop();
  // However quick the machine, a change lands while the store is down.
  writeFileSync(join(src, 'small', '3.txt'), 'also written during the outage\n');
  await waitFor('a failed publish', () => snaps().slice(n0).some((l) => !l.ok), 120000);
  await new Promise((res) => setTimeout(res, 1500)); // a few retries against nothing
  s3 = await startS3rver(t, s3dir, s3.port);
  await waitFor('a snapshot after the outage', () => {
    const after = snaps().slice(n0);
    return after.some((l) => !l.ok) && after.at(-1).ok;
  }, 120000);
  const failures = snaps().slice(n0).filter((l) => !l.ok);
  console.log(`s3rver outage: ${failures.length} failed publish(es): ${failures.map((l) => l.remotes[0].error).slice(0, 2).join(' | ')}`);
  const m = (await get(r.port, '/metrics')).body;
  assert.match(m, /agency_ha_replication_errors_total\{remote="s3:\/\/bkt\/replicas[^}]*\} [1-9]/);
  r.child.kill('SIGTERM');
  assert.equal(await r.exited, 0);
  const out = join(dir, 'out');
  const rs = restore(['s3://bkt/replicas'], out, ['--endpoint', s3.endpoint]);
  assert.equal(rs.status, 0, rs.stderr);
  assert.deepEqual(tree(out), tree(src));
  // No torn snapshot: every record on the remote restores (all its blobs are there, verified).
  restoreAll(t, 's3://bkt/replicas', ['--endpoint', s3.endpoint]);
});

test('restore into a full disk: clear ENOSPC error naming the filesystem, target untouched, staging removed', (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  makeSource(src, 3 << 20);
  const remoteDir = join(dir, 'remote');
  const cfg = config(dir, src, [{ url: `file://${remoteDir}` }]);
  const snap = once(cfg, process.env);
  assert.equal(snap.status, 0, snap.stderr);
  const small = mkdtempSync(join(tmpdir(), 'aha-tmpfs-'));
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small], { encoding: 'utf8' });
  if (m.status !== 0) {
    rmdirSync(small);
    t.skip(`cannot mount a 1 MiB tmpfs (needs root or CAP_SYS_ADMIN): ${(m.stderr || m.error?.message || '').trim()}`);
    return;
  }
  try {
    const target = join(small, 'agent');
    write(join(target, 'keep.txt'), 'precious');
    const check = (r, what) => {
      assert.equal(r.status, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, /no space left on device/, what);
      assert.match(r.stderr, new RegExp(`filesystem ${small} \\(tmpfs`), what);
      assert.match(r.stderr, /target left untouched, staging removed/, what);
      assert.deepEqual(readdirSync(target), ['keep.txt'], what);
      assert.equal(readFileSync(join(target, 'keep.txt'), 'utf8'), 'precious');
      assert.deepEqual(readdirSync(small), ['agent'], `${what}: staging and download removed`);
    };
    // 3 MiB of data: refused before fetching anything.
    let r = restore([`file://${remoteDir}`], target, ['--force'], process.env);
    check(r, 'up-front check');
    assert.match(r.stderr, /to write/);
    console.log(`ENOSPC up front: ${r.stderr.trim()}`);
    // Many small files: the byte count fits, the blocks do not (tmpfs: one page per file), so
    // the disk fills while writing.
    const src2 = join(dir, 'src2');
    for (let i = 0; i < 400; i++) write(join(src2, 'f', `${i}.txt`), `${i} ${'y'.repeat(100)}\n`);
    settle(src2);
    const remote2 = join(dir, 'remote2');
    assert.equal(once(config(dir, src2, [{ url: `file://${remote2}` }]), process.env).status, 0);
    r = restore([`file://${remote2}`], target, ['--force'], process.env);
    check(r, 'while writing');
    console.log(`ENOSPC while writing: ${r.stderr.trim().slice(0, 300)}`);
  } finally {
    spawnSync('umount', [small]);
    rmdirSync(small);
  }
});

test('an unreadable source file: the snapshot is refused naming the file, the previous one stays latest', (t) => {
  // Root reads any file regardless of its mode, so chmod 000 alone proves nothing under CI's
  // root: the sidecar runs as the unprivileged uid 65534 via setpriv(1) (util-linux), for which
  // open(2) of a mode-000 file really fails with EACCES.
  const probe = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', BIN, 'version'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip(`cannot run the binary as uid 65534 with setpriv: ${(probe.stderr || probe.error?.message || '').trim()}`);
    return;
  }
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const src = join(dir, 'src');
  makeSource(src);
  const remoteDir = join(dir, 'remote');
  mkdirSync(remoteDir);
  const own = (p) => {
    chownSync(p, 65534, 65534);
    if (statSync(p).isDirectory()) for (const e of readdirSync(p)) own(join(p, e));
  };
  own(src);
  own(remoteDir);
  const cfg = config(dir, src, [{ url: `file://${remoteDir}` }]);
  const asNobody = () => {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', BIN, 'replicate', '--config', cfg, '--once'],
      { encoding: 'utf8', timeout: 60000 });
    return { ...r, report: JSON.parse(r.stdout) };
  };
  const good = asNobody();
  assert.equal(good.status, 0, good.stderr + good.stdout);
  // A changed file that cannot be read. (An unchanged one that merely lost its read permission
  // is still snapshotted: its content is known by hash from the cache and already on the remote.)
  writeFileSync(join(src, 'notes.txt'), 'changed next to an unreadable file\n');
  writeFileSync(join(src, 'small', '7.txt'), 'new content nobody can read\n');
  chmodSync(join(src, 'small', '7.txt'), 0o000);
  const bad = asNobody();
  assert.equal(bad.status, 1);
  assert.match(bad.report.error, /small\/7\.txt: Permission denied/);
  console.log(`unreadable file: ${bad.report.error}`);
  assert.deepEqual(snapshotIds(`file://${remoteDir}`, [], process.env), [good.report.snapshot], 'nothing published');
  chmodSync(join(src, 'small', '7.txt'), 0o644);
  const fixed = asNobody();
  assert.equal(fixed.status, 0, fixed.stderr + fixed.stdout);
  const out = join(dir, 'out');
  assert.equal(restore([`file://${remoteDir}`], out, [], process.env).status, 0);
  assert.deepEqual(tree(out), tree(src));
});

test('wrong credentials, bad URLs, missing bucket: clear errors, non-zero exit, nothing lost', async (t) => {
  const dir = tempDir(t);
  const s3 = await startS3rver(t, join(dir, 's3rver'));
  const src = join(dir, 'src');
  makeSource(src);
  const remote = { url: 's3://bkt/replicas', endpoint: s3.endpoint, pathStyle: true };
  const cfg = config(dir, src, [remote]);
  const good = once(cfg);
  assert.equal(good.status, 0, good.stderr + good.stdout);
  const ep = ['--endpoint', s3.endpoint];

  // Wrong credentials: s3rver knows only S3RVER.
  const wrong = { ...process.env, AWS_ACCESS_KEY_ID: 'NOT-A-KEY', AWS_SECRET_ACCESS_KEY: 'nope' };
  writeFileSync(join(src, 'notes.txt'), 'changed\n');
  let r = once(cfg, wrong);
  assert.equal(r.status, 1);
  assert.match(r.report.remotes[0].error, /InvalidAccessKeyId/);
  const out = join(dir, 'out');
  r = restore(['s3://bkt/replicas'], out, ep, wrong);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /InvalidAccessKeyId/);
  assert.ok(!existsSync(out), 'no target created');
  r = run(['snapshots', '--remote', 's3://bkt/replicas', '--region', 'us-east-1', ...ep], { env: wrong });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /InvalidAccessKeyId/);
  r = run(['follow', '--remote', 's3://bkt/replicas', '--region', 'us-east-1', '--to', out, '--once', ...ep], { env: wrong });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /InvalidAccessKeyId/);
  assert.ok(!existsSync(out));

  // A missing bucket.
  const nob = config(dir, src, [{ ...remote, url: 's3://no-such-bucket/x' }]);
  r = once(nob);
  assert.equal(r.status, 1);
  assert.match(r.report.remotes[0].error, /NoSuchBucket/);
  r = restore(['s3://no-such-bucket/x'], out, ep);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /NoSuchBucket/);
  assert.ok(!existsSync(out));

  // Bad URLs and endpoints: usage errors (2) naming the value, nothing written.
  for (const [args, re] of [
    [['--remote', 'http://bkt/x'], /--remote "http:\/\/bkt\/x": unsupported scheme "http"/],
    [['--remote', 's3://'], /--remote "s3:\/\/"/],
    [['--remote', 'file://relative/path'], /file:\/\/ URLs need an absolute path/],
    [['--remote', 's3://bkt/x', '--endpoint', 'not a url'], /--endpoint "not a url"/],
  ]) {
    r = restore([], out, args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.ok(!existsSync(out));
  }
  const badCfg = join(dir, 'bad.yaml');
  writeFileSync(badCfg, `source: ${src}\nregion: us-east-1\nremotes: [{url: "gs://bkt/x"}]\n`);
  r = run(['restore', '--config', badCfg, '--to', out]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--config .*remotes\[0\]\.url: invalid remote "gs:\/\/bkt\/x"/);
  // An endpoint nothing listens on: a clear connection error after the retries.
  r = restore(['s3://bkt/replicas'], out, ['--endpoint', `http://127.0.0.1:${await freePort()}`]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /127\.0\.0\.1/);

  // Nothing lost: the good snapshot is still latest and restores; the next good run publishes.
  assert.deepEqual(snapshotIds('s3://bkt/replicas', ep), [good.report.snapshot]);
  const next = once(cfg);
  assert.equal(next.status, 0, next.stderr + next.stdout);
  r = restore(['s3://bkt/replicas'], out, ep);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(tree(out), tree(src));
});

// ---- a corrupt remote (issue 13): wrong-typed or garbage `latest` and records ----

// Corruptions of a remote's `latest` and of the record it names, as bytes. Each once made a
// reader throw nlohmann::type_error (exit 134) before the parsers were type-checked.
function corruptions(id) {
  const sha = 'a'.repeat(64);
  return [
    { what: 'latest with a numeric generation', key: 'latest', want: /latest\.generation: expected string, got number/,
      bytes: JSON.stringify({ format: 2, id, generation: 5, epoch: 1, writer: 'x', released: false }) },
    { what: 'latest with a string epoch', key: 'latest', want: /latest\.epoch: expected integer, got string/,
      bytes: JSON.stringify({ format: 2, id, generation: 'g', epoch: '1' }) },
    { what: 'latest of invalid UTF-8 bytes', key: 'latest', want: /latest pointer: not valid JSON/,
      bytes: Buffer.from([0xff, 0xfe, 0x7b]) },
    { what: 'a record with a string size', key: 'record', want: /files\[0\]\.size: expected non-negative integer, got string/,
      bytes: JSON.stringify({ format: 1, id, files: [{ path: 'a', sha256: sha, size: '1' }] }) },
    { what: 'a record with datasets [1]', key: 'record', want: /datasets\[0\]: expected object, got number/,
      bytes: JSON.stringify({ format: 1, id, files: [], datasets: [1] }) },
  ];
}

function corrupt(remoteDir, id, c) {
  const path = c.key === 'latest' ? join(remoteDir, 'us-east-1', 'latest')
    : join(remoteDir, 'us-east-1', 'snapshots', `${id}.json`);
  writeFileSync(path, c.bytes);
  return path;
}

test('replicate --once with remotes [corrupt, good]: publishes to the good one, exits 1 naming the corrupt one, overwrites nothing', (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  makeSource(src);
  const bad = join(dir, 'corrupt');
  const good = join(dir, 'good');
  mkdirSync(bad);
  mkdirSync(good);
  const cfg = config(dir, src, [{ url: `file://${bad}` }, { url: `file://${good}` }]);
  const first = once(cfg, process.env);
  assert.equal(first.status, 0, first.stderr + first.stdout);
  const published = [first.report.snapshot];
  let n = 0;
  for (const c of corruptions(first.report.snapshot)) {
    // Only `latest` is read before publishing; a corrupt record is met by readers (below).
    if (c.key !== 'latest') continue;
    const path = corrupt(bad, first.report.snapshot, c);
    writeFileSync(join(src, 'notes.txt'), `change ${n++}\n`);
    settle(src);
    const r = once(cfg, process.env);
    assert.equal(r.status, 1, `${c.what}: ${r.stderr}`);
    assert.ok(r.report, `${c.what}: a JSON report on stdout, not a crash: ${r.stderr}`);
    assert.equal(r.report.remotes.length, 2);
    const [rb, rg] = r.report.remotes;
    assert.match(rb.remote, /corrupt/, 'the report names the corrupt remote');
    assert.equal(rb.ok, false);
    assert.match(rb.error, c.want, `${c.what}: ${rb.error}`);
    assert.equal(rg.ok, true, `${c.what}: the good remote: ${rg.error}`);
    assert.deepEqual(readFileSync(path), Buffer.from(c.bytes), `${c.what}: the corrupt latest is left as it was`);
    published.push(r.report.snapshot);
    console.log(`[corrupt, good] ${c.what}: exit ${r.status}, ${rb.error}`);
  }
  // Nothing on the good remote was lost: every snapshot is there and the latest restores.
  assert.deepEqual(snapshotIds(`file://${good}`, [], process.env), published);
  const out = join(dir, 'out');
  const r = restore([`file://${good}`], out, [], process.env);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(tree(out), tree(src));
});

test('restore and follow against a corrupt remote: a clear error, nothing written, no crash loop; restore falls back to the good one', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  makeSource(src);
  const bad = join(dir, 'corrupt');
  const good = join(dir, 'good');
  mkdirSync(bad);
  mkdirSync(good);
  const cfg = config(dir, src, [{ url: `file://${bad}` }, { url: `file://${good}` }]);
  const first = once(cfg, process.env);
  assert.equal(first.status, 0, first.stderr + first.stdout);
  const id = first.report.snapshot;
  const pristine = {
    latest: readFileSync(join(bad, 'us-east-1', 'latest')),
    record: readFileSync(join(bad, 'us-east-1', 'snapshots', `${id}.json`)),
  };
  // A standby that already follows: it must keep its data whatever the remote says.
  const standby = join(dir, 'standby', 'agent');
  let r = run(['follow', '--region', 'us-east-1', '--to', standby, '--once', '--remote', `file://${good}`]);
  assert.equal(r.status, 0, r.stderr);
  const before = JSON.stringify(tree(standby));
  for (const c of corruptions(id)) {
    writeFileSync(join(bad, 'us-east-1', 'latest'), pristine.latest);
    writeFileSync(join(bad, 'us-east-1', 'snapshots', `${id}.json`), pristine.record);
    corrupt(bad, id, c);
    const out = join(dir, 'out');
    r = restore([`file://${bad}`], out, [], process.env);
    assert.equal(r.status, 1, `${c.what}: ${r.stderr}`);
    assert.match(r.stderr, c.want, c.what);
    assert.doesNotMatch(r.stderr, /terminate|type_error|Aborted/);
    assert.ok(!existsSync(out), `${c.what}: no target created`);
    // [corrupt, good]: the next remote serves the restore.
    r = restore([`file://${bad}`, `file://${good}`], out, [], process.env);
    assert.equal(r.status, 0, `${c.what}: ${r.stderr}`);
    assert.deepEqual(tree(out), tree(src));
    rmSync(out, { recursive: true, force: true });
    // follow into a new directory: refused with the reason, nothing created.
    const fresh = join(dir, 'fresh', 'agent');
    r = run(['follow', '--region', 'us-east-1', '--to', fresh, '--once', '--remote', `file://${bad}`]);
    assert.equal(r.status, 1, `${c.what}: ${r.stderr}`);
    assert.match(r.stderr + r.stdout, c.want, c.what);
    assert.ok(!existsSync(fresh), `${c.what}: nothing created`);
    const said = r.stderr.trim().split('\n').pop();
    // follow of the standby (already at that snapshot: a corrupt copy of its record is not even
    // read); a corrupt `latest` is an error. Either way its data stays as it was.
    r = run(['follow', '--region', 'us-east-1', '--to', standby, '--once', '--remote', `file://${bad}`]);
    if (c.key === 'latest') {
      assert.equal(r.status, 1, `${c.what}: ${r.stderr}`);
      assert.match(r.stderr + r.stdout, c.want, c.what);
    }
    assert.equal(JSON.stringify(tree(standby)), before, `${c.what}: the standby is untouched`);
    console.log(`corrupt remote, ${c.what}: restore/follow exit 1: ${said}`);
  }
  // A long-running follow on the corrupt remote stays up (no crash loop), says why, writes nothing.
  const fresh = join(dir, 'fresh', 'agent');
  const f = await startRole(t, ['follow', '--region', 'us-east-1', '--to', fresh, '--listen', '127.0.0.1:0',
    '--interval', '0.1', '--remote', `file://${bad}`], 'follow starting');
  await waitFor('three failed rounds', async () => {
    const m = (await get(f.port, '/metrics')).body;
    const line = m.split('\n').find((l) => l.startsWith('agency_ha_follow_rounds_total'));
    return line && Number(line.split(' ').pop()) >= 3;
  });
  assert.equal(f.child.exitCode, null, 'follow is still running');
  const h = await get(f.port, '/healthz');
  assert.match(h.body, /datasets\[0\]: expected object/, h.body);
  assert.ok(!existsSync(fresh), 'nothing created');
});

test('a file name that is not valid UTF-8: the snapshot is refused naming it (escaped), nothing published; renamed, it replicates', (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  makeSource(src);
  const remoteDir = join(dir, 'remote');
  mkdirSync(remoteDir);
  const cfg = config(dir, src, [{ url: `file://${remoteDir}` }]);
  const good = once(cfg, process.env);
  assert.equal(good.status, 0, good.stderr + good.stdout);
  // Node takes a Buffer as a path: the raw bytes reach the filesystem.
  for (const name of [Buffer.from('bad-\xff\xfe-name.txt', 'latin1'), Buffer.from('x\xc3.lance', 'latin1')]) {
    const p = Buffer.concat([Buffer.from(`${src}/`), name]);
    if (name.toString('latin1').endsWith('.lance')) {
      // A dataset directory (before: the record's dataset path made RecordToJson throw, exit 134).
      mkdirSync(p);
      writeFileSync(Buffer.concat([p, Buffer.from('/data.bin')]), 'x');
    } else {
      writeFileSync(p, 'bytes\n');
    }
    const r = once(cfg, process.env);
    assert.equal(r.status, 1, r.stderr + r.stdout);
    assert.ok(r.report, `a JSON report, not a crash: ${r.stderr}`);
    assert.match(r.report.error, /\\xff\\xfe-name\.txt|x\\xc3\.lance/, r.report.error);
    assert.match(r.report.error, /not valid UTF-8/);
    assert.deepEqual(snapshotIds(`file://${remoteDir}`, [], process.env), [good.report.snapshot], 'nothing published');
    rmSync(p, { recursive: true });
    console.log(`non-UTF-8 name: ${r.report.error}`);
  }
  writeFileSync(join(src, 'renamed.txt'), 'bytes\n');
  settle(src);
  const fixed = once(cfg, process.env);
  assert.equal(fixed.status, 0, fixed.stderr + fixed.stdout);
  const out = join(dir, 'out');
  assert.equal(restore([`file://${remoteDir}`], out, [], process.env).status, 0);
  assert.deepEqual(tree(out), tree(src));
});

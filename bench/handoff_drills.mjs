// Writer handoff drills (issue 12, "State follows failover"): runs the product's local drill,
// `agency-ha demo --json`, N times one after the other and reports the handoff targets of the
// issue from what the drills measured. Nothing is estimated here: every figure is a field of a
// drill's --json output (see src/demo/report.cpp ToJson and src/demo/drill.cpp).
//
//   node bench/handoff_drills.mjs --binary build-rel/agency-ha --drills 50 --out /tmp/drills.json
//
// Each drill: simulated apps write with acknowledged write ids, the drilled region has an outage
// (its old writer keeps running, like a partition), the passive region is promoted and takes over
// the lineage, then failback. Drills run SEQUENTIALLY (timing on a small machine means nothing
// when two drills compete for it). Each drill runs with --keep-temp: the temp dir (logs, configs,
// bucket) is removed when the drill passed and kept, with its path in the output, when it did not.
//
// Per target (`target` in TARGETS): p50/p95/p99/max or a total over the drills, the target, and
// met / not met. Percentiles are nearest-rank over the drills that measured the field. Exit code:
// 0 every drill exited 0 and every target met, 1 otherwise, 2 bad arguments. With
// --behaviour-only (the ctest smoke, on a sanitizer build) the timing targets are printed but not
// judged: 0 when every drill exited 0 with parsable output, 0 rows lost at failback and 0
// two-writer violations.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import net from 'node:net';
import { parseArgs } from 'node:util';

const HELP = `usage: node bench/handoff_drills.mjs --binary PATH [options]
  --binary PATH      agency-ha binary (required)
  --drills N         number of drills, run one after the other (default 50)
  --duration S       demo --duration: outage length in seconds (default 4)
  --interval S       demo --interval: controller probe interval (default 0.5, the product default)
  --failback S       demo --failback: failback delay in seconds (default 1)
  --rpo-bound S      demo --rpo-bound (default 2, the product default)
  --timeout S        a drill still running after this is interrupted (SIGINT) (default 180)
  --remote KIND      file (default) or s3: a local s3rver (tests/support/s3rver.cjs, conditional
                     writes enforced) started once; each drill ships to its own prefix
  --out FILE         per-drill raw results (the demo's --json plus exit status) as JSON
  --keep-all         keep every drill's temp dir and HTML report, not only failed drills'
  --behaviour-only   exit status from the behaviour targets only (lost at failback, two writers),
                     not the timing ones (for a smoke run on a slow or sanitizer build)
  -h, --help`;

let args;
try {
  args = parseArgs({
    options: {
      binary: { type: 'string' },
      drills: { type: 'string', default: '50' },
      duration: { type: 'string', default: '4' },
      interval: { type: 'string', default: '0.5' },
      failback: { type: 'string', default: '1' },
      'rpo-bound': { type: 'string', default: '2' },
      timeout: { type: 'string', default: '180' },
      remote: { type: 'string', default: 'file' },
      out: { type: 'string' },
      'keep-all': { type: 'boolean', default: false },
      'behaviour-only': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }).values;
} catch (e) {
  console.error(`${e.message}\n${HELP}`);
  process.exit(2);
}
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
const num = (name, min) => {
  const v = Number(args[name]);
  if (!Number.isFinite(v) || v < min) {
    console.error(`--${name} ${args[name]}: a number >= ${min} is needed\n${HELP}`);
    process.exit(2);
  }
  return v;
};
if (!args.binary || !existsSync(args.binary)) {
  console.error(`--binary: ${args.binary ? `${args.binary} not found` : 'required'}\n${HELP}`);
  process.exit(2);
}
if (!['file', 's3'].includes(args.remote)) {
  console.error(`--remote ${args.remote}: file or s3\n${HELP}`);
  process.exit(2);
}
const BIN = resolve(args.binary);
const DRILLS = num('drills', 1);
const TIMEOUT_MS = num('timeout', 10) * 1000;
const DEMO_ARGS = ['--duration', String(num('duration', 1)), '--interval', String(num('interval', 0.05)),
  '--failback', String(num('failback', 0)), '--rpo-bound', String(num('rpo-bound', 0))];

const work = mkdtempSync(join(tmpdir(), 'aha-handoff-drills-'));
let s3 = null; // {child, endpoint}
let current = null; // the running drill's child
let interrupted = false;
process.on('SIGINT', () => {
  interrupted = true;
  if (current) current.kill('SIGINT'); // the demo stops its children and removes its temp dir
});

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
    s.on('error', rej);
  });
}

async function startS3rver() {
  const script = new URL('../tests/support/s3rver.cjs', import.meta.url).pathname;
  const port = await freePort();
  const dir = join(work, 's3rver');
  mkdirSync(dir);
  const child = spawn(process.execPath, ['--openssl-legacy-provider', script, '--directory', dir,
    '--port', String(port), '--address', '127.0.0.1', '--silent', '--configure-bucket', 'bkt'],
  { stdio: 'ignore' });
  const deadline = Date.now() + 15000;
  for (;;) {
    const up = await new Promise((res) => {
      const c = net.connect(port, '127.0.0.1', () => { c.end(); res(true); });
      c.on('error', () => res(false));
    });
    if (up) return { child, endpoint: `http://127.0.0.1:${port}` };
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('s3rver did not start');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

// One drill: resolves with {status, signal, wallMs, timedOut, out (parsed --json or null),
// stderr, tempDir}.
function drill(i) {
  const report = join(work, `drill-${i}.html`);
  const extra = [];
  const env = { ...process.env };
  if (s3) {
    extra.push('--remote', `s3://bkt/drill-${i}`, '--endpoint', s3.endpoint);
    Object.assign(env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' });
  }
  const argv = ['demo', '--json', '--keep-temp', '--report', report, ...DEMO_ARGS, ...extra];
  return new Promise((res) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(BIN, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
    current = child;
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGINT');
      setTimeout(() => child.kill('SIGKILL'), 20000).unref();
    }, TIMEOUT_MS);
    child.on('exit', (status, signal) => {
      clearTimeout(timer);
      current = null;
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const tempDir = /temp dir (\S+)/.exec(stdout)?.[1] ?? null;
      let out = null;
      const at = stdout.indexOf('{\n');
      if (at >= 0) {
        try { out = JSON.parse(stdout.slice(at)); } catch { out = null; }
      }
      res({ argv, status, signal, timedOut, wallMs, out, stderr, tempDir, report });
    });
  });
}

// The fields of one drill the targets are judged on, from its --json output.
function measured(r) {
  const o = r.out;
  if (!o) return null;
  const lf = o.lostAtFailover;
  const num = (v) => (typeof v === 'number' ? v : null);
  return {
    failedStep: o.failedStep,
    failure: o.failure,
    takeoverMs: num(o.takeoverMs),
    sidecarTakeoverMs: num(o.durationsMs?.sidecarTakeoverMs),
    lostAtFailoverCount: lf && typeof lf === 'object' ? lf.count : null,
    lostAtFailoverRows: lf && typeof lf === 'object' ? lf.rows : null,
    acknowledgedByFailed: lf && typeof lf === 'object' ? lf.acknowledged : null,
    // The age of the oldest lost write before the outage began; a drill that lost nothing has a
    // loss window of 0 (its oldestAgeMs is null).
    lossWindowMs: lf && typeof lf === 'object' ? (lf.count > 0 ? num(lf.oldestAgeMs) : 0) : null,
    rpoBoundMs: lf && typeof lf === 'object' ? lf.rpoBoundMs : null,
    lostAtFailback: num(o.lostAtFailback),
    promotedWrites: o.failbackCheck?.promotedWrites ?? null,
    failbackPauseMs: num(o.failbackPauseMs),
    divergentPreservedFiles: o.divergentPreserved?.files ?? null,
    fencedPublishes: num(o.fencedPublishes),
    writerChanges: Array.isArray(o.writerChanges) ? o.writerChanges.length : null,
    twoWriterViolations: num(o.twoWriterViolations),
    lineageOk: o.lineageCheck?.ok ?? null,
    dataCheckOk: o.dataCheck?.ok ?? null,
  };
}

// Nearest-rank percentile of sorted values.
function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
function dist(values) {
  const v = values.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  return { n: v.length, p50: pct(v, 50), p95: pct(v, 95), p99: pct(v, 99), max: v.at(-1) ?? null };
}
const sum = (values) => values.reduce((a, x) => a + (typeof x === 'number' ? x : 0), 0);
const missing = (values) => values.filter((x) => typeof x !== 'number').length;

function summarize(ms, n) {
  const col = (k) => ms.map((m) => (m ? m[k] : null));
  const rpo = num('rpo-bound', 0) * 1000;
  const rows = [];
  const distRow = (name, key, limit) => {
    const d = dist(col(key));
    const miss = n - d.n;
    rows.push({ target: name, ...d, missingDrills: miss, limitMs: limit,
      met: d.n > 0 && miss === 0 && d.p99 <= limit });
  };
  distRow('takeover: promotion -> promoted region data ready (takeoverMs)', 'takeoverMs', 1000);
  distRow('unplanned failover data-loss window (lostAtFailover.oldestAgeMs, 0 if none lost)',
    'lossWindowMs', rpo);
  distRow('failback pause: promoted /ready 503 -> recovered /ready 200 (failbackPauseMs)',
    'failbackPauseMs', 2000);
  const totalRow = (name, key) => {
    const c = col(key);
    const total = sum(c);
    rows.push({ target: name, total, missingDrills: missing(c), limit: 0, behaviour: true,
      met: missing(c) === 0 && total === 0 });
  };
  totalRow('planned failback: rows lost (lostAtFailback)', 'lostAtFailback');
  totalRow('two writers advancing one lineage (twoWriterViolations)', 'twoWriterViolations');
  const info = {
    lostAtFailoverWrites: { total: sum(col('lostAtFailoverCount')),
      drillsWithLoss: col('lostAtFailoverCount').filter((x) => x > 0).length,
      acknowledgedByFailedRegion: sum(col('acknowledgedByFailed')) },
    lossWindowOfDrillsWithLossMs: dist(ms.filter((m) => m && m.lostAtFailoverCount > 0).map((m) => m.lossWindowMs)),
    sidecarTakeoverMs: dist(col('sidecarTakeoverMs')),
    promotedWrites: sum(col('promotedWrites')),
    fencedPublishes: { total: sum(col('fencedPublishes')), dist: dist(col('fencedPublishes')) },
    writerChanges: dist(col('writerChanges')),
    divergentPreservedFiles: dist(col('divergentPreservedFiles')),
  };
  return { rows, info };
}

const f = (v) => (v === null || v === undefined ? '-' : typeof v === 'number' ? v.toFixed(1) : String(v));

function printTable(summary, results) {
  console.log(`\n${results.length} drills, ${DEMO_ARGS.join(' ')}${s3 ? ', remote s3 (s3rver)' : ', remote file://'}`);
  console.log(`${'target'.padEnd(82)} ${'p50'.padStart(8)} ${'p95'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}  limit        result`);
  for (const r of summary.rows) {
    const miss = r.missingDrills ? ` (${r.missingDrills} drills without the field)` : '';
    if ('total' in r) {
      console.log(`${r.target.padEnd(82)} ${`total ${r.total}`.padStart(35)}  = 0          ${r.met ? 'met' : 'NOT MET'}${miss}`);
    } else {
      console.log(`${r.target.padEnd(82)} ${f(r.p50).padStart(8)} ${f(r.p95).padStart(8)} ${f(r.p99).padStart(8)} ${f(r.max).padStart(8)}  p99 <= ${String(r.limitMs).padEnd(5)} ${r.met ? 'met' : 'NOT MET'}${miss}`);
    }
  }
  const i = summary.info;
  console.log(`\nlost at failover: ${i.lostAtFailoverWrites.total} writes in ${i.lostAtFailoverWrites.drillsWithLoss} drills, ` +
    `of ${i.lostAtFailoverWrites.acknowledgedByFailedRegion} the drilled region acknowledged; ` +
    `window over drills with loss (n ${i.lossWindowOfDrillsWithLossMs.n}): p50 ${f(i.lossWindowOfDrillsWithLossMs.p50)} ` +
    `p99 ${f(i.lossWindowOfDrillsWithLossMs.p99)} max ${f(i.lossWindowOfDrillsWithLossMs.max)} ms`);
  console.log(`sidecar's own takeoverMs: p50 ${f(i.sidecarTakeoverMs.p50)} p99 ${f(i.sidecarTakeoverMs.p99)} max ${f(i.sidecarTakeoverMs.max)} ms`);
  console.log(`promoted region's writes checked at failback: ${i.promotedWrites}; fenced publishes: ` +
    `${i.fencedPublishes.total} (per drill max ${f(i.fencedPublishes.dist.max)}); writer changes per drill: ` +
    `p50 ${f(i.writerChanges.p50)} max ${f(i.writerChanges.max)}; divergent files preserved per drill: ` +
    `p50 ${f(i.divergentPreservedFiles.p50)} max ${f(i.divergentPreservedFiles.max)}`);
  const w = dist(results.map((r) => r.wallMs / 1000));
  console.log(`drill wall time (s): p50 ${f(w.p50)} max ${f(w.max)}`);
  const bad = results.filter((r) => r.status !== 0);
  console.log(`\ndrills exited non-zero: ${bad.length} of ${results.length}`);
  for (const r of bad) {
    const why = r.out?.failedStep ? `step "${r.out.failedStep}": ${r.out.failure}`
      : r.timedOut ? 'timed out' : (r.stderr.trim().split('\n').at(-1) ?? '');
    console.log(`  drill ${r.drill}: exit ${r.status ?? r.signal}: ${why}; kept ${r.tempDir ?? '-'}`);
  }
}

const results = [];
const wall0 = Date.now();
try {
  if (args.remote === 's3') s3 = await startS3rver();
  for (let i = 1; i <= DRILLS && !interrupted; i++) {
    const r = await drill(i);
    const m = measured(r);
    const ok = r.status === 0;
    if (ok && !args['keep-all']) {
      if (r.tempDir) rmSync(r.tempDir, { recursive: true, force: true });
      rmSync(r.report, { force: true });
    }
    results.push({ drill: i, status: r.status, signal: r.signal, timedOut: r.timedOut,
      wallMs: r.wallMs, tempDir: ok && !args['keep-all'] ? null : r.tempDir,
      stderrTail: r.stderr.split('\n').slice(-20).join('\n'), measured: m, demo: r.out, argv: r.argv });
    console.log(`drill ${i}/${DRILLS}: exit ${r.status ?? r.signal}, ${(r.wallMs / 1000).toFixed(1)} s` +
      (m ? `, takeover ${f(m.takeoverMs)} ms, lost at failover ${m.lostAtFailoverCount} (window ${f(m.lossWindowMs)} ms),` +
        ` lost at failback ${m.lostAtFailback}, failback pause ${f(m.failbackPauseMs)} ms,` +
        ` two-writer violations ${m.twoWriterViolations}` : ', no JSON output') +
      (ok ? '' : `; FAILED${r.out?.failedStep ? ` at "${r.out.failedStep}"` : ''}, kept ${r.tempDir}`));
  }
} finally {
  if (s3) s3.child.kill('SIGTERM');
}
const summary = summarize(results.map((r) => r.measured), results.length);
printTable(summary, results);
const wallS = (Date.now() - wall0) / 1000;
console.log(`wall time: ${wallS.toFixed(0)} s`);
if (args.out) {
  mkdirSync(dirname(resolve(args.out)), { recursive: true });
  writeFileSync(args.out, JSON.stringify({ binary: BIN, demoArgs: DEMO_ARGS, remote: args.remote,
    drills: results.length, wallSeconds: wallS, summary, results }, null, 1));
  console.log(`raw results: ${args.out}`);
}
if (!results.some((r) => r.status !== 0) && !args['keep-all']) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work} (HTML reports, s3rver bucket)`);
const allMet = summary.rows.every((r) => r.met || (args['behaviour-only'] && !r.behaviour));
process.exit(interrupted ? 130 : results.every((r) => r.status === 0) && allMet ? 0 : 1);

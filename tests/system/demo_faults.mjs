// Shared by the demo_fault_*.test.mjs system tests: one `agency-ha demo --fault <type> --json`
// run, checked end to end. The demo injects the fault into us-east-1 and reverts it after
// --duration; detection, failover, data takeover and failback are the product's. Checks: every
// step happened in order, the data check and the failback check (0 writes lost at failback, no
// lost write older than the RPO bound, one writer per lineage), the sealed evidence record
// (`agency-ha evidence verify` exits 0, and 1 once edited), and nothing left behind (temp dir,
// ports, processes). Prints the measured timings (test output) for the record.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { BIN, run, tempDir } from './helpers.mjs';

function demo(args, onStdout = () => {}) {
  return new Promise((resolve) => {
    const child = spawn(BIN, ['demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; onStdout(stdout, child); });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('exit', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

const refused = (port) => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1');
  s.once('connect', () => { s.destroy(); resolve(false); });
  s.once('error', () => resolve(true));
});

const printedPorts = (stdout) =>
  [...stdout.matchAll(/(?:app |gate |entry point |127\.0\.0\.1):(\d+)/g)].map((m) => Number(m[1]));

const steps = (fault) => [
  `fault injected: ${fault} on us-east-1`,
  'entry point stops routing to us-east-1',
  'us-east-1 in failedRegions',
  'ap-southeast-1 promoted (servingRegions)',
  'ap-southeast-1 data ready: its sidecar writes us-east-1\'s lineage',
  'data check: ap-southeast-1 holds us-east-1\'s last snapshot',
  'ap-southeast-1 serving clients',
  `fault reverted: ${fault} on us-east-1`,
  'outage expired: us-east-1 gate /health 200',
  'us-east-1 recovered (not in failedRegions)',
  'ap-southeast-1 demoted (failback)',
  'ap-southeast-1 gate /ready 503 (failback)',
  'us-east-1 gate /ready 200 (data ready again)',
  'us-east-1 writer of its lineage again',
  'failback check: us-east-1 holds every write ap-southeast-1 committed',
  'us-east-1 serving clients again',
];

// Nothing of the demo is left: its temp dir, the ports it printed (apps, gates, proxies,
// controller, entry point), any process started with its temp dir's configs (a frozen one too).
async function nothingLeft(stdout) {
  const tmp = stdout.match(/temp dir (\S+)/)[1];
  assert.equal(existsSync(tmp), false, `${tmp} removed`);
  const ports = printedPorts(stdout);
  assert.ok(ports.length >= 8, `ports printed: ${ports}`);
  for (const p of ports) assert.ok(await refused(p), `port ${p} closed`);
  const ps = spawnSync('ps', ['-eo', 'pid,stat,args'], { encoding: 'utf8' }).stdout;
  assert.deepEqual(ps.split('\n').filter((l) => l.includes(tmp)), [], 'no process of the demo left');
}

// Ctrl-C while the fault is injected: exit 130, the fault reverted, nothing left behind.
export async function faultInterrupted(t, fault) {
  const dir = tempDir(t);
  let sent = false;
  const r = await demo(['--fault', fault, '--duration', '60', '--interval', '0.5',
    '--report', join(dir, 'r.html')], (stdout, child) => {
    if (!sent && new RegExp(`drill: --fault ${fault}`).test(stdout)) {
      sent = true;
      // The baseline takes a few seconds; the fault is injected after it.
      setTimeout(() => child.kill('SIGINT'), 12000);
    }
  });
  assert.ok(sent, r.stdout + r.stderr);
  assert.equal(r.status, 130, r.stderr);
  assert.match(r.stderr, /interrupted during step/);
  assert.match(r.stdout, new RegExp(`fault injected: ${fault} on us-east-1`), 'interrupted while injected');
  await nothingLeft(r.stdout);
}

export async function faultDrill(t, fault, duration = 4) {
  const dir = tempDir(t);
  const r = await demo(['--fault', fault, '--duration', String(duration), '--interval', '0.5',
    '--failback', '1', '--json', '--report', join(dir, 'r.html')]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.slice(r.stdout.indexOf('{\n')));
  assert.equal(out.fault, fault);
  assert.equal(out.failedStep, null);
  const want = steps(fault);
  const got = out.timeline.map((s) => s.step);
  // Every step, once, in time order; the detection's and the failback's three steps are listed in
  // the order observed, which depends on the fault (a frozen gate holds the entry point's health
  // checks for their timeout while the controller's probes already fail).
  assert.deepEqual(got.slice().sort(), want.slice().sort());
  const times = out.timeline.map((s) => s.atMs);
  for (let i = 1; i < times.length; i++) assert.ok(times[i] >= times[i - 1], `steps out of order: ${got}`);
  const at = Object.fromEntries(out.timeline.map((s) => [s.step, s.atMs]));
  const before = (a, b) => assert.ok(at[a] <= at[b], `${a} (${at[a]}) before ${b} (${at[b]})`);
  before(want[0], want[1]);
  before(want[2], want[3]);
  for (let i = 3; i < 6; i++) before(want[i], want[i + 1]);
  before(want[7], want[8]);
  before(want[8], want[9]);
  before(want[9], want[10]);
  for (let i = 13; i < 15; i++) before(want[i], want[i + 1]);
  const injected = at[want[0]];
  const reverted = at[want[7]];
  // The fault lasts --duration (its own timer), the controller acts only after the injection.
  assert.ok(reverted - injected >= duration * 1000 - 5, `fault lasted ${reverted - injected} ms`);
  assert.ok(at['us-east-1 in failedRegions'] > injected);
  assert.ok(at['us-east-1 recovered (not in failedRegions)'] > reverted);
  assert.equal(out.mcpDrillReport, null, 'the MCP server is not the injector');

  // Data: the takeover restored the last snapshot; nothing lost at failback; a write lost at
  // failover is within the RPO bound (the demo fails otherwise); one writer per lineage.
  assert.equal(out.dataCheck.ok, true, JSON.stringify(out.dataCheck));
  assert.equal(out.lostAtFailback, 0, JSON.stringify(out.failbackCheck));
  assert.ok(out.failbackCheck.promotedWrites > 0, JSON.stringify(out.failbackCheck));
  assert.equal(out.lineageCheck.ok, true, JSON.stringify(out.lineageCheck));
  assert.equal(out.twoWriterViolations, 0);
  const lf = out.lostAtFailover;
  if (lf.count > 0) assert.ok(lf.oldestAgeMs <= lf.rpoBoundMs, JSON.stringify(lf));
  const phase = (name) => out.phases.find((p) => p.phase === name);
  const served = (p, region) => p.served[region] ?? 0;
  assert.ok(served(phase('failed over'), 'ap-southeast-1') +
    served(phase('recovered, before failback'), 'ap-southeast-1') > 0);
  assert.ok(served(phase('failed over'), 'us-east-1') <= 2, JSON.stringify(phase('failed over')));
  assert.ok(served(phase('after failback'), 'us-east-1') > 0);

  // The evidence record: sealed, verifiable by `agency-ha evidence verify`, from the timeline.
  const ev = out.evidence;
  assert.deepEqual(ev.fault, { type: fault, region: 'us-east-1' });
  assert.equal(ev.result, 'passed');
  assert.match(ev.binaryVersion, /\d/);
  assert.match(ev.injectedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(ev.revertedAt > ev.injectedAt);
  assert.ok(Math.abs(ev.rtoMs - (at['ap-southeast-1 serving clients'] - injected)) <= 1);
  assert.equal(ev.rpo.lostWrites, lf.count);
  assert.equal(ev.rpo.dataLossWindowMs, lf.count === 0 ? 0 : Math.round(lf.oldestAgeMs));
  assert.equal(ev.timeline.length, out.timeline.length);
  const file = join(dir, 'evidence.json');
  writeFileSync(file, JSON.stringify(ev, null, 2));
  const v = run(['evidence', 'verify', file]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  writeFileSync(file, JSON.stringify({ ...ev, rtoMs: ev.rtoMs + 1 }));
  assert.equal(run(['evidence', 'verify', file]).status, 1, 'an edited record is detected');

  await nothingLeft(r.stdout);

  const d = out.durationsMs;
  t.diagnostic(`${fault}: injected->entry drain ${Math.round(at['entry point stops routing to us-east-1'] - injected)} ms, ` +
    `->failedRegions ${Math.round(d.drillToFailedRegions - injected)} ms, ->promoted ${Math.round(d.drillToPassivePromoted - injected)} ms, ` +
    `RTO ${ev.rtoMs} ms, takeover ${Math.round(out.takeoverMs)} ms, reverted->recovered ${Math.round(at['us-east-1 recovered (not in failedRegions)'] - reverted)} ms, ` +
    `lost at failover ${lf.count} writes (window ${ev.rpo.dataLossWindowMs} ms), lost at failback ${out.lostAtFailback}`);
  return out;
}

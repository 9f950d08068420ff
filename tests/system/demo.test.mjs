// `agency-ha demo` runs end to end (short durations) and prints every timeline step, measured.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAsync } from './helpers.mjs';

test('demo: outage, failure, promotion, recovery and failback, with a measured timeline', async () => {
  const r = await runAsync(['demo', '--interval', '0.2', '--outage', '2', '--failback', '1', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.slice(r.stdout.indexOf('{\n')));
  const steps = out.timeline.map((s) => s.step);
  assert.deepEqual(steps, [
    'outage injected: us-east-1 endpoint down',
    'us-east-1 in failedRegions',
    'ap-southeast-1 promoted (servingRegions)',
    'outage ends: us-east-1 endpoint back',
    'us-east-1 recovered (not in failedRegions)',
    'ap-southeast-1 demoted (failback)',
  ]);
  const at = out.timeline.map((s) => s.atMs);
  for (let i = 1; i < at.length; i++) assert.ok(at[i] >= at[i - 1], `step ${i} out of order: ${at}`);
  // Detection lies in [(T-1)·I, T·I] plus the write: 400..600 ms at 0.2 s × 3 (generous slack for CI).
  assert.ok(out.detectionMs >= 350 && out.detectionMs < 2000, `detection ${out.detectionMs}`);
  assert.ok(out.failbackMs >= 950, `failback ${out.failbackMs} before the 1 s policy`);
  assert.equal(out.detectionFloorMs, 600);
});

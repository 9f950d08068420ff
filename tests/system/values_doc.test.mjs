// The chart's values reference (deployment/chart/simple-cli/README.md) is generated from the
// `# --` comments in values.yaml by scripts/values-doc.mjs: the checked-in copy must be current and
// every value documented. Also checks that the check fails on a stale reference and on an
// undocumented value (on a copy of the chart).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const CHART = join(ROOT, 'deployment/chart/simple-cli');
const SCRIPT = join(ROOT, 'scripts/values-doc.mjs');

const valuesDoc = (...args) => spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', timeout: 30000 });

test('values reference: the checked-in README.md is what values.yaml generates, every value documented', () => {
  const r = valuesDoc('--check');
  assert.equal(r.status, 0, r.stderr);
  const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
  // One row per documented key, with type and default from values.yaml.
  assert.match(readme, /^\| multiRegion\.enabled \| bool \| `false` \| Deploy the agency: /m);
  assert.match(readme, /^\| replicationSidecar\.retention\.keepLast \| int \| `48` \| Snapshots kept by count \|$/m);
  assert.match(readme, /^\| failoverController\.probe \| object \| `\{"intervalSeconds":1,/m);
});

test('values reference: the check fails on a stale reference and on a value without a "# --" comment', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aha-values-doc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const chart = join(dir, 'chart');
  cpSync(CHART, chart, { recursive: true });
  const values = join(chart, 'values.yaml');
  const original = readFileSync(values, 'utf8');

  // A description changed in values.yaml but the reference not regenerated.
  writeFileSync(values, original.replace('# -- Snapshots kept by count', '# -- Snapshots kept, by count'));
  let r = valuesDoc('--check', '--chart', chart);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /README\.md is out of date; run: node scripts\/values-doc\.mjs/);
  r = valuesDoc('--chart', chart);
  assert.equal(r.status, 0, r.stderr);
  assert.match(readFileSync(join(chart, 'README.md'), 'utf8'), /\| Snapshots kept, by count \|/);
  assert.equal(valuesDoc('--check', '--chart', chart).status, 0);

  // A new value without a comment, in a section whose parent is not documented.
  writeFileSync(values, original.replace('  ttl: 60\n', '  ttl: 60\n  ttlJitter: 5\n'));
  r = valuesDoc('--chart', chart);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /values\.yaml:\d+: externalDns\.ttlJitter has no "# --" comment/);
  // A plain comment is not documentation.
  writeFileSync(values, original.replace('  # -- Port of the readiness gate sidecar', '  # Port of the readiness gate sidecar'));
  r = valuesDoc('--chart', chart);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /gate\.port has no "# --" comment/);
  // Under a documented key (resources: {requests, limits}) children need no comment of their own.
  writeFileSync(values, original.replace('    limits: {memory: 64Mi}\n', '    limits: {memory: 64Mi}\n    extra: 1\n'));
  r = valuesDoc('--chart', chart);
  assert.equal(r.status, 0, r.stderr);
});

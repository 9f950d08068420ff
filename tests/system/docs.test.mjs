// The README is the front door: its first lines are exactly the two commands for a fresh machine
// (the demo, and all tests, which CI runs); the demo installs only run dependencies; every relative
// link in the README, docs/ and the chart's values reference points at a file that exists and,
// with a #fragment, at a heading in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const read = (p) => readFileSync(join(ROOT, p), 'utf8');

test('README: the first lines are the demo command and the test command; CI runs the latter', () => {
  const lines = read('README.md').split('\n');
  assert.equal(lines[0], '```sh');
  assert.match(lines[1], /^bash scripts\/demo\.sh +# fresh Debian 12: .*`agency-ha demo`/);
  assert.match(lines[2], /^bash scripts\/test\.sh +# fresh Debian 12: .*all tests/);
  assert.equal(lines[3], '```');
  assert.match(read('.ci/run'), /^exec bash scripts\/test\.sh\b/m);
  // The demo installs the run dependencies only; the test command everything.
  assert.match(read('scripts/demo.sh'), /^bash scripts\/setup\.sh run$/m);
  assert.match(read('scripts/demo.sh'), /-DAHA_BUILD_TESTS=OFF -DAHA_BUILD_BENCH=OFF/);
  assert.match(read('scripts/test.sh'), /^bash scripts\/setup\.sh test$/m);
  assert.ok(read('README.md').length < 8000, 'the README stays short: reference material goes to docs/');
});

test('setup.sh: the run set is the toolchain and the linked libraries; test-only packages only in the test set', () => {
  const setup = read('scripts/setup.sh');
  const run = /^packages=\(\n([^)]*)\)/m.exec(setup)?.[1];
  assert.ok(run, 'setup.sh has a packages=( ... ) list');
  const runSet = run.replace(/#.*$/gm, '').split(/\s+/).filter(Boolean);
  for (const p of ['chromium', 'rclone', 'libgtest-dev', 'libgmock-dev', 'clang', 'clang-format', 'python3-kubernetes', 'iproute2'])
    assert.ok(!runSet.includes(p), `${p} is not a run dependency`);
  for (const p of ['cmake', 'libcurl4-openssl-dev', 'libyaml-cpp-dev', 'libcli11-dev']) assert.ok(runSet.includes(p), p);
  assert.doesNotMatch(setup, /spdlog/);
  assert.doesNotMatch(read('scripts/fuzz.sh'), /^[^#\n]*apt-get/m, 'fuzz.sh installs nothing');
});

const slug = (heading) => heading.trim().toLowerCase().replace(/`/g, '')
  .replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');

function anchors(markdown) {
  const out = new Set();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^```/.test(line)) fenced = !fenced;
    const h = !fenced && /^#{1,6} (.*)$/.exec(line);
    if (h) out.add(slug(h[1]));
  }
  return out;
}

function markdownFiles() {
  const files = ['README.md', 'deployment/chart/simple-cli/README.md'];
  for (const f of readdirSync(join(ROOT, 'docs'))) if (f.endsWith('.md')) files.push(`docs/${f}`);
  return files;
}

test('docs: every relative link resolves (file, and heading for #fragments)', () => {
  const broken = [];
  let checked = 0;
  for (const file of markdownFiles()) {
    const text = read(file).replace(/^```[\s\S]*?^```/gm, '');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/i.test(target)) continue; // http(s), mailto
      const [path, fragment] = target.split('#');
      const abs = path === '' ? join(ROOT, file) : join(ROOT, dirname(file), path);
      ++checked;
      if (!existsSync(abs)) {
        broken.push(`${file}: ${target} (no ${relative(ROOT, abs)})`);
        continue;
      }
      if (fragment !== undefined && statSync(abs).isFile() && abs.endsWith('.md') &&
          !anchors(readFileSync(abs, 'utf8')).has(fragment)) {
        broken.push(`${file}: ${target} (no heading #${fragment})`);
      }
    }
  }
  assert.deepEqual(broken, []);
  assert.ok(checked > 20, `only ${checked} links found`);
});

// Time only through Clock: scripts/check-clock.mjs fails when src/ reads a clock or sleeps
// directly outside src/common/clock.* (and its explicit allowlist). The real tree must pass;
// fixture trees with a direct read must fail naming file:line; comments and strings do not count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const SCRIPT = join(ROOT, 'scripts/check-clock.mjs');

const checkClock = (...args) => spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', timeout: 30000 });

function tree(t, files) {
  const dir = mkdtempSync(join(tmpdir(), 'aha-clock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
  return dir;
}

test('clock: the real src/ reads time only through Clock (or an allowlisted file)', () => {
  const r = checkClock();
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^check-clock: no direct clock reads outside common\/clock\.\*/m);
});

test('clock: clock.h itself, comments and strings pass', (t) => {
  const dir = tree(t, {
    'src/common/clock.h': 'auto n = std::chrono::steady_clock::now();\nstd::this_thread::sleep_for(d);\n',
    'src/common/clock.cpp': 'std::time_t t = std::time(nullptr);\n',
    'src/loop/a.cpp': '// not steady_clock::now() here\nconst char* s = "sleep_for";\n/* gettimeofday */\nauto t = clock_.mono();\n',
  });
  const r = checkClock('--src', join(dir, 'src'), '--allow-none');
  assert.equal(r.status, 0, r.stderr);
});

test('clock: each kind of direct read fails, naming file:line', (t) => {
  const dir = tree(t, {
    'src/loop/a.cpp': [
      'auto a = std::chrono::steady_clock::now();',
      'auto b = std::chrono::system_clock::now();',
      'std::this_thread::sleep_for(std::chrono::milliseconds(5));',
      'auto c = std::time(nullptr);',
      'using Steady = std::chrono::steady_clock;',
      'clock_gettime(CLOCK_MONOTONIC, &ts);',
      'x.sleep_until(t);',
      'auto ok = t.time(0) + clock_.mono();',
    ].join('\n') + '\n',
  });
  const r = checkClock('--src', join(dir, 'src'), '--allow-none');
  assert.equal(r.status, 1);
  for (let line = 1; line <= 7; ++line) {
    assert.match(r.stderr, new RegExp(`^src/loop/a\\.cpp:${line}: reads the time directly`, 'm'));
  }
  assert.doesNotMatch(r.stderr, /a\.cpp:8:/, 'a member named time() is not the C time()');
});

test('clock: an allowlist entry for a file that reads no clock is stale and fails', (t) => {
  // The real allowlist against a tree without those files: every entry is stale.
  const dir = tree(t, { 'src/loop/a.cpp': 'auto t = clock_.mono();\n' });
  const r = checkClock('--src', join(dir, 'src'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /ALLOWED names src\/demo\/app\.cpp, which reads no clock directly: remove the entry/);
});

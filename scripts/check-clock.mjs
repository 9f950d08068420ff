#!/usr/bin/env node
// Time only through Clock (src/common/clock.h): fails when code under src/ reads a clock or sleeps
// directly, so loops and retries stay drivable by FakeClock in tests.
//
// Usage: node scripts/check-clock.mjs [--src DIR] [--allow-none]
//   (default: src/ of this checkout with ALLOWED below; tests use fixtures and --allow-none)
// Exits 1, naming file:line and the call, for each direct read outside src/common/clock.* that is
// not in ALLOWED. What counts: system_clock / steady_clock / high_resolution_clock ::now, an alias
// of one of them (`using X = std::chrono::steady_clock`), std::this_thread::sleep_for/sleep_until,
// time(nullptr|NULL|0), gettimeofday, clock_gettime. Comments are ignored. No dependencies
// beyond Node itself and check-layers.mjs (its source walker).
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { walk } from './check-layers.mjs';

const ROOT = new URL('..', import.meta.url).pathname;

// The one place allowed to read the real clocks.
const CLOCK_FILES = new Set(['common/clock.h', 'common/clock.cpp']);

// Files (relative to src/) still allowed a direct read, with the reason. Each entry is a known
// exception; converting the file removes its entry (a stale entry fails the check).
export const ALLOWED = new Map([
  ['demo/app.cpp', 'demo workload app: request latency and write cadence of a toy process, not product logic'],
  ['demo/children.cpp', 'demo process supervisor: a bounded real-time grace wait for child processes'],
  ['demo/drill.cpp', 'demo drill: measures real elapsed milliseconds of a live failover for its report'],
  ['demo/demo.cpp', 'demo driver: names a temp directory after the wall time'],
  ['demo/entry.cpp', 'demo traffic generator: measures real request latency of the demo apps'],
  ['demo/mcp_client.cpp', 'demo MCP client: a real-time timeout on a socket read'],
  ['httpd/bounded.cpp', 'HTTP server: per-connection I/O deadlines paired with epoll_wait timeouts (kernel time)'],
  ['mcp/command.cpp', 'MCP server: a real-time socket read deadline'],
  ['probe/prober.cpp', 'prober: measures real network latency and the curl deadline of each probe (I/O timing)'],
  ['replication/publish.cpp', 'replication: measures how long a publish took, for a log line and metric'],
  ['replication/scanner.cpp', 'racily-clean guard: compares with file mtimes the kernel sets, so it must be the kernel wall clock'],
]);

const PATTERNS = [
  /\b(?:system_clock|steady_clock|high_resolution_clock)::now\b/,
  /\busing\s+\w+\s*=\s*(?:std::)?(?:chrono::)?(?:system_clock|steady_clock|high_resolution_clock)\s*;/,
  /\bsleep_for\b/,
  /\bsleep_until\b/,
  /(?<![\w.>:])(?:std::)?time\s*\(\s*(?:nullptr|NULL|0)\s*\)/,
  /\bgettimeofday\b/,
  /\bclock_gettime\b/,
];


// Source with comments and string literals blanked (line structure kept).
function code(text) {
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:\\.|[^"\\\n])*"/g, (m) => m.replace(/[^\n]/g, ' '));
}

// Returns {errors: [string], reads: number}.
export function checkClock({ src, allowed = ALLOWED }) {
  const errors = [];
  const seen = new Set();
  let reads = 0;
  for (const file of walk(src)) {
    const rel = relative(src, file);
    if (CLOCK_FILES.has(rel)) continue;
    const lines = code(readFileSync(file, 'utf8')).split('\n');
    lines.forEach((line, i) => {
      for (const p of PATTERNS) {
        const m = p.exec(line);
        if (!m) continue;
        ++reads;
        if (allowed.has(rel)) {
          seen.add(rel);
        } else {
          errors.push(`src/${rel}:${i + 1}: reads the time directly (${m[0].trim()}): take a Clock (common/clock.h) instead`);
        }
      }
    });
  }
  for (const rel of allowed.keys()) {
    if (!seen.has(rel)) errors.push(`scripts/check-clock.mjs: ALLOWED names src/${rel}, which reads no clock directly: remove the entry`);
  }
  return { errors, reads };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--src');
  const src = at >= 0 ? args[at + 1] : join(ROOT, 'src');
  const allowed = args.includes('--allow-none') ? new Map() : ALLOWED;
  const { errors, reads } = checkClock({ src, allowed });
  if (errors.length) {
    for (const e of errors) console.error(e);
    process.exit(1);
  }
  console.log(`check-clock: no direct clock reads outside common/clock.* (${reads} in ${allowed.size} allowed files)`);
}

// The official MCP conformance suite (@modelcontextprotocol/conformance, server scenarios) against
// `agency-ha mcp --http`. The suite needs Node 22; the npm package `node@22` (a devDependency)
// ships one, so the system Node is untouched. Expected failures are in
// tests/conformance/mcp-server-baseline.yml, and each must fail for the reason the file allows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { BIN, freePort, tempDir, waitFor } from './helpers.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const NODE22 = join(ROOT, 'node_modules/node/bin/node');
const SUITE = join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const BASELINE = join(ROOT, 'tests/conformance/mcp-server-baseline.yml');

test('official MCP conformance suite: server scenarios pass except the documented baseline', async (t) => {
  assert.ok(existsSync(NODE22), `Node 22 missing at ${NODE22}: run npm ci`);
  assert.match(spawnSync(NODE22, ['--version'], { encoding: 'utf8' }).stdout, /^v22\./);
  const dir = tempDir(t);
  const cfg = join(dir, 'mcp.yaml');
  writeFileSync(cfg, `regions:\n  - {name: us-east-1, endpoint: "http://127.0.0.1:9/health"}\n` +
    `  - {name: eu-west-1, endpoint: "http://127.0.0.1:9/health"}\nstate: {file: "${join(dir, 'state')}"}\n` +
    `mcp: {auditLog: "${join(dir, 'audit.jsonl')}"}\n`);
  const port = await freePort();
  const server = spawn(BIN, ['mcp', '--config', cfg, '--http', `127.0.0.1:${port}`], { stdio: 'ignore' });
  t.after(() => server.kill('SIGTERM'));
  await waitFor('mcp http server', async () => {
    try { await fetch(`http://127.0.0.1:${port}/mcp`); return true; } catch { return false; }
  }, 10000);
  const out = join(dir, 'results');
  const r = await new Promise((resolve) => {
    const c = spawn(NODE22, [SUITE, 'server', '--url', `http://127.0.0.1:${port}/mcp`,
      '--expected-failures', BASELINE, '-o', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    c.stdout.on('data', (d) => { stdout += d; });
    c.stderr.on('data', (d) => { stdout += d; });
    c.on('exit', (status) => resolve({ status, stdout }));
  });
  assert.equal(r.status, 0, r.stdout.slice(-4000));
  // Read every scenario's checks: what passed, and why each baseline entry failed.
  const results = new Map();
  for (const d of readdirSync(out)) {
    const name = d.replace(/^server-/, '').replace(/-\d{4}-\d\d-\d\dT.*$/, '');
    const checks = JSON.parse(readFileSync(join(out, d, 'checks.json'), 'utf8'));
    results.set(name, checks.filter((c) => c.status === 'FAILURE'));
  }
  for (const must of ['server-initialize', 'ping', 'tools-list', 'dns-rebinding-protection', 'server-sse-multiple-streams']) {
    assert.ok(results.has(must), `scenario ${must} ran`);
    assert.deepEqual(results.get(must).map((c) => c.errorMessage), [], `${must} passes`);
  }
  const baseline = parse(readFileSync(BASELINE, 'utf8')).server;
  for (const name of baseline) {
    const failures = results.get(name);
    assert.ok(failures?.length, `baseline scenario ${name} ran and failed`);
    for (const f of failures) {
      assert.match(f.errorMessage ?? '', /-32601: Method not found: (logging|completion|resources|prompts)\/|-32602: Unknown tool: test_/,
        `${name} fails for a reason the baseline does not allow: ${f.errorMessage}`);
    }
  }
});

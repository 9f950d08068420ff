// The controller's status page (`/`) in a real browser: Debian's Chromium, headless, driven by
// playwright-core, against a real controller probing real loopback endpoints. One region's
// endpoint goes down and comes back; the test asserts on the DOM that the page follows it live
// (failed, passive promoted, recovered, demoted), that values from the config are rendered as
// text (never markup), that the page loads nothing but itself and /v1/status, and it saves
// screenshots as artifacts (paths printed; AHA_ARTIFACT_DIR overrides the directory).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { BIN, Endpoint, get, startController, tempDir, writeConfig } from './helpers.mjs';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = process.env.AHA_ARTIFACT_DIR ?? join(dirname(BIN), 'test-artifacts');

function launch() {
  // Not a skip: CI installs chromium through scripts/setup.sh, so a missing browser is a failure.
  assert.ok(existsSync(CHROMIUM),
    `${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh does) to run this test`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-quic'],
  });
}

test('status page: live regions, serving set, timeline and transitions during an outage', async (t) => {
  const dir = tempDir(t);
  // The state directory's name ends up in the page (the store's description): markup in it must
  // be shown as text, not parsed.
  const stateDir = join(dir, '<img src=x onerror=window.__pwned=1>state');
  const eps = { 'us-east-1': await new Endpoint().up(), 'eu-west-1': await new Endpoint().up(),
    'ap-southeast-1': await new Endpoint().up() };
  t.after(() => Promise.all(Object.values(eps).map((e) => e.down())));
  const cfg = writeConfig(dir, `regions:
  - {name: us-east-1, endpoint: "${eps['us-east-1'].url}"}
  - {name: eu-west-1, endpoint: "${eps['eu-west-1'].url}"}
  - {name: ap-southeast-1, active: false, endpoint: "${eps['ap-southeast-1'].url}"}
probe: {intervalSeconds: 0.5, timeoutSeconds: 0.45, failureThreshold: 3, successThreshold: 2}
policy: {failbackSeconds: 1}
state: {file: '${stateDir}'}
listen: "127.0.0.1:0"
`);
  const ctl = await startController(t, cfg);
  const base = `http://127.0.0.1:${ctl.port}`;

  // The route itself: HTML, self-contained (no external script, style, image or font).
  const raw = await get(ctl.port, '/');
  assert.equal(raw.status, 200);
  assert.match(raw.type, /^text\/html/);
  assert.doesNotMatch(raw.body, /<(script|link|img)[^>]+(src|href)=/i, 'no external assets');

  const browser = await launch();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/`);

  const cell = (region, c) => `#regions tr[data-region="${region}"] td.${c}`;
  const waitAttr = (sel, attr, value, timeout = 20000) => page.waitForFunction(
    ([s, a, v]) => document.querySelector(s)?.getAttribute(a) === v, [sel, attr, value],
    { timeout, polling: 50 });

  // Baseline: every region healthy, the two active ones serving, no panic.
  await waitAttr(cell('us-east-1', 'status'), 'data-status', 'healthy');
  await waitAttr(cell('ap-southeast-1', 'serving'), 'data-serving', 'false');
  assert.equal(await page.textContent(cell('ap-southeast-1', 'role')), 'passive');
  assert.equal(await page.getAttribute('#panic', 'data-panic'), 'false');
  assert.deepEqual(await page.$$eval('#serving [data-region]', (es) => es.map((e) => e.textContent)),
    ['eu-west-1', 'us-east-1']);
  assert.match(await page.textContent('#store'), /<img src=x onerror=window\.__pwned=1>state/);
  assert.equal(await page.$$eval('#store *', (es) => es.length), 0, 'the store path is text');
  assert.equal(await page.evaluate(() => window.__pwned), undefined);

  // The outage: us-east-1's listener closed. The page must follow without a reload.
  const refreshesBefore = Number(await page.getAttribute('body', 'data-refreshes'));
  await eps['us-east-1'].down();
  await waitAttr(cell('us-east-1', 'status'), 'data-status', 'failed');
  await waitAttr(cell('ap-southeast-1', 'serving'), 'data-serving', 'true');
  assert.match(await page.textContent(cell('ap-southeast-1', 'serving')), /promoted for us-east-1/);
  assert.match(await page.textContent(cell('us-east-1', 'reason')), /consecutive failed probes/);
  assert.deepEqual(await page.$$eval('#failed [data-region]', (es) => es.map((e) => e.textContent)),
    ['us-east-1']);
  assert.deepEqual(await page.$$eval('#serving [data-region]', (es) => es.map((e) => e.textContent)),
    ['ap-southeast-1', 'eu-west-1']);
  await page.waitForSelector('#timeline rect[data-kind="failed"][data-region="us-east-1"]');
  await page.waitForSelector('#timeline rect[data-kind="promoted"][data-region="ap-southeast-1"]');
  assert.ok(Number(await page.getAttribute('body', 'data-refreshes')) > refreshesBefore,
    'the page refreshed from /v1/status');
  mkdirSync(ARTIFACTS, { recursive: true });
  const during = join(ARTIFACTS, 'status-page-outage.png');
  await page.screenshot({ path: during, fullPage: true });

  // Recovery and failback.
  await eps['us-east-1'].up();
  await waitAttr(cell('us-east-1', 'status'), 'data-status', 'healthy');
  await waitAttr(cell('ap-southeast-1', 'serving'), 'data-serving', 'false');
  // The reason describes the current state, not the failure it recovered from.
  await page.waitForFunction((s) => /^healthy: \d+ consecutive successes$/.test(document.querySelector(s)?.textContent ?? ''),
    cell('us-east-1', 'reason'), { timeout: 10000, polling: 50 });
  const types = await page.$$eval('#transitions li', (es) => es.map((e) => e.getAttribute('data-type')));
  for (const ty of ['RegionFailed', 'RegionPromoted', 'RegionRecovered', 'RegionDemoted']) {
    assert.ok(types.includes(ty), `transition ${ty} listed: ${types}`);
  }
  assert.equal(types[0], 'RegionDemoted', 'newest first');
  const after = join(ARTIFACTS, 'status-page-recovered.png');
  await page.screenshot({ path: after, fullPage: true });
  for (const p of [during, after]) assert.ok(statSync(p).size > 10000, `${p} is a real screenshot`);
  console.log(`status page screenshots: ${during} ${after}`);

  // The controller going away: the page says so and keeps the last state.
  ctl.child.kill('SIGTERM');
  await ctl.exited;
  await page.waitForSelector('#error', { state: 'visible', timeout: 10000 });
  assert.match(await page.textContent('#error'), /cannot read \/v1\/status/);
  assert.equal(await page.getAttribute(cell('us-east-1', 'status'), 'data-status'), 'healthy');

  assert.deepEqual(errors, [], 'no script errors');
  const foreign = requests.filter((u) => !u.startsWith(`${base}/`));
  assert.deepEqual(foreign, [], 'only the controller was contacted');
  assert.ok(requests.some((u) => u === `${base}/v1/status`));
});

test('status page: per region the data position its gates report (writer, lineage, epoch, fenced, behind)', async (t) => {
  const dir = tempDir(t);
  const id = (ms, seq) => new Date(ms).toISOString().replace(/[-:]/g, '') + `-${String(seq).padStart(6, '0')}`;
  const head = Date.parse('2026-12-04T10:00:10.500Z');
  const headers = {
    'us-east-1': `role=writer; lineage=us-east-1; epoch=4; caught-up=1; ready=1; snapshot=${id(head, 1)}`,
    'eu-west-1': 'role=fenced; lineage=eu-west-1; epoch=2; caught-up=0; ready=0',
    'ap-southeast-1': `role=follower; lineage=us-east-1; epoch=4; caught-up=0; ready=0; snapshot=${id(head - 4500, 7)}; head-epoch=4; head=${id(head, 1)}`,
  };
  const urls = {};
  for (const [region, h] of Object.entries(headers)) {
    const srv = http.createServer((req, res) => { res.writeHead(200, { 'x-agency-data': h }); res.end('ok\n'); });
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    t.after(() => { srv.closeAllConnections(); return new Promise((resolve) => srv.close(resolve)); });
    urls[region] = `http://127.0.0.1:${srv.address().port}/health`;
  }
  const cfg = writeConfig(dir, `regions:
  - {name: us-east-1, endpoint: "${urls['us-east-1']}"}
  - {name: eu-west-1, endpoint: "${urls['eu-west-1']}"}
  - {name: ap-southeast-1, active: false, endpoint: "${urls['ap-southeast-1']}"}
probe: {intervalSeconds: 0.5, timeoutSeconds: 0.45, failureThreshold: 3, successThreshold: 2}
state: {file: '${join(dir, 'state')}'}
listen: "127.0.0.1:0"
`);
  const ctl = await startController(t, cfg);
  const browser = await launch();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 700 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`http://127.0.0.1:${ctl.port}/`);
  const cell = (region) => `#regions tr[data-region="${region}"] td.data`;
  await page.waitForFunction((s) => document.querySelector(s)?.getAttribute('data-role') === 'follower',
    cell('ap-southeast-1'), { timeout: 10000, polling: 50 });
  assert.match(await page.textContent(cell('ap-southeast-1')),
    /follower of us-east-1 @ epoch 4, 4\.5 s behind head \(epoch 4\); snapshot 20261204T100006\.000Z-000007/);
  assert.equal(await page.getAttribute(cell('us-east-1'), 'data-role'), 'writer');
  assert.match(await page.textContent(cell('us-east-1')), /writer of us-east-1 @ epoch 4, data ready/);
  assert.equal(await page.getAttribute(cell('eu-west-1'), 'data-fenced'), 'true');
  assert.match(await page.textContent(cell('eu-west-1')), /^FENCED fenced of eu-west-1 @ epoch 2/);
  mkdirSync(ARTIFACTS, { recursive: true });
  const shot = join(ARTIFACTS, 'status-page-data.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`status page screenshot: ${shot}`);
  assert.deepEqual(errors, []);
});

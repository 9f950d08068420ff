// Hostile-client bench for the binary's HTTP servers (issue 13). Loopback only, bounded in
// count and time; prints one JSON line per scenario.
//
//   node bench/http_hostile.mjs build-rel/agency-ha
//
// 1. gate_flood: a gate's idle VmRSS, then 4 parallel chunked POSTs of 300 MB each to /ready
//    (the client writes until the server answers or closes); peak RSS = VmHWM afterwards.
// 2. controller_slowloris: /healthz latency (a new connection per request, like a kubelet probe)
//    alone, then while 200 slow-loris connections drip one header byte every 2 s (a closed one is
//    reopened at once, so 200 stay open for the whole window).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import net from 'node:net';

const BIN = process.argv[2];
if (!BIN) {
  console.error('usage: node bench/http_hostile.mjs <agency-ha binary>');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'aha-hostile-'));
const children = [];
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); });

function start(args, startMsg) {
  const child = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stderr.on('data', (d) => {
      buf += d;
      for (let i; (i = buf.indexOf('\n')) >= 0;) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const j = JSON.parse(line);
          if (j.msg === startMsg) resolve({ child, port: j.port ?? Number(/:(\d+)$/.exec(j.listen)[1]) });
        } catch { /* not JSON */ }
      }
    });
    child.once('exit', (c) => reject(new Error(`exited ${c}`)));
  });
}

function mem(pid) {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const f = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(st)[1]);
  return { rssKiB: f('VmRSS'), hwmKiB: f('VmHWM') };
}

function getOnce(port, path) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 10000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
  });
}

function chunkedFlood(port, path, totalBytes) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunk = Buffer.concat([Buffer.from('100000\r\n'), Buffer.alloc(1 << 20, 97), Buffer.from('\r\n')]);
    let sent = 0;
    let answer = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      sock.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      resolve({ status: m ? Number(m[1]) : 0, sentMiB: Math.round(sent / (1 << 20)) });
    };
    sock.on('data', (d) => { answer += d.toString('latin1'); if (answer.includes('\r\n\r\n')) finish(); });
    sock.on('error', finish);
    sock.on('close', finish);
    sock.on('connect', async () => {
      sock.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nTransfer-Encoding: chunked\r\n\r\n`);
      while (!done && sent < totalBytes) {
        sent += chunk.length;
        if (!sock.write(chunk)) await new Promise((r) => { sock.once('drain', r); sock.once('close', r); });
      }
    });
  });
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] * 100) / 100;
};

async function gateFlood() {
  const port = await new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
  const cfg = join(dir, 'gate.yaml');
  writeFileSync(cfg, `region: us-east-1\nlisten: "127.0.0.1:${port}"\nstate: {file: "${join(dir, 'gstate')}"}\n`);
  const g = await start(['gate', '--config', cfg], 'gate starting');
  for (let i = 0; i < 50; i++) await getOnce(port, '/ready');
  await new Promise((r) => setTimeout(r, 500));
  const idle = mem(g.child.pid);
  const t0 = Date.now();
  const floods = await Promise.all([0, 1, 2, 3].map(() => chunkedFlood(port, '/ready', 300 << 20)));
  const after = mem(g.child.pid);
  const health = await getOnce(port, '/healthz');
  g.child.kill('SIGTERM');
  return {
    scenario: 'gate_flood', idleRssKiB: idle.rssKiB, idleHwmKiB: idle.hwmKiB, peakRssKiB: after.hwmKiB,
    peakOverIdle: Math.round((after.hwmKiB / idle.rssKiB) * 100) / 100,
    statuses: floods.map((f) => f.status), clientMiBWrittenBeforeAnswer: floods.map((f) => f.sentMiB),
    floodMs: Date.now() - t0, healthzAfter: health.status,
  };
}

async function controllerSlowloris() {
  const cfg = join(dir, 'controller.yaml');
  writeFileSync(cfg, `regions:\n  - {name: us-east-1, endpoint: "http://127.0.0.1:1/h"}\n` +
    `probe: {intervalSeconds: 1, timeoutSeconds: 0.5}\nstate: {file: "${join(dir, 'cstate')}"}\n` +
    'listen: "127.0.0.1:0"\n');
  const c = await start(['controller', '--config', cfg], 'controller starting');
  const measure = async (n) => {
    const xs = [];
    let failed = 0;
    for (let i = 0; i < n; i++) {
      const r = await getOnce(c.port, '/healthz');
      if (r.status !== 200) failed++;
      xs.push(r.ms);
      await new Promise((res) => setTimeout(res, 20));
    }
    return { n, failed, p50: pct(xs, 50), p99: pct(xs, 99), max: pct(xs, 100) };
  };
  const baseline = await measure(300);
  const slow = new Set();
  let reopened = 0;
  let stopping = false;
  const open = () => {
    const s = net.connect(c.port, '127.0.0.1');
    s.on('error', () => {});
    s.on('close', () => { slow.delete(s); if (!stopping) { reopened++; open(); } });
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    slow.add(s);
  };
  for (let i = 0; i < 200; i++) open();
  const drip = setInterval(() => { for (const s of slow) s.write('X'); }, 2000);
  await new Promise((r) => setTimeout(r, 1000));
  const under = await measure(1000);
  const openDuring = slow.size;
  stopping = true;
  clearInterval(drip);
  for (const s of slow) s.destroy();
  c.child.kill('SIGTERM');
  return { scenario: 'controller_slowloris', slowConnections: 200, slowOpenAtEnd: openDuring,
    slowReopened: reopened, baselineMs: baseline, underAttackMs: under };
}

console.log(JSON.stringify(await gateFlood()));
console.log(JSON.stringify(await controllerSlowloris()));
process.exit(0);

// docs/FORMAT.md's by-hand restore, run as written: a tree (files in subdirectories, modes, a
// LanceDB-shaped dataset, symlinks) is published to s3rver with `agency-ha replicate --once`,
// then the shell blocks marked `<!-- format-doc-test: NAME -->` in FORMAT.md are extracted and run
// with Debian's AWS CLI (/usr/bin/aws, against s3rver's endpoint) and jq, and the result is
// compared byte for byte with the source. The doc and the test cannot drift: the test has no
// copy of the commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import net from 'node:net';
import { tempDir, run, freePort } from './helpers.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const AWS = process.env.AWS_CLI || '/usr/bin/aws';
const DOC = readFileSync(join(ROOT, 'docs/FORMAT.md'), 'utf8');

// The ```sh block after `<!-- format-doc-test: NAME -->`.
function docBlock(name) {
  const m = DOC.match(new RegExp(`<!-- format-doc-test: ${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\`\\n`));
  assert.ok(m, `FORMAT.md has no block marked format-doc-test: ${name}`);
  return m[1];
}

async function startS3rver(t, dir) {
  const port = await freePort();
  mkdirSync(join(dir, 's3rver'), { recursive: true });
  const child = spawn(process.execPath, ['--openssl-legacy-provider',
    join(ROOT, 'tests/support/s3rver.cjs'), '--directory', join(dir, 's3rver'),
    '--port', String(port), '--address', '127.0.0.1', '--silent', '--configure-bucket', 'agency-backup'],
  { stdio: 'ignore' });
  t.after(() => child.kill('SIGTERM'));
  const deadline = Date.now() + 15000;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return `http://127.0.0.1:${port}`;
    if (Date.now() > deadline) throw new Error('s3rver did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

// path -> {type, mode, mtime (s, ms precision), content | target}, .agency-ha excluded.
function snapshotTree(root) {
  const out = {};
  const walk = (d, rel) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (r === '.agency-ha') continue;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out[r] = { type: 'symlink', target: readlinkSync(p) };
      else if (st.isDirectory()) walk(p, r);
      else out[r] = { type: 'file', mode: (st.mode & 0o777).toString(8), mtimeMs: Math.floor(st.mtimeMs), content: readFileSync(p).toString('base64') };
    }
  };
  walk(root, '');
  return out;
}

const S3ENV = { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' };

test('FORMAT.md: one file and a whole tree restored by hand with the AWS CLI and jq, byte for byte', async (t) => {
  assert.ok(existsSync(AWS), `${AWS} missing: run scripts/setup.sh (Debian package awscli)`);
  assert.equal(spawnSync('jq', ['--version']).status, 0, 'jq missing: run scripts/setup.sh (Debian package jq)');
  const dir = tempDir(t);
  const endpoint = await startS3rver(t, dir);
  const src = join(dir, 'src');
  const write = (p, data, mode) => {
    mkdirSync(join(src, p, '..'), { recursive: true });
    writeFileSync(join(src, p), data);
    if (mode) chmodSync(join(src, p), mode);
  };
  write('notes.md', 'hello from the agent\n');
  write('sessions/2026-12-04.jsonl', '{"turn":1}\n{"turn":2}\n');
  write('secret.key', 'k', 0o600);
  write('bin/tool.sh', '#!/bin/sh\necho tool\n', 0o755);
  write('big.bin', randomBytes(300 * 1024));
  write('dup-of-notes.md', 'hello from the agent\n');
  write('with space/and ümlaut.txt', 'names with spaces and UTF-8\n');
  write('brain/memory.lance/data/0001.lance', randomBytes(20000));
  write('brain/memory.lance/_versions/1.manifest', randomBytes(300));
  symlinkSync('notes.md', join(src, 'current'));
  symlinkSync('../notes.md', join(src, 'sessions/latest-notes'));
  const past = new Date(Date.now() - 60000);
  for (const [p, v] of Object.entries(snapshotTree(src))) if (v.type === 'file') utimesSync(join(src, p), past, past);

  const cfg = join(dir, 'replicate.yaml');
  writeFileSync(cfg, `source: ${src}\nregion: us-east-1\nremotes: [{url: "s3://agency-backup/agency", endpoint: "${endpoint}", pathStyle: true, region: us-east-1}]\n`);
  const pub = run(['replicate', '--config', cfg, '--once'], { env: S3ENV });
  assert.equal(pub.status, 0, pub.stderr + pub.stdout);
  assert.equal(JSON.parse(pub.stdout).symlinks, 2);

  // The doc's commands, with the doc's variables pointed at s3rver. `aws` is the Debian CLI with
  // --endpoint-url added, as the doc says to do for an S3-compatible endpoint.
  const runDoc = (name, cwd) => {
    mkdirSync(cwd, { recursive: true });
    const script = `set -euo pipefail
aws() { ${AWS} --endpoint-url "${endpoint}" "$@"; }
REMOTE=s3://agency-backup/agency
LINEAGE=us-east-1
${docBlock(name)}`;
    const env = { ...S3ENV };
    delete env.AWS_CA_BUNDLE;
    delete env.AWS_PROFILE;
    env.AWS_CONFIG_FILE = join(dir, 'aws-config');
    env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'aws-credentials');
    writeFileSync(env.AWS_CONFIG_FILE, '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n');
    writeFileSync(env.AWS_SHARED_CREDENTIALS_FILE, '');
    const r = spawnSync('bash', ['-c', script], { cwd, env, encoding: 'utf8', timeout: 300000 });
    assert.equal(r.status, 0, `FORMAT.md block ${name} failed:\n${r.stdout}\n${r.stderr}`);
    return r;
  };

  // One file: notes.md, checked by the doc's own sha256sum -c.
  const one = runDoc('one-file', join(dir, 'one'));
  assert.match(one.stdout, /notes\.md: OK/);
  assert.deepEqual(readFileSync(join(dir, 'one', 'notes.md')), readFileSync(join(src, 'notes.md')));

  // The whole tree: content, modes, mtimes (ms) and symlinks equal the source's.
  runDoc('tree', join(dir, 'tree'));
  const got = snapshotTree(join(dir, 'tree', 'restored'));
  const want = snapshotTree(src);
  assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort());
  assert.deepEqual(got, want);
  assert.equal(got.current.type, 'symlink');

  // The record and latest are stored as JSON (S3 Content-Type, read back from s3rver), blobs
  // as octet streams.
  const contentType = (key) => {
    const head = spawnSync(AWS, ['--endpoint-url', endpoint, 's3api', 'head-object', '--bucket', 'agency-backup', '--key', key],
      { env: { ...S3ENV, AWS_CONFIG_FILE: join(dir, 'aws-config'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'aws-credentials') }, encoding: 'utf8' });
    assert.equal(head.status, 0, head.stderr);
    return JSON.parse(head.stdout).ContentType;
  };
  const record = JSON.parse(readFileSync(join(dir, 'tree', 'record.json'), 'utf8'));
  assert.equal(record.format, 2, 'a record with symlinks is format 2');
  assert.equal(contentType('agency/us-east-1/latest'), 'application/json');
  assert.equal(contentType(`agency/us-east-1/snapshots/${record.id}.json`), 'application/json');
  const sha = record.files[0].sha256;
  assert.equal(contentType(`agency/us-east-1/blobs/${sha.slice(0, 2)}/${sha}`), 'application/octet-stream');
});

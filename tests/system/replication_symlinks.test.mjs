// Symlinks inside the replicated tree, end to end with the real binary and a file:// remote:
// replicated as links and restored as links (never followed); a link that could leave the tree
// fails the snapshot naming it (nothing published); a hostile record with such a link is
// refused by restore and follow before anything is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, run } from './helpers.mjs';

function setup(t) {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  mkdirSync(join(src, 'sessions'), { recursive: true });
  writeFileSync(join(src, 'notes.md'), 'notes\n');
  writeFileSync(join(src, 'sessions', 's1.jsonl'), '{"turn":1}\n');
  writeFileSync(join(dir, 'outside-secret'), 'must never be read\n');
  const cfg = join(dir, 'replicate.yaml');
  writeFileSync(cfg, `source: ${src}\nregion: us-east-1\nremotes: [{url: "file://${join(dir, 'remote')}"}]\n`);
  return { dir, src, cfg, remote: `file://${join(dir, 'remote')}` };
}

function tree(root) {
  const out = {};
  const walk = (d, rel) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (r === '.agency-ha') continue;
      const p = join(d, e.name);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out[r] = `-> ${readlinkSync(p)}`;
      else if (st.isDirectory()) walk(p, r);
      else out[r] = readFileSync(p, 'utf8');
    }
  };
  walk(root, '');
  return out;
}

test('symlinks inside the tree are replicated and restored as links', (t) => {
  const { dir, src, cfg, remote } = setup(t);
  symlinkSync('notes.md', join(src, 'current'));
  symlinkSync('../notes.md', join(src, 'sessions', 'notes'));
  symlinkSync('sessions', join(src, 'sessions-dir'));
  symlinkSync('not-there-yet', join(src, 'dangling'));
  const pub = run(['replicate', '--config', cfg, '--once']);
  assert.equal(pub.status, 0, pub.stderr + pub.stdout);
  const rep = JSON.parse(pub.stdout);
  assert.equal(rep.symlinks, 4);
  assert.equal(rep.files, 2, 'links are not files; a link to a directory is not descended');
  const out = join(dir, 'out');
  const r = run(['restore', '--remote', remote, '--region', 'us-east-1', '--to', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).symlinks, 4);
  assert.deepEqual(tree(out), tree(src));
  assert.ok(lstatSync(join(out, 'sessions-dir')).isSymbolicLink());
  // A link changed in the source is a change: the next snapshot carries it.
  unlinkSync(join(src, 'current'));
  symlinkSync('sessions/s1.jsonl', join(src, 'current'));
  const again = run(['replicate', '--config', cfg, '--once']);
  assert.equal(again.status, 0, again.stderr);
  const out2 = join(dir, 'out2');
  assert.equal(run(['restore', '--remote', remote, '--region', 'us-east-1', '--to', out2]).status, 0);
  assert.equal(readlinkSync(join(out2, 'current')), 'sessions/s1.jsonl');
});

test('a symlink leaving the tree fails the snapshot, naming it; nothing is published', (t) => {
  const { dir, src, cfg } = setup(t);
  symlinkSync(join(dir, 'outside-secret'), join(src, 'sessions', 'evil'));
  const pub = run(['replicate', '--config', cfg, '--once']);
  assert.equal(pub.status, 1, pub.stdout);
  const rep = JSON.parse(pub.stdout);
  assert.equal(rep.ok, false);
  assert.match(rep.error, /symlink sessions\/evil -> .*outside-secret refused: absolute target/);
  assert.ok(!existsSync(join(dir, 'remote', 'us-east-1', 'latest')), 'nothing published');
  // Relative, climbing out: refused too.
  unlinkSync(join(src, 'sessions', 'evil'));
  symlinkSync('../../outside-secret', join(src, 'sessions', 'evil'));
  const rel = JSON.parse(run(['replicate', '--config', cfg, '--once']).stdout);
  assert.match(rel.error, /symlink sessions\/evil -> \.\.\/\.\.\/outside-secret refused: target points outside the tree/);
  // Fixed by the user: the next snapshot goes through.
  unlinkSync(join(src, 'sessions', 'evil'));
  assert.equal(run(['replicate', '--config', cfg, '--once']).status, 0);
});

test('restore and follow refuse a record whose symlink leaves the tree, writing nothing', (t) => {
  const { dir, src, cfg, remote } = setup(t);
  symlinkSync('notes.md', join(src, 'current'));
  assert.equal(run(['replicate', '--config', cfg, '--once']).status, 0);
  // A hostile remote rewrites the record: the link now points at a host file.
  const id = JSON.parse(readFileSync(join(dir, 'remote', 'us-east-1', 'latest'), 'utf8')).id;
  const recPath = join(dir, 'remote', 'us-east-1', 'snapshots', `${id}.json`);
  const rec = JSON.parse(readFileSync(recPath, 'utf8'));
  rec.symlinks[0].target = '../../../../etc/shadow';
  writeFileSync(recPath, JSON.stringify(rec));
  const out = join(dir, 'out');
  const r = run(['restore', '--remote', remote, '--region', 'us-east-1', '--to', out]);
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stderr, /symlink current -> \.\.\/\.\.\/\.\.\/\.\.\/etc\/shadow refused: target points outside the tree/);
  assert.ok(!existsSync(out), 'nothing written');
  const f = run(['follow', '--remote', remote, '--region', 'us-east-1', '--to', join(dir, 'standby'), '--once']);
  assert.notEqual(f.status, 0, f.stdout);
  assert.match(f.stdout + f.stderr, /symlink current -> .* refused/);
  assert.ok(!existsSync(join(dir, 'standby', 'current')), 'no link created');
});

// DR evidence records (src/evidence, docs/RUNBOOK.md "Verifying a drill's evidence record"): the
// documented by-hand check (`jq -jcS 'del(.integrity)' | sha256sum`) and `agency-ha evidence
// verify` agree on the same bytes, including strings with quotes, control bytes and non-ASCII
// text; any edit makes verify exit 1, a wrong HMAC key too; malformed input exits 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, run, tempDir } from './helpers.mjs';

const jqCanonical = (file) => {
  const r = spawnSync('jq', ['-jcS', 'del(.integrity)', file], { encoding: 'buffer', timeout: 20000 });
  assert.equal(r.status, 0, String(r.stderr));
  return r.stdout;
};

// A record sealed by hand, the way an auditor would check it: digests over jq's bytes.
function sealByHand(dir, record, key) {
  const raw = join(dir, 'raw.json');
  writeFileSync(raw, JSON.stringify(record, null, 2));
  const canonical = jqCanonical(raw);
  const integrity = {
    canonicalization: 'RFC 8785 (integers only)',
    sha256: createHash('sha256').update(canonical).digest('hex'),
  };
  if (key) {
    integrity.hmacSha256 = createHmac('sha256', key).update(canonical).digest('hex');
    integrity.hmacKeyId = 'test-key';
  }
  return { ...record, integrity };
}

const RECORD = {
  kind: 'DrillEvidence',
  zeta: [3, { b: null, a: true }],
  drillId: 'drill-20261206-0400',
  rtoMilliseconds: 1432,
  rpoMilliseconds: 0,
  negative: -9007199254740991,
  notes: ['quote " backslash \\ slash / tab \t newline \n bell \u0007 unit \u001f é 日本 😀'],
};

test('evidence: jq by hand and `agency-ha evidence verify` agree; edits and wrong keys are caught', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'record.json');
  const keyFile = join(dir, 'key');
  writeFileSync(keyFile, 's3cret-key\n');  // a Secret's trailing newline is trimmed
  writeFileSync(file, JSON.stringify(sealByHand(dir, RECORD, 's3cret-key')));

  let r = run(['evidence', 'verify', file]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^intact: sha256 [0-9a-f]{64}; HMAC present, not checked/);
  r = run(['evidence', 'verify', file, '--hmac-key-file', keyFile]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /HMAC-SHA256 verified with the given key/);

  const wrongKey = join(dir, 'wrong');
  writeFileSync(wrongKey, 'other');
  r = run(['evidence', 'verify', file, '--hmac-key-file', wrongKey]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /NOT INTACT: the HMAC does not match/);

  // Edit one value: the by-hand digest and the binary both see it.
  const edited = JSON.parse(JSON.stringify(sealByHand(dir, RECORD, 's3cret-key')));
  edited.rtoMilliseconds = 1431;
  writeFileSync(file, JSON.stringify(edited, null, 2));
  r = run(['evidence', 'verify', file]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /NOT INTACT: the record was changed/);
  assert.notEqual(createHash('sha256').update(jqCanonical(file)).digest('hex'), edited.integrity.sha256);
});

test('evidence: unreadable, unsealed and out-of-subset records exit 2 naming the problem', (t) => {
  const dir = tempDir(t);
  const cases = [
    ['missing.json', null, /missing\.json/],
    ['notjson.json', '{"a":', /not valid JSON/],
    ['unsealed.json', JSON.stringify(RECORD), /no "integrity" object/],
    ['del.json', JSON.stringify({ ...sealByHand(dir, RECORD), note: 'a\u007f' }), /\$\.note: a string with the DEL/],
    ['float.json', JSON.stringify({ ...sealByHand(dir, RECORD), rtoMilliseconds: 1.5 }), /\$\.rtoMilliseconds: a non-integer number/],
  ];
  for (const [name, content, re] of cases) {
    const f = join(dir, name);
    if (content !== null) writeFileSync(f, content);
    const r = run(['evidence', 'verify', f]);
    assert.equal(r.status, 2, `${name}: ${r.stderr}`);
    assert.match(r.stderr, re, name);
  }
  assert.ok(BIN);
});

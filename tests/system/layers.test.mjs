// Dependencies point down: scripts/check-layers.mjs checks every `#include "module/..."` under
// src/ against the layer map in docs/ARCHITECTURE.md. The real tree must pass; fixture trees
// (written to a temp dir) with an upward include, a cycle inside one layer, or an unmapped module
// must fail, naming file:line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const SCRIPT = join(ROOT, 'scripts/check-layers.mjs');
const MAP = join(ROOT, 'docs/ARCHITECTURE.md');

const checkLayers = (...args) => spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', timeout: 30000 });

// Writes {relative path: content} under a fresh temp dir; returns the dir.
function tree(t, files) {
  const dir = mkdtempSync(join(tmpdir(), 'aha-layers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
  return dir;
}

const SMALL_MAP = `# Fixture\n\n## Module map\n\n| layer | modules | what |\n|---|---|---|\n| 2 | \`app\` \`main.cpp\` | top |\n| 1 | \`lib\` \`net\` | middle |\n| 0 | \`base\` | bottom |\n\n## Other\n\n| 9 | \`ignored\` | not in the map section |\n`;

test('layers: the real src/ follows the map in docs/ARCHITECTURE.md', () => {
  const r = checkLayers();
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^check-layers: \d+ module dependencies, all pointing down$/m);
  // The map covers the modules the issue moved things into.
  const doc = readFileSync(MAP, 'utf8');
  assert.match(doc, /^\| 3 \| `failover` `state` \|/m);
  assert.match(doc, /^\| 1 \| `config` `metrics` `httpd` `net` `evidence` \|/m);
});

test('layers: a clean fixture passes; includes within a module, <...> and non-module paths are ignored', (t) => {
  const dir = tree(t, {
    'doc.md': SMALL_MAP,
    'src/base/a.h': '#pragma once\n#include <vector>\n#include "base/b.h"\n',
    'src/base/b.h': '#pragma once\n#include "nlohmann/json.hpp"\n',
    'src/lib/l.h': '#pragma once\n#include "base/a.h"\n#include "net/n.h"\n',
    'src/net/n.h': '#pragma once\n#include "base/a.h"\n',
    'src/app/x.cpp': '#include "lib/l.h"\n',
    'src/main.cpp': '#include "app/x.h"\n',
  });
  const r = checkLayers('--src', join(dir, 'src'), '--map', join(dir, 'doc.md'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /5 module dependencies, all pointing down/);
});

test('layers: a lower layer including a higher one fails, naming file:line and both layers', (t) => {
  const dir = tree(t, {
    'doc.md': SMALL_MAP,
    'src/base/a.h': '#pragma once\n\n#include "lib/l.h"  // upward\n',
    'src/lib/l.h': '#pragma once\n',
    'src/net/n.h': '#pragma once\n',
    'src/app/x.cpp': '#include "lib/l.h"\n',
    'src/main.cpp': '  #  include "main_helpers/none.h"\n',
  });
  const r = checkLayers('--src', join(dir, 'src'), '--map', join(dir, 'doc.md'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^src\/base\/a\.h:3: base \(layer 0\) includes "lib\/l\.h" of lib \(layer 1\): a lower layer must not include a higher one$/m);
  assert.doesNotMatch(r.stderr, /app\/x\.cpp/);
});

test('layers: modules of one layer including each other fail as a cycle', (t) => {
  const dir = tree(t, {
    'doc.md': SMALL_MAP,
    'src/base/a.h': '#pragma once\n',
    'src/lib/l.cpp': '#include "lib/l.h"\n#include "net/n.h"\n',
    'src/lib/l.h': '#pragma once\n',
    'src/net/n.cpp': '#include "base/a.h"\n#include "lib/l.h"\n',
    'src/app/x.cpp': '\n',
    'src/main.cpp': '\n',
  });
  const r = checkLayers('--src', join(dir, 'src'), '--map', join(dir, 'doc.md'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /modules include each other \(cycle lib, net\): src\/lib\/l\.cpp:2 \(lib -> net\); src\/net\/n\.cpp:2 \(net -> lib\)/);
});

test('layers: a module missing from the map, or a mapped module that does not exist, fails', (t) => {
  const dir = tree(t, {
    'doc.md': SMALL_MAP,
    'src/base/a.h': '#pragma once\n',
    'src/lib/l.h': '#pragma once\n',
    'src/extra/e.h': '#pragma once\n#include "base/a.h"\n',
    'src/app/x.cpp': '\n',
    'src/main.cpp': '\n',
  });
  const r = checkLayers('--src', join(dir, 'src'), '--map', join(dir, 'doc.md'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^src\/extra: module "extra" is not in the layer map \(doc\.md, "## Module map"\)$/m);
  assert.match(r.stderr, /^doc\.md: the layer map names "net", which is not a module under src\/$/m);
});

test('layers: the real map rejects an upward include into a role (a copy of the module folders)', (t) => {
  const doc = readFileSync(MAP, 'utf8');
  const files = { 'doc.md': doc };
  for (const m of ['common', 'config', 'metrics', 'httpd', 'objectstore', 'kube', 'failover', 'state', 'replication', 'quorum', 'probe', 'controller', 'gate', 'mcp', 'demo']) {
    files[`src/${m}/${m}.h`] = '#pragma once\n';
  }
  files['src/main.cpp'] = '#include "controller/controller.h"\n';
  files['src/state/source.h'] = '#pragma once\n#include "kube/kube.h"\n#include "gate/gate.h"\n';
  const dir = tree(t, files);
  const r = checkLayers('--src', join(dir, 'src'), '--map', join(dir, 'doc.md'));
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stderr, /^src\/state\/source\.h:3: state \(layer 3\) includes "gate\/gate\.h" of gate \(layer 5\)/m);
  assert.doesNotMatch(r.stderr, /source\.h:2/);
});

#!/usr/bin/env node
// Dependencies point down: checks every `#include "module/..."` under src/ against the layer map
// in docs/ARCHITECTURE.md ("Module map"), so the doc and the check cannot drift apart.
//
// Usage: node scripts/check-layers.mjs [--src DIR] [--map FILE]
//   (defaults: src/ and docs/ARCHITECTURE.md of this checkout; tests point them at fixtures)
// Exits 1, naming file:line, when
//   - a file includes a module of a higher layer (a lower layer includes a higher one),
//   - modules include each other, directly or around a cycle (possible only within one layer),
//   - a folder under src/ (or a file directly in src/) is not in the map, or the map names a
//     module that does not exist.
// A module is a folder under src/; a file directly in src/ (main.cpp) is the module of its base
// name ("main"). Only quoted includes whose first path segment is a module count; <...> includes
// and includes of a file in the same module are ignored. No dependencies beyond Node itself.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;

// Exceptions still to be removed: 'src/path/file.cpp -> module' with the reason. Keep it empty;
// an entry here is a known violation that the next change should fix, not a permission.
const ALLOWED = new Map([]);

// The map is the table under the "## Module map" heading: | layer | modules | ... | with the layer
// a number (0 = lowest) and the modules as `name` code spans.
export function parseLayerMap(markdown) {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^##\s+Module map\b/.test(l));
  if (start < 0) throw new Error('no "## Module map" section');
  const layers = new Map(); // module -> layer
  for (let i = start + 1; i < lines.length && !/^##\s/.test(lines[i]); ++i) {
    const row = /^\|\s*(\d+)\s*\|([^|]*)\|/.exec(lines[i]);
    if (!row) continue;
    for (const m of row[2].matchAll(/`([A-Za-z0-9_.-]+)`/g)) {
      const name = m[1].replace(/\.cpp$/, '');
      if (layers.has(name)) throw new Error(`module ${name} is in the map twice`);
      layers.set(name, Number(row[1]));
    }
  }
  if (layers.size === 0) throw new Error('the "## Module map" section has no layer rows');
  return layers;
}

// Every C/C++ source under dir, sorted (also used by check-clock.mjs).
export function walk(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (/\.(h|hpp|cpp|cc)$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

// Returns {errors: [string], edges: Map<"a -> b", [{file, line}]>}.
export function checkLayers({ src, map }) {
  const errors = [];
  const layers = parseLayerMap(readFileSync(map, 'utf8'));
  const modules = new Set();
  for (const e of readdirSync(src)) {
    const p = join(src, e);
    if (statSync(p).isDirectory()) modules.add(e);
    else if (/\.(h|hpp|cpp|cc)$/.test(e)) modules.add(e.replace(/\.[a-z]+$/, ''));
  }
  const rel = (p) => relative(join(src, '..'), p);
  for (const m of [...modules].sort()) {
    if (!layers.has(m)) errors.push(`${rel(join(src, m))}: module "${m}" is not in the layer map (${rel(map)}, "## Module map")`);
  }
  for (const m of [...layers.keys()].sort()) {
    if (!modules.has(m)) errors.push(`${rel(map)}: the layer map names "${m}", which is not a module under ${rel(src)}/`);
  }

  const edges = new Map();
  for (const file of walk(src)) {
    const parts = relative(src, file).split('/');
    const from = parts.length > 1 ? parts[0] : basename(file).replace(/\.[a-z]+$/, '');
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((text, i) => {
      const inc = /^\s*#\s*include\s*"([^"]+)"/.exec(text);
      if (!inc || !inc[1].includes('/')) return;
      const to = inc[1].split('/')[0];
      if (to === from || !modules.has(to)) return;
      const where = { file: rel(file), line: i + 1 };
      const key = `${from} -> ${to}`;
      if (!edges.has(key)) edges.set(key, []);
      edges.get(key).push(where);
      if (ALLOWED.has(`${where.file} -> ${to}`)) return;
      const lf = layers.get(from);
      const lt = layers.get(to);
      if (lf !== undefined && lt !== undefined && lt > lf) {
        errors.push(`${where.file}:${where.line}: ${from} (layer ${lf}) includes "${inc[1]}" of ${to} (layer ${lt}): a lower layer must not include a higher one`);
      }
    });
  }

  // Cycles between modules (Tarjan's strongly connected components over the module graph).
  const graph = new Map();
  for (const key of edges.keys()) {
    const [a, b] = key.split(' -> ');
    if ([...edges.get(key)].every((w) => ALLOWED.has(`${w.file} -> ${b}`))) continue;
    if (!graph.has(a)) graph.set(a, []);
    graph.get(a).push(b);
  }
  let index = 0;
  const idx = new Map(), low = new Map(), stack = [], on = new Set();
  const sccs = [];
  const strong = (v) => {
    idx.set(v, index); low.set(v, index); ++index;
    stack.push(v); on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) { strong(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const c = [];
      let w;
      do { w = stack.pop(); on.delete(w); c.push(w); } while (w !== v);
      if (c.length > 1) sccs.push(c.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v);
  for (const c of sccs) {
    const inCycle = [...edges.keys()].filter((k) => { const [a, b] = k.split(' -> '); return c.includes(a) && c.includes(b); }).sort();
    const detail = inCycle.map((k) => { const w = edges.get(k)[0]; return `${w.file}:${w.line} (${k})`; });
    errors.push(`modules include each other (cycle ${c.join(', ')}): ${detail.join('; ')}`);
  }
  return { errors, edges };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
  const src = opt('--src', join(ROOT, 'src'));
  const map = opt('--map', join(ROOT, 'docs/ARCHITECTURE.md'));
  if (!existsSync(src) || !existsSync(map)) {
    console.error(`check-layers: ${existsSync(src) ? map : src}: not found`);
    process.exit(2);
  }
  let result;
  try {
    result = checkLayers({ src, map });
  } catch (e) {
    console.error(`check-layers: ${map}: ${e.message}`);
    process.exit(1);
  }
  for (const e of result.errors) console.error(e);
  if (result.errors.length) {
    console.error(`check-layers: ${result.errors.length} violation(s); the layers are in ${relative(process.cwd(), map) || map}`);
    process.exit(1);
  }
  console.log(`check-layers: ${result.edges.size} module dependencies, all pointing down`);
}

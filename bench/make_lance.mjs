// Builds the LanceDB dataset of replication_bench's tree B with the real npm @lancedb/lancedb:
// a table `memory` written in several commits (adds, a delete, a scalar index), so the dataset
// has many versions, data files, a deletion file and an index, like a live agent's brain.
// Contents are derived from the seed (LanceDB's own file names are random UUIDs).
//
//   node bench/make_lance.mjs DIR [--rows N] [--dim D] [--seed S]
// Prints one JSON line: {"table", "version", "rows"}.
import { connect } from '@lancedb/lancedb';

const args = process.argv.slice(2);
if (args.length < 1 || args[0].startsWith('-')) {
  console.error('usage: node make_lance.mjs DIR [--rows N] [--dim D] [--seed S]');
  process.exit(2);
}
const dir = args[0];
const opt = { rows: 20000, dim: 64, seed: 1 };
for (let i = 1; i < args.length; i += 2) {
  const k = args[i].replace(/^--/, '');
  const v = Number(args[i + 1]);
  if (!(k in opt) || !Number.isInteger(v) || v < 1) {
    console.error(`make_lance.mjs: bad option ${args[i]} ${args[i + 1]}`);
    process.exit(2);
  }
  opt[k] = v;
}

// mulberry32: small deterministic PRNG.
let s = opt.seed >>> 0;
const rand = () => {
  s = (s + 0x6d2b79f5) >>> 0;
  let t = s;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
let next = 0;
const rows = (n) => Array.from({ length: n }, () => {
  const id = next++;
  return {
    id,
    text: `memory ${id}: ${Math.floor(rand() * 1e9).toString(36)} ${Math.floor(rand() * 1e9).toString(36)}`,
    vector: Array.from({ length: opt.dim }, () => rand() * 2 - 1),
  };
});

const db = await connect(dir);
const batches = 5;
const per = Math.ceil(opt.rows / batches);
const table = await db.createTable('memory', rows(per));
for (let b = 1; b < batches; b++) await table.add(rows(Math.min(per, opt.rows - b * per)));
await table.delete('id % 97 = 0');
await table.createIndex('id');
const out = { table: 'memory', version: await table.version(), rows: await table.countRows() };
process.stdout.write(JSON.stringify(out) + '\n');

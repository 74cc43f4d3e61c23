// Builds test/fixtures/fashion-train-1000.images.gz: the first 1,000 Fashion-MNIST training
// images (MIT licence, Zalando Research) in the standard IDX format, for the tests that need gray-level
// images with many distinct pixel values (the embedded MNIST digits are nearly binary). The source is
// Debian's `dataset-fashion-mnist` package (`apt-get install dataset-fashion-mnist`).
// Run: npx tsx scripts/build-fashion-fixture.ts [source-images-idx3-ubyte.gz]
// Deterministic: the same source gives the same bytes (gzip level 9, no file name or time stamp).

import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { decodeIdxImages, IDX_IMAGES_MAGIC } from '../src/data/idx.ts';

export const FASHION_FIXTURE = 'fashion-train-1000.images.gz';
const COUNT = 1000;

async function main(): Promise<void> {
  const source = process.argv[2] ?? '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz';
  const all = await decodeIdxImages(new Uint8Array(await readFile(source)), source);
  if (all.count < COUNT || all.rows !== 28 || all.cols !== 28) throw new Error(`${source}: expected at least ${COUNT} 28x28 images`);
  const header = new DataView(new ArrayBuffer(16));
  header.setUint32(0, IDX_IMAGES_MAGIC);
  header.setUint32(4, COUNT);
  header.setUint32(8, 28);
  header.setUint32(12, 28);
  const raw = new Uint8Array(16 + COUNT * 784);
  raw.set(new Uint8Array(header.buffer), 0);
  raw.set(all.pixels.subarray(0, COUNT * 784), 16);
  const out = fileURLToPath(new URL(`../test/fixtures/${FASHION_FIXTURE}`, import.meta.url));
  await writeFile(out, gzipSync(raw, { level: 9 }));
  const back = await decodeIdxImages(new Uint8Array(await readFile(out)), out);
  if (back.count !== COUNT || back.pixels.some((v, k) => v !== all.pixels[k])) throw new Error(`${out}: read-back differs`);
  console.log(`wrote ${out}: ${COUNT} images`);
}

main().catch((e) => {
  console.error(`build-fashion-fixture: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});

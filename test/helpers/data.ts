// Small real datasets for tests: a seeded, class-mixed subset of the embedded digits, the committed
// Fashion-MNIST fixture (1,000 gray-level training images, test/fixtures/README.md), and IDX file bytes.
import { readFile } from 'node:fs/promises';
import { subset, type Dataset } from '../../src/data/dataset.ts';
import { decodeIdxImages } from '../../src/data/idx.ts';
import { loadEmbeddedDataset } from '../../src/data/load.ts';
import { Rng } from '../../src/util/rng.ts';

let cached: Dataset | null = null;

export async function embeddedSubset(count: number, seed = 7): Promise<Dataset> {
  cached ??= await loadEmbeddedDataset();
  const order = new Rng(seed).shuffle(Int32Array.from({ length: cached.count }, (_, i) => i));
  return subset(cached, order.subarray(0, count), `embedded subset of ${count}`);
}

/** The committed Fashion-MNIST fixture: the first 1,000 training images, in the official IDX format. */
let fashion: Promise<Dataset> | null = null;
export function fashionFixture(): Promise<Dataset> {
  const path = new URL('../fixtures/fashion-train-1000.images.gz', import.meta.url);
  fashion ??= readFile(path).then((bytes) => decodeIdxImages(new Uint8Array(bytes), 'fashion-train-1000.images.gz'));
  return fashion;
}

/** Random data over a small domain. */
export function randomDataset(count: number, numVars: number, numValues: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const pixels = new Uint8Array(count * numVars);
  for (let k = 0; k < pixels.length; k++) pixels[k] = rng.int(numValues);
  return { name: 'random', count, numVars, numValues, rows: 1, cols: numVars, pixels };
}

/** An IDX images file's bytes: magic 0x00000803, the image count the header announces (which may be
 *  more than `pixels` holds, for truncated files), rows, cols, then the pixels. */
export function idxImagesBytes(pixels: Uint8Array, count: number, rows = 28, cols = 28): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(16 + pixels.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x00000803);
  view.setUint32(4, count);
  view.setUint32(8, rows);
  view.setUint32(12, cols);
  out.set(pixels, 16);
  return out;
}

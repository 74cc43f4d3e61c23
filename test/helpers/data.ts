// Small real datasets for tests: a seeded, class-mixed subset of the embedded digits, and the committed
// Fashion-MNIST fixture (1,000 gray-level training images, test/fixtures/README.md).
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

// Small real datasets for tests: a seeded, class-mixed subset of the embedded digits.
import { subset, type Dataset } from '../../src/data/dataset.ts';
import { loadEmbeddedDataset } from '../../src/data/load.ts';
import { Rng } from '../../src/util/rng.ts';

let cached: Dataset | null = null;

export async function embeddedSubset(count: number, seed = 7): Promise<Dataset> {
  cached ??= await loadEmbeddedDataset();
  const order = new Rng(seed).shuffle(Int32Array.from({ length: cached.count }, (_, i) => i));
  return subset(cached, order.subarray(0, count), `embedded subset of ${count}`);
}

/** Random data over a small domain. */
export function randomDataset(count: number, numVars: number, numValues: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const pixels = new Uint8Array(count * numVars);
  for (let k = 0; k < pixels.length; k++) pixels[k] = rng.int(numValues);
  return { name: 'random', count, numVars, numValues, rows: 1, cols: numVars, pixels };
}

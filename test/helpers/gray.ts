// Gray-level test circuits and batches shared by the CPU and GPU round tests: random tree circuits
// whose input nodes are peaked over 256 gray levels (latent states that disagree with a pixel differ
// by hundreds of nats, the case that broke float32 training after a prune and a grow), and uniform
// random gray batches with optional missing pixels.
import { buildTreeCircuit, randomTree } from '../../src/circuit/tree.ts';
import type { Circuit } from '../../src/circuit/structure.ts';
import type { Batch } from '../../src/engines/engine.ts';
import { Rng } from '../../src/util/rng.ts';

export const V = 256;

/** A random tree circuit whose input node i of region v is a discretised bell of width 6 around its
 *  own gray level: log p(x) ~ -(x - centre)^2 / 72, so far values cost up to ~900 nats. */
export function peakedCircuit(seed: number, D: number, K: number): Circuit {
  const rng = new Rng(seed);
  const c = buildTreeCircuit(randomTree(D, rng), V, K, rng);
  for (const r of c.regions) {
    for (let i = 0; i < r.size; i++) {
      const centre = rng.int(V);
      let z = 0;
      for (let x = 0; x < V; x++) z += Math.exp(-((x - centre) ** 2) / 72);
      for (let x = 0; x < V; x++) r.inputLogProbs[i * V + x] = -((x - centre) ** 2) / 72 - Math.log(z);
    }
  }
  return c;
}

export function grayBatch(seed: number, count: number, D: number, missingRate: number): Batch {
  const rng = new Rng(seed);
  const pixels = new Uint8Array(count * D);
  for (let k = 0; k < pixels.length; k++) pixels[k] = rng.int(V);
  const missing = new Uint8Array(count * D);
  for (let k = 0; k < missing.length; k++) missing[k] = rng.uniform() < missingRate ? 1 : 0;
  return { pixels, count, missing };
}

// Builds a region-structured circuit over a given tree of variables, with dense K x K sum blocks and
// random parameters. HCLT uses it with the Chow-Liu tree; tests use it with random trees.

import { Rng } from '../util/rng.ts';
import type { Circuit, Region, SumBlock } from './structure.ts';

/**
 * Random normalised distribution in the log domain, as PyJuice initialises parameters:
 * p_i proportional to exp(-perturbation * u_i), u_i ~ U[0,1).
 */
export function randomLogDistribution(rng: Rng, n: number, out: Float64Array, offset = 0, perturbation = 2.0): void {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.exp(-perturbation * rng.uniform());
    out[offset + i] = p;
    s += p;
  }
  const logS = Math.log(s);
  for (let i = 0; i < n; i++) out[offset + i] = Math.log(out[offset + i]) - logS;
}

/** A dense rows x cols block with random normalised rows. */
export function denseBlock(rows: number, cols: number, rng: Rng): SumBlock {
  const rowPtr = new Int32Array(rows + 1);
  const colIdx = new Int32Array(rows * cols);
  const logWeights = new Float64Array(rows * cols);
  for (let j = 0; j < rows; j++) {
    rowPtr[j + 1] = (j + 1) * cols;
    for (let i = 0; i < cols; i++) colIdx[j * cols + i] = i;
    randomLogDistribution(rng, cols, logWeights, j * cols);
  }
  return { rows, cols, rowPtr, colIdx, logWeights };
}

/**
 * A circuit with K latent states per variable over the tree given by `parent` (parent[v] = -1 for
 * the root). Parameters are drawn from `rng` in region order, so the result is a function of the seed.
 */
export function buildTreeCircuit(parent: ArrayLike<number>, numValues: number, K: number, rng: Rng): Circuit {
  const D = parent.length;
  let root = -1;
  const children: number[][] = Array.from({ length: D }, () => []);
  for (let v = 0; v < D; v++) {
    if (parent[v] === -1) {
      if (root !== -1) throw new Error('tree has more than one root');
      root = v;
    } else children[parent[v]].push(v);
  }
  if (root === -1) throw new Error('tree has no root');
  const regions: Region[] = [];
  for (let v = 0; v < D; v++) {
    const inputLogProbs = new Float64Array(K * numValues);
    for (let i = 0; i < K; i++) randomLogDistribution(rng, numValues, inputLogProbs, i * numValues);
    const rows = v === root ? 1 : K;
    regions.push({ variable: v, parent: parent[v], children: children[v], size: K, inputLogProbs, block: denseBlock(rows, K, rng) });
  }
  return { numVars: D, numValues, regions, root };
}

/** A uniformly random tree (random recursive tree over a random permutation), for tests. */
export function randomTree(D: number, rng: Rng): Int32Array {
  const order = rng.shuffle(Int32Array.from({ length: D }, (_, i) => i));
  const parent = new Int32Array(D);
  parent[order[0]] = -1;
  for (let i = 1; i < D; i++) parent[order[i]] = order[rng.int(i)];
  return parent;
}

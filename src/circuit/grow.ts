// Growing (DESIGN.md section 1): duplicate every node except the root, so each region's latent space
// doubles (n -> 2n). Products pair copy with copy; each sum node and its copy get all copies of their
// old children, so a block of nnz entries becomes 4 nnz (the root's 2 nnz). Each copied weight starts
// at theta/2, which leaves the circuit's function unchanged; symmetry is broken by multiplying each
// log-weight by eps ~ N(1, sigma^2) (eps < 0 replaced by 0.1, as the paper's code does) and
// renormalising. Input copies get the same kind of noise at a tenth of sigma. sigma = 0: no change.

import { Rng } from '../util/rng.ts';
import { logSumExp } from '../util/math.ts';
import type { Circuit, Region } from './structure.ts';

function noiseFactor(rng: Rng, sigma: number): number {
  if (sigma === 0) return 1;
  const eps = 1 + sigma * rng.normal();
  return eps < 0 ? 0.1 : eps;
}

export function growCircuit(c: Circuit, sigma: number, seed: number): Circuit {
  const rng = new Rng(seed);
  const V = c.numValues;
  const regions: Region[] = c.regions.map((r, v) => {
    const n = r.size;
    const b = r.block;
    const isRoot = v === c.root;
    const copies = isRoot ? 1 : 2;
    const rows = b.rows * copies;
    const rowPtr = new Int32Array(rows + 1);
    const colIdx = new Int32Array(b.colIdx.length * 2 * copies);
    const logWeights = new Float64Array(colIdx.length);
    let k = 0;
    for (let copy = 0; copy < copies; copy++) {
      for (let j = 0; j < b.rows; j++) {
        const start = k;
        // Columns stay sorted: first the originals, then their copies (i + n).
        for (const half of [0, n]) {
          for (let e = b.rowPtr[j]; e < b.rowPtr[j + 1]; e++) {
            colIdx[k] = b.colIdx[e] + half;
            logWeights[k] = (b.logWeights[e] - Math.LN2) * noiseFactor(rng, sigma);
            k++;
          }
        }
        const z = logSumExp(logWeights, start, k);
        for (let q = start; q < k; q++) logWeights[q] -= z;
        rowPtr[copy * b.rows + j + 1] = k;
      }
    }
    const inputLogProbs = new Float64Array(2 * n * V);
    inputLogProbs.set(r.inputLogProbs);
    const inputSigma = sigma / 10;
    for (let i = 0; i < n; i++) {
      const off = (n + i) * V;
      for (let x = 0; x < V; x++) inputLogProbs[off + x] = r.inputLogProbs[i * V + x] * noiseFactor(rng, inputSigma);
      const z = logSumExp(inputLogProbs, off, off + V);
      for (let x = 0; x < V; x++) inputLogProbs[off + x] -= z;
    }
    return {
      variable: r.variable,
      parent: r.parent,
      children: r.children.slice(),
      size: 2 * n,
      inputLogProbs,
      block: { rows, cols: 2 * n, rowPtr, colIdx, logWeights },
    };
  });
  return { numVars: c.numVars, numValues: V, root: c.root, regions };
}

// Growing (docs/architecture.md, "Growing"): duplicate every node, so each region's latent space
// doubles (n -> 2n), following the paper's own code (UCLA-StarAI/SparsePC, `triple_edges` in
// src/operation.jl):
//   - input node i gets a copy i + n with the same distribution (no noise);
//   - product i and its copy i + n multiply the first and the second copies of their children
//     (no cross edges): P_i = L_i x S_c,i and P_{i+n} = L_{i+n} x S_c,{i+n};
//   - a sum node with one child gets no cross edges either: S -> P_c and S' -> P_{c+n};
//   - a sum node with several children and its copy both get edges to both copies of every child,
//     with the same parameter vector: log theta_c * eps_c towards the first copies and
//     log theta_c / eps_c towards the second, eps_c = 1 + sigma * N(0, 1) (clipped to 0.1 when
//     negative), then normalised.
// The root region has one sum node (the output) and stays so; its products double like the rest.
// With sigma = 0 every weight becomes theta / 2 on each copy, and every node computes what it did
// before: the circuit's function is unchanged (a test). The noise is what lets EM tell a state from
// its copy: the two copies of a product get different shares of their parents' flow, so their
// children's EM updates differ.

import { Rng } from '../util/rng.ts';
import { logSumExp } from '../util/math.ts';
import type { Circuit, Region } from './structure.ts';

/** The paper's growth noise factor: eps = 1 + sigma * N(0, 1), replaced by 0.1 when negative. */
const MIN_NOISE_FACTOR = 0.1;

function noiseFactor(rng: Rng, sigma: number): number {
  if (sigma === 0) return 1;
  const eps = 1 + sigma * rng.normal();
  return eps < 0 ? MIN_NOISE_FACTOR : eps;
}

export function growCircuit(c: Circuit, sigma: number, seed: number): Circuit {
  const rng = new Rng(seed);
  const V = c.numValues;
  const regions: Region[] = c.regions.map((r, v) => {
    const n = r.size;
    const b = r.block;
    const copies = v === c.root ? 1 : 2;
    // Edges: a row with one child keeps one edge per copy, a row with d > 1 children gets 2d.
    let nnz = 0;
    // (The root's one row keeps both copies of a single child, at theta / 2 each: the paper keeps
    // the first copy of its root, which would leave the second copy of that product without a parent.)
    const crossSingle = copies === 1;
    for (let j = 0; j < b.rows; j++) {
      const d = b.rowPtr[j + 1] - b.rowPtr[j];
      nnz += d === 1 && !crossSingle ? 1 : 2 * d;
    }
    const rows = b.rows * copies;
    const rowPtr = new Int32Array(rows + 1);
    const colIdx = new Int32Array(nnz * copies);
    const logWeights = new Float64Array(nnz * copies);
    // One parameter vector per original row, shared by the row and its copy.
    const shared: Float64Array[] = [];
    for (let j = 0; j < b.rows; j++) {
      const start = b.rowPtr[j];
      const d = b.rowPtr[j + 1] - start;
      if (d === 1 && !crossSingle) {
        shared.push(Float64Array.of(0));
        continue;
      }
      const w = new Float64Array(2 * d);
      for (let e = 0; e < d; e++) {
        const eps = noiseFactor(rng, sigma);
        w[e] = b.logWeights[start + e] * eps;
        w[d + e] = b.logWeights[start + e] / eps;
      }
      const z = logSumExp(w, 0, 2 * d);
      for (let e = 0; e < 2 * d; e++) w[e] -= z;
      shared.push(w);
    }
    let k = 0;
    for (let copy = 0; copy < copies; copy++) {
      for (let j = 0; j < b.rows; j++) {
        const start = b.rowPtr[j];
        const d = b.rowPtr[j + 1] - start;
        if (d === 1 && !crossSingle) {
          // No cross edges: the first copy points to the first copy of the child, the second to the second.
          colIdx[k] = b.colIdx[start] + copy * n;
          logWeights[k++] = 0;
        } else {
          // Columns stay sorted: first the originals, then their copies (i + n).
          const w = shared[j];
          for (let e = 0; e < d; e++) {
            colIdx[k] = b.colIdx[start + e];
            logWeights[k++] = w[e];
          }
          for (let e = 0; e < d; e++) {
            colIdx[k] = b.colIdx[start + e] + n;
            logWeights[k++] = w[d + e];
          }
        }
        rowPtr[copy * b.rows + j + 1] = k;
      }
    }
    const inputLogProbs = new Float64Array(2 * n * V);
    inputLogProbs.set(r.inputLogProbs);
    inputLogProbs.set(r.inputLogProbs, n * V);
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

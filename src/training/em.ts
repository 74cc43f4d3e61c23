// Expectation-maximisation updates from accumulated flows (DESIGN.md section 1), on the compiled
// parameters in place. The CPU engine uses these directly; the GPU engine's kernels must agree.
//
// Sum node n with children c:  new_nc = (F_nc + a/|ch(n)|) / (sum_c F_nc + a)
// Categorical input node:      new_x  = (F_x + a/V) / (sum_x F_x + a)
// Mini-batch step s:           theta <- (1 - s) theta + s new        (full batch: s = 1)

import type { CompiledCircuit } from '../circuit/compile.ts';

export interface EmOptions {
  /** Step size s in (0, 1]. */
  step: number;
  /** Pseudocount a >= 0. */
  pseudocount: number;
}

export function emUpdate(cc: CompiledCircuit, edgeFlows: Float64Array, inputFlows: Float64Array, opts: EmOptions): void {
  const { step: s, pseudocount: a } = opts;
  const lw = cc.edgeLogWeights;
  for (const r of cc.regions) {
    for (let j = 0; j < r.rows; j++) {
      const node = r.sumStart + j;
      const start = cc.edgePtr[node];
      const end = cc.edgePtr[node + 1];
      let total = 0;
      for (let e = start; e < end; e++) total += edgeFlows[e];
      // No flow and no pseudocount: the data says nothing about this node; keep it.
      if (!(total + a > 0)) continue;
      const prior = a / (end - start);
      for (let e = start; e < end; e++) {
        const fresh = (edgeFlows[e] + prior) / (total + a);
        lw[e] = Math.log((1 - s) * Math.exp(lw[e]) + s * fresh);
      }
    }
  }
  const V = cc.numValues;
  const lp = cc.inputLogProbs;
  const prior = a / V;
  for (let n = 0; n < cc.numInputs; n++) {
    const off = n * V;
    let total = 0;
    for (let x = 0; x < V; x++) total += inputFlows[off + x];
    if (!(total + a > 0)) continue;
    for (let x = 0; x < V; x++) {
      const fresh = (inputFlows[off + x] + prior) / (total + a);
      lp[off + x] = Math.log((1 - s) * Math.exp(lp[off + x]) + s * fresh);
    }
  }
}

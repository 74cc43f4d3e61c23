// Expectation-maximisation updates from accumulated flows (docs/architecture.md, "EM"), on the
// compiled parameters in place. Every engine applies this update (the CPU engine calls it directly,
// the GPU engine's kernels must agree), so it lives with the engines; training/ only decides when
// and with which step (training/schedule.ts).
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

/** A part of the parameters: sum edges [edgeStart, edgeEnd) (whole sum nodes) and input nodes. */
export interface EmRange {
  edgeStart: number;
  edgeEnd: number;
  inputStart: number;
  inputEnd: number;
}

export function fullEmRange(cc: CompiledCircuit): EmRange {
  return { edgeStart: 0, edgeEnd: cc.numEdges, inputStart: 0, inputEnd: cc.numInputs };
}

/** Splits the parameters into `parts` ranges of about equal work, on sum-node boundaries. */
export function splitEmRange(cc: CompiledCircuit, parts: number): EmRange[] {
  const ranges: EmRange[] = [];
  // Sum nodes are numbered contiguously per layer; walk them in edge order.
  const sumNodes: number[] = [];
  for (const l of cc.layers) if (l.kind === 'sum') for (let n = l.nodeStart; n < l.nodeEnd; n++) sumNodes.push(n);
  let node = 0;
  for (let t = 0; t < parts; t++) {
    const edgeStart = t === 0 ? 0 : ranges[t - 1].edgeEnd;
    const target = Math.round(((t + 1) * cc.numEdges) / parts);
    while (node < sumNodes.length && cc.edgePtr[sumNodes[node]] < target) node++;
    const edgeEnd = t === parts - 1 ? cc.numEdges : node < sumNodes.length ? cc.edgePtr[sumNodes[node]] : cc.numEdges;
    ranges.push({
      edgeStart,
      edgeEnd,
      inputStart: Math.round((t * cc.numInputs) / parts),
      inputEnd: Math.round(((t + 1) * cc.numInputs) / parts),
    });
  }
  return ranges;
}

/**
 * EM update of the parameters in `range` (default: all) from flows indexed like the whole circuit.
 * `inputProbs`, when given, is a linear-domain copy of cc.inputLogProbs, and the categorical inputs
 * are updated there only: cc.inputLogProbs is left stale until `inputLogsFrom` refreshes it. That
 * saves an exp and a log per categorical parameter (K x 256 per pixel: the bulk of EM's time, and
 * the same for a pruned circuit, whose sum edges are a quarter of the dense ones) in every mini-batch
 * step; the logs are needed only when something reads the compiled parameters (Engine.syncParams).
 */
export function emUpdate(
  cc: CompiledCircuit,
  edgeFlows: Float64Array,
  inputFlows: Float64Array,
  opts: EmOptions,
  range = fullEmRange(cc),
  inputProbs?: Float64Array,
): void {
  const { step: s, pseudocount: a } = opts;
  const lw = cc.edgeLogWeights;
  for (const r of cc.regions) {
    if (r.edgeStart + r.nnz <= range.edgeStart || r.edgeStart >= range.edgeEnd) continue;
    for (let j = 0; j < r.rows; j++) {
      const node = r.sumStart + j;
      const start = cc.edgePtr[node];
      const end = cc.edgePtr[node + 1];
      if (start < range.edgeStart || start >= range.edgeEnd) continue;
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
  for (let n = range.inputStart; n < range.inputEnd; n++) {
    const off = n * V;
    let total = 0;
    for (let x = 0; x < V; x++) total += inputFlows[off + x];
    if (!(total + a > 0)) continue;
    const scale = s / (total + a);
    const base = scale * prior;
    if (inputProbs) {
      for (let x = 0; x < V; x++) inputProbs[off + x] = (1 - s) * inputProbs[off + x] + base + scale * inputFlows[off + x];
    } else {
      for (let x = 0; x < V; x++) lp[off + x] = Math.log((1 - s) * Math.exp(lp[off + x]) + base + scale * inputFlows[off + x]);
    }
  }
}

/** cc.inputLogProbs[k] = log inputProbs[k] for the input nodes in [inputStart, inputEnd): the logs
 *  that `emUpdate` with a linear copy leaves stale. */
export function inputLogsFrom(cc: CompiledCircuit, inputProbs: Float64Array, inputStart = 0, inputEnd = cc.numInputs): void {
  const lp = cc.inputLogProbs;
  const V = cc.numValues;
  for (let k = inputStart * V; k < inputEnd * V; k++) lp[k] = Math.log(inputProbs[k]);
}

// Pruning (docs/architecture.md, "Pruning"): score every sum edge, remove the globally lowest
// fraction of the edges of sum nodes with several children, keep at least one edge per sum node,
// drop the nodes nothing points to any more, renormalise.
//
// Scores: `flow` = dataset edge flow F_e(D) (the method), `magnitude` = theta_e, `random` = seeded.
// The guarantee shown to users: removing E lowers log p(x) by at most -log(1 - sum_{e in E} F_e(x)),
// with F_e(x) the per-sample flows of the circuit before pruning.

import { Rng } from '../util/rng.ts';
import type { CompiledCircuit } from './compile.ts';
import type { Circuit, Region, SumBlock } from './structure.ts';
import { logSumExp } from '../util/math.ts';

export const PRUNE_CRITERIA = ['flow', 'magnitude', 'random'] as const;
export type PruneCriterion = (typeof PRUNE_CRITERIA)[number];

/** Per-edge scores (compiled edge ids); lower scores are pruned first. */
export function edgeScores(cc: CompiledCircuit, criterion: PruneCriterion, edgeFlows: Float64Array | null, seed: number): Float64Array {
  switch (criterion) {
    case 'flow':
      if (!edgeFlows) throw new Error('flow pruning needs dataset edge flows');
      return edgeFlows.slice();
    case 'magnitude':
      return Float64Array.from(cc.edgeLogWeights, Math.exp);
    case 'random': {
      const rng = new Rng(seed);
      return Float64Array.from({ length: cc.numEdges }, () => rng.uniform());
    }
  }
}

/**
 * Marks the edges a prune of `fraction` removes, as the paper's code does (`prune_edges_topk` in
 * UCLA-StarAI/SparsePC, src/operation.jl): the candidates are the edges of the sum nodes with more
 * than one child (a sum node with one child is never pruned); the floor(fraction * candidates) with
 * the lowest scores are marked (ties by edge id, so the choice is deterministic); a sum node whose
 * every edge is marked keeps one. The paper's code keeps the node's first edge (`keep: 'first'`); by
 * default we keep its best-scoring one, which under the flow criterion is the edge whose removal
 * would lose the most likelihood (docs/architecture.md, "Pruning", says why this one departure and
 * what the paper's rule gives instead: scripts/prune-rules.ts measures both on the same circuits).
 */
export function selectEdgesToPrune(cc: CompiledCircuit, scores: Float64Array, fraction: number, keep: 'best' | 'first' = 'best'): Uint8Array {
  const marked = new Uint8Array(cc.numEdges);
  const candidates: number[] = [];
  const sumNodes: number[] = [];
  for (const r of cc.regions) for (let j = 0; j < r.rows; j++) sumNodes.push(r.sumStart + j);
  for (const node of sumNodes) {
    const start = cc.edgePtr[node];
    const end = cc.edgePtr[node + 1];
    if (end - start < 2) continue;
    for (let e = start; e < end; e++) candidates.push(e);
  }
  const cut = Math.floor(fraction * candidates.length);
  candidates.sort((a, b) => scores[a] - scores[b] || a - b);
  for (let k = 0; k < cut; k++) marked[candidates[k]] = 1;
  for (const node of sumNodes) {
    const start = cc.edgePtr[node];
    const end = cc.edgePtr[node + 1];
    if (!marked.subarray(start, end).every((m) => m === 1)) continue;
    let best = start;
    if (keep === 'best') for (let e = start + 1; e < end; e++) if (scores[e] > scores[best]) best = e;
    marked[best] = 0;
  }
  return marked;
}

/** What a prune removed besides the marked edges: the latent states (products, with their input
 *  nodes) that no sum node points to any more, the child sum nodes only they used, and those sum
 *  nodes' edges. A latent state whose every incoming edge is pruned takes its children's sum nodes
 *  (row i of each child region's block) with it, and so on down the tree. */
export interface OrphanReport {
  /** Products (= input nodes = latent states) removed because every edge into them was pruned. */
  states: number;
  /** Sum nodes removed because the product above them was. */
  sums: number;
  /** Edges of those sum nodes that were not marked themselves. */
  edges: number;
}

/** The circuit without the marked edges and what went with them (see `removeEdges`). */
export function removeEdgesWithReport(c: Circuit, cc: CompiledCircuit, marked: Uint8Array): { circuit: Circuit; orphans: OrphanReport } {
  const orphans: OrphanReport = { states: 0, sums: 0, edges: 0 };
  const circuit = removeEdgesInto(c, cc, marked, orphans);
  return { circuit, orphans };
}

/**
 * The circuit without the marked edges (compiled edge ids of `cc`, which was compiled from `c`):
 * rows renormalised, and products no sum node points to any more removed together with their
 * input node and the child sum nodes only they used (top-down, so removals cascade).
 */
export function removeEdges(c: Circuit, cc: CompiledCircuit, marked: Uint8Array): Circuit {
  return removeEdgesInto(c, cc, marked, { states: 0, sums: 0, edges: 0 });
}

function removeEdgesInto(c: Circuit, cc: CompiledCircuit, marked: Uint8Array, orphans: OrphanReport): Circuit {
  const V = c.numValues;
  const regions: Region[] = c.regions.map((r) => ({ ...r, children: r.children.slice() }));
  // Rows of each region that survive (old row indices), decided by the parent's surviving products.
  const keptRows: Array<number[] | null> = new Array(c.numVars).fill(null);
  keptRows[c.root] = [0];
  const queue = [c.root];
  for (let h = 0; h < queue.length; h++) {
    const v = queue[h];
    const old = c.regions[v];
    const ob = old.block;
    const edgeStart = cc.regions[cc.regionOfVariable[v]].edgeStart;
    const rows = keptRows[v]!;
    const used = new Uint8Array(ob.cols);
    // Rows dropped because their parent product went (the root's one row always stays).
    const keep = new Uint8Array(ob.rows);
    for (const j of rows) keep[j] = 1;
    for (let j = 0; j < ob.rows; j++) {
      if (keep[j]) continue;
      orphans.sums++;
      for (let e = ob.rowPtr[j]; e < ob.rowPtr[j + 1]; e++) if (!marked[edgeStart + e]) orphans.edges++;
    }
    for (const j of rows) {
      for (let e = ob.rowPtr[j]; e < ob.rowPtr[j + 1]; e++) if (!marked[edgeStart + e]) used[ob.colIdx[e]] = 1;
    }
    const keptCols: number[] = [];
    const colMap = new Int32Array(ob.cols).fill(-1);
    for (let i = 0; i < ob.cols; i++) if (used[i]) colMap[i] = keptCols.push(i) - 1;
    orphans.states += ob.cols - keptCols.length;
    // New block from the surviving entries of the surviving rows.
    const rowPtr = new Int32Array(rows.length + 1);
    const colIdx: number[] = [];
    const logWeights: number[] = [];
    rows.forEach((j, newRow) => {
      const first = colIdx.length;
      for (let e = ob.rowPtr[j]; e < ob.rowPtr[j + 1]; e++) {
        if (marked[edgeStart + e]) continue;
        colIdx.push(colMap[ob.colIdx[e]]);
        logWeights.push(ob.logWeights[e]);
      }
      if (colIdx.length === first) throw new Error(`internal: pruning emptied sum node ${j} of region ${v}`);
      const z = logSumExp(logWeights, first, logWeights.length);
      for (let k = first; k < logWeights.length; k++) logWeights[k] -= z;
      rowPtr[newRow + 1] = colIdx.length;
    });
    const block: SumBlock = {
      rows: rows.length,
      cols: keptCols.length,
      rowPtr,
      colIdx: Int32Array.from(colIdx),
      logWeights: Float64Array.from(logWeights),
    };
    const inputLogProbs = new Float64Array(keptCols.length * V);
    keptCols.forEach((i, k) => inputLogProbs.set(old.inputLogProbs.subarray(i * V, (i + 1) * V), k * V));
    regions[v] = { ...regions[v], size: keptCols.length, inputLogProbs, block };
    for (const ch of old.children) {
      keptRows[ch] = keptCols;
      queue.push(ch);
    }
  }
  return { numVars: c.numVars, numValues: V, root: c.root, regions };
}

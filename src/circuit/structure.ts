// The editable circuit structure: a tree of regions, one per variable (docs/architecture.md,
// "The circuit").
//
// Region v owns
//   - n_v categorical input nodes  L[v,i]           (i < n_v), each a distribution over `numValues`
//   - n_v product nodes            P[v,i] = L[v,i] x S[c,i] for every tree child c of v
//   - a sparse sum block with m_v rows (its sum nodes S[v,j]) and n_v columns (its products):
//       S[v,j] = sum_{i in row j} theta[v,j,i] * P[v,i]
// Row j of a child's block is the sum node that product j of the parent multiplies, so for every
// child c of v: m_c = n_v. The root region has a single row (the circuit's output).
//
// Prune edits blocks (and drops nodes nothing points to), grow doubles n_v and m_v; both keep the
// invariant above. Engines never read this form directly: `compileCircuit` flattens it.

/** A sparse sum block in CSR form, weights in the log domain. */
export interface SumBlock {
  rows: number;
  cols: number;
  /** rowPtr[j]..rowPtr[j+1] index the entries of row j (length rows + 1). */
  rowPtr: Int32Array;
  /** Column (product index within the region) of each entry, increasing within a row. */
  colIdx: Int32Array;
  /** log theta of each entry; each row's exp sums to 1. */
  logWeights: Float64Array;
}

export interface Region {
  /** Variable (pixel) index, 0-based. */
  variable: number;
  /** Parent region index, -1 for the root. */
  parent: number;
  /** Child region indices (tree children), in increasing order. */
  children: number[];
  /** Number of products n_v (= number of input nodes of this region). */
  size: number;
  /** log probabilities of the input nodes, row-major [size x numValues]. */
  inputLogProbs: Float64Array;
  /** The region's sum block: rows = sum nodes, cols = products (size). */
  block: SumBlock;
}

export interface Circuit {
  numVars: number;
  numValues: number;
  /** Regions indexed by variable: regions[v].variable === v. */
  regions: Region[];
  /** Index of the root region. */
  root: number;
}

/** Total number of sum edges (non-zeros over all blocks). */
export function countSumEdges(c: Circuit): number {
  let n = 0;
  for (const r of c.regions) n += r.block.colIdx.length;
  return n;
}

/**
 * Number of stored parameters: one per sum edge plus `numValues` probabilities per categorical input
 * node. (PyJuice counts the same way.)
 */
export function countParams(c: Circuit): number {
  let n = countSumEdges(c);
  for (const r of c.regions) n += r.size * c.numValues;
  return n;
}

/** Latent states per variable: the largest region size (K of an HCLT, 2K after a grow). Takes the
 *  editable or the compiled circuit (both list regions with their sizes). */
export function latentStates(c: { regions: ReadonlyArray<{ size: number }> }): number {
  let k = 1;
  for (const r of c.regions) k = Math.max(k, r.size);
  return k;
}

/** Latent states per region (its size K_v): smallest, median (the lower middle value for an even
 *  count) and largest. Pruning shrinks regions unevenly; growing doubles each. */
export function latentStateSpread(c: { regions: ReadonlyArray<{ size: number }> }): { min: number; median: number; max: number } {
  const sizes = c.regions.map((r) => r.size).sort((a, b) => a - b);
  return { min: sizes[0], median: sizes[(sizes.length - 1) >> 1], max: sizes[sizes.length - 1] };
}

/** Nodes by kind, as they appear in the compiled circuit. */
export function countNodes(c: Circuit): { inputs: number; products: number; sums: number } {
  let inputs = 0;
  let sums = 0;
  for (const r of c.regions) {
    inputs += r.size;
    sums += r.block.rows;
  }
  return { inputs, products: inputs, sums };
}

/** Regions ordered children before parents (post-order of the tree from the root). */
export function bottomUpOrder(c: Circuit): number[] {
  const order: number[] = [];
  const stack: Array<[number, number]> = [[c.root, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [v, k] = top;
    const ch = c.regions[v].children;
    if (k < ch.length) {
      top[1] = k + 1;
      stack.push([ch[k], 0]);
    } else {
      order.push(v);
      stack.pop();
    }
  }
  return order;
}

/** Height of every region: 0 for leaves, 1 + max over children otherwise. */
export function regionHeights(c: Circuit): Int32Array {
  const h = new Int32Array(c.regions.length);
  for (const v of bottomUpOrder(c)) {
    let m = -1;
    for (const ch of c.regions[v].children) m = Math.max(m, h[ch]);
    h[v] = m + 1;
  }
  return h;
}

/** A deep copy (prune and grow return new circuits and never edit their input). */
export function cloneCircuit(c: Circuit): Circuit {
  return {
    numVars: c.numVars,
    numValues: c.numValues,
    root: c.root,
    regions: c.regions.map((r) => ({
      variable: r.variable,
      parent: r.parent,
      children: r.children.slice(),
      size: r.size,
      inputLogProbs: r.inputLogProbs.slice(),
      block: {
        rows: r.block.rows,
        cols: r.block.cols,
        rowPtr: r.block.rowPtr.slice(),
        colIdx: r.block.colIdx.slice(),
        logWeights: r.block.logWeights.slice(),
      },
    })),
  };
}

/**
 * Checks every structural invariant; returns the first violation as a sentence, or null.
 * Used on loaded files and in tests.
 */
export function validateCircuit(c: Circuit, tolerance = 1e-6): string | null {
  const D = c.numVars;
  if (!Number.isInteger(D) || D < 1) return `numVars must be a positive integer, got ${D}`;
  if (!Number.isInteger(c.numValues) || c.numValues < 2) return `numValues must be an integer >= 2, got ${c.numValues}`;
  if (c.regions.length !== D) return `expected ${D} regions (one per variable), got ${c.regions.length}`;
  if (!(c.root >= 0 && c.root < D)) return `root ${c.root} is not a region index`;
  let seen = 0;
  for (let v = 0; v < D; v++) {
    const r = c.regions[v];
    if (r.variable !== v) return `region ${v} holds variable ${r.variable}`;
    if (v === c.root ? r.parent !== -1 : !(r.parent >= 0 && r.parent < D)) return `region ${v} has invalid parent ${r.parent}`;
    for (const ch of r.children) {
      if (!(ch >= 0 && ch < D) || c.regions[ch].parent !== v) return `region ${v} lists child ${ch} whose parent is not ${v}`;
    }
    if (!Number.isInteger(r.size) || r.size < 1) return `region ${v} has size ${r.size}`;
    if (r.inputLogProbs.length !== r.size * c.numValues) return `region ${v} has ${r.inputLogProbs.length} input parameters, expected ${r.size * c.numValues}`;
    const b = r.block;
    const expectedRows = v === c.root ? 1 : c.regions[r.parent].size;
    if (b.rows !== expectedRows) return `region ${v} block has ${b.rows} rows, expected ${expectedRows}`;
    if (b.cols !== r.size) return `region ${v} block has ${b.cols} columns, expected ${r.size}`;
    if (b.rowPtr.length !== b.rows + 1 || b.rowPtr[0] !== 0 || b.rowPtr[b.rows] !== b.colIdx.length || b.logWeights.length !== b.colIdx.length) {
      return `region ${v} block has inconsistent CSR arrays`;
    }
    const used = new Uint8Array(b.cols);
    for (let j = 0; j < b.rows; j++) {
      if (b.rowPtr[j + 1] <= b.rowPtr[j]) return `region ${v} sum node ${j} has no children`;
      let s = 0;
      for (let e = b.rowPtr[j]; e < b.rowPtr[j + 1]; e++) {
        const col = b.colIdx[e];
        if (!(col >= 0 && col < b.cols)) return `region ${v} sum node ${j} points to product ${col} out of range`;
        if (e > b.rowPtr[j] && col <= b.colIdx[e - 1]) return `region ${v} sum node ${j} has unsorted or repeated columns`;
        used[col] = 1;
        s += Math.exp(b.logWeights[e]);
      }
      if (!(Math.abs(s - 1) <= tolerance)) return `region ${v} sum node ${j} weights sum to ${s}, expected 1`;
    }
    for (let i = 0; i < b.cols; i++) if (!used[i]) return `region ${v} product ${i} has no parent sum node`;
    for (let i = 0; i < r.size; i++) {
      let s = 0;
      for (let x = 0; x < c.numValues; x++) s += Math.exp(r.inputLogProbs[i * c.numValues + x]);
      if (!(Math.abs(s - 1) <= tolerance)) return `region ${v} input node ${i} probabilities sum to ${s}, expected 1`;
    }
    seen++;
  }
  // The tree must reach every region from the root.
  let reached = 0;
  const stack = [c.root];
  const mark = new Uint8Array(D);
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (mark[v]) return `region ${v} is reached twice: the regions do not form a tree`;
    mark[v] = 1;
    reached++;
    for (const ch of c.regions[v].children) stack.push(ch);
  }
  if (reached !== seen) return `only ${reached} of ${D} regions are reachable from the root`;
  return null;
}

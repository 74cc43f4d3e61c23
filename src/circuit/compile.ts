// The compiled circuit: the contract between the learner and the engines (docs/architecture.md,
// "The compiled circuit").
//
// Nodes are numbered in evaluation order: all input nodes first, then for each tree height h = 0..H
// a product layer (the products of every region of height h) followed by a sum layer (their sum
// nodes). Within a layer, nodes are grouped by region, so every region's products, sums and block
// entries are contiguous: engines can treat a region's sum block as one small sparse matrix.
// Node values are stored node-major with the batch innermost: value[node * B + b].
//
// Sum edges are numbered in order of their sum node (so each sum node's edges are contiguous), and
// `edgeLogWeights` holds the parameters. `writeParamsBack` copies parameters into the editable
// structure, which prune/grow/save work on.

import type { Circuit } from './structure.ts';
import { regionHeights } from './structure.ts';

export type LayerKind = 'input' | 'product' | 'sum';

export interface CompiledLayer {
  kind: LayerKind;
  /** Node ids [nodeStart, nodeEnd). */
  nodeStart: number;
  nodeEnd: number;
  /** Regions whose products / sums form this layer: indices into `regions` [regionStart, regionEnd). */
  regionStart: number;
  regionEnd: number;
}

export interface CompiledRegion {
  variable: number;
  height: number;
  /** Products = input nodes of the region. */
  size: number;
  /** Sum nodes (block rows). */
  rows: number;
  inputStart: number;
  productStart: number;
  sumStart: number;
  /** First sum edge of the block; the block's edges are [edgeStart, edgeStart + nnz). */
  edgeStart: number;
  nnz: number;
  /** Compiled indices of the tree children and parent (-1 for the root). */
  childRegions: Int32Array;
  parentRegion: number;
}

export interface CompiledCircuit {
  numVars: number;
  numValues: number;
  numNodes: number;
  numInputs: number;
  numProducts: number;
  numSums: number;
  numEdges: number;
  rootNode: number;
  /** Regions ordered by height (then variable); region r's nodes lie in the layers of its height. */
  regions: CompiledRegion[];
  /** compiled region index of each variable */
  regionOfVariable: Int32Array;
  layers: CompiledLayer[];
  /** Variable of each input node [numInputs]. */
  inputVar: Int32Array;
  /** log probabilities of the input nodes [numInputs x numValues] (parameters). */
  inputLogProbs: Float64Array;
  /** CSR children of product nodes (indexed by node id; empty for other nodes). */
  childPtr: Int32Array;
  childNode: Int32Array;
  /** Sum edges of each sum node (indexed by node id; empty for other nodes). */
  edgePtr: Int32Array;
  /** Child node and log weight of each sum edge [numEdges]. */
  edgeChild: Int32Array;
  edgeLogWeights: Float64Array;
  /** Transposed lists: the parents of each node, with the sum edge (-1 when the parent is a product). */
  parentPtr: Int32Array;
  parentNode: Int32Array;
  parentEdge: Int32Array;
}

export function compileCircuit(c: Circuit): CompiledCircuit {
  const D = c.numVars;
  const V = c.numValues;
  const heights = regionHeights(c);
  const order = Array.from({ length: D }, (_, v) => v).sort((a, b) => heights[a] - heights[b] || a - b);
  const regionOfVariable = new Int32Array(D);
  order.forEach((v, i) => (regionOfVariable[v] = i));
  const H = heights[c.root];

  // Number the nodes.
  let numInputs = 0;
  let numEdges = 0;
  for (const r of c.regions) {
    numInputs += r.size;
    numEdges += r.block.colIdx.length;
  }
  const regions: CompiledRegion[] = [];
  let inputCursor = 0;
  for (const v of order) {
    const r = c.regions[v];
    regions.push({
      variable: v,
      height: heights[v],
      size: r.size,
      rows: r.block.rows,
      inputStart: inputCursor,
      productStart: -1,
      sumStart: -1,
      edgeStart: -1,
      nnz: r.block.colIdx.length,
      childRegions: Int32Array.from(r.children, (ch) => regionOfVariable[ch]),
      parentRegion: r.parent === -1 ? -1 : regionOfVariable[r.parent],
    });
    inputCursor += r.size;
  }
  const layers: CompiledLayer[] = [{ kind: 'input', nodeStart: 0, nodeEnd: numInputs, regionStart: 0, regionEnd: D }];
  let cursor = numInputs;
  let edgeCursor = 0;
  let ri = 0;
  for (let h = 0; h <= H; h++) {
    const regionStart = ri;
    while (ri < D && regions[ri].height === h) ri++;
    const regionEnd = ri;
    const pStart = cursor;
    for (let k = regionStart; k < regionEnd; k++) {
      regions[k].productStart = cursor;
      cursor += regions[k].size;
    }
    layers.push({ kind: 'product', nodeStart: pStart, nodeEnd: cursor, regionStart, regionEnd });
    const sStart = cursor;
    for (let k = regionStart; k < regionEnd; k++) {
      regions[k].sumStart = cursor;
      cursor += regions[k].rows;
      regions[k].edgeStart = edgeCursor;
      edgeCursor += regions[k].nnz;
    }
    layers.push({ kind: 'sum', nodeStart: sStart, nodeEnd: cursor, regionStart, regionEnd });
  }
  const numNodes = cursor;
  const numProducts = numInputs;
  const numSums = numNodes - numInputs - numProducts;

  const inputVar = new Int32Array(numInputs);
  const inputLogProbs = new Float64Array(numInputs * V);
  const childPtr = new Int32Array(numNodes + 1);
  const edgePtr = new Int32Array(numNodes + 1);
  const edgeChild = new Int32Array(numEdges);
  const edgeLogWeights = new Float64Array(numEdges);
  // Product children counts: 1 input + one sum per child region.
  const childCount = new Int32Array(numNodes);
  const edgeCount = new Int32Array(numNodes);
  for (const cr of regions) {
    for (let i = 0; i < cr.size; i++) childCount[cr.productStart + i] = 1 + cr.childRegions.length;
    const b = c.regions[cr.variable].block;
    for (let j = 0; j < cr.rows; j++) edgeCount[cr.sumStart + j] = b.rowPtr[j + 1] - b.rowPtr[j];
  }
  for (let n = 0; n < numNodes; n++) {
    childPtr[n + 1] = childPtr[n] + childCount[n];
    edgePtr[n + 1] = edgePtr[n] + edgeCount[n];
  }
  const childNode = new Int32Array(childPtr[numNodes]);
  for (const cr of regions) {
    const r = c.regions[cr.variable];
    inputVar.fill(cr.variable, cr.inputStart, cr.inputStart + cr.size);
    inputLogProbs.set(r.inputLogProbs, cr.inputStart * V);
    for (let i = 0; i < cr.size; i++) {
      let k = childPtr[cr.productStart + i];
      childNode[k++] = cr.inputStart + i;
      for (const ch of cr.childRegions) childNode[k++] = regions[ch].sumStart + i;
    }
    const b = r.block;
    // Edges of the block in row order are contiguous and start at edgeStart.
    if (edgePtr[cr.sumStart] !== cr.edgeStart) throw new Error('internal: edge numbering mismatch');
    for (let e = 0; e < cr.nnz; e++) edgeChild[cr.edgeStart + e] = cr.productStart + b.colIdx[e];
    edgeLogWeights.set(b.logWeights, cr.edgeStart);
  }

  // Transposed lists.
  const parentCount = new Int32Array(numNodes);
  for (let n = 0; n < numNodes; n++) {
    for (let k = childPtr[n]; k < childPtr[n + 1]; k++) parentCount[childNode[k]]++;
    for (let e = edgePtr[n]; e < edgePtr[n + 1]; e++) parentCount[edgeChild[e]]++;
  }
  const parentPtr = new Int32Array(numNodes + 1);
  for (let n = 0; n < numNodes; n++) parentPtr[n + 1] = parentPtr[n] + parentCount[n];
  const fill = parentPtr.slice(0, numNodes);
  const parentNode = new Int32Array(parentPtr[numNodes]);
  const parentEdge = new Int32Array(parentPtr[numNodes]);
  for (let n = 0; n < numNodes; n++) {
    for (let k = childPtr[n]; k < childPtr[n + 1]; k++) {
      const ch = childNode[k];
      parentNode[fill[ch]] = n;
      parentEdge[fill[ch]++] = -1;
    }
    for (let e = edgePtr[n]; e < edgePtr[n + 1]; e++) {
      const ch = edgeChild[e];
      parentNode[fill[ch]] = n;
      parentEdge[fill[ch]++] = e;
    }
  }

  const rootRegion = regions[regionOfVariable[c.root]];
  return {
    numVars: D,
    numValues: V,
    numNodes,
    numInputs,
    numProducts,
    numSums,
    numEdges,
    rootNode: rootRegion.sumStart,
    regions,
    regionOfVariable,
    layers,
    inputVar,
    inputLogProbs,
    childPtr,
    childNode,
    edgePtr,
    edgeChild,
    edgeLogWeights,
    parentPtr,
    parentNode,
    parentEdge,
  };
}

/** Copies the compiled parameters (after training) back into the structure they were compiled from. */
export function writeParamsBack(cc: CompiledCircuit, c: Circuit): void {
  const V = cc.numValues;
  for (const cr of cc.regions) {
    const r = c.regions[cr.variable];
    r.inputLogProbs.set(cc.inputLogProbs.subarray(cr.inputStart * V, (cr.inputStart + cr.size) * V));
    r.block.logWeights.set(cc.edgeLogWeights.subarray(cr.edgeStart, cr.edgeStart + cr.nnz));
  }
}

/** Sum edge id -> (variable, row, column) in the structure, for prune and the UI. */
export function edgeLocation(cc: CompiledCircuit, c: Circuit, edge: number): { variable: number; row: number; col: number } {
  // Regions are contiguous in edge order: binary search on edgeStart.
  let lo = 0;
  let hi = cc.regions.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (cc.regions[mid].edgeStart <= edge) lo = mid;
    else hi = mid - 1;
  }
  const cr = cc.regions[lo];
  const b = c.regions[cr.variable].block;
  const local = edge - cr.edgeStart;
  let row = 0;
  while (b.rowPtr[row + 1] <= local) row++;
  return { variable: cr.variable, row, col: b.colIdx[local] };
}

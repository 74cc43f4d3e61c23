// The hidden Chow-Liu tree (HCLT), the initial structure (docs/architecture.md, "The circuit"):
//   1. mutual information between every pixel pair, from smoothed pair histograms of pixels binned
//      to `bins` levels (the circuit's inputs stay `numValues`-way);
//   2. maximum spanning tree on MI (Prim, ties broken by index), rooted at a centre of the tree;
//   3. K latent states per variable (buildTreeCircuit), parameters drawn from the seed.

import type { Dataset } from '../data/dataset.ts';
import { Rng } from '../util/rng.ts';
import type { Circuit } from './structure.ts';
import { buildTreeCircuit } from './tree.ts';

export interface HcltOptions {
  K: number;
  seed: number;
  /** Levels pixels are binned to for the MI estimate (default 16). */
  bins?: number;
  /** Total pseudocount spread over the cells of each pair histogram (default 1). */
  pseudocount?: number;
  /** Called as the pair statistics are gathered (the slow part on large data): pixel pairs done, of all. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Pairwise mutual information (nats) of binned pixels: a D x D symmetric matrix (diagonal 0).
 * Joint counts are gathered only over samples where the first pixel is in a non-zero bin (images
 * are mostly background); the rest of each table follows from the marginals:
 *   n(a=0, b) = n(b) - sum_{a>0} n(a, b).
 */
export function mutualInformation(data: Dataset, bins = 16, pseudocount = 1, onProgress?: (done: number, total: number) => void): Float64Array {
  const D = data.numVars;
  const N = data.count;
  const shift = Math.round(Math.log2(Math.ceil(data.numValues / bins)));
  if (1 << shift !== Math.ceil(data.numValues / bins)) throw new Error(`bins must divide ${data.numValues} into a power of two`);
  const binned = new Uint8Array(data.pixels.length);
  for (let k = 0; k < binned.length; k++) binned[k] = data.pixels[k] >> shift;
  const L = data.numValues >> shift;
  const LL = L * L;
  // Marginal counts per pixel.
  const marg = new Float64Array(D * L);
  for (let s = 0; s < N; s++) for (let v = 0; v < D; v++) marg[v * L + binned[s * D + v]]++;
  // Samples in which pixel u is not in bin 0.
  const nonzero: Int32Array[] = [];
  {
    const lists: number[][] = Array.from({ length: D }, () => []);
    for (let s = 0; s < N; s++) for (let u = 0; u < D; u++) if (binned[s * D + u] !== 0) lists[u].push(s);
    for (let u = 0; u < D; u++) nonzero.push(Int32Array.from(lists[u]));
  }
  const mi = new Float64Array(D * D);
  const joint = new Float64Array(D * LL); // joint[v][a][b] for the current u
  const total = N + pseudocount;
  const cell = pseudocount / LL;
  const logEmpty = Math.log(cell / total);
  const p = new Float64Array(LL);
  const pa = new Float64Array(L);
  const pb = new Float64Array(L);
  const logPa = new Float64Array(L);
  const logPb = new Float64Array(L);
  for (let u = 0; u < D; u++) {
    joint.fill(0);
    const list = nonzero[u];
    for (let k = 0; k < list.length; k++) {
      const row = list[k] * D;
      const a = binned[row + u] * L;
      for (let v = u + 1; v < D; v++) joint[v * LL + a + binned[row + v]]++;
    }
    for (let v = u + 1; v < D; v++) {
      const off = v * LL;
      for (let b = 0; b < L; b++) {
        let rest = marg[v * L + b];
        for (let a = 1; a < L; a++) rest -= joint[off + a * L + b];
        joint[off + b] = rest;
      }
      // Smoothed joint (total pseudocount spread evenly over the cells, so a constant pixel keeps
      // an MI of about 0) and its own marginals, so the estimate is the MI of one distribution:
      //   MI = sum_ab p_ab (log p_ab - log p_a - log p_b); empty cells share one log.
      for (let k = 0; k < LL; k++) p[k] = (joint[off + k] + cell) / total;
      pa.fill(0);
      pb.fill(0);
      for (let a = 0; a < L; a++) {
        for (let b = 0; b < L; b++) {
          pa[a] += p[a * L + b];
          pb[b] += p[a * L + b];
        }
      }
      for (let a = 0; a < L; a++) {
        logPa[a] = Math.log(pa[a]);
        logPb[a] = Math.log(pb[a]);
      }
      let m = 0;
      for (let a = 0; a < L; a++) {
        for (let b = 0; b < L; b++) {
          const k = a * L + b;
          const pab = p[k];
          m += pab * ((joint[off + k] === 0 ? logEmpty : Math.log(pab)) - logPa[a] - logPb[b]);
        }
      }
      mi[u * D + v] = m;
      mi[v * D + u] = m;
    }
    // Pixel u paired with every later pixel: pairs done so far, of D (D - 1) / 2.
    onProgress?.(((u + 1) * (2 * D - u - 2)) / 2, (D * (D - 1)) / 2);
  }
  return mi;
}

/**
 * Per variable v, the mutual information (nats) between pixel v and its parent pixel `parent[v]` in
 * `data`, with the estimator of `mutualInformation` (the same bins and smoothing, so it equals that
 * matrix's entry for every tree edge): the Chow-Liu edge weights of a tree. 0 for the root. One pass
 * over the data per edge, so cheap enough to recompute for a view (D x N joint counts).
 */
export function treeEdgeInformation(data: Dataset, parent: ArrayLike<number>, bins = 16, pseudocount = 1): Float64Array {
  const D = data.numVars;
  const N = data.count;
  const shift = Math.round(Math.log2(Math.ceil(data.numValues / bins)));
  if (1 << shift !== Math.ceil(data.numValues / bins)) throw new Error(`bins must divide ${data.numValues} into a power of two`);
  const L = data.numValues >> shift;
  const LL = L * L;
  const total = N + pseudocount;
  const cell = pseudocount / LL;
  const out = new Float64Array(D);
  const joint = new Float64Array(LL);
  const pa = new Float64Array(L);
  const pb = new Float64Array(L);
  for (let v = 0; v < D; v++) {
    const u = parent[v];
    if (u < 0) continue;
    joint.fill(0);
    for (let s = 0; s < N; s++) joint[(data.pixels[s * D + u] >> shift) * L + (data.pixels[s * D + v] >> shift)]++;
    pa.fill(0);
    pb.fill(0);
    for (let a = 0; a < L; a++) {
      for (let b = 0; b < L; b++) {
        const q = (joint[a * L + b] + cell) / total;
        pa[a] += q;
        pb[b] += q;
      }
    }
    // MI = sum_ab p_ab (log p_ab - log p_a - log p_b), the smoothed joint's own marginals.
    let m = 0;
    for (let a = 0; a < L; a++) {
      for (let b = 0; b < L; b++) {
        const q = (joint[a * L + b] + cell) / total;
        m += q * (Math.log(q) - Math.log(pa[a]) - Math.log(pb[b]));
      }
    }
    out[v] = m;
  }
  return out;
}

/** Maximum spanning tree of a dense symmetric weight matrix (Prim); returns the undirected edges. */
export function maximumSpanningTree(weights: Float64Array, D: number): Array<[number, number]> {
  const inTree = new Uint8Array(D);
  const best = new Float64Array(D).fill(-Infinity);
  const from = new Int32Array(D).fill(-1);
  const edges: Array<[number, number]> = [];
  let current = 0;
  inTree[0] = 1;
  for (let step = 1; step < D; step++) {
    for (let v = 0; v < D; v++) {
      if (!inTree[v] && weights[current * D + v] > best[v]) {
        best[v] = weights[current * D + v];
        from[v] = current;
      }
    }
    let next = -1;
    for (let v = 0; v < D; v++) if (!inTree[v] && (next === -1 || best[v] > best[next])) next = v;
    inTree[next] = 1;
    edges.push([from[next], next]);
    current = next;
  }
  return edges;
}

/** Orients an undirected tree away from a centre (a vertex of minimum eccentricity); parent[root] = -1. */
export function rootAtCentre(edges: Array<[number, number]>, D: number): Int32Array {
  const adj: number[][] = Array.from({ length: D }, () => []);
  for (const [a, b] of edges) {
    adj[a].push(b);
    adj[b].push(a);
  }
  const bfs = (start: number): { dist: Int32Array; parent: Int32Array } => {
    const dist = new Int32Array(D).fill(-1);
    const parent = new Int32Array(D).fill(-1);
    const queue = [start];
    dist[start] = 0;
    for (let h = 0; h < queue.length; h++) {
      const v = queue[h];
      for (const w of adj[v]) {
        if (dist[w] === -1) {
          dist[w] = dist[v] + 1;
          parent[w] = v;
          queue.push(w);
        }
      }
    }
    return { dist, parent };
  };
  const argmax = (a: Int32Array): number => {
    let k = 0;
    for (let i = 1; i < a.length; i++) if (a[i] > a[k]) k = i;
    return k;
  };
  // The centre lies in the middle of a longest path (between two farthest vertices).
  const a = argmax(bfs(0).dist);
  const fromA = bfs(a);
  const b = argmax(fromA.dist);
  const path: number[] = [];
  for (let v = b; v !== -1; v = fromA.parent[v]) path.push(v);
  const root = path[Math.floor((path.length - 1) / 2)];
  return bfs(root).parent;
}

/** The Chow-Liu tree of the data, rooted at its centre. */
export function chowLiuTree(data: Dataset, bins = 16, pseudocount = 1, onProgress?: (done: number, total: number) => void): Int32Array {
  const mi = mutualInformation(data, bins, pseudocount, onProgress);
  return rootAtCentre(maximumSpanningTree(mi, data.numVars), data.numVars);
}

export function buildHclt(data: Dataset, opts: HcltOptions): Circuit {
  const parent = chowLiuTree(data, opts.bins ?? 16, opts.pseudocount ?? 1, opts.onProgress);
  return buildTreeCircuit(parent, data.numValues, opts.K, new Rng(opts.seed));
}

/** Sum edges of the dense HCLT of K latent states over D variables: K x K per non-root region, K at the root. */
export function denseHcltEdges(D: number, K: number): number {
  return (D - 1) * K * K + K;
}

/** The K whose dense HCLT has the number of sum edges nearest to `edges` (ties: the smaller K). */
export function denseKForEdges(D: number, edges: number): number {
  let best = 1;
  for (let K = 2; denseHcltEdges(D, K - 1) <= edges; K++) {
    if (Math.abs(denseHcltEdges(D, K) - edges) < Math.abs(denseHcltEdges(D, best) - edges)) best = K;
  }
  return best;
}

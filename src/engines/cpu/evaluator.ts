// The CPU engine's kernels: forward (log-likelihoods) and backward (flows) over one shard of a batch,
// region by region on the compiled circuit. Pure TypeScript (no DOM, no Node APIs), so it runs on the
// main thread, in worker_threads and in Web Workers alike.
//
// Forward, per region with products x_i (log domain) and block weights theta:
//   m_b = max_i x_i[b];  e_i[b] = exp(x_i[b] - m_b)                 (one exp per product and sample)
//   y_j[b] = log(sum_{i in row j} theta_ji e_i[b]) + m_b            (a sparse matrix product)
// Backward (flows, linear domain), with F_j the flow of sum node j:
//   g_j[b] = F_j[b] exp(m_b - y_j[b])
//   F_i[b] = e_i[b] sum_j theta_ji g_j[b]                           (product flow; passed to children)
//   edge flow F_ji(batch) = theta_ji sum_b g_j[b] e_i[b]             (accumulated over mini-batches)
// Categorical input flows: F[input i, value x_v[b]] += F_i[b].
//
// `float64` is the test oracle; `float32` halves memory traffic for speed (arithmetic is in double
// either way, results are rounded when stored). Accumulated flows are always float64.

import type { CompiledCircuit } from '../../circuit/compile.ts';

export type Precision = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;

/** A batch of samples: pixels row-major [count x numVars]; missing[k] = 1 marks pixel k unobserved. */
export interface Batch {
  pixels: Uint8Array;
  count: number;
  missing?: Uint8Array;
}

export class CpuEvaluator {
  readonly cc: CompiledCircuit;
  readonly precision: Precision;
  readonly capacity: number;
  /** Node values (log domain) of the last forward pass, value[node * capacity + b]. */
  readonly values: FloatArray;
  /** Node flows of the last backward pass, flow[node * capacity + b]. */
  readonly flows: FloatArray;
  /** Linear values relative to the region's per-sample max m: exp(x - m) for products, and for sum
   *  nodes the block product sum_i theta_ji e_i = exp(y_j - m) (indexed by node id like `values`). */
  private readonly expValues: FloatArray;
  /** Per-region, per-sample max over the region's products. */
  private readonly regionMax: Float64Array;
  private readonly scratch: FloatArray;
  /** Linear-domain sum weights (from cc.edgeLogWeights at the last `refreshWeights`). */
  private readonly weights: FloatArray;
  /** edgeChild[e] * capacity: where each edge's child values start. */
  private readonly childOff: Int32Array;
  /** For the transposed (parent) lists of product nodes: the weight and the parent's row in the
   *  region's g scratch ((parent - sumStart) * capacity); entries of non-product nodes are unused. */
  private readonly parentWeights: FloatArray;
  private readonly parentGOff: Int32Array;
  /** Variable-major copy of the batch: pixelT[v * capacity + b]. */
  private readonly pixelT: Uint8Array;
  private readonly missingT: Uint8Array;
  private hasMissing = false;
  /** Smallest normal value of the storage type, and its log: linear values below are stored as 0. */
  private readonly tiny: number;
  private readonly expFloor: number;
  private count = 0;

  constructor(cc: CompiledCircuit, precision: Precision, capacity: number) {
    this.cc = cc;
    this.precision = precision;
    this.capacity = capacity;
    const alloc = (n: number): FloatArray => (precision === 'float32' ? new Float32Array(n) : new Float64Array(n));
    this.values = alloc(cc.numNodes * capacity);
    this.flows = alloc(cc.numNodes * capacity);
    this.expValues = alloc(cc.numNodes * capacity);
    this.regionMax = new Float64Array(cc.regions.length * capacity);
    let maxRows = 1;
    for (const r of cc.regions) maxRows = Math.max(maxRows, r.rows);
    this.scratch = alloc(maxRows * capacity);
    this.weights = alloc(cc.numEdges);
    this.pixelT = new Uint8Array(cc.numVars * capacity);
    this.missingT = new Uint8Array(cc.numVars * capacity);
    this.tiny = precision === 'float32' ? 2 ** -126 : 2 ** -1022;
    this.expFloor = Math.log(this.tiny);
    this.childOff = Int32Array.from(cc.edgeChild, (c) => c * capacity);
    this.parentWeights = alloc(cc.parentEdge.length);
    this.parentGOff = new Int32Array(cc.parentEdge.length);
    for (const r of cc.regions) {
      for (let p = r.productStart; p < r.productStart + r.size; p++) {
        for (let k = cc.parentPtr[p]; k < cc.parentPtr[p + 1]; k++) this.parentGOff[k] = (cc.parentNode[k] - r.sumStart) * capacity;
      }
    }
    this.refreshWeights();
  }

  /**
   * A sum whose linear value fell below the smallest normal float of the storage (its children are
   * all far below the region's max): y = log sum_e theta_e exp(x_c) recomputed around the row's own
   * max, exactly; the linear value is stored as 0, which tells backward to use exp(m - y) instead.
   */
  private smallRow(node: number, start: number, end: number, b: number): void {
    const B = this.capacity;
    const val = this.values;
    let mx = -Infinity;
    for (let e = start; e < end; e++) mx = Math.max(mx, val[this.cc.edgeChild[e] * B + b]);
    let s = 0;
    if (mx > -Infinity) for (let e = start; e < end; e++) s += this.weights[e] * Math.exp(val[this.cc.edgeChild[e] * B + b] - mx);
    val[node * B + b] = Math.log(s) + mx;
    this.expValues[node * B + b] = 0;
  }

  /** Re-reads the sum weights after the parameters changed (EM, prune). */
  refreshWeights(): void {
    const lw = this.cc.edgeLogWeights;
    for (let e = 0; e < lw.length; e++) this.weights[e] = Math.exp(lw[e]);
    const pe = this.cc.parentEdge;
    for (let k = 0; k < pe.length; k++) this.parentWeights[k] = pe[k] >= 0 ? this.weights[pe[k]] : 0;
  }

  private loadBatch(batch: Batch): void {
    const { count, pixels, missing } = batch;
    if (count > this.capacity) throw new Error(`batch of ${count} exceeds evaluator capacity ${this.capacity}`);
    const D = this.cc.numVars;
    const B = this.capacity;
    for (let b = 0; b < count; b++) {
      const row = b * D;
      for (let v = 0; v < D; v++) this.pixelT[v * B + b] = pixels[row + v];
    }
    this.hasMissing = missing !== undefined;
    if (missing) {
      for (let b = 0; b < count; b++) {
        const row = b * D;
        for (let v = 0; v < D; v++) this.missingT[v * B + b] = missing[row + v];
      }
    }
    this.count = count;
  }

  /** Forward pass; returns log p(x) per sample (marginalising missing pixels). */
  forward(batch: Batch, out?: Float64Array): Float64Array {
    this.loadBatch(batch);
    const cc = this.cc;
    const n = this.count;
    const B = this.capacity;
    const V = cc.numValues;
    const val = this.values;
    const ex = this.expValues;
    const w = this.weights;
    const lp = cc.inputLogProbs;
    const regions = cc.regions;
    const tiny = this.tiny;
    const expFloor = this.expFloor;
    for (let k = 0; k < regions.length; k++) {
      const r = regions[k];
      const pixOff = r.variable * B;
      const mOff = k * B;
      // Input and product values, with the per-sample max over the products in the same pass:
      // x_i[b] = log theta_i[pixel_b] + sum_children y_child,i[b]   (0 for a missing pixel).
      const m = this.regionMax;
      for (let b = 0; b < n; b++) m[mOff + b] = -Infinity;
      const nc = r.childRegions.length;
      const s0 = nc > 0 ? regions[r.childRegions[0]].sumStart : 0;
      for (let i = 0; i < r.size; i++) {
        const inOff = (r.inputStart + i) * B;
        const pOff = (r.productStart + i) * B;
        const lpOff = (r.inputStart + i) * V;
        if (this.hasMissing) {
          for (let b = 0; b < n; b++) val[inOff + b] = this.missingT[pixOff + b] ? 0 : lp[lpOff + this.pixelT[pixOff + b]];
        } else {
          for (let b = 0; b < n; b++) val[inOff + b] = lp[lpOff + this.pixelT[pixOff + b]];
        }
        if (nc === 0) {
          for (let b = 0; b < n; b++) {
            const x = val[inOff + b];
            val[pOff + b] = x;
            if (x > m[mOff + b]) m[mOff + b] = x;
          }
          continue;
        }
        const c0Off = (s0 + i) * B;
        for (let b = 0; b < n; b++) val[pOff + b] = val[inOff + b] + val[c0Off + b];
        for (let c = 1; c < nc; c++) {
          const sOff = (regions[r.childRegions[c]].sumStart + i) * B;
          for (let b = 0; b < n; b++) val[pOff + b] += val[sOff + b];
        }
        for (let b = 0; b < n; b++) if (val[pOff + b] > m[mOff + b]) m[mOff + b] = val[pOff + b];
      }
      // A sample whose products are all -inf (zero probability) keeps m = 0 so nothing turns NaN.
      for (let b = 0; b < n; b++) if (m[mOff + b] === -Infinity) m[mOff + b] = 0;
      for (let i = 0; i < r.size; i++) {
        const pOff = (r.productStart + i) * B;
        // Below expFloor the value would be subnormal in storage: store 0 (subnormal arithmetic is
        // many times slower on x86, and sums that lose everything this way are recomputed exactly).
        for (let b = 0; b < n; b++) {
          const d = val[pOff + b] - m[mOff + b];
          ex[pOff + b] = d > expFloor ? Math.exp(d) : 0;
        }
      }
      // Sparse block product, one row at a time, four samples per pass so each weight and column
      // offset is loaded once per four multiply-adds (no SIMD in JS: fewer loads is what pays).
      const rowPtr = cc.edgePtr;
      const childOff = this.childOff;
      const n4 = n & ~3;
      for (let j = 0; j < r.rows; j++) {
        const node = r.sumStart + j;
        const start = rowPtr[node];
        const end = rowPtr[node + 1];
        const sOff = node * B;
        for (let b = 0; b < n4; b += 4) {
          let s0 = 0;
          let s1 = 0;
          let s2 = 0;
          let s3 = 0;
          for (let e = start; e < end; e++) {
            const we = w[e];
            const o = childOff[e] + b;
            s0 += we * ex[o];
            s1 += we * ex[o + 1];
            s2 += we * ex[o + 2];
            s3 += we * ex[o + 3];
          }
          // Keep the linear sums too: backward divides by them instead of exponentiating again.
          ex[sOff + b] = s0;
          ex[sOff + b + 1] = s1;
          ex[sOff + b + 2] = s2;
          ex[sOff + b + 3] = s3;
          val[sOff + b] = Math.log(s0) + m[mOff + b];
          val[sOff + b + 1] = Math.log(s1) + m[mOff + b + 1];
          val[sOff + b + 2] = Math.log(s2) + m[mOff + b + 2];
          val[sOff + b + 3] = Math.log(s3) + m[mOff + b + 3];
          if (s0 < tiny || s1 < tiny || s2 < tiny || s3 < tiny) for (let q = b; q < b + 4; q++) this.smallRow(node, start, end, q);
        }
        for (let b = n4; b < n; b++) {
          let s0 = 0;
          for (let e = start; e < end; e++) s0 += w[e] * ex[childOff[e] + b];
          ex[sOff + b] = s0;
          val[sOff + b] = Math.log(s0) + m[mOff + b];
          if (s0 < tiny) this.smallRow(node, start, end, b);
        }
      }
    }
    const ll = out ?? new Float64Array(n);
    const rOff = cc.rootNode * B;
    for (let b = 0; b < n; b++) ll[b] = val[rOff + b];
    return ll;
  }

  /**
   * Backward pass after `forward` on the same batch: node flows (root flow 1 per sample), and adds
   * this batch's edge flows and categorical input flows into the accumulators (skipped when null:
   * queries that need node flows only).
   */
  backward(edgeFlowAcc: Float64Array | null, inputFlowAcc: Float64Array | null): void {
    const cc = this.cc;
    const n = this.count;
    const B = this.capacity;
    const V = cc.numValues;
    const ex = this.expValues;
    const val = this.values;
    const m = this.regionMax;
    const fl = this.flows;
    const g = this.scratch;
    const w = this.weights;
    const regions = cc.regions;
    const childOff = this.childOff;
    const pw = this.parentWeights;
    const parentGOff = this.parentGOff;
    const rootOff = cc.rootNode * B;
    for (let b = 0; b < n; b++) fl[rootOff + b] = 1;
    for (let k = regions.length - 1; k >= 0; k--) {
      const r = regions[k];
      const mOff = k * B;
      // g_j = F_j / exp(y_j - m), the linear sum kept by forward
      for (let j = 0; j < r.rows; j++) {
        const sOff = (r.sumStart + j) * B;
        const gOff = j * B;
        for (let b = 0; b < n; b++) {
          const f = fl[sOff + b];
          const lin = ex[sOff + b];
          g[gOff + b] = f === 0 ? 0 : lin > 0 ? f / lin : f * Math.exp(m[mOff + b] - val[sOff + b]);
        }
      }
      // Edge flows: theta_e * sum_b g_j[b] e_c[b], four edges of a row per pass over the samples.
      for (let j = 0; edgeFlowAcc !== null && j < r.rows; j++) {
        const start = cc.edgePtr[r.sumStart + j];
        const end = cc.edgePtr[r.sumStart + j + 1];
        const gOff = j * B;
        let e = start;
        for (; e + 4 <= end; e += 4) {
          const o0 = childOff[e];
          const o1 = childOff[e + 1];
          const o2 = childOff[e + 2];
          const o3 = childOff[e + 3];
          let d0 = 0;
          let d1 = 0;
          let d2 = 0;
          let d3 = 0;
          for (let b = 0; b < n; b++) {
            const gb = g[gOff + b];
            d0 += gb * ex[o0 + b];
            d1 += gb * ex[o1 + b];
            d2 += gb * ex[o2 + b];
            d3 += gb * ex[o3 + b];
          }
          edgeFlowAcc[e] += w[e] * d0;
          edgeFlowAcc[e + 1] += w[e + 1] * d1;
          edgeFlowAcc[e + 2] += w[e + 2] * d2;
          edgeFlowAcc[e + 3] += w[e + 3] * d3;
        }
        for (; e < end; e++) {
          const o = childOff[e];
          let d = 0;
          for (let b = 0; b < n; b++) d += g[gOff + b] * ex[o + b];
          edgeFlowAcc[e] += w[e] * d;
        }
      }
      // Product flows, gathered over each product's parent edges (the transposed lists):
      // F_c[b] = e_c[b] sum_{(j,e) parents of c} theta_e g_j[b], four samples per pass.
      const n4 = n & ~3;
      for (let i = 0; i < r.size; i++) {
        const p = r.productStart + i;
        const pOff = p * B;
        const start = cc.parentPtr[p];
        const end = cc.parentPtr[p + 1];
        for (let b = 0; b < n4; b += 4) {
          let t0 = 0;
          let t1 = 0;
          let t2 = 0;
          let t3 = 0;
          for (let k = start; k < end; k++) {
            const we = pw[k];
            const o = parentGOff[k] + b;
            t0 += we * g[o];
            t1 += we * g[o + 1];
            t2 += we * g[o + 2];
            t3 += we * g[o + 3];
          }
          fl[pOff + b] = t0;
          fl[pOff + b + 1] = t1;
          fl[pOff + b + 2] = t2;
          fl[pOff + b + 3] = t3;
        }
        for (let b = n4; b < n; b++) {
          let t0 = 0;
          for (let k = start; k < end; k++) t0 += pw[k] * g[parentGOff[k] + b];
          fl[pOff + b] = t0;
        }
      }
      const pixOff = r.variable * B;
      for (let i = 0; i < r.size; i++) {
        const pOff = (r.productStart + i) * B;
        for (let b = 0; b < n; b++) fl[pOff + b] *= ex[pOff + b];
        // The product's flow goes to its input node and to row i of each child region.
        const inOff = (r.inputStart + i) * B;
        const histOff = (r.inputStart + i) * V;
        for (let b = 0; b < n; b++) {
          const f = fl[pOff + b];
          fl[inOff + b] = f;
          if (inputFlowAcc !== null && !(this.hasMissing && this.missingT[pixOff + b])) inputFlowAcc[histOff + this.pixelT[pixOff + b]] += f;
        }
        for (let c = 0; c < r.childRegions.length; c++) {
          const sOff = (regions[r.childRegions[c]].sumStart + i) * B;
          for (let b = 0; b < n; b++) fl[sOff + b] = fl[pOff + b];
        }
      }
    }
  }

  /**
   * Per-sample sum of the flows of the marked edges, sum_{e in E} F_e(x), after `backward`.
   * This is what the pruning bound needs: log p(x) - log p'(x) <= -log(1 - sum_{e in E} F_e(x)).
   */
  markedEdgeFlowPerSample(marked: Uint8Array, out: Float64Array): void {
    const cc = this.cc;
    const n = this.count;
    const B = this.capacity;
    const fl = this.flows;
    const ex = this.expValues;
    const val = this.values;
    const m = this.regionMax;
    const w = this.weights;
    out.fill(0, 0, n);
    for (let k = 0; k < cc.regions.length; k++) {
      const r = cc.regions[k];
      const mOff = k * B;
      let e = r.edgeStart;
      for (let j = 0; j < r.rows; j++) {
        const node = r.sumStart + j;
        const end = cc.edgePtr[node + 1];
        const sOff = node * B;
        for (; e < end; e++) {
          if (!marked[e]) continue;
          const we = w[e];
          const cOff = cc.edgeChild[e] * B;
          // F_e(x) = F_j(x) theta_e exp(x_c - y_j)
          for (let b = 0; b < n; b++) {
            const f = fl[sOff + b];
            if (f === 0) continue;
            const lin = ex[sOff + b];
            out[b] += lin > 0 ? (f * we * ex[cOff + b]) / lin : f * we * ex[cOff + b] * Math.exp(m[mOff + b] - val[sOff + b]);
          }
        }
      }
    }
  }
}

// The CPU engine's kernels: forward (log-likelihoods) and backward (flows) over one shard of a batch,
// region by region on the compiled circuit. Pure TypeScript (no DOM, no Node APIs), so it runs on the
// main thread, in worker_threads and in Web Workers alike.
//
// Forward, per region, in the linear domain with one log-scale Z per region and sample (float64):
//   P_i[b] = theta_i[x_v,b] * prod_c s_c,i[b]     (s_c,i: the child regions' linear sums, see below)
//   M_b = max_i P_i[b];  Z_b = sum_c Z_c,b + log M_b;  e_i[b] = P_i[b] / M_b = exp(x_i[b] - Z_b)
//   s_j[b] = sum_{i in row j} theta_ji e_i[b] = exp(y_j[b] - Z_b)      (a sparse matrix product)
// so a region costs one log per sample, not an exp per product and a log per sum node: per-node
// transcendentals are what kept a pruned circuit (75 % fewer edges, 94 % of the nodes) from getting
// faster in step with its edges. Log values y_j = log s_j + Z are formed only where read (the root,
// `values`); rows that fall below the storage range and samples whose max leaves the safe range go
// through exact log-domain paths (`smallRow`, `exactProducts`).
// Backward (flows, linear domain), with F_j the flow of sum node j (= the flow of its parent product):
//   g_j[b] = F_j[b] / s_j[b]
//   F_i[b] = e_i[b] sum_j theta_ji g_j[b]                           (product flow; passed to children)
//   edge flow F_ji(batch) = theta_ji sum_b g_j[b] e_i[b]             (accumulated over mini-batches)
// Categorical input flows: F[input i, value x_v[b]] += F_i[b].
//
// `float64` is the test oracle; `float32` halves memory traffic for speed (arithmetic is in double
// either way, results are rounded when stored). Accumulated flows are always float64.

import type { CompiledCircuit } from '../../circuit/compile.ts';
import type { Batch } from '../engine.ts';

export type Precision = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;

/** Smallest per-sample max product M for the linear path (see `forward`). */
const MIN_MAX = 2 ** -200;

export class CpuEvaluator {
  readonly cc: CompiledCircuit;
  readonly precision: Precision;
  readonly capacity: number;
  /** Node values (log domain), value[node * capacity + b]: filled on first read after a forward pass
   *  (training never reads them; see `materializeValues`). */
  private readonly val: FloatArray;
  private valuesStale = false;
  /** Node flows of the last backward pass (products; inputs and sums on read: see `flows`). */
  private readonly fl: FloatArray;
  private flowsStale = false;
  /** Counting sort of one region's samples by pixel value, for `inputHistogram` (valueCount is also
   *  `buildInputTable`'s value -> row scratch: both use it within one region's step). */
  private readonly valueCount: Int32Array;
  private readonly sampleOrder: Int32Array;
  private readonly runValue: Int32Array;
  private readonly runEnd: Int32Array;
  private runs = 0;
  /** 1 for the samples whose pixel has the region's most common value (see `groupByValue`). */
  private readonly majorityMask: Float64Array;
  /** Linear values relative to the region's per-sample scale Z: exp(x - Z) for products, and for sum
   *  nodes the block product sum_i theta_ji e_i = exp(y_j - Z), or 0 for a sum computed exactly in the
   *  log domain by `smallRow` (its log value is then in `val`). Indexed by node id like `values`. */
  private readonly expValues: FloatArray;
  /** Where the block of ones after the nodes starts in `expValues` (see `forward`'s products). */
  private readonly onesOff: number;
  /** Per-region, per-sample log scale Z (see `forward`). */
  private readonly regionScale: Float64Array;
  /** exactFlag[region * capacity + b] = 1 when a sum of the region went through `smallRow` for sample
   *  b: the parent region must then build its products from log values for that sample. */
  private readonly exactFlag: Uint8Array;
  private readonly scratch: FloatArray;
  /** Linear products of one region before scaling, prod[i * capacity + b] (float64: they may lie far
   *  outside the storage type's range before division by the per-sample max). */
  private readonly prodBuf: Float64Array;
  /** Per-sample sum of the child regions' scales, the max product (then its reciprocal), a flag. */
  private readonly zSum: Float64Array;
  private readonly prodMax: Float64Array;
  private readonly needExact: Uint8Array;
  /** Child log values of one row, for `smallRow`. */
  private readonly rowTmp: Float64Array;
  /** The (row * capacity + sample) entries of one region that `smallRow` computed, for backward. */
  private readonly smallRows: Int32Array;
  /** Linear-domain sum weights (from cc.edgeLogWeights at the last `refreshWeights`). */
  private readonly weights: FloatArray;
  /** Linear-domain input probabilities [numInputs x numValues]: the engine's shared copy kept in step
   *  by EM when given, else this evaluator's own copy of exp(cc.inputLogProbs) (`refreshWeights`). */
  private readonly inputProbs: Float64Array;
  private readonly ownInputProbs: boolean;
  /** One region's input probabilities at the pixel values of the batch, value-major:
   *  inputTable[d * size + i] = theta_i[x_d] for the d-th distinct value, then a row of ones for
   *  missing pixels; tableRow[b] = d(b) * size (see `buildInputTable`). */
  private readonly inputTable: Float64Array;
  private readonly tableRow: Int32Array;
  private readonly tableValues: Int32Array;
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
  /** Linear values of products below eFloor (relative to the region's largest) are stored as 0, and
   *  sums below rowFloor are recomputed exactly by `smallRow`. A row above rowFloor loses at most
   *  nnz * eFloor / rowFloor of its value to dropped terms. float32: eFloor is the smallest normal
   *  float (subnormal arithmetic is many times slower on x86) and rowFloor 2^-96, so the loss is at
   *  most nnz * 2^-30, below float32 rounding (with rowFloor = eFloor, a row of a pruned circuit
   *  whose children all lie ~87 nats below the region's largest product lost most of its value, and
   *  its flows: see docs/architecture.md, "Small rows"). float64: 2^-800 and 2^-700 (loss at most
   *  nnz * 2^-100), and a product that underflows in double (< 2^-1022 with a max >= MIN_MAX =
   *  2^-200) is below eFloor anyway. */
  private readonly eFloor: number;
  private readonly rowFloor: number;
  private readonly logEFloor: number;
  private count = 0;
  /** Index of the region that holds the root sum node. */
  private readonly rootRegion: number;

  constructor(cc: CompiledCircuit, precision: Precision, capacity: number, inputProbs?: Float64Array) {
    this.cc = cc;
    this.precision = precision;
    this.capacity = capacity;
    const alloc = (n: number): FloatArray => (precision === 'float32' ? new Float32Array(n) : new Float64Array(n));
    this.val = alloc(cc.numNodes * capacity);
    this.fl = alloc(cc.numNodes * capacity);
    this.valueCount = new Int32Array(cc.numValues);
    this.sampleOrder = new Int32Array(capacity);
    this.runValue = new Int32Array(Math.min(cc.numValues, capacity));
    this.runEnd = new Int32Array(Math.min(cc.numValues, capacity));
    this.majorityMask = new Float64Array(capacity);
    // backward relies on the HCLT pairing: sum row j of a region feeds product j of its parent.
    for (const r of cc.regions) {
      const ok = r.parentRegion < 0 ? r.rows === 1 : r.rows === cc.regions[r.parentRegion].size;
      if (!ok) throw new Error(`CpuEvaluator: region of variable ${r.variable} has ${r.rows} rows for its parent's products`);
    }
    this.regionScale = new Float64Array(cc.regions.length * capacity);
    this.exactFlag = new Uint8Array(cc.regions.length * capacity);
    let maxRows = 1;
    let maxSize = 1;
    let maxRow = 1;
    for (const r of cc.regions) {
      maxRows = Math.max(maxRows, r.rows);
      maxSize = Math.max(maxSize, r.size);
      for (let j = 0; j < r.rows; j++) maxRow = Math.max(maxRow, cc.edgePtr[r.sumStart + j + 1] - cc.edgePtr[r.sumStart + j]);
    }
    this.scratch = alloc(maxRows * capacity);
    this.prodBuf = new Float64Array(maxSize * capacity);
    // After the nodes, a block of ones (maxSize x capacity) standing in for absent child regions.
    this.onesOff = cc.numNodes * capacity;
    this.expValues = alloc(cc.numNodes * capacity + maxSize * capacity);
    this.expValues.fill(1, this.onesOff);
    this.zSum = new Float64Array(capacity);
    this.prodMax = new Float64Array(capacity);
    this.needExact = new Uint8Array(capacity);
    this.rowTmp = new Float64Array(maxRow);
    this.smallRows = new Int32Array(maxRows * capacity);
    this.weights = alloc(cc.numEdges);
    this.ownInputProbs = inputProbs === undefined;
    this.inputProbs = inputProbs ?? new Float64Array(cc.inputLogProbs.length);
    this.inputTable = new Float64Array((Math.min(cc.numValues, capacity) + 1) * maxSize);
    this.tableRow = new Int32Array(capacity);
    this.tableValues = new Int32Array(Math.min(cc.numValues, capacity));
    this.pixelT = new Uint8Array(cc.numVars * capacity);
    this.missingT = new Uint8Array(cc.numVars * capacity);
    this.eFloor = precision === 'float32' ? 2 ** -126 : 2 ** -800;
    this.rowFloor = precision === 'float32' ? 2 ** -96 : 2 ** -700;
    this.logEFloor = Math.log(this.eFloor);
    this.childOff = Int32Array.from(cc.edgeChild, (c) => c * capacity);
    this.parentWeights = alloc(cc.parentEdge.length);
    this.parentGOff = new Int32Array(cc.parentEdge.length);
    for (const r of cc.regions) {
      for (let p = r.productStart; p < r.productStart + r.size; p++) {
        for (let k = cc.parentPtr[p]; k < cc.parentPtr[p + 1]; k++) this.parentGOff[k] = (cc.parentNode[k] - r.sumStart) * capacity;
      }
    }
    this.rootRegion = cc.regions.findIndex((r) => cc.rootNode >= r.sumStart && cc.rootNode < r.sumStart + r.rows);
    this.refreshWeights();
  }

  /** Node values (log domain) of the last forward pass, value[node * capacity + b]. */
  get values(): FloatArray {
    if (this.valuesStale) this.materializeValues();
    return this.val;
  }

  /** Re-reads the parameters after they changed (EM, prune). */
  refreshWeights(): void {
    const lw = this.cc.edgeLogWeights;
    for (let e = 0; e < lw.length; e++) this.weights[e] = Math.exp(lw[e]);
    const pe = this.cc.parentEdge;
    for (let k = 0; k < pe.length; k++) this.parentWeights[k] = pe[k] >= 0 ? this.weights[pe[k]] : 0;
    if (this.ownInputProbs) {
      const lp = this.cc.inputLogProbs;
      for (let k = 0; k < lp.length; k++) this.inputProbs[k] = Math.exp(lp[k]);
    }
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

  /** Exact log value of sum node `node` (of region `k`) for sample b: log(s) + Z, or smallRow's value. */
  private sumLog(k: number, node: number, b: number): number {
    const B = this.capacity;
    const s = this.expValues[node * B + b];
    return s > 0 ? Math.log(s) + this.regionScale[k * B + b] : this.val[node * B + b];
  }

  /** Exact log value of product i of region k for sample b: log theta_i[x_v] + sum of child sums. */
  private productLog(k: number, i: number, b: number): number {
    const cc = this.cc;
    const B = this.capacity;
    const r = cc.regions[k];
    const pix = r.variable * B + b;
    let x = this.hasMissing && this.missingT[pix] ? 0 : Math.log(this.inputProbs[(r.inputStart + i) * cc.numValues + this.pixelT[pix]]);
    for (let c = 0; c < r.childRegions.length; c++) {
      const ck = r.childRegions[c];
      x += this.sumLog(ck, cc.regions[ck].sumStart + i, b);
    }
    return x;
  }

  /**
   * Region k's products for one sample from log values, the way every sample went before: used when a
   * child sum was computed by `smallRow` (its linear value is 0) or the linear max left the safe
   * range. Z = max_i x_i (0 when every product is -inf, so nothing turns NaN), e_i = exp(x_i - Z).
   */
  private exactProducts(k: number, b: number): void {
    const r = this.cc.regions[k];
    const B = this.capacity;
    const xs = this.prodBuf;
    let mx = -Infinity;
    for (let i = 0; i < r.size; i++) {
      const x = this.productLog(k, i, b);
      xs[i * B + b] = x;
      if (x > mx) mx = x;
    }
    if (mx === -Infinity) mx = 0;
    this.regionScale[k * B + b] = mx;
    for (let i = 0; i < r.size; i++) {
      const d = xs[i * B + b] - mx;
      this.expValues[(r.productStart + i) * B + b] = d > this.logEFloor ? Math.exp(d) : 0;
    }
  }

  /**
   * A sum whose linear value fell below rowFloor (its children are all far below the region's max):
   * its log value recomputed exactly and stored in `val`, its linear value stored as 0, which tells
   * readers (backward, the parent region) to use the log. Cheap case: the region's unscaled double
   * products P_i are still in prodBuf, and t = sum_e theta_e P_c(e) gives y = log t + sum_c Z_c
   * (one log) as long as t is far above double underflow (t >= 2^-900, so terms that underflowed,
   * < 2^-1022, are < nnz * 2^-122 of it). Otherwise (or when the region's sample took the exact path,
   * invM = 0): y = log sum_e theta_e exp(x_c) around the row's max, from exact product log values.
   */
  private smallRow(k: number, node: number, start: number, end: number, b: number): void {
    const cc = this.cc;
    const r = cc.regions[k];
    const B = this.capacity;
    const w = this.weights;
    let y: number;
    let t = 0;
    if (this.prodMax[b] > 0) {
      const P = this.prodBuf;
      for (let e = start; e < end; e++) t += w[e] * P[(cc.edgeChild[e] - r.productStart) * B + b];
    }
    if (t >= 2 ** -900) {
      y = Math.log(t) + this.zSum[b];
    } else {
      const xs = this.rowTmp;
      let mx = -Infinity;
      for (let e = start; e < end; e++) {
        const x = this.productLog(k, cc.edgeChild[e] - r.productStart, b);
        xs[e - start] = x;
        if (x > mx) mx = x;
      }
      let s = 0;
      if (mx > -Infinity) for (let e = start; e < end; e++) s += w[e] * Math.exp(xs[e - start] - mx);
      y = Math.log(s) + mx;
    }
    this.val[node * B + b] = y;
    this.expValues[node * B + b] = 0;
    this.exactFlag[k * B + b] = 1;
  }

  /**
   * Region k's input probabilities at the batch's pixel values, for the products: the distinct values
   * (a counting pass), theta_i[x] for each of them and each input (about 50 values x size for 512
   * digits, against n x size products), a row of ones for missing pixels (marginalised), and each
   * sample's row.
   */
  private buildInputTable(k: number): void {
    const cc = this.cc;
    const r = cc.regions[k];
    const n = this.count;
    const B = this.capacity;
    const V = cc.numValues;
    const S = r.size;
    const pixOff = r.variable * B;
    const pixelT = this.pixelT;
    const missing = this.hasMissing ? this.missingT : null;
    const slot = this.valueCount;
    const values = this.tableValues;
    slot.fill(0);
    for (let b = 0; b < n; b++) if (!(missing && missing[pixOff + b])) slot[pixelT[pixOff + b]] = 1;
    let nd = 0;
    for (let x = 0; x < V; x++) {
      if (slot[x] === 0) continue;
      slot[x] = nd * S;
      values[nd++] = x;
    }
    const T = this.inputTable;
    const pin = this.inputProbs;
    for (let i = 0; i < S; i++) {
      const po = (r.inputStart + i) * V;
      for (let d = 0; d < nd; d++) T[d * S + i] = pin[po + values[d]];
    }
    T.fill(1, nd * S, (nd + 1) * S);
    const row = this.tableRow;
    const ones = nd * S;
    if (missing) for (let b = 0; b < n; b++) row[b] = missing[pixOff + b] ? ones : slot[pixelT[pixOff + b]];
    else for (let b = 0; b < n; b++) row[b] = slot[pixelT[pixOff + b]];
  }

  /**
   * Forward pass; returns log p(x) per sample (marginalising missing pixels).
   *
   * Linear domain with one log-scale per region and sample: a product's value is
   *   exp(x_i) = theta_i[x_v] * prod_c exp(y_c,i) = P_i * exp(sum_c Z_c),  P_i = theta_i[x_v] prod_c s_c,i
   * with s_c,i = exp(y_c,i - Z_c) the child sums' linear values. With M = max_i P_i the region's scale
   * is Z = sum_c Z_c + log M and e_i = P_i / M, so a region costs multiplies and one log per sample
   * instead of an exp per product and a log per sum node (per-node transcendentals are what kept the
   * pruned circuit's time from following its edge count). Sums: s_j = sum_i theta_ji e_i, y_j = log s_j
   * + Z (only computed when read: the root, `values`, `smallRow`'s parents).
   */
  forward(batch: Batch, out?: Float64Array): Float64Array {
    this.loadBatch(batch);
    const cc = this.cc;
    const n = this.count;
    const B = this.capacity;
    const ex = this.expValues;
    const w = this.weights;
    const regions = cc.regions;
    const Z = this.regionScale;
    const flag = this.exactFlag;
    const P = this.prodBuf;
    const zSum = this.zSum;
    const M = this.prodMax;
    const need = this.needExact;
    const eFloor = this.eFloor;
    const rowFloor = this.rowFloor;
    for (let k = 0; k < regions.length; k++) {
      const r = regions[k];
      const zOff = k * B;
      const nc = r.childRegions.length;
      for (let b = 0; b < n; b++) {
        zSum[b] = 0;
        need[b] = 0;
        M[b] = 0;
      }
      for (let c = 0; c < nc; c++) {
        const cz = r.childRegions[c] * B;
        for (let b = 0; b < n; b++) {
          zSum[b] += Z[cz + b];
          need[b] |= flag[cz + b];
        }
      }
      // P_i[b] = theta_i[x_v] (1 for a missing pixel) * prod_c s_c,i[b], and M[b] = max_i P_i[b].
      // theta_i[x_v] comes from the region's small value-major table (one cache line holds it for
      // several products; measured 13 % faster than gathering from the K x 256 parameter rows, which
      // EM has just streamed through). Up to two child regions (most of a tree's nodes; a missing
      // child reads the block of ones after the nodes, an exact * 1): four products per pass over the
      // samples, so each table row and each M[b] is loaded once per four products. Else one pass per
      // product and child.
      this.buildInputTable(k);
      const T = this.inputTable;
      const row = this.tableRow;
      if (nc <= 2) {
        const c0 = nc > 0 ? regions[r.childRegions[0]].sumStart * B : this.onesOff;
        const c1 = nc > 1 ? regions[r.childRegions[1]].sumStart * B : this.onesOff;
        let i = 0;
        for (; i + 4 <= r.size; i += 4) {
          const q = i * B;
          const o0 = c0 + q;
          const o1 = c1 + q;
          for (let b = 0; b < n; b++) {
            const t = row[b] + i;
            const x0 = T[t] * ex[o0 + b] * ex[o1 + b];
            const x1 = T[t + 1] * ex[o0 + B + b] * ex[o1 + B + b];
            const x2 = T[t + 2] * ex[o0 + 2 * B + b] * ex[o1 + 2 * B + b];
            const x3 = T[t + 3] * ex[o0 + 3 * B + b] * ex[o1 + 3 * B + b];
            P[q + b] = x0;
            P[q + B + b] = x1;
            P[q + 2 * B + b] = x2;
            P[q + 3 * B + b] = x3;
            M[b] = Math.max(M[b], Math.max(Math.max(x0, x1), Math.max(x2, x3)));
          }
        }
        for (; i < r.size; i++) {
          const q = i * B;
          const o0 = c0 + q;
          const o1 = c1 + q;
          for (let b = 0; b < n; b++) {
            const x = T[row[b] + i] * ex[o0 + b] * ex[o1 + b];
            P[q + b] = x;
            M[b] = Math.max(M[b], x);
          }
        }
      } else {
        for (let i = 0; i < r.size; i++) {
          const q = i * B;
          for (let b = 0; b < n; b++) P[q + b] = T[row[b] + i];
          for (let c = 0; c < nc; c++) {
            const sOff = (regions[r.childRegions[c]].sumStart + i) * B;
            for (let b = 0; b < n; b++) P[q + b] *= ex[sOff + b];
          }
          for (let b = 0; b < n; b++) M[b] = Math.max(M[b], P[q + b]);
        }
      }
      // Z = sum_c Z_c + log M; M becomes 1/M (0 marks a sample that takes the exact path: a child sum
      // went through smallRow, or M is outside [MIN_MAX, inf) where dropped products could matter).
      let anyExact = false;
      for (let b = 0; b < n; b++) {
        const mb = M[b];
        flag[zOff + b] = 0;
        if (need[b] === 0 && mb >= MIN_MAX && mb < Infinity) {
          Z[zOff + b] = zSum[b] + Math.log(mb);
          M[b] = 1 / mb;
        } else {
          M[b] = 0;
          anyExact = true;
        }
      }
      // e_i = P_i / M, stored (0 below eFloor); four products per pass, one load of 1/M for four.
      let i = 0;
      for (; i + 4 <= r.size; i += 4) {
        const q = i * B;
        const pOff = (r.productStart + i) * B;
        for (let b = 0; b < n; b++) {
          const inv = M[b];
          const e0 = P[q + b] * inv;
          const e1 = P[q + B + b] * inv;
          const e2 = P[q + 2 * B + b] * inv;
          const e3 = P[q + 3 * B + b] * inv;
          ex[pOff + b] = e0 < eFloor ? 0 : e0;
          ex[pOff + B + b] = e1 < eFloor ? 0 : e1;
          ex[pOff + 2 * B + b] = e2 < eFloor ? 0 : e2;
          ex[pOff + 3 * B + b] = e3 < eFloor ? 0 : e3;
        }
      }
      for (; i < r.size; i++) {
        const q = i * B;
        const pOff = (r.productStart + i) * B;
        for (let b = 0; b < n; b++) {
          const e = P[q + b] * M[b];
          ex[pOff + b] = e < eFloor ? 0 : e;
        }
      }
      if (anyExact) for (let b = 0; b < n; b++) if (M[b] === 0) this.exactProducts(k, b);
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
          ex[sOff + b] = s0;
          ex[sOff + b + 1] = s1;
          ex[sOff + b + 2] = s2;
          ex[sOff + b + 3] = s3;
          if (s0 < rowFloor || s1 < rowFloor || s2 < rowFloor || s3 < rowFloor) {
            if (s0 < rowFloor) this.smallRow(k, node, start, end, b);
            if (s1 < rowFloor) this.smallRow(k, node, start, end, b + 1);
            if (s2 < rowFloor) this.smallRow(k, node, start, end, b + 2);
            if (s3 < rowFloor) this.smallRow(k, node, start, end, b + 3);
          }
        }
        for (let b = n4; b < n; b++) {
          let s0 = 0;
          for (let e = start; e < end; e++) s0 += w[e] * ex[childOff[e] + b];
          ex[sOff + b] = s0;
          if (s0 < rowFloor) this.smallRow(k, node, start, end, b);
        }
      }
    }
    this.valuesStale = true;
    const ll = out ?? new Float64Array(n);
    for (let b = 0; b < n; b++) ll[b] = this.sumLog(this.rootRegion, cc.rootNode, b);
    return ll;
  }

  /** Log values of every node for the last forward pass (inputs, products, sums), region by region. */
  private materializeValues(): void {
    const cc = this.cc;
    const n = this.count;
    const B = this.capacity;
    const V = cc.numValues;
    const val = this.val;
    const ex = this.expValues;
    const pin = this.inputProbs;
    for (let k = 0; k < cc.regions.length; k++) {
      const r = cc.regions[k];
      const pixOff = r.variable * B;
      for (let i = 0; i < r.size; i++) {
        const inOff = (r.inputStart + i) * B;
        const pOff = (r.productStart + i) * B;
        const pinOff = (r.inputStart + i) * V;
        for (let b = 0; b < n; b++) {
          val[inOff + b] = this.hasMissing && this.missingT[pixOff + b] ? 0 : Math.log(pin[pinOff + this.pixelT[pixOff + b]]);
          let x = val[inOff + b];
          for (let c = 0; c < r.childRegions.length; c++) x += val[(cc.regions[r.childRegions[c]].sumStart + i) * B + b];
          val[pOff + b] = x;
        }
      }
      for (let j = 0; j < r.rows; j++) {
        const sOff = (r.sumStart + j) * B;
        for (let b = 0; b < n; b++) if (ex[sOff + b] > 0) val[sOff + b] = Math.log(ex[sOff + b]) + this.regionScale[k * B + b];
      }
    }
    this.valuesStale = false;
  }

  /**
   * Backward pass after `forward` on the same batch: node flows (root flow 1 per sample), and adds
   * this batch's edge flows and categorical input flows into the accumulators (skipped when null:
   * queries that need node flows only).
   *
   * Only product flows are written: sum row j of a region has exactly one parent, product j of the
   * parent region (the root's one row has flow 1), and input node i's flow is product i's, so those
   * copies are made only when `flows` is read. A product's flow is F_i = e_i sum_j theta_ji g_j, the
   * gathered sum times its linear value in the same pass.
   */
  backward(edgeFlowAcc: Float64Array | null, inputFlowAcc: Float64Array | null): void {
    const cc = this.cc;
    const n = this.count;
    const B = this.capacity;
    const ex = this.expValues;
    const fl = this.fl;
    const g = this.scratch;
    const w = this.weights;
    const regions = cc.regions;
    const childOff = this.childOff;
    const pw = this.parentWeights;
    const parentGOff = this.parentGOff;
    const small = this.smallRows;
    for (let k = regions.length - 1; k >= 0; k--) {
      const r = regions[k];
      let nSmall = 0;
      // g_j = F_j / exp(y_j - Z) (the linear sum kept by forward), F_j = flow of the parent product j
      // (1 at the root); a sum that smallRow computed (linear value 0) divides by its exact value.
      const fOff = r.parentRegion < 0 ? -1 : regions[r.parentRegion].productStart * B;
      for (let j = 0; j < r.rows; j++) {
        const sOff = (r.sumStart + j) * B;
        const gOff = j * B;
        // A row that smallRow computed (linear value 0) gets g = 0 here and its flows from
        // `smallRowFlows` below: F / s would overflow the storage type, and the products it reaches
        // may all be stored as 0 (below eFloor) while carrying all of the row's flow.
        if (fOff < 0) {
          for (let b = 0; b < n; b++) {
            const lin = ex[sOff + b];
            g[gOff + b] = lin > 0 ? 1 / lin : 0;
            if (!(lin > 0)) small[nSmall++] = gOff + b;
          }
          continue;
        }
        const pf = fOff + gOff;
        for (let b = 0; b < n; b++) {
          const f = fl[pf + b];
          const lin = ex[sOff + b];
          if (lin > 0) g[gOff + b] = f / lin;
          else {
            g[gOff + b] = 0;
            if (f !== 0) small[nSmall++] = gOff + b;
          }
        }
      }
      // Edge flows: theta_e * sum_b g_j[b] e_c[b], four edges of a row per pass over the samples, and
      // the row's last 1-3 edges in one more pass.
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
        // The rest of the row in one pass (a pruned row's length is seldom a multiple of 4). Explicit
        // 3- and 2-wide passes: padding the last pass to four lanes that read the block of ones after
        // the nodes measured 9 % slower.
        const rest = end - e;
        if (rest === 3) {
          const o0 = childOff[e];
          const o1 = childOff[e + 1];
          const o2 = childOff[e + 2];
          let d0 = 0;
          let d1 = 0;
          let d2 = 0;
          for (let b = 0; b < n; b++) {
            const gb = g[gOff + b];
            d0 += gb * ex[o0 + b];
            d1 += gb * ex[o1 + b];
            d2 += gb * ex[o2 + b];
          }
          edgeFlowAcc[e] += w[e] * d0;
          edgeFlowAcc[e + 1] += w[e + 1] * d1;
          edgeFlowAcc[e + 2] += w[e + 2] * d2;
        } else if (rest === 2) {
          const o0 = childOff[e];
          const o1 = childOff[e + 1];
          let d0 = 0;
          let d1 = 0;
          for (let b = 0; b < n; b++) {
            const gb = g[gOff + b];
            d0 += gb * ex[o0 + b];
            d1 += gb * ex[o1 + b];
          }
          edgeFlowAcc[e] += w[e] * d0;
          edgeFlowAcc[e + 1] += w[e + 1] * d1;
        } else if (rest === 1) {
          const o = childOff[e];
          let d = 0;
          for (let b = 0; b < n; b++) d += g[gOff + b] * ex[o + b];
          edgeFlowAcc[e] += w[e] * d;
        }
      }
      // Product flows, gathered over each product's parent edges (the transposed lists):
      // F_c[b] = e_c[b] sum_{(j,e) parents of c} theta_e g_j[b], four samples per pass. With input
      // flows wanted, the same pass sums each product's flow over the samples whose pixel has the
      // region's most common value (`majorityMask`), so `inputHistogram` only visits the others.
      const hist = inputFlowAcc !== null;
      const maj = hist ? this.groupByValue(k) : -1;
      const mask = this.majorityMask;
      const inOff = r.inputStart * cc.numValues + maj;
      const n4 = n & ~3;
      for (let i = 0; i < r.size; i++) {
        const p = r.productStart + i;
        const pOff = p * B;
        const start = cc.parentPtr[p];
        const end = cc.parentPtr[p + 1];
        let h0 = 0;
        let h1 = 0;
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
          const f0 = t0 * ex[pOff + b];
          const f1 = t1 * ex[pOff + b + 1];
          const f2 = t2 * ex[pOff + b + 2];
          const f3 = t3 * ex[pOff + b + 3];
          fl[pOff + b] = f0;
          fl[pOff + b + 1] = f1;
          fl[pOff + b + 2] = f2;
          fl[pOff + b + 3] = f3;
          h0 += f0 * mask[b] + f2 * mask[b + 2];
          h1 += f1 * mask[b + 1] + f3 * mask[b + 3];
        }
        for (let b = n4; b < n; b++) {
          let t0 = 0;
          for (let k = start; k < end; k++) t0 += pw[k] * g[parentGOff[k] + b];
          const f = t0 * ex[pOff + b];
          fl[pOff + b] = f;
          h0 += f * mask[b];
        }
        if (hist && maj >= 0) inputFlowAcc[inOff + i * cc.numValues] += h0 + h1;
      }
      if (hist) this.inputHistogram(k, inputFlowAcc);
      for (let q = 0; q < nSmall; q++) this.smallRowFlows(k, small[q], edgeFlowAcc, inputFlowAcc);
    }
    this.flowsStale = true;
  }

  /**
   * The flows through a sum row that `smallRow` computed, for one sample (jb = row * capacity +
   * sample), exactly in the log domain: F_e = F_j theta_e exp(x_c - y_j) for each edge e = (j, c),
   * with x_c the product's exact log value and y_j the row's (in `val`). Added to the edge
   * accumulator, to the product's flow and to its input node's histogram bin, after the fast path
   * (which gave this row g = 0) has written those.
   */
  private smallRowFlows(k: number, jb: number, edgeFlowAcc: Float64Array | null, inputFlowAcc: Float64Array | null): void {
    const cc = this.cc;
    const r = cc.regions[k];
    const B = this.capacity;
    const V = cc.numValues;
    const j = Math.floor(jb / B);
    const b = jb - j * B;
    const node = r.sumStart + j;
    const f = r.parentRegion < 0 ? 1 : this.fl[cc.regions[r.parentRegion].productStart * B + jb];
    const y = this.val[node * B + b];
    const pix = r.variable * B + b;
    const observed = !(this.hasMissing && this.missingT[pix]);
    for (let e = cc.edgePtr[node]; e < cc.edgePtr[node + 1]; e++) {
      const i = cc.edgeChild[e] - r.productStart;
      const fe = f * this.weights[e] * Math.exp(this.productLog(k, i, b) - y);
      if (!(fe > 0)) continue;
      if (edgeFlowAcc) edgeFlowAcc[e] += fe;
      this.fl[(r.productStart + i) * B + b] += fe;
      if (inputFlowAcc && observed) inputFlowAcc[(r.inputStart + i) * V + this.pixelT[pix]] += fe;
    }
  }

  /**
   * Groups region k's samples by pixel value (a counting sort; missing pixels left out) for its input
   * flows: the most common value's samples are marked in `majorityMask` (1, else 0) and its value
   * returned (-1 when every pixel is missing), the other samples are listed by value in `sampleOrder`
   * with the runs in `runValue`/`runEnd`. MNIST pixels are mostly 0, so the mask covers most samples.
   */
  private groupByValue(k: number): number {
    const cc = this.cc;
    const n = this.count;
    const B = this.capacity;
    const V = cc.numValues;
    const pixOff = cc.regions[k].variable * B;
    const pixelT = this.pixelT;
    const missing = this.hasMissing ? this.missingT : null;
    const counts = this.valueCount;
    const order = this.sampleOrder;
    const mask = this.majorityMask;
    counts.fill(0);
    for (let b = 0; b < n; b++) if (!(missing && missing[pixOff + b])) counts[pixelT[pixOff + b]]++;
    let maj = -1;
    for (let x = 0; x < V; x++) if (counts[x] > 0 && (maj < 0 || counts[x] > counts[maj])) maj = x;
    let runs = 0;
    let cum = 0;
    for (let x = 0; x < V; x++) {
      const c = counts[x];
      if (c === 0 || x === maj) continue;
      counts[x] = cum; // becomes the run's write position
      cum += c;
      this.runValue[runs] = x;
      this.runEnd[runs++] = cum;
    }
    this.runs = runs;
    for (let b = 0; b < n; b++) {
      const x = pixelT[pixOff + b];
      const observed = !(missing && missing[pixOff + b]);
      mask[b] = observed && x === maj ? 1 : 0;
      if (observed && x !== maj) order[counts[x]++] = b;
    }
    return maj;
  }

  /**
   * Categorical input flows of region k, the values other than the majority one (whose sums the
   * product-flow pass adds): F[input i, x] += sum over samples b with pixel x of F_i[b], one run sum
   * per distinct value from `groupByValue`'s order (not one read-modify-write per sample: those form
   * a dependency chain through memory when neighbouring samples share a value).
   */
  private inputHistogram(k: number, acc: Float64Array): void {
    const cc = this.cc;
    const r = cc.regions[k];
    const B = this.capacity;
    const V = cc.numValues;
    const order = this.sampleOrder;
    const runVal = this.runValue;
    const runEnd = this.runEnd;
    const runs = this.runs;
    const fl = this.fl;
    for (let i = 0; i < r.size; i++) {
      const pOff = (r.productStart + i) * B;
      const hOff = (r.inputStart + i) * V;
      let t = 0;
      for (let q = 0; q < runs; q++) {
        const end = runEnd[q];
        let s = 0;
        for (; t < end; t++) s += fl[pOff + order[t]];
        acc[hOff + runVal[q]] += s;
      }
    }
  }

  /** Node flows of the last backward pass, flow[node * capacity + b]. */
  get flows(): FloatArray {
    if (this.flowsStale) this.materializeFlows();
    return this.fl;
  }

  /** Input and sum node flows from the product flows that backward wrote (see `backward`). */
  private materializeFlows(): void {
    const cc = this.cc;
    const n = this.count;
    const B = this.capacity;
    const fl = this.fl;
    for (const r of cc.regions) {
      const fOff = r.parentRegion < 0 ? -1 : cc.regions[r.parentRegion].productStart * B;
      for (let j = 0; j < r.rows; j++) {
        const sOff = (r.sumStart + j) * B;
        for (let b = 0; b < n; b++) fl[sOff + b] = fOff < 0 ? 1 : fl[fOff + j * B + b];
      }
      for (let i = 0; i < r.size; i++) fl.copyWithin((r.inputStart + i) * B, (r.productStart + i) * B, (r.productStart + i) * B + n);
    }
    this.flowsStale = false;
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
    const val = this.val; // read only where the linear value is 0: smallRow's exact log values
    const w = this.weights;
    out.fill(0, 0, n);
    for (let k = 0; k < cc.regions.length; k++) {
      const r = cc.regions[k];
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
            out[b] += lin > 0 ? (f * we * ex[cOff + b]) / lin : f * we * Math.exp(this.productLog(k, cc.edgeChild[e] - r.productStart, b) - val[sOff + b]);
          }
        }
      }
    }
  }
}

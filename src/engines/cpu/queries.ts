// The playground's queries (marginals, per-pixel conditional surprise, exact sampling and
// inpainting) on the CPU, over a CompiledCircuit with a float64 CpuEvaluator. Pure TypeScript (no DOM,
// no Node APIs); this is the reference a WebGPU version must match.
//
// Sampling walks the compiled regions top-down. The tree has one region per variable and every
// product of a region multiplies exactly one input node of that variable and row i of each child
// region's block, so a draw visits each region once: at region r, with its chosen sum row j (0 at the
// root), it picks one edge of row j, i.e. one product i; that fixes the input node that emits pixel
// r.variable and the row i of every child region. Regions are stored children-before-parents
// (ascending height), so reverse order is a valid top-down order and no recursion is needed.
// Edge probabilities:
//   unconditional  P(e = j -> i) = theta_ji
//   conditional    P(e = j -> i | x_obs) = theta_ji exp(x_i - y_j)      (x, y: forward values on the
//                  evidence with missing pixels marginalised; this is edge flow / node flow)
// Input nodes of observed pixels emit the observed value (their likelihood is already in x_i);
// those of missing pixels draw from their categorical.

import type { CompiledCircuit } from '../../circuit/compile.ts';
import { Rng } from '../../util/rng.ts';
import type { Evidence, QueryEngine } from '../queries.ts';
import type { Batch } from '../engine.ts';
import { CpuEvaluator } from './evaluator.ts';

export interface CpuQueriesOptions {
  /**
   * Samples per forward pass (the evaluator's capacity). Default: as many as fit in
   * `memoryBudgetBytes`, at most 64.
   */
  capacity?: number;
  /** Bound on the evaluator's node arrays (three float64 arrays of numNodes x capacity). Default 128 MiB. */
  memoryBudgetBytes?: number;
}

const DEFAULT_MAX_CAPACITY = 64;
const DEFAULT_MEMORY_BUDGET = 128 * 1024 * 1024;

export class CpuQueries implements QueryEngine {
  readonly cc: CompiledCircuit;
  readonly capacity: number;
  private readonly evaluator: CpuEvaluator;
  /** Per sum node, the running sum of theta over its edges (unnormalised CDF, edge order). */
  private readonly edgeCdf: Float64Array;
  /** Per input node, the running sum of its value probabilities [numInputs x numValues]. */
  private readonly inputCdf: Float64Array;
  /** Index of the root region in cc.regions (the last one: it alone has the greatest height). */
  private readonly rootRegion: number;

  constructor(cc: CompiledCircuit, opts: CpuQueriesOptions = {}) {
    this.cc = cc;
    const budget = opts.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET;
    const perSample = Math.max(1, cc.numNodes * 3 * 8);
    this.capacity = opts.capacity ?? Math.max(1, Math.min(DEFAULT_MAX_CAPACITY, Math.floor(budget / perSample)));
    if (!(Number.isInteger(this.capacity) && this.capacity >= 1)) throw new Error(`capacity must be a positive integer, got ${this.capacity}`);
    this.evaluator = new CpuEvaluator(cc, 'float64', this.capacity);
    this.edgeCdf = new Float64Array(cc.numEdges);
    this.inputCdf = new Float64Array(cc.numInputs * cc.numValues);
    this.rootRegion = cc.regions.length - 1;
    if (cc.regions[this.rootRegion].sumStart !== cc.rootNode) throw new Error('internal: the root region is not the last compiled region');
    this.refresh();
  }

  /** Re-reads the parameters (cc.edgeLogWeights, cc.inputLogProbs) after they changed (EM). */
  refresh(): void {
    const cc = this.cc;
    this.evaluator.refreshWeights();
    for (let n = cc.numInputs; n < cc.numNodes; n++) {
      let s = 0;
      for (let e = cc.edgePtr[n]; e < cc.edgePtr[n + 1]; e++) this.edgeCdf[e] = s += Math.exp(cc.edgeLogWeights[e]);
    }
    const V = cc.numValues;
    for (let n = 0; n < cc.numInputs; n++) {
      let s = 0;
      for (let x = 0; x < V; x++) this.inputCdf[n * V + x] = s += Math.exp(cc.inputLogProbs[n * V + x]);
    }
  }

  async marginal(batch: Batch): Promise<Float64Array> {
    return this.marginalSync(batch);
  }

  /** `marginal` without the promise: the batch in chunks of `capacity` through the forward pass. */
  marginalSync(batch: Batch): Float64Array {
    const D = this.cc.numVars;
    const out = new Float64Array(batch.count);
    for (let start = 0; start < batch.count; start += this.capacity) {
      const n = Math.min(this.capacity, batch.count - start);
      const chunk: Batch = {
        pixels: batch.pixels.subarray(start * D, (start + n) * D),
        count: n,
        missing: batch.missing?.subarray(start * D, (start + n) * D),
      };
      this.evaluator.forward(chunk, out.subarray(start, start + n));
    }
    return out;
  }

  async conditionalSurprise(image: Uint8Array): Promise<Float64Array> {
    return this.conditionalSurpriseSync(image);
  }

  /**
   * log p(x_i | x_{-i}) for every pixel from one forward and one backward pass. p is linear in the
   * input values w_n = theta_n[x_i] of each variable: p(x) = sum_n w_n c_n, and the flow of input n is
   * F_n = w_n c_n / p(x). Marginalising pixel i sets every w_n to 1, so
   *   p(x_{-i}) / p(x) = sum_n F_n / w_n   and   log p(x_i | x_{-i}) = -log sum_n F_n / w_n.
   * Pixels whose observed value has probability 0 under some input node (F_n / w_n = 0 / 0) fall back
   * to the masked computation below.
   */
  conditionalSurpriseSync(image: Uint8Array): Float64Array {
    const cc = this.cc;
    const D = cc.numVars;
    const V = cc.numValues;
    this.checkPixels(image, 'image');
    const ev = this.evaluator;
    const logP = ev.forward({ pixels: image, count: 1 })[0];
    const out = new Float64Array(D);
    if (logP === -Infinity) return out.fill(-Infinity);
    ev.backward(null, null);
    const B = ev.capacity;
    let fallback = false;
    for (const r of cc.regions) {
      const x = image[r.variable];
      let ratio = 0;
      let exact = true;
      for (let i = 0; i < r.size; i++) {
        const n = r.inputStart + i;
        const logW = cc.inputLogProbs[n * V + x];
        if (logW === -Infinity) {
          exact = false;
          break;
        }
        ratio += ev.flows[n * B] * Math.exp(-logW);
      }
      if (exact) out[r.variable] = Math.min(0, -Math.log(ratio));
      else {
        out[r.variable] = NaN;
        fallback = true;
      }
    }
    if (fallback) {
      const masked = this.conditionalSurpriseMasked(image);
      for (let v = 0; v < D; v++) if (Number.isNaN(out[v])) out[v] = masked[v];
    }
    return out;
  }

  /**
   * log p(x_i | x_{-i}) = log p(x) - log p(x_{-i}) for every pixel i. Rows of one logical batch of D + 1
   * copies of the image: row 0 complete (log p(x)), row 1 + i with pixel i missing (log p(x_{-i}),
   * the exact marginal). The rows go through the evaluator `capacity` at a time, so memory stays
   * bounded whatever D is; the cost is D + 1 forward passes of one sample.
   */
  conditionalSurpriseMasked(image: Uint8Array): Float64Array {
    const D = this.cc.numVars;
    this.checkPixels(image, 'image');
    const C = this.capacity;
    const pixels = new Uint8Array(C * D);
    for (let b = 0; b < C; b++) pixels.set(image, b * D);
    const missing = new Uint8Array(C * D);
    const logs = new Float64Array(D + 1);
    for (let start = 0; start <= D; start += C) {
      const n = Math.min(C, D + 1 - start);
      for (let b = 0; b < n; b++) if (start + b > 0) missing[b * D + (start + b - 1)] = 1;
      this.evaluator.forward({ pixels: pixels.subarray(0, n * D), count: n, missing: missing.subarray(0, n * D) }, logs.subarray(start, start + n));
      for (let b = 0; b < n; b++) if (start + b > 0) missing[b * D + (start + b - 1)] = 0;
    }
    const logP = logs[0];
    const out = new Float64Array(D);
    for (let i = 0; i < D; i++) {
      const logRest = logs[i + 1];
      // p(x) <= p(x_{-i}) exactly; clamp the rounding excess so the result is a log probability.
      // An impossible image (p(x) = 0, so also when p(x_{-i}) = 0) gets -Infinity rather than NaN.
      out[i] = logP === -Infinity || logRest === -Infinity ? -Infinity : Math.min(0, logP - logRest);
    }
    return out;
  }

  async sample(count: number, seed: number, evidence?: Evidence): Promise<Uint8Array> {
    return this.sampleSync(count, seed, evidence);
  }

  /**
   * Ancestral sampling, one independent top-down traversal per draw, all from one Rng(seed) stream
   * consumed in draw order (so a request of k draws is a prefix of a larger one). Per region: one
   * uniform for the edge choice, plus one for the pixel when it is missing.
   */
  sampleSync(count: number, seed: number, evidence?: Evidence): Uint8Array {
    const cc = this.cc;
    const D = cc.numVars;
    const V = cc.numValues;
    if (!(Number.isInteger(count) && count >= 0)) throw new Error(`sample count must be a non-negative integer, got ${count}`);
    let edgeCdf = this.edgeCdf;
    let observed: Uint8Array | null = null;
    if (evidence) {
      if (evidence.pixels.length !== D || evidence.missing.length !== D) {
        throw new Error(`evidence needs ${D} pixels and ${D} missing flags, got ${evidence.pixels.length} and ${evidence.missing.length}`);
      }
      observed = Uint8Array.from(evidence.missing, (m) => (m ? 0 : 1));
      for (let v = 0; v < D; v++) {
        if (observed[v] && !(evidence.pixels[v] < V)) throw new Error(`evidence pixel ${v} has value ${evidence.pixels[v]}, expected < ${V}`);
      }
      edgeCdf = this.posteriorEdgeCdf(evidence);
    }
    const regions = cc.regions;
    const R = regions.length;
    const out = new Uint8Array(count * D);
    const row = new Int32Array(R);
    const rng = new Rng(seed);
    for (let d = 0; d < count; d++) {
      const base = d * D;
      row[this.rootRegion] = 0;
      for (let k = R - 1; k >= 0; k--) {
        const r = regions[k];
        const node = r.sumStart + row[k];
        const e = pick(edgeCdf, cc.edgePtr[node], cc.edgePtr[node + 1], rng.uniform());
        const i = cc.edgeChild[e] - r.productStart;
        const v = r.variable;
        if (observed && observed[v]) out[base + v] = evidence!.pixels[v];
        else {
          const off = (r.inputStart + i) * V;
          out[base + v] = pick(this.inputCdf, off, off + V, rng.uniform()) - off;
        }
        const ch = r.childRegions;
        for (let c = 0; c < ch.length; c++) row[ch[c]] = i;
      }
    }
    return out;
  }

  /**
   * Per sum node j, the running sum over its edges of theta_ji exp(x_i - y_j): the posterior of its
   * child given the evidence (edge flow over node flow, sum 1 up to rounding), from one forward pass
   * with the missing pixels marginalised.
   */
  private posteriorEdgeCdf(evidence: Evidence): Float64Array {
    const cc = this.cc;
    const B = this.capacity;
    const logP = this.evaluator.forward({ pixels: evidence.pixels, count: 1, missing: evidence.missing })[0];
    if (!(logP > -Infinity)) throw new Error('the evidence has probability zero under the circuit: nothing to sample from');
    const val = this.evaluator.values;
    const cdf = new Float64Array(cc.numEdges);
    for (let n = cc.numInputs; n < cc.numNodes; n++) {
      const start = cc.edgePtr[n];
      const end = cc.edgePtr[n + 1];
      if (start === end) continue;
      const y = val[n * B];
      // A node with y = -inf is never reached (every reached node has positive posterior mass); its
      // row stays all zero.
      if (y === -Infinity) continue;
      let s = 0;
      for (let e = start; e < end; e++) cdf[e] = s += Math.exp(cc.edgeLogWeights[e] + val[cc.edgeChild[e] * B] - y);
    }
    return cdf;
  }

  private checkPixels(pixels: Uint8Array, what: string): void {
    const D = this.cc.numVars;
    const V = this.cc.numValues;
    if (pixels.length !== D) throw new Error(`${what} needs ${D} pixels, got ${pixels.length}`);
    for (let v = 0; v < D; v++) if (!(pixels[v] < V)) throw new Error(`${what} pixel ${v} has value ${pixels[v]}, expected < ${V}`);
  }
}

/**
 * Inverse-CDF draw from cdf[start..end), a running sum of non-negative masses (not necessarily
 * normalised): the first k with cdf[k] > u * total, by binary search. Zero-mass entries are never
 * chosen (their cdf equals their predecessor's). If rounding puts u * total at or past the last value,
 * the last entry with positive mass is taken.
 */
function pick(cdf: Float64Array, start: number, end: number, u: number): number {
  const t = u * cdf[end - 1];
  let lo = start;
  let hi = end;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid] > t) hi = mid;
    else lo = mid + 1;
  }
  if (lo < end) return lo;
  let k = end - 1;
  while (k > start && cdf[k] === cdf[k - 1]) k--;
  return k;
}

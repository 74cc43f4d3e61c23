// The training worker's read-only queries on the current model: score a drawing (log-likelihood, bpd,
// per-pixel surprise), inpaint, sample, a region's sum block, and the validation bpd distribution;
// plus the per-region information the circuit snapshots carry. Exact float64 answers (CpuQueries)
// over the trained parameters, cached per structure and refreshed per parameter change. The session
// (session.ts) queues the queries, answers export and import itself, and hands the rest here.

import type { CompiledCircuit } from '../circuit/compile.ts';
import type { Circuit } from '../circuit/structure.ts';
import { CpuQueries } from '../engines/cpu/queries.ts';
import { batchesOf, type TrainerProgress } from '../training/trainer.ts';
import { UserError } from '../util/errors.ts';
import { bitsPerDim } from '../util/math.ts';
import { histogramOf } from './histogram.ts';
import type { FlowRecord, Model } from './model.ts';
import type { Histogram, Query, QueryResult, RegionDetail } from './protocol.ts';
import { checkDraws, checkImage } from './validation.ts';

/**
 * Floor for per-pixel surprise log p(x_i | x_rest) (nats). The exact value is -Infinity only for an
 * image of probability zero (impossible with a pseudocount > 0, possible for imported models); the page
 * draws a colour scale, which needs finite numbers, and anything this low saturates it anyway.
 */
export const SURPRISE_FLOOR = -50;
/** Bins of the bpd and prune-score histograms. */
export const HISTOGRAM_BINS = 40;
/** Memory for the float64 query evaluator (3 x nodes x capacity doubles): its capacity adapts to the
 *  model (about 18 samples at K = 32, 4 at K = 128), enough for queries of one image at a time. */
const QUERY_MEMORY_BYTES = 32 * 1024 * 1024;

/**
 * Per variable, the mutual information (bits) between parent state j and child state i under the
 * block's dataset edge flows normalised to a joint distribution (protocol.ts CircuitSnapshot).
 */
export function edgeInformation(c: Circuit, cc: CompiledCircuit, edgeFlows: Float64Array | null): Float32Array {
  const out = new Float32Array(c.numVars);
  if (!edgeFlows) return out;
  for (const cr of cc.regions) {
    const v = cr.variable;
    if (v === c.root) continue;
    const b = c.regions[v].block;
    let total = 0;
    for (let k = 0; k < cr.nnz; k++) total += Math.max(0, edgeFlows[cr.edgeStart + k]);
    if (!(total > 0)) continue;
    const rowSum = new Float64Array(b.rows);
    const colSum = new Float64Array(b.cols);
    for (let j = 0; j < b.rows; j++) {
      for (let k = b.rowPtr[j]; k < b.rowPtr[j + 1]; k++) {
        const f = Math.max(0, edgeFlows[cr.edgeStart + k]);
        rowSum[j] += f;
        colSum[b.colIdx[k]] += f;
      }
    }
    let mi = 0;
    for (let j = 0; j < b.rows; j++) {
      for (let k = b.rowPtr[j]; k < b.rowPtr[j + 1]; k++) {
        const f = edgeFlows[cr.edgeStart + k];
        if (f > 0) mi += (f / total) * Math.log2((f * total) / (rowSum[j] * colSum[b.colIdx[k]]));
      }
    }
    // MI >= 0 exactly; rounding can leave a tiny negative.
    out[v] = Number.isFinite(mi) ? Math.max(0, mi) : 0;
  }
  return out;
}

/** What the queries read from the session. */
export interface QueryContext {
  /** The current model (a UserError sentence when there is none). */
  model(): Model;
  /** Bumped whenever the parameters or the structure change. */
  paramsVersion(): number;
  /** Makes the compiled circuit's parameter arrays current (a read-back on the GPU). */
  syncParams(): Promise<void>;
  /** The latest dataset edge flows, if any were computed. */
  flows(): FlowRecord | null;
  /** The edges a prune preview is about to remove, while one shows. */
  preview(): { compiled: CompiledCircuit; marked: Uint8Array } | null;
  progress: TrainerProgress;
}

export class ModelQueries {
  private queryCache: { compiled: CompiledCircuit; q: CpuQueries; version: number } | null = null;
  private bpdCache: { compiled: CompiledCircuit; version: number; hist: Histogram } | null = null;

  constructor(private readonly ctx: QueryContext) {}

  /** Forgets the caches (a new model). */
  clear(): void {
    this.queryCache = null;
    this.bpdCache = null;
  }

  /** Float64 CPU queries over the current circuit and parameters (rebuilt per structure, refreshed per change). */
  private async cpuQueries(): Promise<CpuQueries> {
    const t = this.ctx.model().trainer;
    await this.ctx.syncParams();
    const c = this.queryCache;
    if (c && c.compiled === t.compiled) {
      if (c.version !== this.ctx.paramsVersion()) {
        c.q.refresh();
        c.version = this.ctx.paramsVersion();
      }
      return c.q;
    }
    const q = new CpuQueries(t.compiled, { memoryBudgetBytes: QUERY_MEMORY_BYTES });
    this.queryCache = { compiled: t.compiled, q, version: this.ctx.paramsVersion() };
    return q;
  }

  /** The answer to a read-only query (every kind but export and import, which the session answers). */
  async answer(query: Exclude<Query, { kind: 'export' | 'import' }>): Promise<QueryResult> {
    const m = this.ctx.model();
    const V = m.dataset.numValues;
    switch (query.kind) {
      case 'score': {
        const pixels = checkImage('image', query.pixels, m.dataset.numVars, V);
        const q = await this.cpuQueries();
        const ll = q.marginalSync({ pixels, count: 1 })[0];
        if (!(ll > -Infinity))
          throw new UserError('This image has probability zero under the model (a pixel value no input allows), so it has no likelihood to show.');
        const exact = q.conditionalSurpriseSync(pixels);
        const surprise = new Float32Array(exact.length);
        for (let v = 0; v < exact.length; v++) surprise[v] = exact[v] >= SURPRISE_FLOOR ? exact[v] : SURPRISE_FLOOR; // also catches NaN
        return { kind: 'score', logLikelihood: ll, bpd: bitsPerDim(ll, m.dataset.numVars), surprise };
      }
      case 'inpaint': {
        const pixels = checkImage('image', query.pixels, m.dataset.numVars, V);
        const missing = checkImage('missing-pixel mask', query.missing, m.dataset.numVars, 2);
        checkDraws(query.count, query.seed);
        const q = await this.cpuQueries();
        const ll = q.marginalSync({ pixels, count: 1, missing })[0];
        if (!(ll > -Infinity)) throw new UserError('The visible pixels have probability zero under the model, so there is nothing to inpaint from.');
        const out = q.sampleSync(query.count, query.seed, { pixels, missing });
        return { kind: 'images', count: query.count, pixels: out };
      }
      case 'samples': {
        checkDraws(query.count, query.seed);
        const q = await this.cpuQueries();
        return { kind: 'images', count: query.count, pixels: q.sampleSync(query.count, query.seed) };
      }
      case 'region':
        return { kind: 'region', ...(await this.regionDetail(query.variable)) };
      case 'bpdDistribution':
        return { kind: 'bpdDistribution', ...(await this.bpdDistribution()) };
      default:
        throw new UserError(`The query kind ${String((query as { kind?: unknown }).kind)} is not one this worker answers.`);
    }
  }

  private async regionDetail(variable: unknown): Promise<RegionDetail> {
    const m = this.ctx.model();
    const t = m.trainer;
    const D = m.dataset.numVars;
    if (!(typeof variable === 'number' && Number.isInteger(variable) && variable >= 0 && variable < D)) {
      throw new UserError(`The region must be a pixel index from 0 to ${D - 1}, got ${String(variable)}.`);
    }
    await this.ctx.syncParams();
    const cc = t.compiled;
    const r = t.circuit.regions[variable];
    const b = r.block;
    const cr = cc.regions[cc.regionOfVariable[variable]];
    const weights = new Float32Array(cr.nnz);
    for (let k = 0; k < cr.nnz; k++) weights[k] = Math.exp(cc.edgeLogWeights[cr.edgeStart + k]);
    const flows = new Float32Array(cr.nnz);
    // The latest dataset flows of this circuit (the prune's full training set while a preview shows,
    // else the last snapshot's sample); zeros when none were computed for this structure yet.
    const f = this.ctx.flows();
    if (f && f.compiled === cc && f.images > 0) {
      for (let k = 0; k < cr.nnz; k++) flows[k] = Math.max(0, f.edgeFlows[cr.edgeStart + k]) / f.images;
    }
    const marked = new Uint8Array(cr.nnz);
    const preview = this.ctx.preview();
    if (preview && preview.compiled === cc) marked.set(preview.marked.subarray(cr.edgeStart, cr.edgeStart + cr.nnz));
    const V = cc.numValues;
    const inputMeans = new Float32Array(cr.size);
    for (let i = 0; i < cr.size; i++) {
      const off = (cr.inputStart + i) * V;
      let s = 0;
      for (let x = 0; x < V; x++) s += x * Math.exp(cc.inputLogProbs[off + x]);
      inputMeans[i] = s;
    }
    return {
      variable,
      parentVariable: r.parent,
      rows: b.rows,
      cols: b.cols,
      rowPtr: b.rowPtr.slice(),
      colIdx: b.colIdx.slice(),
      weights,
      flows,
      marked,
      inputMeans,
    };
  }

  private async bpdDistribution(): Promise<Histogram> {
    const m = this.ctx.model();
    const t = m.trainer;
    if (!m.valid) throw new UserError('There are no validation images (the validation fraction is 0), so there is no bpd distribution to show.');
    const c = this.bpdCache;
    if (c && c.compiled === t.compiled && c.version === this.ctx.paramsVersion()) return c.hist;
    const valid = m.valid;
    const bpd = new Float64Array(valid.count);
    let off = 0;
    this.ctx.progress('validation', 0, valid.count);
    for (const b of batchesOf(valid, null, 2048)) {
      const ll = await t.engine.logLikelihood(b);
      for (let k = 0; k < ll.length; k++) bpd[off + k] = bitsPerDim(ll[k], valid.numVars);
      off += b.count;
      this.ctx.progress('validation', off, valid.count);
    }
    const hist = histogramOf(bpd, HISTOGRAM_BINS);
    this.bpdCache = { compiled: t.compiled, version: this.ctx.paramsVersion(), hist };
    return hist;
  }
}

// The learner's driver: HCLT -> EM epochs -> rounds of prune -> grow -> EM, keeping the best round by
// validation bpd (DESIGN.md section 1, "Schedule"). Each step is a method (`epoch`, `prune`, `grow`)
// so the CLI runs the whole schedule and the playground can step through it; every step reports an
// event. Pure (no DOM, no Node APIs): the engine decides where the arithmetic runs.

import { compileCircuit, writeParamsBack, type CompiledCircuit } from '../circuit/compile.ts';
import { growCircuit } from '../circuit/grow.ts';
import { buildHclt } from '../circuit/hclt.ts';
import { edgeScores, removeEdges, selectEdgesToPrune, type PruneCriterion } from '../circuit/prune.ts';
import { cloneCircuit, countParams, latentStates, type Circuit } from '../circuit/structure.ts';
import type { Dataset } from '../data/dataset.ts';
import type { Batch, Engine } from '../engines/engine.ts';
import { bitsPerDim } from '../util/math.ts';
import { Rng } from '../util/rng.ts';

export interface TrainConfig {
  K: number;
  seed: number;
  /** EM epochs on the initial HCLT. */
  epochs: number;
  batch: number;
  step: number;
  pseudocount: number;
  /** Full-batch EM (flows over the whole training set, step 1) instead of mini-batches. */
  fullBatch: boolean;
  rounds: number;
  prune: number;
  criterion: PruneCriterion;
  sigma: number;
  /** EM epochs after each prune + grow. */
  roundEpochs: number;
  /** Rounds without a better validation bpd before the schedule stops. */
  patience: number;
}

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  K: 32,
  seed: 1,
  epochs: 10,
  batch: 512,
  step: 0.1,
  pseudocount: 0.1,
  fullBatch: false,
  rounds: 0,
  prune: 0.75,
  criterion: 'flow',
  sigma: 0.5,
  roundEpochs: 10,
  patience: 1,
};

export interface EpochEvent {
  event: 'epoch';
  round: number;
  epoch: number;
  train_bpd: number;
  valid_bpd: number | null;
  seconds: number;
  samples_per_s: number;
  edges: number;
  params: number;
}

export interface PruneEvent {
  event: 'prune';
  criterion: PruneCriterion;
  removed_edges: number;
  /** Parameters removed: the edges plus the categorical inputs of the nodes that were dropped. */
  removed_params: number;
  /** Mean over the scored samples of -log(1 - sum_{e in E} F_e(x)) (nats); null when vacuous (some sample has sum >= 1). */
  bound_ll_drop: number | null;
  /** Mean over the scored samples of sum_{e in E} F_e(x) (the first-order form of the bound). */
  removed_flow: number;
  /** Mean over the scored samples of log p(x) - log p'(x) (nats). */
  measured_ll_drop: number;
  edges: number;
  params: number;
}

export interface GrowEvent {
  event: 'grow';
  edges: number;
  params: number;
  k: number;
}

export type TrainEvent = EpochEvent | PruneEvent | GrowEvent;

/** Per-sample details of a prune, for tests and the playground. */
export interface PruneDetails {
  marked: Uint8Array;
  llBefore: Float64Array;
  llAfter: Float64Array;
  boundPerSample: Float64Array;
}

export function* batchesOf(data: Dataset, order: ArrayLike<number> | null, size: number): Generator<Batch> {
  const D = data.numVars;
  for (let start = 0; start < data.count; start += size) {
    const count = Math.min(size, data.count - start);
    if (order === null) {
      yield { pixels: data.pixels.subarray(start * D, (start + count) * D), count };
      continue;
    }
    const pixels = new Uint8Array(count * D);
    for (let k = 0; k < count; k++) {
      const row = order[start + k];
      pixels.set(data.pixels.subarray(row * D, (row + 1) * D), k * D);
    }
    yield { pixels, count };
  }
}

/** Mean log-likelihood of a dataset (nats per sample), evaluated in chunks. */
export async function meanLogLikelihood(engine: Engine, data: Dataset, chunk = 2048): Promise<number> {
  let s = 0;
  for (const b of batchesOf(data, null, chunk)) {
    const ll = await engine.logLikelihood(b);
    for (let k = 0; k < ll.length; k++) s += ll[k];
  }
  return s / data.count;
}

export async function datasetBpd(engine: Engine, data: Dataset): Promise<number> {
  return bitsPerDim(await meanLogLikelihood(engine, data), data.numVars);
}

export class Trainer {
  readonly config: TrainConfig;
  readonly engine: Engine;
  readonly train: Dataset;
  readonly valid: Dataset | null;
  circuit: Circuit;
  compiled: CompiledCircuit;
  round = 0;
  epochInRound = 0;
  /** Best validation bpd so far and the circuit that reached it (parameters included). */
  best: { bpd: number; circuit: Circuit; round: number } | null = null;
  private readonly shuffleRng: Rng;
  private structureSeed: number;
  /** The training set the engine holds resident for fused epochs (null: none uploaded). */
  private resident: { pixels: Uint8Array; count: number } | null = null;
  /** Set when the engine could not hold the training set (e.g. over a buffer limit): loop instead. */
  private residentFailed = false;

  private constructor(config: TrainConfig, engine: Engine, train: Dataset, valid: Dataset | null, circuit: Circuit) {
    this.config = config;
    this.engine = engine;
    this.train = train;
    this.valid = valid;
    this.circuit = circuit;
    this.compiled = compileCircuit(circuit);
    this.shuffleRng = new Rng(config.seed ^ 0x5eed);
    this.structureSeed = config.seed;
  }

  /** Builds the HCLT from the training data and loads it into the engine. */
  static async create(config: TrainConfig, engine: Engine, train: Dataset, valid: Dataset | null, circuit?: Circuit): Promise<Trainer> {
    const c = circuit ?? buildHclt(train, { K: config.K, seed: config.seed });
    const t = new Trainer(config, engine, train, valid, c);
    await engine.load(t.compiled);
    await t.ensureResident();
    return t;
  }

  /** Whether epochs run on the engine's fused path (resident dataset, no per-batch read-backs). */
  get fused(): boolean {
    return !this.config.fullBatch && !this.residentFailed && !!this.engine.trainEpochIndexed && !!this.engine.uploadDataset && this.train.count > 0;
  }

  /** Uploads the training set for the fused path (once; again only if the training data changed). */
  private async ensureResident(): Promise<void> {
    if (!this.fused) return;
    const d = this.train;
    if (this.resident && this.resident.pixels === d.pixels && this.resident.count === d.count) return;
    try {
      await this.engine.uploadDataset!(d.pixels, d.count);
      this.resident = { pixels: d.pixels, count: d.count };
    } catch {
      // Too large to keep resident: the per-batch loop works on any engine.
      this.residentFailed = true;
    }
  }

  get edges(): number {
    return this.compiled.numEdges;
  }

  get params(): number {
    return countParams(this.circuit);
  }

  /** The current circuit with the engine's current parameters (for saving and exporting). */
  async snapshot(): Promise<Circuit> {
    await this.engine.syncParams();
    writeParamsBack(this.compiled, this.circuit);
    return cloneCircuit(this.circuit);
  }

  /** One pass of EM over the training data (mini-batches, or one full-batch update). */
  async epoch(onBatch?: (done: number, total: number) => void): Promise<EpochEvent> {
    const { batch, step, pseudocount, fullBatch } = this.config;
    const t0 = performance.now();
    const order = this.shuffleRng.shuffle(Int32Array.from({ length: this.train.count }, (_, i) => i));
    let llSum = 0;
    let done = 0;
    this.engine.resetFlows();
    if (this.fused) await this.ensureResident();
    if (this.fused) {
      // Fused path: the same batches, order and EM steps, with one read-back per epoch.
      const ll = await this.engine.trainEpochIndexed!(order, batch, { step, pseudocount }, onBatch);
      for (let k = 0; k < ll.length; k++) llSum += ll[k];
    } else for (const b of batchesOf(this.train, order, batch)) {
      const ll = await this.engine.accumulateFlows(b);
      for (let k = 0; k < ll.length; k++) llSum += ll[k];
      if (!fullBatch) await this.engine.emStep({ step, pseudocount });
      done += b.count;
      onBatch?.(done, this.train.count);
    }
    if (fullBatch) await this.engine.emStep({ step: 1, pseudocount });
    const seconds = (performance.now() - t0) / 1000;
    // Train bpd is the mean over the epoch's forward passes (each before that batch's update).
    const trainBpd = bitsPerDim(llSum / this.train.count, this.train.numVars);
    const validBpd = this.valid ? await datasetBpd(this.engine, this.valid) : null;
    this.epochInRound++;
    if (validBpd !== null && (this.best === null || validBpd < this.best.bpd)) {
      this.best = { bpd: validBpd, circuit: await this.snapshot(), round: this.round };
    }
    return {
      event: 'epoch',
      round: this.round,
      epoch: this.epochInRound,
      train_bpd: trainBpd,
      valid_bpd: validBpd,
      seconds,
      samples_per_s: this.train.count / seconds,
      edges: this.edges,
      params: this.params,
    };
  }

  /** Accumulated dataset flows over `data` with the current parameters; returns log p(x) per sample. */
  private async datasetFlows(data: Dataset): Promise<{ ll: Float64Array; edgeFlows: Float64Array }> {
    this.engine.resetFlows();
    const ll = new Float64Array(data.count);
    let off = 0;
    for (const b of batchesOf(data, null, 2048)) {
      ll.set(await this.engine.accumulateFlows(b), off);
      off += b.count;
    }
    const edgeFlows = await this.engine.edgeFlows();
    this.engine.resetFlows();
    return { ll, edgeFlows };
  }

  /** Prunes a fraction of the sum edges, scored on the training data. */
  async prune(fraction = this.config.prune, criterion = this.config.criterion, details?: (d: PruneDetails) => void): Promise<PruneEvent> {
    const data = this.train;
    const before = await this.snapshot();
    const paramsBefore = this.params;
    const { ll: llBefore, edgeFlows } = await this.datasetFlows(data);
    const scores = edgeScores(this.compiled, criterion, edgeFlows, this.structureSeed++);
    const marked = selectEdgesToPrune(this.compiled, scores, fraction);
    let removed = 0;
    for (let e = 0; e < marked.length; e++) removed += marked[e];
    // Per-sample removed flow, for the bound -log(1 - sum_{e in E} F_e(x)).
    const boundPerSample = new Float64Array(data.count);
    let removedFlowSum = 0;
    let off = 0;
    for (const b of batchesOf(data, null, 2048)) {
      const s = await this.engine.markedEdgeFlow(b, marked);
      for (let k = 0; k < s.length; k++) {
        removedFlowSum += s[k];
        boundPerSample[off + k] = s[k] < 1 ? -Math.log1p(-s[k]) : Infinity;
      }
      off += b.count;
    }
    await this.setCircuit(removeEdges(before, this.compiled, marked));
    const llAfter = new Float64Array(data.count);
    off = 0;
    for (const b of batchesOf(data, null, 2048)) {
      llAfter.set(await this.engine.logLikelihood(b), off);
      off += b.count;
    }
    let drop = 0;
    let bound = 0;
    for (let k = 0; k < data.count; k++) {
      drop += llBefore[k] - llAfter[k];
      bound += boundPerSample[k];
    }
    details?.({ marked, llBefore, llAfter, boundPerSample });
    return {
      event: 'prune',
      criterion,
      removed_edges: removed,
      removed_params: paramsBefore - this.params,
      bound_ll_drop: Number.isFinite(bound) ? bound / data.count : null,
      removed_flow: removedFlowSum / data.count,
      measured_ll_drop: drop / data.count,
      edges: this.edges,
      params: this.params,
    };
  }

  /** Doubles every region's latent states, with log-weight noise sigma. */
  async grow(sigma = this.config.sigma): Promise<GrowEvent> {
    const current = await this.snapshot();
    await this.setCircuit(growCircuit(current, sigma, this.structureSeed++));
    return { event: 'grow', edges: this.edges, params: this.params, k: latentStates(this.circuit) };
  }

  /** Replaces the circuit (after prune / grow / restoring the best round) and reloads the engine. */
  async setCircuit(c: Circuit): Promise<void> {
    this.circuit = c;
    this.compiled = compileCircuit(c);
    await this.engine.load(this.compiled);
  }

  /** The whole schedule: HCLT epochs, then rounds of prune -> grow -> EM with early stopping. */
  async run(onEvent: (e: TrainEvent) => void, onBatch?: (done: number, total: number) => void): Promise<void> {
    for (let e = 0; e < this.config.epochs; e++) onEvent(await this.epoch(onBatch));
    let stale = 0;
    for (let r = 1; r <= this.config.rounds; r++) {
      const bestBefore = this.best?.bpd ?? Infinity;
      this.round = r;
      this.epochInRound = 0;
      onEvent(await this.prune());
      onEvent(await this.grow());
      for (let e = 0; e < this.config.roundEpochs; e++) onEvent(await this.epoch(onBatch));
      if (this.valid) {
        stale = (this.best?.bpd ?? Infinity) < bestBefore ? 0 : stale + 1;
        if (stale >= this.config.patience) break;
      }
    }
    // Keep the best epoch by validation bpd (its parameters were snapshotted when it was reached).
    if (this.best) await this.setCircuit(cloneCircuit(this.best.circuit));
  }
}

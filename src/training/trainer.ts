// The learner's driver: HCLT -> EM epochs -> rounds of prune -> grow -> EM, keeping the best round by
// validation bpd (docs/architecture.md, "Schedules"). Each step is a method (`epoch`, `prune`, `grow`)
// so the CLI runs the whole schedule and the playground can step through it; every step reports an
// event. Pure (no DOM, no Node APIs): the engine decides where the arithmetic runs.
//
// The playground pauses between mini-batches, so an epoch also exists in pieces: `beginEpoch`,
// `trainBatch` (one mini-batch), `endEpoch`; `epoch()` is those three in a row (or the engine's fused
// path), so both give the same numbers. A prune likewise splits into `scorePrune` (what would go,
// changing nothing: the playground previews it) and `applyPrune`.

import { compileCircuit, writeParamsBack, type CompiledCircuit } from '../circuit/compile.ts';
import { growCircuit } from '../circuit/grow.ts';
import { buildHclt } from '../circuit/hclt.ts';
import { edgeScores, removeEdgesWithReport, selectEdgesToPrune, type PruneCriterion } from '../circuit/prune.ts';
import { cloneCircuit, countParams, latentStates, latentStateSpread, type Circuit } from '../circuit/structure.ts';
import type { Dataset } from '../data/dataset.ts';
import type { Batch, Engine } from '../engines/engine.ts';
import { bitsPerDim } from '../util/math.ts';
import { Rng } from '../util/rng.ts';
import type { EmOptions } from '../engines/em.ts';
import { phaseStep, roundPlan } from './schedule.ts';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from './settings.ts';

// The run configuration lives with the setting ranges (settings.ts), so the page can read the
// defaults without bundling the trainer; re-exported here for the learner's callers.
export { DEFAULT_TRAIN_CONFIG, type TrainConfig };

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
  /** Sum edges before the prune and after it (after the cascade below). */
  edges_before: number;
  edges: number;
  params: number;
  /** What went because nothing pointed to it any more (prune.ts, OrphanReport): latent states
   *  (products with their input nodes) whose every incoming edge was pruned, the child sum nodes only
   *  they used, and those sum nodes' unmarked edges. */
  orphaned_states: number;
  orphaned_sums: number;
  orphaned_edges: number;
  /** Latent states per region after the prune: min / median / max. */
  k_min: number;
  k_median: number;
  k_max: number;
}

export interface GrowEvent {
  event: 'grow';
  edges_before: number;
  edges: number;
  params: number;
  /** The largest region's latent states (K of an HCLT). */
  k: number;
  k_min: number;
  k_median: number;
  k_max: number;
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

/** Long steps report progress by task (the playground's ProgressTask names): dataset flows for
 *  pruning scores and the bound, validation, and rebuilding the engine after a structure change. */
export type TrainerProgress = (task: 'flows' | 'validation' | 'rebuild', done: number, total: number) => void;

/** What a prune will remove, computed before anything changes (the playground previews it). */
export interface PrunePlan {
  fraction: number;
  criterion: PruneCriterion;
  /** The compiled circuit the edge ids refer to; `applyPrune` refuses a plan for another one. */
  compiled: CompiledCircuit;
  /** The circuit (with current parameters) the plan removes edges from. */
  before: Circuit;
  paramsBefore: number;
  /** Per compiled edge: the score (lower goes first) and whether it is removed. */
  scores: Float64Array;
  marked: Uint8Array;
  removed: number;
  /** Dataset edge flows over the training set (sum over images) and log p(x) per training image. */
  edgeFlows: Float64Array;
  llBefore: Float64Array;
}

/** Rows `start .. start + count` of `order` gathered into one batch (the order the epoch visits them). */
function gatherBatch(data: Dataset, order: Int32Array, start: number, count: number): Batch {
  const D = data.numVars;
  const pixels = new Uint8Array(count * D);
  for (let k = 0; k < count; k++) {
    const row = order[start + k];
    pixels.set(data.pixels.subarray(row * D, (row + 1) * D), k * D);
  }
  return { pixels, count };
}

/** An epoch that `beginEpoch` started: its shuffled order, the rows done, the running sum of log p(x). */
interface EpochState {
  order: Int32Array;
  /** Batch size fixed at the start, so a configuration change mid-epoch cannot shift batch boundaries. */
  batch: number;
  next: number;
  llSum: number;
  /** Seconds spent in this epoch's batches (time paused between them does not count). */
  seconds: number;
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
  /** The best validation bpd of the current round and its circuit (the paper's schedule ends each
   *  round's EM on it). */
  roundBest: { bpd: number; circuit: Circuit; round: number } | null = null;
  private readonly shuffleRng: Rng;
  private structureSeed: number;
  /** The training set the engine holds resident for fused epochs (null: none uploaded). */
  private resident: { pixels: Uint8Array; count: number } | null = null;
  /** Set when the engine could not hold the training set (e.g. over a buffer limit): loop instead. */
  private residentFailed = false;
  /** The epoch in progress (between beginEpoch and endEpoch), or null. */
  private current: EpochState | null = null;

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

  /** Progress of the epoch in progress (rows done of the training set), or null between epochs. */
  get epochProgress(): { done: number; total: number; llSum: number } | null {
    const s = this.current;
    return s ? { done: s.next, total: this.train.count, llSum: s.llSum } : null;
  }

  /** Whether every batch of the epoch in progress has run (what is left is `endEpoch`). */
  get epochComplete(): boolean {
    return this.current !== null && this.current.next >= this.train.count;
  }

  /** Starts an epoch: draws its shuffled order (the only use of the shuffle stream) and clears flows. */
  beginEpoch(): void {
    if (this.current) throw new Error('internal: beginEpoch while an epoch is in progress');
    const order = this.shuffleRng.shuffle(Int32Array.from({ length: this.train.count }, (_, i) => i));
    this.engine.resetFlows();
    this.current = { order, batch: this.config.batch, next: 0, llSum: 0, seconds: 0 };
  }

  /**
   * The next mini-batch of the epoch in progress: forward + backward, then (mini-batch EM) its EM
   * step. With full-batch EM the flows keep accumulating until `endEpoch`. Step size and
   * pseudocount are read now, so a configuration change applies from the next batch.
   */
  async trainBatch(em: EmOptions = this.emOptions): Promise<{ done: number; total: number; llSum: number }> {
    const s = this.current;
    if (!s) throw new Error('internal: trainBatch outside an epoch (call beginEpoch first)');
    const total = this.train.count;
    if (s.next >= total) throw new Error('internal: trainBatch after the last batch of the epoch');
    const { step, pseudocount } = em;
    const { fullBatch } = this.config;
    const t0 = performance.now();
    const count = Math.min(s.batch, total - s.next);
    const ll = await this.engine.accumulateFlows(gatherBatch(this.train, s.order, s.next, count));
    for (let k = 0; k < ll.length; k++) s.llSum += ll[k];
    if (!fullBatch) await this.engine.emStep({ step, pseudocount });
    s.next += count;
    s.seconds += (performance.now() - t0) / 1000;
    return { done: s.next, total, llSum: s.llSum };
  }

  /** Ends the epoch whose batches have all run: the full-batch update if any, validation, the event. */
  async endEpoch(onProgress?: TrainerProgress, em: EmOptions = this.emOptions): Promise<EpochEvent> {
    const s = this.current;
    if (!s || s.next < this.train.count) throw new Error("internal: endEpoch before the epoch's last batch");
    const t0 = performance.now();
    if (this.config.fullBatch) await this.engine.emStep({ step: 1, pseudocount: em.pseudocount });
    this.current = null;
    return this.finishEpoch(s.llSum, s.seconds + (performance.now() - t0) / 1000, onProgress);
  }

  /**
   * One pass of EM over the training data (mini-batches, or one full-batch update): the rest of the
   * epoch in progress if there is one, else a new one. A new epoch on an engine with a fused path
   * runs it there (the same batches, order and EM steps, with one read-back per epoch).
   */
  async epoch(onBatch?: (done: number, total: number) => void, onProgress?: TrainerProgress, em: EmOptions = this.emOptions): Promise<EpochEvent> {
    const fresh = this.current === null;
    const t0 = performance.now();
    if (fresh) this.beginEpoch();
    if (fresh && this.fused) await this.ensureResident();
    if (fresh && this.fused) {
      const s = this.current!;
      this.current = null;
      const ll = await this.engine.trainEpochIndexed!(s.order, s.batch, em, onBatch);
      let llSum = 0;
      for (let k = 0; k < ll.length; k++) llSum += ll[k];
      return this.finishEpoch(llSum, (performance.now() - t0) / 1000, onProgress);
    }
    while (!this.epochComplete) {
      const r = await this.trainBatch(em);
      onBatch?.(r.done, r.total);
    }
    return this.endEpoch(onProgress, em);
  }

  /** The configured step size and pseudocount (read at each call, so a change applies next batch). */
  private get emOptions(): EmOptions {
    return { step: this.config.step, pseudocount: this.config.pseudocount };
  }

  /** Validation, best-round bookkeeping and the event of an epoch whose EM updates are done. */
  private async finishEpoch(llSum: number, trainSeconds: number, onProgress?: TrainerProgress): Promise<EpochEvent> {
    const t0 = performance.now();
    // Train bpd is the mean over the epoch's forward passes (each before that batch's update).
    const trainBpd = bitsPerDim(llSum / this.train.count, this.train.numVars);
    let validBpd: number | null = null;
    if (this.valid) {
      // The same chunks and summation order as meanLogLikelihood, with progress between chunks.
      let sum = 0;
      let done = 0;
      onProgress?.('validation', 0, this.valid.count);
      for (const b of batchesOf(this.valid, null, 2048)) {
        const ll = await this.engine.logLikelihood(b);
        for (let k = 0; k < ll.length; k++) sum += ll[k];
        done += b.count;
        onProgress?.('validation', done, this.valid.count);
      }
      validBpd = bitsPerDim(sum / this.valid.count, this.valid.numVars);
    }
    this.epochInRound++;
    if (validBpd !== null && (this.best === null || validBpd < this.best.bpd)) {
      this.best = { bpd: validBpd, circuit: await this.snapshot(), round: this.round };
    }
    // Only the paper's schedule ends a round on its best epoch (trainRound); the plain one needs no copy.
    if (
      this.config.schedule === 'paper' &&
      validBpd !== null &&
      (this.roundBest === null || this.roundBest.round !== this.round || validBpd < this.roundBest.bpd)
    ) {
      this.roundBest =
        this.best?.bpd === validBpd && this.best.round === this.round ? this.best : { bpd: validBpd, circuit: await this.snapshot(), round: this.round };
    }
    const seconds = trainSeconds + (performance.now() - t0) / 1000;
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

  /**
   * Accumulated dataset flows over `data` with the current parameters; returns log p(x) per sample.
   * Uses the engine's flow accumulators, so it may run between the batches of a mini-batch epoch
   * (each EM step leaves them empty) but not inside a full-batch epoch, whose flows they hold.
   */
  async datasetFlows(data: Dataset, onProgress?: TrainerProgress): Promise<{ ll: Float64Array; edgeFlows: Float64Array }> {
    if (this.current && this.config.fullBatch) throw new Error('internal: dataset flows inside a full-batch epoch would discard its flows');
    this.engine.resetFlows();
    const ll = new Float64Array(data.count);
    let off = 0;
    onProgress?.('flows', 0, data.count);
    for (const b of batchesOf(data, null, 2048)) {
      ll.set(await this.engine.accumulateFlows(b), off);
      off += b.count;
      onProgress?.('flows', off, data.count);
    }
    const edgeFlows = await this.engine.edgeFlows();
    this.engine.resetFlows();
    return { ll, edgeFlows };
  }

  /** Scores every sum edge on the training data and picks the ones a prune would remove; changes nothing. */
  async scorePrune(fraction = this.config.prune, criterion = this.config.criterion, onProgress?: TrainerProgress): Promise<PrunePlan> {
    this.assertBetweenEpochs('prune');
    const before = await this.snapshot();
    const paramsBefore = this.params;
    const { ll: llBefore, edgeFlows } = await this.datasetFlows(this.train, onProgress);
    const scores = edgeScores(this.compiled, criterion, edgeFlows, this.structureSeed++);
    const marked = selectEdgesToPrune(this.compiled, scores, fraction);
    let removed = 0;
    for (let e = 0; e < marked.length; e++) removed += marked[e];
    return { fraction, criterion, compiled: this.compiled, before, paramsBefore, scores, marked, removed, edgeFlows, llBefore };
  }

  /** Removes the plan's edges (measuring the bound first and the actual drop after). */
  async applyPrune(plan: PrunePlan, details?: (d: PruneDetails) => void, onProgress?: TrainerProgress): Promise<PruneEvent> {
    if (plan.compiled !== this.compiled) throw new Error('internal: the prune plan is for a circuit that is no longer loaded');
    this.assertBetweenEpochs('prune');
    const data = this.train;
    const { marked, llBefore } = plan;
    // Per-sample removed flow, for the bound -log(1 - sum_{e in E} F_e(x)).
    const boundPerSample = new Float64Array(data.count);
    let removedFlowSum = 0;
    let off = 0;
    onProgress?.('flows', 0, data.count);
    for (const b of batchesOf(data, null, 2048)) {
      const s = await this.engine.markedEdgeFlow(b, marked);
      for (let k = 0; k < s.length; k++) {
        removedFlowSum += s[k];
        boundPerSample[off + k] = s[k] < 1 ? -Math.log1p(-s[k]) : Infinity;
      }
      off += b.count;
      onProgress?.('flows', off, data.count);
    }
    onProgress?.('rebuild', 0, 0);
    const edgesBefore = this.edges;
    const { circuit: pruned, orphans } = removeEdgesWithReport(plan.before, this.compiled, marked);
    await this.setCircuit(pruned);
    const llAfter = new Float64Array(data.count);
    off = 0;
    for (const b of batchesOf(data, null, 2048)) {
      llAfter.set(await this.engine.logLikelihood(b), off);
      off += b.count;
      onProgress?.('rebuild', off, data.count);
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
      criterion: plan.criterion,
      removed_edges: plan.removed,
      removed_params: plan.paramsBefore - this.params,
      bound_ll_drop: Number.isFinite(bound) ? bound / data.count : null,
      removed_flow: removedFlowSum / data.count,
      measured_ll_drop: drop / data.count,
      edges_before: edgesBefore,
      edges: this.edges,
      params: this.params,
      orphaned_states: orphans.states,
      orphaned_sums: orphans.sums,
      orphaned_edges: orphans.edges,
      ...this.kSpread(),
    };
  }

  private kSpread(): { k_min: number; k_median: number; k_max: number } {
    const { min, median, max } = latentStateSpread(this.circuit);
    return { k_min: min, k_median: median, k_max: max };
  }

  /** Prunes a fraction of the sum edges, scored on the training data. */
  async prune(
    fraction = this.config.prune,
    criterion = this.config.criterion,
    details?: (d: PruneDetails) => void,
    onProgress?: TrainerProgress,
  ): Promise<PruneEvent> {
    return this.applyPrune(await this.scorePrune(fraction, criterion, onProgress), details, onProgress);
  }

  /** Structure changes reload the engine, which would strand an epoch's order and flows half-way. */
  private assertBetweenEpochs(what: string): void {
    if (this.current) throw new Error(`internal: ${what} while an epoch is in progress (finish it first)`);
  }

  /** Doubles every region's latent states, with log-weight noise sigma. */
  async grow(sigma = this.config.sigma): Promise<GrowEvent> {
    this.assertBetweenEpochs('grow');
    const current = await this.snapshot();
    const edgesBefore = this.edges;
    await this.setCircuit(growCircuit(current, sigma, this.structureSeed++));
    return { event: 'grow', edges_before: edgesBefore, edges: this.edges, params: this.params, k: latentStates(this.circuit), ...this.kSpread() };
  }

  /** Replaces the circuit (after prune / grow / restoring the best round) and reloads the engine. */
  async setCircuit(c: Circuit): Promise<void> {
    this.assertBetweenEpochs('a structure change');
    this.circuit = c;
    this.compiled = compileCircuit(c);
    await this.engine.load(this.compiled);
  }

  /**
   * One round's EM by the schedule (schedule.ts): its phases, each epoch at the phase's annealed
   * step; with a validation set, the paper's early stopping ends the round after `patience` epochs
   * without a better validation bpd (past the warm-up), and the round ends on its best epoch's
   * parameters (the next prune starts from them).
   */
  async trainRound(onEvent: (e: TrainEvent) => void, onBatch?: (done: number, total: number) => void): Promise<void> {
    const plan = roundPlan(this.config, this.round);
    let bestInRound = Infinity;
    let stale = 0;
    let epochs = 0;
    phases: for (const phase of plan.phases) {
      for (let t = 0; t < phase.epochs; t++) {
        const ev = await this.epoch(onBatch, undefined, { step: phaseStep(phase, t), pseudocount: this.config.pseudocount });
        onEvent(ev);
        epochs++;
        if (ev.valid_bpd === null) continue;
        if (ev.valid_bpd < bestInRound) {
          bestInRound = ev.valid_bpd;
          stale = 0;
        } else stale++;
        if (epochs > plan.warmup && stale >= plan.patience) break phases;
      }
    }
    const rb = this.roundBest;
    if (plan.patience < Infinity && rb && rb.round === this.round && stale > 0) await this.setCircuit(cloneCircuit(rb.circuit));
  }

  /** The whole schedule: the HCLT's EM, then rounds of prune -> grow -> EM until `rounds` or until
   *  `patience` rounds bring no better validation bpd; the best epoch's circuit is kept.
   *
   *  Under the paper's schedule the loop compares its own rounds only, as samesize_loop.jl `train`
   *  does (it pushes each round's validation likelihood, never the starting HCLT's): the first round
   *  always runs, the next ones until `patience` rounds bring no better validation bpd than the best
   *  round so far, and the model kept (`best`) is the best round, never the HCLT it started from.
   *  The plain schedule keeps the best epoch of the whole run, the HCLT included. */
  async run(onEvent: (e: TrainEvent) => void, onBatch?: (done: number, total: number) => void): Promise<void> {
    await this.trainRound(onEvent, onBatch);
    const paper = this.config.schedule === 'paper';
    let loopBest: { bpd: number; circuit: Circuit; round: number } | null = null;
    const bestSoFar = (): number => (paper ? loopBest : this.best)?.bpd ?? Infinity;
    let stale = 0;
    for (let r = 1; r <= this.config.rounds; r++) {
      const bestBefore = bestSoFar();
      this.round = r;
      this.epochInRound = 0;
      onEvent(await this.prune());
      onEvent(await this.grow());
      await this.trainRound(onEvent, onBatch);
      if (this.valid) {
        const rb = this.roundBest;
        if (paper && rb && rb.round === r && rb.bpd < bestBefore) loopBest = rb;
        stale = bestSoFar() < bestBefore ? 0 : stale + 1;
        if (stale >= this.config.patience) break;
      }
    }
    if (paper && loopBest) this.best = loopBest;
    // Keep the best epoch by validation bpd (its parameters were snapshotted when it was reached).
    if (this.best) await this.setCircuit(cloneCircuit(this.best.circuit));
  }
}

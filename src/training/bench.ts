// Engine throughput measurements shared by `cli bench` and the browser's bench.html: forward, and
// forward + backward + mini-batch EM, on an HCLT of the embedded digits, optionally again after
// pruning a fraction of the sum edges by flow. Figures, not assertions.
//
// Each figure is the best of `repeats` runs, and the unpruned and pruned circuits are timed in turn
// (U P U P ...), so that load from other processes, which only ever slows a run down, does not land
// on one side of the pruned speed-up.

import { compileCircuit, type CompiledCircuit } from '../circuit/compile.ts';
import { buildTreeCircuit } from '../circuit/tree.ts';
import { subset, type Dataset } from '../data/dataset.ts';
import type { Engine } from '../engines/engine.ts';
import { Rng } from '../util/rng.ts';
import { batchesOf, DEFAULT_TRAIN_CONFIG, Trainer } from './trainer.ts';

export interface BenchRow {
  event: 'bench';
  engine: string;
  adapter: string;
  k: number;
  edges: number;
  forward_samples_per_s: number;
  train_samples_per_s: number;
  train_edge_samples_per_s: number;
  pruned_edges?: number;
  pruned_train_samples_per_s?: number;
  pruned_speedup?: number;
  /** Timed runs per figure (the best is reported). */
  repeats: number;
  /** Every run's train samples/s, unpruned and pruned, in the order they ran. */
  train_runs: number[];
  pruned_train_runs?: number[];
  /** Per-layer milliseconds of the last timed batch, when the engine measures them. */
  layer_ms?: Array<{ label: string; ms: number }>;
  /** The GPU engine's kernel family per pass, unpruned and pruned (tuned, or by its rules). */
  kernels?: string;
  pruned_kernels?: string;
  /** What the GPU engine's kernel tuning measured: per pass, GPU ms per chunk of each candidate. */
  kernel_tuning_ms?: TuningMs;
  pruned_kernel_tuning_ms?: TuningMs;
}

type TuningMs = Record<string, Record<string, number>>;

/** Optional per-layer timings (the WebGPU engine with timestamp-query) and kernel choices. */
interface TimedEngine extends Engine {
  layerTimings?: () => Promise<Array<{ label: string; ms: number }>>;
  readonly kernelSummary?: string;
  readonly kernelTuning?: { ms: TuningMs } | null;
}

/** Samples per second of forward passes over `data` (one warm-up batch first). */
export async function forwardRate(engine: Engine, data: Dataset, batch: number): Promise<number> {
  await engine.logLikelihood(batchesOf(data, null, batch).next().value!);
  const t0 = performance.now();
  for (const b of batchesOf(data, null, batch)) await engine.logLikelihood(b);
  return data.count / ((performance.now() - t0) / 1000);
}

/** Samples per second of forward + backward + mini-batch EM (one warm-up batch first). On an engine
 *  with the fused path (resident dataset, no per-batch read-backs) it times that path over the same
 *  samples in the same batches. */
export async function trainRate(engine: Engine, data: Dataset, batch: number): Promise<number> {
  const opts = { step: DEFAULT_TRAIN_CONFIG.step, pseudocount: DEFAULT_TRAIN_CONFIG.pseudocount };
  if (engine.trainEpochIndexed && engine.uploadDataset) {
    await engine.uploadDataset(data.pixels, data.count);
    const order = Int32Array.from({ length: data.count }, (_, i) => i);
    // Warm-up (and the engine's calibration of its waits) on the first batch.
    await engine.trainEpochIndexed(order.subarray(0, Math.min(batch, data.count)), batch, opts);
    const t0 = performance.now();
    await engine.trainEpochIndexed(order, batch, opts);
    return data.count / ((performance.now() - t0) / 1000);
  }
  await engine.accumulateFlows(batchesOf(data, null, batch).next().value!);
  await engine.emStep(opts);
  const t0 = performance.now();
  for (const b of batchesOf(data, null, batch)) {
    await engine.accumulateFlows(b);
    await engine.emStep(opts);
  }
  return data.count / ((performance.now() - t0) / 1000);
}

/** A fixed, class-mixed sample of `count` digits (the embedded file is grouped by class). */
export function benchSample(all: Dataset, count: number): Dataset {
  const order = new Rng(1).shuffle(Int32Array.from({ length: all.count }, (_, i) => i));
  return subset(all, order.subarray(0, Math.min(count, all.count)), `${all.name} (bench sample)`);
}

/** One bench row: HCLT with K states per variable over `tree`, timed on `timed`; figures are the
 *  best of `repeats` runs, unpruned and pruned runs alternating. */
export async function benchOne(
  engine: Engine,
  engineName: string,
  tree: Int32Array,
  timed: Dataset,
  k: number,
  batch: number,
  prune?: number,
  repeats = 1,
): Promise<BenchRow> {
  const circuit = buildTreeCircuit(tree, timed.numValues, k, new Rng(1));
  const cc = compileCircuit(circuit);
  await engine.load(cc);
  let fwd = 0;
  for (let r = 0; r < repeats; r++) fwd = Math.max(fwd, await forwardRate(engine, timed, batch));
  let pruned: CompiledCircuit | null = null;
  if (prune !== undefined) {
    // Pruned by the flows of the timed sample (the trainer's prune: flow scores, renormalised).
    const trainer = await Trainer.create({ ...DEFAULT_TRAIN_CONFIG, K: k }, engine, timed, null, circuit);
    await trainer.prune(prune, 'flow');
    pruned = trainer.compiled;
  }
  const trainRuns: number[] = [];
  const prunedRuns: number[] = [];
  let timings: Array<{ label: string; ms: number }> | undefined;
  let kernels: string | undefined;
  let prunedKernels: string | undefined;
  let tuning: TuningMs | undefined;
  let prunedTuning: TuningMs | undefined;
  for (let r = 0; r < repeats; r++) {
    await engine.load(cc);
    trainRuns.push(await trainRate(engine, timed, batch));
    kernels = (engine as TimedEngine).kernelSummary;
    tuning = (engine as TimedEngine).kernelTuning?.ms;
    if (r === repeats - 1) timings = await (engine as TimedEngine).layerTimings?.();
    if (pruned) {
      await engine.load(pruned);
      prunedRuns.push(await trainRate(engine, timed, batch));
      prunedKernels = (engine as TimedEngine).kernelSummary;
      prunedTuning = (engine as TimedEngine).kernelTuning?.ms;
    }
  }
  const train = Math.max(...trainRuns);
  const row: BenchRow = {
    event: 'bench',
    engine: engineName,
    adapter: engine.adapter,
    k,
    edges: cc.numEdges,
    forward_samples_per_s: fwd,
    train_samples_per_s: train,
    train_edge_samples_per_s: train * cc.numEdges,
    repeats,
    train_runs: trainRuns,
  };
  if (timings && timings.length > 0) row.layer_ms = timings;
  if (kernels) row.kernels = kernels;
  if (tuning) row.kernel_tuning_ms = tuning;
  if (pruned) {
    const best = Math.max(...prunedRuns);
    row.pruned_edges = pruned.numEdges;
    row.pruned_train_samples_per_s = best;
    row.pruned_speedup = best / train;
    row.pruned_train_runs = prunedRuns;
    if (prunedKernels) row.pruned_kernels = prunedKernels;
    if (prunedTuning) row.pruned_kernel_tuning_ms = prunedTuning;
  }
  return row;
}

export function describeBenchRow(r: BenchRow): string {
  let text = `${r.engine} (${r.adapter}) K=${r.k}: ${r.edges} edges, forward ${Math.round(r.forward_samples_per_s)} samples/s, train ${Math.round(r.train_samples_per_s)} samples/s = ${r.train_edge_samples_per_s.toExponential(2)} edge-samples/s`;
  if (r.pruned_speedup !== undefined) {
    text += `; pruned to ${r.pruned_edges} edges: train ${Math.round(r.pruned_train_samples_per_s!)} samples/s (${r.pruned_speedup.toFixed(2)}x)`;
  }
  if (r.repeats > 1) text += ` (best of ${r.repeats} runs)`;
  if (r.kernels) text += `; kernels: ${r.kernels}${r.pruned_kernels ? `, pruned: ${r.pruned_kernels}` : ''}`;
  return text;
}

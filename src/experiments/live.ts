// The playground's live prune-curve: the sizes it offers, the messages between the page and its
// experiment worker, and the run itself (embedded digits in, result out) on a one-thread CPU engine
// (the worker is the only thread it has). Pure apart from the engine: the worker calls `runLive`,
// the page only imports the types.

import type { Dataset } from '../data/dataset.ts';
import { CpuEngine } from '../engines/cpu/engine.ts';
import { prepareExperimentData } from './data.ts';
import { PRUNE_CURVE_SIZES, runPruneCurve, type PruneCurveResult } from './prune-curve.ts';
import type { ExperimentProgress } from './types.ts';

export const LIVE_SIZES = ['tiny', 'live'] as const;
export type LiveSize = (typeof LIVE_SIZES)[number];

/** What each size does, in words for the size choice. */
export function describeLiveSize(size: LiveSize): string {
  const s = PRUNE_CURVE_SIZES[size];
  const runs = s.options.fractions.length * (2 + s.options.randomSeeds);
  return `HCLT K=${s.options.K}, ${s.data.trainCount.toLocaleString('en-US')} training digits, ${s.options.epochs} epochs, ${runs} prunes`;
}

export type ToExperimentWorker = { type: 'run'; dataUrl: string; size: LiveSize; seed: number };

export type FromExperimentWorker =
  { type: 'progress'; progress: ExperimentProgress } | { type: 'result'; result: PruneCurveResult } | { type: 'error'; message: string };

/** Runs prune-curve at a live size on `pool` (the embedded digits), held-out digits as the test set. */
export async function runLive(pool: Dataset, size: LiveSize, seed: number, onProgress: (p: ExperimentProgress) => void): Promise<PruneCurveResult> {
  const s = PRUNE_CURVE_SIZES[size];
  const data = prepareExperimentData(pool, null, { seed, ...s.data }, 'held out in the page');
  return runPruneCurve(async () => new CpuEngine({ threads: 1, precision: 'float32' }), data, { ...s.options, seed }, onProgress);
}

// The ranges of the learning settings, in one table read by the command line (src/cli/commands/),
// the playground's URL schema (src/ui/url-state.ts) and the training worker's session
// (src/worker/session.ts), so that a value one of them accepts means the same in the others.
//
// Each setting has the range the learner accepts (`max`), and where a browser tab should ask for less
// (a shared link or the playground's own controls; the tab's memory and time are the visitor's), the
// playground's limit (`browserMax`). The CLI uses `max`; the URL schema and the session use
// `browserMax ?? max`. Also the run configuration itself (TrainConfig) and its defaults. Pure: no DOM,
// no Node, no engine.

import type { PruneCriterion } from '../circuit/prune.ts';
import { PAPER_SCHEDULE, type ScheduleName } from './schedule.ts';

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
  /** `plain`: fixed step, `epochs` then `roundEpochs` per round; `paper`: the paper's annealed EM
   *  phases with early stopping (schedule.ts). */
  schedule: ScheduleName;
  /** `paper`: epochs per EM phase (the paper: 50). */
  phaseEpochs: number;
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
  schedule: 'plain',
  phaseEpochs: PAPER_SCHEDULE.phaseEpochs,
};

export interface SettingRange {
  /** Whole numbers only. */
  integer: boolean;
  min: number;
  /** `min` itself is refused (a step size of 0 never learns). */
  minExclusive?: boolean;
  max: number;
  /** The playground's limit, where it is lower than the learner's. */
  browserMax?: number;
}

export const SETTING_RANGES = {
  // 1024 latent states per region: 784 * 1024^2 = 8e8 sum edges, past any machine this runs on.
  // In a tab, 64: the CPU fallback takes minutes per epoch at K = 32 already.
  K: { integer: true, min: 1, max: 1024, browserMax: 64 },
  seed: { integer: true, min: 0, max: 2 ** 31 - 1 },
  batch: { integer: true, min: 1, max: 65536, browserMax: 4096 },
  step: { integer: false, min: 0, minExclusive: true, max: 1 },
  pseudocount: { integer: false, min: 0, max: 1e6, browserMax: 10 },
  epochs: { integer: true, min: 0, max: 10000, browserMax: 100 },
  roundEpochs: { integer: true, min: 0, max: 10000, browserMax: 100 },
  rounds: { integer: true, min: 0, max: 1000, browserMax: 10 },
  // Below 1: pruning every prunable edge would leave nothing to grow back from.
  prune: { integer: false, min: 0, max: 0.99 },
  sigma: { integer: false, min: 0, max: 100, browserMax: 2 },
  // At most half in a tab, so training keeps most of the data.
  validFrac: { integer: false, min: 0, max: 0.99, browserMax: 0.5 },
  // 0 means all; in a tab the largest is full MNIST's training set.
  images: { integer: true, min: 0, max: 2 ** 31 - 1, browserMax: 60000 },
} as const satisfies Record<string, SettingRange>;

export type SettingName = keyof typeof SETTING_RANGES;

/** The range where `scope` applies it: the learner's (CLI) or the playground's. */
export function settingRange(name: SettingName, scope: 'cli' | 'browser'): { integer: boolean; min: number; max: number; minExclusive: boolean } {
  const r: SettingRange = SETTING_RANGES[name];
  return { integer: r.integer, min: r.min, max: scope === 'browser' ? (r.browserMax ?? r.max) : r.max, minExclusive: r.minExclusive ?? false };
}

/** What is wrong with `v` as setting `name` ("must be a whole number from 1 to 64"), or null when it is in range. */
export function settingProblem(name: SettingName, v: unknown, scope: 'cli' | 'browser'): string | null {
  const r = settingRange(name, scope);
  const ok = typeof v === 'number' && Number.isFinite(v) && (!r.integer || Number.isInteger(v)) && (r.minExclusive ? v > r.min : v >= r.min) && v <= r.max;
  if (ok) return null;
  if (r.integer) return `must be a whole number from ${r.min} to ${r.max}`;
  return r.minExclusive ? `must be a number above ${r.min} and at most ${r.max}` : `must be a number from ${r.min} to ${r.max}`;
}

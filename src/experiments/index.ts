// The experiments by name, for the CLI (and anything else that runs one by name): each with its sizes,
// its runner, its figure and the sentences that summarise a result. Pure: no Node APIs.

import type { DataPlan } from './data.ts';
import type { Figure } from './plot.ts';
import {
  percent,
  PRUNE_CURVE_SIZES,
  pruneCurveFigure,
  runPruneCurve,
  summarizePruneCurve,
  type PruneCurveOptions,
  type PruneCurveResult,
} from './prune-curve.ts';
import { COMPRESS_SIZES, compressFigure, compressSummaryLines, runCompress, type CompressOptions, type CompressResult } from './compress.ts';
import { PRUNE_GROW_SIZES, pruneGrowFigure, pruneGrowSummaryLines, runPruneGrow, type PruneGrowOptions, type PruneGrowResult } from './prune-grow.ts';
import type { EngineFactory, ExperimentData, ExperimentName, ProgressFn } from './types.ts';

export type ExperimentResult = PruneCurveResult | PruneGrowResult | CompressResult;
type AnyOptions = PruneCurveOptions | PruneGrowOptions | CompressOptions;

export interface ExperimentSpec {
  summary: string;
  sizes: { default: { options: AnyOptions; data: Omit<DataPlan, 'seed'> }; quick: { options: AnyOptions; data: Omit<DataPlan, 'seed'> } };
  run(makeEngine: EngineFactory, data: ExperimentData, options: AnyOptions, onProgress?: ProgressFn): Promise<ExperimentResult>;
  figure(result: ExperimentResult, note?: string): Figure;
  summaryLines(result: ExperimentResult): string[];
  /** The result with its derived fields recomputed from its measurements (for --replot after a code change). */
  resummarize(result: ExperimentResult): ExperimentResult;
}

const f4 = (v: number | null | undefined): string => (v === null || v === undefined ? 'n/a' : v.toFixed(4));

export function pruneCurveSummaryLines(r: PruneCurveResult): string[] {
  const s = r.summary;
  const pct = percent(s.at_fraction);
  return [
    `unpruned HCLT K=${r.options.K}: ${r.base.edges} sum edges, train ${f4(r.base.train_bpd)} bpd, test ${f4(r.base.test_bpd)} bpd (${r.data.test_source})`,
    `at ${pct} pruned, test bpd: flow ${f4(s.flow_test_bpd)}, magnitude ${f4(s.magnitude_test_bpd)}, random ${f4(s.random_test_bpd)} (flow beats random: ${s.flow_beats_random}, beats magnitude: ${s.flow_beats_magnitude})`,
    `flow pruning stays within 1 % of the unpruned test bpd up to ${s.flow_within_1pct_up_to === null ? 'no fraction tried' : `${percent(s.flow_within_1pct_up_to)} of the edges removed`}`,
    `bound: finite (mean over all samples) at ${s.points_with_finite_bound} point${s.points_with_finite_bound === 1 ? '' : 's'}, for flow up to ${s.flow_bound_finite_up_to === null ? 'none' : percent(s.flow_bound_finite_up_to)} removed; measured drop never above it: ${s.bound_holds}`,
  ];
}

export const EXPERIMENTS: Record<ExperimentName, ExperimentSpec> = {
  'prune-curve': {
    summary: 'Prune one trained HCLT by flow, magnitude and random at 10 ... 90 %: train and test bpd against edges kept, with the bound.',
    sizes: PRUNE_CURVE_SIZES,
    run: (m, d, o, p) => runPruneCurve(m, d, o as PruneCurveOptions, p),
    figure: (r, note) => pruneCurveFigure(r as PruneCurveResult, note),
    summaryLines: (r) => pruneCurveSummaryLines(r as PruneCurveResult),
    resummarize: (r) => {
      const c = r as PruneCurveResult;
      return { ...c, summary: summarizePruneCurve(c.points, c.base.test_bpd) };
    },
  },
  'prune-grow': {
    summary: "The paper's loop (HCLT, then prune 75 % -> grow -> annealed EM rounds) against dense HCLTs with the same sum edges, trained to convergence.",
    sizes: PRUNE_GROW_SIZES,
    run: (m, d, o, p) => runPruneGrow(m, d, o as PruneGrowOptions, p),
    figure: (r, note) => pruneGrowFigure(r as PruneGrowResult, note),
    summaryLines: (r) => pruneGrowSummaryLines(r as PruneGrowResult),
    resummarize: (r) => r,
  },
  compress: {
    summary: 'Prune by flow in rounds of 10 % with EM between until validation bpd is 1 % worse than the start.',
    sizes: COMPRESS_SIZES,
    run: (m, d, o, p) => runCompress(m, d, o as CompressOptions, p),
    figure: (r, note) => compressFigure(r as CompressResult, note),
    summaryLines: (r) => compressSummaryLines(r as CompressResult),
    resummarize: (r) => r,
  },
};

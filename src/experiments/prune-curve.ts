// Experiment `prune-curve` (the paper's pruning figure): train one HCLT, then prune copies of it by
// `flow`, `magnitude` and `random` at fractions 0.1 ... 0.9 and measure train and test bpd against
// the fraction of sum edges kept, with the theoretical bound for the flow criterion.
//
// The trained circuit is scored once (dataset edge flows over the whole training set, as
// Trainer.scorePrune does) and every prune starts from that same circuit, with no EM afterwards:
// the curve shows what removal alone costs. Two engines are held: one keeps the trained circuit (its
// per-sample removed flows give the bound, Trainer.applyPrune's formula), the other loads each
// pruned copy, so the dense circuit is never reloaded. Train bpd and the bound are measured on a
// seeded slice of the training set (the bound holds per sample, so on any subset) and test bpd on
// the whole test set the data carries.

import { compileCircuit } from '../circuit/compile.ts';
import { edgeScores, removeEdges, selectEdgesToPrune, type PruneCriterion } from '../circuit/prune.ts';
import { countParams, countSumEdges } from '../circuit/structure.ts';
import type { Dataset } from '../data/dataset.ts';
import type { Engine } from '../engines/engine.ts';
import { batchesOf, DEFAULT_TRAIN_CONFIG, Trainer, type TrainConfig } from '../training/trainer.ts';
import { bitsPerDim } from '../util/math.ts';
import { seededSubset, type DataPlan } from './data.ts';
import { COLORS, type Figure, type Panel, type Series } from './plot.ts';
import {
  REFERENCE_EM,
  secondsSince,
  summarizeData,
  type DataSummary,
  type EmSettings,
  type EngineFactory,
  type EpochRow,
  type ExperimentData,
  type ProgressFn,
} from './types.ts';

export interface PruneCurveOptions {
  K: number;
  epochs: number;
  em: EmSettings;
  seed: number;
  /** Fractions of the sum edges to remove (of the trained circuit's edges). */
  fractions: number[];
  criteria: PruneCriterion[];
  /** Seeds of the random criterion (each its own curve; the plot shows their mean and range). */
  randomSeeds: number;
  /** Which criteria get the bound (one extra pass over the evaluation data per prune). */
  boundFor: 'flow' | 'all';
  /** Training images the bpd and the bound are measured on, a seeded slice (0: all). */
  evalTrain: number;
}

/** Sizes: `default` for docs/results, `quick` for CI, `live` and `tiny` for the playground and its e2e test. */
export const PRUNE_CURVE_SIZES = {
  default: {
    options: {
      K: 32,
      epochs: 10,
      em: REFERENCE_EM,
      seed: 1,
      fractions: [0.001, 0.003, 0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
      criteria: ['flow', 'magnitude', 'random'],
      randomSeeds: 3,
      boundFor: 'flow',
      evalTrain: 1000,
    },
    data: { validFrac: 0.1, trainCount: 0, validCount: 0, testCount: 2000, holdout: 1000 },
  },
  quick: {
    options: {
      K: 8,
      epochs: 2,
      em: { batch: 250, step: 0.1, pseudocount: 0.1 },
      seed: 1,
      fractions: [0.001, 0.5, 0.9],
      criteria: ['flow', 'magnitude', 'random'],
      randomSeeds: 2,
      boundFor: 'all',
      evalTrain: 300,
    },
    data: { validFrac: 0.1, trainCount: 1000, validCount: 200, testCount: 300, holdout: 1000 },
  },
  live: {
    options: {
      K: 8,
      epochs: 3,
      em: { batch: 250, step: 0.1, pseudocount: 0.1 },
      seed: 1,
      fractions: [0.001, 0.1, 0.3, 0.5, 0.7, 0.9],
      criteria: ['flow', 'magnitude', 'random'],
      randomSeeds: 3,
      boundFor: 'flow',
      evalTrain: 500,
    },
    data: { validFrac: 0.1, trainCount: 2000, validCount: 300, testCount: 500, holdout: 1000 },
  },
  tiny: {
    options: {
      K: 4,
      epochs: 2,
      em: { batch: 200, step: 0.1, pseudocount: 0.1 },
      seed: 1,
      fractions: [0.002, 0.5, 0.8],
      criteria: ['flow', 'magnitude', 'random'],
      randomSeeds: 1,
      boundFor: 'flow',
      evalTrain: 200,
    },
    data: { validFrac: 0.1, trainCount: 600, validCount: 100, testCount: 200, holdout: 500 },
  },
} satisfies Record<string, { options: PruneCurveOptions; data: Omit<DataPlan, 'seed'> }>;

export type PruneCurveSize = keyof typeof PRUNE_CURVE_SIZES;

export interface PruneCurvePoint {
  criterion: PruneCriterion;
  /** Seed index of the random criterion (null for the deterministic ones). */
  seed: number | null;
  fraction: number;
  edges: number;
  /** Sum edges kept / sum edges of the trained circuit (below 1 - fraction when nodes become unreachable). */
  edges_kept: number;
  params: number;
  train_bpd: number;
  test_bpd: number;
  /** Mean log p(x) drop (nats) on the training slice and on the test set. */
  train_ll_drop: number;
  test_ll_drop: number;
  /** Mean of -log(1 - sum_{e in E} F_e(x)) (nats); null when vacuous for some sample or not computed. */
  train_bound_ll_drop: number | null;
  test_bound_ll_drop: number | null;
  /** The bpd the bound allows: the unpruned bpd plus the bound in bits per dimension. */
  train_bound_bpd: number | null;
  test_bound_bpd: number | null;
  /** Mean removed flow sum_{e in E} F_e(x) on the training slice (null when the bound was not computed):
   *  the first-order form of the bound (for small flows); in nats like the drops. */
  removed_flow: number | null;
  /** Over the samples whose bound is finite (removed flow < 1): their share, mean drop and mean bound
   *  (nats). The bound says nothing about the others, so this is where it can be checked. */
  train_informative: InformativeStats | null;
  test_informative: InformativeStats | null;
  /** Samples (train slice + test) whose drop exceeds their bound beyond float rounding (null: not computed). */
  bound_violations: number | null;
  /** Largest per-sample drop minus bound (nats), null when not computed or vacuous everywhere. */
  max_excess: number | null;
}

export interface InformativeStats {
  share: number;
  drop: number | null;
  bound: number | null;
}

export interface PruneCurveResult {
  experiment: 'prune-curve';
  options: PruneCurveOptions;
  data: DataSummary & { eval_train: number };
  engine: string;
  base: { num_vars: number; edges: number; params: number; train_bpd: number; test_bpd: number; valid_bpd: number | null; epochs: EpochRow[] };
  points: PruneCurvePoint[];
  summary: {
    /** The fraction nearest 0.5 among those run. */
    at_fraction: number;
    flow_test_bpd: number | null;
    magnitude_test_bpd: number | null;
    random_test_bpd: number | null;
    flow_beats_random: boolean | null;
    flow_beats_magnitude: boolean | null;
    /** Every point with a finite bound: mean drop <= mean bound (train and test), likewise over the
     *  samples where the bound is finite, and no per-sample violation. */
    bound_holds: boolean;
    points_with_finite_bound: number;
    /** Largest fraction at which flow pruning costs at most 1 % of the unpruned test bpd. */
    flow_within_1pct_up_to: number | null;
    /** Largest fraction at which the flow bound (mean over the training slice) is finite. */
    flow_bound_finite_up_to: number | null;
  };
  /** Relative per-sample tolerance of the bound check (float32 rounding of log p(x) ~ -700 nats). */
  tolerance: string;
  seconds: number;
}

/** A fraction as a percentage with as many decimals as small fractions need (0.1 %, 10 %). */
export function percent(f: number): string {
  const v = f * 100;
  return `${Number.isInteger(v) ? v : +v.toPrecision(2)} %`;
}

/** Relative tolerance on |log p(x)| when comparing a sample's drop with its bound (float32 engines). */
export const BOUND_RELATIVE_TOLERANCE = 1e-5;

async function logLikelihoods(engine: Engine, data: Dataset): Promise<Float64Array> {
  const out = new Float64Array(data.count);
  let off = 0;
  for (const b of batchesOf(data, null, 2048)) {
    out.set(await engine.logLikelihood(b), off);
    off += b.count;
  }
  return out;
}

/** Per sample: -log(1 - sum of the marked edges' flows), Infinity where that sum reaches 1. */
async function boundPerSample(engine: Engine, data: Dataset, marked: Uint8Array): Promise<{ bound: Float64Array; removedFlow: number }> {
  const bound = new Float64Array(data.count);
  let removedFlow = 0;
  let off = 0;
  for (const b of batchesOf(data, null, 2048)) {
    const s = await engine.markedEdgeFlow(b, marked);
    for (let k = 0; k < s.length; k++) {
      removedFlow += s[k];
      bound[off + k] = s[k] < 1 ? -Math.log1p(-s[k]) : Infinity;
    }
    off += b.count;
  }
  return { bound, removedFlow: removedFlow / data.count };
}

const meanOf = (a: Float64Array): number => a.reduce((s, v) => s + v, 0) / a.length;

/** Mean drop, mean bound (null if vacuous), per-sample violations and the largest excess. */
function compare(before: Float64Array, after: Float64Array, bound: Float64Array | null) {
  let drop = 0;
  let b = 0;
  let violations = 0;
  let maxExcess = -Infinity;
  let nInf = 0;
  let dropInf = 0;
  let boundInf = 0;
  for (let k = 0; k < before.length; k++) {
    const d = before[k] - after[k];
    drop += d;
    if (!bound) continue;
    b += bound[k];
    if (Number.isFinite(bound[k])) {
      nInf++;
      dropInf += d;
      boundInf += bound[k];
      maxExcess = Math.max(maxExcess, d - bound[k]);
      if (d > bound[k] + BOUND_RELATIVE_TOLERANCE * Math.abs(before[k])) violations++;
    }
  }
  const n = before.length;
  return {
    drop: drop / n,
    bound: bound && Number.isFinite(b) ? b / n : null,
    violations: bound ? violations : null,
    maxExcess: bound && Number.isFinite(maxExcess) ? maxExcess : null,
    informative: bound ? { share: nInf / n, drop: nInf ? dropInf / nInf : null, bound: nInf ? boundInf / nInf : null } : null,
  };
}

export async function runPruneCurve(
  makeEngine: EngineFactory,
  data: ExperimentData,
  opts: PruneCurveOptions,
  onProgress?: ProgressFn,
): Promise<PruneCurveResult> {
  const t0 = performance.now();
  const D = data.train.numVars;
  const runs = opts.criteria.reduce((n, c) => n + (c === 'random' ? opts.randomSeeds : 1), 0) * opts.fractions.length;
  const steps = opts.epochs + 2 + runs;
  let step = 0;
  const report = (stage: string, message: string): void => onProgress?.({ event: 'progress', experiment: 'prune-curve', stage, step: ++step, steps, message });
  const config: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, K: opts.K, seed: opts.seed, epochs: opts.epochs, ...opts.em, rounds: 0 };
  const dense = await makeEngine();
  let pruned: Engine | null = null;
  try {
    pruned = await makeEngine();
    const trainer = await Trainer.create(config, dense, data.train, data.valid);
    const epochs: EpochRow[] = [];
    for (let e = 1; e <= opts.epochs; e++) {
      const ev = await trainer.epoch();
      epochs.push({ epoch: e, train_bpd: ev.train_bpd, valid_bpd: ev.valid_bpd, seconds: ev.seconds });
      report(
        'train',
        `HCLT K=${opts.K} epoch ${e}/${opts.epochs}: train ${ev.train_bpd.toFixed(4)} bpd, validation ${ev.valid_bpd === null ? 'n/a' : ev.valid_bpd.toFixed(4)} bpd (${ev.seconds.toFixed(1)} s)`,
      );
    }
    // Flow scores over the whole training set (what the trainer's prune scores on); the snapshot
    // also makes the compiled circuit's parameters current for the magnitude scores.
    const { edgeFlows } = await trainer.datasetFlows(data.train);
    const circuit = await trainer.snapshot();
    const cc = trainer.compiled;
    report('flows', `dataset edge flows over ${data.train.count} training images`);
    const trainEval =
      opts.evalTrain > 0 && opts.evalTrain < data.train.count
        ? seededSubset(data.train, opts.evalTrain, opts.seed ^ 0xe7a1, `${data.train.name} (evaluation slice)`)
        : data.train;
    const before = [await logLikelihoods(dense, trainEval), await logLikelihoods(dense, data.test)];
    const baseTrain = bitsPerDim(meanOf(before[0]), D);
    const baseTest = bitsPerDim(meanOf(before[1]), D);
    const edges0 = cc.numEdges;
    report('evaluate', `unpruned: ${edges0} sum edges, train ${baseTrain.toFixed(4)} bpd, test ${baseTest.toFixed(4)} bpd`);

    const points: PruneCurvePoint[] = [];
    for (const criterion of opts.criteria) {
      const seeds: Array<number | null> = criterion === 'random' ? Array.from({ length: opts.randomSeeds }, (_, i) => i) : [null];
      for (const s of seeds) {
        const scores = edgeScores(cc, criterion, edgeFlows, (opts.seed * 7919 + (s ?? 0) * 104729 + 1) >>> 0);
        for (const fraction of opts.fractions) {
          const marked = selectEdgesToPrune(cc, scores, fraction);
          const withBound = opts.boundFor === 'all' || criterion === 'flow';
          const bTrain = withBound ? await boundPerSample(dense, trainEval, marked) : null;
          const bTest = withBound ? await boundPerSample(dense, data.test, marked) : null;
          const p = removeEdges(circuit, cc, marked);
          await pruned.load(compileCircuit(p));
          const after = [await logLikelihoods(pruned, trainEval), await logLikelihoods(pruned, data.test)];
          const ct = compare(before[0], after[0], bTrain?.bound ?? null);
          const cs = compare(before[1], after[1], bTest?.bound ?? null);
          const edges = countSumEdges(p);
          const toBpd = (nats: number): number => nats / (D * Math.LN2);
          const point: PruneCurvePoint = {
            criterion,
            seed: s,
            fraction,
            edges,
            edges_kept: edges / edges0,
            params: countParams(p),
            train_bpd: bitsPerDim(meanOf(after[0]), D),
            test_bpd: bitsPerDim(meanOf(after[1]), D),
            train_ll_drop: ct.drop,
            test_ll_drop: cs.drop,
            train_bound_ll_drop: ct.bound,
            test_bound_ll_drop: cs.bound,
            train_bound_bpd: ct.bound === null ? null : baseTrain + toBpd(ct.bound),
            test_bound_bpd: cs.bound === null ? null : baseTest + toBpd(cs.bound),
            removed_flow: bTrain ? bTrain.removedFlow : null,
            train_informative: ct.informative,
            test_informative: cs.informative,
            bound_violations: ct.violations === null || cs.violations === null ? null : ct.violations + cs.violations,
            max_excess: ct.maxExcess === null && cs.maxExcess === null ? null : Math.max(ct.maxExcess ?? -Infinity, cs.maxExcess ?? -Infinity),
          };
          points.push(point);
          const boundText =
            point.train_bound_ll_drop === null ? (withBound ? ', bound vacuous' : '') : `, bound ${point.train_bound_ll_drop.toPrecision(3)} nats`;
          report(
            'prune',
            `${criterion}${s === null ? '' : ` (seed ${s + 1})`} ${percent(fraction)}: ${edges} edges kept, train ${point.train_bpd.toFixed(4)} bpd (drop ${ct.drop.toPrecision(3)} nats${boundText}), test ${point.test_bpd.toFixed(4)} bpd`,
          );
        }
      }
    }
    return {
      experiment: 'prune-curve',
      options: opts,
      data: { ...summarizeData(data), eval_train: trainEval.count },
      engine: dense.adapter,
      base: {
        num_vars: D,
        edges: edges0,
        params: countParams(circuit),
        train_bpd: baseTrain,
        test_bpd: baseTest,
        valid_bpd: epochs.at(-1)?.valid_bpd ?? null,
        epochs,
      },
      points,
      summary: summarizePruneCurve(points, baseTest),
      tolerance: `per sample, drop <= bound + ${BOUND_RELATIVE_TOLERANCE} * |log p(x)| (float32 rounding); means compared exactly`,
      seconds: secondsSince(t0),
    };
  } finally {
    dense.dispose();
    pruned?.dispose();
  }
}

/** Mean of the random seeds' values at each fraction, with their range. */
export function randomMeans(
  points: PruneCurvePoint[],
  key: 'train_bpd' | 'test_bpd',
): Array<{ fraction: number; kept: number; mean: number; lo: number; hi: number }> {
  const byF = new Map<number, PruneCurvePoint[]>();
  for (const p of points) if (p.criterion === 'random') byF.set(p.fraction, [...(byF.get(p.fraction) ?? []), p]);
  return [...byF.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([fraction, ps]) => ({
      fraction,
      kept: ps.reduce((s, p) => s + p.edges_kept, 0) / ps.length,
      mean: ps.reduce((s, p) => s + p[key], 0) / ps.length,
      lo: Math.min(...ps.map((p) => p[key])),
      hi: Math.max(...ps.map((p) => p[key])),
    }));
}

export function summarizePruneCurve(points: PruneCurvePoint[], baseTest: number): PruneCurveResult['summary'] {
  const fractions = [...new Set(points.map((p) => p.fraction))];
  const at = fractions.reduce((best, f) => (Math.abs(f - 0.5) < Math.abs(best - 0.5) ? f : best), fractions[0] ?? 0.5);
  const one = (c: PruneCriterion): number | null => points.find((p) => p.criterion === c && p.fraction === at)?.test_bpd ?? null;
  const rnd = randomMeans(points, 'test_bpd').find((r) => r.fraction === at)?.mean ?? null;
  const flow = one('flow');
  const mag = one('magnitude');
  let holds = true;
  let finite = 0;
  for (const p of points) {
    if (p.bound_violations !== null && p.bound_violations > 0) holds = false;
    if (p.train_bound_ll_drop !== null) {
      finite++;
      if (p.train_ll_drop > p.train_bound_ll_drop) holds = false;
    }
    if (p.test_bound_ll_drop !== null && p.test_ll_drop > p.test_bound_ll_drop) holds = false;
    for (const inf of [p.train_informative, p.test_informative]) if (inf && inf.drop !== null && inf.bound !== null && inf.drop > inf.bound) holds = false;
  }
  const within = points.filter((p) => p.criterion === 'flow' && p.test_bpd <= baseTest * 1.01).map((p) => p.fraction);
  const finiteFlow = points.filter((p) => p.criterion === 'flow' && p.train_bound_ll_drop !== null).map((p) => p.fraction);
  return {
    at_fraction: at,
    flow_test_bpd: flow,
    magnitude_test_bpd: mag,
    random_test_bpd: rnd,
    flow_beats_random: flow !== null && rnd !== null ? flow < rnd : null,
    flow_beats_magnitude: flow !== null && mag !== null ? flow < mag : null,
    bound_holds: holds,
    points_with_finite_bound: finite,
    flow_within_1pct_up_to: within.length ? Math.max(...within) : null,
    flow_bound_finite_up_to: finiteFlow.length ? Math.max(...finiteFlow) : null,
  };
}

const BOUND_LABEL = 'flow: bound (where finite)';

/** The plot: train and test bpd against the fraction of sum edges kept, one curve per criterion. */
export function pruneCurveFigure(r: PruneCurveResult, note?: string): Figure {
  const panel = (which: 'train' | 'test') => {
    const key = which === 'train' ? 'train_bpd' : 'test_bpd';
    const boundKey = which === 'train' ? 'train_bound_bpd' : 'test_bound_bpd';
    const base = which === 'train' ? r.base.train_bpd : r.base.test_bpd;
    const sorted = (c: PruneCriterion) =>
      r.points.filter((p) => p.criterion === c && (c !== 'random' || p.seed === 0)).sort((a, b) => a.edges_kept - b.edges_kept);
    const series: Series[] = [];
    const unpruned: [number, number] = [1, base];
    if (r.options.criteria.includes('flow')) {
      const f = sorted('flow');
      series.push({ label: 'flow', color: COLORS.flow, points: [...f.map((p): [number, number] => [p.edges_kept, p[key]]), unpruned] });
      const bound = f.filter((p) => p[boundKey] !== null).map((p): [number, number] => [p.edges_kept, p[boundKey]!]);
      // Finite only at small fractions, so these points sit near "all edges kept"; the third panel
      // shows that range in nats.
      if (bound.length) series.push({ label: BOUND_LABEL, color: COLORS.bound, dash: '6 4', points: [...bound, unpruned] });
    }
    if (r.options.criteria.includes('magnitude')) {
      series.push({
        label: 'magnitude',
        color: COLORS.magnitude,
        dash: '2 3',
        points: [...sorted('magnitude').map((p): [number, number] => [p.edges_kept, p[key]]), unpruned],
      });
    }
    if (r.options.criteria.includes('random')) {
      const m = randomMeans(r.points, key);
      const n = r.options.randomSeeds;
      series.push({
        label: n > 1 ? `random (mean of ${n} seeds, range shaded)` : 'random',
        color: COLORS.random,
        dash: '8 3 2 3',
        points: [...m.map((q): [number, number] => [q.kept, q.mean]), unpruned].sort((a, b) => a[0] - b[0]),
        band: n > 1 ? m.map((q): [number, number, number] => [q.kept, q.lo, q.hi]) : undefined,
      });
    }
    const ys = r.points.map((p) => p[key]).concat(base);
    const logY = Math.max(...ys) / Math.min(...ys) > 2.5;
    return {
      title: which === 'train' ? `Train bpd (${r.data.eval_train} training images)` : `Test bpd (${r.data.test} test images)`,
      xLabel: 'fraction of sum edges kept',
      yLabel: logY ? 'bits per dimension (log scale)' : 'bits per dimension',
      yScale: logY ? ('log' as const) : ('linear' as const),
      series,
      refLines: [{ label: 'unpruned', y: base, color: COLORS.reference, dash: '3 3' }],
    };
  };
  // The bound is finite only while the removed flow stays below 1 for every sample, i.e. at small
  // fractions: a third panel shows that range against the fraction removed, in nats.
  const small = r.points.filter((p) => p.criterion === 'flow' && p.fraction <= 0.1 && p.fraction > 0).sort((a, b) => a.fraction - b.fraction);
  const panels: Panel[] = [panel('train'), panel('test')];
  if (small.length && small.some((p) => p.removed_flow !== null)) {
    panels.push({
      title: 'Small fractions (flow): drop vs bound',
      xLabel: 'fraction of sum edges removed (log scale)',
      yLabel: 'log-likelihood drop (nats, train)',
      xScale: 'log',
      series: [
        { label: 'flow', color: COLORS.flow, points: small.map((p): [number, number] => [p.fraction, p.train_ll_drop]) },
        {
          label: BOUND_LABEL,
          color: COLORS.bound,
          dash: '6 4',
          points: small.filter((p) => p.train_bound_ll_drop !== null).map((p): [number, number] => [p.fraction, p.train_bound_ll_drop!]),
        },
        {
          label: 'flow: mean removed flow (first-order form)',
          color: COLORS.bound,
          dash: '1 3',
          points: small.filter((p) => p.removed_flow !== null).map((p): [number, number] => [p.fraction, p.removed_flow!]),
        },
      ],
      refLines: [{ label: 'no change', y: 0, color: COLORS.reference, dash: '3 3' }],
    });
  }
  return {
    title: `Pruning an HCLT (K=${r.options.K}, ${r.options.epochs} epochs) without retraining: flow vs magnitude vs random`,
    subtitle: `${r.base.edges.toLocaleString('en-US')} sum edges before pruning; test images: ${r.data.test_source}`,
    panels,
    note,
  };
}

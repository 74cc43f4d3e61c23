// Experiment `compress` (the paper's compression result): train an HCLT with early stopping on
// validation bpd (so that the EM between prunes cannot pass off further training as "pruning
// helped"; the start is as good as EM gets it within the epoch cap), then prune 10 % of the
// remaining sum edges by flow, run EM, and repeat, without growing, until the validation bpd is more
// than 1 % worse than the trained HCLT's; report how much of the circuit was kept at the last round
// still within 1 %.
//
// Each round scores the edges on the whole training set (Trainer.scorePrune) and removes them
// directly: the bound and the measured drop of the prune itself are prune-curve's business, and
// skipping them saves two passes over the data per round.

import { removeEdges } from '../circuit/prune.ts';
import { DEFAULT_TRAIN_CONFIG, datasetBpd, Trainer, type TrainConfig } from '../training/trainer.ts';
import type { DataPlan } from './data.ts';
import { COLORS, type Figure } from './plot.ts';
import { earlyStopped } from './early-stop.ts';
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

export interface CompressOptions {
  K: number;
  /** Most EM epochs for the starting HCLT (early stopping after `patience` epochs without improvement). */
  epochs: number;
  patience: number;
  em: EmSettings;
  seed: number;
  /** Fraction of the current sum edges removed per round. */
  pruneStep: number;
  /** EM epochs after each prune. */
  emEpochs: number;
  /** Stop once validation bpd > start * (1 + tolerance). */
  tolerance: number;
  maxRounds: number;
}

export const COMPRESS_SIZES = {
  default: {
    options: { K: 16, epochs: 15, patience: 1, em: REFERENCE_EM, seed: 1, pruneStep: 0.1, emEpochs: 1, tolerance: 0.01, maxRounds: 40 },
    data: { validFrac: 0.1, trainCount: 0, validCount: 0, testCount: 2000, holdout: 1000 },
  },
  quick: {
    options: {
      K: 8,
      epochs: 5,
      patience: 1,
      em: { batch: 250, step: 0.1, pseudocount: 0.1 },
      seed: 1,
      pruneStep: 0.3,
      emEpochs: 1,
      tolerance: 0.01,
      maxRounds: 12,
    },
    data: { validFrac: 0.1, trainCount: 1000, validCount: 200, testCount: 300, holdout: 1000 },
  },
} satisfies Record<string, { options: CompressOptions; data: Omit<DataPlan, 'seed'> }>;

export interface CompressRow {
  round: number;
  edges: number;
  params: number;
  /** Of the trained HCLT's. */
  edges_kept: number;
  params_kept: number;
  removed_edges: number;
  valid_bpd: number;
  test_bpd: number;
  /** valid_bpd / start - 1. */
  valid_worse_by: number;
  within_tolerance: boolean;
  seconds: number;
}

export interface CompressResult {
  experiment: 'compress';
  options: CompressOptions;
  data: DataSummary;
  engine: string;
  epochs: EpochRow[];
  rows: CompressRow[];
  /** The last round within the tolerance (round 0 = the trained HCLT). */
  kept: CompressRow;
  stopped: 'tolerance' | 'max-rounds' | 'nothing-to-prune';
  seconds: number;
}

export async function runCompress(makeEngine: EngineFactory, data: ExperimentData, opts: CompressOptions, onProgress?: ProgressFn): Promise<CompressResult> {
  const t0 = performance.now();
  if (!data.valid) throw new Error('compress needs a validation set (its stopping rule reads validation bpd)');
  const steps = opts.epochs + 1 + opts.maxRounds;
  let step = 0;
  const report = (stage: string, message: string, at?: number): void =>
    onProgress?.({ event: 'progress', experiment: 'compress', stage, step: (step = at ?? step + 1), steps, message });
  const config: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, K: opts.K, seed: opts.seed, epochs: opts.epochs, ...opts.em, rounds: 0 };
  const engine = await makeEngine();
  try {
    const trainer = await Trainer.create(config, engine, data.train, data.valid);
    const epochs = await earlyStopped(trainer, opts.epochs, opts.patience, (r) =>
      report('train', `HCLT K=${opts.K} epoch ${r.epoch} (at most ${opts.epochs}): validation ${r.valid_bpd!.toFixed(4)} bpd`),
    );
    step = opts.epochs;
    const edges0 = trainer.edges;
    const params0 = trainer.params;
    const start = await datasetBpd(engine, data.valid);
    const row = async (round: number, removed: number, tRound: number, valid: number): Promise<CompressRow> => {
      return {
        round,
        edges: trainer.edges,
        params: trainer.params,
        edges_kept: trainer.edges / edges0,
        params_kept: trainer.params / params0,
        removed_edges: removed,
        valid_bpd: valid,
        test_bpd: await datasetBpd(engine, data.test),
        valid_worse_by: valid / start - 1,
        within_tolerance: valid <= start * (1 + opts.tolerance),
        seconds: secondsSince(tRound),
      };
    };
    const rows: CompressRow[] = [await row(0, 0, performance.now(), start)];
    report('start', `start: ${edges0} sum edges, ${params0} parameters, validation ${start.toFixed(4)} bpd, test ${rows[0].test_bpd.toFixed(4)} bpd`);
    let stopped: CompressResult['stopped'] = 'max-rounds';
    for (let round = 1; round <= opts.maxRounds; round++) {
      const tRound = performance.now();
      const plan = await trainer.scorePrune(opts.pruneStep, 'flow');
      if (plan.removed === 0) {
        stopped = 'nothing-to-prune';
        break;
      }
      await trainer.setCircuit(removeEdges(plan.before, plan.compiled, plan.marked));
      // The epoch's own validation pass gives the round's validation bpd (0 EM epochs: measure it).
      let valid: number | null = null;
      for (let e = 0; e < opts.emEpochs; e++) valid = (await trainer.epoch()).valid_bpd;
      const r = await row(round, plan.removed, tRound, valid ?? (await datasetBpd(engine, data.valid)));
      rows.push(r);
      report(
        'round',
        `round ${round}: ${r.edges} sum edges (${(r.edges_kept * 100).toFixed(1)} %), ${r.params} parameters (${(r.params_kept * 100).toFixed(1)} %), validation ${r.valid_bpd.toFixed(4)} bpd (${r.valid_worse_by >= 0 ? '+' : ''}${(r.valid_worse_by * 100).toFixed(2)} %), test ${r.test_bpd.toFixed(4)} bpd`,
      );
      if (!r.within_tolerance) {
        stopped = 'tolerance';
        break;
      }
    }
    const kept = [...rows].reverse().find((r) => r.within_tolerance) ?? rows[0];
    report('done', `stopped (${stopped}); kept round ${kept.round}`, steps);
    return { experiment: 'compress', options: opts, data: summarizeData(data), engine: engine.adapter, epochs, rows, kept, stopped, seconds: secondsSince(t0) };
  } finally {
    engine.dispose();
  }
}

export function compressSummaryLines(r: CompressResult): string[] {
  const k = r.kept;
  const s = r.rows[0];
  const pct = (v: number): string => `${(v * 100).toFixed(1)} %`;
  return [
    `trained HCLT K=${r.options.K} (${r.epochs.length} epochs${r.epochs.length >= r.options.epochs ? ', the cap: early stopping did not trigger' : ', early-stopped'}): ${s.edges} sum edges, ${s.params} parameters, validation ${s.valid_bpd.toFixed(4)} bpd, test ${s.test_bpd.toFixed(4)} bpd`,
    `kept within ${r.options.tolerance * 100} % of the start's validation bpd after ${k.round} round${k.round === 1 ? '' : 's'} of ${r.options.pruneStep * 100} % flow pruning + ${r.options.emEpochs} EM epoch${r.options.emEpochs === 1 ? '' : 's'}: ${k.edges} sum edges (${pct(k.edges_kept)}), ${k.params} parameters (${pct(k.params_kept)}), validation ${k.valid_bpd.toFixed(4)} bpd, test ${k.test_bpd.toFixed(4)} bpd`,
    `stopped: ${r.stopped === 'tolerance' ? `round ${r.rows.at(-1)!.round} was ${pct(r.rows.at(-1)!.valid_worse_by)} worse` : r.stopped === 'max-rounds' ? `after the maximum of ${r.options.maxRounds} rounds` : 'nothing left to prune'}`,
  ];
}

export function compressFigure(r: CompressResult, note?: string): Figure {
  const start = r.rows[0].valid_bpd;
  const labels = r.rows.map((x) => `r${x.round}`);
  return {
    title: `Compression by flow pruning (${Math.round(r.options.pruneStep * 100)} % per round, ${r.options.emEpochs} EM epoch between, no growth), HCLT K=${r.options.K}`,
    subtitle: `Kept round ${r.kept.round}: ${(r.kept.edges_kept * 100).toFixed(1)} % of the sum edges, ${(r.kept.params_kept * 100).toFixed(1)} % of the parameters; test images: ${r.data.test_source}`,
    panels: [
      {
        title: 'Bits per dimension as edges are pruned',
        xLabel: 'fraction of sum edges kept (log scale)',
        yLabel: 'bits per dimension',
        xScale: 'log',
        reverseX: true,
        series: [
          { label: 'validation', color: COLORS.valid, points: r.rows.map((x): [number, number] => [x.edges_kept, x.valid_bpd]), pointLabels: labels },
          { label: 'test', color: COLORS.test, dash: '6 3', points: r.rows.map((x): [number, number] => [x.edges_kept, x.test_bpd]) },
        ],
        refLines: [
          { label: `stop: validation ${r.options.tolerance * 100} % worse than the start`, y: start * (1 + r.options.tolerance), color: COLORS.threshold },
        ],
      },
      {
        title: 'What is kept per round',
        xLabel: 'round',
        yLabel: 'fraction kept',
        series: [
          { label: 'sum edges kept', color: COLORS.flow, points: r.rows.map((x): [number, number] => [x.round, x.edges_kept]) },
          {
            label: 'parameters kept (edges + 256 per input node)',
            color: COLORS.params,
            dash: '6 3',
            points: r.rows.map((x): [number, number] => [x.round, x.params_kept]),
          },
        ],
      },
    ],
    note,
  };
}

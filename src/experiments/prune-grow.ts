// Experiment `prune-grow` (the paper's Table 1 at a size this machine can run): an HCLT of K latent
// states trained with the paper's schedule (schedule.ts: three annealed EM phases with early stopping),
// then rounds of prune 75 % (flow) -> grow (x2 latent states) -> the same EM, until a round brings no
// better validation bpd (the paper's loop, samesize_loop.jl). Against each sparse round stands the
// dense HCLT with the same number of sum edges (the K whose dense edge count is nearest), trained to
// convergence with the same schedule: rounds of the same EM, without prune and grow, until a round
// brings no better validation bpd. Rows per round give K, edges, parameters, validation and test bpd,
// and the structure invariants of the prune and grow (edges before and after, latent states that lost
// every parent, K per region).
//
// A round's numbers are those of its best epoch by validation bpd (the schedule's early stopping
// keeps it); the dense rows likewise.

import { denseKForEdges } from '../circuit/hclt.ts';
import { cloneCircuit, latentStates, latentStateSpread } from '../circuit/structure.ts';
import type { Engine } from '../engines/engine.ts';
import { PAPER_SCHEDULE } from '../training/schedule.ts';
import { DEFAULT_TRAIN_CONFIG, datasetBpd, Trainer, type GrowEvent, type PruneEvent, type TrainConfig } from '../training/trainer.ts';
import type { DataPlan } from './data.ts';
import { COLORS, type Figure } from './plot.ts';
import { secondsSince, summarizeData, type DataSummary, type EngineFactory, type EpochRow, type ExperimentData, type ProgressFn } from './types.ts';

export interface PruneGrowOptions {
  K: number;
  /** Epochs per EM phase (the paper: 50; three phases per round). */
  phaseEpochs: number;
  /** Most rounds of prune -> grow -> EM (the paper: 20). */
  rounds: number;
  /** Rounds without a better validation bpd before the loop stops (the paper: 1). */
  patience: number;
  prune: number;
  sigma: number;
  batch: number;
  pseudocount: number;
  seed: number;
}

const PAPER = {
  prune: PAPER_SCHEDULE.prune,
  sigma: PAPER_SCHEDULE.sigma,
  batch: PAPER_SCHEDULE.batch,
  pseudocount: PAPER_SCHEDULE.pseudocount,
  patience: PAPER_SCHEDULE.roundPatience,
};

export const PRUNE_GROW_SIZES = {
  default: {
    options: { K: 8, phaseEpochs: 2, rounds: 3, seed: 1, ...PAPER },
    data: { validFrac: 0.1, trainCount: 0, validCount: 0, testCount: 0, holdout: 1000 },
  },
  quick: {
    options: { K: 4, phaseEpochs: 1, rounds: 2, seed: 1, ...PAPER, patience: 2 },
    data: { validFrac: 0.1, trainCount: 800, validCount: 200, testCount: 300, holdout: 1000 },
  },
} satisfies Record<string, { options: PruneGrowOptions; data: Omit<DataPlan, 'seed'> }>;

export interface PruneGrowRow {
  /** 0: the starting HCLT; r >= 1: after the r-th prune -> grow -> EM. */
  round: number;
  k: number;
  k_min: number;
  k_median: number;
  k_max: number;
  edges: number;
  params: number;
  /** The round's best epoch (by validation bpd): its train, validation and test bpd. */
  train_bpd: number;
  valid_bpd: number;
  test_bpd: number;
  epochs: EpochRow[];
  /** The round's prune and grow events, with their structure invariants (null for round 0). */
  prune: PruneEvent | null;
  grow: GrowEvent | null;
  seconds: number;
}

export interface DenseRow {
  k: number;
  edges: number;
  params: number;
  /** Rounds of the schedule's EM it had: until one brought no better validation bpd, at most the
   *  sparse loop's rounds + 1. */
  rounds: number;
  epochs: number;
  train_bpd: number;
  valid_bpd: number;
  test_bpd: number;
  seconds: number;
}

/** Table 1's row: a sparse round against the dense HCLT with the nearest number of sum edges. */
export interface ComparisonRow {
  round: number;
  k: number;
  edges: number;
  params: number;
  sparse_train_bpd: number;
  sparse_valid_bpd: number;
  sparse_test_bpd: number;
  dense_k: number;
  dense_edges: number;
  dense_params: number;
  dense_train_bpd: number;
  dense_valid_bpd: number;
  dense_test_bpd: number;
  /** Sparse minus dense test bpd: negative means the sparse circuit is better. */
  delta_test_bpd: number;
}

export interface PruneGrowResult {
  experiment: 'prune-grow';
  options: PruneGrowOptions;
  data: DataSummary;
  engine: string;
  rounds: PruneGrowRow[];
  dense: DenseRow[];
  comparison: ComparisonRow[];
  /** The sparse round (>= 1) with the best validation bpd. */
  best_round: number;
  seconds: number;
}

export async function runPruneGrow(makeEngine: EngineFactory, data: ExperimentData, opts: PruneGrowOptions, onProgress?: ProgressFn): Promise<PruneGrowResult> {
  const t0 = performance.now();
  if (!data.valid) throw new Error('prune-grow needs a validation set (the schedule stops on validation bpd)');
  const valid = data.valid;
  const D = data.train.numVars;
  let step = 0;
  // The number of epochs is known only after early stopping: count the worst case.
  const steps = (opts.rounds + 1) * 3 * opts.phaseEpochs * 2;
  const report = (stage: string, message: string): void =>
    onProgress?.({ event: 'progress', experiment: 'prune-grow', stage, step: Math.min(++step, steps), steps, message });
  const cfg = (K: number): TrainConfig => ({
    ...DEFAULT_TRAIN_CONFIG,
    K,
    seed: opts.seed,
    batch: opts.batch,
    pseudocount: opts.pseudocount,
    rounds: 0,
    prune: opts.prune,
    criterion: 'flow',
    sigma: opts.sigma,
    patience: opts.patience,
    schedule: 'paper',
    phaseEpochs: opts.phaseEpochs,
  });
  const engines: Engine[] = [];
  const engine = async (): Promise<Engine> => {
    const e = await makeEngine();
    engines.push(e);
    return e;
  };
  /** One round of the schedule's EM; the trainer ends on the round's best epoch (trainRound). */
  const emRound = async (t: Trainer, label: string): Promise<{ epochs: EpochRow[]; best: EpochRow }> => {
    const epochs: EpochRow[] = [];
    await t.trainRound((e) => {
      if (e.event !== 'epoch') return;
      epochs.push({ epoch: e.epoch, train_bpd: e.train_bpd, valid_bpd: e.valid_bpd, seconds: e.seconds });
      report(label, `${label} epoch ${e.epoch}: train ${e.train_bpd.toFixed(4)} bpd, validation ${(e.valid_bpd ?? NaN).toFixed(4)} bpd, ${e.edges} edges`);
    });
    const best = epochs.reduce((a, r) => (r.valid_bpd! < a.valid_bpd! ? r : a));
    return { epochs, best };
  };
  try {
    const trainer = await Trainer.create(cfg(opts.K), await engine(), data.train, valid);
    const rows: PruneGrowRow[] = [];
    const row = async (round: number, t: number, prune: PruneGrowRow['prune'], grow: PruneGrowRow['grow']): Promise<PruneGrowRow> => {
      const { epochs, best } = await emRound(trainer, round === 0 ? `HCLT K=${opts.K}` : `round ${round}`);
      const spread = latentStateSpread(trainer.circuit);
      return {
        round,
        k: latentStates(trainer.circuit),
        k_min: spread.min,
        k_median: spread.median,
        k_max: spread.max,
        edges: trainer.edges,
        params: trainer.params,
        train_bpd: best.train_bpd,
        valid_bpd: best.valid_bpd!,
        test_bpd: await datasetBpd(trainer.engine, data.test),
        epochs,
        prune,
        grow,
        seconds: secondsSince(t),
      };
    };
    rows.push(await row(0, performance.now(), null, null));
    // The paper's loop (samesize_loop.jl `train`): rounds until `patience` rounds bring no better
    // validation bpd than the best round so far. Only the loop's rounds count: the starting HCLT is
    // not among them, so the first round always runs (and the second, with patience 1).
    let bestValid = Infinity;
    let stale = 0;
    for (let r = 1; r <= opts.rounds && stale < opts.patience; r++) {
      const t = performance.now();
      trainer.round = r;
      trainer.epochInRound = 0;
      const pe = await trainer.prune(opts.prune, 'flow');
      const ge = await trainer.grow(opts.sigma);
      report(
        'round',
        `round ${r}: pruned ${pe.edges_before} -> ${pe.edges} edges (${pe.orphaned_states} latent states lost every parent), grown to ${ge.edges} edges, K per region ${ge.k_min}/${ge.k_median}/${ge.k_max}`,
      );
      const x = await row(r, t, pe, ge);
      rows.push(x);
      if (x.valid_bpd < bestValid) {
        bestValid = x.valid_bpd;
        stale = 0;
      } else stale++;
    }
    engines.splice(engines.indexOf(trainer.engine), 1);
    trainer.engine.dispose();

    // Dense HCLTs with the sum edges of each sparse round, each trained to convergence: rounds of the
    // same EM until a round brings no better validation bpd.
    const dense: DenseRow[] = [];
    for (const K of [...new Set(rows.map((x) => denseKForEdges(D, x.edges)))].sort((a, b) => a - b)) {
      const t = performance.now();
      const eng = await engine();
      const b = await Trainer.create(cfg(K), eng, data.train, valid);
      let best: EpochRow | null = null;
      let epochs = 0;
      let rounds = 0;
      // At most as many EM rounds as the sparse loop may have (rounds + 1): each new round restarts the
      // annealing, and a dense circuit can keep gaining by a hair for dozens of them.
      for (let misses = 0; misses < opts.patience && rounds <= opts.rounds;) {
        b.round = rounds;
        b.epochInRound = 0;
        const res = await emRound(b, `dense K=${K} round ${rounds}`);
        epochs += res.epochs.length;
        rounds++;
        if (best === null || res.best.valid_bpd! < best.valid_bpd!) {
          best = res.best;
          misses = 0;
        } else misses++;
      }
      await b.setCircuit(cloneCircuit(b.best!.circuit));
      dense.push({
        k: K,
        edges: b.edges,
        params: b.params,
        rounds,
        epochs,
        train_bpd: best!.train_bpd,
        valid_bpd: best!.valid_bpd!,
        test_bpd: await datasetBpd(eng, data.test),
        seconds: secondsSince(t),
      });
      engines.splice(engines.indexOf(eng), 1);
      eng.dispose();
    }
    const comparison: ComparisonRow[] = rows.map((x) => {
      const d = dense.find((y) => y.k === denseKForEdges(D, x.edges))!;
      return {
        round: x.round,
        k: x.k,
        edges: x.edges,
        params: x.params,
        sparse_train_bpd: x.train_bpd,
        sparse_valid_bpd: x.valid_bpd,
        sparse_test_bpd: x.test_bpd,
        dense_k: d.k,
        dense_edges: d.edges,
        dense_params: d.params,
        dense_train_bpd: d.train_bpd,
        dense_valid_bpd: d.valid_bpd,
        dense_test_bpd: d.test_bpd,
        delta_test_bpd: x.test_bpd - d.test_bpd,
      };
    });
    const sparse = rows.filter((x) => x.round >= 1);
    const bestRound = (sparse.length ? sparse : rows).reduce((a, x) => (x.valid_bpd < a.valid_bpd ? x : a)).round;
    return {
      experiment: 'prune-grow',
      options: opts,
      data: summarizeData(data),
      engine: trainer.engine.adapter,
      rounds: rows,
      dense,
      comparison,
      best_round: bestRound,
      seconds: secondsSince(t0),
    };
  } finally {
    for (const e of engines) e.dispose();
  }
}

export function pruneGrowSummaryLines(r: PruneGrowResult): string[] {
  const f4 = (v: number): string => v.toFixed(4);
  const lines = r.rounds.map(
    (x) =>
      `round ${x.round}: K=${x.k} (per region ${x.k_min}/${x.k_median}/${x.k_max}), ${x.edges} sum edges, ${x.params} parameters, train ${f4(x.train_bpd)}, validation ${f4(x.valid_bpd)}, test ${f4(x.test_bpd)} bpd (${x.epochs.length} epochs)` +
      (x.prune && x.grow
        ? `; prune ${x.prune.edges_before} -> ${x.prune.edges} edges (${x.prune.orphaned_states} latent states lost every parent), grow -> ${x.grow.edges}`
        : ''),
  );
  for (const d of r.dense)
    lines.push(
      `dense HCLT K=${d.k}: ${d.edges} sum edges, ${d.params} parameters, ${d.rounds} rounds (${d.epochs} epochs) to converge: train ${f4(d.train_bpd)}, validation ${f4(d.valid_bpd)}, test ${f4(d.test_bpd)} bpd`,
    );
  const c = r.comparison.find((x) => x.round === r.best_round)!;
  lines.push(
    `best sparse round ${c.round} (by validation): test ${f4(c.sparse_test_bpd)} bpd with ${c.edges} sum edges vs dense K=${c.dense_k} (${c.dense_edges} sum edges) ${f4(c.dense_test_bpd)} bpd: ${c.delta_test_bpd <= 0 ? 'better' : 'worse'} by ${Math.abs(c.delta_test_bpd).toFixed(4)} bpd`,
  );
  return lines;
}

export function pruneGrowFigure(r: PruneGrowResult, note?: string): Figure {
  const panel = (key: 'valid' | 'test', title: string) => ({
    title,
    xLabel: 'round (0: the HCLT; r: after r rounds of prune -> grow -> EM)',
    yLabel: 'bits per dimension',
    xScale: 'linear' as const,
    series: [
      {
        label: `sparse: HCLT K=${r.options.K}, then prune ${Math.round(r.options.prune * 100)} % -> grow -> EM (${3 * r.options.phaseEpochs} epochs at most per round)`,
        color: COLORS.sparse,
        points: r.comparison.map((x): [number, number] => [x.round, key === 'valid' ? x.sparse_valid_bpd : x.sparse_test_bpd]),
        pointLabels: r.comparison.map((x) => `K=${x.k}, ${x.edges} edges`),
      },
      {
        label: 'dense HCLT with the same sum edges, trained to convergence with the same schedule',
        color: COLORS.dense,
        dash: '6 3',
        points: r.comparison.map((x): [number, number] => [x.round, key === 'valid' ? x.dense_valid_bpd : x.dense_test_bpd]),
        pointLabels: r.comparison.map((x) => `K=${x.dense_k}`),
      },
    ],
  });
  return {
    title: 'Prune and grow vs the dense HCLT with the same number of sum edges',
    subtitle: `training: ${r.data.train_source}; test: ${r.data.test_source}`,
    panels: [panel('valid', 'Validation bpd'), panel('test', 'Test bpd')],
    note,
  };
}

// Experiment `prune-grow` (the paper's Table 1 ordering): an HCLT K=16 trained with early stopping on
// validation bpd, then the same circuit through rounds of prune 75 % (flow) -> grow (x2 latent
// states) -> EM, against dense HCLTs of K=16, 32, 64 trained with the same epoch budget (the epochs
// the sparse circuit received in all). Rows per round give validation and test bpd, sum edges and
// parameters; the comparison pairs each sparse round with the dense HCLT nearest in parameter count.
//
// Each round's numbers are those of the circuit at the end of the round (no restoring of earlier
// epochs); a baseline reports its best epoch by validation bpd. A baseline may have a smaller epoch
// cap (K=64 at the default size, to fit the time budget); its row says so.

import { cloneCircuit, latentStates } from '../circuit/structure.ts';
import type { Engine } from '../engines/engine.ts';
import { DEFAULT_TRAIN_CONFIG, datasetBpd, Trainer, type TrainConfig } from '../training/trainer.ts';
import type { DataPlan } from './data.ts';
import { COLORS, type Figure } from './plot.ts';
import { earlyStopped } from './early-stop.ts';
import { REFERENCE_EM, secondsSince, summarizeData, type DataSummary, type EmSettings, type EngineFactory, type EpochRow, type ExperimentData, type ProgressFn } from './types.ts';

export interface PruneGrowOptions {
  K: number;
  /** Most EM epochs for the starting HCLT; it stops earlier after `patience` epochs without a better validation bpd. */
  maxEpochs: number;
  patience: number;
  rounds: number;
  roundEpochs: number;
  prune: number;
  sigma: number;
  em: EmSettings;
  seed: number;
  /** K of the dense baselines. */
  baselines: number[];
  /** Per K (as a string key), an epoch cap below the budget; absent: the full budget. */
  baselineEpochCap: Record<string, number>;
}

export const PRUNE_GROW_SIZES = {
  default: {
    options: { K: 16, maxEpochs: 10, patience: 2, rounds: 2, roundEpochs: 3, prune: 0.75, sigma: 0.5, em: REFERENCE_EM, seed: 1, baselines: [16, 32, 64], baselineEpochCap: { '64': 5 } },
    data: { validFrac: 0.1, trainCount: 0, validCount: 0, testCount: 2000, holdout: 1000 },
  },
  quick: {
    options: { K: 8, maxEpochs: 3, patience: 1, rounds: 2, roundEpochs: 1, prune: 0.75, sigma: 0.5, em: { batch: 250, step: 0.1, pseudocount: 0.1 }, seed: 1, baselines: [8, 16], baselineEpochCap: { '16': 3 } },
    data: { validFrac: 0.1, trainCount: 1000, validCount: 200, testCount: 300, holdout: 1000 },
  },
} satisfies Record<string, { options: PruneGrowOptions; data: Omit<DataPlan, 'seed'> }>;

export interface PruneGrowRow {
  /** 0: the starting HCLT (early-stopped); r >= 1: after the r-th prune -> grow -> EM. */
  round: number;
  k: number;
  edges: number;
  params: number;
  valid_bpd: number;
  test_bpd: number;
  /** Epochs of EM this circuit has had in all (start included). */
  epochs_total: number;
  /** The prune of this round (round >= 1): measured drop and bound on the training set (nats). */
  prune_ll_drop: number | null;
  prune_bound_ll_drop: number | null;
  epochs: EpochRow[];
  seconds: number;
}

export interface BaselineRow {
  k: number;
  epochs: number;
  /** True when the epoch cap for this K was below the budget. */
  capped: boolean;
  /** Epoch with the best validation bpd (the one reported). */
  best_epoch: number;
  edges: number;
  params: number;
  valid_bpd: number;
  test_bpd: number;
  epochs_log: EpochRow[];
  seconds: number;
}

export interface Comparison {
  round: number;
  params: number;
  test_bpd: number;
  baseline_k: number;
  baseline_params: number;
  baseline_test_bpd: number;
  /** Sparse minus dense test bpd: negative means the sparse circuit is better. */
  delta_test_bpd: number;
  params_ratio: number;
}

export interface PruneGrowResult {
  experiment: 'prune-grow';
  options: PruneGrowOptions;
  data: DataSummary;
  engine: string;
  budget_epochs: number;
  rounds: PruneGrowRow[];
  baselines: BaselineRow[];
  comparisons: Comparison[];
  /** The sparse round with the best validation bpd, and how it compares. */
  best_round: number;
  seconds: number;
}

function nearestBaseline(params: number, baselines: BaselineRow[]): BaselineRow {
  return baselines.reduce((best, b) => (Math.abs(Math.log(b.params / params)) < Math.abs(Math.log(best.params / params)) ? b : best));
}

export async function runPruneGrow(makeEngine: EngineFactory, data: ExperimentData, opts: PruneGrowOptions, onProgress?: ProgressFn): Promise<PruneGrowResult> {
  const t0 = performance.now();
  if (!data.valid) throw new Error('prune-grow needs a validation set (early stopping reads validation bpd)');
  const valid = data.valid;
  let step = 0;
  // The budget is known only after early stopping: count the worst case, then jump.
  let steps = opts.maxEpochs + opts.rounds * (opts.roundEpochs + 1) + opts.baselines.length * (opts.maxEpochs + opts.rounds * opts.roundEpochs);
  const report = (stage: string, message: string): void => onProgress?.({ event: 'progress', experiment: 'prune-grow', stage, step: ++step, steps, message });
  const cfg = (K: number): TrainConfig => ({ ...DEFAULT_TRAIN_CONFIG, K, seed: opts.seed, ...opts.em, rounds: 0, prune: opts.prune, criterion: 'flow', sigma: opts.sigma });
  const engines: Engine[] = [];
  const engine = async (): Promise<Engine> => {
    const e = await makeEngine();
    engines.push(e);
    return e;
  };
  try {
    // The starting point: HCLT K with early stopping.
    const tStart = performance.now();
    const trainer = await Trainer.create(cfg(opts.K), await engine(), data.train, valid);
    const startEpochs = await earlyStopped(trainer, opts.maxEpochs, opts.patience, (r) =>
      report('start', `HCLT K=${opts.K} epoch ${r.epoch}: train ${r.train_bpd.toFixed(4)} bpd, validation ${r.valid_bpd!.toFixed(4)} bpd`),
    );
    step += opts.maxEpochs - startEpochs.length;
    const rows: PruneGrowRow[] = [];
    const rowOf = async (round: number, epochsTotal: number, epochs: EpochRow[], validBpd: number, prune: { drop: number; bound: number | null } | null, t: number): Promise<PruneGrowRow> => ({
      round,
      k: latentStates(trainer.circuit),
      edges: trainer.edges,
      params: trainer.params,
      valid_bpd: validBpd,
      test_bpd: await datasetBpd(trainer.engine, data.test),
      epochs_total: epochsTotal,
      prune_ll_drop: prune?.drop ?? null,
      prune_bound_ll_drop: prune?.bound ?? null,
      epochs,
      seconds: secondsSince(t),
    });
    rows.push(await rowOf(0, startEpochs.length, startEpochs, trainer.best?.bpd ?? (await datasetBpd(trainer.engine, valid)), null, tStart));
    let total = startEpochs.length;
    for (let r = 1; r <= opts.rounds; r++) {
      const t = performance.now();
      trainer.round = r;
      trainer.epochInRound = 0;
      const pe = await trainer.prune(opts.prune, 'flow');
      const ge = await trainer.grow(opts.sigma);
      report('round', `round ${r}: pruned ${pe.removed_edges} edges (drop ${pe.measured_ll_drop.toFixed(3)} nats), grown to K=${ge.k}: ${ge.edges} edges, ${ge.params} parameters`);
      const epochs: EpochRow[] = [];
      let v = NaN;
      for (let e = 1; e <= opts.roundEpochs; e++) {
        const ev = await trainer.epoch();
        v = ev.valid_bpd!;
        epochs.push({ epoch: e, train_bpd: ev.train_bpd, valid_bpd: ev.valid_bpd, seconds: ev.seconds });
        report('round', `round ${r} epoch ${e}/${opts.roundEpochs}: train ${ev.train_bpd.toFixed(4)} bpd, validation ${v.toFixed(4)} bpd`);
      }
      if (opts.roundEpochs === 0) v = await datasetBpd(trainer.engine, valid);
      total += opts.roundEpochs;
      rows.push(await rowOf(r, total, epochs, v, { drop: pe.measured_ll_drop, bound: pe.bound_ll_drop }, t));
    }
    const budget = total;
    steps = step + opts.baselines.reduce((n, k) => n + Math.min(budget, opts.baselineEpochCap[String(k)] ?? budget), 0);

    // Dense baselines with the same epoch budget (or their cap), best epoch by validation.
    const baselines: BaselineRow[] = [];
    for (const K of opts.baselines) {
      const t = performance.now();
      const cap = opts.baselineEpochCap[String(K)];
      const n = cap !== undefined ? Math.min(cap, budget) : budget;
      const eng = await engine();
      const b = await Trainer.create(cfg(K), eng, data.train, valid);
      const log: EpochRow[] = [];
      for (let e = 1; e <= n; e++) {
        const ev = await b.epoch();
        log.push({ epoch: e, train_bpd: ev.train_bpd, valid_bpd: ev.valid_bpd, seconds: ev.seconds });
        report('baseline', `dense HCLT K=${K} epoch ${e}/${n}: validation ${ev.valid_bpd!.toFixed(4)} bpd`);
      }
      const best = b.best!;
      await b.setCircuit(cloneCircuit(best.circuit));
      const bestEpoch = log.reduce((bi, r, i) => (r.valid_bpd! < log[bi].valid_bpd! ? i : bi), 0) + 1;
      baselines.push({ k: K, epochs: n, capped: n < budget, best_epoch: bestEpoch, edges: b.edges, params: b.params, valid_bpd: best.bpd, test_bpd: await datasetBpd(eng, data.test), epochs_log: log, seconds: secondsSince(t) });
      eng.dispose();
      engines.splice(engines.indexOf(eng), 1);
    }

    const comparisons: Comparison[] = rows.map((r) => {
      const b = nearestBaseline(r.params, baselines);
      return { round: r.round, params: r.params, test_bpd: r.test_bpd, baseline_k: b.k, baseline_params: b.params, baseline_test_bpd: b.test_bpd, delta_test_bpd: r.test_bpd - b.test_bpd, params_ratio: r.params / b.params };
    });
    const sparse = rows.filter((r) => r.round >= 1);
    const bestRound = (sparse.length ? sparse : rows).reduce((a, r) => (r.valid_bpd < a.valid_bpd ? r : a)).round;
    return { experiment: 'prune-grow', options: opts, data: summarizeData(data), engine: trainer.engine.adapter, budget_epochs: budget, rounds: rows, baselines, comparisons, best_round: bestRound, seconds: secondsSince(t0) };
  } finally {
    for (const e of engines) e.dispose();
  }
}

export function pruneGrowSummaryLines(r: PruneGrowResult): string[] {
  const f4 = (v: number): string => v.toFixed(4);
  const lines = r.rounds.map((x) => `round ${x.round}: K=${x.k}, ${x.edges} sum edges, ${x.params} parameters, validation ${f4(x.valid_bpd)} bpd, test ${f4(x.test_bpd)} bpd (${x.epochs_total} epochs in all)`);
  for (const b of r.baselines) lines.push(`dense HCLT K=${b.k}: ${b.params} parameters, ${b.epochs} epochs${b.capped ? ` (capped below the budget of ${r.budget_epochs})` : ''}, best epoch ${b.best_epoch}: validation ${f4(b.valid_bpd)} bpd, test ${f4(b.test_bpd)} bpd`);
  const c = r.comparisons.find((x) => x.round === r.best_round)!;
  lines.push(`best sparse round ${c.round} (by validation): test ${f4(c.test_bpd)} bpd with ${c.params} parameters vs dense K=${c.baseline_k} ${f4(c.baseline_test_bpd)} bpd with ${c.baseline_params} (${c.delta_test_bpd <= 0 ? 'better' : 'worse'} by ${Math.abs(c.delta_test_bpd).toFixed(4)} bpd at ${c.params_ratio.toFixed(2)}x the parameters)`);
  return lines;
}

export function pruneGrowFigure(r: PruneGrowResult, note?: string): Figure {
  const panel = (key: 'valid_bpd' | 'test_bpd', title: string) => ({
    title,
    xLabel: 'parameters (sum edges + 256 per input node, log scale)',
    yLabel: 'bits per dimension',
    xScale: 'log' as const,
    series: [
      {
        label: `sparse: HCLT K=${r.options.K} (${r.rounds[0].epochs_total} epochs${r.rounds[0].epochs_total < r.options.maxEpochs ? ', early-stopped' : ', the cap'}), then prune ${Math.round(r.options.prune * 100)} % -> grow -> ${r.options.roundEpochs} EM epochs per round`,
        color: COLORS.sparse,
        points: r.rounds.map((x): [number, number] => [x.params, x[key]]),
        pointLabels: r.rounds.map((x) => `r${x.round} K=${x.k}`),
      },
      {
        label: `dense HCLT, ${r.budget_epochs} epochs${r.baselines.some((b) => b.capped) ? ' (capped for ' + r.baselines.filter((b) => b.capped).map((b) => `K=${b.k}: ${b.epochs}`).join(', ') + ')' : ''}`,
        color: COLORS.dense,
        dash: '6 3',
        points: r.baselines.map((b): [number, number] => [b.params, b[key]]),
        pointLabels: r.baselines.map((b) => `K=${b.k}`),
      },
    ],
  });
  return {
    title: 'Prune and grow vs dense HCLTs: bits per dimension against parameter count',
    subtitle: `test images: ${r.data.test_source}`,
    panels: [panel('valid_bpd', 'Validation bpd'), panel('test_bpd', 'Test bpd')],
    note,
  };
}

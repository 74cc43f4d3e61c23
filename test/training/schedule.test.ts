// The training schedules (src/training/schedule.ts) and the paper's loop in Trainer.run: the annealed
// EM phases step by step, and the loop's own rounds compared (never the HCLT it starts from), so the
// first two rounds always run and the model kept is the best round (samesize_loop.jl `train`).
import { describe, expect, it } from 'vitest';
import { splitTrainValid } from '../../src/data/split.ts';
import { CpuEngine } from '../../src/engines/cpu/engine.ts';
import { PAPER_SCHEDULE, phaseStep, roundPlan } from '../../src/training/schedule.ts';
import { datasetBpd, DEFAULT_TRAIN_CONFIG, Trainer, type TrainEvent } from '../../src/training/trainer.ts';
import { embeddedSubset } from '../helpers/data.ts';

describe('schedules', () => {
  it('paper: three phases annealing the step 0.3 -> 0.1 -> 0.01 -> 0.001, per epoch as Juice does', () => {
    const plan = roundPlan({ ...DEFAULT_TRAIN_CONFIG, schedule: 'paper', phaseEpochs: 4 }, 1);
    expect(plan.phases.map((p) => [p.epochs, +p.stepStart.toFixed(6), +p.stepEnd.toFixed(6)])).toEqual([
      [4, 0.3, 0.1],
      [4, 0.1, 0.01],
      [4, 0.01, 0.001],
    ]);
    // step_t = start + t (end - start) / epochs: the end itself is never used within the phase.
    expect([0, 1, 2, 3].map((t) => +phaseStep(plan.phases[0], t).toFixed(6))).toEqual([0.3, 0.25, 0.2, 0.15]);
    expect(plan.patience).toBe(Math.max(1, Math.round(PAPER_SCHEDULE.emPatiencePerPhase * 4)));
    expect(plan.warmup).toBe(4);
  });

  it('plain: one phase at the fixed step, the HCLT with --epochs and rounds with --round-epochs, no early stop', () => {
    const c = { ...DEFAULT_TRAIN_CONFIG, schedule: 'plain' as const, epochs: 5, roundEpochs: 2, step: 0.2 };
    expect(roundPlan(c, 0)).toEqual({ phases: [{ epochs: 5, stepStart: 0.2, stepEnd: 0.2 }], patience: Infinity, warmup: 0 });
    expect(roundPlan(c, 3).phases[0].epochs).toBe(2);
    expect(phaseStep(roundPlan(c, 3).phases[0], 1)).toBe(0.2);
  });
});

describe("the paper's loop (Trainer.run, schedule paper)", () => {
  it('runs at least two rounds, stops on the first round without a better one, and keeps the best round', async () => {
    const { train, valid } = splitTrainValid(await embeddedSubset(600), 0.2, 1);
    const engine = new CpuEngine({ precision: 'float64' });
    const config = {
      ...DEFAULT_TRAIN_CONFIG,
      K: 3,
      schedule: 'paper' as const,
      phaseEpochs: 1,
      rounds: 4,
      patience: PAPER_SCHEDULE.roundPatience,
      batch: 100,
      pseudocount: 0.01,
      sigma: 0.3,
    };
    const t = await Trainer.create(config, engine, train, valid);
    const events: TrainEvent[] = [];
    await t.run((e) => events.push(e));
    const prunes = events.filter((e) => e.event === 'prune').length;
    expect(prunes).toBeGreaterThanOrEqual(2);
    // Best validation bpd per round, as the epochs reported it.
    const perRound = new Map<number, number>();
    for (const e of events) if (e.event === 'epoch') perRound.set(e.round, Math.min(perRound.get(e.round) ?? Infinity, e.valid_bpd!));
    const loop = [...perRound].filter(([r]) => r >= 1);
    const best = loop.reduce((a, b) => (b[1] < a[1] ? b : a));
    expect(t.best!.round).toBe(best[0]);
    expect(t.best!.bpd).toBe(best[1]);
    // It stopped because the last round was not the best, or because it ran them all.
    const last = loop[loop.length - 1];
    if (prunes < config.rounds) expect(last[1]).toBeGreaterThanOrEqual(best[1]);
    // The circuit left loaded is the best round's, at its recorded validation bpd.
    expect(await datasetBpd(engine, valid!)).toBeCloseTo(best[1], 10);
    engine.dispose();
  });
});

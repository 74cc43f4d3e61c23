// Training schedules: how many EM epochs each round gets and at which step size.
//
// `plain`: the quick schedule (a fixed step, `epochs` on the HCLT, `roundEpochs` after each prune +
// grow); `paper`: the schedule of the paper's own code (UCLA-StarAI/SparsePC), scaled by
// `phaseEpochs`. Its EM for the HCLT and for every round (`run_em` in src/learn.jl) is three phases
// of mini-batch EM, each annealing the parameter inertia (the weight kept on the old parameters,
// theta <- inertia theta + (1 - inertia) new, so step = 1 - inertia) linearly per epoch, as Juice's
// `mini_batch_em` does with `param_inertia` -> `param_inertia_end`; early stopping on validation
// likelihood inside a round; rounds until one brings no better validation likelihood; the best round
// is kept. docs/architecture.md ("Schedules") lists the sources.

export const SCHEDULES = ['plain', 'paper'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

/** The paper's constants, each with where it is set. */
export const PAPER_SCHEDULE = {
  /** Inertia per phase, start -> end: samesize_loop.jl sets the first phase's start to max_param =
   *  0.7 (sh/gen_loop.sh: pm = 0.7); p2, p3, p4 = 0.9, 0.99, 0.999 (sh/gen_loop.sh). */
  inertia: [
    [0.7, 0.9],
    [0.9, 0.99],
    [0.99, 0.999],
  ] as ReadonlyArray<readonly [number, number]>,
  /** Epochs per phase: sh/gen_loop.sh n1 = n2 = n3 = 50 (n4 = 0: no full-batch phase). */
  phaseEpochs: 50,
  /** sh/gen_loop.sh: pseudocount 0.01. */
  pseudocount: 0.01,
  /** sh/gen_loop.sh: std 0.3 (the growth noise). */
  sigma: 0.3,
  /** sh/gen_loop.sh: threshold 0.75 with --by topk. */
  prune: 0.75,
  /** samesize_loop.jl and sh/gen_loop.sh: batch_size 512. */
  batch: 512,
  /** sh/gen_loop.sh: maxiter 20 rounds. */
  rounds: 20,
  /** samesize_loop.jl `train`: stop once a round is not the best so far (outpatience, 0 in
   *  sh/gen_loop.sh: the first round without a better validation likelihood ends the loop). */
  roundPatience: 1,
  /** EarlyStopPC inside run_em: patience 20 epochs (samesize_loop.jl read_args) after a warmup of
   *  n = 50 epochs (sh/gen_loop.sh --warmup $n), i.e. 0.4 and 1 phase. */
  emPatiencePerPhase: 20 / 50,
  emWarmupPhases: 1,
} as const;

/** One EM phase: up to `epochs` epochs, the step from `stepStart` towards `stepEnd` (step = 1 -
 *  inertia). */
export interface EmPhase {
  epochs: number;
  stepStart: number;
  stepEnd: number;
}

/** What a round's EM is: its phases and (paper) its early stopping. */
export interface RoundPlan {
  phases: EmPhase[];
  /** Stop the round's EM after this many epochs without a better validation bpd (Infinity: never)... */
  patience: number;
  /** ...but not within its first `warmup` epochs. */
  warmup: number;
}

export interface ScheduleConfig {
  schedule: ScheduleName;
  step: number;
  epochs: number;
  roundEpochs: number;
  phaseEpochs: number;
}

/** The EM plan of round `round` (0: the HCLT before any prune). */
export function roundPlan(c: ScheduleConfig, round: number): RoundPlan {
  if (c.schedule === 'plain') {
    return { phases: [{ epochs: round === 0 ? c.epochs : c.roundEpochs, stepStart: c.step, stepEnd: c.step }], patience: Infinity, warmup: 0 };
  }
  const n = c.phaseEpochs;
  return {
    phases: PAPER_SCHEDULE.inertia.map(([a, b]) => ({ epochs: n, stepStart: 1 - a, stepEnd: 1 - b })),
    patience: Math.max(1, Math.round(PAPER_SCHEDULE.emPatiencePerPhase * n)),
    warmup: PAPER_SCHEDULE.emWarmupPhases * n,
  };
}

/** The step size of epoch `t` (0-based) of a phase: Juice adds (end - start) / epochs to the inertia
 *  after each epoch (ProbabilisticCircuits.jl, `mini_batch_em`), and step = 1 - inertia. A constant
 *  phase gives exactly its step. */
export function phaseStep(p: EmPhase, t: number): number {
  return p.stepStart === p.stepEnd ? p.stepStart : p.stepStart + (t * (p.stepEnd - p.stepStart)) / p.epochs;
}

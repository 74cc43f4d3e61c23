// Sparse against dense, live: which dense HCLT each finished round of prune -> grow -> EM is compared
// with, and the table that puts them side by side. The paper's claim (docs/architecture.md, "Growing")
// is that the sparse circuit beats the dense HCLT with the same number of sum edges; the playground
// checks it on the visitor's own run. Pure (no DOM, no worker): the store decides what the second
// worker trains from `denseTarget`, and the views and the CSV read `comparisonRows`.
//
// Round r >= 1 has ended once its EM has had `roundEpochs` epochs (the session's schedule); more epochs
// stepped by hand in the same round move its end along. Its dense counterpart is the HCLT whose dense
// edge count, (D - 1) K^2 + K, is nearest to the round's sum edges (denseKForEdges), trained on the same
// split, seed and settings for as many epochs as the sparse circuit has had in all, rounds included.

import { denseKForEdges } from '../circuit/hclt.ts';
import type { EpochEvent, TrainEvent } from '../training/trainer.ts';

/** A finished sparse round and the dense run it is compared with. */
export interface SparseRound {
  round: number;
  /** Largest region's latent states after the round's grow. */
  k: number;
  edges: number;
  params: number;
  validBpd: number | null;
  /** EM epochs the sparse circuit has had in all when the round ended. */
  epochs: number;
  /** The dense HCLT with the nearest number of sum edges. */
  denseK: number;
}

/** The dense HCLT's epochs (one run per K; a later round with the same K trains the same run on). */
export interface DenseRun {
  K: number;
  events: EpochEvent[];
}

/** One row of the comparison table (and of the CSV). */
export interface ComparisonRow extends SparseRound {
  /** The dense run's validation bpd after `epochs` epochs; null until it gets there. */
  denseValidBpd: number | null;
  denseEdges: number | null;
  denseParams: number | null;
  /** Sparse minus dense validation bpd (negative: the sparse circuit wins); null until both exist. */
  delta: number | null;
}

/** Every sparse round (r >= 1) that has ended, in order, with its dense counterpart. */
export function endedRounds(events: readonly TrainEvent[], roundEpochs: number, numVars: number): SparseRound[] {
  const rounds: SparseRound[] = [];
  let epochs = 0;
  let k = 0;
  for (const e of events) {
    if (e.event === 'grow') k = e.k;
    if (e.event !== 'epoch') continue;
    epochs++;
    if (e.round < 1 || e.epoch < roundEpochs) continue;
    const row: SparseRound = { round: e.round, k, edges: e.edges, params: e.params, validBpd: e.valid_bpd, epochs, denseK: denseKForEdges(numVars, e.edges) };
    if (rounds.at(-1)?.round === e.round) rounds[rounds.length - 1] = row;
    else rounds.push(row);
  }
  return rounds;
}

/** What the dense worker should be training now: the latest ended round's K and epochs (null: nothing yet). */
export function denseTarget(events: readonly TrainEvent[], roundEpochs: number, numVars: number): { K: number; epochs: number } | null {
  const last = endedRounds(events, roundEpochs, numVars).at(-1);
  return last ? { K: last.denseK, epochs: last.epochs } : null;
}

/** The table: each ended round next to its dense run's validation bpd after the same epochs. */
export function comparisonRows(events: readonly TrainEvent[], roundEpochs: number, numVars: number, dense: readonly DenseRun[]): ComparisonRow[] {
  return endedRounds(events, roundEpochs, numVars).map((r) => {
    // The latest run of that K holds the most epochs (runs of one K are never restarted).
    const run = [...dense].reverse().find((d) => d.K === r.denseK);
    const e = run?.events[r.epochs - 1];
    const denseValidBpd = e?.valid_bpd ?? null;
    return {
      ...r,
      denseValidBpd,
      denseEdges: e?.edges ?? null,
      denseParams: e?.params ?? null,
      delta: denseValidBpd !== null && r.validBpd !== null ? r.validBpd - denseValidBpd : null,
    };
  });
}

/** The latest validation bpd of the dense run being trained (the Figures' dense-bpd). */
export function latestDenseBpd(dense: readonly DenseRun[]): number | null {
  const run = dense.at(-1);
  for (let i = (run?.events.length ?? 0) - 1; i >= 0; i--) {
    const v = run!.events[i].valid_bpd;
    if (v !== null) return v;
  }
  return null;
}

// Early stopping on validation bpd, shared by the experiments that train "to convergence": EM epochs
// until `patience` epochs pass without a better validation bpd (or `max` epochs), then the best
// epoch's circuit (the trainer's snapshot of it) is loaded back.

import { cloneCircuit } from '../circuit/structure.ts';
import type { Trainer } from '../training/trainer.ts';
import type { EpochRow } from './types.ts';

/** EM epochs until `patience` epochs pass without a better validation bpd (or `max`); the best epoch's circuit is restored. */
export async function earlyStopped(trainer: Trainer, max: number, patience: number, onEpoch: (row: EpochRow) => void): Promise<EpochRow[]> {
  const rows: EpochRow[] = [];
  let stale = 0;
  for (let e = 1; e <= max && stale < patience; e++) {
    const before = trainer.best?.bpd ?? Infinity;
    const ev = await trainer.epoch();
    const row = { epoch: e, train_bpd: ev.train_bpd, valid_bpd: ev.valid_bpd, seconds: ev.seconds };
    rows.push(row);
    onEpoch(row);
    stale = (trainer.best?.bpd ?? Infinity) < before ? 0 : stale + 1;
  }
  if (trainer.best) await trainer.setCircuit(cloneCircuit(trainer.best.circuit));
  return rows;
}

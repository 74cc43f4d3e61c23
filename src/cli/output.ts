// How commands report: one JSON object per line with --json, readable lines otherwise, and a
// progress bar on stderr when it is a terminal.
import type { GrowEvent, PruneEvent } from '../training/trainer.ts';

export interface Reporter {
  json: boolean;
  event(obj: Record<string, unknown>, text: string): void;
  progress(label: string, done: number, total: number): void;
}

export function createReporter(json: boolean): Reporter {
  const tty = Boolean(process.stderr.isTTY) && !json;
  let barShown = false;
  const clearBar = (): void => {
    if (barShown) process.stderr.write('\r\x1b[2K');
    barShown = false;
  };
  return {
    json,
    event(obj, text) {
      clearBar();
      process.stdout.write((json ? JSON.stringify(obj) : text) + '\n');
    },
    progress(label, done, total) {
      if (!tty) return;
      const width = 30;
      const filled = Math.round((done / total) * width);
      process.stderr.write(`\r\x1b[2K${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
      barShown = true;
      if (done >= total) clearBar();
    },
  };
}

export const fmt = (x: number | null, digits = 4): string => (x === null ? 'n/a' : x.toFixed(digits));

/** The readable line of a prune event (train, prune). */
export function describePrune(e: PruneEvent): string {
  const orphans =
    e.orphaned_states > 0
      ? `; ${e.orphaned_states} latent states lost every parent, taking ${e.orphaned_sums} sum nodes and ${e.orphaned_edges} more edges with them`
      : '';
  return `prune (${e.criterion}): removed ${e.removed_edges} edges${orphans}, log-likelihood drop ${fmt(e.measured_ll_drop)} nats (bound ${e.bound_ll_drop === null ? 'vacuous' : fmt(e.bound_ll_drop)}), ${e.edges_before} -> ${e.edges} edges, K per region ${e.k_min}/${e.k_median}/${e.k_max} (min/median/max)`;
}

/** The readable line of a grow event (train, grow). */
export function describeGrow(e: GrowEvent): string {
  return `grow: K=${e.k} (per region ${e.k_min}/${e.k_median}/${e.k_max} min/median/max), ${e.edges_before} -> ${e.edges} edges, ${e.params} parameters`;
}

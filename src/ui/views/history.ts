// The training history the curves view draws and the "export curves (CSV)" button writes: one entry per
// finished EM epoch, prune and grow, in the order they happened. Built from the trainer's events
// (snake_case, as the CLI prints them) into camelCase entries with a running epoch index, so the chart
// can place prune/grow markers between epochs. Pure (no DOM): the store and the tests use it directly.

import type { EpochEvent, GrowEvent, PruneEvent } from '../../training/trainer.ts';
import type { PlaygroundEpochEvent, PlaygroundEvent } from '../../worker/protocol.ts';
import type { ComparisonRow, DenseRun } from '../compare.ts';

export type HistoryEntry =
  | {
      kind: 'epoch';
      /** 1-based count of epochs over the whole run (all rounds): the chart's x position. */
      index: number;
      round: number;
      /** The trainer's epoch number within its round. */
      epoch: number;
      trainBpd: number;
      validBpd: number | null;
      /** bpd on the visitor's test split, measured at the epoch's end (null: no test split). */
      testBpd: number | null;
      edges: number;
      params: number;
      samplesPerS: number;
      seconds: number;
    }
  | {
      kind: 'prune';
      /** Epochs finished before this prune (0 when it came first): markers sit at this x. */
      afterEpoch: number;
      criterion: string;
      removed: number;
      /** Bound on the mean log-likelihood drop (nats per image); null when the bound is vacuous. */
      boundLlDrop: number | null;
      measuredLlDrop: number;
      removedFlow: number;
      edgesBefore: number;
      edges: number;
      params: number;
      /** Latent states whose every incoming edge was pruned (they went with the prune). */
      orphanedStates: number;
      /** Latent states per region after the prune. */
      kSpread: KSpread;
    }
  | { kind: 'grow'; afterEpoch: number; K: number; edgesBefore: number; edges: number; params: number; kSpread: KSpread };

/** Latent states per region: the smallest, median and largest region. */
export interface KSpread {
  min: number;
  median: number;
  max: number;
}

export type EpochEntry = Extract<HistoryEntry, { kind: 'epoch' }>;
export type PruneEntry = Extract<HistoryEntry, { kind: 'prune' }>;
export type GrowEntry = Extract<HistoryEntry, { kind: 'grow' }>;

/** Epochs counted so far in `history`: every entry records it, so the last one says. */
function epochsIn(history: readonly HistoryEntry[]): number {
  const last = history[history.length - 1];
  if (!last) return 0;
  return last.kind === 'epoch' ? last.index : last.afterEpoch;
}

/** The entry one trainer event becomes, given the history before it. */
export function entryFromEvent(history: readonly HistoryEntry[], event: PlaygroundEvent): HistoryEntry {
  const done = epochsIn(history);
  switch (event.event) {
    case 'epoch':
      return epochEntry(event, done + 1);
    case 'prune':
      return pruneEntry(event, done);
    case 'grow':
      return growEntry(event, done);
  }
}

function epochEntry(e: PlaygroundEpochEvent, index: number): EpochEntry {
  return {
    kind: 'epoch',
    index,
    round: e.round,
    epoch: e.epoch,
    trainBpd: e.train_bpd,
    validBpd: e.valid_bpd,
    testBpd: e.test_bpd ?? null,
    edges: e.edges,
    params: e.params,
    samplesPerS: e.samples_per_s,
    seconds: e.seconds,
  };
}

function pruneEntry(e: PruneEvent, afterEpoch: number): PruneEntry {
  return {
    kind: 'prune',
    afterEpoch,
    criterion: e.criterion,
    removed: e.removed_edges,
    boundLlDrop: e.bound_ll_drop,
    measuredLlDrop: e.measured_ll_drop,
    removedFlow: e.removed_flow,
    edgesBefore: e.edges_before,
    edges: e.edges,
    params: e.params,
    orphanedStates: e.orphaned_states,
    kSpread: { min: e.k_min, median: e.k_median, max: e.k_max },
  };
}

function growEntry(e: GrowEvent, afterEpoch: number): GrowEntry {
  return {
    kind: 'grow',
    afterEpoch,
    K: e.k,
    edgesBefore: e.edges_before,
    edges: e.edges,
    params: e.params,
    kSpread: { min: e.k_min, median: e.k_median, max: e.k_max },
  };
}

/** A new history with `event` appended (the store keeps histories immutable so React sees changes). */
export function appendEvent(history: readonly HistoryEntry[], event: PlaygroundEvent): HistoryEntry[] {
  return [...history, entryFromEvent(history, event)];
}

/** The history of a run from its events, in order. */
export function historyFromEvents(events: readonly PlaygroundEvent[]): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  for (const e of events) out.push(entryFromEvent(out, e));
  return out;
}

/** The CSV columns, in order; one row per entry, cells that do not apply to an entry's kind are empty. */
export const CSV_COLUMNS = [
  'kind',
  'epoch_index',
  'round',
  'epoch',
  'after_epoch',
  'train_bpd',
  'valid_bpd',
  'test_bpd',
  'samples_per_s',
  'seconds',
  'criterion',
  'removed_edges',
  'bound_ll_drop_nats',
  'measured_ll_drop_nats',
  'removed_flow',
  'orphaned_states',
  'k',
  'k_min',
  'k_median',
  'k_max',
  'edges_before',
  'edges',
  'params',
  'dense_k',
  'dense_valid_bpd',
  'delta_valid_bpd',
] as const;

type CsvColumn = (typeof CSV_COLUMNS)[number];
type Cell = number | string | null | undefined;

/**
 * One CSV cell (RFC 4180): numbers in JavaScript's shortest round-trip form; null, undefined and
 * non-finite numbers as an empty cell (a spreadsheet reads that as missing, whereas "NaN" would be
 * text); strings quoted when they hold a comma, quote or line break, quotes doubled.
 */
export function csvCell(v: Cell): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function rowOf(e: HistoryEntry): Partial<Record<CsvColumn, Cell>> {
  switch (e.kind) {
    case 'epoch':
      return {
        kind: 'epoch',
        epoch_index: e.index,
        round: e.round,
        epoch: e.epoch,
        train_bpd: e.trainBpd,
        valid_bpd: e.validBpd,
        test_bpd: e.testBpd,
        samples_per_s: e.samplesPerS,
        seconds: e.seconds,
        edges: e.edges,
        params: e.params,
      };
    case 'prune':
      return {
        kind: 'prune',
        after_epoch: e.afterEpoch,
        criterion: e.criterion,
        removed_edges: e.removed,
        bound_ll_drop_nats: e.boundLlDrop,
        measured_ll_drop_nats: e.measuredLlDrop,
        removed_flow: e.removedFlow,
        orphaned_states: e.orphanedStates,
        ...structureCells(e),
      };
    case 'grow':
      return { kind: 'grow', after_epoch: e.afterEpoch, k: e.K, ...structureCells(e) };
  }
}

/** The structure a prune or grow left: K per region, sum edges before and after, parameters. */
function structureCells(e: PruneEntry | GrowEntry): Partial<Record<CsvColumn, Cell>> {
  return { k_min: e.kSpread.min, k_median: e.kSpread.median, k_max: e.kSpread.max, edges_before: e.edgesBefore, edges: e.edges, params: e.params };
}

/** A dense comparison run's epoch (kind `dense_epoch`, `k` its K) and a round's comparison (kind `comparison`). */
function denseEpochRow(K: number, e: EpochEvent): Partial<Record<CsvColumn, Cell>> {
  const { train_bpd, valid_bpd, samples_per_s, seconds, edges, params } = e;
  return { kind: 'dense_epoch', epoch_index: e.epoch, epoch: e.epoch, k: K, train_bpd, valid_bpd, samples_per_s, seconds, edges, params };
}

function comparisonRowCells(r: ComparisonRow): Partial<Record<CsvColumn, Cell>> {
  return {
    kind: 'comparison',
    round: r.round,
    epoch_index: r.epochs,
    k: r.k,
    edges: r.edges,
    params: r.params,
    valid_bpd: r.validBpd,
    dense_k: r.denseK,
    dense_valid_bpd: r.denseValidBpd,
    delta_valid_bpd: r.delta,
  };
}

/**
 * The history as CSV text: a header line, then one line per entry, each ending in "\n"; with the
 * dense comparison on, then every dense epoch (per run) and one `comparison` row per ended round.
 */
export function historyToCsv(history: readonly HistoryEntry[], dense: readonly DenseRun[] = [], comparison: readonly ComparisonRow[] = []): string {
  const rows = history.map(rowOf);
  for (const run of dense) for (const e of run.events) rows.push(denseEpochRow(run.K, e));
  for (const r of comparison) rows.push(comparisonRowCells(r));
  const lines = [CSV_COLUMNS.join(',')];
  for (const row of rows) lines.push(CSV_COLUMNS.map((c) => csvCell(row[c])).join(','));
  return lines.join('\n') + '\n';
}

// ---- Chart series -------------------------------------------------------------------------------

export type Point = readonly [x: number, y: number];

export interface Marker {
  kind: 'prune' | 'grow';
  x: number;
  label: string;
  /** 0 for the first marker at this x, 1 for the next, ...: stacks labels that would overlap. */
  stack: number;
}

export interface CurveSeries {
  train: Point[];
  valid: Point[];
  /** The test split's bpd (empty without one). */
  test: Point[];
  edges: Point[];
  params: Point[];
  markers: Marker[];
}

const isFiniteNumber = (v: number | null): v is number => v !== null && Number.isFinite(v);

/**
 * What the curves chart plots. Points with a non-finite value are left out (a NaN would break the
 * whole SVG path); the edges/params series get a point at every entry, so a prune or grow shows as a
 * vertical step at its marker's x. `positive` drops values <= 0 from edges/params, for a log scale.
 */
export function curveSeries(history: readonly HistoryEntry[], positive = true): CurveSeries {
  const s: CurveSeries = { train: [], valid: [], test: [], edges: [], params: [], markers: [] };
  const ok = (v: number) => Number.isFinite(v) && (!positive || v > 0);
  for (const e of history) {
    const x = e.kind === 'epoch' ? e.index : e.afterEpoch;
    if (e.kind === 'epoch') {
      if (isFiniteNumber(e.trainBpd)) s.train.push([x, e.trainBpd]);
      if (isFiniteNumber(e.validBpd)) s.valid.push([x, e.validBpd]);
      if (isFiniteNumber(e.testBpd)) s.test.push([x, e.testBpd]);
    } else {
      const stack = s.markers.filter((m) => m.x === x).length;
      const label = e.kind === 'prune' ? `prune −${formatCount(e.removed)}` : `grow K=${e.K}`;
      s.markers.push({ kind: e.kind, x, label, stack });
    }
    if (ok(e.edges)) s.edges.push([x, e.edges]);
    if (ok(e.params)) s.params.push([x, e.params]);
  }
  return s;
}

/** 1234 -> "1.2k", 2_500_000 -> "2.5M": short counts for marker labels. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 1e9) return `${+(n / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

/**
 * A number as a plain string that Number() reads back: 4 significant digits, no separators or units
 * (the prune panel's drop figures are read by tests and scripts). Non-finite -> "–".
 */
export function plainNumber(v: number): string {
  if (!Number.isFinite(v)) return '–';
  return String(Number(v.toPrecision(4)));
}

/**
 * [lo, hi] covering `values` with a margin, never degenerate or non-finite: a single value v gets
 * [v - pad, v + pad] and no values at all get `fallback`, so d3 scales always have a usable domain.
 */
export function paddedExtent(values: readonly number[], margin: number, pad: number, fallback: [number, number]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi) return fallback;
  if (lo === hi) return [lo - pad, hi + pad];
  const m = (hi - lo) * margin;
  return [lo - m, hi + m];
}

/** Domain for a log scale over positive `values`: a single value v gets [v / 2, v * 2]; none gets [1, 10]. */
export function logExtent(values: readonly number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!(v > 0) || !Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi) return [1, 10];
  if (lo === hi) return [lo / 2, hi * 2];
  return [lo / 1.25, hi * 1.25];
}

/** One dense comparison run's validation bpd, at x = its epoch: it trains as many epochs as the sparse
 *  run had when a round ended, so its points line up with the sparse curve's epochs. */
export interface DenseCurve {
  K: number;
  valid: Point[];
}

export function denseCurves(runs: readonly DenseRun[]): DenseCurve[] {
  return runs
    .map((r) => ({ K: r.K, valid: r.events.filter((e) => isFiniteNumber(e.valid_bpd)).map((e): Point => [e.epoch, e.valid_bpd as number]) }))
    .filter((c) => c.valid.length > 0);
}

// The curves' history (src/ui/views/history.ts): entries built from the trainer's events with a running
// epoch index, the CSV export (header, rows, escaping, no NaN) and the chart series (no non-finite points).
import { describe, expect, it } from 'vitest';
import type { EpochEvent, GrowEvent, PruneEvent } from '../../../src/training/trainer.ts';
import type { PlaygroundEvent } from '../../../src/worker/protocol.ts';
import {
  appendEvent,
  CSV_COLUMNS,
  csvCell,
  curveSeries,
  formatCount,
  historyFromEvents,
  historyToCsv,
  logExtent,
  paddedExtent,
  plainNumber,
} from '../../../src/ui/views/history.ts';

const epoch = (round: number, e: number, train: number, valid: number | null, edges = 1000, params = 5000): EpochEvent => ({
  event: 'epoch',
  round,
  epoch: e,
  train_bpd: train,
  valid_bpd: valid,
  seconds: 2.5,
  samples_per_s: 3600,
  edges,
  params,
});
const prune = (bound: number | null, measured: number): PruneEvent => ({
  event: 'prune',
  criterion: 'flow',
  removed_edges: 750,
  removed_params: 760,
  bound_ll_drop: bound,
  removed_flow: 0.01,
  measured_ll_drop: measured,
  edges_before: 1000,
  edges: 250,
  params: 4240,
  orphaned_states: 3,
  orphaned_sums: 2,
  orphaned_edges: 4,
  k_min: 1,
  k_median: 2,
  k_max: 2,
});
const grow = (k: number): GrowEvent => ({ event: 'grow', edges_before: 250, edges: 1000, params: 9000, k, k_min: k / 2, k_median: k, k_max: k });

// The second epoch also has the test split's bpd (the playground adds it to the epoch event).
const run: PlaygroundEvent[] = [
  epoch(0, 1, 1.9, 1.95),
  { ...epoch(0, 2, 1.6, 1.7), test_bpd: 1.72 },
  prune(0.02, 0.015),
  grow(4),
  epoch(1, 1, 1.5, null, 1000, 9000),
];

describe('historyFromEvents', () => {
  it('numbers epochs across rounds and places prune/grow after the epochs before them', () => {
    const h = historyFromEvents(run);
    expect(h.map((e) => e.kind)).toEqual(['epoch', 'epoch', 'prune', 'grow', 'epoch']);
    expect(h[0]).toMatchObject({ kind: 'epoch', index: 1, round: 0, epoch: 1, trainBpd: 1.9, validBpd: 1.95, samplesPerS: 3600, edges: 1000, params: 5000 });
    expect([h[0], h[1]]).toMatchObject([{ testBpd: null }, { testBpd: 1.72 }]);
    expect(h[2]).toEqual({
      kind: 'prune',
      afterEpoch: 2,
      criterion: 'flow',
      removed: 750,
      boundLlDrop: 0.02,
      measuredLlDrop: 0.015,
      removedFlow: 0.01,
      edgesBefore: 1000,
      edges: 250,
      params: 4240,
      orphanedStates: 3,
      kSpread: { min: 1, median: 2, max: 2 },
    });
    expect(h[3]).toEqual({ kind: 'grow', afterEpoch: 2, K: 4, edgesBefore: 250, edges: 1000, params: 9000, kSpread: { min: 2, median: 4, max: 4 } });
    expect(h[4]).toMatchObject({ kind: 'epoch', index: 3, round: 1, epoch: 1, validBpd: null });
  });

  it('a prune before any epoch sits at 0; appendEvent gives the same as building at once', () => {
    expect(historyFromEvents([prune(null, 0.1)])[0]).toMatchObject({ afterEpoch: 0, boundLlDrop: null });
    let h = historyFromEvents([]);
    for (const e of run) h = appendEvent(h, e);
    expect(h).toEqual(historyFromEvents(run));
  });
});

describe('historyToCsv', () => {
  it('writes the header and one row per entry, blank cells where a value does not apply', () => {
    const csv = historyToCsv(historyFromEvents(run));
    const lines = csv.split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines[0]).toBe(CSV_COLUMNS.join(','));
    expect(lines[0]).toBe(
      'kind,epoch_index,round,epoch,after_epoch,train_bpd,valid_bpd,test_bpd,samples_per_s,seconds,criterion,removed_edges,bound_ll_drop_nats,measured_ll_drop_nats,removed_flow,orphaned_states,k,k_min,k_median,k_max,edges_before,edges,params,dense_k,dense_valid_bpd,delta_valid_bpd',
    );
    expect(lines).toHaveLength(1 + run.length + 1);
    expect(lines[1]).toBe('epoch,1,0,1,,1.9,1.95,,3600,2.5,,,,,,,,,,,,1000,5000,,,');
    expect(lines[2]).toBe('epoch,2,0,2,,1.6,1.7,1.72,3600,2.5,,,,,,,,,,,,1000,5000,,,');
    expect(lines[3]).toBe('prune,,,,2,,,,,,flow,750,0.02,0.015,0.01,3,,1,2,2,1000,250,4240,,,');
    expect(lines[4]).toBe('grow,,,,2,,,,,,,,,,,,4,2,4,4,250,1000,9000,,,');
    // Null validation bpd: an empty cell.
    expect(lines[5]).toBe('epoch,3,1,1,,1.5,,,3600,2.5,,,,,,,,,,,,1000,9000,,,');
    for (const l of lines.slice(1, -1)) expect(l.split(',')).toHaveLength(CSV_COLUMNS.length);
  });

  it('never writes NaN or Infinity, and an empty history is just the header', () => {
    const csv = historyToCsv(historyFromEvents([epoch(0, 1, NaN, Infinity), prune(null, -Infinity)]));
    expect(csv).not.toMatch(/NaN|Infinity/);
    expect(csv.split('\n')[1]).toBe('epoch,1,0,1,,,,,3600,2.5,,,,,,,,,,,,1000,5000,,,');
    expect(csv.split('\n')[2]).toBe('prune,,,,1,,,,,,flow,750,,,0.01,3,,1,2,2,1000,250,4240,,,');
    expect(historyToCsv([])).toBe(CSV_COLUMNS.join(',') + '\n');
  });

  it('escapes cells holding commas, quotes and line breaks (RFC 4180)', () => {
    expect(csvCell('flow')).toBe('flow');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell(null)).toBe('');
    expect(csvCell(NaN)).toBe('');
    expect(csvCell(1e-7)).toBe('1e-7');
    expect(csvCell(0)).toBe('0');
    const h = historyFromEvents([prune(1, 0.5)]);
    if (h[0].kind === 'prune') h[0].criterion = 'odd, "name"';
    expect(historyToCsv(h).split('\n')[1]).toBe('prune,,,,0,,,,,,"odd, ""name""",750,1,0.5,0.01,3,,1,2,2,1000,250,4240,,,');
  });
});

describe('curveSeries', () => {
  it('gives train/valid points per epoch, size steps at prune/grow and stacked markers', () => {
    const s = curveSeries(historyFromEvents(run));
    expect(s.train).toEqual([
      [1, 1.9],
      [2, 1.6],
      [3, 1.5],
    ]);
    expect(s.valid).toEqual([
      [1, 1.95],
      [2, 1.7],
    ]);
    expect(s.test).toEqual([[2, 1.72]]);
    expect(s.edges).toEqual([
      [1, 1000],
      [2, 1000],
      [2, 250],
      [2, 1000],
      [3, 1000],
    ]);
    expect(s.markers).toEqual([
      { kind: 'prune', x: 2, label: 'prune −750', stack: 0 },
      { kind: 'grow', x: 2, label: 'grow K=4', stack: 1 },
    ]);
  });

  it('drops non-finite values (and non-positive sizes for the log axis)', () => {
    const s = curveSeries(historyFromEvents([epoch(0, 1, NaN, null, 0, Infinity), epoch(0, 2, 1.5, -Infinity, 10, 20)]));
    expect(s.train).toEqual([[2, 1.5]]);
    expect(s.valid).toEqual([]);
    expect(s.edges).toEqual([[2, 10]]);
    expect(s.params).toEqual([[2, 20]]);
    for (const series of [s.train, s.valid, s.edges, s.params]) for (const [x, y] of series) expect(Number.isFinite(x) && Number.isFinite(y)).toBe(true);
    expect(curveSeries([])).toEqual({ train: [], valid: [], test: [], edges: [], params: [], markers: [] });
  });
});

describe('chart helpers', () => {
  it('paddedExtent: margin, a single value padded, none -> fallback, non-finite ignored', () => {
    expect(paddedExtent([1, 2], 0.1, 1, [0, 1])).toEqual([0.9, 2.1]);
    expect(paddedExtent([1.5], 0.1, 0.05, [0, 8])).toEqual([1.45, 1.55]);
    expect(paddedExtent([], 0.1, 1, [0, 8])).toEqual([0, 8]);
    expect(paddedExtent([NaN, Infinity, 3], 0, 1, [0, 8])).toEqual([2, 4]);
  });
  it('logExtent: positive values only, single value spans a factor of 4', () => {
    expect(logExtent([100, 1000])).toEqual([80, 1250]);
    expect(logExtent([50])).toEqual([25, 100]);
    expect(logExtent([0, -3, NaN])).toEqual([1, 10]);
  });
  it('plainNumber: 4 significant digits that Number() reads back', () => {
    expect(plainNumber(0.0421)).toBe('0.0421');
    expect(plainNumber(0.123456)).toBe('0.1235');
    expect(plainNumber(1.5e-7)).toBe('1.5e-7');
    expect(Number(plainNumber(1.5e-7))).toBe(1.5e-7);
    expect(plainNumber(12345.6)).toBe('12350');
    expect(plainNumber(NaN)).toBe('–');
  });
  it('formatCount', () => {
    expect(formatCount(750)).toBe('750');
    expect(formatCount(150_348)).toBe('150.3k');
    expect(formatCount(2_500_000)).toBe('2.5M');
    expect(formatCount(NaN)).toBe('–');
  });
});

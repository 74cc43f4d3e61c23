// Compare with dense: which dense HCLT each ended round is compared with (src/ui/compare.ts), and the
// store driving two real training sessions (src/worker/session.ts with the CPU engine, in Node, behind
// the same TrainingWorker interface the page's Web Workers have): the dense numbers equal a dense run
// trained on its own, Pause pauses both, Reset stops both, a failing second worker leaves the first
// running with a notice, and the CSV carries the comparison.
import { describe, expect, it } from 'vitest';
import { denseHcltEdges } from '../../src/circuit/hclt.ts';
import type { Dataset } from '../../src/data/dataset.ts';
import { CpuEngine } from '../../src/engines/cpu/engine.ts';
import type { EpochEvent, GrowEvent, TrainEvent } from '../../src/training/trainer.ts';
import { comparisonRows, denseTarget, endedRounds, latestDenseBpd, type DenseRun } from '../../src/ui/compare.ts';
import { createPlaygroundStore, runConfigOf, type PlaygroundStore } from '../../src/ui/store.ts';
import { historyCsv } from '../../src/ui/tabs.tsx';
import { CSV_COLUMNS } from '../../src/ui/views/history.ts';
import type { RunConfig, ToWorker } from '../../src/worker/protocol.ts';
import { InProcessWorker } from '../../src/worker/in-process.ts';
import { embeddedSubset } from '../helpers/data.ts';

const D = 784;

function epoch(round: number, n: number, edges: number, valid: number | null = 1.5): EpochEvent {
  return { event: 'epoch', round, epoch: n, train_bpd: 1.4, valid_bpd: valid, seconds: 1, samples_per_s: 100, edges, params: edges * 10 };
}
function grow(k: number, edges: number): GrowEvent {
  return { event: 'grow', edges_before: edges / 4, edges, params: edges * 10, k, k_min: k, k_median: k, k_max: k };
}

describe('which dense HCLT a round is compared with', () => {
  const dense8 = denseHcltEdges(D, 8);
  const events: TrainEvent[] = [
    epoch(0, 1, dense8),
    epoch(0, 2, dense8),
    grow(16, 46_000),
    epoch(1, 1, 46_000),
    epoch(1, 2, 46_000, 1.45),
    grow(32, 41_000),
    epoch(2, 1, 41_000),
  ];

  it('a round ends after roundEpochs epochs; its dense K has the nearest edge count; epochs count the whole run', () => {
    const rounds = endedRounds(events, 2, D);
    expect(rounds).toEqual([{ round: 1, k: 16, edges: 46_000, params: 460_000, validBpd: 1.45, epochs: 4, denseK: 8 }]);
    // 41,000 edges: K = 7 (38,374) is nearer than K = 8 (50,120).
    const more = [...events, epoch(2, 2, 41_000, 1.44)];
    expect(endedRounds(more, 2, D).map((r) => [r.round, r.denseK, r.epochs])).toEqual([
      [1, 8, 4],
      [2, 7, 6],
    ]);
    expect(denseTarget(more, 2, D)).toEqual({ K: 7, epochs: 6 });
    // An extra epoch stepped by hand in round 2 moves its end along.
    expect(denseTarget([...more, epoch(2, 3, 41_000)], 2, D)).toEqual({ K: 7, epochs: 7 });
    expect(denseTarget(events.slice(0, 4), 2, D)).toBeNull();
  });

  it('rows read the dense run of their K after the same number of epochs, and the difference', () => {
    const denseEvents = [1.6, 1.55, 1.5, 1.47, 1.46, 1.45].map((v, i) => epoch(0, i + 1, dense8, v));
    const runs: DenseRun[] = [{ K: 8, events: denseEvents.slice(0, 3) }];
    let rows = comparisonRows(events, 2, D, runs);
    expect(rows[0].denseValidBpd).toBeNull(); // 3 of the 4 epochs so far
    expect(rows[0].delta).toBeNull();
    runs[0] = { K: 8, events: denseEvents };
    rows = comparisonRows(events, 2, D, runs);
    expect(rows[0].denseValidBpd).toBe(1.47);
    expect(rows[0].denseEdges).toBe(dense8);
    expect(rows[0].delta).toBeCloseTo(1.45 - 1.47, 12);
    expect(latestDenseBpd(runs)).toBe(1.45);
    expect(latestDenseBpd([])).toBeNull();
  });
});

/** A session in this process with the CPU engine the tab's worker uses (float32, one thread). */
function sessionWorker(data: Dataset, failEngine: boolean): InProcessWorker {
  return new InProcessWorker({
    createEngine: async () => {
      if (failEngine) throw new Error('no engine here');
      return { engine: new CpuEngine({ threads: 1, precision: 'float32' }) };
    },
    loadDataset: async () => data,
  });
}

const SETTINGS = { K: 3, seed: 1, batch: 100, step: 0.1, pseudocount: 0.1, epochs: 2, roundEpochs: 1, rounds: 2, prune: 0.75, sigma: 0.3, validFrac: 0.2 };

function twoWorkers(data: Dataset, opts: { failDense?: boolean; compare?: boolean } = {}) {
  const workers: InProcessWorker[] = [];
  const store = createPlaygroundStore({
    spawnWorker: () => {
      const w = sessionWorker(data, opts.failDense === true && workers.length > 0);
      workers.push(w);
      return w;
    },
    dataUrl: 'http://127.0.0.1/unused',
    settings: { ...SETTINGS, compare: opts.compare ?? true },
  });
  store.getState().setEngine('cpu');
  return { store, workers };
}

/** Resolves once `pred` holds for the store's state. */
function until(store: PlaygroundStore, pred: (s: ReturnType<PlaygroundStore['getState']>) => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (pred(store.getState())) return resolve();
    const off = store.subscribe((s) => {
      if (pred(s)) {
        off();
        resolve();
      }
    });
  });
}

/** Epoch events of a session trained on its own with `config` (play to the end). */
async function soloRun(data: Dataset, config: RunConfig): Promise<EpochEvent[]> {
  const w = sessionWorker(data, false);
  const events: EpochEvent[] = [];
  await new Promise<void>((resolve) => {
    w.onmessage = (e) => {
      const m = e.data;
      if (m.type === 'event' && m.event.event === 'epoch') events.push(m.event);
      if (m.type === 'idle') resolve();
      if (m.type === 'error') throw new Error(m.message);
    };
    w.postMessage({ type: 'speed', speed: 'fast' });
    w.postMessage({ type: 'init', dataset: { kind: 'embedded', url: 'http://127.0.0.1/unused' }, config, engine: 'cpu' });
    w.postMessage({ type: 'play' });
  });
  return events;
}

describe('Compare with dense, with two real sessions', () => {
  it('after each round a second worker trains the nearest dense HCLT for as many epochs; its numbers are those of a dense run on its own', async () => {
    const data = await embeddedSubset(300);
    const { store, workers } = twoWorkers(data);
    store.getState().play();
    await until(store, (s) => s.status === 'finished');
    await until(store, (s) => s.dense.status === 'done' && s.dense.target?.epochs === 4);
    const s = store.getState();
    const rows = comparisonRows(s.events, SETTINGS.roundEpochs, D, s.dense.runs);
    expect(rows.map((r) => [r.round, r.epochs])).toEqual([
      [1, 3],
      [2, 4],
    ]);
    for (const r of rows) {
      expect(r.denseValidBpd).not.toBeNull();
      expect(Number.isFinite(r.delta)).toBe(true);
      expect(Math.abs(denseHcltEdges(D, r.denseK) - r.edges)).toBeLessThanOrEqual(Math.abs(denseHcltEdges(D, r.denseK + 1) - r.edges));
    }
    // The dense run: init with the same split, seed and settings but K and the total epochs, no rounds.
    const denseInits = workers.slice(1).map((w) => w.sent.find((m) => m.type === 'init') as Extract<ToWorker, { type: 'init' }>);
    expect(denseInits.length).toBeGreaterThan(0);
    expect(denseInits[0].config).toMatchObject({ seed: 1, validFrac: 0.2, batch: 100, step: 0.1, K: rows[0].denseK, epochs: 3, rounds: 0 });
    // Each row's dense bpd is that of the same dense HCLT trained alone for that many epochs.
    for (const r of rows) {
      const solo = await soloRun(data, { ...runConfigOf(s.settings), K: r.denseK, epochs: r.epochs, rounds: 0 });
      expect(solo).toHaveLength(r.epochs);
      expect(r.denseValidBpd).toBe(solo[r.epochs - 1].valid_bpd);
    }
    // The CSV: the dense epochs and one comparison row per round, in the declared columns.
    const csv = historyCsv(s).trim().split('\n');
    expect(csv[0]).toBe(CSV_COLUMNS.join(','));
    const kindAt = CSV_COLUMNS.indexOf('kind');
    const comparison = csv.filter((l) => l.split(',')[kindAt] === 'comparison');
    expect(comparison).toHaveLength(2);
    const cells = comparison[0].split(',');
    expect(Number(cells[CSV_COLUMNS.indexOf('dense_valid_bpd')])).toBe(rows[0].denseValidBpd);
    expect(Number(cells[CSV_COLUMNS.indexOf('delta_valid_bpd')])).toBeCloseTo(rows[0].delta!, 12);
    expect(csv.filter((l) => l.split(',')[kindAt] === 'dense_epoch').length).toBe(s.dense.runs.reduce((n, r) => n + r.events.length, 0));
  }, 120_000);

  it('Pause pauses both workers and Play resumes both; Reset stops both', async () => {
    const data = await embeddedSubset(300);
    const { store, workers } = twoWorkers(data);
    store.getState().play();
    await until(store, (s) => s.dense.status === 'training');
    store.getState().pause();
    expect(workers[1].sent.at(-1)?.type).toBe('pause');
    expect(store.getState().dense.status).toBe('paused');
    await until(store, (s) => s.status === 'paused');
    // Paused, the dense run stays where it is.
    const epochsAtPause = store.getState().dense.runs[0].events.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(store.getState().dense.runs[0].events.length).toBeLessThanOrEqual(epochsAtPause + 1);
    expect(store.getState().dense.status).toBe('paused');
    store.getState().play();
    expect(workers[1].sent.at(-1)?.type).toBe('play');
    expect(store.getState().dense.status).toBe('training');
    await until(store, (s) => s.status === 'finished' && s.dense.status === 'done');
    expect(comparisonRows(store.getState().events, 1, D, store.getState().dense.runs).every((r) => r.denseValidBpd !== null)).toBe(true);
    store.getState().reset();
    expect(workers.every((w) => w.terminated)).toBe(true);
    expect(store.getState().dense).toEqual({ status: 'waiting', runs: [], target: null });
  }, 120_000);

  it('a failing second worker leaves the sparse run going, with one notice; off means no second worker', async () => {
    const data = await embeddedSubset(300);
    const { store, workers } = twoWorkers(data, { failDense: true });
    store.getState().play();
    await until(store, (s) => s.status === 'finished');
    const s = store.getState();
    expect(s.dense.status).toBe('failed');
    expect(s.notices.filter((n) => n.startsWith('The dense comparison stopped'))).toHaveLength(1);
    expect(s.events.filter((e) => e.event === 'epoch')).toHaveLength(4);
    expect(workers[0].terminated).toBe(false);

    const off = twoWorkers(data, { compare: false });
    off.store.getState().play();
    await until(off.store, (x) => x.status === 'finished');
    expect(off.workers).toHaveLength(1);
  }, 120_000);
});

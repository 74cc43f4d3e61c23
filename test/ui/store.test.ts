// The playground store driven by a fake worker: what it sends for each action, how it folds the
// worker's messages into state, which settings are locked while a model exists, and queries.
import { describe, expect, it } from 'vitest';
import type { ModelInfo, ToWorker } from '../../src/worker/protocol.ts';
import { createPlaygroundStore, epochsDone, latestValidBpd, modelLocked, runConfigOf } from '../../src/ui/store.ts';
import type { DemoModel } from '../../src/ui/demo.ts';
import type { EpochEvent } from '../../src/training/trainer.ts';
import { FakeWorker } from '../helpers/fake-worker.ts';

const INFO: ModelInfo = {
  backend: 'CPU float32, 1 thread',
  engine: 'cpu',
  gpuBytes: 0,
  dataBytes: 1568,
  edges: 100,
  params: 500,
  K: 2,
  trainCount: 90,
  validCount: 10,
  datasetName: 'embedded',
};

function epoch(valid: number, edges = 100): EpochEvent {
  return { event: 'epoch', round: 0, epoch: 1, train_bpd: valid + 0.1, valid_bpd: valid, seconds: 1, samples_per_s: 90, edges, params: 500 };
}

function setup() {
  const workers: FakeWorker[] = [];
  const store = createPlaygroundStore({
    spawnWorker: () => {
      const w = new FakeWorker();
      workers.push(w);
      return w;
    },
    dataUrl: 'http://x/data.bin',
    settings: { K: 2 },
  });
  return { store, workers };
}

describe('playground store', () => {
  it('Play builds the model first (speed, init with the settings), then plays; the status follows the worker', () => {
    const { store, workers } = setup();
    store.getState().play();
    expect(workers).toHaveLength(1);
    const w = workers[0];
    expect(w.sent.map((m) => m.type)).toEqual(['speed', 'init', 'play']);
    const init = w.sent[1] as Extract<ToWorker, { type: 'init' }>;
    expect(init.config.K).toBe(2);
    expect(init.dataset).toEqual({ kind: 'embedded', url: 'http://x/data.bin' });
    expect(store.getState().status).toBe('loading');
    w.emit({ type: 'ready', info: INFO });
    expect(store.getState().status).toBe('training');
    w.emit({ type: 'event', event: epoch(1.5) });
    w.emit({ type: 'event', event: epoch(1.4) });
    expect(epochsDone(store.getState().events)).toBe(2);
    expect(latestValidBpd(store.getState().events)).toBe(1.4);
    w.emit({ type: 'idle', finished: true });
    expect(store.getState().status).toBe('finished');
    // Nothing to play once finished; a step still runs (no second init).
    store.getState().play();
    expect(w.sent).toHaveLength(3);
    store.getState().step('grow');
    expect(w.sent.at(-1)).toEqual({ type: 'step', unit: 'grow' });
    expect(store.getState().status).toBe('stepping');
  });

  it('locks K, seed and the validation split while a model exists; other settings go to the worker', () => {
    const { store, workers } = setup();
    store.getState().step('batch');
    const w = workers[0];
    w.emit({ type: 'ready', info: INFO });
    w.emit({ type: 'idle', finished: false });
    store.getState().setSetting('K', 4);
    store.getState().setSetting('seed', 9);
    expect(store.getState().settings.K).toBe(2);
    store.getState().setSetting('prune', 0.5);
    expect(store.getState().settings.prune).toBe(0.5);
    expect(w.sent.at(-1)).toEqual({ type: 'configure', config: { prune: 0.5 } });
    // Out-of-range and wrongly typed values are ignored.
    store.getState().setSetting('prune', 1.5);
    store.getState().setSetting('batch', 2.5);
    store.getState().setSetting('step', 0);
    expect(store.getState().settings.prune).toBe(0.5);
    expect(store.getState().settings.step).toBe(0.1);
    store.getState().reset();
    expect(w.terminated).toBe(true);
    store.getState().setSetting('K', 4);
    expect(store.getState().settings.K).toBe(4);
  });

  it('tracks previews, prune events and model counts; errors before a model drop the worker', () => {
    const { store, workers } = setup();
    store.getState().play();
    const w = workers[0];
    w.emit({ type: 'ready', info: INFO });
    const histogram = { min: -5, max: 0, counts: new Int32Array(4), total: 0 };
    w.emit({
      type: 'prunePreview',
      preview: {
        fraction: 0.5,
        criterion: 'flow',
        histogram,
        removedCounts: new Int32Array(4),
        threshold: -2,
        removedPerRegion: new Int32Array(1),
        removed: 50,
        holdMs: 10,
      },
    });
    expect(store.getState().preview?.removed).toBe(50);
    w.emit({
      type: 'event',
      event: {
        event: 'prune',
        criterion: 'flow',
        removed_edges: 50,
        removed_params: 50,
        bound_ll_drop: 0.2,
        removed_flow: 0.1,
        measured_ll_drop: 0.1,
        edges_before: 100,
        edges: 50,
        params: 450,
        orphaned_states: 0,
        orphaned_sums: 0,
        orphaned_edges: 0,
        k_min: 2,
        k_median: 2,
        k_max: 2,
      },
    });
    expect(store.getState().preview).toBeNull();
    expect(store.getState().lastPreview?.removed).toBe(50);
    expect(store.getState().lastPrune?.removed_edges).toBe(50);
    expect(store.getState().model?.edges).toBe(50);
    w.emit({ type: 'event', event: { event: 'grow', edges_before: 50, edges: 200, params: 900, k: 4, k_min: 4, k_median: 4, k_max: 4 } });
    expect(store.getState().model?.K).toBe(4);

    const second = setup();
    second.store.getState().play();
    second.workers[0].emit({ type: 'error', message: 'embedded.bin: not an SPCD file.' });
    expect(second.store.getState().status).toBe('error');
    expect(second.store.getState().error).toBe('embedded.bin: not an SPCD file.');
    expect(second.workers[0].terminated).toBe(true);
    second.store.getState().play();
    expect(second.workers).toHaveLength(2);
    expect(second.workers[1].sent.map((m) => m.type)).toEqual(['speed', 'init', 'play']);
  });

  it('answers queries by id, rejects them without a model and on reset', async () => {
    const { store, workers } = setup();
    await expect(store.getState().query({ kind: 'samples', count: 1, seed: 1 })).rejects.toThrow(/no model/);
    store.getState().play();
    const w = workers[0];
    w.emit({ type: 'ready', info: INFO });
    const a = store.getState().query({ kind: 'samples', count: 1, seed: 1 });
    const b = store.getState().query({ kind: 'bpdDistribution' });
    const ids = w.sent.filter((m) => m.type === 'query').map((m) => (m as Extract<ToWorker, { type: 'query' }>).id);
    expect(ids).toHaveLength(2);
    w.emit({ type: 'queryError', id: ids[1], message: 'No validation images.' });
    w.emit({ type: 'queryResult', id: ids[0], result: { kind: 'images', count: 1, pixels: new Uint8Array(784) } });
    await expect(a).resolves.toMatchObject({ kind: 'images', count: 1 });
    await expect(b).rejects.toThrow('No validation images.');
    const c = store.getState().query({ kind: 'samples', count: 1, seed: 2 });
    store.getState().reset();
    await expect(c).rejects.toThrow(/reset/);
  });

  it('shows the demo model without training; Play and steps replace it with a new model from the settings', async () => {
    const { store, workers } = setup();
    const demo: DemoModel = {
      file: { name: 'demo.spc', bytes: new ArrayBuffer(8) },
      config: { ...runConfigOf(store.getState().settings), K: 6, seed: 1, validFrac: 0.1 },
      description: 'a K = 6 HCLT',
      validBpd: 1.5,
    };
    store.getState().showDemo(demo);
    const w = workers[0];
    // The demo's split and the CPU engine, with the model file; nothing is played.
    expect(w.sent.map((m) => m.type)).toEqual(['speed', 'init']);
    const init = w.sent[1] as Extract<ToWorker, { type: 'init' }>;
    expect(init).toMatchObject({ engine: 'cpu', model: demo.file, dataset: { kind: 'embedded', url: 'http://x/data.bin' } });
    expect(init.config.K).toBe(6);
    expect(store.getState().settings.model).toBe('demo');
    // Loading leaves the page idle (Play could start at once); once ready it rests on the demo.
    expect(store.getState().status).toBe('idle');
    w.emit({ type: 'ready', info: { ...INFO, K: 12 } });
    expect(store.getState().status).toBe('paused');
    expect(store.getState().demo).toEqual({ description: 'a K = 6 HCLT', validBpd: 1.5 });
    expect(modelLocked(store.getState())).toBe(false);
    // Settings stay free (the demo fixes none) and are not sent to the demo's worker.
    store.getState().setSetting('K', 4);
    store.getState().setSetting('prune', 0.5);
    expect(store.getState().settings.K).toBe(4);
    expect(w.sent.map((m) => m.type)).toEqual(['speed', 'init']);
    // Queries go to the demo's worker (this one is still pending when Play drops it).
    const asked = store.getState().query({ kind: 'samples', count: 1, seed: 1 });
    expect(w.sent.at(-1)?.type).toBe('query');
    // Play: the demo goes, a new worker builds a model from the settings and plays.
    store.getState().play();
    expect(w.terminated).toBe(true);
    expect(store.getState().demo).toBeNull();
    expect(store.getState().settings.model).toBe('new');
    await expect(asked).rejects.toThrow(/reset/);
    const next = workers[1];
    expect(next.sent.map((m) => m.type)).toEqual(['speed', 'init', 'play']);
    const init2 = next.sent[1] as Extract<ToWorker, { type: 'init' }>;
    expect(init2.model).toBeUndefined();
    expect(init2.config).toMatchObject({ K: 4, prune: 0.5 });
    expect(init2.engine).toBe('auto');

    // A step on the demo also starts a new model; Reset drops the demo.
    store.getState().showDemo(demo);
    workers[2].emit({ type: 'ready', info: INFO });
    store.getState().step('epoch');
    expect(workers[2].terminated).toBe(true);
    expect(workers[3].sent.map((m) => m.type)).toEqual(['speed', 'init', 'step']);
    store.getState().showDemo(demo);
    store.getState().reset();
    expect([store.getState().demo, store.getState().model, store.getState().status, store.getState().settings.model]).toEqual([null, null, 'idle', 'new']);
  });

  it('a demo that fails to load leaves the page idle with one notice, not an error', () => {
    const { store, workers } = setup();
    store
      .getState()
      .showDemo({ file: { name: 'demo.spc', bytes: new ArrayBuffer(8) }, config: runConfigOf(store.getState().settings), description: 'x', validBpd: 1 });
    workers[0].emit({ type: 'error', message: 'demo.spc is not a .spc model.' });
    const s = store.getState();
    expect([s.status, s.error, s.demo, s.model]).toEqual(['idle', null, null, null]);
    expect(s.notices).toEqual(['The demo model could not be loaded (demo.spc is not a .spc model); press Play to train a model.']);
    expect(workers[0].terminated).toBe(true);
  });

  it('keeps notices unique and bounded', () => {
    const { store } = setup();
    for (let i = 0; i < 20; i++) store.getState().notify(`notice ${i % 12}`);
    expect(store.getState().notices).toHaveLength(8);
    store.getState().notify('notice 11');
    expect(store.getState().notices).toHaveLength(8);
    store.getState().dismissNotice(0);
    expect(store.getState().notices).toHaveLength(7);
  });
});

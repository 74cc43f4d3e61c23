// The playground's state: one zustand store holding the settings (the URL-state schema's fields), the
// run's status, everything the training worker has reported (events, snapshots, previews, progress)
// and the actions that drive that worker (play, pause, step, prune, grow, reset, queries).
// The worker handle lives in the store's closure (no module-level globals); `createPlaygroundStore`
// takes a factory for it, so the store can be driven by a fake worker outside the browser.
// The message contract is src/worker/protocol.ts.

import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import { createStore, type StoreApi } from 'zustand/vanilla';
import { settingRange } from '../training/settings.ts';
import type { EpochEvent, PruneEvent, TrainEvent } from '../training/trainer.ts';
import type {
  CircuitSnapshot,
  DatasetSource,
  DroppedFile,
  EnginePreference,
  FromWorker,
  PlaygroundEvent,
  ModelInfo,
  PrunePreview,
  ProgressTask,
  Query,
  QueryResult,
  RunConfig,
  Speed,
  StepUnit,
  ToWorker,
} from '../worker/protocol.ts';
import { denseTarget, type DenseRun } from './compare.ts';
import type { DemoModel } from './demo.ts';
import { URL_FIELDS, defaultUrlState, type NumberField, type PlaygroundUrlState, type PlaygroundView } from './url-state.ts';

export type Settings = PlaygroundUrlState;

/** The demo model while it is the one shown (src/ui/demo.ts): loaded from public/models/, not trained here. */
export interface DemoShown {
  /** What it is, as a clause ("a K = 6 HCLT ... validation bpd 1.4993"). */
  description: string;
  validBpd: number;
}

/** Settings that shape the model (or its data): fixed while a model exists, until Reset. */
export const MODEL_SETTINGS: ReadonlySet<keyof Settings> = new Set<keyof Settings>(['K', 'seed', 'validFrac', 'images', 'dataset']);

export type Status =
  | 'idle' // no model yet
  | 'loading' // loading data and building the HCLT
  | 'training' // play in progress
  | 'stepping' // one step in progress
  | 'pausing' // pause requested; the worker stops at the next mini-batch boundary
  | 'paused'
  | 'finished' // the whole schedule is done
  | 'error';

export interface Progress {
  task: ProgressTask;
  done: number;
  total: number;
}

export interface BatchProgress {
  epoch: number;
  done: number;
  total: number;
  trainBpd: number;
}

/**
 * The dense HCLT trained beside the sparse run when `settings.compare` is on (src/ui/compare.ts):
 * `waiting` until a round ends (or with the comparison off), `training` while the second worker
 * catches up with the latest ended round, `paused` with the sparse run, `done` when caught up,
 * `failed` after the second worker failed (the sparse run goes on; Reset clears it).
 */
export interface DenseState {
  status: 'waiting' | 'training' | 'paused' | 'done' | 'failed';
  /** One run per dense K, in the order they started; the last is the one being trained. */
  runs: DenseRun[];
  /** The K and total epochs the second worker is training to. */
  target: { K: number; epochs: number } | null;
}

/** What the page knows about WebGPU before any run (the banner); `null` while still checking. */
export type GpuSupport = { kind: 'available'; adapter: string } | { kind: 'missing' } | { kind: 'no-adapter' };

export interface PlaygroundState {
  settings: Settings;
  engine: EnginePreference;
  speed: Speed;
  /** The visitor's own IDX images file, when they loaded one (it never goes into a link). */
  userData: File | null;
  /** The visitor's test split (an IDX images file), when they gave one; it outlives Reset. */
  testData: File | null;
  /** The test split as the worker read it (name, images); null until it is read. */
  testSplit: { name: string; count: number } | null;
  /** The model's latest bpd on the test split (after the latest epoch, or when the split arrived). */
  testBpd: number | null;
  gpu: GpuSupport | null;
  status: Status;
  model: ModelInfo | null;
  /** Every finished epoch, prune and grow of this run, in order. */
  events: PlaygroundEvent[];
  batch: BatchProgress | null;
  progress: Progress | null;
  snapshot: CircuitSnapshot | null;
  /** The prune about to happen (shown until its event arrives). */
  preview: PrunePreview | null;
  /** The preview of the last prune that happened (its histogram stays on show next to the drops). */
  lastPreview: PrunePreview | null;
  lastPrune: PruneEvent | null;
  dense: DenseState;
  /** The demo model, while it is shown (Play, a step, Reset, an import or other data replace it). */
  demo: DemoShown | null;
  /** Plain-text messages for the visitor (repaired links, GPU fallbacks); never rendered as HTML. */
  notices: string[];
  /** One sentence for the alert, when something failed. */
  error: string | null;

  setSetting<P extends keyof Settings>(key: P, value: Settings[P]): void;
  /** Replaces all settings at once (a link or the remembered configuration); drops any model. */
  loadSettings(settings: Settings): void;
  setView(view: PlaygroundView): void;
  setSpeed(speed: Speed): void;
  setEngine(engine: EnginePreference): void;
  setGpuSupport(gpu: GpuSupport): void;
  /** Uses the visitor's IDX file (or the embedded digits for null) for the next model. */
  setUserData(file: File | null): void;
  /** Uses the IDX file as the test split (null: none): never trained on, measured after every epoch. */
  setTestData(file: File | null): void;
  notify(message: string): void;
  dismissNotice(index: number): void;
  /** Builds the model if needed and runs the schedule until it ends. */
  play(): void;
  /** Asks the worker (and the dense comparison's) to stop at the next mini-batch boundary. */
  pause(): void;
  /** One unit of work (building the model first when there is none). */
  step(unit: StepUnit): void;
  /** Stops the workers at once and forgets the model and its dense comparison (settings stay). */
  reset(): void;
  /** Asks the worker a question about the current model; rejects with one sentence. */
  query(q: Query): Promise<QueryResult>;
  /** Replaces the model by one from a file (.spc or .jpc), loading the data first if needed. */
  importModel(file: DroppedFile): Promise<void>;
  /** Shows the demo model: the embedded digits and the demo loaded in a worker, nothing trained. */
  showDemo(demo: DemoModel): void;
}

/** What the store needs of a Worker (a real one in the page, a fake in tests). */
export interface TrainingWorker {
  postMessage(msg: ToWorker, transfer?: Transferable[]): void;
  terminate(): void;
  onmessage: ((e: MessageEvent<FromWorker>) => void) | null;
  onerror: ((e: ErrorEvent) => void) | null;
}

export interface StoreOptions {
  spawnWorker: () => TrainingWorker;
  /** Absolute URL of the embedded data file (the worker resolves nothing against the page itself). */
  dataUrl: string;
  settings?: Partial<Settings>;
}

export type PlaygroundStore = StoreApi<PlaygroundState>;

const BUSY: ReadonlySet<Status> = new Set<Status>(['loading', 'training', 'stepping', 'pausing']);

export function isBusy(status: Status): boolean {
  return BUSY.has(status);
}

/** Whether Play (or a step) may start now. */
export function canPlay(s: Pick<PlaygroundState, 'status'>): boolean {
  return !isBusy(s.status) && s.status !== 'finished';
}

/** Whether the settings that shape the model (and the engine and data) are fixed now: a model of this
 *  run exists. The demo model fixes nothing: Play trains a new model from the settings. */
export function modelLocked(s: Pick<PlaygroundState, 'model' | 'demo'>): boolean {
  return s.model !== null && s.demo === null;
}

/** Whether a structure step (prune, grow) or a single step may run now. */
export function canStep(s: Pick<PlaygroundState, 'status'>): boolean {
  return !isBusy(s.status);
}

/** Number of EM epochs finished so far. */
export function epochsDone(events: readonly TrainEvent[]): number {
  let n = 0;
  for (const e of events) if (e.event === 'epoch') n++;
  return n;
}

/** The latest validation bpd (null before the first epoch, or with no validation images). */
export function latestValidBpd(events: readonly TrainEvent[]): number | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.event === 'epoch') return e.valid_bpd;
  }
  return null;
}

/** The worker's run configuration from the settings. */
export function runConfigOf(s: Settings): RunConfig {
  const { K, seed, batch, step, pseudocount, epochs, roundEpochs, rounds, prune, criterion, sigma, validFrac, images } = s;
  return { K, seed, batch, step, pseudocount, epochs, roundEpochs, rounds, prune, criterion, sigma, validFrac, images };
}

/** Whether `value` is a valid value of setting `key` (the URL schema's types and ranges). */
export function isValidSetting<P extends keyof Settings>(key: P, value: Settings[P]): boolean {
  const f = URL_FIELDS.find((x) => x.prop === key);
  if (!f) return false;
  if (f.kind === 'bool') return typeof value === 'boolean';
  if (f.kind === 'enum') return typeof value === 'string' && f.values.includes(value);
  const nf = f as NumberField;
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  if (nf.kind === 'int' && !Number.isInteger(value)) return false;
  return (nf.minExclusive ? value > nf.min : value >= nf.min) && value <= nf.max;
}

const INITIAL_DENSE: DenseState = { status: 'waiting', runs: [], target: null };

const INITIAL_RUN = {
  status: 'idle' as Status,
  model: null,
  events: [],
  batch: null,
  progress: null,
  snapshot: null,
  preview: null,
  lastPreview: null,
  lastPrune: null,
  dense: INITIAL_DENSE,
  demo: null,
  testSplit: null,
  testBpd: null,
  error: null,
};

/** At most this many notices are kept (a hostile link could produce many). */
const MAX_NOTICES = 8;

export function createPlaygroundStore(options: StoreOptions): PlaygroundStore {
  let worker: TrainingWorker | null = null;
  /** Whether the current worker was sent `init` (it builds the model before any other command). */
  let initSent = false;
  /** The status once the model is ready ('training' for Play, 'stepping' for a step). */
  let afterLoad: Status = 'training';
  let nextQueryId = 1;
  /** The second worker of the dense comparison, and the K it trains. */
  let denseWorker: TrainingWorker | null = null;
  let denseK = 0;
  const pending = new Map<number, { resolve: (r: QueryResult) => void; reject: (e: Error) => void }>();

  const rejectPending = (why: string): void => {
    for (const p of pending.values()) p.reject(new Error(why));
    pending.clear();
  };

  return createStore<PlaygroundState>()((set, get) => {
    const onMessage = (msg: FromWorker): void => {
      switch (msg.type) {
        case 'ready': {
          // The demo loads while the page stays idle (Play may start a new model meanwhile); once it is
          // there the page is paused on it.
          const st = get().status;
          set({ model: msg.info, status: st === 'loading' ? afterLoad : get().demo && st === 'idle' ? 'paused' : st });
          break;
        }
        case 'snapshot': {
          // The snapshot is the latest word on the structure (a prune can shrink K by dropping nodes).
          const { K, edges, params } = msg.snapshot;
          set((s) => ({ snapshot: msg.snapshot, model: s.model ? { ...s.model, K, edges, params } : s.model }));
          break;
        }
        case 'progress':
          // A mini-batch reported only by its progress (unwatched play) makes an older batch line stale.
          set((s) => ({
            progress: { task: msg.task, done: msg.done, total: msg.total },
            batch: msg.task === 'epoch' && s.batch && s.batch.done !== msg.done ? null : s.batch,
          }));
          break;
        case 'batch':
          set({ batch: { epoch: msg.epoch, done: msg.done, total: msg.total, trainBpd: msg.trainBpd } });
          break;
        case 'event': {
          const e = msg.event;
          set((s) => ({
            events: [...s.events, e],
            batch: e.event === 'epoch' ? null : s.batch,
            progress: null,
            preview: e.event === 'prune' ? null : s.preview,
            lastPreview: e.event === 'prune' ? s.preview : s.lastPreview,
            lastPrune: e.event === 'prune' ? e : s.lastPrune,
            model: s.model ? { ...s.model, edges: e.edges, params: e.params, K: e.event === 'grow' ? e.k : s.model.K } : s.model,
            testBpd: e.event === 'epoch' && typeof e.test_bpd === 'number' ? e.test_bpd : s.testBpd,
          }));
          if (e.event === 'epoch') syncDense();
          break;
        }
        case 'prunePreview':
          set({ preview: msg.preview });
          break;
        case 'idle':
          set({ status: msg.finished ? 'finished' : 'paused', progress: null });
          break;
        case 'notice':
          get().notify(msg.message);
          break;
        case 'error':
          if (get().demo && get().model === null) {
            // The demo did not load (a missing file, no data): the page opens as it would without one.
            get().reset();
            get().notify(`The demo model could not be loaded (${msg.message.replace(/[.\s]+$/, '')}); press Play to train a model.`);
            break;
          }
          set({ status: 'error', error: msg.message, progress: null, preview: null });
          // Failed before a model existed (bad file, no memory): the next Play starts afresh.
          if (get().model === null) dropWorker('The model could not be built.');
          break;
        case 'queryResult': {
          const p = pending.get(msg.id);
          pending.delete(msg.id);
          p?.resolve(msg.result);
          break;
        }
        case 'queryError': {
          const p = pending.get(msg.id);
          pending.delete(msg.id);
          p?.reject(new Error(msg.message));
          break;
        }
        case 'testSplit':
          set((s) => ({ testSplit: { name: msg.name, count: msg.count }, testBpd: msg.bpd ?? s.testBpd, progress: isBusy(s.status) ? s.progress : null }));
          break;
        case 'testSplitError':
          set({ testData: null, testSplit: null, testBpd: null });
          get().notify(msg.message);
          break;
      }
    };

    const ask = (w: TrainingWorker, q: Query): Promise<QueryResult> => {
      const id = nextQueryId++;
      return new Promise<QueryResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        w.postMessage({ type: 'query', id, query: q });
      });
    };

    const datasetSource = (): DatasetSource => {
      const s = get();
      return s.userData ? { kind: 'idx', images: s.userData } : { kind: 'embedded', url: options.dataUrl };
    };

    // ---- the dense comparison's worker (src/ui/compare.ts says what it trains and why)

    const dropDense = (): void => {
      denseWorker?.terminate();
      denseWorker = null;
      denseK = 0;
    };

    /** The second worker failed: say so once and let the sparse run go on. */
    const denseFailed = (why: string): void => {
      dropDense();
      set((s) => ({ dense: { ...s.dense, status: 'failed' } }));
      get().notify(`The dense comparison stopped (${why.replace(/[.\s]+$/, '')}); the sparse run goes on. Reset to try again.`);
    };

    const onDenseMessage = (msg: FromWorker): void => {
      switch (msg.type) {
        case 'event': {
          if (msg.event.event !== 'epoch') break;
          const e: EpochEvent = msg.event;
          set((s) => {
            const runs = s.dense.runs.slice();
            const last = runs[runs.length - 1];
            if (last) runs[runs.length - 1] = { ...last, events: [...last.events, e] };
            return { dense: { ...s.dense, runs } };
          });
          break;
        }
        case 'idle':
          // Only "caught up" matters: the store marks a pause itself when it sends one (a pause that
          // reaches the worker before its play starts drops the play, and then no idle comes at all).
          if (msg.finished) set((s) => ({ dense: { ...s.dense, status: 'done' } }));
          break;
        case 'error':
          denseFailed(msg.message);
          break;
        case 'notice':
          get().notify(`Dense comparison: ${msg.message}`);
          break;
        default:
          break; // snapshots, progress and query answers of the dense run are not shown
      }
    };

    /** Starts or extends the dense run to the latest ended round (nothing when compare is off or nothing ended). */
    const syncDense = (): void => {
      const s = get();
      if (!s.settings.compare || s.dense.status === 'failed') return;
      const t = denseTarget(s.events, s.settings.roundEpochs, s.snapshot?.numVars ?? 784);
      const cur = s.dense.target;
      if (t === null || (cur !== null && cur.K === t.K && cur.epochs === t.epochs)) return;
      const maxEpochs = settingRange('epochs', 'browser').max;
      if (t.epochs > maxEpochs) {
        if (cur?.epochs !== -1) get().notify(`The dense comparison stops at ${maxEpochs} epochs in all, the playground's limit.`);
        set((x) => ({ dense: { ...x.dense, target: { K: t.K, epochs: -1 }, status: 'done' } }));
        return;
      }
      if (denseWorker && denseK === t.K) {
        // Same K: train the same run on (the schedule's epochs grow; same split, seed and order).
        denseWorker.postMessage({ type: 'configure', config: { epochs: t.epochs } });
        denseWorker.postMessage({ type: 'play' });
        set((x) => ({ dense: { ...x.dense, target: t, status: 'training' } }));
        return;
      }
      dropDense();
      const w = options.spawnWorker();
      w.onmessage = (e) => {
        if (denseWorker === w) onDenseMessage(e.data);
      };
      w.onerror = (e) => {
        if (denseWorker !== w) return;
        e.preventDefault();
        denseFailed(e.message ? `its worker stopped: ${e.message}` : 'its worker stopped');
      };
      denseWorker = w;
      denseK = t.K;
      const config: RunConfig = { ...runConfigOf(s.settings), K: t.K, epochs: t.epochs, rounds: 0 };
      w.postMessage({ type: 'speed', speed: 'fast' });
      w.postMessage({ type: 'init', dataset: datasetSource(), config, engine: s.engine });
      w.postMessage({ type: 'play' });
      set((x) => ({ dense: { status: 'training', runs: [...x.dense.runs, { K: t.K, events: [] }], target: t } }));
    };

    const dropWorker = (why: string): void => {
      worker?.terminate();
      worker = null;
      initSent = false;
      rejectPending(why);
    };

    const ensureWorker = (): TrainingWorker => {
      if (worker) return worker;
      const w = options.spawnWorker();
      // Messages from a worker that Reset already replaced are dropped.
      w.onmessage = (e) => {
        if (worker === w) onMessage(e.data);
      };
      w.onerror = (e) => {
        if (worker !== w) return;
        e.preventDefault();
        const why = e.message ? `: ${e.message.replace(/[.\s]+$/, '')}` : '';
        set({ status: 'error', error: `The training worker stopped unexpectedly${why}.`, model: null });
        dropWorker('The training worker stopped.');
      };
      worker = w;
      return w;
    };

    /** The worker, told to build the model first if it has not been yet; `then` is the status after. */
    const workerWithModel = (then: Status): TrainingWorker => {
      const w = ensureWorker();
      if (!initSent) {
        const s = get();
        w.postMessage({ type: 'speed', speed: s.speed });
        if (s.testData) w.postMessage({ type: 'testSplit', file: s.testData });
        w.postMessage({ type: 'init', dataset: datasetSource(), config: runConfigOf(s.settings), engine: s.engine });
        initSent = true;
        afterLoad = then;
        // A model from the settings: the page no longer opens on the demo (a demo still being fetched stays away).
        set({ status: 'loading', error: null, ...(s.settings.model === 'demo' ? { settings: { ...s.settings, model: 'new' as const } } : {}) });
      } else {
        set({ status: then, error: null });
      }
      return w;
    };

    return {
      settings: { ...defaultUrlState(), ...options.settings },
      engine: 'auto',
      speed: 'normal',
      userData: null,
      testData: null,
      gpu: null,
      notices: [],
      ...INITIAL_RUN,

      setSetting(key, value) {
        if (!isValidSetting(key, value)) return;
        const s = get();
        if (MODEL_SETTINGS.has(key) && modelLocked(s)) return;
        const settings = { ...s.settings, [key]: value };
        set({ settings, status: s.status === 'finished' ? 'paused' : s.status });
        if (key === 'compare') {
          // Off: the second worker goes with its results; on: it catches up with the rounds so far.
          dropDense();
          set({ dense: INITIAL_DENSE });
          syncDense();
        } else if (worker && !s.demo && key !== 'view' && key !== 'replay' && !MODEL_SETTINGS.has(key)) {
          worker.postMessage({ type: 'configure', config: { [key]: value } });
        }
      },

      loadSettings(settings) {
        get().reset();
        set({ settings: { ...settings } });
      },

      setView(view) {
        set((s) => ({ settings: { ...s.settings, view } }));
      },

      setSpeed(speed) {
        set({ speed });
        worker?.postMessage({ type: 'speed', speed });
      },

      setEngine(engine) {
        if (modelLocked(get())) return;
        set({ engine });
      },

      setGpuSupport(gpu) {
        set({ gpu });
      },

      setUserData(file) {
        get().reset();
        set({ userData: file });
      },

      setTestData(file) {
        set({ testData: file, testSplit: null, testBpd: null });
        // A worker that exists gets it now (a model is measured at once); a new one with its init.
        if (worker && initSent) worker.postMessage({ type: 'testSplit', file });
      },

      notify(message) {
        set((s) => (s.notices.includes(message) ? s : { notices: [...s.notices, message].slice(-MAX_NOTICES) }));
      },

      dismissNotice(index) {
        set((s) => ({ notices: s.notices.filter((_, i) => i !== index) }));
      },

      play() {
        const d = get().dense;
        if (denseWorker && d.status === 'paused') {
          denseWorker.postMessage({ type: 'play' });
          set({ dense: { ...d, status: 'training' } });
        }
        if (!canPlay(get())) return;
        if (get().demo) get().reset(); // Play trains a new model from the settings
        workerWithModel('training').postMessage({ type: 'play' });
      },

      pause() {
        const d = get().dense;
        if (denseWorker && d.status === 'training') {
          denseWorker.postMessage({ type: 'pause' });
          set({ dense: { ...d, status: 'paused' } });
        }
        const s = get();
        if (!worker || !isBusy(s.status) || s.status === 'pausing') return;
        set({ status: 'pausing' });
        worker.postMessage({ type: 'pause' });
      },

      step(unit) {
        if (!canStep(get())) return;
        if (get().demo) get().reset(); // a step starts a new model from the settings too
        workerWithModel('stepping').postMessage({ type: 'step', unit });
      },

      reset() {
        dropWorker('The model was reset.');
        dropDense();
        set({ ...INITIAL_RUN });
        // The demo is gone: a link or the remembered configuration no longer asks for it.
        if (get().settings.model === 'demo') set((s) => ({ settings: { ...s.settings, model: 'new' } }));
      },

      query(q) {
        if (!worker || get().model === null) return Promise.reject(new Error('There is no model yet: press Play or Step first.'));
        return ask(worker, q);
      },

      async importModel(file) {
        if (get().demo) get().reset(); // the file replaces the demo, on the split of the settings
        if (isBusy(get().status)) get().pause();
        // The data must be loaded (the model is checked against it); the worker queues the import after
        // the initial build. Its `ready` and `snapshot` messages then describe the imported model.
        const w = initSent ? ensureWorker() : workerWithModel('paused');
        try {
          await ask(w, { kind: 'import', file });
          set({ events: [], batch: null, preview: null, lastPreview: null, lastPrune: null });
          get().notify(`Loaded the model from ${file.name}.`);
        } catch (e) {
          get().notify(e instanceof Error ? e.message : String(e));
        }
      },

      showDemo(demo) {
        get().reset();
        const w = ensureWorker();
        const s = get();
        w.postMessage({ type: 'speed', speed: s.speed });
        // On the CPU engine: the demo is only asked questions (drawing, samples and the circuit view run
        // on the CPU in any case), and Play trains a new model in a new worker on the chosen engine.
        w.postMessage({ type: 'init', dataset: { kind: 'embedded', url: options.dataUrl }, config: { ...demo.config }, engine: 'cpu', model: demo.file });
        initSent = true;
        afterLoad = 'paused';
        set({ demo: { description: demo.description, validBpd: demo.validBpd }, settings: { ...s.settings, model: 'demo' }, error: null });
      },
    };
  });
}

export const PlaygroundContext = createContext<PlaygroundStore | null>(null);

/** The playground store of the surrounding <PlaygroundContext.Provider>. */
export function usePlaygroundStore(): PlaygroundStore {
  const store = useContext(PlaygroundContext);
  if (!store) throw new Error('usePlayground needs a PlaygroundContext.Provider');
  return store;
}

/** Reads the playground store of the surrounding <PlaygroundContext.Provider>. */
export function usePlayground<T>(selector: (s: PlaygroundState) => T): T {
  return useStore(usePlaygroundStore(), selector);
}

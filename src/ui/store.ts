// The playground's state: one zustand store holding the settings (the URL-state schema's fields), the
// run's status, everything the training worker has reported (events, snapshots, previews, progress)
// and the actions that drive that worker (play, pause, step, prune, grow, reset, queries).
// The worker handle lives in the store's closure (no module-level globals); `createPlaygroundStore`
// takes a factory for it, so the store can be driven by a fake worker outside the browser.
// The message contract is src/worker/protocol.ts.

import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { PruneEvent, TrainEvent } from '../training/trainer.ts';
import type {
  CircuitSnapshot,
  DatasetSource,
  DroppedFile,
  EnginePreference,
  FromWorker,
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
import { URL_FIELDS, defaultUrlState, type NumberField, type PlaygroundUrlState, type PlaygroundView } from './url-state.ts';

export type Settings = PlaygroundUrlState;

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

/** What the page knows about WebGPU before any run (the banner); `null` while still checking. */
export type GpuSupport = { kind: 'available'; adapter: string } | { kind: 'missing' } | { kind: 'no-adapter' };

export interface PlaygroundState {
  settings: Settings;
  engine: EnginePreference;
  speed: Speed;
  /** The visitor's own IDX images file, when they loaded one (it never goes into a link). */
  userData: DroppedFile | null;
  gpu: GpuSupport | null;
  status: Status;
  model: ModelInfo | null;
  /** Every finished epoch, prune and grow of this run, in order. */
  events: TrainEvent[];
  batch: BatchProgress | null;
  progress: Progress | null;
  snapshot: CircuitSnapshot | null;
  /** The prune about to happen (shown until its event arrives). */
  preview: PrunePreview | null;
  /** The preview of the last prune that happened (its histogram stays on show next to the drops). */
  lastPreview: PrunePreview | null;
  lastPrune: PruneEvent | null;
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
  setUserData(file: DroppedFile | null): void;
  notify(message: string): void;
  dismissNotice(index: number): void;
  /** Builds the model if needed and runs the schedule until it ends. */
  play(): void;
  /** Asks the worker to stop at the next mini-batch boundary. */
  pause(): void;
  /** One unit of work (building the model first when there is none). */
  step(unit: StepUnit): void;
  /** Stops the worker at once and forgets the model (settings stay). */
  reset(): void;
  /** Asks the worker a question about the current model; rejects with one sentence. */
  query(q: Query): Promise<QueryResult>;
  /** Replaces the model by one from a file (.spc or .jpc), loading the data first if needed. */
  importModel(file: DroppedFile): Promise<void>;
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
  const pending = new Map<number, { resolve: (r: QueryResult) => void; reject: (e: Error) => void }>();

  const rejectPending = (why: string): void => {
    for (const p of pending.values()) p.reject(new Error(why));
    pending.clear();
  };

  return createStore<PlaygroundState>()((set, get) => {
    const onMessage = (msg: FromWorker): void => {
      switch (msg.type) {
        case 'ready':
          set({ model: msg.info, status: get().status === 'loading' ? afterLoad : get().status });
          break;
        case 'snapshot': {
          // The snapshot is the latest word on the structure (a prune can shrink K by dropping nodes).
          const { K, edges, params } = msg.snapshot;
          set((s) => ({ snapshot: msg.snapshot, model: s.model ? { ...s.model, K, edges, params } : s.model }));
          break;
        }
        case 'progress':
          set({ progress: { task: msg.task, done: msg.done, total: msg.total } });
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
          }));
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
      }
    };

    const ask = (w: TrainingWorker, q: Query): Promise<QueryResult> => {
      const id = nextQueryId++;
      return new Promise<QueryResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        w.postMessage({ type: 'query', id, query: q });
      });
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
        const dataset: DatasetSource = s.userData ? { kind: 'idx', images: s.userData } : { kind: 'embedded', url: options.dataUrl };
        w.postMessage({ type: 'speed', speed: s.speed });
        w.postMessage({ type: 'init', dataset, config: runConfigOf(s.settings), engine: s.engine });
        initSent = true;
        afterLoad = then;
        set({ status: 'loading', error: null });
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
      gpu: null,
      notices: [],
      ...INITIAL_RUN,

      setSetting(key, value) {
        if (!isValidSetting(key, value)) return;
        const s = get();
        if (MODEL_SETTINGS.has(key) && s.model !== null) return;
        const settings = { ...s.settings, [key]: value };
        set({ settings, status: s.status === 'finished' ? 'paused' : s.status });
        if (worker && key !== 'view' && key !== 'replay' && !MODEL_SETTINGS.has(key)) {
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
        if (get().model !== null) return;
        set({ engine });
      },

      setGpuSupport(gpu) {
        set({ gpu });
      },

      setUserData(file) {
        get().reset();
        set({ userData: file });
      },

      notify(message) {
        set((s) => (s.notices.includes(message) ? s : { notices: [...s.notices, message].slice(-MAX_NOTICES) }));
      },

      dismissNotice(index) {
        set((s) => ({ notices: s.notices.filter((_, i) => i !== index) }));
      },

      play() {
        if (!canPlay(get())) return;
        workerWithModel('training').postMessage({ type: 'play' });
      },

      pause() {
        const s = get();
        if (!worker || !isBusy(s.status) || s.status === 'pausing') return;
        set({ status: 'pausing' });
        worker.postMessage({ type: 'pause' });
      },

      step(unit) {
        if (!canStep(get())) return;
        workerWithModel('stepping').postMessage({ type: 'step', unit });
      },

      reset() {
        dropWorker('The model was reset.');
        set({ ...INITIAL_RUN });
      },

      query(q) {
        if (!worker || get().model === null) return Promise.reject(new Error('There is no model yet: press Play or Step first.'));
        return ask(worker, q);
      },

      async importModel(file) {
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

// The playground's state: one zustand store holding the settings, the run's status and what the
// training worker has reported, plus the actions (play / pause / reset) that drive that worker.
// The worker handle lives in the store's closure (no module-level globals); `createPlaygroundStore`
// takes a factory for it, so the store can be driven by a fake worker outside the browser.

import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { FromWorker, ToWorker } from './training-worker.ts';

export interface Settings {
  /** Latent states per variable of the HCLT. */
  K: number;
  /** Total EM epochs to train; Play trains until this many are done. */
  epochs: number;
  seed: number;
}

/** Inclusive ranges of the settings (the inputs enforce them). */
export const SETTING_LIMITS: Record<keyof Settings, { min: number; max: number }> = {
  K: { min: 1, max: 32 },
  epochs: { min: 1, max: 100 },
  seed: { min: 0, max: 2 ** 31 - 1 },
};

export const DEFAULT_SETTINGS: Settings = {
  // K = 8, not the CLI's 32: the browser runs the CPU engine in a single worker thread, where K = 8
  // (about 50k edges) takes seconds per epoch and K = 32 (about 800k edges) would take minutes.
  K: 8,
  epochs: 3,
  seed: 1,
};

export type Status =
  | 'idle' // no model yet
  | 'loading' // fetching and decoding the embedded data
  | 'building' // building the HCLT
  | 'training'
  | 'pausing' // pause requested; the worker stops after the current epoch
  | 'paused'
  | 'finished' // reached the Epochs setting
  | 'error';

export interface ModelInfo {
  backend: string;
  edges: number;
  params: number;
  trainCount: number;
  validCount: number;
}

export interface EpochRow {
  epoch: number;
  trainBpd: number;
  validBpd: number | null;
  seconds: number;
  edges: number;
  params: number;
}

export interface Progress {
  epoch: number;
  done: number;
  total: number;
}

export interface PlaygroundState {
  settings: Settings;
  status: Status;
  /** Set once the HCLT is built; K and seed are fixed from then until Reset. */
  model: ModelInfo | null;
  progress: Progress | null;
  epochs: EpochRow[];
  /** One sentence for the alert, when something failed. */
  error: string | null;
  setSetting(key: keyof Settings, value: number): void;
  /** Builds the model if needed and trains until `settings.epochs` epochs are done. */
  play(): void;
  /** Asks the worker to stop after the current epoch. */
  pause(): void;
  /** Stops the worker at once and forgets the model (settings stay). */
  reset(): void;
}

/** What the store needs of a Worker (a real one in the page, a fake in tests). */
export interface TrainingWorker {
  postMessage(msg: ToWorker): void;
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

const BUSY: ReadonlySet<Status> = new Set<Status>(['loading', 'building', 'training', 'pausing']);

export function isBusy(status: Status): boolean {
  return BUSY.has(status);
}

/** Whether Play has something to do: not busy, and epochs left (or no model yet). */
export function canPlay(s: Pick<PlaygroundState, 'status' | 'model' | 'epochs' | 'settings'>): boolean {
  if (isBusy(s.status)) return false;
  return s.model === null || s.epochs.length < s.settings.epochs;
}

const INITIAL_RUN = { status: 'idle' as Status, model: null, progress: null, epochs: [], error: null };

export function createPlaygroundStore(options: StoreOptions): PlaygroundStore {
  let worker: TrainingWorker | null = null;

  return createStore<PlaygroundState>()((set, get) => {
    const onMessage = (msg: FromWorker): void => {
      switch (msg.type) {
        case 'phase':
          // A pending pause keeps its status until the worker says it stopped.
          if (get().status !== 'pausing') set({ status: msg.phase });
          break;
        case 'ready':
          set({ model: { backend: msg.backend, edges: msg.edges, params: msg.params, trainCount: msg.trainCount, validCount: msg.validCount } });
          break;
        case 'progress':
          set({ progress: { epoch: msg.epoch, done: msg.done, total: msg.total } });
          break;
        case 'epoch': {
          const e = msg.event;
          const row: EpochRow = {
            epoch: get().epochs.length + 1,
            trainBpd: e.train_bpd,
            validBpd: e.valid_bpd,
            seconds: e.seconds,
            edges: e.edges,
            params: e.params,
          };
          set((s) => ({ epochs: [...s.epochs, row] }));
          break;
        }
        case 'stopped':
          set({ status: msg.finished ? 'finished' : 'paused' });
          break;
        case 'error':
          set({ status: 'error', error: msg.message });
          break;
      }
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
        set({ status: 'error', error: `The training worker stopped unexpectedly${why}.` });
        w.terminate();
        worker = null;
      };
      worker = w;
      return w;
    };

    return {
      settings: { ...DEFAULT_SETTINGS, ...options.settings },
      ...INITIAL_RUN,

      setSetting(key, value) {
        const { min, max } = SETTING_LIMITS[key];
        if (!Number.isInteger(value) || value < min || value > max) return;
        // K and seed shape the model: they are fixed while one exists.
        if (key !== 'epochs' && get().model !== null) return;
        set((s) => ({ settings: { ...s.settings, [key]: value } }));
      },

      play() {
        const s = get();
        if (!canPlay(s)) return;
        const w = ensureWorker();
        set({ status: s.model ? 'training' : 'loading', error: null });
        w.postMessage({
          type: 'run',
          dataUrl: options.dataUrl,
          settings: { K: s.settings.K, seed: s.settings.seed },
          untilEpoch: s.settings.epochs,
        });
      },

      pause() {
        const s = get();
        if (!worker || !isBusy(s.status) || s.status === 'pausing') return;
        set({ status: 'pausing' });
        worker.postMessage({ type: 'pause' });
      },

      reset() {
        worker?.terminate();
        worker = null;
        set({ ...INITIAL_RUN });
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

// The contract between the playground page and its training worker: the messages each side sends and
// the data objects they carry (circuit snapshots for the views, prune previews, query results). Types
// only (plus a few constants), so the page, the worker, the session and the views all import the same
// shapes and nothing here pulls code into either side.
//
// Flow of a run: the page sends `init` (dataset + configuration + engine preference); the worker loads
// the data, builds the HCLT, picks an engine and answers `ready` and a `snapshot`. `play` runs the
// schedule (config.epochs EM epochs, then config.rounds rounds of prune -> grow -> roundEpochs epochs)
// until it ends or `pause` arrives; `step` does one unit of it. Every change is reported as it happens
// (`event`, `progress`, `snapshot`, `prunePreview`). Queries (`query`) are answered by `queryResult` with the
// same id, also while training is paused (a query sent during training waits for the current
// mini-batch). Reset is the page terminating the worker.

import type { PruneCriterion } from '../circuit/prune.ts';
import type { EnginePreference } from '../engines/engine.ts';
import type { EpochEvent, GrowEvent, PruneEvent } from '../training/trainer.ts';
import type { PlaygroundUrlState } from '../ui/url-state.ts';

/** The hyper-parameters of a run: the URL state's learning fields (url-state.ts documents each). */
export type RunConfig = Pick<
  PlaygroundUrlState,
  'K' | 'seed' | 'batch' | 'step' | 'pseudocount' | 'epochs' | 'roundEpochs' | 'rounds' | 'prune' | 'criterion' | 'sigma' | 'validFrac' | 'images'
>;

/** A file the visitor picked or dropped, read into memory on the page. */
export interface DroppedFile {
  name: string;
  bytes: ArrayBuffer;
}

export type DatasetSource =
  /** The 10,000 embedded MNIST digits, fetched from `url` (absolute; the worker resolves nothing). */
  | { kind: 'embedded'; url: string }
  /**
   * The visitor's IDX images file (raw or .gz), e.g. full MNIST or Fashion-MNIST training images. The
   * browser's File itself: posting it copies no bytes (it is a handle), and the worker reads it in
   * slices, gunzipping and decoding as it goes (src/data/idx.ts, readIdxImages), so the page never
   * reads or parses it and never freezes.
   */
  | { kind: 'idx'; images: File };

export type { EnginePreference };

/**
 * Animation pacing of `play`: `slow` trains one mini-batch at a time with a pause between them and
 * holds each prune preview for a while; `normal` holds previews briefly; `fast` runs whole epochs and
 * shows previews only for a moment. Results are identical at every speed.
 */
export const SPEEDS = ['slow', 'normal', 'fast'] as const;
export type Speed = (typeof SPEEDS)[number];

export type StepUnit = 'batch' | 'epoch' | 'prune' | 'grow';

export type ToWorker =
  /** `model`: start from this model file (.spc or .jpc, e.g. the page's demo model) instead of building the HCLT. */
  | { type: 'init'; dataset: DatasetSource; config: RunConfig; engine: EnginePreference; model?: DroppedFile }
  /** Run the schedule from where it is until it ends (or `pause`). */
  | { type: 'play' }
  /** Stop at the next mini-batch boundary. */
  | { type: 'pause' }
  /** One unit of work: one mini-batch, one epoch, one prune (config.prune, config.criterion), one grow. */
  | { type: 'step'; unit: StepUnit }
  | { type: 'speed'; speed: Speed }
  /** Hyper-parameters that may change between steps (not K, seed, dataset: those need a new init). */
  | {
      type: 'configure';
      config: Partial<Pick<RunConfig, 'batch' | 'step' | 'pseudocount' | 'epochs' | 'roundEpochs' | 'rounds' | 'prune' | 'criterion' | 'sigma'>>;
    }
  | { type: 'query'; id: number; query: Query }
  /**
   * The test split (an IDX images file of the training data's image size, e.g. t10k-images-idx3-ubyte.gz),
   * or null to drop it. Never trained on: its bpd is measured after every epoch and, when it arrives
   * for a model that exists, at once. Answered by `testSplit` or `testSplitError`.
   */
  | { type: 'testSplit'; file: File | null };

export type Query =
  /** log p(x), bpd and the per-pixel surprise log p(x_i | x_rest) of one 28x28 image (0..255). */
  | { kind: 'score'; pixels: Uint8Array }
  /** Draws for the pixels marked missing (1) given the others. */
  | { kind: 'inpaint'; pixels: Uint8Array; missing: Uint8Array; count: number; seed: number }
  /** Unconditional samples. */
  | { kind: 'samples'; count: number; seed: number }
  /** One region's sum block with its flows, for the region view. */
  | { kind: 'region'; variable: number }
  /** Histogram of per-image bpd over the validation images (where a drawn digit falls). */
  | { kind: 'bpdDistribution' }
  /** The current model as a file: the binary .spc format or Juice.jl's .jpc text. */
  | { kind: 'export'; format: 'spc' | 'jpc' }
  /** Replace the model by one read from a file (.spc or .jpc); the answer is `ok`, then `ready` + `snapshot`. */
  | { kind: 'import'; file: DroppedFile };

export interface ScoreResult {
  kind: 'score';
  /** log p(x), natural log. */
  logLikelihood: number;
  bpd: number;
  /** log p(x_i | x_rest) per pixel (natural log, <= 0; finite). */
  surprise: Float32Array;
}
export interface ImagesResult {
  kind: 'images';
  count: number;
  /** Row-major [count x 784] pixel values 0..255. */
  pixels: Uint8Array;
}
export interface ExportResult {
  kind: 'export';
  fileName: string;
  mime: string;
  bytes: Uint8Array;
}
export type QueryResult =
  ScoreResult | ImagesResult | ({ kind: 'region' } & RegionDetail) | ({ kind: 'bpdDistribution' } & Histogram) | ExportResult | { kind: 'ok' };

/** Equal-width bins: counts[i] counts values in [min + i w, min + (i + 1) w), w = (max - min) / counts.length. */
export interface Histogram {
  min: number;
  max: number;
  counts: Int32Array;
  /** How many values went in (finite ones). */
  total: number;
}

/** What the circuit views draw; sent after `ready` and after every change of structure or parameters. */
export interface CircuitSnapshot {
  /** Increases with every snapshot of this run (views animate between consecutive ones). */
  version: number;
  /** Image side (28): variable v is pixel (v % side, floor(v / side)). */
  side: number;
  numVars: number;
  /** Largest region size (K, 2K after a grow, ...). */
  K: number;
  /** Parent variable of each variable in the Chow-Liu tree; -1 for the root. */
  parent: Int32Array;
  /** Latent states (products) of each region. */
  regionSize: Int32Array;
  /** Sum edges kept in each region's block. */
  regionEdges: Int32Array;
  /**
   * Per variable, the information the circuit flow carries across its tree edge: the mutual
   * information (bits) of the joint distribution of (parent state j, child state i) given by the
   * block's dataset edge flows normalised to sum to 1. Every region receives total flow 1 per image,
   * so the flow's total is uninformative; how it is spread over the block is what differs. 0 for the
   * root and before any flows exist.
   */
  edgeInformation: Float32Array;
  /**
   * Per variable, the mutual information (bits) between the pixel and its parent pixel in the training
   * images: the Chow-Liu weight of its tree edge. Near 0 for background pixels, which the tree links
   * arbitrarily (often by long lines to the first pixels); the tree view draws those edges faint and
   * underneath. 0 for the root. Fixed for a tree and its data (prune and grow keep the tree).
   */
  pixelInformation: Float32Array;
  layers: number;
  nodes: { inputs: number; products: number; sums: number };
  edges: number;
  params: number;
}

/** One region's sum block for the region view (bipartite graph or matrix). */
export interface RegionDetail {
  variable: number;
  parentVariable: number;
  /** Block shape: rows are the region's sum nodes (one per parent product), cols its products. */
  rows: number;
  cols: number;
  rowPtr: Int32Array;
  colIdx: Int32Array;
  /** theta of each entry (linear, each row sums to 1). */
  weights: Float32Array;
  /** Mean dataset flow of each entry per training image (sums to 1 over the block); zeros before any flows. */
  flows: Float32Array;
  /** Entries that the pending prune preview will remove (1), when one is showing; else all 0. */
  marked: Uint8Array;
  /** Mean intensity (0..255) each input node expects: sum_v v p(v), one per product. */
  inputMeans: Float32Array;
}

/** Shown before a prune removes edges: what goes, and where the cut falls in the score histogram. */
export interface PrunePreview {
  fraction: number;
  criterion: PruneCriterion;
  /** Histogram of log10 of the edge scores (flow per training image for `flow`). */
  histogram: Histogram;
  /**
   * Per bin of `histogram`, how many of its edges go. Not simply the bins below a cut: every sum node
   * keeps its best edge, so some low-scoring edges stay.
   */
  removedCounts: Int32Array;
  /** The highest log10 score among the edges that go. */
  threshold: number;
  /** Edges removed per region (variable). */
  removedPerRegion: Int32Array;
  removed: number;
  /** How long the worker holds the preview before pruning (ms), so the views can time a fade-out. */
  holdMs: number;
}

/** `load`: done and total are bytes of the file read (0 / 0 for the embedded digits: indeterminate). */
export type ProgressTask = 'load' | 'build' | 'epoch' | 'validation' | 'test' | 'flows' | 'rebuild';

/** An epoch event as the playground reports it: the Trainer's, plus the test split's bpd when there is one. */
export type PlaygroundEpochEvent = EpochEvent & { test_bpd?: number | null };
export type PlaygroundEvent = PlaygroundEpochEvent | PruneEvent | GrowEvent;

export interface ModelInfo {
  /** The adapter's name, or "CPU ..." for the CPU engine. */
  backend: string;
  engine: 'gpu' | 'cpu';
  /** Bytes of GPU buffers in use (0 on the CPU engine). */
  gpuBytes: number;
  /** Bytes of decoded images the worker holds: the training, validation and test images, one byte per pixel. */
  dataBytes: number;
  edges: number;
  params: number;
  K: number;
  trainCount: number;
  validCount: number;
  datasetName: string;
}

export type FromWorker =
  | { type: 'ready'; info: ModelInfo }
  | { type: 'snapshot'; snapshot: CircuitSnapshot }
  /** Work in progress; `total` 0 means indeterminate. */
  | { type: 'progress'; task: ProgressTask; done: number; total: number }
  /** A finished step: EM epoch, prune (with bound and measured drop) or grow. */
  | { type: 'event'; event: PlaygroundEvent }
  /** The test split was read: its name and size, and the current model's bpd on it (null: no model yet). */
  | { type: 'testSplit'; name: string; count: number; bpd: number | null }
  /** The test split could not be used (unreadable, another image size); the worker has forgotten it. */
  | { type: 'testSplitError'; name: string; message: string }
  /** One mini-batch done (steps and slow play): the running epoch's mean train bpd so far. */
  | { type: 'batch'; epoch: number; done: number; total: number; trainBpd: number }
  | { type: 'prunePreview'; preview: PrunePreview }
  /** Play or a step ended; `finished` when the whole schedule is done. */
  | { type: 'idle'; finished: boolean }
  /** Something the visitor should know that did not stop the run (e.g. the GPU failed, continuing on the CPU). */
  | { type: 'notice'; message: string }
  | { type: 'error'; message: string }
  | { type: 'queryResult'; id: number; result: QueryResult }
  | { type: 'queryError'; id: number; message: string };

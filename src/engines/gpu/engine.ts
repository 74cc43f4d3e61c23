// The WebGPU engine: the same operations as the CPU engine (src/engines/cpu/evaluator.ts is the
// oracle and documents the math) as WGSL compute kernels (shaders/*.wgsl), driven by this scheduler.
// Pure: no DOM, no Node APIs; the platform hands in a GPU object and the WGSL sources.
//
// Per load: the CompiledCircuit is uploaded into labelled buffers, and the dispatch list is built
// once (one layer-uniform slot and bind group per dispatch, pipelines cached by shader + constants).
// Per chunk of up to `chunk` samples (sized so node buffers fit maxStorageBufferBindingSize): one
// command encoder, one submit. Node values are f32 node-major, batch innermost (value[node * C + b]),
// like the CPU engine. Flows accumulate on the GPU across calls; EM runs on the GPU; `syncParams`
// reads the parameters back into the compiled circuit's arrays.
//
// Region-local log values. Log-likelihoods of MNIST-sized circuits are ~ -600 nats, where an f32
// carries ~1e-4 absolute error; were node values stored as true log values, that error would become
// relative error in e_i = exp(x_i - m) and so in every flow (1e-3 on MNIST). Instead each region r
// keeps a per-sample log offset O_r = m_r + sum_{child regions c} O_c (m_r: its max, below), and
//   sum node j:  val_j = log s_j            (true value y_j = val_j + O_r)
//   product i:   val_i = u_i = log theta_i[x_v] + sum_c val_{c,i}   (true x_i = u_i + sum_c O_c)
// so x_i - m_r = u_i - m_r involves small numbers only; flows use e_i, s_j, g_j, all local. The root's
// log p = val_root + O_root is added in float64 on read-back.
//
// Small rows. After pruning, a row j can keep only children that lie far below its region's max for
// some sample (gray-level data: hundreds of nats); then s_j = sum theta e_c underflows in f32 (0 past
// ~104 nats: val_j = -inf, lost mass in log p, g_j = F_j / 0), or keeps few bits. Every forward sum
// kernel (CSR tiled and gather, the sum GEMM, the per-height kernel) therefore computes a row whose
// s_j < ROW_FLOOR = 2^-96 (0 included) for a sample again in the log domain from its children's local
// values u_c: mr = max u_c, t = sum theta_e exp(u_c - mr), and stores val_j = (mr - m) + log t (local,
// as usual; m the region max, recomputed or taken from the reduction) and ex_j = L_j = mr + log t, the
// row's log value in its products' frame, which is < 0 (L_j <= m + log 2^-96 and m <= ~0 for
// normalised weights) and so marks the row (normal rows store s_j >= 2^-96 > 0). Rows above the floor
// lose at most nnz * 2^-30 of their value to terms flushed below 2^-126. Backward: the sum-flow
// kernels store flow_j = -F_j (< 0, the mark) for such a row instead of g_j = F_j / s_j (which would
// overflow f32), and every reader of g (product flows: gather, GEMM, per-height; edge flows:
// per-edge, lanes, GEMM; marked flows) adds, for such an entry, the exact edge flow
// F_e = theta_e F_j exp(u_c - L_j) (<= F_j: nothing overflows) instead of theta_e g_j e_c. Normal
// entries cost a compare per term (max with 0 and a running min) and one branch per output; the GEMMs
// stage max(g, 0) and a workgroup flag, and only flagged workgroups run the exact pass. All of it is
// per (row, sample), deterministic, without float atomics. See shaders/common.wgsl.
//
// Kernels per layer (`kernelPlan`): sum layers whose blocks are dense enough get a zero-padded dense
// mirror of their weights (wdense, refreshed after each EM step) and run as tiled GEMMs (forward
// s = W e, product flows F = e * W^T g, edge flows theta * (G E^T)); sparser layers keep the CSR
// kernels (staged-tile sum, gather product flows, 32-lane edge reductions). Software adapters keep
// the barrier-free kernels under 'auto'. Or a whole height runs as one forward and one backward
// kernel (region_forward.wgsl, region_backward.wgsl). See shaders/README.md.
//
// Kernel tuning (`tuneKernels`, on by default on real GPUs): the rules above are a starting point;
// on the first flows pass after each load the engine times every candidate family of each pass
// ('KernelChoice': forward csr / dense / height, backward the same, edge flows csr / dense, inputs
// node / workgroup) on that chunk, with timestamp-query, and keeps the fastest per pass
// (`kernelTuning`), so each GPU and each circuit (unpruned, pruned, grown) gets its own choice.
//
// Fused training (`trainEpochIndexed`): with the dataset resident, an epoch is encoded batch by
// batch (indices and batch uniforms copied on the GPU from epoch-sized tables, log-likelihoods
// copied into an epoch-sized read-back buffer, EM and cleared accumulators after each batch) and
// submitted in slices of calibrated GPU time, with one read-back at the end.
//
// Buffers per load: val (local log values), ex (linear values relative to the region max: e_i for
// products, s_j for sums; L_j < 0 for a small row), flow (F for products, g = F / s for sums; -F_j for
// a small row), rmax (O_r per region and
// sample), pix (variable-major pixel codes); parameters weight (theta, linear), logWeight, logProb;
// accumulators acc (edges) and hist (input values); structure arrays as in CompiledCircuit.

import type { CompiledCircuit } from '../../circuit/compile.ts';
import { latentStates } from '../../circuit/structure.ts';
import type { EmOptions } from '../em.ts';
import type { Batch, Engine } from '../engine.ts';
import {
  GpuUnavailableError,
  limitMessage,
  lostMessage,
  requestGpuDevice,
  withErrorScopes,
  type EngineLimits,
  type GpuContext,
  type GpuDeviceOptions,
} from './device.ts';
import { KERNELS, checkShaderSources, parseBindings, type KernelName } from './kernels.ts';

export type SumKernelChoice = 'auto' | 'tiled' | 'gather' | 'gemm';
/** Per height of the circuit: the layered kernels, or one forward / one backward kernel per height. */
export const HEIGHT_KERNEL_CHOICES = ['auto', 'layered', 'height'] as const;
export type HeightKernelChoice = (typeof HEIGHT_KERNEL_CHOICES)[number];

/** The kernel family a loaded circuit runs in each pass (what the 'auto' options resolve to, by the
 *  rules below or measured by `tuneKernels`):
 *   forward:  'csr' (products, region max, CSR sum kernel), 'dense' (the same with the sum GEMM on
 *             mirrored layers), 'height' (region_forward.wgsl, one dispatch per height);
 *   backward: 'csr' (sum flows, gathered product flows), 'dense' (product-flow GEMM on mirrored
 *             layers), 'height' (region_backward.wgsl);
 *   edges:    'csr' (lanes per edge) or 'dense' (tiled GEMM over the batch on mirrored layers);
 *   inputs:   input histograms and input EM, 'node' (a thread per input node) or 'workgroup'. */
export interface KernelChoice {
  forward: 'csr' | 'dense' | 'height';
  backward: 'csr' | 'dense' | 'height';
  edges: 'csr' | 'dense';
  inputs: 'node' | 'workgroup';
}
export type KernelPass = keyof KernelChoice;
const KERNEL_PASSES: readonly KernelPass[] = ['forward', 'backward', 'edges', 'inputs'];

/** What `tuneKernels` measured on a loaded circuit: per pass, the GPU ms of one chunk of `samples`
 *  with each candidate (best of the timed runs), and the fastest, which the circuit now runs. */
export interface KernelTuning {
  /** 'timestamps' (timestamp-query around each pass) or 'wall clock' (a submit per pass). */
  clock: 'timestamps' | 'wall clock';
  samples: number;
  ms: { [P in KernelPass]: Partial<Record<KernelChoice[P], number>> };
  chosen: KernelChoice;
  /** Trials left out because the device rejected their pipelines: the families and the sentence. */
  failed: string[];
}

/** "forward dense, backward height, edges dense, inputs node" */
function choiceText(c: KernelChoice): string {
  return KERNEL_PASSES.map((p) => `${p} ${c[p]}`).join(', ');
}

export interface GpuEngineOptions extends GpuDeviceOptions {
  /** WGSL sources by file name without extension (shaders-node.ts / shaders-vite.ts provide them). */
  shaders: Record<string, string>;
  /** Largest number of samples per chunk (one submit); smaller when buffers would not fit. Default 512. */
  maxChunk?: number;
  /** Sum-layer forward kernel: tiled where the region fits workgroup memory, or forced. 'auto' picks
   *  gather on CPU-emulated adapters (SwiftShader), where barriers are slow. */
  sumKernel?: SumKernelChoice;
  /** Rows per workgroup of the tiled sum kernel (default: about 4 outputs per thread); tests set
   *  it small to get several row blocks per region. */
  tileRows?: number;
  /** Edge-flow reduction: 32 lanes per edge with a workgroup tree reduction, or one thread per edge
   *  (no barriers). 'auto': per-edge on CPU-emulated adapters, lanes otherwise. */
  edgeKernel?: 'auto' | 'lanes' | 'per-edge' | 'tiled';
  /** Product-layer backward: gather over parent edges, or the dense-block GEMM (W^T g) of
   *  sum_gemm.wgsl. 'auto': gemm for dense layers on real GPUs, gather otherwise. */
  flowKernel?: 'auto' | 'gather' | 'gemm';
  /** Region max + exp: one thread per (region, sample) looping over products ('serial'), or a
   *  workgroup per (region, sample tile) with product lanes and a tree reduction ('reduce').
   *  'auto': reduce on real GPUs for regions of 16+ products, serial otherwise. */
  regionMax?: 'auto' | 'serial' | 'reduce';
  /** Forward per height: the product, region-max and sum kernels as three dispatches ('layered', the
   *  kernels picked by the options above), or one kernel for the whole height ('height':
   *  region_forward.wgsl, CSR blocks staged per sample tile, for heights whose regions fit the
   *  workgroup storage). On a real GPU a K=32 forward is bound by dependent dispatches, so 'height'
   *  has a third of the dispatches. 'auto': kernel tuning times both (`tuneKernels`); without
   *  tuning, 'layered'. */
  forwardKernel?: HeightKernelChoice;
  /** Backward per height: the sum-flow and product-flow kernels as two dispatches ('layered'), or one
   *  ('height': region_backward.wgsl, g of the region's rows staged per sample tile). 'auto' as for
   *  `forwardKernel`. */
  backwardKernel?: HeightKernelChoice;
  /** Input histograms and input EM: one thread per input node ('node'), or a workgroup per input
   *  node with coalesced reads ('workgroup': staged sample tiles; a tree reduction for EM's totals).
   *  'auto': kernel tuning times both; without tuning, 'node'. */
  inputKernel?: 'auto' | 'node' | 'workgroup';
  /** Block density (nnz / rows x size over a layer) from which 'auto' uses each dense kernel on the
   *  layer's zero-padded mirror: sum forward GEMM, product-flow GEMM, tiled edge flows. A number
   *  sets all three. Defaults (break-even estimates against the CSR kernels: the register-blocked
   *  GEMM does ~4x more FMAs per memory instruction than the CSR tile kernel, and far more than the
   *  global-memory lane and gather kernels): sum 0.25, flow 0.2, edge 0.05. */
  denseThreshold?: number | DenseThresholds;
  /** Mean rows per region a partly pruned layer needs before 'auto' goes dense (default
   *  MIN_DENSE_MEAN_ROWS; layers of density >= DENSE_ALWAYS go dense regardless). */
  minDenseMeanRows?: number;
  /** Autotuning: on the first flows pass after each load (accumulateFlows or a fused epoch), time
   *  every candidate kernel family of each pass whose choice is 'auto' (forward: csr / dense /
   *  height; backward: the same; edge flows: csr / dense; inputs: node / workgroup) on that chunk,
   *  and keep the fastest per pass (`kernelTuning` reports it). Costs a few batches' time per load
   *  and makes the choice, hence the last bits of f32 results, depend on the GPU's timing; options
   *  set to a kernel are not tuned. Default: on real GPUs, off on software adapters (there the
   *  rules know the answer: barrier-free kernels, and trials of the barrier kernels are slow). */
  tuneKernels?: boolean;
  /** Overrides the software-adapter detection (tests: 'auto' choices as on a real GPU). */
  emulated?: boolean;
  /** Dawn on NVIDIA aborts on long blocking waits: > 0 turns on the nap protocol. Every wait naps
   *  first: the first batch of each pass kind after a load max(this, a conservative prior), and is
   *  measured; later ones 1.5x the measured GPU time; plain read-backs this long. */
  napBeforeWaitMs?: number;
  /** Per-layer timings with timestamp-query, when the adapter has it (`layerTimings()`). */
  timings?: boolean;
  /** Fused training (`trainEpochIndexed`): most GPU time (ms) submitted before the engine waits
   *  (after a nap) for it to finish. Default 20. */
  sliceMs?: number;
  /** Fused training with naps: nap `napFactor` x the slice's calibrated GPU time (+ 2 ms) before
   *  waiting on it, `napFactor + 0.1` x before the epoch's last slice. The margin that
   *  keeps Dawn on NVIDIA from blocking on a busy GPU when a slice runs slower than calibrated (a
   *  slower slice also stretches the calibration). Smaller is faster and riskier. Default 1.1. */
  napFactor?: number;
  /** Fused training: slices submitted ahead of the one being waited on. 1: submit, (nap,) wait,
   *  submit the next, so the GPU idles from the end of each slice until the wait returns (the nap
   *  margin, about 20 % at K = 32 on an H200). 2: the next slice is queued before the engine waits
   *  for the current one (through a marker copied at the end of each slice), so the GPU runs on while
   *  the engine naps and waits. Default: 2 without naps; 1 with naps (Dawn on NVIDIA) until 2 has
   *  been run there (the device check measures it). */
  slicesInFlight?: 1 | 2;
}

export interface LayerTiming {
  label: string;
  ms: number;
}

const WG = 256;
const EDGE_LANES = 32;
const MAX_TILE = 64;
const MIN_TILE = 4;
/** Samples per workgroup of the reduce region-max kernel. */
const RM_TS = 32;

export interface DenseThresholds {
  sum?: number;
  flow?: number;
  edge?: number;
}

const DEFAULT_DENSE: Required<DenseThresholds> = { sum: 0.25, flow: 0.2, edge: 0.05 };
/**
 * When 'auto' runs the dense (zero-padded GEMM) kernels, decided once per circuit, from
 * measurements on an H200 (HCLT on MNIST, batch 512, GPU ms per training batch; docs/bench/):
 *   K=32 unpruned: dense 3.7, CSR 5.0;   K=128 unpruned: dense 40, CSR 167;
 *   K=128, 75 % pruned (128 x 128 blocks at density 0.25): dense 38, CSR 82 (per-layer mix 34);
 *   K=32, 75 % pruned (32 x 32 at 0.25): 3.5 to 10.4 for the same CSR kernels depending on what ran
 *   before on the GPU (input flows and EM, which do not depend on the choice, varied as much), so
 *   this case is not settled; per-layer mixes measured 6.7 to 10.3.
 * So: nearly full circuits always; partly pruned ones only with large blocks (the GEMM tiles are 64
 * rows tall), where the CSR kernels fall far behind.
 */
const DENSE_ALWAYS = 0.9;
const MIN_DENSE_MEAN_ROWS = 48;

interface GemmShape {
  TM: number;
  TN: number;
  TK: number;
}
const BAT_BYTES = 16;
const LAYER_BYTES = 32;
const STORAGE = 0x0080 | 0x0008 | 0x0004; // STORAGE | COPY_DST | COPY_SRC (GPUBufferUsage, absent in some globals)
const UNIFORM = 0x0040 | 0x0008; // UNIFORM | COPY_DST
const READBACK = 0x0001 | 0x0008; // MAP_READ | COPY_DST
const QUERY_RESOLVE = 0x0200 | 0x0004; // QUERY_RESOLVE | COPY_SRC
const MAP_READ = 0x0001;

type Work = (n: number) => number;
type ChunkKind = 'forward' | 'flows' | 'marked';

interface Dispatch {
  kernel: KernelName;
  label: string;
  /** Timing group (a compute pass of its own when timings are on). */
  group: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  /** Workgroups for a chunk of n samples. */
  workgroups: Work;
}

interface Model {
  cc: CompiledCircuit;
  /** Samples per chunk. */
  cap: number;
  /** Region holding the root sum node (its offset completes log p). */
  rootRegion: number;
  buffers: Map<string, GPUBuffer>;
  pixelsBatch: Dispatch;
  pixelsIndexed: Dispatch | null;
  forward: Dispatch[];
  backward: Dispatch[];
  accumulate: Dispatch[];
  marked: Dispatch[];
  em: Dispatch[];
  layerUniform: GPUBuffer;
  layerSlots: number;
  slotStride: number;
  /** Sum-layer kernels picked per layer, for tests and reports. */
  sumKernels: string[];
  /** Every kernel variant picked, per layer ("sum gemm 64x64x16 h=3", ...), for tests and reports. */
  kernelPlan: string[];
  dense: DensePlan;
  /** Calibrated GPU ms per sample of each chunked pass (naps on), measured on its first chunk. */
  chunkMs: Map<ChunkKind, number>;
  /** The kernel family each pass runs (rules at load; measured by tuning). */
  choice: KernelChoice;
  /** Per pass, the families tuning will time (the rule's choice first); null when none to tune. */
  candidates: { [P in KernelPass]: Array<KernelChoice[P]> } | null;
  tuning: KernelTuning | null;
}

/** The dense mirror of the blocks of some sum layers (for the GEMM-style kernels). */
interface DensePlan {
  /** Per layer index: whether its regions are mirrored. */
  layer: boolean[];
  /** Per layer index: nnz / (rows x size) over its regions (sum layers). */
  density: number[];
  /** Per layer index: mean rows (sum nodes) per region. */
  meanRows: number[];
  /** The same over the whole circuit: what 'auto' decides on. */
  circuitDensity: number;
  circuitMeanRows: number;
  /** Per region: offset of its rows x size block in the mirror (0 when not mirrored). */
  off: Uint32Array;
  /** Per edge: its index in the mirror, or 0xffffffff. */
  idx: Uint32Array;
  /** Per mirror entry: its edge, or 0xffffffff (zero padding). */
  edge: Uint32Array;
  size: number;
}

/**
 * Per-pass GPU ms from the begin/end timestamp pairs of `passes` consecutive compute passes, and
 * the span (first begin to last end). Dawn's Vulkan backend latches a pass's beginning at
 * TOP_OF_PIPE, before the barriers that wait for the previous pass, and its end at BOTTOM_OF_PIPE,
 * after all earlier work: end - begin would also count the tail of the previous pass, so a pass's
 * own time is end(i) - end(i - 1) (the first pass: end - begin). Quantised or zero timestamps give
 * 0, never a negative time.
 */
export function passTimes(t: BigUint64Array, passes: number): { ms: number[]; span: number } {
  const ms: number[] = [];
  for (let i = 0; i < passes; i++) ms.push(Math.max(0, Number(t[2 * i + 1] - (i === 0 ? t[0] : t[2 * i - 1])) / 1e6));
  const span = passes > 0 ? Number(t[2 * passes - 1] - t[0]) / 1e6 : 0;
  return { ms, span: Number.isFinite(span) && span >= 0 && span < 1e6 ? span : 0 };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function align4(n: number): number {
  return Math.max(4, Math.ceil(n / 4) * 4);
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** The per-height forward kernel's region table (layout in shaders/region_forward.wgsl): per region
 *  [productStart, size, sumStart, rows, inputStart, variable, childOff, rowOff], then each region's
 *  child regions and its rows' edge pointers. */
function regionForwardTable(cc: CompiledCircuit): Uint32Array {
  const R = cc.regions.length;
  const out = new Uint32Array(regionForwardWords(cc));
  let at = R * 8;
  cc.regions.forEach((r, k) => {
    const childOff = at;
    out.set(r.childRegions, at);
    at += r.childRegions.length;
    out.set([r.productStart, r.size, r.sumStart, r.rows, r.inputStart, r.variable, childOff, at], k * 8);
    for (let j = 0; j <= r.rows; j++) out[at + j] = cc.edgePtr[r.sumStart + j];
    at += r.rows + 1;
  });
  return out;
}

/** Length of `regionForwardTable` in u32 words. */
function regionForwardWords(cc: CompiledCircuit): number {
  let words = cc.regions.length * 8;
  for (const r of cc.regions) words += r.childRegions.length + r.rows + 1;
  return words;
}

/** The largest power-of-two sample tile (up to MAX_TILE) whose `perSample` floats fit `floats`
 *  words of workgroup storage; 0 when not even one sample fits. */
function sampleTile(perSample: number, floats: number): number {
  if (perSample > floats) return 0;
  let tile = 1;
  while (tile * 2 <= MAX_TILE && tile * 2 * perSample <= floats) tile *= 2;
  return tile;
}

/** Whether every block cell (row, column) of regions [r0, r1) holds at most one edge (a dense
 *  mirror needs it; compiled blocks are CSR without duplicates, but the mirror does not assume it). */
function uniqueCells(cc: CompiledCircuit, r0: number, r1: number): boolean {
  for (let k = r0; k < r1; k++) {
    const r = cc.regions[k];
    const seen = new Uint8Array(r.rows * r.size);
    for (let j = 0; j < r.rows; j++) {
      const node = r.sumStart + j;
      for (let e = cc.edgePtr[node]; e < cc.edgePtr[node + 1]; e++) {
        const c = cc.edgeChild[e] - r.productStart;
        if (c < 0 || c >= r.size || seen[j * r.size + c]) return false;
        seen[j * r.size + c] = 1;
      }
    }
  }
  return true;
}

export class GpuEngine implements Engine {
  readonly kind = 'gpu' as const;
  readonly adapter: string;
  readonly device: GPUDevice;
  readonly limits: EngineLimits;
  private readonly opts: GpuEngineOptions;
  private readonly bindings = new Map<string, Map<string, number>>();
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private model: Model | null = null;
  private live = 0;
  private readonly sizes = new Map<GPUBuffer, number>();
  private readonly batUniform: GPUBuffer;
  private readonly emUniform: GPUBuffer;
  private staging: GPUBuffer | null = null;
  private dataset: { buffer: GPUBuffer; count: number; numVars: number; pixels: Uint8Array } | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private lostText: string | null = null;
  private uncaptured: string | null = null;
  private disposed = false;
  private firstSubmit = true;
  private timestamps: boolean;
  /** The device has timestamp-query (requested whenever the adapter offers it): calibrates the
   *  fused training path even when per-layer `timings` are off. */
  private readonly canTime: boolean;
  /** Fused training: the resident epoch's index list and per-chunk batch uniforms. */
  private epochIdx: GPUBuffer | null = null;
  private epochBat: GPUBuffer | null = null;
  /** Fused training with two slices in flight: one small read-back buffer per slice in flight. */
  private sliceMarkers: GPUBuffer[] = [];
  /** Densities from which 'auto' picks the dense kernels (takes effect at the next load). */
  denseThresholds: Required<DenseThresholds>;
  /** The forward, backward and input kernel choices (options of the same names; take effect at the next load:
   *  the device check switches them to time each on one trained circuit). */
  forwardKernel: HeightKernelChoice;
  backwardKernel: HeightKernelChoice;
  inputKernel: NonNullable<GpuEngineOptions['inputKernel']>;
  /** Whether the next loads tune their 'auto' kernel choices (option `tuneKernels`). */
  tuneKernels: boolean;
  /** Fused training: GPU ms per sample of forward + backward + flows + EM (0 = not calibrated). */
  private trainMsPerSample = 0;
  /** GPU ms of the last calibrated full batch of the fused training path: timestamp span of the
   *  batch (first pass start to last pass end), or the wall clock without timestamp-query. */
  trainBatchGpuMs = 0;
  /** The same batch's sum of pass times (timestamps; 0 without them). */
  trainBatchPassMs = 0;
  /** Sleep before each wait on the GPU (settable: benchmarks calibrate it from a measured submit). */
  napBeforeWaitMs: number;
  /** A software adapter (SwiftShader): 'auto' kernel choices avoid workgroup barriers there. */
  readonly cpuEmulated: boolean;
  private querySet: GPUQuerySet | null = null;
  private queryResolve: GPUBuffer | null = null;
  private queryStaging: GPUBuffer | null = null;
  private timingLabels: string[] = [];
  private timingPending = false;
  /** Set by resetFlows when its submit fails, reported by the next call. */
  private deferred: unknown = null;

  /** Requests an adapter and device (see device.ts for the failure sentences) and builds the engine. */
  static async create(gpu: GPU | null | undefined, opts: GpuEngineOptions): Promise<GpuEngine> {
    checkShaderSources(opts.shaders);
    const ctx = await requestGpuDevice(gpu, { ...opts, timestamps: true });
    return new GpuEngine(ctx, opts);
  }

  constructor(ctx: GpuContext, opts: GpuEngineOptions) {
    checkShaderSources(opts.shaders);
    this.opts = opts;
    this.device = ctx.device;
    this.limits = ctx.limits;
    this.adapter = ctx.adapterName;
    this.timestamps = ctx.timestamps && !!opts.timings;
    this.canTime = ctx.timestamps;
    const dt = opts.denseThreshold;
    this.denseThresholds = typeof dt === 'number' ? { sum: dt, flow: dt, edge: dt } : { ...DEFAULT_DENSE, ...dt };
    this.napBeforeWaitMs = opts.napBeforeWaitMs ?? 0;
    this.forwardKernel = opts.forwardKernel ?? 'auto';
    this.backwardKernel = opts.backwardKernel ?? 'auto';
    this.inputKernel = opts.inputKernel ?? 'auto';
    this.cpuEmulated = opts.emulated ?? /swiftshader|llvmpipe|lavapipe/i.test(`${ctx.adapter.info?.architecture} ${ctx.adapter.info?.description} ${ctx.adapter.info?.device}`);
    this.tuneKernels = opts.tuneKernels ?? !this.cpuEmulated;
    for (const [name, src] of Object.entries(opts.shaders)) this.bindings.set(name, parseBindings(src));
    this.device.lost.then((info) => {
      if (!this.disposed) this.lostText = lostMessage(info);
    });
    this.device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.uncaptured ??= ev.error.message.split('\n')[0];
    };
    this.batUniform = this.buffer('pc/batch-uniform', BAT_BYTES, UNIFORM);
    this.emUniform = this.buffer('pc/em-uniform', 16, UNIFORM);
  }

  // ---------------------------------------------------------------- bookkeeping

  /** Bytes of GPU buffers this engine holds now (for leak checks across loads). */
  liveBytes(): number {
    return this.live;
  }

  /** Samples per chunk of the loaded model. */
  get chunk(): number {
    return this.circuitModel.cap;
  }

  /** Block density of each sum layer, bottom up (for tests and device reports). */
  get sumLayerDensity(): number[] {
    const m = this.circuitModel;
    return m.cc.layers.flatMap((l, li) => (l.kind === 'sum' ? [m.dense.density[li]] : []));
  }

  /** Every kernel variant chosen, per layer (for tests and device reports). */
  get kernelPlan(): readonly string[] {
    return this.circuitModel.kernelPlan;
  }

  /** The kernel family each pass of the loaded circuit runs. */
  get kernelChoice(): KernelChoice {
    return { ...this.circuitModel.choice };
  }

  /** What tuning measured on the loaded circuit (null before its first flows pass, or untuned). */
  get kernelTuning(): KernelTuning | null {
    return this.circuitModel.tuning;
  }

  /** The kernel families in a line: "forward dense, backward height, edges dense, inputs node (tuned)"
   *  ("(rules)" when the options and rules chose them). */
  get kernelSummary(): string {
    const m = this.circuitModel;
    return `${choiceText(m.choice)} (${m.tuning ? 'tuned' : 'rules'})`;
  }

  /** The sum-forward kernel chosen for each sum layer ("tiled T=16", "gather", "gemm 64x64x16"). */
  get sumKernels(): readonly string[] {
    return this.circuitModel.sumKernels;
  }

  /** True once the device was lost or destroyed. */
  get lost(): boolean {
    return this.lostText !== null;
  }

  private buffer(label: string, size: number, usage: number): GPUBuffer {
    const b = this.device.createBuffer({ label, size: align4(size), usage });
    this.sizes.set(b, align4(size));
    this.live += align4(size);
    return b;
  }

  private destroyBuffer(b: GPUBuffer | null | undefined): void {
    if (!b) return;
    const s = this.sizes.get(b);
    if (s !== undefined) {
      this.live -= s;
      this.sizes.delete(b);
    }
    b.destroy();
  }

  private get circuitModel(): Model {
    if (!this.model) throw new Error('GPU engine used before load');
    return this.model;
  }

  /** Serialises engine calls (a readback must not overlap the next call's submits) and turns failures
   *  into GpuUnavailableError sentences. */
  private op<T>(fn: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      this.check();
      try {
        const v = await fn();
        this.check();
        return v;
      } catch (e) {
        throw await this.classify(e);
      }
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private check(): void {
    if (this.disposed) throw new Error('GPU engine used after dispose');
    if (this.lostText) throw new GpuUnavailableError('device-lost', this.lostText);
    if (this.uncaptured) throw new GpuUnavailableError('validation', `WebGPU reported an error (${this.uncaptured.replace(/\.$/, '')}): this is an engine bug; use the CPU engine and report it.`);
    if (this.deferred) {
      const e = this.deferred;
      this.deferred = null;
      throw e;
    }
  }

  private async classify(e: unknown): Promise<unknown> {
    if (e instanceof GpuUnavailableError) return e;
    // A failed map or submit right after a loss: the lost promise may resolve a moment later.
    if (!this.lostText) await Promise.race([this.device.lost, sleep(200)]);
    if (this.lostText) return new GpuUnavailableError('device-lost', this.lostText);
    if (this.uncaptured) return new GpuUnavailableError('validation', `WebGPU reported an error (${this.uncaptured.replace(/\.$/, '')}): this is an engine bug; use the CPU engine and report it.`);
    return e;
  }

  private async nap(): Promise<void> {
    const ms = this.napBeforeWaitMs;
    if (ms > 0) await sleep(ms);
  }

  // ---------------------------------------------------------------- pipelines

  private pipeline(kernel: KernelName, constants: Record<string, number>): GPUComputePipeline {
    const spec = KERNELS[kernel];
    const key = `${spec.shader}:${spec.entry}:${JSON.stringify(constants)}`;
    let p = this.pipelines.get(key);
    if (p) return p;
    let module = this.modules.get(spec.shader);
    if (!module) {
      // shaders/common.wgsl (shared structs and helpers) goes in front: WGSL has no includes.
      module = this.device.createShaderModule({ label: `pc/${spec.shader}.wgsl`, code: `${this.opts.shaders.common}\n${this.opts.shaders[spec.shader]}` });
      this.modules.set(spec.shader, module);
    }
    p = this.device.createComputePipeline({
      label: `pc/${kernel}${Object.keys(constants).length ? ' ' + JSON.stringify(constants) : ''}`,
      layout: 'auto',
      compute: { module, entryPoint: spec.entry, constants },
    });
    this.pipelines.set(key, p);
    return p;
  }

  // ---------------------------------------------------------------- load

  /** Samples per chunk that fit the limits, or a limit error naming what stops the model. */
  private planCapacity(cc: CompiledCircuit): number {
    const L = this.limits;
    const maxBind = Math.min(L.maxStorageBufferBindingSize, L.maxBufferSize);
    const bindName = L.maxStorageBufferBindingSize <= L.maxBufferSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
    const K = latentStates(cc);
    const perSample = Math.max(cc.numNodes, cc.regions.length, cc.numVars) * 4;
    const params = cc.numInputs * cc.numValues * 4;
    if (params > maxBind) {
      const kFit = Math.max(1, Math.floor((K * maxBind) / params));
      throw new GpuUnavailableError('limit', limitMessage(bindName, params, maxBind, `this model's input parameters (K=${K}, ${cc.numInputs.toLocaleString('en-US')} input nodes x ${cc.numValues} values x 4 bytes)`, `K <= ${kFit} would fit, or use the CPU engine`));
    }
    if (perSample > maxBind) {
      const kFit = Math.max(1, Math.floor((K * maxBind) / perSample));
      throw new GpuUnavailableError('limit', limitMessage(bindName, perSample, maxBind, `one sample's node values (K=${K}, ${cc.numNodes.toLocaleString('en-US')} nodes x 4 bytes)`, `K <= ${kFit} would fit, or use the CPU engine`));
    }
    const maxChunk = Math.max(1, this.opts.maxChunk ?? 512);
    return Math.min(maxChunk, Math.floor(maxBind / perSample));
  }

  async load(cc: CompiledCircuit): Promise<void> {
    return this.op(async () => {
      this.dropModel();
      const cap = this.planCapacity(cc);
      const model = await withErrorScopes(this.device, `the buffers of a circuit with ${cc.numNodes.toLocaleString('en-US')} nodes x ${cap} samples`, () => this.allocate(cc, cap));
      this.model = model;
      model.candidates = this.tuneCandidates(model.dense, model.choice);
      this.trainMsPerSample = 0;
      this.upload(model);
      await this.rebuild(model);
      this.firstSubmit = true;
    });
  }

  private dropModel(): void {
    if (!this.model) return;
    for (const b of this.model.buffers.values()) this.destroyBuffer(b);
    this.destroyBuffer(this.model.layerUniform);
    this.model = null;
  }

  private allocate(cc: CompiledCircuit, cap: number): Model {
    const buffers = new Map<string, GPUBuffer>();
    const R = cc.regions.length;
    const f = (name: string, bytes: number) => buffers.set(name, this.buffer(`pc/${name}`, bytes, STORAGE));
    const nodeBytes = cc.numNodes * cap * 4;
    f('val', nodeBytes);
    f('ex', nodeBytes);
    f('flow', nodeBytes);
    f('rmax', R * cap * 4);
    f('pix', cc.numVars * cap * 4);
    f('data', cap * cc.numVars);
    f('miss', cap * cc.numVars);
    f('idx', cap * 4);
    f('out', cap * 4);
    f('childPtr', (cc.numNodes + 1) * 4);
    f('childNode', cc.childNode.length * 4);
    f('inputVar', cc.numInputs * 4);
    f('regions', R * 32);
    f('regionFwd', regionForwardWords(cc) * 4);
    f('edgePtr', (cc.numNodes + 1) * 4);
    f('edgeChild', cc.numEdges * 4);
    f('edgeNode', cc.numEdges * 4);
    let regionChildren = 0;
    for (const r of cc.regions) regionChildren += r.childRegions.length;
    f('regionChild', regionChildren * 4);
    f('parentPtr', (cc.numNodes + 1) * 4);
    f('parentNode', cc.parentNode.length * 4);
    f('parentEdge', cc.parentEdge.length * 4);
    f('sumNodes', cc.numSums * 4);
    f('weight', cc.numEdges * 4);
    f('logWeight', cc.numEdges * 4);
    f('logProb', cc.numInputs * cc.numValues * 4);
    f('acc', cc.numEdges * 4);
    f('hist', cc.numInputs * cc.numValues * 4);
    f('marked', cc.numEdges * 4);
    const dense = this.planDense(cc);
    f('denseOff', R * 4);
    f('denseIdx', cc.numEdges * 4);
    f('wdense', dense.size * 4);
    f('denseEdge', dense.size * 4);
    // Dispatch count: pixels x2, per layer up to 4 (forward, backward, edge flows), hist, marked
    // x2, EM x3, and spares.
    const slots = 2 + cc.layers.length * 4 + 16;
    const slotStride = Math.max(256, this.device.limits.minUniformBufferOffsetAlignment);
    const layerUniform = this.buffer('pc/layer-uniforms', slots * slotStride, UNIFORM);
    const rootRegion = cc.regions.findIndex((r) => r.sumStart <= cc.rootNode && cc.rootNode < r.sumStart + r.rows);
    return {
      cc,
      cap,
      rootRegion,
      buffers,
      pixelsBatch: null as unknown as Dispatch,
      pixelsIndexed: null,
      forward: [],
      backward: [],
      accumulate: [],
      marked: [],
      em: [],
      layerUniform,
      layerSlots: slots,
      slotStride,
      sumKernels: [],
      kernelPlan: [],
      dense,
      chunkMs: new Map(),
      choice: this.ruleChoice(dense),
      candidates: null,
      tuning: null,
    };
  }

  private write(b: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    // writeBuffer sizes must be multiples of 4: pad a byte array's tail.
    let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength === 0) return;
    if (bytes.byteLength % 4 !== 0) {
      const padded = new Uint8Array(align4(bytes.byteLength));
      padded.set(bytes);
      bytes = padded;
    }
    this.device.queue.writeBuffer(b, offset, bytes);
  }

  /** Uploads structure and parameters (parameters rounded to f32, linear weights from f64). */
  private upload(m: Model): void {
    const cc = m.cc;
    const B = m.buffers;
    const u32 = (a: ArrayLike<number>) => Uint32Array.from(a);
    this.write(B.get('childPtr')!, u32(cc.childPtr));
    this.write(B.get('childNode')!, u32(cc.childNode));
    this.write(B.get('inputVar')!, u32(cc.inputVar));
    const regions = new Uint32Array(cc.regions.length * 8);
    const regionChild: number[] = [];
    cc.regions.forEach((r, k) => {
      const c0 = regionChild.length;
      regionChild.push(...r.childRegions);
      regions.set([r.productStart, r.size, r.sumStart, r.rows, r.edgeStart, r.nnz, c0, regionChild.length], k * 8);
    });
    this.write(B.get('regions')!, regions);
    this.write(B.get('regionFwd')!, regionForwardTable(cc));
    this.write(B.get('regionChild')!, Uint32Array.from(regionChild));
    this.write(B.get('edgePtr')!, u32(cc.edgePtr));
    this.write(B.get('edgeChild')!, u32(cc.edgeChild));
    const edgeNode = new Uint32Array(cc.numEdges);
    const sumNodes = new Uint32Array(cc.numSums);
    let s = 0;
    for (const r of cc.regions) {
      for (let j = 0; j < r.rows; j++) {
        const node = r.sumStart + j;
        for (let e = cc.edgePtr[node]; e < cc.edgePtr[node + 1]; e++) edgeNode[e] = node;
      }
    }
    // Sum nodes in edge order (their edges are contiguous and ascending).
    for (const l of cc.layers) if (l.kind === 'sum') for (let n = l.nodeStart; n < l.nodeEnd; n++) sumNodes[s++] = n;
    this.write(B.get('edgeNode')!, edgeNode);
    this.write(B.get('sumNodes')!, sumNodes);
    this.write(B.get('parentPtr')!, u32(cc.parentPtr));
    this.write(B.get('parentNode')!, u32(cc.parentNode));
    // -1 (a product parent) never reaches the product-flow kernel; store it as 0.
    this.write(B.get('parentEdge')!, Uint32Array.from(cc.parentEdge, (e) => (e < 0 ? 0 : e)));
    this.write(B.get('denseOff')!, m.dense.off);
    this.write(B.get('denseIdx')!, m.dense.idx);
    if (m.dense.size > 0) this.write(B.get('denseEdge')!, m.dense.edge);
    this.writeParams(m);
  }

  private writeParams(m: Model): void {
    const cc = m.cc;
    const w = Float32Array.from(cc.edgeLogWeights, Math.exp);
    this.write(m.buffers.get('weight')!, w);
    if (m.dense.size > 0) {
      const mirror = new Float32Array(m.dense.size);
      for (let e = 0; e < w.length; e++) if (m.dense.idx[e] !== 0xffffffff) mirror[m.dense.idx[e]] = w[e];
      this.write(m.buffers.get('wdense')!, mirror);
    }
    this.write(m.buffers.get('logWeight')!, Float32Array.from(cc.edgeLogWeights));
    this.write(m.buffers.get('logProb')!, Float32Array.from(cc.inputLogProbs));
  }

  /** GEMM tile for M output rows: TM x TN outputs, (TM/4)(TN/4) = WG threads with 4x4 register
   *  blocks, TK (inner chunk) as large as workgroup storage allows (16 at most; null if even 4 does
   *  not fit). */
  private gemmShape(maxM: number): GemmShape | null {
    const TM = Math.min(64, Math.max(16, nextPow2(maxM)));
    const TN = (16 * WG) / TM;
    const floats = Math.floor(this.limits.maxComputeWorkgroupStorageSize / 4);
    for (const TK of [16, 8, 4]) if (TK * (TM + 4 + TN) <= floats) return { TM, TN, TK };
    return null;
  }

  /** Tile of the edge-flow GEMM: T x T (rows x products), (T/4)^2 threads, TK samples per chunk. */
  private edgeShape(maxDim: number): GemmShape | null {
    const T = Math.min(64, Math.max(16, nextPow2(maxDim)));
    const floats = Math.floor(this.limits.maxComputeWorkgroupStorageSize / 4);
    if ((T / 4) * (T / 4) > this.limits.maxComputeInvocationsPerWorkgroup) return null;
    for (const TK of [16, 8, 4]) if (TK * (2 * T + 8) <= floats) return { TM: T, TN: T, TK };
    return null;
  }

  /** Whether 'auto' runs a dense kernel on a layer: a real GPU, and nearly full blocks, or blocks
   *  both dense enough for this kernel and large (see DENSE_ALWAYS). */
  private autoDense(density: number, meanRows: number, threshold: number): boolean {
    if (this.cpuEmulated) return false;
    return density >= Math.max(threshold, DENSE_ALWAYS) || (density >= threshold && meanRows >= (this.opts.minDenseMeanRows ?? MIN_DENSE_MEAN_ROWS));
  }

  /** The kernel families the options and rules give a circuit with dense plan `d` (before tuning). */
  private ruleChoice(d: DensePlan): KernelChoice {
    const o = this.opts;
    const t = this.denseThresholds;
    // Dense only where the circuit has a mirror (none fits, or none was planned: the CSR kernels run).
    const dense = (opt: string | undefined, forced: string, threshold: number) => d.size > 0 && (opt === forced || ((opt ?? 'auto') === 'auto' && this.autoDense(d.circuitDensity, d.circuitMeanRows, threshold)));
    return {
      forward: this.forwardKernel === 'height' ? 'height' : dense(o.sumKernel, 'gemm', t.sum) ? 'dense' : 'csr',
      backward: this.backwardKernel === 'height' ? 'height' : dense(o.flowKernel, 'gemm', t.flow) ? 'dense' : 'csr',
      edges: dense(o.edgeKernel, 'tiled', t.edge) ? 'dense' : 'csr',
      inputs: this.inputKernel === 'workgroup' ? 'workgroup' : 'node',
    };
  }

  /** Per pass, the families tuning times: every family an 'auto' option allows ('dense' only where
   *  the circuit has a mirror), the rule's choice first; null when tuning is off or nothing varies. */
  private tuneCandidates(d: DensePlan, rule: KernelChoice): Model['candidates'] {
    if (!this.tuneKernels) return null;
    const o = this.opts;
    const mirror = d.size > 0;
    const layered = (opt: string | undefined, forced: string): Array<'csr' | 'dense'> => ((opt ?? 'auto') === 'auto' ? (mirror ? ['csr', 'dense'] : ['csr']) : [opt === forced ? 'dense' : 'csr']);
    const perHeight = (choice: HeightKernelChoice, opt: string | undefined, forced: string): Array<'csr' | 'dense' | 'height'> =>
      choice === 'height' ? ['height'] : choice === 'layered' ? layered(opt, forced) : [...layered(opt, forced), 'height'];
    const ruleFirst = <T>(list: T[], first: T): T[] => [first, ...list.filter((x) => x !== first)];
    const c = {
      forward: ruleFirst(perHeight(this.forwardKernel, o.sumKernel, 'gemm'), rule.forward),
      backward: ruleFirst(perHeight(this.backwardKernel, o.flowKernel, 'gemm'), rule.backward),
      edges: ruleFirst(layered(o.edgeKernel, 'tiled'), rule.edges),
      inputs: ruleFirst<KernelChoice['inputs']>(this.inputKernel === 'auto' ? ['node', 'workgroup'] : [this.inputKernel], rule.inputs),
    };
    return KERNEL_PASSES.some((p) => c[p].length > 1) ? c : null;
  }

  /** Which sum layers get a dense mirror: those some dense kernel will run on (forced, or 'auto' on
   *  a real GPU with block density >= denseThreshold, or that tuning may time: 'auto' with density
   *  >= the lowest threshold), and whose tiles fit the limits. */
  private planDense(cc: CompiledCircuit): DensePlan {
    const sumK = this.opts.sumKernel ?? 'auto';
    const edgeK = this.opts.edgeKernel ?? 'auto';
    const flowK = this.opts.flowKernel ?? 'auto';
    const t = this.denseThresholds;
    const thr = Math.min(sumK === 'auto' ? t.sum : Infinity, edgeK === 'auto' ? t.edge : Infinity, flowK === 'auto' ? t.flow : Infinity);
    const anyAuto = sumK === 'auto' || edgeK === 'auto' || flowK === 'auto';
    const density = cc.layers.map(() => 0);
    const meanRows = cc.layers.map(() => 0);
    // One choice for the whole circuit: layers on different kernel families measured slower than
    // either family alone (see DENSE_ALWAYS), so 'auto' decides on the circuit's totals.
    let allNnz = 0;
    let allFull = 0;
    let allRows = 0;
    for (const r of cc.regions) {
      allNnz += r.nnz;
      allFull += r.rows * r.size;
      allRows += r.rows;
    }
    const circuitDensity = allFull > 0 ? allNnz / allFull : 0;
    const circuitMeanRows = allRows / Math.max(1, cc.regions.length);
    const maxBind = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
    const forced = sumK === 'gemm' || edgeK === 'tiled' || flowK === 'gemm';
    const layer = cc.layers.map(() => false);
    const off = new Uint32Array(cc.regions.length);
    let size = 0;
    cc.layers.forEach((l, li) => {
      if (l.kind !== 'sum') return;
      let nnz = 0;
      let full = 0;
      let rows = 0;
      let maxRows = 1;
      let maxSize = 1;
      for (let k = l.regionStart; k < l.regionEnd; k++) {
        const r = cc.regions[k];
        nnz += r.nnz;
        rows += r.rows;
        full += r.rows * r.size;
        maxRows = Math.max(maxRows, r.rows);
        maxSize = Math.max(maxSize, r.size);
      }
      density[li] = full > 0 ? nnz / full : 0;
      meanRows[li] = rows / Math.max(1, l.regionEnd - l.regionStart);
      const tuned = this.tuneKernels && circuitDensity >= thr;
      const wants = forced || (anyAuto && full > 0 && (tuned || this.autoDense(circuitDensity, circuitMeanRows, thr)));
      const fits = !!this.gemmShape(maxRows) && !!this.gemmShape(maxSize) && !!this.edgeShape(Math.max(maxRows, maxSize));
      if (!wants || !fits || !uniqueCells(cc, l.regionStart, l.regionEnd)) return;
      // The mirror (and its edge map) must fit one storage binding.
      if ((size + full) * 4 > maxBind) return;
      layer[li] = true;
      for (let k = l.regionStart; k < l.regionEnd; k++) {
        off[k] = size;
        size += cc.regions[k].rows * cc.regions[k].size;
      }
    });
    const idx = new Uint32Array(cc.numEdges).fill(0xffffffff);
    const edge = new Uint32Array(size).fill(0xffffffff);
    cc.layers.forEach((l, li) => {
      if (!layer[li]) return;
      for (let k = l.regionStart; k < l.regionEnd; k++) {
        const r = cc.regions[k];
        for (let j = 0; j < r.rows; j++) {
          const node = r.sumStart + j;
          for (let e = cc.edgePtr[node]; e < cc.edgePtr[node + 1]; e++) {
            const d = off[k] + j * r.size + (cc.edgeChild[e] - r.productStart);
            idx[e] = d;
            edge[d] = e;
          }
        }
      }
    });
    return { layer, density, meanRows, circuitDensity, circuitMeanRows, off, idx, edge, size };
  }

  private buildDispatches(m: Model): void {
    const cc = m.cc;
    const uni = new Uint32Array((m.layerSlots * m.slotStride) / 4);
    let slot = 0;
    const make = (kernel: KernelName, label: string, group: string, layer: number[], workgroups: Work, constants: Record<string, number> = {}, overrides: Record<string, GPUBuffer> = {}): Dispatch => {
      if (slot >= m.layerSlots) throw new Error('internal: layer uniform slots exhausted');
      const off = slot * m.slotStride;
      uni.set(layer, off / 4);
      slot++;
      const spec = KERNELS[kernel];
      const pipeline = this.pipeline(kernel, { WG, ...constants });
      const nums = this.bindings.get(spec.shader)!;
      const entries: GPUBindGroupEntry[] = spec.uses.map((name) => {
        const binding = nums.get(name)!;
        if (name === 'bat') return { binding, resource: { buffer: this.batUniform } };
        if (name === 'em') return { binding, resource: { buffer: this.emUniform } };
        if (name === 'lay') return { binding, resource: { buffer: m.layerUniform, offset: off, size: LAYER_BYTES } };
        // 'part' (per-region partial sums of marked flows) reuses rmax, free after the backward pass.
        const buf = overrides[name] ?? m.buffers.get(name === 'part' ? 'rmax' : name);
        if (!buf) throw new Error(`internal: no buffer for binding '${name}'`);
        return { binding, resource: { buffer: buf } };
      });
      const bindGroup = this.device.createBindGroup({ label: `pc/${label}`, layout: pipeline.getBindGroupLayout(0), entries });
      return { kernel, label, group, pipeline, bindGroup, workgroups };
    };
    const perSample = (count: number): Work => (n) => Math.ceil((count * n) / WG);
    const perItem = (count: number): Work => () => Math.ceil(count / WG);

    m.pixelsBatch = make('pixels', 'pixels (batch)', 'pixels', [0, cc.numVars], perSample(cc.numVars));
    m.pixelsIndexed = null;
    this.pixelsIndexedSlot = slot;
    slot++; // reserved for the indexed pixel dispatch (built when a dataset is uploaded)

    // Forward: per height, products (with their inputs), region max + exp, sums.
    const storageFloats = Math.floor(this.limits.maxComputeWorkgroupStorageSize / 4);
    const choice = this.opts.sumKernel ?? 'auto';
    const autoTiled = choice === 'auto' && !this.cpuEmulated;
    const rmChoice = this.opts.regionMax ?? 'auto';
    const edgeChoice = this.opts.edgeKernel ?? 'auto';
    const dense = m.dense;
    const shape = (l: { regionStart: number; regionEnd: number }) => {
      let maxSize = 1;
      let maxRows = 1;
      for (let k = l.regionStart; k < l.regionEnd; k++) {
        maxSize = Math.max(maxSize, cc.regions[k].size);
        maxRows = Math.max(maxRows, cc.regions[k].rows);
      }
      return { maxSize, maxRows, nRegions: l.regionEnd - l.regionStart };
    };
    // Rows (or products) per workgroup of the tiled kernels: about 4 outputs per thread; more blocks
    // = more workgroups for layers of few regions.
    const rowsPer = (tile: number) => this.opts.tileRows ?? Math.max(1, Math.floor((4 * WG) / tile));
    // Per-height forward: the sum layer index of each height whose forward runs as one kernel, with its
    // tile (samples) and rows per workgroup. Workgroup storage holds the tile of products and WG
    // floats for the max reduction.
    const perHeight = new Map<number, { tile: number; rows: number }>();
    if (m.choice.forward === 'height') {
      const floats = storageFloats - WG;
      for (let li = 1; li + 1 < cc.layers.length; li++) {
        const l = cc.layers[li];
        if (l.kind !== 'product' || cc.layers[li + 1].kind !== 'sum') continue;
        const tile = sampleTile(Math.max(1, shape(l).maxSize), floats);
        if (tile > 0) perHeight.set(li + 1, { tile, rows: rowsPer(tile) });
      }
    }
    const gemmConsts = (g: GemmShape) => ({ TM: g.TM, TN: g.TN, TK: g.TK, WS4: g.TK * (g.TM / 4 + 1), ES4: (g.TK * g.TN) / 4, WG: (g.TM / 4) * (g.TN / 4) });
    for (let li = 1; li < cc.layers.length; li++) {
      const l = cc.layers[li];
      const h = cc.regions[l.regionStart].height;
      const { maxSize, maxRows, nRegions } = shape(l);
      const fuse = perHeight.get(l.kind === 'product' ? li + 1 : li);
      if (fuse && l.kind === 'product') continue; // the sum layer's dispatch does the products
      if (fuse) {
        const rowBlocks = Math.ceil(maxRows / fuse.rows);
        const tileFloats = fuse.tile * Math.max(1, maxSize);
        m.sumKernels.push(`height T=${fuse.tile}`);
        m.kernelPlan.push(`forward height T=${fuse.tile} h=${h}`);
        m.forward.push(make('regionForward', `forward height h=${h}`, `forward h=${h}`, [l.regionStart, nRegions, rowBlocks, cc.numValues], (n) => nRegions * rowBlocks * Math.ceil(n / fuse.tile), { TILE: fuse.tile, TILE_FLOATS: tileFloats, ROWS: fuse.rows }));
        continue;
      }
      if (l.kind === 'product') {
        const count = l.nodeEnd - l.nodeStart;
        m.forward.push(make('product', `product h=${h}`, `forward h=${h}`, [l.nodeStart, count, cc.numInputs, cc.numValues], perSample(count)));
        const reduce = rmChoice === 'reduce' || (rmChoice === 'auto' && !this.cpuEmulated && maxSize >= 16);
        if (reduce) {
          m.kernelPlan.push(`region max reduce h=${h}`);
          m.forward.push(make('regionMaxReduce', `region max h=${h}`, `forward h=${h}`, [l.regionStart, nRegions], (n) => nRegions * Math.ceil(n / RM_TS), { TS: RM_TS }));
        } else {
          m.kernelPlan.push(`region max serial h=${h}`);
          m.forward.push(make('regionMax', `region max h=${h}`, `forward h=${h}`, [l.regionStart, nRegions], perSample(nRegions)));
        }
        continue;
      }
      const gemm = dense.layer[li] && m.choice.forward === 'dense' ? this.gemmShape(maxRows) : null;
      if (gemm) {
        const rowTiles = Math.ceil(maxRows / gemm.TM);
        const tag = `gemm ${gemm.TM}x${gemm.TN}x${gemm.TK}`;
        m.sumKernels.push(tag);
        m.kernelPlan.push(`sum ${tag} h=${h}`);
        m.forward.push(make('sumGemm', `sum gemm h=${h}`, `forward h=${h}`, [l.regionStart, nRegions, rowTiles, maxSize, 0], (n) => nRegions * rowTiles * Math.ceil(n / gemm.TN), gemmConsts(gemm)));
        continue;
      }
      const tile = Math.max(1, sampleTile(maxSize, storageFloats));
      const fits = tile * maxSize <= storageFloats;
      const useTiled = choice === 'tiled' || choice === 'gemm' ? fits : autoTiled ? fits && tile >= MIN_TILE : false;
      if (useTiled) {
        const tileFloats = Math.min(storageFloats, tile * nextPow2(maxSize));
        const rows = rowsPer(tile);
        const rowBlocks = Math.ceil(maxRows / rows);
        m.sumKernels.push(`tiled T=${tile}`);
        m.kernelPlan.push(`sum tiled T=${tile} h=${h}`);
        m.forward.push(make('sumTiled', `sum tiled h=${h}`, `forward h=${h}`, [l.regionStart, nRegions, rowBlocks], (n) => nRegions * rowBlocks * Math.ceil(n / tile), { TILE: tile, TILE_FLOATS: tileFloats, ROWS: rows }));
      } else {
        const count = l.nodeEnd - l.nodeStart;
        m.sumKernels.push('gather');
        m.kernelPlan.push(`sum gather h=${h}`);
        m.forward.push(make('sumGather', `sum gather h=${h}`, `forward h=${h}`, [l.nodeStart, count, l.regionStart, nRegions], perSample(count)));
      }
    }
    // Backward, top layer first: sum flows (g), then product flows; or one dispatch per height
    // (the sum layer li and the product layer li - 1 of the same regions).
    const heightBack = new Set<number>();
    for (let li = cc.layers.length - 1; li >= 1; li--) {
      const l = cc.layers[li];
      const h = cc.regions[l.regionStart].height;
      const count = l.nodeEnd - l.nodeStart;
      if (heightBack.has(li)) continue;
      if (l.kind === 'sum' && m.choice.backward === 'height' && cc.layers[li - 1].kind === 'product') {
        const { maxSize, maxRows, nRegions } = shape(l);
        const tile = sampleTile(Math.max(1, maxRows), storageFloats);
        if (tile > 0) {
          const products = rowsPer(tile);
          const blocks = Math.ceil(maxSize / products);
          heightBack.add(li - 1);
          m.kernelPlan.push(`backward height T=${tile} h=${h}`);
          m.backward.push(make('regionBackward', `backward height h=${h}`, `backward h=${h}`, [l.regionStart, nRegions, blocks], (n) => nRegions * blocks * Math.ceil(n / tile), { TILE: tile, TILE_FLOATS: tile * Math.max(1, maxRows), ROWS: products }));
          continue;
        }
      }
      if (l.kind === 'sum') {
        m.backward.push(make('sumFlow', `sum flow h=${h}`, `backward h=${h}`, [l.nodeStart, count], perSample(count)));
        continue;
      }
      // The product layer's parents are the sum layer of the same regions (the next layer).
      const sumLi = li + 1;
      const { maxSize, maxRows, nRegions } = shape(l);
      const g = sumLi < cc.layers.length && dense.layer[sumLi] && m.choice.backward === 'dense' ? this.gemmShape(maxSize) : null;
      if (g) {
        const rowTiles = Math.ceil(maxSize / g.TM);
        m.kernelPlan.push(`product flow gemm ${g.TM}x${g.TN}x${g.TK} h=${h}`);
        m.backward.push(make('sumGemm', `product flow gemm h=${h}`, `backward h=${h}`, [l.regionStart, nRegions, rowTiles, maxRows, 1], (n) => nRegions * rowTiles * Math.ceil(n / g.TN), gemmConsts(g)));
      } else {
        m.kernelPlan.push(`product flow gather h=${h}`);
        m.backward.push(make('productFlow', `product flow h=${h}`, `backward h=${h}`, [l.nodeStart, count], perSample(count)));
      }
    }
    // Edge flows: dense layers as tiled per-region GEMMs over the batch; runs of other layers (their
    // edges are contiguous) with 32 lanes per edge, or one thread per edge on software adapters.
    const lanes = edgeChoice === 'lanes' || (edgeChoice === 'auto' && !this.cpuEmulated) || (edgeChoice === 'tiled' && !this.cpuEmulated);
    const edgeRange = (e0: number, e1: number) => {
      if (e1 <= e0) return;
      if (lanes) {
        const perWg = WG / EDGE_LANES;
        m.accumulate.push(make('edgeFlow', 'edge flows', 'edge flows', [e0, e1 - e0], () => Math.ceil((e1 - e0) / perWg), { LANES: EDGE_LANES }));
      } else m.accumulate.push(make('edgeFlowPerEdge', 'edge flows', 'edge flows', [e0, e1 - e0], perItem(e1 - e0)));
      m.kernelPlan.push(`edge flows ${lanes ? 'lanes' : 'per-edge'} [${e0}, ${e1})`);
    };
    // Consecutive dense layers with the same tile shape share one dispatch (their regions are
    // contiguous; edge-flow dispatches are independent, so fewer of them means fewer barriers).
    let run: { r0: number; r1: number; rows: number; size: number; es: GemmShape; h0: number; h1: number } | null = null;
    const flush = () => {
      if (!run) return;
      const { r0, r1, es, h0, h1 } = run;
      const nRegions = r1 - r0;
      const rt = Math.ceil(run.rows / es.TM);
      const ct = Math.ceil(run.size / es.TN);
      const hs = h0 === h1 ? `h=${h0}` : `h=${h0}..${h1}`;
      m.kernelPlan.push(`edge flows tiled ${es.TM}x${es.TN}x${es.TK} ${hs}`);
      m.accumulate.push(make('edgeFlowGemm', `edge flows ${hs}`, 'edge flows', [r0, nRegions, rt, ct], () => nRegions * rt * ct, { TM: es.TM, TN: es.TN, TK: es.TK, GS4: es.TK * (es.TM / 4 + 1), ES4: es.TK * (es.TN / 4 + 1), WG: (es.TM / 4) * (es.TN / 4) }));
      run = null;
    };
    let runStart = 0;
    for (let li = 1; li < cc.layers.length; li++) {
      const l = cc.layers[li];
      if (l.kind !== 'sum' || l.regionEnd <= l.regionStart) continue;
      const e0 = cc.regions[l.regionStart].edgeStart;
      const last = cc.regions[l.regionEnd - 1];
      const e1 = last.edgeStart + last.nnz;
      const { maxSize, maxRows } = shape(l);
      const es = dense.layer[li] && m.choice.edges === 'dense' ? this.edgeShape(Math.max(maxRows, maxSize)) : null;
      if (!es) continue;
      edgeRange(runStart, e0);
      runStart = e1;
      const h = cc.regions[l.regionStart].height;
      const r: typeof run = run;
      if (r && r.r1 === l.regionStart && r.es.TM === es.TM && r.es.TK === es.TK) {
        r.r1 = l.regionEnd;
        r.rows = Math.max(r.rows, maxRows);
        r.size = Math.max(r.size, maxSize);
        r.h1 = h;
      } else {
        flush();
        run = { r0: l.regionStart, r1: l.regionEnd, rows: maxRows, size: maxSize, es, h0: h, h1: h };
      }
    }
    flush();
    edgeRange(runStart, cc.numEdges);
    const inputWorkgroups = m.choice.inputs === 'workgroup';
    const perInput: Work = () => cc.numInputs;
    if (inputWorkgroups) m.accumulate.push(make('inputHistTiled', 'input flows', 'input flows', [0, cc.numInputs, 0, cc.numValues], perInput));
    else m.accumulate.push(make('inputHist', 'input flows', 'input flows', [0, cc.numInputs, 0, cc.numValues], perItem(cc.numInputs)));
    m.kernelPlan.push(`inputs ${inputWorkgroups ? 'workgroup' : 'node'}`);
    const R = cc.regions.length;
    m.marked.push(make('markedPartial', 'marked flow partial', 'marked', [0, R], perSample(R)));
    m.marked.push(make('markedTotal', 'marked flow total', 'marked', [0, R], (n) => Math.ceil(n / WG)));
    m.em.push(make('emSum', 'em sums', 'em', [0, cc.numSums], perItem(cc.numSums)));
    if (inputWorkgroups) m.em.push(make('emInputReduce', 'em inputs', 'em', [0, cc.numInputs, 0, cc.numValues], perInput));
    else m.em.push(make('emInput', 'em inputs', 'em', [0, cc.numInputs, 0, cc.numValues], perItem(cc.numInputs)));
    // The dense mirror follows the updated weights (also while the kernels tuning chose do not read
    // it: one dispatch, and the mirror is never stale).
    if (dense.size > 0) m.em.push(make('denseScatter', 'em dense mirror', 'em', [0, cc.numEdges], perItem(cc.numEdges), {}, { wmirror: m.buffers.get('wdense')! }));
    this.write(m.layerUniform, uni);
    if (this.dataset) this.buildIndexedPixels(m);
  }

  private pixelsIndexedSlot = 0;

  private buildIndexedPixels(m: Model): void {
    const ds = this.dataset!;
    if (ds.numVars !== m.cc.numVars) {
      m.pixelsIndexed = null;
      return;
    }
    const off = this.pixelsIndexedSlot * m.slotStride;
    const uni = new Uint32Array([0, m.cc.numVars, 0, 0, 0, 0, 0, 0]);
    this.write(m.layerUniform, uni, off);
    const spec = KERNELS.pixels;
    const pipeline = this.pipeline('pixels', { WG });
    const nums = this.bindings.get(spec.shader)!;
    const bufs: Record<string, GPUBuffer> = { data: ds.buffer, miss: m.buffers.get('miss')!, idx: m.buffers.get('idx')!, pix: m.buffers.get('pix')! };
    const entries: GPUBindGroupEntry[] = spec.uses.map((name) => {
      const binding = nums.get(name)!;
      if (name === 'bat') return { binding, resource: { buffer: this.batUniform } };
      if (name === 'lay') return { binding, resource: { buffer: m.layerUniform, offset: off, size: LAYER_BYTES } };
      return { binding, resource: { buffer: bufs[name] } };
    });
    const bindGroup = this.device.createBindGroup({ label: 'pc/pixels (indexed)', layout: pipeline.getBindGroupLayout(0), entries });
    const D = m.cc.numVars;
    m.pixelsIndexed = { kernel: 'pixels', label: 'pixels (indexed)', group: 'pixels', pipeline, bindGroup, workgroups: (n) => Math.ceil((D * n) / WG) };
  }

  // ---------------------------------------------------------------- encoding

  private fold(w: number): [number, number] {
    const maxPerDim = this.limits.maxComputeWorkgroupsPerDimension;
    if (w <= maxPerDim) return [w, 1];
    const y = Math.ceil(w / maxPerDim);
    if (y > maxPerDim) throw new GpuUnavailableError('limit', limitMessage('maxComputeWorkgroupsPerDimension', y, maxPerDim, `a dispatch of ${w.toLocaleString('en-US')} workgroups`, 'use a smaller batch chunk'));
    return [Math.ceil(w / y), y];
  }

  private dispatch(pass: GPUComputePassEncoder, d: Dispatch, n: number): void {
    const w = d.workgroups(n);
    if (w === 0) return;
    const [x, y] = this.fold(w);
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(x, y);
  }

  /** Encodes dispatches for a chunk of n samples; with timings, one timed pass per group. */
  private encode(enc: GPUCommandEncoder, list: Dispatch[], n: number, timed: boolean): void {
    const run = (pass: GPUComputePassEncoder, d: Dispatch) => this.dispatch(pass, d, n);
    if (!timed || !this.querySet) {
      const pass = enc.beginComputePass({ label: 'pc/pass' });
      for (const d of list) run(pass, d);
      pass.end();
      return;
    }
    let i = 0;
    while (i < list.length) {
      const group = list[i].group;
      const q = this.timingLabels.length * 2;
      const pass = enc.beginComputePass({ label: `pc/${group}`, timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 } });
      this.timingLabels.push(group);
      while (i < list.length && list[i].group === group) run(pass, list[i++]);
      pass.end();
    }
  }

  private ensureStaging(bytes: number): GPUBuffer {
    const need = align4(bytes);
    if (!this.staging || this.sizes.get(this.staging)! < need) {
      this.destroyBuffer(this.staging);
      this.staging = this.buffer('pc/readback', Math.max(need, 4096), READBACK);
    }
    return this.staging;
  }

  private ensureTimingBuffers(maxGroups: number): void {
    if (!this.canTime) return;
    const count = maxGroups * 2;
    if (this.querySet && this.querySet.count >= count) return;
    this.querySet?.destroy();
    this.destroyBuffer(this.queryResolve);
    this.destroyBuffer(this.queryStaging);
    this.querySet = this.device.createQuerySet({ label: 'pc/timestamps', type: 'timestamp', count });
    this.queryResolve = this.buffer('pc/timestamps-resolve', count * 8, QUERY_RESOLVE);
    this.queryStaging = this.buffer('pc/timestamps-readback', count * 8, READBACK);
  }

  /** Submits; the first submit after a load runs inside a validation error scope. */
  private async submit(enc: GPUCommandEncoder): Promise<void> {
    if (this.firstSubmit) {
      this.firstSubmit = false;
      this.device.pushErrorScope('validation');
      this.device.queue.submit([enc.finish()]);
      const err = await this.device.popErrorScope();
      if (err) throw new GpuUnavailableError('validation', `WebGPU rejected the engine's first batch (${err.message.split('\n')[0].trim().replace(/\.$/, '')}): this is an engine bug; use the CPU engine and report it.`);
      return;
    }
    this.device.queue.submit([enc.finish()]);
  }

  private async readStaging(bytes: number, napMs = this.napBeforeWaitMs): Promise<ArrayBuffer> {
    const st = this.staging!;
    if (napMs > 0) await sleep(napMs);
    await st.mapAsync(MAP_READ, 0, align4(bytes));
    const copy = st.getMappedRange(0, align4(bytes)).slice(0);
    st.unmap();
    return copy;
  }

  // ---------------------------------------------------------------- kernel tuning

  /** (Re)builds the dispatch lists for `m.choice`. */
  private async rebuild(m: Model): Promise<void> {
    m.forward = [];
    m.backward = [];
    m.accumulate = [];
    m.marked = [];
    m.em = [];
    m.sumKernels = [];
    m.kernelPlan = [];
    await withErrorScopes(this.device, 'the compute pipelines', () => this.buildDispatches(m));
  }

  /** The dispatches of each tuned pass (edge flows and input flows are both in `accumulate`). */
  private passLists(m: Model): Record<KernelPass, Dispatch[]> {
    const input = (d: Dispatch) => d.kernel === 'inputHist' || d.kernel === 'inputHistTiled';
    return { forward: m.forward, backward: m.backward, edges: m.accumulate.filter((d) => !input(d)), inputs: m.accumulate.filter(input) };
  }

  /**
   * Times each pass's candidate families (m.candidates) on the chunk of n samples already fed (its
   * pixels or indices and the batch uniform written), keeps the fastest per pass and rebuilds.
   * Trial t runs candidate t of every pass (a pass with fewer candidates repeats its last): one
   * warm-up run per trial, which also calibrates the naps (the first nap covers a conservative
   * prior: 5e6 edge-samples per ms over the larger of the edges and the dense mirror, and 0.05 ms
   * per dispatch), then two timed rounds, in trial order and in reverse (the GPU can run the first
   * work after a load slower); the better of the two counts. So a tuning costs about 3 x trials
   * chunks of training work. Passes are timed with timestamp-query (each from the previous pass's
   * end, `passTimes`), or by a submit each on the wall clock where the device has none (not with
   * naps on: they would be in the figure; then nothing is tuned). Runs at the first flows pass after
   * a load, while the accumulators still hold the zeros of their new buffers, and clears them after
   * its trials.
   */
  private async tune(m: Model, n: number, indexed: boolean): Promise<void> {
    const cands = m.candidates;
    m.candidates = null;
    const napping = this.napBeforeWaitMs > 0;
    if (!cands || (napping && !this.canTime)) return;
    const trials = Math.max(...KERNEL_PASSES.map((p) => cands[p].length));
    const configs: KernelChoice[] = [];
    for (let t = 0; t < trials; t++) {
      const at = <P extends KernelPass>(p: P) => cands[p][Math.min(t, cands[p].length - 1)];
      configs.push({ forward: at('forward'), backward: at('backward'), edges: at('edges'), inputs: at('inputs') });
    }
    // Half the rate of `priorMs` (a candidate family has never run on this GPU), plus 0.05 ms per
    // dispatch: small circuits are bound by dependent dispatches, not by edges.
    const prior = (dispatches: number) => (Math.max(m.cc.numEdges, m.dense.size) * n) / 5e6 + 0.05 * dispatches + 2;
    const warmMs: number[] = [];
    const ms: KernelTuning['ms'] = { forward: {}, backward: {}, edges: {}, inputs: {} };
    const failed: string[] = [];
    const rejected = new Set<number>();
    const order = configs.map((_, t) => t);
    const rounds = [order, order, [...order].reverse()]; // the first: warm-up
    this.timingPending = false;
    for (const [round, trialOrder] of rounds.entries()) {
      for (const t of trialOrder) {
        if (rejected.has(t)) continue;
        m.choice = configs[t];
        try {
          await this.rebuild(m);
        } catch (e) {
          // A trial whose pipelines the device rejects (a driver that cannot compile a kernel) is
          // left out; the rule's kernels (trial 0) must work.
          if (t === 0 || !(e instanceof GpuUnavailableError && e.reason === 'validation')) throw e;
          rejected.add(t);
          failed.push(`${choiceText(configs[t])}: ${e.message}`);
          continue;
        }
        const dispatches = m.forward.length + m.backward.length + m.accumulate.length + 1;
        const got = await this.timePasses(m, indexed, n, napping ? (round > 0 ? 1.5 * warmMs[t] + 2 : prior(dispatches)) : 0);
        if (round === 0) {
          warmMs[t] = KERNEL_PASSES.reduce((a, p) => a + got[p], 0);
          continue;
        }
        for (const p of KERNEL_PASSES) {
          const c = configs[t][p] as string;
          const rec = ms[p] as Record<string, number>;
          rec[c] = Math.min(rec[c] ?? Infinity, got[p]);
        }
      }
    }
    // Per pass the fastest family; ties keep the rule's (the first candidate).
    const fastest = <P extends KernelPass>(p: P): KernelChoice[P] => {
      let best = cands[p][0];
      for (const c of cands[p]) if ((ms[p] as Record<string, number>)[c] < (ms[p] as Record<string, number>)[best]) best = c;
      return best;
    };
    m.choice = { forward: fastest('forward'), backward: fastest('backward'), edges: fastest('edges'), inputs: fastest('inputs') };
    await this.rebuild(m);
    const enc = this.device.createCommandEncoder({ label: 'pc/kernel tuning: clear accumulators' });
    enc.clearBuffer(m.buffers.get('acc')!);
    enc.clearBuffer(m.buffers.get('hist')!);
    await this.submit(enc);
    m.tuning = { clock: this.canTime ? 'timestamps' : 'wall clock', samples: n, ms, chosen: { ...m.choice }, failed };
    m.chunkMs.clear(); // the waits recalibrate on the chosen kernels
  }

  /** GPU ms of each tuned pass on the fed chunk (after its pixels), napping `napMs` before the wait. */
  private async timePasses(m: Model, indexed: boolean, n: number, napMs: number): Promise<Record<KernelPass, number>> {
    const pixels = indexed ? m.pixelsIndexed : m.pixelsBatch;
    if (!pixels) throw new Error('GPU engine: no dataset uploaded for this circuit (uploadDataset first)');
    const lists = this.passLists(m);
    const out = { forward: 0, backward: 0, edges: 0, inputs: 0 };
    const enc = this.device.createCommandEncoder({ label: 'pc/kernel tuning' });
    if (this.canTime) {
      // The pixels pass is timed too: its end is where the forward's time starts (see passTimes).
      const passes = KERNEL_PASSES.length + 1;
      this.ensureTimingBuffers(passes);
      [[pixels], ...KERNEL_PASSES.map((p) => lists[p])].forEach((list, i) => {
        const pass = enc.beginComputePass({ label: `pc/kernel tuning: ${i === 0 ? 'pixels' : KERNEL_PASSES[i - 1]}`, timestampWrites: { querySet: this.querySet!, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
        for (const d of list) this.dispatch(pass, d, n);
        pass.end();
      });
      enc.resolveQuerySet(this.querySet!, 0, 2 * passes, this.queryResolve!, 0);
      enc.copyBufferToBuffer(this.queryResolve!, 0, this.queryStaging!, 0, 16 * passes);
      await this.submit(enc);
      if (napMs > 0) await sleep(napMs);
      await this.device.queue.onSubmittedWorkDone();
      const { ms } = await this.readTimestamps(passes);
      KERNEL_PASSES.forEach((p, i) => (out[p] = ms[i + 1]));
      return out;
    }
    // Wall clock (no naps here): the pixels, then one submit per pass.
    const first = enc.beginComputePass({ label: 'pc/kernel tuning: pixels' });
    this.dispatch(first, pixels, n);
    first.end();
    await this.submit(enc);
    await this.device.queue.onSubmittedWorkDone();
    for (const p of KERNEL_PASSES) {
      const e = this.device.createCommandEncoder({ label: `pc/kernel tuning: ${p}` });
      const pass = e.beginComputePass({ label: `pc/kernel tuning: ${p}` });
      for (const d of lists[p]) this.dispatch(pass, d, n);
      pass.end();
      const t0 = performance.now();
      await this.submit(e);
      await this.device.queue.onSubmittedWorkDone();
      out[p] = performance.now() - t0;
    }
    return out;
  }

  // ---------------------------------------------------------------- per-sample passes

  private setBatch(n: number, cap: number, flags: number, root: number): void {
    this.device.queue.writeBuffer(this.batUniform, 0, new Uint32Array([n, cap, flags, root]));
  }

  /** A conservative first guess of a chunk's GPU time (10 G edge-samples per second, x3 for the
   *  marked-flow pass), so the first wait of a new model never blocks long on a slow GPU. */
  private priorMs(m: Model, kind: ChunkKind, n: number): number {
    return ((kind === 'marked' ? 3 : 1) * m.cc.numEdges * n) / 1e7 + 2;
  }

  /** Reads the timestamp pairs of `passes` passes (work already finished; resolved into the
   *  staging buffer): per-pass times (`passTimes`), their sum and the span. */
  private async readTimestamps(passes: number): Promise<{ ms: number[]; sum: number; span: number }> {
    await this.queryStaging!.mapAsync(MAP_READ, 0, passes * 16);
    const t = new BigUint64Array(this.queryStaging!.getMappedRange(0, passes * 16).slice(0));
    this.queryStaging!.unmap();
    const { ms, span } = passTimes(t, passes);
    return { ms, sum: ms.reduce((a, b) => a + b, 0), span };
  }

  /**
   * Runs chunks over `count` samples. `feed(start, n)` uploads a chunk's pixels (or indices) and
   * returns the batch flags; `kind` picks the dispatches after the pixel kernel (forward; + backward
   * and flow accumulation; + backward and marked flows); `result` names the buffer whose first n
   * floats go back per sample. The first flows pass after a load tunes the kernels first (`tune`).
   * With naps on (napBeforeWaitMs > 0), each chunk is settled before the next, napping first: the
   * first chunk of a `kind` after a load naps max(napBeforeWaitMs, a conservative prior) and is
   * measured (timestamps when the device has them, else the wall clock); later ones nap 1.5x that.
   */
  private async chunked(count: number, indexed: boolean, feed: (start: number, n: number) => number, result: 'root' | 'out', kind: ChunkKind): Promise<Float64Array> {
    const m = this.circuitModel;
    const cap = m.cap;
    const out = new Float64Array(count);
    if (count === 0) return out;
    if (indexed && !m.pixelsIndexed) throw new Error('GPU engine: no dataset uploaded for this circuit (uploadDataset first)');
    if (kind === 'flows' && m.candidates) {
      const n0 = Math.min(cap, count);
      this.setBatch(n0, cap, feed(0, n0), m.cc.rootNode);
      await this.tune(m, n0, indexed);
    }
    const pixelDispatch = (indexed ? m.pixelsIndexed : m.pixelsBatch)!;
    const body = kind === 'forward' ? m.forward : [...m.forward, ...m.backward, ...(kind === 'flows' ? m.accumulate : m.marked)];
    // Staging: [count values][count offsets] (offsets only for log-likelihoods).
    this.ensureStaging(count * 8);
    const napping = this.napBeforeWaitMs > 0;
    const maxGroups = m.forward.length + m.backward.length + m.accumulate.length + m.marked.length + 1;
    if (this.timestamps || (napping && this.canTime)) this.ensureTimingBuffers(maxGroups);
    let pendingMs = 0;
    for (let start = 0; start < count; start += cap) {
      const n = Math.min(cap, count - start);
      const calibrate = napping && !m.chunkMs.has(kind);
      const timed = this.timestamps || (calibrate && this.canTime);
      const flags = feed(start, n);
      this.setBatch(n, cap, flags, m.cc.rootNode);
      const enc = this.device.createCommandEncoder({ label: `pc/chunk ${start}+${n}` });
      if (timed) this.timingLabels = [];
      this.encode(enc, [pixelDispatch, ...body], n, timed);
      if (result === 'root') {
        enc.copyBufferToBuffer(m.buffers.get('val')!, m.cc.rootNode * cap * 4, this.staging!, start * 4, n * 4);
        enc.copyBufferToBuffer(m.buffers.get('rmax')!, m.rootRegion * cap * 4, this.staging!, (count + start) * 4, n * 4);
      } else enc.copyBufferToBuffer(m.buffers.get('out')!, 0, this.staging!, start * 4, n * 4);
      const labels = timed && this.querySet ? this.timingLabels.length : 0;
      if (labels) {
        enc.resolveQuerySet(this.querySet!, 0, labels * 2, this.queryResolve!, 0);
        enc.copyBufferToBuffer(this.queryResolve!, 0, this.queryStaging!, 0, labels * 16);
        this.timingPending = this.timestamps;
      }
      const t0 = performance.now();
      await this.submit(enc);
      if (!napping) continue;
      if (calibrate) {
        // Settle the first chunk with a generous nap and measure it.
        await sleep(Math.max(this.napBeforeWaitMs, this.priorMs(m, kind, n)));
        await this.device.queue.onSubmittedWorkDone();
        let ms = performance.now() - t0;
        if (labels) {
          const { sum, span } = await this.readTimestamps(labels);
          if (Math.max(sum, span) > 0) ms = Math.max(sum, span);
        }
        m.chunkMs.set(kind, Math.max(ms, 0.01) / n);
        pendingMs = 0;
        continue;
      }
      pendingMs = m.chunkMs.get(kind)! * n;
      // Keep waits short on real GPUs: settle each chunk before the next, napping past it first.
      if (start + cap < count) {
        await sleep(1.5 * pendingMs + 1);
        await this.device.queue.onSubmittedWorkDone();
        pendingMs = 0;
      }
    }
    const data = new Float32Array(await this.readStaging(count * 8, napping ? (pendingMs > 0 ? 1.5 * pendingMs + 1 : 0.5) : 0));
    if (result === 'root') for (let k = 0; k < count; k++) out[k] = data[k] + data[count + k];
    else out.set(data.subarray(0, count));
    return out;
  }

  private batchFeed(batch: Batch): (start: number, n: number) => number {
    const m = this.circuitModel;
    const D = m.cc.numVars;
    if (batch.pixels.length < batch.count * D) throw new Error(`batch of ${batch.count} samples has ${batch.pixels.length} pixels, expected ${batch.count * D}`);
    return (start, n) => {
      this.write(m.buffers.get('data')!, batch.pixels.subarray(start * D, (start + n) * D));
      if (batch.missing) this.write(m.buffers.get('miss')!, batch.missing.subarray(start * D, (start + n) * D));
      return batch.missing ? 1 : 0;
    };
  }

  private indexFeed(indices: Int32Array): (start: number, n: number) => number {
    const m = this.circuitModel;
    const ds = this.dataset;
    if (!ds) throw new Error('GPU engine: uploadDataset before the indexed calls');
    for (let k = 0; k < indices.length; k++) if (indices[k] < 0 || indices[k] >= ds.count) throw new Error(`sample index ${indices[k]} outside the uploaded dataset of ${ds.count}`);
    return (start, n) => {
      this.write(m.buffers.get('idx')!, indices.subarray(start, start + n));
      return 2;
    };
  }

  logLikelihood(batch: Batch): Promise<Float64Array> {
    return this.op(async () => this.chunked(batch.count, false, this.batchFeed(batch), 'root', 'forward'));
  }

  accumulateFlows(batch: Batch): Promise<Float64Array> {
    return this.op(async () => this.chunked(batch.count, false, this.batchFeed(batch), 'root', 'flows'));
  }

  markedEdgeFlow(batch: Batch, marked: Uint8Array): Promise<Float64Array> {
    return this.op(async () => {
      const m = this.circuitModel;
      if (marked.length !== m.cc.numEdges) throw new Error(`marked has ${marked.length} entries, the circuit ${m.cc.numEdges} edges`);
      this.write(m.buffers.get('marked')!, Uint32Array.from(marked));
      return this.chunked(batch.count, false, this.batchFeed(batch), 'out', 'marked');
    });
  }

  /** Keeps a whole dataset on the GPU (row-major bytes, count x numVars) for the indexed calls. */
  uploadDataset(pixels: Uint8Array, count: number): Promise<void> {
    return this.op(async () => {
      const D = count > 0 ? Math.round(pixels.length / count) : 0;
      const bytes = count * D;
      const maxBind = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
      if (bytes > maxBind) {
        throw new GpuUnavailableError('limit', limitMessage('maxStorageBufferBindingSize', bytes, maxBind, `a resident dataset of ${count.toLocaleString('en-US')} samples x ${D} pixels`, `${Math.floor(maxBind / D).toLocaleString('en-US')} samples would fit; use the batch path instead`));
      }
      if (this.dataset) this.destroyBuffer(this.dataset.buffer);
      this.dataset = null;
      const buffer = await withErrorScopes(this.device, `a resident dataset of ${count} samples`, () => this.buffer('pc/dataset', bytes, STORAGE));
      this.write(buffer, pixels.subarray(0, bytes));
      this.dataset = { buffer, count, numVars: D, pixels };
      if (this.model) this.buildIndexedPixels(this.model);
    });
  }

  /** accumulateFlows over rows `indices` of the uploaded dataset. */
  accumulateFlowsIndexed(indices: Int32Array): Promise<Float64Array> {
    return this.op(async () => this.chunked(indices.length, true, this.indexFeed(indices), 'root', 'flows'));
  }

  /** logLikelihood over rows `indices` of the uploaded dataset. */
  logLikelihoodIndexed(indices: Int32Array): Promise<Float64Array> {
    return this.op(async () => this.chunked(indices.length, true, this.indexFeed(indices), 'root', 'forward'));
  }

  // ---------------------------------------------------------------- fused training

  /** Grows a fused-training buffer to at least `bytes` (kept across epochs and loads). */
  private ensureEpochBuffer(which: 'epochIdx' | 'epochBat', bytes: number): GPUBuffer {
    const cur = this[which];
    if (cur && this.sizes.get(cur)! >= align4(bytes)) return cur;
    this.destroyBuffer(cur);
    const b = this.buffer(`pc/${which}`, Math.max(align4(bytes), 1024), STORAGE);
    this[which] = b;
    return b;
  }

  /**
   * One epoch of mini-batch EM over rows `order` of the uploaded dataset, without per-batch
   * read-backs: per mini-batch of `batch` rows (in order), for each chunk: indices and batch uniform
   * copied on the GPU from epoch-sized tables -> pixels -> forward -> backward -> edge and input
   * flows -> the chunk's root values copied into an epoch-sized log-likelihood buffer; then EM with
   * `em` and cleared accumulators. Exactly the loop accumulateFlows(batch) + emStep(em) per batch
   * (the accumulators are cleared first, as resetFlows). Returns log p(x) per row, in `order` order.
   *
   * Waiting (Dawn on NVIDIA aborts on long blocking waits): the GPU time of one batch is calibrated
   * once per load (timestamp-query when the device has it, else wall clock; the first wait naps
   * max(napBeforeWaitMs, a conservative prior)); then batches are submitted in slices of about
   * `sliceMs` of GPU time (one submit each; the next slice is encoded while the GPU runs, and with
   * `slicesInFlight` 2 also submitted before the wait), and before each wait the engine naps past
   * the slice's expected time (napFactor x + 2 ms, 0.1 more before the last), so it never blocks
   * long on a busy GPU. Without a configured nap
   * (browsers, software adapters) it awaits each slice directly.
   * `onBatch(done, total)` is called as each batch is submitted.
   */
  trainEpochIndexed(order: Int32Array, batch: number, em: EmOptions, onBatch?: (done: number, total: number) => void): Promise<Float64Array> {
    return this.op(async () => {
      const m = this.circuitModel;
      const ds = this.dataset;
      if (!ds || !m.pixelsIndexed) throw new Error('GPU engine: uploadDataset (with this circuit\'s variables) before trainEpochIndexed');
      const count = order.length;
      const out = new Float64Array(count);
      if (count === 0) return out;
      for (let k = 0; k < count; k++) if (order[k] < 0 || order[k] >= ds.count) throw new Error(`sample index ${order[k]} outside the uploaded dataset of ${ds.count}`);
      batch = Math.max(1, Math.floor(batch));
      const cap = m.cap;
      // Chunks: a mini-batch larger than the chunk capacity spans several chunks (flows accumulate).
      const chunks: Array<{ start: number; n: number; last: boolean }> = [];
      const batchChunks: number[] = []; // first chunk of each batch
      for (let b0 = 0; b0 < count; b0 += batch) {
        const bn = Math.min(batch, count - b0);
        batchChunks.push(chunks.length);
        for (let c0 = 0; c0 < bn; c0 += cap) chunks.push({ start: b0 + c0, n: Math.min(cap, bn - c0), last: c0 + cap >= bn });
      }
      batchChunks.push(chunks.length);
      const batches = batchChunks.length - 1;
      const idxBuf = this.ensureEpochBuffer('epochIdx', count * 4);
      const batBuf = this.ensureEpochBuffer('epochBat', chunks.length * BAT_BYTES);
      this.write(idxBuf, order);
      const bat = new Uint32Array(chunks.length * 4);
      chunks.forEach((c, k) => bat.set([c.n, cap, 2, m.cc.rootNode], k * 4));
      this.write(batBuf, bat);
      if (m.candidates) {
        // Tuning on the first chunk (its indices and batch uniform written as a chunked pass would).
        this.write(m.buffers.get('idx')!, order.subarray(chunks[0].start, chunks[0].start + chunks[0].n));
        this.setBatch(chunks[0].n, cap, 2, m.cc.rootNode);
        await this.tune(m, chunks[0].n, true);
      }
      this.device.queue.writeBuffer(this.emUniform, 0, new Float32Array([em.step, em.pseudocount, 0, 0]));
      const staging = this.ensureStaging(count * 8);
      const body = [m.pixelsIndexed!, ...m.forward, ...m.backward, ...m.accumulate];
      const val = m.buffers.get('val')!;
      const rmax = m.buffers.get('rmax')!;
      const idx = m.buffers.get('idx')!;

      const encodeBatch = (bi: number, timed: boolean): GPUCommandEncoder => {
        const enc = this.device.createCommandEncoder({ label: `pc/train batch ${bi}` });
        if (bi === 0) {
          enc.clearBuffer(m.buffers.get('acc')!);
          enc.clearBuffer(m.buffers.get('hist')!);
        }
        for (let k = batchChunks[bi]; k < batchChunks[bi + 1]; k++) {
          const { start, n } = chunks[k];
          enc.copyBufferToBuffer(idxBuf, start * 4, idx, 0, n * 4);
          enc.copyBufferToBuffer(batBuf, k * BAT_BYTES, this.batUniform, 0, BAT_BYTES);
          this.encode(enc, body, n, timed);
          enc.copyBufferToBuffer(val, m.cc.rootNode * cap * 4, staging, start * 4, n * 4);
          enc.copyBufferToBuffer(rmax, m.rootRegion * cap * 4, staging, (count + start) * 4, n * 4);
        }
        this.encode(enc, m.em, 0, timed);
        enc.clearBuffer(m.buffers.get('acc')!);
        enc.clearBuffer(m.buffers.get('hist')!);
        return enc;
      };
      const batchSize = (bi: number) => chunks[batchChunks[bi + 1] - 1].start + chunks[batchChunks[bi + 1] - 1].n - chunks[batchChunks[bi]].start;
      const napping = this.napBeforeWaitMs > 0;
      // Measured on an H200 at K = 32 (docs/bench/README.md): small slices overlap the encoding of the
      // next slice with the GPU's work best (60 ms: 94-98k samples/s, 30: 98-106k, 15-20: 101-109k,
      // 8: 98-101k); margins of 1.05-1.1 never let Dawn block on a busy GPU there.
      const sliceMs = this.opts.sliceMs ?? 20;
      const napFactor = this.opts.napFactor ?? 1.1;
      let done = 0;
      let bi = 0;

      // Calibration: the first batch alone (once per load, or every epoch with per-layer timings).
      if (this.trainMsPerSample <= 0 || this.timestamps) {
        const n0 = batchSize(0);
        const groups = (batchChunks[1] - batchChunks[0]) * (body.length + 1) + m.em.length + 1;
        const timed = this.canTime && groups * 2 <= 4096; // a query set holds at most 4096 queries
        if (timed) {
          this.ensureTimingBuffers(groups);
          this.timingLabels = [];
        }
        const enc = encodeBatch(0, timed);
        const labels = timed ? this.timingLabels.slice() : [];
        if (timed && labels.length) {
          enc.resolveQuerySet(this.querySet!, 0, labels.length * 2, this.queryResolve!, 0);
          enc.copyBufferToBuffer(this.queryResolve!, 0, this.queryStaging!, 0, labels.length * 16);
        }
        const t0 = performance.now();
        await this.submit(enc);
        done += n0;
        onBatch?.(done, count);
        // A conservative prior (1e7 edge-samples per ms) keeps the first wait short on a slow GPU.
        const prior = this.trainMsPerSample > 0 ? 1.5 * this.trainMsPerSample * n0 : (m.cc.numEdges * n0) / 1e7 + 2;
        if (napping) await sleep(Math.max(this.napBeforeWaitMs, prior));
        await this.device.queue.onSubmittedWorkDone();
        let gpuMs = performance.now() - t0;
        if (timed && labels.length) {
          const { sum, span } = await this.readTimestamps(labels.length);
          // Timestamps can be quantised or zero on some platforms: keep the wall clock then.
          const ts = Math.max(sum, span);
          if (ts > 0) gpuMs = ts;
          this.trainBatchPassMs = sum;
          this.timingLabels = labels;
          this.timingPending = this.timestamps;
        }
        this.trainMsPerSample = Math.max(gpuMs, 0.01) / n0;
        this.trainBatchGpuMs = gpuMs * (Math.min(batch, count) / n0);
        bi = 1;
      }

      // Slices of about sliceMs of GPU time: one submit each; the next slice is encoded while the
      // GPU runs this one, then the engine naps past the slice's expected time and waits.
      const encodeSlice = (from: number) => {
        const bufs: GPUCommandBuffer[] = [];
        let expected = 0;
        let to = from;
        while (to < batches) {
          const ms = this.trainMsPerSample * batchSize(to);
          if (to > from && expected + ms > sliceMs) break;
          bufs.push(encodeBatch(to, false).finish());
          expected += ms;
          to++;
        }
        return { bufs, from, to, expected };
      };
      let next = bi < batches ? encodeSlice(bi) : null;
      const progress = (slice: { from: number; to: number }) => {
        for (let k = slice.from; k < slice.to; k++) {
          done += batchSize(k);
          onBatch?.(done, count);
        }
      };
      if ((this.opts.slicesInFlight ?? (napping ? 1 : 2)) === 2) {
        // Two slices in flight: slice k + 1 is queued before the engine waits for slice k, through
        // its marker (4 bytes copied into a read-back buffer after the slice; the map resolves once
        // slice k is done, while k + 1 keeps the GPU busy). With naps, the engine first sleeps until
        // slice k's expected end: napFactor x its GPU time (+ 2 ms) after it could start, the later
        // of its submit and the return of the previous wait (a bound that never runs early, so the
        // estimates do not drift over an epoch).
        while (this.sliceMarkers.length < 2) this.sliceMarkers.push(this.buffer(`pc/slice-marker ${this.sliceMarkers.length}`, 4, READBACK));
        const pending: Array<{ marker: GPUBuffer; submitted: number; expected: number }> = [];
        let slot = 0;
        let lastReturn = performance.now();
        while (next || pending.length > 0) {
          while (next && pending.length < 2) {
            const cur = next;
            const marker = this.sliceMarkers[slot];
            slot = 1 - slot;
            const enc = this.device.createCommandEncoder({ label: 'pc/slice marker' });
            enc.copyBufferToBuffer(idx, 0, marker, 0, 4);
            pending.push({ marker, submitted: performance.now(), expected: cur.expected });
            this.device.queue.submit([...cur.bufs, enc.finish()]);
            progress(cur);
            next = cur.to < batches ? encodeSlice(cur.to) : null;
          }
          const head = pending.shift()!;
          const anchor = Math.max(lastReturn, head.submitted);
          if (napping) {
            const left = anchor + head.expected * (next || pending.length > 0 ? napFactor : napFactor + 0.1) + 2 - performance.now();
            if (left > 0) await sleep(left);
          }
          const t1 = performance.now();
          await head.marker.mapAsync(MAP_READ, 0, 4);
          head.marker.unmap();
          lastReturn = performance.now();
          // Slower than calibrated: stretch the estimate, as below.
          if (napping && lastReturn - t1 > 1) this.trainMsPerSample *= Math.max(1, (lastReturn - anchor) / Math.max(head.expected, 0.01));
        }
      } else {
        // One slice in flight: submit, (nap,) wait, then the next.
        while (next) {
          const cur = next;
          const tSubmit = performance.now();
          this.device.queue.submit(cur.bufs);
          progress(cur);
          next = cur.to < batches ? encodeSlice(cur.to) : null;
          if (napping) {
            const napMs = cur.expected * (next ? napFactor : napFactor + 0.1) + 2;
            const left = napMs - (performance.now() - tSubmit);
            if (left > 0) await sleep(left);
            const t1 = performance.now();
            await this.device.queue.onSubmittedWorkDone();
            const waited = performance.now() - t1;
            // The GPU was slower than calibrated: stretch the estimate (by the slice's submit-to-done
            // time over its expected time, an upper bound) so later naps cover it.
            if (waited > 1) this.trainMsPerSample *= Math.max(1, (performance.now() - tSubmit) / Math.max(cur.expected, 0.01));
          } else await this.device.queue.onSubmittedWorkDone();
        }
      }
      await staging.mapAsync(MAP_READ, 0, align4(count * 8));
      const data = new Float32Array(staging.getMappedRange(0, align4(count * 8)).slice(0));
      staging.unmap();
      for (let k = 0; k < count; k++) out[k] = data[k] + data[count + k];
      return out;
    });
  }

  // ---------------------------------------------------------------- flows, EM, parameters

  private async readBuffers(parts: Array<[string, number]>): Promise<Float32Array[]> {
    const m = this.circuitModel;
    let total = 0;
    for (const [, n] of parts) total += n * 4;
    this.ensureStaging(total);
    const enc = this.device.createCommandEncoder({ label: 'pc/read-back' });
    let off = 0;
    for (const [name, n] of parts) {
      if (n > 0) enc.copyBufferToBuffer(m.buffers.get(name)!, 0, this.staging!, off, n * 4);
      off += n * 4;
    }
    await this.submit(enc);
    const data = await this.readStaging(total);
    const out: Float32Array[] = [];
    off = 0;
    for (const [, n] of parts) {
      out.push(new Float32Array(data, off, n));
      off += n * 4;
    }
    return out;
  }

  edgeFlows(): Promise<Float64Array> {
    return this.op(async () => Float64Array.from((await this.readBuffers([['acc', this.circuitModel.cc.numEdges]]))[0]));
  }

  inputFlows(): Promise<Float64Array> {
    return this.op(async () => {
      const cc = this.circuitModel.cc;
      return Float64Array.from((await this.readBuffers([['hist', cc.numInputs * cc.numValues]]))[0]);
    });
  }

  resetFlows(): void {
    // Synchronous in the interface: queue the clear behind any running call; a failure is reported
    // by the next call.
    void this.op(async () => {
      const m = this.circuitModel;
      const enc = this.device.createCommandEncoder({ label: 'pc/reset-flows' });
      enc.clearBuffer(m.buffers.get('acc')!);
      enc.clearBuffer(m.buffers.get('hist')!);
      await this.submit(enc);
    }).catch((e) => {
      this.deferred ??= e;
    });
  }

  emStep(opts: EmOptions): Promise<void> {
    return this.op(async () => {
      const m = this.circuitModel;
      this.device.queue.writeBuffer(this.emUniform, 0, new Float32Array([opts.step, opts.pseudocount, 0, 0]));
      const enc = this.device.createCommandEncoder({ label: 'pc/em' });
      this.encode(enc, m.em, 0, false);
      enc.clearBuffer(m.buffers.get('acc')!);
      enc.clearBuffer(m.buffers.get('hist')!);
      await this.submit(enc);
    });
  }

  syncParams(): Promise<void> {
    return this.op(async () => {
      const cc = this.circuitModel.cc;
      const [lw, lp] = await this.readBuffers([
        ['logWeight', cc.numEdges],
        ['logProb', cc.numInputs * cc.numValues],
      ]);
      cc.edgeLogWeights.set(lw);
      cc.inputLogProbs.set(lp);
    });
  }

  /** Turns per-pass timings on or off (only where the device has timestamp-query); benchmarks time
   *  a calibration pass with them on and the wall clock with them off. */
  setTimings(on: boolean): void {
    this.timestamps = on && this.canTime;
  }

  /** GPU time per pass group of the last timed chunk (empty without timestamp-query / `timings`). */
  layerTimings(): Promise<LayerTiming[]> {
    return this.op(async () => {
      if (!this.timestamps || !this.timingPending || !this.queryStaging) return [];
      const labels = this.timingLabels.slice();
      await this.nap();
      const { ms } = await this.readTimestamps(labels.length);
      return labels.map((label, i) => ({ label, ms: ms[i] }));
    });
  }

  /** Waits for all submitted work (tests, benchmarks). */
  finish(): Promise<void> {
    return this.op(async () => {
      await this.nap();
      await this.device.queue.onSubmittedWorkDone();
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.dropModel();
    if (this.dataset) this.destroyBuffer(this.dataset.buffer);
    this.dataset = null;
    this.destroyBuffer(this.staging);
    this.destroyBuffer(this.epochIdx);
    this.destroyBuffer(this.epochBat);
    for (const b of this.sliceMarkers) this.destroyBuffer(b);
    this.destroyBuffer(this.queryResolve);
    this.destroyBuffer(this.queryStaging);
    this.querySet?.destroy();
    this.destroyBuffer(this.batUniform);
    this.destroyBuffer(this.emUniform);
    this.disposed = true;
    this.device.destroy();
  }
}

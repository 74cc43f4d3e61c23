// The GPU engine's options, kernel-family choices and the constants its planning rules use
// (workgroup sizes, tile bounds, dense thresholds). Read by plan.ts (the pure rules), dispatches.ts,
// tuning.ts, fused-epoch.ts and the engine class; docs/architecture.md, "Engines", and
// shaders/README.md ("Kernel choice") describe the families.
import type { GpuDeviceOptions } from './device.ts';

export type SumKernelChoice = 'auto' | 'tiled' | 'gather' | 'gemm';
/** Per height of the circuit: the layered kernels, or one forward / one backward kernel per height. */
export const HEIGHT_KERNEL_CHOICES = ['auto', 'layered', 'height'] as const;
export type HeightKernelChoice = (typeof HEIGHT_KERNEL_CHOICES)[number];

/** The kernel family a loaded circuit runs in each pass (what the 'auto' options resolve to, by the
 *  rules in plan.ts or measured by tuning.ts):
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
export const KERNEL_PASSES: readonly KernelPass[] = ['forward', 'backward', 'edges', 'inputs'];

/** Per pass, the families tuning times (the rule's choice first). */
export type KernelCandidates = { [P in KernelPass]: Array<KernelChoice[P]> };

/** What tuning measured on a loaded circuit: per pass, the GPU ms of one chunk of `samples` with
 *  each candidate (best of the timed runs), and the choice (tuning.ts `pickFastest`), which the
 *  circuit now runs. */
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
export function choiceText(c: KernelChoice): string {
  return KERNEL_PASSES.map((p) => `${p} ${c[p]}`).join(', ');
}

export interface DenseThresholds {
  sum?: number;
  flow?: number;
  edge?: number;
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
   *  and keep the fastest per pass by the margin rule of tuning.ts (`kernelTuning` reports it).
   *  Costs a few batches' time per load and makes the choice, hence the last bits of f32 results,
   *  depend on the GPU's timing; options set to a kernel are not tuned. Default: on real GPUs, off
   *  on software adapters (there the rules know the answer: barrier-free kernels, and trials of the
   *  barrier kernels are slow). */
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

/** The options the planning rules read, resolved (the engine's settable fields included). */
export interface PlanSettings {
  cpuEmulated: boolean;
  tuneKernels: boolean;
  denseThresholds: Required<DenseThresholds>;
  sumKernel: SumKernelChoice;
  edgeKernel: NonNullable<GpuEngineOptions['edgeKernel']>;
  flowKernel: NonNullable<GpuEngineOptions['flowKernel']>;
  regionMax: NonNullable<GpuEngineOptions['regionMax']>;
  forwardKernel: HeightKernelChoice;
  backwardKernel: HeightKernelChoice;
  inputKernel: NonNullable<GpuEngineOptions['inputKernel']>;
  minDenseMeanRows: number;
  /** Rows (or products) per workgroup of the tiled kernels; undefined: about 4 outputs per thread. */
  tileRows: number | undefined;
}

export interface LayerTiming {
  label: string;
  ms: number;
}

/** Threads per workgroup of most kernels. */
export const WG = 256;
/** Lanes per edge of edge_flow.wgsl:main. */
export const EDGE_LANES = 32;
/** Sample tiles of the tiled and per-height kernels: powers of two in [MIN_TILE, MAX_TILE]
 *  ('auto' takes the tiled sum kernel only from MIN_TILE samples). */
export const MAX_TILE = 64;
export const MIN_TILE = 4;
/** Samples per workgroup of the reduce region-max kernel. */
export const RM_TS = 32;

export const DEFAULT_DENSE: Required<DenseThresholds> = { sum: 0.25, flow: 0.2, edge: 0.05 };
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
export const DENSE_ALWAYS = 0.9;
export const MIN_DENSE_MEAN_ROWS = 48;

/** Resolves the options (and the engine's settable fields) into what the rules read. */
export function planSettings(
  opts: GpuEngineOptions,
  fields: Pick<PlanSettings, 'cpuEmulated' | 'tuneKernels' | 'denseThresholds' | 'forwardKernel' | 'backwardKernel' | 'inputKernel'>,
): PlanSettings {
  return {
    ...fields,
    sumKernel: opts.sumKernel ?? 'auto',
    edgeKernel: opts.edgeKernel ?? 'auto',
    flowKernel: opts.flowKernel ?? 'auto',
    regionMax: opts.regionMax ?? 'auto',
    minDenseMeanRows: opts.minDenseMeanRows ?? MIN_DENSE_MEAN_ROWS,
    tileRows: opts.tileRows,
  };
}

// The WebGPU engine: the same operations as the CPU engine (src/engines/cpu/evaluator.ts is the
// oracle and documents the math) as WGSL compute kernels (shaders/*.wgsl), driven by this scheduler.
// Pure: no DOM, no Node APIs; the platform hands in a GPU object and the WGSL sources. This class
// holds `load`, the chunk loop and the Engine methods; the rest lives next to it:
//   options.ts       options, kernel families, thresholds;
//   plan.ts          the pure planning rules (capacity, dense mirrors, kernel choice, every dispatch);
//   buffers.ts       buffer pool, per-load buffers, upload, parameter writes, the region table;
//   dispatches.ts    pipelines and bind groups for the plan, encoding;
//   tuning.ts        timestamp queries and kernel tuning (with its margin rule);
//   fused-epoch.ts   fused training: slices, naps, slices in flight.
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
// Kernels per layer (`kernelPlan`, plan.ts): sum layers whose blocks are dense enough get a
// zero-padded dense mirror of their weights (wdense, refreshed after each EM step) and run as tiled
// GEMMs (forward s = W e, product flows F = e * W^T g, edge flows theta * (G E^T)); sparser layers
// keep the CSR kernels (staged-tile sum, gather product flows, 32-lane edge reductions). Software
// adapters keep the barrier-free kernels under 'auto'. Or a whole height runs as one forward and one
// backward kernel (region_forward.wgsl, region_backward.wgsl). See shaders/README.md.
//
// Kernel tuning (`tuneKernels`, on by default on real GPUs; tuning.ts): the rules are a starting
// point; on the first flows pass after each load the engine times every candidate family of each
// pass ('KernelChoice': forward csr / dense / height, backward the same, edge flows csr / dense,
// inputs node / workgroup) on that chunk, with timestamp-query, and keeps the fastest per pass when
// it beats the rule's by more than TUNE_MARGIN (`kernelTuning`), so each GPU and each circuit
// (unpruned, pruned, grown) gets its own choice.

import type { CompiledCircuit } from '../../circuit/compile.ts';
import type { EmOptions } from '../em.ts';
import type { Batch, Engine } from '../engine.ts';
import { BAT_BYTES, BufferPool, MAP_READ, READBACK, STORAGE, UNIFORM, align4, allocateBuffers, uploadCircuit } from './buffers.ts';
import { GpuUnavailableError, limitMessage, lostMessage, requestGpuDevice, withErrorScopes, type EngineLimits, type GpuContext } from './device.ts';
import { buildDispatches, buildIndexedPixels, encode, layerSlots, type ChunkKind, type DispatchContext, type Model, type ResidentData } from './dispatches.ts';
import { checkIndices, trainEpoch, type FusedHost, type FusedState } from './fused-epoch.ts';
import { KERNELS, checkShaderSources, moduleSource, parseBindings, type KernelName } from './kernels.ts';
import {
  DEFAULT_DENSE,
  choiceText,
  planSettings,
  type DenseThresholds,
  type GpuEngineOptions,
  type HeightKernelChoice,
  type KernelChoice,
  type KernelTuning,
  type LayerTiming,
  type PlanSettings,
} from './options.ts';
import { maxBinding, planCapacity, planDense, ruleChoice, tuneCandidates, type PlanStep } from './plan.ts';
import { PassTimer, tune, type TuningHost } from './tuning.ts';

export { HEIGHT_KERNEL_CHOICES } from './options.ts';
export type { DenseThresholds, GpuEngineOptions, HeightKernelChoice, KernelChoice, KernelPass, KernelTuning, LayerTiming, SumKernelChoice } from './options.ts';
export type { PlanStep } from './plan.ts';
export { passTimes } from './tuning.ts';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
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
  private readonly pool: BufferPool;
  private readonly batUniform: GPUBuffer;
  private readonly emUniform: GPUBuffer;
  private staging: GPUBuffer | null = null;
  private dataset: (ResidentData & { pixels: Uint8Array }) | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private lostText: string | null = null;
  private uncaptured: string | null = null;
  private disposed = false;
  private firstSubmit = true;
  private timestamps: boolean;
  /** Timestamp queries (the device has timestamp-query whenever the adapter offers it: calibrates
   *  the fused training path even when per-layer `timings` are off). */
  private readonly timer: PassTimer;
  private readonly fused: FusedState = { msPerSample: 0, batchGpuMs: 0, epochIdx: null, epochBat: null, markers: [] };
  /** Densities from which 'auto' picks the dense kernels (takes effect at the next load). */
  denseThresholds: Required<DenseThresholds>;
  /** The forward, backward and input kernel choices (options of the same names; take effect at the next load:
   *  the device check switches them to time each on one trained circuit). */
  forwardKernel: HeightKernelChoice;
  backwardKernel: HeightKernelChoice;
  inputKernel: NonNullable<GpuEngineOptions['inputKernel']>;
  /** Whether the next loads tune their 'auto' kernel choices (option `tuneKernels`). */
  tuneKernels: boolean;
  /** Sleep before each wait on the GPU (settable: benchmarks calibrate it from a measured submit). */
  napBeforeWaitMs: number;
  /** A software adapter (SwiftShader): 'auto' kernel choices avoid workgroup barriers there. */
  readonly cpuEmulated: boolean;
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
    this.pool = new BufferPool(ctx.device);
    this.timer = new PassTimer(ctx.device, this.pool, ctx.timestamps);
    const dt = opts.denseThreshold;
    this.denseThresholds = typeof dt === 'number' ? { sum: dt, flow: dt, edge: dt } : { ...DEFAULT_DENSE, ...dt };
    this.napBeforeWaitMs = opts.napBeforeWaitMs ?? 0;
    this.forwardKernel = opts.forwardKernel ?? 'auto';
    this.backwardKernel = opts.backwardKernel ?? 'auto';
    this.inputKernel = opts.inputKernel ?? 'auto';
    const info = ctx.adapter.info;
    this.cpuEmulated = opts.emulated ?? /swiftshader|llvmpipe|lavapipe/i.test(`${info?.architecture} ${info?.description} ${info?.device}`);
    this.tuneKernels = opts.tuneKernels ?? !this.cpuEmulated;
    for (const [name, src] of Object.entries(opts.shaders)) this.bindings.set(name, parseBindings(src));
    this.device.lost.then((i) => {
      if (!this.disposed) this.lostText = lostMessage(i);
    });
    this.device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.uncaptured ??= ev.error.message.split('\n')[0];
    };
    this.batUniform = this.pool.buffer('pc/batch-uniform', BAT_BYTES, UNIFORM);
    this.emUniform = this.pool.buffer('pc/em-uniform', 16, UNIFORM);
  }

  // ---------------------------------------------------------------- bookkeeping

  /** Bytes of GPU buffers this engine holds now (for leak checks across loads). */
  liveBytes(): number {
    return this.pool.live;
  }

  /** Samples per chunk of the loaded model. */
  get chunk(): number {
    return this.circuitModel.cap;
  }

  /** Every kernel chosen for the forward, backward, edge-flow and input-flow passes, in order
   *  (plan.ts PlanStep: pass, kernel, heights, tile, GEMM shape, edge range; `stepText` in words). */
  get kernelPlan(): readonly PlanStep[] {
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

  /** GPU ms of the last calibrated full batch of the fused training path: timestamp span of the
   *  batch (first pass start to last pass end), or the wall clock without timestamp-query. */
  get trainBatchGpuMs(): number {
    return this.fused.batchGpuMs;
  }

  /** True once the device was lost or destroyed. */
  get lost(): boolean {
    return this.lostText !== null;
  }

  private get circuitModel(): Model {
    if (!this.model) throw new Error('GPU engine used before load');
    return this.model;
  }

  /** The options the planning rules read, with the settable fields as they are now. */
  private settings(): PlanSettings {
    const { cpuEmulated, tuneKernels, denseThresholds, forwardKernel, backwardKernel, inputKernel } = this;
    return planSettings(this.opts, { cpuEmulated, tuneKernels, denseThresholds, forwardKernel, backwardKernel, inputKernel });
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

  private validationError(): GpuUnavailableError {
    const what = this.uncaptured!.replace(/\.$/, '');
    return new GpuUnavailableError('validation', `WebGPU reported an error (${what}): this is an engine bug; use the CPU engine and report it.`);
  }

  private check(): void {
    if (this.disposed) throw new Error('GPU engine used after dispose');
    if (this.lostText) throw new GpuUnavailableError('device-lost', this.lostText);
    if (this.uncaptured) throw this.validationError();
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
    if (this.uncaptured) return this.validationError();
    return e;
  }

  private async nap(): Promise<void> {
    const ms = this.napBeforeWaitMs;
    if (ms > 0) await sleep(ms);
  }

  // ---------------------------------------------------------------- pipelines and helpers' views

  private pipeline(kernel: KernelName, constants: Record<string, number>): GPUComputePipeline {
    const spec = KERNELS[kernel];
    const key = `${spec.shader}:${spec.entry}:${JSON.stringify(constants)}`;
    let p = this.pipelines.get(key);
    if (p) return p;
    let module = this.modules.get(spec.shader);
    if (!module) {
      // shaders/common.wgsl (shared structs and helpers) and the file's preludes go in front: WGSL
      // has no includes (kernels.ts moduleSource).
      module = this.device.createShaderModule({ label: `pc/${spec.shader}.wgsl`, code: moduleSource(this.opts.shaders, spec.shader) });
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

  private dispatchContext(): DispatchContext {
    return {
      device: this.device,
      limits: this.limits,
      settings: this.settings(),
      batUniform: this.batUniform,
      emUniform: this.emUniform,
      pipeline: (k, c) => this.pipeline(k, c),
      bindings: this.bindings,
    };
  }

  private tuningHost(): TuningHost {
    return {
      device: this.device,
      limits: this.limits,
      timer: this.timer,
      napBeforeWaitMs: this.napBeforeWaitMs,
      rebuild: (m) => this.rebuild(m),
      submit: (enc) => this.submit(enc),
    };
  }

  private fusedHost(): FusedHost {
    return {
      device: this.device,
      limits: this.limits,
      pool: this.pool,
      timer: this.timer,
      batUniform: this.batUniform,
      emUniform: this.emUniform,
      opts: this.opts,
      napBeforeWaitMs: this.napBeforeWaitMs,
      timestamps: this.timestamps,
      fused: this.fused,
      submit: (enc) => this.submit(enc),
      tune: (m, n, indexed) => tune(this.tuningHost(), m, n, indexed),
      setBatch: (n, cap, flags, root) => this.setBatch(n, cap, flags, root),
      ensureStaging: (bytes) => this.ensureStaging(bytes),
    };
  }

  // ---------------------------------------------------------------- load

  async load(cc: CompiledCircuit): Promise<void> {
    return this.op(async () => {
      this.dropModel();
      const cap = planCapacity(cc, this.limits, this.opts.maxChunk ?? 512);
      const what = `the buffers of a circuit with ${cc.numNodes.toLocaleString('en-US')} nodes x ${cap} samples`;
      const model = await withErrorScopes(this.device, what, () => this.allocate(cc, cap));
      this.model = model;
      model.candidates = tuneCandidates(model.dense, model.choice, this.settings());
      this.fused.msPerSample = 0;
      uploadCircuit(this.pool, model.buffers, cc, model.dense);
      await this.rebuild(model);
      this.firstSubmit = true;
    });
  }

  private dropModel(): void {
    if (!this.model) return;
    for (const b of this.model.buffers.values()) this.pool.destroy(b);
    this.pool.destroy(this.model.layerUniform);
    this.model = null;
  }

  private allocate(cc: CompiledCircuit, cap: number): Model {
    const s = this.settings();
    const dense = planDense(cc, this.limits, s);
    const buffers = allocateBuffers(this.pool, cc, cap, dense);
    const slots = layerSlots(cc);
    const slotStride = Math.max(256, this.device.limits.minUniformBufferOffsetAlignment);
    const layerUniform = this.pool.buffer('pc/layer-uniforms', slots * slotStride, UNIFORM);
    const rootRegion = cc.regions.findIndex((r) => r.sumStart <= cc.rootNode && cc.rootNode < r.sumStart + r.rows);
    return {
      cc,
      cap,
      rootRegion,
      buffers,
      pixelsBatch: null as unknown as Model['pixelsBatch'],
      pixelsIndexed: null,
      forward: [],
      backward: [],
      accumulate: [],
      marked: [],
      em: [],
      layerUniform,
      layerSlots: slots,
      slotStride,
      kernelPlan: [],
      dense,
      chunkMs: new Map(),
      choice: ruleChoice(dense, s),
      candidates: null,
      tuning: null,
    };
  }

  /** (Re)builds the dispatch lists for `m.choice`. */
  private async rebuild(m: Model): Promise<void> {
    await withErrorScopes(this.device, 'the compute pipelines', () => buildDispatches(this.dispatchContext(), m, this.dataset));
  }

  // ---------------------------------------------------------------- submits and read-backs

  private ensureStaging(bytes: number): GPUBuffer {
    const need = align4(bytes);
    if (!this.staging || this.pool.size(this.staging)! < need) {
      this.pool.destroy(this.staging);
      this.staging = this.pool.buffer('pc/readback', Math.max(need, 4096), READBACK);
    }
    return this.staging;
  }

  /** Submits; the first submit after a load runs inside a validation error scope. */
  private async submit(enc: GPUCommandEncoder): Promise<void> {
    if (this.firstSubmit) {
      this.firstSubmit = false;
      this.device.pushErrorScope('validation');
      this.device.queue.submit([enc.finish()]);
      const err = await this.device.popErrorScope();
      if (err) {
        const what = err.message.split('\n')[0].trim().replace(/\.$/, '');
        const msg = `WebGPU rejected the engine's first batch (${what}): this is an engine bug; use the CPU engine and report it.`;
        throw new GpuUnavailableError('validation', msg);
      }
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

  // ---------------------------------------------------------------- per-sample passes

  private setBatch(n: number, cap: number, flags: number, root: number): void {
    this.device.queue.writeBuffer(this.batUniform, 0, new Uint32Array([n, cap, flags, root]));
  }

  /** A conservative first guess of a chunk's GPU time (10 G edge-samples per second, x3 for the
   *  marked-flow pass), so the first wait of a new model never blocks long on a slow GPU. */
  private priorMs(m: Model, kind: ChunkKind, n: number): number {
    return ((kind === 'marked' ? 3 : 1) * m.cc.numEdges * n) / 1e7 + 2;
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
  private async chunked(
    count: number,
    indexed: boolean,
    feed: (start: number, n: number) => number,
    result: 'root' | 'out',
    kind: ChunkKind,
  ): Promise<Float64Array> {
    const m = this.circuitModel;
    const cap = m.cap;
    const timer = this.timer;
    const out = new Float64Array(count);
    if (count === 0) return out;
    if (indexed && !m.pixelsIndexed) throw new Error('GPU engine: no dataset uploaded for this circuit (uploadDataset first)');
    if (kind === 'flows' && m.candidates) {
      const n0 = Math.min(cap, count);
      this.setBatch(n0, cap, feed(0, n0), m.cc.rootNode);
      await tune(this.tuningHost(), m, n0, indexed);
    }
    const pixelDispatch = (indexed ? m.pixelsIndexed : m.pixelsBatch)!;
    const body = kind === 'forward' ? m.forward : [...m.forward, ...m.backward, ...(kind === 'flows' ? m.accumulate : m.marked)];
    // Staging: [count values][count offsets] (offsets only for log-likelihoods).
    this.ensureStaging(count * 8);
    const napping = this.napBeforeWaitMs > 0;
    const maxGroups = m.forward.length + m.backward.length + m.accumulate.length + m.marked.length + 1;
    if (this.timestamps || (napping && timer.canTime)) timer.ensure(maxGroups);
    let pendingMs = 0;
    for (let start = 0; start < count; start += cap) {
      const n = Math.min(cap, count - start);
      const calibrate = napping && !m.chunkMs.has(kind);
      const timed = this.timestamps || (calibrate && timer.canTime);
      const flags = feed(start, n);
      this.setBatch(n, cap, flags, m.cc.rootNode);
      const enc = this.device.createCommandEncoder({ label: `pc/chunk ${start}+${n}` });
      if (timed) timer.labels = [];
      encode(enc, [pixelDispatch, ...body], n, this.limits, timed ? timer : null);
      if (result === 'root') {
        enc.copyBufferToBuffer(m.buffers.get('val')!, m.cc.rootNode * cap * 4, this.staging!, start * 4, n * 4);
        enc.copyBufferToBuffer(m.buffers.get('rmax')!, m.rootRegion * cap * 4, this.staging!, (count + start) * 4, n * 4);
      } else enc.copyBufferToBuffer(m.buffers.get('out')!, 0, this.staging!, start * 4, n * 4);
      const labels = timed && timer.querySet ? timer.labels.length : 0;
      if (labels) {
        timer.resolveInto(enc, labels);
        timer.pending = this.timestamps;
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
          const { sum, span } = await timer.read(labels);
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
    if (batch.pixels.length < batch.count * D) {
      throw new Error(`batch of ${batch.count} samples has ${batch.pixels.length} pixels, expected ${batch.count * D}`);
    }
    return (start, n) => {
      this.pool.write(m.buffers.get('data')!, batch.pixels.subarray(start * D, (start + n) * D));
      if (batch.missing) this.pool.write(m.buffers.get('miss')!, batch.missing.subarray(start * D, (start + n) * D));
      return batch.missing ? 1 : 0;
    };
  }

  private indexFeed(indices: Int32Array): (start: number, n: number) => number {
    const m = this.circuitModel;
    const ds = this.dataset;
    if (!ds) throw new Error('GPU engine: uploadDataset before the indexed calls');
    checkIndices(indices, ds.count);
    return (start, n) => {
      this.pool.write(m.buffers.get('idx')!, indices.subarray(start, start + n));
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
      this.pool.write(m.buffers.get('marked')!, Uint32Array.from(marked));
      return this.chunked(batch.count, false, this.batchFeed(batch), 'out', 'marked');
    });
  }

  /** Keeps a whole dataset on the GPU (row-major bytes, count x numVars) for the indexed calls. */
  uploadDataset(pixels: Uint8Array, count: number): Promise<void> {
    return this.op(async () => {
      const D = count > 0 ? Math.round(pixels.length / count) : 0;
      const bytes = count * D;
      const maxBind = maxBinding(this.limits).bytes;
      if (bytes > maxBind) {
        const what = `a resident dataset of ${count.toLocaleString('en-US')} samples x ${D} pixels`;
        const fits = `${Math.floor(maxBind / D).toLocaleString('en-US')} samples would fit; use the batch path instead`;
        throw new GpuUnavailableError('limit', limitMessage('maxStorageBufferBindingSize', bytes, maxBind, what, fits));
      }
      if (this.dataset) this.pool.destroy(this.dataset.buffer);
      this.dataset = null;
      const buffer = await withErrorScopes(this.device, `a resident dataset of ${count} samples`, () => this.pool.buffer('pc/dataset', bytes, STORAGE));
      this.pool.write(buffer, pixels.subarray(0, bytes));
      this.dataset = { buffer, count, numVars: D, pixels };
      if (this.model) buildIndexedPixels(this.dispatchContext(), this.model, this.dataset);
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
   * long on a busy GPU. Without a configured nap (browsers, software adapters) it awaits each slice
   * directly. `onBatch(done, total)` is called as each batch is submitted. (fused-epoch.ts)
   */
  trainEpochIndexed(order: Int32Array, batch: number, em: EmOptions, onBatch?: (done: number, total: number) => void): Promise<Float64Array> {
    return this.op(async () => {
      const m = this.circuitModel;
      const ds = this.dataset;
      if (!ds || !m.pixelsIndexed) throw new Error("GPU engine: uploadDataset (with this circuit's variables) before trainEpochIndexed");
      return trainEpoch(this.fusedHost(), m, ds, order, batch, em, onBatch);
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
      encode(enc, m.em, 0, this.limits, null);
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
    this.timestamps = on && this.timer.canTime;
  }

  /** GPU time per pass group of the last timed chunk (empty without timestamp-query / `timings`). */
  layerTimings(): Promise<LayerTiming[]> {
    return this.op(async () => {
      if (!this.timestamps || !this.timer.pending || !this.timer.staging) return [];
      const labels = this.timer.labels.slice();
      await this.nap();
      const { ms } = await this.timer.read(labels.length);
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
    if (this.dataset) this.pool.destroy(this.dataset.buffer);
    this.dataset = null;
    this.pool.destroy(this.staging);
    this.pool.destroy(this.fused.epochIdx);
    this.pool.destroy(this.fused.epochBat);
    for (const b of this.fused.markers) this.pool.destroy(b);
    this.timer.dispose();
    this.pool.destroy(this.batUniform);
    this.pool.destroy(this.emUniform);
    this.disposed = true;
    this.device.destroy();
  }
}

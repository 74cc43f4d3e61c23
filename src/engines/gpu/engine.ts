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
// Buffers per load: val (local log values), ex (linear values relative to the region max: e_i for
// products, s_j for sums), flow (F for products, g = F / s for sums), rmax (O_r per region and
// sample), pix (variable-major pixel codes); parameters weight (theta, linear), logWeight, logProb;
// accumulators acc (edges) and hist (input values); structure arrays as in CompiledCircuit.

import type { CompiledCircuit } from '../../circuit/compile.ts';
import type { EmOptions } from '../../training/em.ts';
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

export type SumKernelChoice = 'auto' | 'tiled' | 'gather';

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
  edgeKernel?: 'auto' | 'lanes' | 'per-edge';
  /** Sleep this long before waiting on the GPU (Dawn on NVIDIA aborts on long blocking waits). */
  napBeforeWaitMs?: number;
  /** Per-layer timings with timestamp-query, when the adapter has it (`layerTimings()`). */
  timings?: boolean;
}

export interface LayerTiming {
  label: string;
  ms: number;
}

const WG = 256;
const EDGE_LANES = 32;
const MAX_TILE = 64;
const MIN_TILE = 4;
const BAT_BYTES = 16;
const LAYER_BYTES = 32;
const STORAGE = 0x0080 | 0x0008 | 0x0004; // STORAGE | COPY_DST | COPY_SRC (GPUBufferUsage, absent in some globals)
const UNIFORM = 0x0040 | 0x0008; // UNIFORM | COPY_DST
const READBACK = 0x0001 | 0x0008; // MAP_READ | COPY_DST
const QUERY_RESOLVE = 0x0200 | 0x0004; // QUERY_RESOLVE | COPY_SRC
const MAP_READ = 0x0001;

type Work = (n: number) => number;

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

/** Largest K (latent states per variable) of a compiled circuit. */
function latentK(cc: CompiledCircuit): number {
  let k = 1;
  for (const r of cc.regions) k = Math.max(k, r.size);
  return k;
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
  private readonly timestamps: boolean;
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
    const ctx = await requestGpuDevice(gpu, { ...opts, timestamps: opts.timings });
    return new GpuEngine(ctx, opts);
  }

  constructor(ctx: GpuContext, opts: GpuEngineOptions) {
    checkShaderSources(opts.shaders);
    this.opts = opts;
    this.device = ctx.device;
    this.limits = ctx.limits;
    this.adapter = ctx.adapterName;
    this.timestamps = ctx.timestamps && !!opts.timings;
    this.napBeforeWaitMs = opts.napBeforeWaitMs ?? 0;
    this.cpuEmulated = /swiftshader|llvmpipe|lavapipe/i.test(`${ctx.adapter.info?.architecture} ${ctx.adapter.info?.description} ${ctx.adapter.info?.device}`);
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

  /** The sum-forward kernel chosen for each sum layer ("tiled T=16", "gather"). */
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
      module = this.device.createShaderModule({ label: `pc/${spec.shader}.wgsl`, code: this.opts.shaders[spec.shader] });
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
    const K = latentK(cc);
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
      this.upload(model);
      await withErrorScopes(this.device, 'the compute pipelines', () => this.buildDispatches(model));
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
    // Dispatch count: pixels x2, per height 3 forward + 2 backward, edge + hist, marked x2, EM x2.
    const heights = cc.layers.length;
    const slots = 2 + heights * 3 + 2 + 2 + 2 + 4;
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
    this.writeParams(m);
  }

  private writeParams(m: Model): void {
    const cc = m.cc;
    this.write(m.buffers.get('weight')!, Float32Array.from(cc.edgeLogWeights, Math.exp));
    this.write(m.buffers.get('logWeight')!, Float32Array.from(cc.edgeLogWeights));
    this.write(m.buffers.get('logProb')!, Float32Array.from(cc.inputLogProbs));
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
    for (let li = 1; li < cc.layers.length; li++) {
      const l = cc.layers[li];
      const h = cc.regions[l.regionStart].height;
      const nRegions = l.regionEnd - l.regionStart;
      if (l.kind === 'product') {
        const count = l.nodeEnd - l.nodeStart;
        m.forward.push(make('product', `product h=${h}`, `forward h=${h}`, [l.nodeStart, count, cc.numInputs, cc.numValues], perSample(count)));
        m.forward.push(make('regionMax', `region max h=${h}`, `forward h=${h}`, [l.regionStart, nRegions], perSample(nRegions)));
        continue;
      }
      let maxSize = 1;
      for (let k = l.regionStart; k < l.regionEnd; k++) maxSize = Math.max(maxSize, cc.regions[k].size);
      let tile = 1;
      while (tile * 2 <= MAX_TILE && tile * 2 * maxSize <= storageFloats) tile *= 2;
      const fits = tile * maxSize <= storageFloats;
      const useTiled = choice === 'tiled' ? fits : autoTiled ? fits && tile >= MIN_TILE : false;
      if (useTiled) {
        const tileFloats = Math.min(storageFloats, tile * nextPow2(maxSize));
        // About 4 outputs per thread; more row blocks = more workgroups for layers of few regions.
        const rowsPer = this.opts.tileRows ?? Math.max(1, Math.floor((4 * WG) / tile));
        let maxRows = 1;
        for (let k = l.regionStart; k < l.regionEnd; k++) maxRows = Math.max(maxRows, cc.regions[k].rows);
        const rowBlocks = Math.ceil(maxRows / rowsPer);
        m.sumKernels.push(`tiled T=${tile}`);
        m.forward.push(make('sumTiled', `sum tiled h=${h}`, `forward h=${h}`, [l.regionStart, nRegions, rowBlocks], (n) => nRegions * rowBlocks * Math.ceil(n / tile), { TILE: tile, TILE_FLOATS: tileFloats, ROWS: rowsPer }));
      } else {
        const count = l.nodeEnd - l.nodeStart;
        m.sumKernels.push('gather');
        m.forward.push(make('sumGather', `sum gather h=${h}`, `forward h=${h}`, [l.nodeStart, count], perSample(count)));
      }
    }
    // Backward, top layer first: sum flows (g), then product flows.
    for (let li = cc.layers.length - 1; li >= 1; li--) {
      const l = cc.layers[li];
      const h = cc.regions[l.regionStart].height;
      const count = l.nodeEnd - l.nodeStart;
      if (l.kind === 'sum') m.backward.push(make('sumFlow', `sum flow h=${h}`, `backward h=${h}`, [l.nodeStart, count], perSample(count)));
      else m.backward.push(make('productFlow', `product flow h=${h}`, `backward h=${h}`, [l.nodeStart, count], perSample(count)));
    }
    const edgeChoice = this.opts.edgeKernel ?? 'auto';
    if (edgeChoice === 'lanes' || (edgeChoice === 'auto' && !this.cpuEmulated)) {
      const perWg = WG / EDGE_LANES;
      m.accumulate.push(make('edgeFlow', 'edge flows', 'edge flows', [0, cc.numEdges], () => Math.ceil(cc.numEdges / perWg), { LANES: EDGE_LANES }));
    } else m.accumulate.push(make('edgeFlowPerEdge', 'edge flows', 'edge flows', [0, cc.numEdges], perItem(cc.numEdges)));
    m.accumulate.push(make('inputHist', 'input flows', 'input flows', [0, cc.numInputs, 0, cc.numValues], perItem(cc.numInputs)));
    const R = cc.regions.length;
    m.marked.push(make('markedPartial', 'marked flow partial', 'marked', [0, R], perSample(R)));
    m.marked.push(make('markedTotal', 'marked flow total', 'marked', [0, R], (n) => Math.ceil(n / WG)));
    m.em.push(make('emSum', 'em sums', 'em', [0, cc.numSums], perItem(cc.numSums)));
    m.em.push(make('emInput', 'em inputs', 'em', [0, cc.numInputs, 0, cc.numValues], perItem(cc.numInputs)));
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

  /** Encodes dispatches for a chunk of n samples; with timings, one timed pass per group. */
  private encode(enc: GPUCommandEncoder, list: Dispatch[], n: number, timed: boolean): void {
    const run = (pass: GPUComputePassEncoder, d: Dispatch) => {
      const w = d.workgroups(n);
      if (w === 0) return;
      const [x, y] = this.fold(w);
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(x, y);
    };
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
    if (!this.timestamps) return;
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

  private async readStaging(bytes: number): Promise<ArrayBuffer> {
    const st = this.staging!;
    await this.nap();
    await st.mapAsync(MAP_READ, 0, align4(bytes));
    const copy = st.getMappedRange(0, align4(bytes)).slice(0);
    st.unmap();
    return copy;
  }

  // ---------------------------------------------------------------- per-sample passes

  private setBatch(n: number, cap: number, flags: number, root: number): void {
    this.device.queue.writeBuffer(this.batUniform, 0, new Uint32Array([n, cap, flags, root]));
  }

  /**
   * Runs chunks over `count` samples. `feed(start, n)` uploads a chunk's pixels (or indices) and
   * returns the batch flags; `body` lists the dispatches after the pixel kernel; `result` names the
   * buffer whose first n floats (at `resultOffset(cap)` bytes) go back per sample.
   */
  private async chunked(count: number, indexed: boolean, feed: (start: number, n: number) => number, body: Dispatch[], result: 'root' | 'out'): Promise<Float64Array> {
    const m = this.circuitModel;
    const cap = m.cap;
    const out = new Float64Array(count);
    if (count === 0) return out;
    const pixelDispatch = indexed ? m.pixelsIndexed : m.pixelsBatch;
    if (!pixelDispatch) throw new Error('GPU engine: no dataset uploaded for this circuit (uploadDataset first)');
    // Staging: [count values][count offsets] (offsets only for log-likelihoods).
    this.ensureStaging(count * 8);
    const timed = this.timestamps;
    if (timed) this.ensureTimingBuffers(m.forward.length + m.backward.length + m.accumulate.length + m.marked.length + 1);
    for (let start = 0; start < count; start += cap) {
      const n = Math.min(cap, count - start);
      const flags = feed(start, n);
      this.setBatch(n, cap, flags, m.cc.rootNode);
      const enc = this.device.createCommandEncoder({ label: `pc/chunk ${start}+${n}` });
      if (timed) this.timingLabels = [];
      this.encode(enc, [pixelDispatch, ...body], n, timed);
      if (result === 'root') {
        enc.copyBufferToBuffer(m.buffers.get('val')!, m.cc.rootNode * cap * 4, this.staging!, start * 4, n * 4);
        enc.copyBufferToBuffer(m.buffers.get('rmax')!, m.rootRegion * cap * 4, this.staging!, (count + start) * 4, n * 4);
      } else enc.copyBufferToBuffer(m.buffers.get('out')!, 0, this.staging!, start * 4, n * 4);
      if (timed && this.querySet && this.timingLabels.length) {
        enc.resolveQuerySet(this.querySet, 0, this.timingLabels.length * 2, this.queryResolve!, 0);
        enc.copyBufferToBuffer(this.queryResolve!, 0, this.queryStaging!, 0, this.timingLabels.length * 16);
        this.timingPending = true;
      }
      await this.submit(enc);
      // Keep waits short on real GPUs: with a nap configured, settle each chunk before the next.
      if (this.napBeforeWaitMs > 0 && start + cap < count) {
        await this.nap();
        await this.device.queue.onSubmittedWorkDone();
      }
    }
    const data = new Float32Array(await this.readStaging(count * 8));
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
    return this.op(async () => this.chunked(batch.count, false, this.batchFeed(batch), this.circuitModel.forward, 'root'));
  }

  accumulateFlows(batch: Batch): Promise<Float64Array> {
    return this.op(async () => {
      const m = this.circuitModel;
      return this.chunked(batch.count, false, this.batchFeed(batch), [...m.forward, ...m.backward, ...m.accumulate], 'root');
    });
  }

  markedEdgeFlow(batch: Batch, marked: Uint8Array): Promise<Float64Array> {
    return this.op(async () => {
      const m = this.circuitModel;
      if (marked.length !== m.cc.numEdges) throw new Error(`marked has ${marked.length} entries, the circuit ${m.cc.numEdges} edges`);
      this.write(m.buffers.get('marked')!, Uint32Array.from(marked));
      return this.chunked(batch.count, false, this.batchFeed(batch), [...m.forward, ...m.backward, ...m.marked], 'out');
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
    return this.op(async () => {
      const m = this.circuitModel;
      return this.chunked(indices.length, true, this.indexFeed(indices), [...m.forward, ...m.backward, ...m.accumulate], 'root');
    });
  }

  /** logLikelihood over rows `indices` of the uploaded dataset. */
  logLikelihoodIndexed(indices: Int32Array): Promise<Float64Array> {
    return this.op(async () => this.chunked(indices.length, true, this.indexFeed(indices), this.circuitModel.forward, 'root'));
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

  /** GPU time per pass group of the last timed chunk (empty without timestamp-query / `timings`). */
  layerTimings(): Promise<LayerTiming[]> {
    return this.op(async () => {
      if (!this.timestamps || !this.timingPending || !this.queryStaging) return [];
      const labels = this.timingLabels.slice();
      await this.nap();
      await this.queryStaging.mapAsync(MAP_READ, 0, labels.length * 16);
      const t = new BigUint64Array(this.queryStaging.getMappedRange(0, labels.length * 16).slice(0));
      this.queryStaging.unmap();
      return labels.map((label, i) => ({ label, ms: Number(t[2 * i + 1] - t[2 * i]) / 1e6 }));
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
    this.destroyBuffer(this.queryResolve);
    this.destroyBuffer(this.queryStaging);
    this.querySet?.destroy();
    this.destroyBuffer(this.batUniform);
    this.destroyBuffer(this.emUniform);
    this.disposed = true;
    this.device.destroy();
  }
}

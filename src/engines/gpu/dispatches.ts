// Dispatch building and encoding: the planned passes (plan.ts planPasses) become pipelines, bind
// groups and layer-uniform slots (one slot and bind group per dispatch, built once per load and
// kernel choice), and are encoded into compute passes, folded into 2-D where a dispatch has more
// workgroups than one dimension allows. Also the loaded circuit's record (`Model`).
import type { CompiledCircuit } from '../../circuit/compile.ts';
import { GpuUnavailableError, limitMessage, type EngineLimits } from './device.ts';
import { KERNELS, LAYER_BYTES, layerWords, type KernelName } from './kernels.ts';
import { WG, type KernelCandidates, type KernelChoice, type KernelPass, type KernelTuning, type PlanSettings } from './options.ts';
import { planPasses, planSteps, type DensePlan, type DispatchPlan, type PlanStep, type Work } from './plan.ts';
import type { PassTimer } from './tuning.ts';

export interface Dispatch {
  kernel: KernelName;
  label: string;
  /** Timing group (a compute pass of its own when timings are on). */
  group: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  /** Workgroups for a chunk of n samples. */
  workgroups: Work;
}

/** The dataset kept on the GPU for the indexed calls (row-major bytes, count x numVars). */
export interface ResidentData {
  buffer: GPUBuffer;
  count: number;
  numVars: number;
}

export type ChunkKind = 'forward' | 'flows' | 'marked';

/** A loaded circuit: its buffers, dispatch lists, plan and kernel choice. */
export interface Model {
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
  /** Every kernel chosen for the forward, backward, edge-flow and input-flow passes, in order. */
  kernelPlan: PlanStep[];
  dense: DensePlan;
  /** Calibrated GPU ms per sample of each chunked pass (naps on), measured on its first chunk. */
  chunkMs: Map<ChunkKind, number>;
  /** The kernel family each pass runs (rules at load; measured by tuning). */
  choice: KernelChoice;
  /** Per pass, the families tuning will time (the rule's choice first); null when none to tune. */
  candidates: KernelCandidates | null;
  tuning: KernelTuning | null;
}

/** What building dispatches needs from the engine. */
export interface DispatchContext {
  device: GPUDevice;
  limits: EngineLimits;
  settings: PlanSettings;
  batUniform: GPUBuffer;
  emUniform: GPUBuffer;
  pipeline(kernel: KernelName, constants: Record<string, number>): GPUComputePipeline;
  /** Binding numbers per shader file (kernels.ts parseBindings). */
  bindings: Map<string, Map<string, number>>;
}

/** WGSL bindings that read a buffer under another name: per-region partial sums of marked flows
 *  reuse rmax (free after the backward pass); the mirror scatter writes wdense; the word view of
 *  the region table is the same buffer as its records. */
const ALIASES: Record<string, string> = { part: 'rmax', wmirror: 'wdense', regionWords: 'regions' };

/** Layer-uniform slots per load: pixels x2, per layer up to 4 (forward, backward, edge flows),
 *  hist, marked x2, EM x3, and spares. */
export function layerSlots(cc: CompiledCircuit): number {
  return 2 + cc.layers.length * 4 + 16;
}

/** The one bind-group builder: the uniforms by name, `lay` at the dispatch's slot, the rest from
 *  `buffers` (after ALIASES). */
function bindGroup(
  ctx: DispatchContext,
  kernel: KernelName,
  label: string,
  pipeline: GPUComputePipeline,
  layer: GPUBufferBinding,
  buffers: (name: string) => GPUBuffer | undefined,
): GPUBindGroup {
  const spec = KERNELS[kernel];
  const nums = ctx.bindings.get(spec.shader)!;
  const entries: GPUBindGroupEntry[] = spec.uses.map((name) => {
    const binding = nums.get(name)!;
    if (name === 'bat') return { binding, resource: { buffer: ctx.batUniform } };
    if (name === 'em') return { binding, resource: { buffer: ctx.emUniform } };
    if (name === 'lay') return { binding, resource: layer };
    const buf = buffers(ALIASES[name] ?? name);
    if (!buf) throw new Error(`internal: no buffer for binding '${name}'`);
    return { binding, resource: { buffer: buf } };
  });
  return ctx.device.createBindGroup({ label: `pc/${label}`, layout: pipeline.getBindGroupLayout(0), entries });
}

/** (Re)builds the dispatch lists of `m` for `m.choice` and writes their layer uniforms. */
export function buildDispatches(ctx: DispatchContext, m: Model, dataset: ResidentData | null): void {
  const plans = planPasses(m.cc, m.choice, m.dense, ctx.limits, ctx.settings);
  const uni = new Uint32Array((m.layerSlots * m.slotStride) / 4);
  let slot = 2; // 0: pixels of a batch, 1: pixels of the resident dataset (buildIndexedPixels)
  const make = (p: DispatchPlan, at = slot++): Dispatch => {
    if (at >= m.layerSlots) throw new Error('internal: layer uniform slots exhausted');
    const off = at * m.slotStride;
    uni.set(p.layer, off / 4);
    const pipeline = ctx.pipeline(p.kernel, { WG, ...p.constants });
    const layer = { buffer: m.layerUniform, offset: off, size: LAYER_BYTES };
    const bg = bindGroup(ctx, p.kernel, p.label, pipeline, layer, (name) => m.buffers.get(name));
    return { kernel: p.kernel, label: p.label, group: p.group, pipeline, bindGroup: bg, workgroups: p.workgroups };
  };
  m.pixelsBatch = make(plans.pixels, 0);
  m.forward = plans.forward.map((p) => make(p));
  m.backward = plans.backward.map((p) => make(p));
  m.accumulate = plans.accumulate.map((p) => make(p));
  m.marked = plans.marked.map((p) => make(p));
  m.em = plans.em.map((p) => make(p));
  m.kernelPlan = planSteps(plans);
  ctx.device.queue.writeBuffer(m.layerUniform, 0, uni);
  buildIndexedPixels(ctx, m, dataset);
}

/** The pixel dispatch that reads rows of the resident dataset (slot 1); null without one that
 *  matches the circuit's variables. */
export function buildIndexedPixels(ctx: DispatchContext, m: Model, ds: ResidentData | null): void {
  if (!ds || ds.numVars !== m.cc.numVars) {
    m.pixelsIndexed = null;
    return;
  }
  const off = m.slotStride;
  ctx.device.queue.writeBuffer(m.layerUniform, off, layerWords('pixels', { numVars: m.cc.numVars }));
  const pipeline = ctx.pipeline('pixels', { WG });
  const layer = { buffer: m.layerUniform, offset: off, size: LAYER_BYTES };
  const bg = bindGroup(ctx, 'pixels', 'pixels (indexed)', pipeline, layer, (name) => (name === 'data' ? ds.buffer : m.buffers.get(name)));
  const D = m.cc.numVars;
  m.pixelsIndexed = { kernel: 'pixels', label: 'pixels (indexed)', group: 'pixels', pipeline, bindGroup: bg, workgroups: (n) => Math.ceil((D * n) / WG) };
}

/** The dispatches of each tuned pass (edge flows and input flows are both in `accumulate`). */
export function passLists(m: Model): Record<KernelPass, Dispatch[]> {
  const input = (d: Dispatch) => d.kernel === 'inputHist' || d.kernel === 'inputHistTiled';
  return { forward: m.forward, backward: m.backward, edges: m.accumulate.filter((d) => !input(d)), inputs: m.accumulate.filter(input) };
}

/** A workgroup count as a 2-D grid (kernels compute `wid.y * nwg.x + wid.x`, common.wgsl flatIndex). */
export function fold(w: number, L: EngineLimits): [number, number] {
  const maxPerDim = L.maxComputeWorkgroupsPerDimension;
  if (w <= maxPerDim) return [w, 1];
  const y = Math.ceil(w / maxPerDim);
  if (y > maxPerDim) {
    const what = `a dispatch of ${w.toLocaleString('en-US')} workgroups`;
    throw new GpuUnavailableError('limit', limitMessage('maxComputeWorkgroupsPerDimension', y, maxPerDim, what, 'use a smaller batch chunk'));
  }
  return [Math.ceil(w / y), y];
}

export function dispatch(pass: GPUComputePassEncoder, d: Dispatch, n: number, L: EngineLimits): void {
  const w = d.workgroups(n);
  if (w === 0) return;
  const [x, y] = fold(w, L);
  pass.setPipeline(d.pipeline);
  pass.setBindGroup(0, d.bindGroup);
  pass.dispatchWorkgroups(x, y);
}

/** Encodes dispatches for a chunk of n samples; with a timer, one timed pass per group. */
export function encode(enc: GPUCommandEncoder, list: Dispatch[], n: number, L: EngineLimits, timer: PassTimer | null): void {
  if (!timer?.querySet) {
    const pass = enc.beginComputePass({ label: 'pc/pass' });
    for (const d of list) dispatch(pass, d, n, L);
    pass.end();
    return;
  }
  let i = 0;
  while (i < list.length) {
    const group = list[i].group;
    const q = timer.labels.length * 2;
    const timestampWrites = { querySet: timer.querySet, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 };
    const pass = enc.beginComputePass({ label: `pc/${group}`, timestampWrites });
    timer.labels.push(group);
    while (i < list.length && list[i].group === group) dispatch(pass, list[i++], n, L);
    pass.end();
  }
}

// The GPU engine's planning rules as pure functions of a compiled circuit, the device limits and the
// resolved options (no device needed; test/engines/gpu/plan.test.ts checks them on small circuits): chunk
// capacity, which sum layers get a dense mirror, the rule's kernel families and tuning's candidates,
// GEMM and sample tiles, and every dispatch of every pass (kernel, layer uniform, workgroups,
// constants) with its structured `kernelPlan` entry. dispatches.ts turns the plan into pipelines and
// bind groups. docs/architecture.md, "Engines"; shaders/README.md, "Kernel choice".
import type { CompiledCircuit } from '../../circuit/compile.ts';
import { latentStates } from '../../circuit/structure.ts';
import { GpuUnavailableError, limitMessage, type EngineLimits } from './device.ts';
import { layerWords, type KernelName, type LayerValues } from './kernels.ts';
import {
  DENSE_ALWAYS,
  EDGE_LANES,
  KERNEL_PASSES,
  MAX_TILE,
  MIN_TILE,
  RM_TS,
  WG,
  type HeightKernelChoice,
  type KernelCandidates,
  type KernelChoice,
  type KernelPass,
  type PlanSettings,
} from './options.ts';

/** Workgroups of a dispatch for a chunk of n samples. */
export type Work = (n: number) => number;

export interface GemmShape {
  TM: number;
  TN: number;
  TK: number;
}

/** The dense mirror of the blocks of some sum layers (for the GEMM-style kernels). */
export interface DensePlan {
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

/** One entry of `kernelPlan`: a dispatch of the forward, backward, edge-flow or input-flow pass. */
export interface PlanStep {
  pass: KernelPass;
  kernel: KernelName;
  /** Circuit heights the dispatch covers, first and last (absent for the input kernels). */
  heights?: [number, number];
  /** Samples per workgroup tile (tiled sum, per-height kernels). */
  tile?: number;
  /** GEMM tile: sum and product-flow GEMMs (TM x TN outputs, TK inner), edge GEMM (TM x TN block). */
  gemm?: GemmShape;
  /** Edge range [first, end) of a CSR edge-flow dispatch. */
  edges?: [number, number];
}

/** One dispatch, before it has a pipeline and a bind group. */
export interface DispatchPlan {
  kernel: KernelName;
  label: string;
  /** Timing group (a compute pass of its own when timings are on). */
  group: string;
  /** The layer uniform's words (kernels.ts `layerWords`, named fields). */
  layer: Uint32Array;
  workgroups: Work;
  /** Pipeline-overridable constants besides WG. */
  constants: Record<string, number>;
  /** Its kernelPlan entry (null: pixels, marked flows, EM). */
  step: PlanStep | null;
}

export interface PassPlans {
  pixels: DispatchPlan;
  forward: DispatchPlan[];
  backward: DispatchPlan[];
  /** Edge flows then input flows. */
  accumulate: DispatchPlan[];
  marked: DispatchPlan[];
  em: DispatchPlan[];
}

export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Largest binding a buffer can have (the smaller of the two limits) and the limit's name. */
export function maxBinding(L: EngineLimits): { bytes: number; name: 'maxStorageBufferBindingSize' | 'maxBufferSize' } {
  const bytes = Math.min(L.maxStorageBufferBindingSize, L.maxBufferSize);
  return { bytes, name: L.maxStorageBufferBindingSize <= L.maxBufferSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize' };
}

/** Samples per chunk that fit the limits (node buffers are nodes x chunk floats), or a limit error
 *  naming what stops the model. */
export function planCapacity(cc: CompiledCircuit, L: EngineLimits, maxChunk = 512): number {
  const { bytes: maxBind, name: bindName } = maxBinding(L);
  const K = latentStates(cc);
  const perSample = Math.max(cc.numNodes, cc.regions.length, cc.numVars) * 4;
  const params = cc.numInputs * cc.numValues * 4;
  if (params > maxBind) {
    const kFit = Math.max(1, Math.floor((K * maxBind) / params));
    const what = `this model's input parameters (K=${K}, ${cc.numInputs.toLocaleString('en-US')} input nodes x ${cc.numValues} values x 4 bytes)`;
    throw new GpuUnavailableError('limit', limitMessage(bindName, params, maxBind, what, `K <= ${kFit} would fit, or use the CPU engine`));
  }
  if (perSample > maxBind) {
    const kFit = Math.max(1, Math.floor((K * maxBind) / perSample));
    const what = `one sample's node values (K=${K}, ${cc.numNodes.toLocaleString('en-US')} nodes x 4 bytes)`;
    throw new GpuUnavailableError('limit', limitMessage(bindName, perSample, maxBind, what, `K <= ${kFit} would fit, or use the CPU engine`));
  }
  return Math.min(Math.max(1, maxChunk), Math.floor(maxBind / perSample));
}

/** The largest power-of-two sample tile (up to MAX_TILE) whose `perSample` floats fit `floats`
 *  words of workgroup storage; 0 when not even one sample fits. */
export function sampleTile(perSample: number, floats: number): number {
  if (perSample > floats) return 0;
  let tile = 1;
  while (tile * 2 <= MAX_TILE && tile * 2 * perSample <= floats) tile *= 2;
  return tile;
}

/** Whether every block cell (row, column) of regions [r0, r1) holds at most one edge (a dense
 *  mirror needs it; compiled blocks are CSR without duplicates, but the mirror does not assume it). */
export function uniqueCells(cc: CompiledCircuit, r0: number, r1: number): boolean {
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

/** GEMM tile for M output rows: TM x TN outputs, (TM/4)(TN/4) = WG threads with 4x4 register
 *  blocks, TK (inner chunk) as large as workgroup storage allows (16 at most; null if even 4 does
 *  not fit): TK (TM + 4 + TN) floats. */
export function gemmShape(maxM: number, L: EngineLimits): GemmShape | null {
  const TM = Math.min(64, Math.max(16, nextPow2(maxM)));
  const TN = (16 * WG) / TM;
  const floats = Math.floor(L.maxComputeWorkgroupStorageSize / 4);
  for (const TK of [16, 8, 4]) if (TK * (TM + 4 + TN) <= floats) return { TM, TN, TK };
  return null;
}

/** Tile of the edge-flow GEMM: T x T (rows x products), (T/4)^2 threads, TK samples per chunk:
 *  TK (2T + 8) floats. */
export function edgeShape(maxDim: number, L: EngineLimits): GemmShape | null {
  const T = Math.min(64, Math.max(16, nextPow2(maxDim)));
  const floats = Math.floor(L.maxComputeWorkgroupStorageSize / 4);
  if ((T / 4) * (T / 4) > L.maxComputeInvocationsPerWorkgroup) return null;
  for (const TK of [16, 8, 4]) if (TK * (2 * T + 8) <= floats) return { TM: T, TN: T, TK };
  return null;
}

/** Whether 'auto' runs a dense kernel: a real GPU, and nearly full blocks, or blocks both dense
 *  enough for this kernel and large (see DENSE_ALWAYS). */
export function autoDense(density: number, meanRows: number, threshold: number, s: PlanSettings): boolean {
  if (s.cpuEmulated) return false;
  return density >= Math.max(threshold, DENSE_ALWAYS) || (density >= threshold && meanRows >= s.minDenseMeanRows);
}

/** The kernel families the options and rules give a circuit with dense plan `d` (before tuning). */
export function ruleChoice(d: DensePlan, s: PlanSettings): KernelChoice {
  const t = s.denseThresholds;
  // Dense only where the circuit has a mirror (none fits, or none was planned: the CSR kernels run).
  const dense = (opt: string, forced: string, threshold: number) =>
    d.size > 0 && (opt === forced || (opt === 'auto' && autoDense(d.circuitDensity, d.circuitMeanRows, threshold, s)));
  return {
    forward: s.forwardKernel === 'height' ? 'height' : dense(s.sumKernel, 'gemm', t.sum) ? 'dense' : 'csr',
    backward: s.backwardKernel === 'height' ? 'height' : dense(s.flowKernel, 'gemm', t.flow) ? 'dense' : 'csr',
    edges: dense(s.edgeKernel, 'tiled', t.edge) ? 'dense' : 'csr',
    inputs: s.inputKernel === 'workgroup' ? 'workgroup' : 'node',
  };
}

/** Per pass, the families tuning times: every family an 'auto' option allows ('dense' only where
 *  the circuit has a mirror), the rule's choice first; null when tuning is off or nothing varies. */
export function tuneCandidates(d: DensePlan, rule: KernelChoice, s: PlanSettings): KernelCandidates | null {
  if (!s.tuneKernels) return null;
  const mirror = d.size > 0;
  const layered = (opt: string, forced: string): Array<'csr' | 'dense'> =>
    opt === 'auto' ? (mirror ? ['csr', 'dense'] : ['csr']) : [opt === forced ? 'dense' : 'csr'];
  const perHeight = (choice: HeightKernelChoice, opt: string, forced: string): Array<'csr' | 'dense' | 'height'> =>
    choice === 'height' ? ['height'] : choice === 'layered' ? layered(opt, forced) : [...layered(opt, forced), 'height'];
  const ruleFirst = <T>(list: T[], first: T): T[] => [first, ...list.filter((x) => x !== first)];
  const c: KernelCandidates = {
    forward: ruleFirst(perHeight(s.forwardKernel, s.sumKernel, 'gemm'), rule.forward),
    backward: ruleFirst(perHeight(s.backwardKernel, s.flowKernel, 'gemm'), rule.backward),
    edges: ruleFirst(layered(s.edgeKernel, 'tiled'), rule.edges),
    inputs: ruleFirst<KernelChoice['inputs']>(s.inputKernel === 'auto' ? ['node', 'workgroup'] : [s.inputKernel], rule.inputs),
  };
  return KERNEL_PASSES.some((p) => c[p].length > 1) ? c : null;
}

/** Which sum layers get a dense mirror: those some dense kernel will run on (forced, or 'auto' on
 *  a real GPU with block density >= denseThreshold, or that tuning may time: 'auto' with density
 *  >= the lowest threshold), and whose tiles fit the limits. */
export function planDense(cc: CompiledCircuit, L: EngineLimits, s: PlanSettings): DensePlan {
  const { sumKernel: sumK, edgeKernel: edgeK, flowKernel: flowK } = s;
  const t = s.denseThresholds;
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
  const maxBind = maxBinding(L).bytes;
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
    const tuned = s.tuneKernels && circuitDensity >= thr;
    const wants = forced || (anyAuto && full > 0 && (tuned || autoDense(circuitDensity, circuitMeanRows, thr, s)));
    const fits = !!gemmShape(maxRows, L) && !!gemmShape(maxSize, L) && !!edgeShape(Math.max(maxRows, maxSize), L);
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

/** Pipeline constants of the sum / product-flow GEMM (sum_gemm.wgsl). */
function gemmConstants(g: GemmShape): Record<string, number> {
  return { TM: g.TM, TN: g.TN, TK: g.TK, WS4: g.TK * (g.TM / 4 + 1), ES4: (g.TK * g.TN) / 4, WG: (g.TM / 4) * (g.TN / 4) };
}

/** Pipeline constants of the edge-flow GEMM (edge_gemm.wgsl). */
function edgeGemmConstants(g: GemmShape): Record<string, number> {
  return { TM: g.TM, TN: g.TN, TK: g.TK, GS4: g.TK * (g.TM / 4 + 1), ES4: g.TK * (g.TN / 4 + 1), WG: (g.TM / 4) * (g.TN / 4) };
}

/**
 * Every dispatch of every pass for kernel families `choice`: per height the forward (products,
 * region max, sums; or one per-height kernel), the backward top down (sum flows, product flows; or
 * one per-height kernel), edge flows (GEMMs over dense runs, CSR kernels over the edge ranges
 * between them), input flows, marked flows and EM.
 */
export function planPasses(cc: CompiledCircuit, choice: KernelChoice, dense: DensePlan, L: EngineLimits, s: PlanSettings): PassPlans {
  const mk = <K extends KernelName>(
    kernel: K,
    label: string,
    group: string,
    layer: LayerValues<K>,
    workgroups: Work,
    constants: Record<string, number> = {},
    step: PlanStep | null = null,
  ): DispatchPlan => ({ kernel, label, group, layer: layerWords(kernel, layer), workgroups, constants, step });
  const perSample =
    (count: number): Work =>
    (n) =>
      Math.ceil((count * n) / WG);
  const perItem =
    (count: number): Work =>
    () =>
      Math.ceil(count / WG);
  const out: PassPlans = {
    pixels: mk('pixels', 'pixels (batch)', 'pixels', { numVars: cc.numVars }, perSample(cc.numVars)),
    forward: [],
    backward: [],
    accumulate: [],
    marked: [],
    em: [],
  };

  const storageFloats = Math.floor(L.maxComputeWorkgroupStorageSize / 4);
  const sumK = s.sumKernel;
  const autoTiled = sumK === 'auto' && !s.cpuEmulated;
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
  const rowsPer = (tile: number) => s.tileRows ?? Math.max(1, Math.floor((4 * WG) / tile));
  // Per-height forward: the sum layer index of each height whose forward runs as one kernel, with its
  // tile (samples) and rows per workgroup. Workgroup storage holds the tile of products and WG
  // floats for the max reduction.
  const perHeight = new Map<number, { tile: number; rows: number }>();
  if (choice.forward === 'height') {
    const floats = storageFloats - WG;
    for (let li = 1; li + 1 < cc.layers.length; li++) {
      const l = cc.layers[li];
      if (l.kind !== 'product' || cc.layers[li + 1].kind !== 'sum') continue;
      const tile = sampleTile(Math.max(1, shape(l).maxSize), floats);
      if (tile > 0) perHeight.set(li + 1, { tile, rows: rowsPer(tile) });
    }
  }
  for (let li = 1; li < cc.layers.length; li++) {
    const l = cc.layers[li];
    const h = cc.regions[l.regionStart].height;
    const heights: [number, number] = [h, h];
    const group = `forward h=${h}`;
    const { maxSize, maxRows, nRegions } = shape(l);
    const fuse = perHeight.get(l.kind === 'product' ? li + 1 : li);
    if (fuse && l.kind === 'product') continue; // the sum layer's dispatch does the products
    if (fuse) {
      const rowBlocks = Math.ceil(maxRows / fuse.rows);
      const consts = { TILE: fuse.tile, TILE_FLOATS: fuse.tile * Math.max(1, maxSize), ROWS: fuse.rows };
      const layer = { firstRegion: l.regionStart, regions: nRegions, rowBlocks, numValues: cc.numValues };
      const work: Work = (n) => nRegions * rowBlocks * Math.ceil(n / fuse.tile);
      const step: PlanStep = { pass: 'forward', kernel: 'regionForward', heights, tile: fuse.tile };
      out.forward.push(mk('regionForward', `forward height h=${h}`, group, layer, work, consts, step));
      continue;
    }
    if (l.kind === 'product') {
      const count = l.nodeEnd - l.nodeStart;
      const layer = { firstNode: l.nodeStart, nodes: count, numInputs: cc.numInputs, numValues: cc.numValues };
      out.forward.push(mk('product', `product h=${h}`, group, layer, perSample(count), {}, { pass: 'forward', kernel: 'product', heights }));
      const reduce = s.regionMax === 'reduce' || (s.regionMax === 'auto' && !s.cpuEmulated && maxSize >= 16);
      const regions = { firstRegion: l.regionStart, regions: nRegions };
      if (reduce) {
        const step: PlanStep = { pass: 'forward', kernel: 'regionMaxReduce', heights, tile: RM_TS };
        out.forward.push(mk('regionMaxReduce', `region max h=${h}`, group, regions, (n) => nRegions * Math.ceil(n / RM_TS), { TS: RM_TS }, step));
      } else {
        const step: PlanStep = { pass: 'forward', kernel: 'regionMax', heights };
        out.forward.push(mk('regionMax', `region max h=${h}`, group, regions, perSample(nRegions), {}, step));
      }
      continue;
    }
    const gemm = dense.layer[li] && choice.forward === 'dense' ? gemmShape(maxRows, L) : null;
    if (gemm) {
      const rowTiles = Math.ceil(maxRows / gemm.TM);
      const layer = { firstRegion: l.regionStart, regions: nRegions, rowTiles, inner: maxSize, mode: 0 };
      const work: Work = (n) => nRegions * rowTiles * Math.ceil(n / gemm.TN);
      const step: PlanStep = { pass: 'forward', kernel: 'sumGemm', heights, gemm };
      out.forward.push(mk('sumGemm', `sum gemm h=${h}`, group, layer, work, gemmConstants(gemm), step));
      continue;
    }
    const tile = Math.max(1, sampleTile(maxSize, storageFloats));
    const fits = tile * maxSize <= storageFloats;
    const useTiled = sumK === 'tiled' || sumK === 'gemm' ? fits : autoTiled ? fits && tile >= MIN_TILE : false;
    if (useTiled) {
      const rows = rowsPer(tile);
      const rowBlocks = Math.ceil(maxRows / rows);
      const consts = { TILE: tile, TILE_FLOATS: Math.min(storageFloats, tile * nextPow2(maxSize)), ROWS: rows };
      const layer = { firstRegion: l.regionStart, regions: nRegions, rowBlocks };
      const step: PlanStep = { pass: 'forward', kernel: 'sumTiled', heights, tile };
      out.forward.push(mk('sumTiled', `sum tiled h=${h}`, group, layer, (n) => nRegions * rowBlocks * Math.ceil(n / tile), consts, step));
    } else {
      const count = l.nodeEnd - l.nodeStart;
      const layer = { firstNode: l.nodeStart, nodes: count, firstRegion: l.regionStart, regions: nRegions };
      const step: PlanStep = { pass: 'forward', kernel: 'sumGather', heights };
      out.forward.push(mk('sumGather', `sum gather h=${h}`, group, layer, perSample(count), {}, step));
    }
  }

  // Backward, top layer first: sum flows (g), then product flows; or one dispatch per height
  // (the sum layer li and the product layer li - 1 of the same regions).
  const heightBack = new Set<number>();
  for (let li = cc.layers.length - 1; li >= 1; li--) {
    const l = cc.layers[li];
    const h = cc.regions[l.regionStart].height;
    const heights: [number, number] = [h, h];
    const group = `backward h=${h}`;
    const count = l.nodeEnd - l.nodeStart;
    if (heightBack.has(li)) continue;
    if (l.kind === 'sum' && choice.backward === 'height' && cc.layers[li - 1].kind === 'product') {
      const { maxSize, maxRows, nRegions } = shape(l);
      const tile = sampleTile(Math.max(1, maxRows), storageFloats);
      if (tile > 0) {
        const products = rowsPer(tile);
        const blocks = Math.ceil(maxSize / products);
        heightBack.add(li - 1);
        const consts = { TILE: tile, TILE_FLOATS: tile * Math.max(1, maxRows), ROWS: products };
        const layer = { firstRegion: l.regionStart, regions: nRegions, productBlocks: blocks };
        const step: PlanStep = { pass: 'backward', kernel: 'regionBackward', heights, tile };
        out.backward.push(mk('regionBackward', `backward height h=${h}`, group, layer, (n) => nRegions * blocks * Math.ceil(n / tile), consts, step));
        continue;
      }
    }
    if (l.kind === 'sum') {
      const step: PlanStep = { pass: 'backward', kernel: 'sumFlow', heights };
      out.backward.push(mk('sumFlow', `sum flow h=${h}`, group, { firstNode: l.nodeStart, nodes: count }, perSample(count), {}, step));
      continue;
    }
    // The product layer's parents are the sum layer of the same regions (the next layer).
    const sumLi = li + 1;
    const { maxSize, maxRows, nRegions } = shape(l);
    const g = sumLi < cc.layers.length && dense.layer[sumLi] && choice.backward === 'dense' ? gemmShape(maxSize, L) : null;
    if (g) {
      const rowTiles = Math.ceil(maxSize / g.TM);
      const layer = { firstRegion: l.regionStart, regions: nRegions, rowTiles, inner: maxRows, mode: 1 };
      const work: Work = (n) => nRegions * rowTiles * Math.ceil(n / g.TN);
      const step: PlanStep = { pass: 'backward', kernel: 'sumGemm', heights, gemm: g };
      out.backward.push(mk('sumGemm', `product flow gemm h=${h}`, group, layer, work, gemmConstants(g), step));
    } else {
      const step: PlanStep = { pass: 'backward', kernel: 'productFlow', heights };
      out.backward.push(mk('productFlow', `product flow h=${h}`, group, { firstNode: l.nodeStart, nodes: count }, perSample(count), {}, step));
    }
  }

  // Edge flows: dense layers as tiled per-region GEMMs over the batch; runs of other layers (their
  // edges are contiguous) with 32 lanes per edge, or one thread per edge on software adapters.
  const edgeK = s.edgeKernel;
  const lanes = edgeK === 'lanes' || (edgeK === 'auto' && !s.cpuEmulated) || (edgeK === 'tiled' && !s.cpuEmulated);
  const edgeRange = (e0: number, e1: number) => {
    if (e1 <= e0) return;
    const layer = { firstEdge: e0, edges: e1 - e0 };
    if (lanes) {
      const perWg = WG / EDGE_LANES;
      const step: PlanStep = { pass: 'edges', kernel: 'edgeFlow', edges: [e0, e1] };
      out.accumulate.push(mk('edgeFlow', 'edge flows', 'edge flows', layer, () => Math.ceil((e1 - e0) / perWg), { LANES: EDGE_LANES }, step));
    } else {
      const step: PlanStep = { pass: 'edges', kernel: 'edgeFlowPerEdge', edges: [e0, e1] };
      out.accumulate.push(mk('edgeFlowPerEdge', 'edge flows', 'edge flows', layer, perItem(e1 - e0), {}, step));
    }
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
    const layer = { firstRegion: r0, regions: nRegions, rowTiles: rt, colTiles: ct };
    const step: PlanStep = { pass: 'edges', kernel: 'edgeFlowGemm', heights: [h0, h1], gemm: es };
    out.accumulate.push(mk('edgeFlowGemm', `edge flows ${hs}`, 'edge flows', layer, () => nRegions * rt * ct, edgeGemmConstants(es), step));
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
    const es = dense.layer[li] && choice.edges === 'dense' ? edgeShape(Math.max(maxRows, maxSize), L) : null;
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

  const inputWorkgroups = choice.inputs === 'workgroup';
  const perInput: Work = () => cc.numInputs;
  const inputs = { firstInput: 0, inputs: cc.numInputs, numValues: cc.numValues };
  if (inputWorkgroups) {
    const step: PlanStep = { pass: 'inputs', kernel: 'inputHistTiled' };
    out.accumulate.push(mk('inputHistTiled', 'input flows', 'input flows', inputs, perInput, {}, step));
  } else {
    const step: PlanStep = { pass: 'inputs', kernel: 'inputHist' };
    out.accumulate.push(mk('inputHist', 'input flows', 'input flows', inputs, perItem(cc.numInputs), {}, step));
  }
  const R = cc.regions.length;
  out.marked.push(mk('markedPartial', 'marked flow partial', 'marked', { firstRegion: 0, regions: R }, perSample(R)));
  out.marked.push(mk('markedTotal', 'marked flow total', 'marked', { firstRegion: 0, regions: R }, (n) => Math.ceil(n / WG)));
  out.em.push(mk('emSum', 'em sums', 'em', { firstSum: 0, sums: cc.numSums }, perItem(cc.numSums)));
  if (inputWorkgroups) out.em.push(mk('emInputReduce', 'em inputs', 'em', inputs, perInput));
  else out.em.push(mk('emInput', 'em inputs', 'em', inputs, perItem(cc.numInputs)));
  // The dense mirror follows the updated weights (also while the kernels tuning chose do not read
  // it: one dispatch, and the mirror is never stale).
  if (dense.size > 0) out.em.push(mk('denseScatter', 'em dense mirror', 'em', { edges: cc.numEdges }, perItem(cc.numEdges)));
  return out;
}

/** The kernel plan of a pass list: the entries of the dispatches that have one, in order. */
export function planSteps(p: PassPlans): PlanStep[] {
  return [...p.forward, ...p.backward, ...p.accumulate].flatMap((d) => (d.step ? [d.step] : []));
}

const STEP_NAMES: Partial<Record<KernelName, string>> = {
  regionForward: 'forward height',
  product: 'product',
  regionMax: 'region max serial',
  regionMaxReduce: 'region max reduce',
  sumTiled: 'sum tiled',
  sumGather: 'sum gather',
  regionBackward: 'backward height',
  sumFlow: 'sum flow',
  productFlow: 'product flow gather',
  edgeFlow: 'edge flows lanes',
  edgeFlowPerEdge: 'edge flows per-edge',
  edgeFlowGemm: 'edge flows tiled',
  inputHist: 'inputs node',
  inputHistTiled: 'inputs workgroup',
};

/** A plan entry in words, for reports: "sum gemm 64x64x16 h=3", "edge flows lanes [0, 120)". */
export function stepText(s: PlanStep, withPlace = true): string {
  const g = s.gemm ? ` ${s.gemm.TM}x${s.gemm.TN}x${s.gemm.TK}` : '';
  let name = STEP_NAMES[s.kernel] ?? s.kernel;
  if (s.kernel === 'sumGemm') name = s.pass === 'forward' ? 'sum gemm' : 'product flow gemm';
  const tile = s.tile !== undefined && s.kernel !== 'regionMaxReduce' ? ` T=${s.tile}` : '';
  if (!withPlace) return `${name}${g}${tile}`;
  const h = s.heights ? (s.heights[0] === s.heights[1] ? ` h=${s.heights[0]}` : ` h=${s.heights[0]}..${s.heights[1]}`) : '';
  const e = s.edges ? ` [${s.edges[0]}, ${s.edges[1]})` : '';
  return `${name}${g}${tile}${h}${e}`;
}

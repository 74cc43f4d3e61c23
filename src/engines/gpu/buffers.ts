// The GPU engine's buffers: a pool that counts the bytes it holds (liveBytes), the per-load buffers
// (node values, structure, parameters, accumulators, the dense mirror), their upload, parameter
// writes, and the region table with its packer (`packRegions`, the one writer of the WGSL struct
// Region in shaders/common.wgsl).
//
// Buffers per load (names are the WGSL variable names): val (local log values), ex (linear values
// relative to the region max: e_i for products, s_j for sums; L_j < 0 for a small row), flow (F for
// products, g = F / s for sums; -F_j for a small row), rmax (O_r per region and sample), pix
// (variable-major pixel codes); parameters weight (theta, linear), logWeight, logProb; accumulators
// acc (edges) and hist (input values); regions (the region table); structure arrays as in
// CompiledCircuit; denseOff, denseIdx, wdense, denseEdge (the dense mirror, plan.ts DensePlan).
import type { CompiledCircuit } from '../../circuit/compile.ts';
import type { DensePlan } from './plan.ts';

export const STORAGE = 0x0080 | 0x0008 | 0x0004; // STORAGE | COPY_DST | COPY_SRC (GPUBufferUsage, absent in some globals)
export const UNIFORM = 0x0040 | 0x0008; // UNIFORM | COPY_DST
export const READBACK = 0x0001 | 0x0008; // MAP_READ | COPY_DST
export const QUERY_RESOLVE = 0x0200 | 0x0004; // QUERY_RESOLVE | COPY_SRC
export const MAP_READ = 0x0001;
/** Bytes of the Batch uniform (n, cap, flags, root). */
export const BAT_BYTES = 16;
/** No region / missing pixel (WGSL `MISSING`, common.wgsl). */
export const NONE = 0xffffffff;

export function align4(n: number): number {
  return Math.max(4, Math.ceil(n / 4) * 4);
}

/** Creates, writes and destroys buffers, counting the bytes held (for leak checks across loads). */
export class BufferPool {
  live = 0;
  private readonly sizes = new Map<GPUBuffer, number>();

  constructor(private readonly device: GPUDevice) {}

  buffer(label: string, size: number, usage: number): GPUBuffer {
    const b = this.device.createBuffer({ label, size: align4(size), usage });
    this.sizes.set(b, align4(size));
    this.live += align4(size);
    return b;
  }

  /** Size of a buffer this pool made (undefined for others). */
  size(b: GPUBuffer): number | undefined {
    return this.sizes.get(b);
  }

  destroy(b: GPUBuffer | null | undefined): void {
    if (!b) return;
    const s = this.sizes.get(b);
    if (s !== undefined) {
      this.live -= s;
      this.sizes.delete(b);
    }
    b.destroy();
  }

  write(b: GPUBuffer, data: ArrayBufferView, offset = 0): void {
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
}

/** The fields of WGSL `struct Region` (shaders/common.wgsl), in order: one u32 each. childStart,
 *  childEnd and rowPtr are word offsets into the same table (see packRegions); parent is NONE at
 *  the root. */
export const REGION_FIELDS = [
  'productStart',
  'size',
  'sumStart',
  'rows',
  'inputStart',
  'variable',
  'childStart',
  'childEnd',
  'edgeStart',
  'nnz',
  'rowPtr',
  'parent',
] as const;
export const REGION_WORDS = REGION_FIELDS.length;

/**
 * The region table: R Region records (REGION_WORDS u32 each), then every region's child regions
 * (region k's at words [childStart, childEnd)), then every region's rows' edge pointers (absolute
 * edge indices, rows + 1 of them from rowPtr: edgePtr[sumStart + j]), padded to whole records.
 * Kernels bind it as `regions: array<Region>` (the records) and, where they read the lists, as
 * `regionWords: array<u32>` (region_forward.wgsl binds only that view, and reads records through
 * regionAt in region_words.wgsl, to stay within 8 storage buffers).
 */
export function packRegions(cc: CompiledCircuit): Uint32Array {
  const R = cc.regions.length;
  let words = R * REGION_WORDS;
  for (const r of cc.regions) words += r.childRegions.length + r.rows + 1;
  const out = new Uint32Array(Math.ceil(words / REGION_WORDS) * REGION_WORDS);
  let at = R * REGION_WORDS;
  const childStart: number[] = [];
  for (const r of cc.regions) {
    childStart.push(at);
    out.set(r.childRegions, at);
    at += r.childRegions.length;
  }
  cc.regions.forEach((r, k) => {
    const rec: Record<(typeof REGION_FIELDS)[number], number> = {
      productStart: r.productStart,
      size: r.size,
      sumStart: r.sumStart,
      rows: r.rows,
      inputStart: r.inputStart,
      variable: r.variable,
      childStart: childStart[k],
      childEnd: childStart[k] + r.childRegions.length,
      edgeStart: r.edgeStart,
      nnz: r.nnz,
      rowPtr: at,
      parent: r.parentRegion < 0 ? NONE : r.parentRegion,
    };
    REGION_FIELDS.forEach((f, i) => (out[k * REGION_WORDS + i] = rec[f]));
    for (let j = 0; j <= r.rows; j++) out[at + j] = cc.edgePtr[r.sumStart + j];
    at += r.rows + 1;
  });
  return out;
}

/** Bytes of `packRegions(cc)` without building it. */
function regionTableBytes(cc: CompiledCircuit): number {
  let words = cc.regions.length * REGION_WORDS;
  for (const r of cc.regions) words += r.childRegions.length + r.rows + 1;
  return Math.ceil(words / REGION_WORDS) * REGION_WORDS * 4;
}

/** The per-load storage buffers of a circuit with chunk capacity `cap`. */
export function allocateBuffers(pool: BufferPool, cc: CompiledCircuit, cap: number, dense: DensePlan): Map<string, GPUBuffer> {
  const buffers = new Map<string, GPUBuffer>();
  const R = cc.regions.length;
  const f = (name: string, bytes: number) => buffers.set(name, pool.buffer(`pc/${name}`, bytes, STORAGE));
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
  f('regions', regionTableBytes(cc));
  f('edgePtr', (cc.numNodes + 1) * 4);
  f('edgeChild', cc.numEdges * 4);
  f('edgeNode', cc.numEdges * 4);
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
  f('denseOff', R * 4);
  f('denseIdx', cc.numEdges * 4);
  f('wdense', dense.size * 4);
  f('denseEdge', dense.size * 4);
  return buffers;
}

/** Uploads structure and parameters (parameters rounded to f32, linear weights from f64). */
export function uploadCircuit(pool: BufferPool, B: Map<string, GPUBuffer>, cc: CompiledCircuit, dense: DensePlan): void {
  const u32 = (a: ArrayLike<number>) => Uint32Array.from(a);
  pool.write(B.get('childPtr')!, u32(cc.childPtr));
  pool.write(B.get('childNode')!, u32(cc.childNode));
  pool.write(B.get('inputVar')!, u32(cc.inputVar));
  pool.write(B.get('regions')!, packRegions(cc));
  pool.write(B.get('edgePtr')!, u32(cc.edgePtr));
  pool.write(B.get('edgeChild')!, u32(cc.edgeChild));
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
  pool.write(B.get('edgeNode')!, edgeNode);
  pool.write(B.get('sumNodes')!, sumNodes);
  pool.write(B.get('parentPtr')!, u32(cc.parentPtr));
  pool.write(B.get('parentNode')!, u32(cc.parentNode));
  // -1 (a product parent) never reaches the product-flow kernel; store it as 0.
  pool.write(
    B.get('parentEdge')!,
    Uint32Array.from(cc.parentEdge, (e) => (e < 0 ? 0 : e)),
  );
  pool.write(B.get('denseOff')!, dense.off);
  pool.write(B.get('denseIdx')!, dense.idx);
  if (dense.size > 0) pool.write(B.get('denseEdge')!, dense.edge);
  writeParams(pool, B, cc, dense);
}

/** Writes the parameters: linear weights (and their dense mirror), log weights, input log probs. */
export function writeParams(pool: BufferPool, B: Map<string, GPUBuffer>, cc: CompiledCircuit, dense: DensePlan): void {
  const w = Float32Array.from(cc.edgeLogWeights, Math.exp);
  pool.write(B.get('weight')!, w);
  if (dense.size > 0) {
    const mirror = new Float32Array(dense.size);
    for (let e = 0; e < w.length; e++) if (dense.idx[e] !== NONE) mirror[dense.idx[e]] = w[e];
    pool.write(B.get('wdense')!, mirror);
  }
  pool.write(B.get('logWeight')!, Float32Array.from(cc.edgeLogWeights));
  pool.write(B.get('logProb')!, Float32Array.from(cc.inputLogProbs));
}

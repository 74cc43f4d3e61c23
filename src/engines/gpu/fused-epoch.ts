// Fused training (`GpuEngine.trainEpochIndexed`): with the dataset resident, an epoch is encoded
// batch by batch (indices and batch uniforms copied on the GPU from epoch-sized tables,
// log-likelihoods copied into an epoch-sized read-back buffer, EM and cleared accumulators after
// each batch) and submitted in slices of calibrated GPU time, one or two slices in flight, with naps
// before each wait where the platform needs them (Dawn on NVIDIA), and one read-back at the end.
import type { EmOptions } from '../em.ts';
import { BAT_BYTES, MAP_READ, READBACK, STORAGE, align4, type BufferPool } from './buffers.ts';
import { encode, type Dispatch, type Model, type ResidentData } from './dispatches.ts';
import type { EngineLimits } from './device.ts';
import type { GpuEngineOptions } from './options.ts';
import type { PassTimer } from './tuning.ts';

/** Fused training's state across epochs and loads. */
export interface FusedState {
  /** GPU ms per sample of forward + backward + flows + EM (0 = not calibrated; reset per load). */
  msPerSample: number;
  /** GPU ms of the last calibrated full batch: timestamp span of the batch (first pass start to last
   *  pass end), or the wall clock without timestamp-query. */
  batchGpuMs: number;
  /** The resident epoch's index list and per-chunk batch uniforms (grown, kept across epochs). */
  epochIdx: GPUBuffer | null;
  epochBat: GPUBuffer | null;
  /** With two slices in flight: one small read-back buffer per slice in flight. */
  markers: GPUBuffer[];
}

/** What a fused epoch needs from the engine. */
export interface FusedHost {
  device: GPUDevice;
  limits: EngineLimits;
  pool: BufferPool;
  timer: PassTimer;
  batUniform: GPUBuffer;
  emUniform: GPUBuffer;
  opts: GpuEngineOptions;
  napBeforeWaitMs: number;
  /** Per-layer timings are on (the calibration then runs every epoch and keeps its labels). */
  timestamps: boolean;
  fused: FusedState;
  submit(enc: GPUCommandEncoder): Promise<void>;
  /** Tunes the kernels on the fed chunk when the model still has candidates (tuning.ts). */
  tune(m: Model, n: number, indexed: boolean): Promise<void>;
  setBatch(n: number, cap: number, flags: number, root: number): void;
  ensureStaging(bytes: number): GPUBuffer;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Throws unless every index is a row of a resident dataset of `count` samples. */
export function checkIndices(indices: Int32Array, count: number): void {
  for (const i of indices) if (i < 0 || i >= count) throw new Error(`sample index ${i} outside the uploaded dataset of ${count}`);
}

/** Grows a fused-training buffer to at least `bytes` (kept across epochs and loads). */
function ensureEpochBuffer(host: FusedHost, which: 'epochIdx' | 'epochBat', bytes: number): GPUBuffer {
  const cur = host.fused[which];
  if (cur && host.pool.size(cur)! >= align4(bytes)) return cur;
  host.pool.destroy(cur);
  const b = host.pool.buffer(`pc/${which}`, Math.max(align4(bytes), 1024), STORAGE);
  host.fused[which] = b;
  return b;
}

/**
 * One epoch of mini-batch EM over rows `order` of the resident dataset: see
 * GpuEngine.trainEpochIndexed for the contract, and the comments below for the slices and naps.
 */
export async function trainEpoch(
  host: FusedHost,
  m: Model,
  ds: ResidentData,
  order: Int32Array,
  batch: number,
  em: EmOptions,
  onBatch?: (done: number, total: number) => void,
): Promise<Float64Array> {
  const { device, limits: L, timer, fused } = host;
  if (!m.pixelsIndexed) throw new Error("GPU engine: uploadDataset (with this circuit's variables) before trainEpochIndexed");
  const count = order.length;
  const out = new Float64Array(count);
  if (count === 0) return out;
  checkIndices(order, ds.count);
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
  const idxBuf = ensureEpochBuffer(host, 'epochIdx', count * 4);
  const batBuf = ensureEpochBuffer(host, 'epochBat', chunks.length * BAT_BYTES);
  host.pool.write(idxBuf, order);
  const bat = new Uint32Array(chunks.length * 4);
  chunks.forEach((c, k) => bat.set([c.n, cap, 2, m.cc.rootNode], k * 4));
  host.pool.write(batBuf, bat);
  if (m.candidates) {
    // Tuning on the first chunk (its indices and batch uniform written as a chunked pass would).
    host.pool.write(m.buffers.get('idx')!, order.subarray(chunks[0].start, chunks[0].start + chunks[0].n));
    host.setBatch(chunks[0].n, cap, 2, m.cc.rootNode);
    await host.tune(m, chunks[0].n, true);
  }
  device.queue.writeBuffer(host.emUniform, 0, new Float32Array([em.step, em.pseudocount, 0, 0]));
  const staging = host.ensureStaging(count * 8);
  const body: Dispatch[] = [m.pixelsIndexed!, ...m.forward, ...m.backward, ...m.accumulate];
  const val = m.buffers.get('val')!;
  const rmax = m.buffers.get('rmax')!;
  const idx = m.buffers.get('idx')!;

  const encodeBatch = (bi: number, timed: boolean): GPUCommandEncoder => {
    const enc = device.createCommandEncoder({ label: `pc/train batch ${bi}` });
    if (bi === 0) {
      enc.clearBuffer(m.buffers.get('acc')!);
      enc.clearBuffer(m.buffers.get('hist')!);
    }
    for (let k = batchChunks[bi]; k < batchChunks[bi + 1]; k++) {
      const { start, n } = chunks[k];
      enc.copyBufferToBuffer(idxBuf, start * 4, idx, 0, n * 4);
      enc.copyBufferToBuffer(batBuf, k * BAT_BYTES, host.batUniform, 0, BAT_BYTES);
      encode(enc, body, n, L, timed ? timer : null);
      enc.copyBufferToBuffer(val, m.cc.rootNode * cap * 4, staging, start * 4, n * 4);
      enc.copyBufferToBuffer(rmax, m.rootRegion * cap * 4, staging, (count + start) * 4, n * 4);
    }
    encode(enc, m.em, 0, L, timed ? timer : null);
    enc.clearBuffer(m.buffers.get('acc')!);
    enc.clearBuffer(m.buffers.get('hist')!);
    return enc;
  };
  const batchSize = (bi: number) => chunks[batchChunks[bi + 1] - 1].start + chunks[batchChunks[bi + 1] - 1].n - chunks[batchChunks[bi]].start;
  const napping = host.napBeforeWaitMs > 0;
  // Measured on an H200 at K = 32 (docs/bench/README.md): small slices overlap the encoding of the
  // next slice with the GPU's work best (60 ms: 94-98k samples/s, 30: 98-106k, 15-20: 101-109k,
  // 8: 98-101k); margins of 1.05-1.1 never let Dawn block on a busy GPU there.
  const sliceMs = host.opts.sliceMs ?? 20;
  const napFactor = host.opts.napFactor ?? 1.1;
  let done = 0;
  let bi = 0;

  // Calibration: the first batch alone (once per load, or every epoch with per-layer timings).
  if (fused.msPerSample <= 0 || host.timestamps) {
    const n0 = batchSize(0);
    const groups = (batchChunks[1] - batchChunks[0]) * (body.length + 1) + m.em.length + 1;
    const timed = timer.canTime && groups * 2 <= 4096; // a query set holds at most 4096 queries
    if (timed) {
      timer.ensure(groups);
      timer.labels = [];
    }
    const enc = encodeBatch(0, timed);
    const labels = timed ? timer.labels.slice() : [];
    if (timed && labels.length) timer.resolveInto(enc, labels.length);
    const t0 = performance.now();
    await host.submit(enc);
    done += n0;
    onBatch?.(done, count);
    // A conservative prior (1e7 edge-samples per ms) keeps the first wait short on a slow GPU.
    const prior = fused.msPerSample > 0 ? 1.5 * fused.msPerSample * n0 : (m.cc.numEdges * n0) / 1e7 + 2;
    if (napping) await sleep(Math.max(host.napBeforeWaitMs, prior));
    await device.queue.onSubmittedWorkDone();
    let gpuMs = performance.now() - t0;
    if (timed && labels.length) {
      const { sum, span } = await timer.read(labels.length);
      // Timestamps can be quantised or zero on some platforms: keep the wall clock then.
      const ts = Math.max(sum, span);
      if (ts > 0) gpuMs = ts;
      timer.labels = labels;
      timer.pending = host.timestamps;
    }
    fused.msPerSample = Math.max(gpuMs, 0.01) / n0;
    fused.batchGpuMs = gpuMs * (Math.min(batch, count) / n0);
    bi = 1;
  }

  // Slices of about sliceMs of GPU time: one submit each; the next slice is encoded while the
  // GPU runs this one, then the engine naps past the slice's expected time and waits.
  const encodeSlice = (from: number) => {
    const bufs: GPUCommandBuffer[] = [];
    let expected = 0;
    let to = from;
    while (to < batches) {
      const ms = fused.msPerSample * batchSize(to);
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
  if ((host.opts.slicesInFlight ?? (napping ? 1 : 2)) === 2) {
    // Two slices in flight: slice k + 1 is queued before the engine waits for slice k, through
    // its marker (4 bytes copied into a read-back buffer after the slice; the map resolves once
    // slice k is done, while k + 1 keeps the GPU busy). With naps, the engine first sleeps until
    // slice k's expected end: napFactor x its GPU time (+ 2 ms) after it could start, the later
    // of its submit and the return of the previous wait (a bound that never runs early, so the
    // estimates do not drift over an epoch).
    while (fused.markers.length < 2) fused.markers.push(host.pool.buffer(`pc/slice-marker ${fused.markers.length}`, 4, READBACK));
    const pending: Array<{ marker: GPUBuffer; submitted: number; expected: number }> = [];
    let slot = 0;
    let lastReturn = performance.now();
    while (next || pending.length > 0) {
      while (next && pending.length < 2) {
        const cur = next;
        const marker = fused.markers[slot];
        slot = 1 - slot;
        const enc = device.createCommandEncoder({ label: 'pc/slice marker' });
        enc.copyBufferToBuffer(idx, 0, marker, 0, 4);
        pending.push({ marker, submitted: performance.now(), expected: cur.expected });
        device.queue.submit([...cur.bufs, enc.finish()]);
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
      if (napping && lastReturn - t1 > 1) fused.msPerSample *= Math.max(1, (lastReturn - anchor) / Math.max(head.expected, 0.01));
    }
  } else {
    // One slice in flight: submit, (nap,) wait, then the next.
    while (next) {
      const cur = next;
      const tSubmit = performance.now();
      device.queue.submit(cur.bufs);
      progress(cur);
      next = cur.to < batches ? encodeSlice(cur.to) : null;
      if (napping) {
        const napMs = cur.expected * (next ? napFactor : napFactor + 0.1) + 2;
        const left = napMs - (performance.now() - tSubmit);
        if (left > 0) await sleep(left);
        const t1 = performance.now();
        await device.queue.onSubmittedWorkDone();
        const waited = performance.now() - t1;
        // The GPU was slower than calibrated: stretch the estimate (by the slice's submit-to-done
        // time over its expected time, an upper bound) so later naps cover it.
        if (waited > 1) fused.msPerSample *= Math.max(1, (performance.now() - tSubmit) / Math.max(cur.expected, 0.01));
      } else await device.queue.onSubmittedWorkDone();
    }
  }
  await staging.mapAsync(MAP_READ, 0, align4(count * 8));
  const data = new Float32Array(staging.getMappedRange(0, align4(count * 8)).slice(0));
  staging.unmap();
  for (let k = 0; k < count; k++) out[k] = data[k] + data[count + k];
  return out;
}

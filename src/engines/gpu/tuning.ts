// Pass timing and kernel tuning. PassTimer holds the timestamp queries (per-layer timings, the
// calibration of naps and of fused training, tuning trials); `passTimes` turns timestamp pairs into
// per-pass ms; `tune` times each pass's candidate kernel families on one chunk and keeps the
// fastest by the margin rule of `pickFastest`. docs/architecture.md, "Engines"; shaders/README.md,
// "Kernel choice".
import type { EngineLimits } from './device.ts';
import { GpuUnavailableError } from './device.ts';
import { MAP_READ, QUERY_RESOLVE, READBACK, type BufferPool } from './buffers.ts';
import { dispatch, passLists, type Model } from './dispatches.ts';
import { KERNEL_PASSES, choiceText, type KernelChoice, type KernelPass, type KernelTuning } from './options.ts';

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

/**
 * The margin rule of tuning: a candidate replaces the current choice only if it is faster by more
 * than this fraction (its time < (1 - TUNE_MARGIN) x the current choice's). Candidates are visited
 * in order, the rule's choice first, so the rule's kernels stay unless another family is clearly
 * faster: two timed runs of one chunk vary by a few percent on a real GPU, and without a margin that
 * noise could flip the choice (and with it the last bits of f32 results) from one load to the next.
 */
export const TUNE_MARGIN = 0.05;

/** The family `tune` keeps for one pass: `cands` in order (the rule's first), `ms` their times. */
export function pickFastest<T extends string>(cands: readonly T[], ms: Partial<Record<T, number>>, margin = TUNE_MARGIN): T {
  let best = cands[0];
  for (const c of cands.slice(1)) {
    const t = ms[c];
    const b = ms[best];
    if (t !== undefined && (b === undefined || t < (1 - margin) * b)) best = c;
  }
  return best;
}

/** Timestamp queries: one begin/end pair per timed compute pass, resolved and read back. */
export class PassTimer {
  querySet: GPUQuerySet | null = null;
  resolve: GPUBuffer | null = null;
  staging: GPUBuffer | null = null;
  /** The timing group of each timed pass of the last timed submit. */
  labels: string[] = [];
  /** Per-layer timings wait in the staging buffer for `layerTimings`. */
  pending = false;

  constructor(
    private readonly device: GPUDevice,
    private readonly pool: BufferPool,
    /** The device has timestamp-query. */
    readonly canTime: boolean,
  ) {}

  /** Query set and buffers for `maxGroups` passes (nothing without timestamp-query). */
  ensure(maxGroups: number): void {
    if (!this.canTime) return;
    const count = maxGroups * 2;
    if (this.querySet && this.querySet.count >= count) return;
    this.querySet?.destroy();
    this.pool.destroy(this.resolve);
    this.pool.destroy(this.staging);
    this.querySet = this.device.createQuerySet({ label: 'pc/timestamps', type: 'timestamp', count });
    this.resolve = this.pool.buffer('pc/timestamps-resolve', count * 8, QUERY_RESOLVE);
    this.staging = this.pool.buffer('pc/timestamps-readback', count * 8, READBACK);
  }

  /** Resolves the first `passes` pairs into the staging buffer (after the passes in `enc`). */
  resolveInto(enc: GPUCommandEncoder, passes: number): void {
    enc.resolveQuerySet(this.querySet!, 0, passes * 2, this.resolve!, 0);
    enc.copyBufferToBuffer(this.resolve!, 0, this.staging!, 0, passes * 16);
  }

  /** Reads the timestamp pairs of `passes` passes (work already finished; resolved into the
   *  staging buffer): per-pass times (`passTimes`), their sum and the span. */
  async read(passes: number): Promise<{ ms: number[]; sum: number; span: number }> {
    await this.staging!.mapAsync(MAP_READ, 0, passes * 16);
    const t = new BigUint64Array(this.staging!.getMappedRange(0, passes * 16).slice(0));
    this.staging!.unmap();
    const { ms, span } = passTimes(t, passes);
    return { ms, sum: ms.reduce((a, b) => a + b, 0), span };
  }

  dispose(): void {
    this.pool.destroy(this.resolve);
    this.pool.destroy(this.staging);
    this.querySet?.destroy();
  }
}

/** What tuning needs from the engine. */
export interface TuningHost {
  device: GPUDevice;
  limits: EngineLimits;
  timer: PassTimer;
  napBeforeWaitMs: number;
  /** Rebuilds the dispatch lists for `m.choice`. */
  rebuild(m: Model): Promise<void>;
  submit(enc: GPUCommandEncoder): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Times each pass's candidate families (m.candidates) on the chunk of n samples already fed (its
 * pixels or indices and the batch uniform written), keeps the fastest per pass (`pickFastest`, with
 * its margin) and rebuilds. Trial t runs candidate t of every pass (a pass with fewer candidates
 * repeats its last): one warm-up run per trial, which also calibrates the naps (the first nap
 * covers a conservative prior: 5e6 edge-samples per ms over the larger of the edges and the dense
 * mirror, and 0.05 ms per dispatch), then two timed rounds, in trial order and in reverse (the GPU
 * can run the first work after a load slower); the better of the two counts. So a tuning costs
 * about 3 x trials chunks of training work. Passes are timed with timestamp-query (each from the
 * previous pass's end, `passTimes`), or by a submit each on the wall clock where the device has
 * none (not with naps on: they would be in the figure; then nothing is tuned). Runs at the first
 * flows pass after a load, while the accumulators still hold the zeros of their new buffers, and
 * clears them after its trials.
 */
export async function tune(host: TuningHost, m: Model, n: number, indexed: boolean): Promise<void> {
  const cands = m.candidates;
  m.candidates = null;
  const napping = host.napBeforeWaitMs > 0;
  const canTime = host.timer.canTime;
  if (!cands || (napping && !canTime)) return;
  const trials = Math.max(...KERNEL_PASSES.map((p) => cands[p].length));
  const configs: KernelChoice[] = [];
  for (let t = 0; t < trials; t++) {
    const at = <P extends KernelPass>(p: P) => cands[p][Math.min(t, cands[p].length - 1)];
    configs.push({ forward: at('forward'), backward: at('backward'), edges: at('edges'), inputs: at('inputs') });
  }
  // Half the rate of the chunk prior (a candidate family has never run on this GPU), plus 0.05 ms
  // per dispatch: small circuits are bound by dependent dispatches, not by edges.
  const prior = (dispatches: number) => (Math.max(m.cc.numEdges, m.dense.size) * n) / 5e6 + 0.05 * dispatches + 2;
  const warmMs: number[] = [];
  const ms: KernelTuning['ms'] = { forward: {}, backward: {}, edges: {}, inputs: {} };
  const failed: string[] = [];
  const rejected = new Set<number>();
  const order = configs.map((_, t) => t);
  const rounds = [order, order, [...order].reverse()]; // the first: warm-up
  host.timer.pending = false;
  for (const [round, trialOrder] of rounds.entries()) {
    for (const t of trialOrder) {
      if (rejected.has(t)) continue;
      m.choice = configs[t];
      try {
        await host.rebuild(m);
      } catch (e) {
        // A trial whose pipelines the device rejects (a driver that cannot compile a kernel) is
        // left out; the rule's kernels (trial 0) must work.
        if (t === 0 || !(e instanceof GpuUnavailableError && e.reason === 'validation')) throw e;
        rejected.add(t);
        failed.push(`${choiceText(configs[t])}: ${e.message}`);
        continue;
      }
      const dispatches = m.forward.length + m.backward.length + m.accumulate.length + 1;
      const got = await timePasses(host, m, indexed, n, napping ? (round > 0 ? 1.5 * warmMs[t] + 2 : prior(dispatches)) : 0);
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
  m.choice = {
    forward: pickFastest(cands.forward, ms.forward),
    backward: pickFastest(cands.backward, ms.backward),
    edges: pickFastest(cands.edges, ms.edges),
    inputs: pickFastest(cands.inputs, ms.inputs),
  };
  await host.rebuild(m);
  const enc = host.device.createCommandEncoder({ label: 'pc/kernel tuning: clear accumulators' });
  enc.clearBuffer(m.buffers.get('acc')!);
  enc.clearBuffer(m.buffers.get('hist')!);
  await host.submit(enc);
  m.tuning = { clock: canTime ? 'timestamps' : 'wall clock', samples: n, ms, chosen: { ...m.choice }, failed };
  m.chunkMs.clear(); // the waits recalibrate on the chosen kernels
}

/** GPU ms of each tuned pass on the fed chunk (after its pixels), napping `napMs` before the wait. */
async function timePasses(host: TuningHost, m: Model, indexed: boolean, n: number, napMs: number): Promise<Record<KernelPass, number>> {
  const { device, limits: L, timer } = host;
  const pixels = indexed ? m.pixelsIndexed : m.pixelsBatch;
  if (!pixels) throw new Error('GPU engine: no dataset uploaded for this circuit (uploadDataset first)');
  const lists = passLists(m);
  const out = { forward: 0, backward: 0, edges: 0, inputs: 0 };
  const enc = device.createCommandEncoder({ label: 'pc/kernel tuning' });
  if (timer.canTime) {
    // The pixels pass is timed too: its end is where the forward's time starts (see passTimes).
    const passes = KERNEL_PASSES.length + 1;
    timer.ensure(passes);
    [[pixels], ...KERNEL_PASSES.map((p) => lists[p])].forEach((list, i) => {
      const label = `pc/kernel tuning: ${i === 0 ? 'pixels' : KERNEL_PASSES[i - 1]}`;
      const timestampWrites = { querySet: timer.querySet!, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
      const pass = enc.beginComputePass({ label, timestampWrites });
      for (const d of list) dispatch(pass, d, n, L);
      pass.end();
    });
    timer.resolveInto(enc, passes);
    await host.submit(enc);
    if (napMs > 0) await sleep(napMs);
    await device.queue.onSubmittedWorkDone();
    const { ms } = await timer.read(passes);
    KERNEL_PASSES.forEach((p, i) => (out[p] = ms[i + 1]));
    return out;
  }
  // Wall clock (no naps here): the pixels, then one submit per pass.
  const first = enc.beginComputePass({ label: 'pc/kernel tuning: pixels' });
  dispatch(first, pixels, n, L);
  first.end();
  await host.submit(enc);
  await device.queue.onSubmittedWorkDone();
  for (const p of KERNEL_PASSES) {
    const e = device.createCommandEncoder({ label: `pc/kernel tuning: ${p}` });
    const pass = e.beginComputePass({ label: `pc/kernel tuning: ${p}` });
    for (const d of lists[p]) dispatch(pass, d, n, L);
    pass.end();
    const t0 = performance.now();
    await host.submit(e);
    await device.queue.onSubmittedWorkDone();
    out[p] = performance.now() - t0;
  }
  return out;
}

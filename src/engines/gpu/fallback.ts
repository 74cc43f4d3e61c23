// A GPU engine with a CPU engine behind it: when the GPU fails (device lost, out of memory, a
// validation error), the failure's sentence goes to `onFallback` and the work continues on a CPU
// engine from the last good parameters, so no completed EM step is lost.
//
// Last good parameters: the compiled circuit's arrays at load, then after every `checkpointEvery`-th
// EM step (a read-back of all parameters; 1 = every step, the default, loses nothing) and at every
// syncParams. Flows accumulated since the last reset / EM step are rebuilt on the CPU by replaying
// the batches that produced them (the Batch objects are kept by reference until the next reset).

import type { CompiledCircuit } from '../../circuit/compile.ts';
import type { EmOptions } from '../em.ts';
import type { Batch, Engine } from '../engine.ts';
import { isGpuError } from './device.ts';
import type { GpuEngine } from './engine.ts';

export interface FallbackOptions {
  /** Read parameters back after every n-th EM step (default 1: after every step). */
  checkpointEvery?: number;
  /** Treat any error from the GPU engine as a GPU failure (default: only GpuUnavailableError). */
  anyError?: boolean;
}

type Pending = { kind: 'batch'; batch: Batch } | { kind: 'indexed'; indices: Int32Array };

export class FallbackEngine implements Engine {
  private gpu: GpuEngine | null;
  private cpu: Engine | null = null;
  private readonly makeCpu: () => Engine;
  private readonly onFallback: (message: string, error: unknown) => void;
  private readonly opts: FallbackOptions;
  private cc: CompiledCircuit | null = null;
  private goodEdges: Float64Array | null = null;
  private goodInputs: Float64Array | null = null;
  private pending: Pending[] = [];
  private steps = 0;
  private dataset: { pixels: Uint8Array; count: number } | null = null;
  /** The sentence of the failure that moved the work to the CPU, if any. */
  failure: string | null = null;

  constructor(gpu: GpuEngine, makeCpu: () => Engine, onFallback: (message: string, error: unknown) => void, opts: FallbackOptions = {}) {
    this.gpu = gpu;
    this.makeCpu = makeCpu;
    this.onFallback = onFallback;
    this.opts = opts;
  }

  get kind(): 'cpu' | 'gpu' {
    return this.gpu ? 'gpu' : 'cpu';
  }

  get adapter(): string {
    return this.gpu ? this.gpu.adapter : `${this.cpu?.adapter ?? 'CPU'} (after a GPU failure)`;
  }

  /** The engine doing the work now. */
  get current(): Engine {
    return (this.gpu ?? this.cpu)!;
  }

  private snapshot(): void {
    const cc = this.cc!;
    this.goodEdges = cc.edgeLogWeights.slice();
    this.goodInputs = cc.inputLogProbs.slice();
  }

  private isFailure(e: unknown): boolean {
    return isGpuError(e) || (!!this.opts.anyError && this.gpu !== null);
  }

  /** Moves to the CPU: last good parameters, replayed flows. */
  private async switchToCpu(e: unknown): Promise<void> {
    const message = e instanceof Error ? e.message : String(e);
    const gpu = this.gpu;
    this.gpu = null;
    this.failure = message;
    try {
      gpu?.dispose();
    } catch {
      // the device may already be gone
    }
    this.onFallback(message, e);
    const cpu = this.makeCpu();
    this.cpu = cpu;
    if (!this.cc) return;
    this.cc.edgeLogWeights.set(this.goodEdges!);
    this.cc.inputLogProbs.set(this.goodInputs!);
    await cpu.load(this.cc);
    for (const p of this.pending) await cpu.accumulateFlows(p.kind === 'batch' ? p.batch : this.indexedBatch(p.indices));
  }

  /** Runs `onGpu`; on a GPU failure switches and runs `onCpu` instead. (A failed resetFlows, which
   *  cannot report since it is synchronous, surfaces in the GPU engine's next call.) */
  private async run<T>(onGpu: (g: GpuEngine) => Promise<T>, onCpu: (c: Engine) => Promise<T>): Promise<T> {
    if (this.gpu) {
      try {
        return await onGpu(this.gpu);
      } catch (e) {
        if (!this.isFailure(e)) throw e;
        await this.switchToCpu(e);
      }
    }
    return onCpu(this.cpu!);
  }

  async load(cc: CompiledCircuit): Promise<void> {
    this.cc = cc;
    this.snapshot();
    this.pending = [];
    this.steps = 0;
    await this.run(
      (g) => g.load(cc),
      (c) => c.load(cc),
    );
  }

  logLikelihood(batch: Batch): Promise<Float64Array> {
    return this.run(
      (g) => g.logLikelihood(batch),
      (c) => c.logLikelihood(batch),
    );
  }

  /** Flows of `batch` (recorded first: when the GPU fails inside this call, the replay on the CPU
   *  already includes it, so only its log-likelihoods are still needed). */
  private async accumulate(p: Pending, batch: () => Batch, onGpu: (g: GpuEngine) => Promise<Float64Array>): Promise<Float64Array> {
    this.pending.push(p);
    if (this.gpu) {
      try {
        return await onGpu(this.gpu);
      } catch (e) {
        if (!this.isFailure(e)) throw e;
        await this.switchToCpu(e);
        return this.cpu!.logLikelihood(batch());
      }
    }
    return this.cpu!.accumulateFlows(batch());
  }

  accumulateFlows(batch: Batch): Promise<Float64Array> {
    return this.accumulate(
      { kind: 'batch', batch },
      () => batch,
      (g) => g.accumulateFlows(batch),
    );
  }

  markedEdgeFlow(batch: Batch, marked: Uint8Array): Promise<Float64Array> {
    return this.run(
      (g) => g.markedEdgeFlow(batch, marked),
      (c) => c.markedEdgeFlow(batch, marked),
    );
  }

  edgeFlows(): Promise<Float64Array> {
    return this.run(
      (g) => g.edgeFlows(),
      (c) => c.edgeFlows(),
    );
  }

  inputFlows(): Promise<Float64Array> {
    return this.run(
      (g) => g.inputFlows(),
      (c) => c.inputFlows(),
    );
  }

  resetFlows(): void {
    this.pending = [];
    this.current.resetFlows();
  }

  async emStep(opts: EmOptions): Promise<void> {
    if (this.gpu) {
      try {
        await this.gpu.emStep(opts);
        this.steps++;
        if (this.steps % Math.max(1, this.opts.checkpointEvery ?? 1) === 0) {
          await this.gpu.syncParams();
          this.snapshot();
        }
        this.pending = [];
        return;
      } catch (e) {
        if (!this.isFailure(e)) throw e;
        // Back to the parameters before this step with its flows replayed; the CPU redoes the step.
        await this.switchToCpu(e);
      }
    }
    // On the CPU nothing can fail any more: no checkpoint to keep.
    await this.cpu!.emStep(opts);
    this.pending = [];
  }

  async syncParams(): Promise<void> {
    await this.run(
      (g) => g.syncParams(),
      (c) => c.syncParams(),
    );
    this.snapshot();
  }

  /** Optional resident-dataset path: forwarded to the GPU; on the CPU, batches are gathered here. */
  async uploadDataset(pixels: Uint8Array, count: number): Promise<void> {
    this.dataset = { pixels, count };
    await this.run(
      (g) => g.uploadDataset(pixels, count),
      async () => undefined,
    );
  }

  private indexedBatch(indices: Int32Array): Batch {
    const ds = this.dataset!;
    const D = Math.round(ds.pixels.length / ds.count);
    const pixels = new Uint8Array(indices.length * D);
    for (let k = 0; k < indices.length; k++) pixels.set(ds.pixels.subarray(indices[k] * D, (indices[k] + 1) * D), k * D);
    return { pixels, count: indices.length };
  }

  accumulateFlowsIndexed(indices: Int32Array): Promise<Float64Array> {
    return this.accumulate(
      { kind: 'indexed', indices },
      () => this.indexedBatch(indices),
      (g) => g.accumulateFlowsIndexed(indices),
    );
  }

  logLikelihoodIndexed(indices: Int32Array): Promise<Float64Array> {
    return this.run(
      (g) => g.logLikelihoodIndexed(indices),
      (c) => c.logLikelihood(this.indexedBatch(indices)),
    );
  }

  dispose(): void {
    this.gpu?.dispose();
    this.cpu?.dispose();
  }
}

// The interface every engine implements (the CPU engine, src/engines/cpu/, and the WebGPU engine,
// src/engines/gpu/), with the types they share (Batch, EmOptions), so the trainer, CLI and worker can
// pick either. Parameters live in the CompiledCircuit the engine was loaded with: `syncParams` makes
// `cc.edgeLogWeights` / `cc.inputLogProbs` current (on the CPU the logs of the input parameters,
// which EM updates in the linear domain only; on the GPU a read-back). Read them only after it.

import type { CompiledCircuit } from '../circuit/compile.ts';
import type { EmOptions } from './em.ts';

export type { EmOptions };

/** Which engine a browser run asks for. `auto`: WebGPU when the browser offers an adapter, else the CPU engine. */
export type EnginePreference = 'auto' | 'gpu' | 'cpu';

/** An engine and, for a GPU one, how many bytes of GPU buffers it holds now. */
export interface EngineHandle {
  engine: Engine;
  /** Bytes of GPU buffers in use (absent or 0 on the CPU engine). */
  gpuBytes?(): number;
}

/** A batch of samples: pixels row-major [count x numVars]; missing[k] = 1 marks pixel k unobserved. */
export interface Batch {
  pixels: Uint8Array;
  count: number;
  missing?: Uint8Array;
}

export interface Engine {
  readonly kind: 'cpu' | 'gpu';
  /** Human-readable backend description ("CPU float32, 2 threads", an adapter name). */
  readonly adapter: string;
  /** (Re)loads a circuit: structure and parameters. Called again after prune / grow. */
  load(cc: CompiledCircuit): Promise<void>;
  /** log p(x) per sample; missing pixels are marginalised. */
  logLikelihood(batch: Batch): Promise<Float64Array>;
  /** Forward + backward: adds the batch's edge and input flows to the accumulators; returns log p(x). */
  accumulateFlows(batch: Batch): Promise<Float64Array>;
  /** Accumulated dataset flows since the last reset: per sum edge, and per (input node, value). */
  edgeFlows(): Promise<Float64Array>;
  inputFlows(): Promise<Float64Array>;
  resetFlows(): void;
  /** EM update from the accumulated flows, then resets them. */
  emStep(opts: EmOptions): Promise<void>;
  /** Makes the compiled circuit's parameter arrays hold the engine's current parameters. */
  syncParams(): Promise<void>;
  /** Per sample, sum over the marked edges of the edge flow F_e(x) (for the pruning bound). */
  markedEdgeFlow(batch: Batch, marked: Uint8Array): Promise<Float64Array>;
  dispose(): void;
  /** Optional: keeps a dataset (row-major bytes, count x numVars) resident for the indexed calls. */
  uploadDataset?(pixels: Uint8Array, count: number): Promise<void>;
  /**
   * Optional fused training: one epoch of mini-batch EM over rows `order` of the uploaded dataset,
   * batches of `batch` rows in order, each accumulate -> emStep(em) exactly as the per-batch loop
   * (starting from cleared flows), without per-batch read-backs. Returns log p(x) per row in `order`
   * order (each before its batch's update). `onBatch` is called as batches are submitted.
   */
  trainEpochIndexed?(order: Int32Array, batch: number, em: EmOptions, onBatch?: (done: number, total: number) => void): Promise<Float64Array>;
}

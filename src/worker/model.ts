// The training worker's model: what the session holds for a run (settings, data splits, engine,
// trainer) and the latest dataset edge flows, shared by the session (src/worker/session.ts) and its
// read-only queries (src/worker/queries.ts).

import type { CompiledCircuit } from '../circuit/compile.ts';
import type { Dataset } from '../data/dataset.ts';
import type { EngineHandle } from '../engines/engine.ts';
import type { TrainConfig, Trainer } from '../training/trainer.ts';
import type { RunConfig } from './protocol.ts';

export interface Model {
  config: RunConfig;
  trainConfig: TrainConfig;
  /** The loaded data's name and shape; its pixels are empty (train and valid hold them, one copy). */
  dataset: Dataset;
  train: Dataset;
  valid: Dataset | null;
  /** The first SNAPSHOT_FLOW_IMAGES (session.ts) training images: the snapshots' flows. */
  flowSample: Dataset;
  handle: EngineHandle;
  trainer: Trainer;
}

/** Latest dataset edge flows and the circuit (and parameter version) they belong to. */
export interface FlowRecord {
  compiled: CompiledCircuit;
  edgeFlows: Float64Array;
  images: number;
  paramsVersion: number;
}

// Shared types of the experiments (issue 5: reproduce the paper's pruning, prune-grow and compression
// claims with this project's own learner). Pure: the runners work the same from the CLI (Node) and from
// a browser Web Worker; where the arithmetic runs is the engine factory's business.

import type { Dataset } from '../data/dataset.ts';
import type { Engine } from '../engines/engine.ts';

export const EXPERIMENT_NAMES = ['prune-curve', 'prune-grow', 'compress'] as const;
export type ExperimentName = (typeof EXPERIMENT_NAMES)[number];

/** Makes a fresh engine; the runner disposes of it. Runners that compare two circuits hold two at once. */
export type EngineFactory = () => Promise<Engine>;

/** The data of one run: training and validation from the same pool, test from elsewhere (or held out). */
export interface ExperimentData {
  train: Dataset;
  valid: Dataset | null;
  test: Dataset;
  /** Says in words where the test images come from (official MNIST test split, held-out embedded digits). */
  testSource: string;
  /** Says in words where the training images come from. */
  trainSource: string;
}

/** Counts and sources as they go into every result. */
export interface DataSummary {
  train_source: string;
  test_source: string;
  train: number;
  valid: number;
  test: number;
}

export function summarizeData(d: ExperimentData): DataSummary {
  return { train_source: d.trainSource, test_source: d.testSource, train: d.train.count, valid: d.valid?.count ?? 0, test: d.test.count };
}

/** Mini-batch EM settings (the reference settings of docs/architecture.md, "EM", by default). */
export interface EmSettings {
  batch: number;
  step: number;
  pseudocount: number;
}

export const REFERENCE_EM: EmSettings = { batch: 512, step: 0.1, pseudocount: 0.1 };

/** One progress report: `step` of `steps` (the progress bar) and a sentence for people. */
export interface ExperimentProgress {
  event: 'progress';
  experiment: ExperimentName;
  stage: string;
  step: number;
  steps: number;
  message: string;
}

export type ProgressFn = (p: ExperimentProgress) => void;

/** One EM epoch as the runners record it. */
export interface EpochRow {
  epoch: number;
  train_bpd: number;
  valid_bpd: number | null;
  seconds: number;
}

/** Seconds since `t0` (performance.now() exists in Node and in workers). */
export function secondsSince(t0: number): number {
  return (performance.now() - t0) / 1000;
}

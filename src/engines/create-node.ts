// Engine selection in Node (CLI, benchmarks): the CPU engine with worker_threads shards.
import { UserError } from '../util/errors.ts';
import { CpuEngine } from './cpu/engine.ts';
import type { Precision } from './cpu/evaluator.ts';
import { spawnNodeShard } from './cpu/node-threads.ts';
import type { Engine } from './engine.ts';

export const ENGINE_KINDS = ['cpu', 'gpu'] as const;
export type EngineKind = (typeof ENGINE_KINDS)[number];

export interface NodeEngineOptions {
  threads?: number;
  precision?: Precision;
}

export async function createNodeEngine(kind: EngineKind, opts: NodeEngineOptions = {}): Promise<Engine> {
  if (kind === 'gpu') {
    throw new UserError('--engine gpu: the WebGPU engine is not part of this build yet; use --engine cpu');
  }
  const threads = opts.threads ?? 2;
  return new CpuEngine({ threads, precision: opts.precision ?? 'float32', spawnShard: threads > 1 ? spawnNodeShard : undefined });
}

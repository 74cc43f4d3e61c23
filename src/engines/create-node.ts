// Engine selection in Node (CLI, benchmarks): the CPU engine with worker_threads shards, or the
// WebGPU engine through the `webgpu` package (adapter found by node-gpu.ts), optionally with the
// CPU engine behind it as a fallback.
import { UserError } from '../util/errors.ts';
import { CpuEngine } from './cpu/engine.ts';
import type { Precision } from './cpu/evaluator.ts';
import { spawnNodeShard } from './cpu/node-threads.ts';
import type { Engine } from './engine.ts';
import { isGpuError } from './gpu/device.ts';
import { FallbackEngine } from './gpu/fallback.ts';
import { createNodeGpuEngine } from './gpu/node-gpu.ts';
import type { HeightKernelChoice } from './gpu/engine.ts';

export const ENGINE_KINDS = ['cpu', 'gpu'] as const;
export type EngineKind = (typeof ENGINE_KINDS)[number];

export interface NodeEngineOptions {
  threads?: number;
  precision?: Precision;
  /** GPU: continue on the CPU engine when the GPU fails mid-run (the sentence goes to `onFallback`). */
  gpuFallback?: boolean;
  onFallback?: (message: string) => void;
  /** GPU: sleep before waiting on the GPU (Dawn on NVIDIA aborts on long blocking waits). */
  napBeforeWaitMs?: number;
  /** GPU: the forward and backward kernels per height (GpuEngineOptions.forwardKernel/backwardKernel). */
  gpuKernels?: HeightKernelChoice;
  /** GPU: kernel tuning on or off (GpuEngineOptions.tuneKernels; default: on real GPUs). */
  gpuTune?: boolean;
}

function cpuEngine(opts: NodeEngineOptions): CpuEngine {
  const threads = opts.threads ?? 2;
  return new CpuEngine({ threads, precision: opts.precision ?? 'float32', spawnShard: threads > 1 ? spawnNodeShard : undefined });
}

export async function createNodeEngine(kind: EngineKind, opts: NodeEngineOptions = {}): Promise<Engine> {
  if (kind === 'gpu') {
    try {
      // SPC_GPU_NAP_MS > 0 turns on the nap protocol that Dawn needs on NVIDIA (docs/architecture.md, "WebGPU engine").
      const kernels = opts.gpuKernels ?? 'auto';
      const gpu = await createNodeGpuEngine({
        napBeforeWaitMs: opts.napBeforeWaitMs ?? (Number(process.env.SPC_GPU_NAP_MS) || 0),
        forwardKernel: kernels,
        backwardKernel: kernels,
        tuneKernels: opts.gpuTune,
      });
      if (!opts.gpuFallback) return gpu;
      return new FallbackEngine(
        gpu,
        () => cpuEngine(opts),
        (m) => (opts.onFallback ?? ((s: string) => process.stderr.write(`${s}\n`)))(m),
      );
    } catch (e) {
      if (isGpuError(e)) throw new UserError(`--engine gpu: ${e.message}`);
      throw e;
    }
  }
  return cpuEngine(opts);
}

// Engine selection in the browser (the playground's training worker), the counterpart of
// create-node.ts: WebGPU when the page asks for it (or for 'auto') and the browser offers an adapter,
// with a CPU engine behind it (FallbackEngine) so a lost device continues on the CPU; otherwise the
// CPU engine, with a sentence saying why. A missing GPU never fails the run: the visitor gets the CPU
// engine and a notice, for 'gpu' as for 'auto'.
import { CpuEngine } from './cpu/engine.ts';
import type { Engine, EngineHandle, EnginePreference } from './engine.ts';
import { isGpuError, requestGpuDevice } from './gpu/device.ts';
import { GpuEngine } from './gpu/engine.ts';
import { FallbackEngine } from './gpu/fallback.ts';

export interface BrowserEngineOptions {
  /** navigator.gpu of the page or worker (undefined where the browser has no WebGPU). */
  gpu: GPU | null | undefined;
  /** WGSL sources by file name (shaders-vite.ts's loadViteShaders); only read when WebGPU is used. */
  shaders: () => Record<string, string>;
}

/** Sentence when the browser has no WebGPU at all. */
export const NO_WEBGPU_NOTICE =
  'This browser has no WebGPU (navigator.gpu is missing), so training runs on the CPU engine, which is much slower; Chrome 113 or later has WebGPU.';
/** Sentence when WebGPU exists but gives no adapter. */
export const NO_ADAPTER_NOTICE =
  'WebGPU is present but offers no adapter (no usable GPU driver, or the GPU is blocklisted), so training runs on the CPU engine, which is much slower.';

/** The CPU engine of a worker: one thread (this worker is the only one), float32 (the fast mode). */
export function browserCpuEngine(): Engine {
  return new CpuEngine({ threads: 1, precision: 'float32' });
}

function cpuHandle(): EngineHandle {
  return { engine: browserCpuEngine(), gpuBytes: () => 0 };
}

/**
 * The engine for a run. `onNotice` gets one sentence whenever the visitor should know which engine
 * runs and why (no WebGPU, no adapter, a GPU that failed to start, a GPU lost mid-run).
 */
export async function createBrowserEngine(pref: EnginePreference, onNotice: (message: string) => void, opts: BrowserEngineOptions): Promise<EngineHandle> {
  if (pref === 'cpu') return cpuHandle();
  if (!opts.gpu) {
    onNotice(NO_WEBGPU_NOTICE);
    return cpuHandle();
  }
  let gpu: GpuEngine;
  try {
    // The adapter first (the commonest reason to fall back), then the engine on its device.
    const ctx = await requestGpuDevice(opts.gpu, { timestamps: true });
    try {
      gpu = new GpuEngine(ctx, { shaders: opts.shaders() });
    } catch (e) {
      ctx.device.destroy();
      throw e;
    }
  } catch (e) {
    if (isGpuError(e) && e.reason === 'no-adapter' && /no (usable )?GPU adapter/.test(e.message)) onNotice(NO_ADAPTER_NOTICE);
    else {
      // Any other failure to start (a limit, a refused device, a shader problem) also falls back:
      // the run goes on, and the sentence says what happened.
      const why = (e instanceof Error ? e.message : String(e)).split('\n')[0].replace(/[.;:]\s*$/, '');
      onNotice(`The GPU engine could not start (${why}), so training runs on the CPU engine.`);
    }
    return cpuHandle();
  }
  const engine = new FallbackEngine(gpu, browserCpuEngine, (message) => {
    onNotice(`The GPU failed, so training continues on the CPU engine from the last EM step (${message.replace(/[.;:]\s*$/, '')}).`);
  });
  return { engine, gpuBytes: () => (engine.kind === 'gpu' ? gpu.liveBytes() : 0) };
}

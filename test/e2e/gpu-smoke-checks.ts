// The WebGPU engine against the CPU engine's float64 oracle, run inside the browser (page and Web
// Worker) by gpu-smoke.html: forward (with missing pixels), flows, and one EM step on random small
// circuits, a pruned one included. Returns the largest deviations for the Node test to assert on.
import { compileCircuit } from '../../src/circuit/compile.ts';
import { edgeScores, removeEdges, selectEdgesToPrune } from '../../src/circuit/prune.ts';
import { buildTreeCircuit, randomTree } from '../../src/circuit/tree.ts';
import { CpuEngine } from '../../src/engines/cpu/engine.ts';
import { GpuEngine, type GpuEngineOptions } from '../../src/engines/gpu/engine.ts';
import { loadViteShaders } from '../../src/engines/gpu/shaders-vite.ts';
import { Rng } from '../../src/util/rng.ts';

export interface SmokeResult {
  adapter: string;
  circuits: number;
  maxLlError: number;
  maxEdgeFlowRelError: number;
  maxInputFlowRelError: number;
  maxParamError: number;
  meanLl: number;
}

function relError(a: Float64Array, b: Float64Array): number {
  let worst = 0;
  for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs(a[k] - b[k]) / Math.max(1e-3, Math.abs(b[k])));
  return worst;
}

/** `options`: kernel choices on top of the defaults (the page also runs the per-height kernels). */
export async function runSmokeChecks(gpu: GPU, options: Partial<GpuEngineOptions> = {}): Promise<SmokeResult> {
  const engine = await GpuEngine.create(gpu, { ...options, shaders: loadViteShaders() });
  const result: SmokeResult = {
    adapter: engine.adapter,
    circuits: 0,
    maxLlError: 0,
    maxEdgeFlowRelError: 0,
    maxInputFlowRelError: 0,
    maxParamError: 0,
    meanLl: 0,
  };
  try {
    for (const [seed, D, V, K, prune] of [
      [1, 9, 5, 3, 0],
      [2, 14, 8, 5, 0.5],
      [3, 6, 3, 1, 0],
    ]) {
      const rng = new Rng(seed);
      let c = buildTreeCircuit(randomTree(D, rng), V, K, rng);
      if (prune > 0) {
        const cc0 = compileCircuit(c);
        c = removeEdges(c, cc0, selectEdgesToPrune(cc0, edgeScores(cc0, 'random', null, seed), prune));
      }
      const count = 37; // not a multiple of any tile
      const pixels = new Uint8Array(count * D);
      const missing = new Uint8Array(count * D);
      for (let k = 0; k < pixels.length; k++) {
        pixels[k] = rng.int(V);
        missing[k] = rng.uniform() < 0.2 ? 1 : 0;
      }
      const ccGpu = compileCircuit(c);
      const ccCpu = compileCircuit(c);
      const cpu = new CpuEngine({ precision: 'float64' });
      await engine.load(ccGpu);
      await cpu.load(ccCpu);
      const batch = { pixels, count, missing };
      const llG = await engine.logLikelihood(batch);
      const llC = await cpu.logLikelihood(batch);
      for (let b = 0; b < count; b++) {
        result.maxLlError = Math.max(result.maxLlError, Math.abs(llG[b] - llC[b]));
        result.meanLl += llC[b] / count;
      }
      engine.resetFlows();
      cpu.resetFlows();
      await engine.accumulateFlows({ pixels, count });
      await cpu.accumulateFlows({ pixels, count });
      result.maxEdgeFlowRelError = Math.max(result.maxEdgeFlowRelError, relError(await engine.edgeFlows(), await cpu.edgeFlows()));
      result.maxInputFlowRelError = Math.max(result.maxInputFlowRelError, relError(await engine.inputFlows(), await cpu.inputFlows()));
      await engine.emStep({ step: 0.1, pseudocount: 0.1 });
      await cpu.emStep({ step: 0.1, pseudocount: 0.1 });
      await cpu.syncParams(); // EM leaves the CPU's input logs to syncParams
      await engine.syncParams();
      for (let e = 0; e < ccCpu.numEdges; e++) {
        result.maxParamError = Math.max(result.maxParamError, Math.abs(Math.exp(ccGpu.edgeLogWeights[e]) - Math.exp(ccCpu.edgeLogWeights[e])));
      }
      for (let k = 0; k < ccCpu.inputLogProbs.length; k++) {
        result.maxParamError = Math.max(result.maxParamError, Math.abs(Math.exp(ccGpu.inputLogProbs[k]) - Math.exp(ccCpu.inputLogProbs[k])));
      }
      cpu.dispose();
      result.circuits++;
    }
  } finally {
    engine.dispose();
  }
  return result;
}

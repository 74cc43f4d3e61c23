// The dense-block kernels forced on (GEMM sum forward, GEMM product flows, tiled edge flows, the
// reduce region max) against the float64 CPU oracle: dense and pruned blocks (zero-padded mirror),
// regions larger than one tile (K=70: two row tiles of 64, inner chunks), more samples than a tile,
// the 16 KiB / 256-invocation WebGPU minimum, EM keeping the mirror in step, and 'auto' keeping the
// barrier-free kernels on software adapters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Circuit } from '../../../src/circuit/structure.ts';
import type { GpuEngine, KernelPass } from '../../../src/engines/gpu/engine.ts';
import type { KernelName } from '../../../src/engines/gpu/kernels.ts';
import { compiledPair, gpuEngine, maxAbsErr, maxRelErr, oracle, planHas, prunedCircuit, randomBatch, treeCircuit } from './helpers.ts';

let dense: GpuEngine;
beforeAll(async () => {
  dense = await gpuEngine({
    maxChunk: 150,
    sumKernel: 'gemm',
    flowKernel: 'gemm',
    edgeKernel: 'tiled',
    regionMax: 'reduce',
    inputKernel: 'workgroup',
    capLimits: { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256 },
  });
});
afterAll(() => dense?.dispose());

const cases: Array<[string, () => Circuit, number, number, number]> = [
  ['tree D=5 V=4 K=70 (two row tiles)', () => treeCircuit(51, 5, 4, 70), 4, 137, 0.1],
  ['tree D=7 V=6 K=20', () => treeCircuit(52, 7, 6, 20), 6, 150, 0],
  ['pruned D=9 V=5 K=24 (mirror padding)', () => prunedCircuit(53, 9, 5, 24, 0.6), 5, 90, 0.2],
  ['pruned+grown D=6 V=3 K=5', () => prunedCircuit(54, 6, 3, 5, 0.5, true), 3, 33, 0],
];

describe('GPU dense-block kernels', () => {
  for (const [name, make, V, count, miss] of cases) {
    it(`${name}: forward, flows, EM, marked flows`, async () => {
      const c = make();
      const [a, b] = compiledPair(c);
      const D = c.numVars;
      const cpu = await oracle(a);
      await dense.load(b);
      const plan = dense.kernelPlan;
      expect(planHas(plan, 'sumGemm', 'forward') && planHas(plan, 'sumGemm', 'backward')).toBe(true);
      expect(planHas(plan, 'edgeFlowGemm') && planHas(plan, 'regionMaxReduce')).toBe(true);
      const batch = randomBatch(count, count, D, V, miss);
      expect(maxAbsErr(await dense.logLikelihood(batch), await cpu.logLikelihood(batch))).toBeLessThan(1e-4);
      const b2 = randomBatch(count + 1, 41, D, V, miss);
      for (const x of [batch, b2]) expect(maxAbsErr(await dense.accumulateFlows(x), await cpu.accumulateFlows(x))).toBeLessThan(1e-4);
      expect(maxRelErr(await dense.edgeFlows(), await cpu.edgeFlows(), 1e-3)).toBeLessThan(1e-3);
      expect(maxRelErr(await dense.inputFlows(), await cpu.inputFlows(), 1e-3)).toBeLessThan(1e-3);
      await cpu.emStep({ step: 0.3, pseudocount: 0.1 });
      await cpu.syncParams(); // EM leaves the CPU's input logs to syncParams
      await dense.emStep({ step: 0.3, pseudocount: 0.1 });
      await dense.syncParams();
      expect(maxAbsErr(b.edgeLogWeights, a.edgeLogWeights)).toBeLessThan(1e-5);
      expect(maxAbsErr(b.inputLogProbs, a.inputLogProbs)).toBeLessThan(1e-5);
      // The forward pass after EM reads the refreshed mirror.
      expect(maxAbsErr(await dense.accumulateFlows(b2), await cpu.accumulateFlows(b2))).toBeLessThan(1e-4);
      expect(maxRelErr(await dense.edgeFlows(), await cpu.edgeFlows(), 1e-3)).toBeLessThan(1e-3);
      dense.resetFlows();
      cpu.resetFlows();
      const marked = Uint8Array.from({ length: a.numEdges }, (_, e) => (e % 3 === 1 ? 1 : 0));
      expect(maxAbsErr(await dense.markedEdgeFlow(b2, marked), await cpu.markedEdgeFlow(b2, marked))).toBeLessThan(1e-4);
    });
  }

  // The rules of 'auto' on a real GPU, without tuning (test/engines/gpu/tune.test.ts tunes).
  it("'auto' as on a real GPU: per-kernel thresholds mix kernel families (dense sums and edges, gathered product flows)", async () => {
    const c = prunedCircuit(56, 12, 5, 12, 0.55, true);
    const [a, b] = compiledPair(c);
    const gpu = await gpuEngine({ emulated: false, tuneKernels: false, maxChunk: 64, minDenseMeanRows: 1, denseThreshold: { sum: 0, edge: 0, flow: 2 } });
    try {
      await gpu.load(b);
      const plan = gpu.kernelPlan;
      const want: Array<[KernelName, KernelPass]> = [
        ['sumGemm', 'forward'],
        ['edgeFlowGemm', 'edges'],
        ['productFlow', 'backward'],
        ['regionMaxReduce', 'forward'],
      ];
      for (const [k, p] of want) expect(planHas(plan, k, p), k).toBe(true);
      expect(planHas(plan, 'sumTiled') || planHas(plan, 'sumGemm', 'backward')).toBe(false);
      const cpu = await oracle(a);
      const batch = randomBatch(56, 70, c.numVars, 5, 0.1);
      expect(maxAbsErr(await gpu.accumulateFlows(batch), await cpu.accumulateFlows(batch))).toBeLessThan(1e-4);
      expect(maxRelErr(await gpu.edgeFlows(), await cpu.edgeFlows(), 1e-3)).toBeLessThan(1e-3);
      await cpu.emStep({ step: 0.5, pseudocount: 0.1 });
      await cpu.syncParams(); // EM leaves the CPU's input logs to syncParams
      await gpu.emStep({ step: 0.5, pseudocount: 0.1 });
      expect(maxAbsErr(await gpu.logLikelihood(batch), await cpu.logLikelihood(batch))).toBeLessThan(1e-4);
      await gpu.syncParams();
      expect(maxAbsErr(b.edgeLogWeights, a.edgeLogWeights)).toBeLessThan(1e-5);
    } finally {
      gpu.dispose();
    }
  });

  it("'auto' as on a real GPU decides per circuit: full blocks dense, small partly pruned blocks CSR", async () => {
    const gpu = await gpuEngine({ emulated: false, tuneKernels: false });
    try {
      await gpu.load(compiledPair(treeCircuit(57, 8, 4, 12))[0]);
      expect(planHas(gpu.kernelPlan, 'sumGemm', 'forward')).toBe(true);
      expect(planHas(gpu.kernelPlan, 'sumTiled')).toBe(false);
      await gpu.load(compiledPair(prunedCircuit(57, 10, 4, 12, 0.6, true))[0]);
      expect(planHas(gpu.kernelPlan, 'sumGemm') || planHas(gpu.kernelPlan, 'edgeFlowGemm')).toBe(false);
    } finally {
      gpu.dispose();
    }
  });

  it("'auto' keeps the barrier-free kernels on a software adapter, and a density threshold of 2 keeps CSR kernels", async () => {
    const c = treeCircuit(55, 6, 4, 8);
    const auto = await gpuEngine();
    try {
      await auto.load(compiledPair(c)[0]);
      if (auto.cpuEmulated) {
        const barriers: KernelName[] = ['sumGemm', 'edgeFlowGemm', 'sumTiled', 'regionMaxReduce', 'inputHistTiled'];
        expect(barriers.some((k) => planHas(auto.kernelPlan, k))).toBe(false);
        expect(planHas(auto.kernelPlan, 'inputHist', 'inputs')).toBe(true);
      }
    } finally {
      auto.dispose();
    }
    const csr = await gpuEngine({ sumKernel: 'tiled', edgeKernel: 'lanes', regionMax: 'serial', denseThreshold: 2 });
    try {
      await csr.load(compiledPair(c)[0]);
      expect((['sumGemm', 'edgeFlowGemm', 'regionMaxReduce'] as const).some((k) => planHas(csr.kernelPlan, k))).toBe(false);
    } finally {
      csr.dispose();
    }
  });
});

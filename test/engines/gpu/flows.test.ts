// GPU backward pass (edge flows, input-flow histograms), EM and marked-edge flows against the
// float64 CPU oracle, on random, pruned and grown circuits (K not a power of two, regions of size 1,
// batches that are not a multiple of the tile or the chunk, missing pixels).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Circuit } from '../../../src/circuit/structure.ts';
import type { GpuEngine } from '../../../src/engines/gpu/engine.ts';
import { compiledPair, gpuEngine, maxAbsErr, maxRelErr, oracle, planHas, prunedCircuit, randomBatch, treeCircuit } from './helpers.ts';

// Engines: the barrier-free kernels (gather sums, one thread per edge; what 'auto' picks on
// SwiftShader), the workgroup kernels (tiled sums, 32-lane edge reductions, workgroup input
// histograms and input EM), the per-height forward and backward kernels (several row and product
// blocks per region), and two mixes of families across passes, as kernel tuning may pick them
// (per-height forward with the dense product-flow and edge-flow GEMMs; the dense sum GEMM with the
// per-height backward).
let plain: GpuEngine;
let tiled: GpuEngine;
let perHeight: GpuEngine;
let mixedA: GpuEngine;
let mixedB: GpuEngine;
beforeAll(async () => {
  plain = await gpuEngine({ maxChunk: 40, sumKernel: 'gather', edgeKernel: 'per-edge' });
  tiled = await gpuEngine({ maxChunk: 40, sumKernel: 'tiled', edgeKernel: 'lanes', inputKernel: 'workgroup', tileRows: 2, napBeforeWaitMs: 1 }); // several row blocks per region; naps (calibrated waits)
  perHeight = await gpuEngine({ maxChunk: 40, forwardKernel: 'height', backwardKernel: 'height', edgeKernel: 'lanes', tileRows: 2 });
  mixedA = await gpuEngine({ maxChunk: 40, forwardKernel: 'height', backwardKernel: 'layered', flowKernel: 'gemm', edgeKernel: 'tiled', tileRows: 2 });
  mixedB = await gpuEngine({
    maxChunk: 40,
    sumKernel: 'gemm',
    forwardKernel: 'layered',
    backwardKernel: 'height',
    edgeKernel: 'lanes',
    inputKernel: 'workgroup',
    tileRows: 2,
  });
});
afterAll(() => {
  for (const g of [plain, tiled, perHeight, mixedA, mixedB]) g?.dispose();
});

const cases: Array<[string, () => Circuit, number, number, number]> = [
  ['tree D=6 V=3 K=1', () => treeCircuit(11, 6, 3, 1), 3, 23, 0],
  ['tree D=10 V=16 K=3', () => treeCircuit(12, 10, 16, 3), 16, 45, 0.25],
  ['pruned D=15 V=5 K=7', () => prunedCircuit(13, 15, 5, 7, 0.7), 5, 61, 0],
  ['pruned+grown D=8 V=4 K=3', () => prunedCircuit(14, 8, 4, 3, 0.5, true), 4, 37, 0.1],
];

describe('GPU flows and EM', () => {
  const kernelSets = [
    'gather sums, per-edge reduction',
    'tiled sums, lane edge reduction',
    'one forward and one backward kernel per height',
    'per-height forward, dense flows',
    'dense sums, per-height backward',
  ];
  for (const [k, [name, make, V, count, miss]] of cases.flatMap((c) => kernelSets.map(() => c)).entries()) {
    const kernels = kernelSets[k % kernelSets.length];
    it(`${name} (${kernels}): edge and input flows over two batches, EM, marked flows`, async () => {
      const gpu = [plain, tiled, perHeight, mixedA, mixedB][k % kernelSets.length];
      const c = make();
      const [a, b] = compiledPair(c);
      const D = c.numVars;
      const cpu = await oracle(a);
      await gpu.load(b);
      if (gpu === perHeight) {
        expect(planHas(gpu.kernelPlan, 'regionBackward')).toBe(true);
        expect(planHas(gpu.kernelPlan, 'productFlow') || planHas(gpu.kernelPlan, 'sumGemm', 'backward')).toBe(false);
      }
      if (gpu === mixedA) expect(gpu.kernelChoice).toEqual({ forward: 'height', backward: 'dense', edges: 'dense', inputs: 'node' });
      if (gpu === mixedB) expect(gpu.kernelChoice).toEqual({ forward: 'dense', backward: 'height', edges: 'csr', inputs: 'workgroup' });
      const b1 = randomBatch(count, count, D, V, miss);
      const b2 = randomBatch(count + 1, count + 5, D, V, miss);
      for (const batch of [b1, b2]) {
        const want = await cpu.accumulateFlows(batch);
        const got = await gpu.accumulateFlows(batch);
        expect(maxAbsErr(got, want)).toBeLessThan(1e-4);
      }
      const ef = await gpu.edgeFlows();
      const efWant = await cpu.edgeFlows();
      expect(maxRelErr(ef, efWant, 1e-3)).toBeLessThan(1e-3);
      const inf = await gpu.inputFlows();
      const infWant = await cpu.inputFlows();
      expect(maxRelErr(inf, infWant, 1e-3)).toBeLessThan(1e-3);

      // EM (mini-batch step, then full step) on the same flows.
      await cpu.emStep({ step: 0.3, pseudocount: 0.1 });
      await cpu.syncParams(); // EM leaves the CPU's input logs to syncParams
      await gpu.emStep({ step: 0.3, pseudocount: 0.1 });
      await gpu.syncParams();
      expect(maxAbsErr(b.edgeLogWeights, a.edgeLogWeights)).toBeLessThan(1e-5);
      expect(maxAbsErr(b.inputLogProbs, a.inputLogProbs)).toBeLessThan(1e-5);
      // EM reset the accumulators.
      expect(Math.max(...(await gpu.edgeFlows()))).toBe(0);

      await cpu.accumulateFlows(b1);
      await gpu.accumulateFlows(b1);
      await cpu.emStep({ step: 1, pseudocount: 0.5 });
      await cpu.syncParams(); // EM leaves the CPU's input logs to syncParams
      await gpu.emStep({ step: 1, pseudocount: 0.5 });
      await gpu.syncParams();
      expect(maxAbsErr(b.edgeLogWeights, a.edgeLogWeights)).toBeLessThan(1e-5);
      expect(maxAbsErr(b.inputLogProbs, a.inputLogProbs)).toBeLessThan(1e-5);

      // resetFlows clears.
      await gpu.accumulateFlows(b2);
      gpu.resetFlows();
      expect(Math.max(...(await gpu.inputFlows()))).toBe(0);

      // Marked-edge flows (every third edge), after parameters changed.
      const marked = Uint8Array.from({ length: a.numEdges }, (_, e) => (e % 3 === 1 ? 1 : 0));
      const mWant = await cpu.markedEdgeFlow(b2, marked);
      const mGot = await gpu.markedEdgeFlow(b2, marked);
      expect(maxAbsErr(mGot, mWant)).toBeLessThan(1e-4);
      // The marked pass accumulates nothing.
      expect(Math.max(...(await gpu.edgeFlows()))).toBe(0);
    });
  }

  it('workgroup input kernels over several sample tiles (300 samples, V = 256, missing pixels): input flows and EM', async () => {
    const gpu = await gpuEngine({ maxChunk: 512, inputKernel: 'workgroup' });
    try {
      const c = treeCircuit(15, 6, 256, 3);
      const [a, b] = compiledPair(c);
      const cpu = await oracle(a);
      await gpu.load(b);
      expect(planHas(gpu.kernelPlan, 'inputHistTiled', 'inputs')).toBe(true);
      const batch = randomBatch(16, 300, c.numVars, 256, 0.2);
      expect(maxAbsErr(await gpu.accumulateFlows(batch), await cpu.accumulateFlows(batch))).toBeLessThan(1e-4);
      expect(maxRelErr(await gpu.inputFlows(), await cpu.inputFlows(), 1e-3)).toBeLessThan(1e-3);
      await cpu.emStep({ step: 0.5, pseudocount: 0.1 });
      await cpu.syncParams();
      await gpu.emStep({ step: 0.5, pseudocount: 0.1 });
      await gpu.syncParams();
      expect(maxAbsErr(b.inputLogProbs, a.inputLogProbs)).toBeLessThan(1e-5);
    } finally {
      gpu.dispose();
    }
  });
});

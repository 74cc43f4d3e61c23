// GPU forward pass (log-likelihoods) against the float64 CPU oracle.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuEngine } from '../../../src/engines/gpu/engine.ts';
import { compiledPair, gpuEngine, maxAbsErr, oracle, planHas, prunedCircuit, randomBatch, sumSteps, treeCircuit } from './helpers.ts';

let gpu: GpuEngine;
beforeAll(async () => {
  gpu = await gpuEngine({ maxChunk: 48 });
});
afterAll(() => gpu?.dispose());

describe('GPU forward', () => {
  it('reports the adapter', () => {
    expect(gpu.kind).toBe('gpu');
    expect(gpu.adapter).toMatch(/WebGPU: /);
  });

  for (const [seed, D, V, K, count, miss] of [
    [1, 5, 3, 1, 7, 0],
    [2, 9, 16, 3, 53, 0],
    [3, 12, 7, 5, 100, 0.3],
    [4, 20, 4, 7, 33, 0.1],
  ]) {
    it(`tree D=${D} V=${V} K=${K}, ${count} samples, missing ${miss}`, async () => {
      const [a, b] = compiledPair(treeCircuit(seed, D, V, K));
      const cpu = await oracle(a);
      await gpu.load(b);
      const batch = randomBatch(seed, count, D, V, miss);
      const want = await cpu.logLikelihood(batch);
      const got = await gpu.logLikelihood(batch);
      expect(maxAbsErr(got, want)).toBeLessThan(1e-4);
    });
  }

  it('the per-height forward kernel (products, region max, sums in one dispatch) matches the oracle', async () => {
    // Several row blocks per region (tileRows 2), a batch that is not a multiple of the tile, missing
    // pixels, regions of size 1 (K=1), a pruned + grown circuit, and 16 KiB of workgroup storage.
    const heightGpu = await gpuEngine({
      maxChunk: 48,
      forwardKernel: 'height',
      tileRows: 2,
      capLimits: { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256 },
    });
    try {
      const cases: Array<[ReturnType<typeof treeCircuit>, number, number, number, number]> = [
        [treeCircuit(1, 5, 3, 1), 7, 5, 3, 0],
        [treeCircuit(3, 12, 7, 5), 100, 12, 7, 0.3],
        [prunedCircuit(5, 14, 6, 5, 0.6, true), 70, 14, 6, 0.2],
      ];
      for (const [c, count, D, V, miss] of cases) {
        const [a, b] = compiledPair(c);
        const cpu = await oracle(a);
        await heightGpu.load(b);
        expect(planHas(heightGpu.kernelPlan, 'regionForward')).toBe(true);
        expect(planHas(heightGpu.kernelPlan, 'regionMax') || planHas(heightGpu.kernelPlan, 'regionMaxReduce')).toBe(false);
        const batch = randomBatch(count + D, count, D, V, miss);
        expect(maxAbsErr(await heightGpu.logLikelihood(batch), await cpu.logLikelihood(batch))).toBeLessThan(1e-4);
      }
    } finally {
      heightGpu.dispose();
    }
  });

  it('pruned + grown circuit, tiled and gather sum kernels agree', async () => {
    const c = prunedCircuit(5, 14, 6, 5, 0.6, true);
    const [a, b] = compiledPair(c);
    const cpu = await oracle(a);
    const batch = randomBatch(9, 70, 14, 6, 0.2);
    const want = await cpu.logLikelihood(batch);
    await gpu.load(b);
    expect(maxAbsErr(await gpu.logLikelihood(batch), want)).toBeLessThan(1e-4);
    for (const sumKernel of ['tiled', 'gather'] as const) {
      const g2 = await gpuEngine({ maxChunk: 32, sumKernel });
      try {
        await g2.load(compiledPair(c)[0]);
        expect(sumSteps(g2.kernelPlan).every((s) => s.kernel === (sumKernel === 'tiled' ? 'sumTiled' : 'sumGather'))).toBe(true);
        expect(maxAbsErr(await g2.logLikelihood(batch), want)).toBeLessThan(1e-4);
      } finally {
        g2.dispose();
      }
    }
  });
});

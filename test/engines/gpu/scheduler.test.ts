// The GPU scheduler's other paths against the float64 CPU oracle: the resident dataset with
// shuffled index batches, dispatches folded into 2-D, sum kernels picked per layer from a small
// workgroup-storage limit, per-pass timings, and an MNIST-sized smoke test on real digits.
import { describe, expect, it } from 'vitest';
import { compileCircuit } from '../../../src/circuit/compile.ts';
import { buildHclt } from '../../../src/circuit/hclt.ts';
import { subset } from '../../../src/data/dataset.ts';
import { loadEmbeddedDataset } from '../../../src/data/load.ts';
import { passTimes } from '../../../src/engines/gpu/engine.ts';
import { Rng } from '../../../src/util/rng.ts';
import { compiledPair, gpuEngine, maxAbsErr, maxRelErr, oracle, planHas, prunedCircuit, randomBatch, sumSteps, treeCircuit } from './helpers.ts';

describe('GPU scheduler', () => {
  it('resident dataset with shuffled index batches', async () => {
    const c = prunedCircuit(41, 11, 9, 5, 0.5);
    const [a, b] = compiledPair(c);
    const D = c.numVars;
    const data = randomBatch(41, 90, D, 9);
    const gpu = await gpuEngine({ maxChunk: 24 });
    try {
      await gpu.uploadDataset(data.pixels, data.count);
      await gpu.load(b);
      const cpu = await oracle(a);
      const order = new Rng(3).shuffle(Int32Array.from({ length: 90 }, (_, i) => i));
      for (const part of [order.subarray(0, 50), order.subarray(50)]) {
        const pixels = new Uint8Array(part.length * D);
        part.forEach((row, k) => pixels.set(data.pixels.subarray(row * D, (row + 1) * D), k * D));
        const want = await cpu.accumulateFlows({ pixels, count: part.length });
        expect(maxAbsErr(await gpu.accumulateFlowsIndexed(part), want)).toBeLessThan(1e-4);
        expect(maxAbsErr(await gpu.logLikelihoodIndexed(part), want)).toBeLessThan(1e-4);
      }
      expect(maxRelErr(await gpu.edgeFlows(), await cpu.edgeFlows(), 1e-3)).toBeLessThan(1e-3);
      expect(maxRelErr(await gpu.inputFlows(), await cpu.inputFlows(), 1e-3)).toBeLessThan(1e-3);
      // The dataset survives a reload.
      await gpu.load(compileCircuit(c));
      expect(
        maxAbsErr(
          await gpu.logLikelihoodIndexed(order.subarray(0, 5)),
          await cpu.logLikelihood({ pixels: data.pixels.slice(0), count: 90 }).then((ll) => Float64Array.from(order.subarray(0, 5), (i) => ll[i])),
        ),
      ).toBeLessThan(1e-4);
    } finally {
      gpu.dispose();
    }
  });

  it('dispatches folded into 2-D and sum kernels from a tiny workgroup-storage limit', async () => {
    // 32 workgroups per dimension forces 2-D folding; 16 bytes (4 floats) of workgroup storage
    // tiles layers whose regions have up to 4 columns and falls back to gather for wider ones.
    const c = prunedCircuit(42, 16, 5, 3, 0.6, true); // layers' widest regions: 4, 6, 4, 2, 2, 2
    const [a, b] = compiledPair(c);
    const gpu = await gpuEngine({
      maxChunk: 64,
      sumKernel: 'tiled',
      edgeKernel: 'lanes',
      capLimits: { maxComputeWorkgroupsPerDimension: 32, maxComputeWorkgroupStorageSize: 16 },
    });
    try {
      await gpu.load(b);
      expect(planHas(gpu.kernelPlan, 'sumGather')).toBe(true);
      expect(planHas(gpu.kernelPlan, 'sumTiled')).toBe(true);
      const cpu = await oracle(a);
      const batch = randomBatch(42, 61, 16, 5, 0.15);
      expect(maxAbsErr(await gpu.accumulateFlows(batch), await cpu.accumulateFlows(batch))).toBeLessThan(1e-4);
      expect(maxRelErr(await gpu.edgeFlows(), await cpu.edgeFlows(), 1e-3)).toBeLessThan(1e-3);
      const marked = Uint8Array.from({ length: a.numEdges }, (_, e) => (e % 2 ? 1 : 0));
      expect(maxAbsErr(await gpu.markedEdgeFlow(batch, marked), await cpu.markedEdgeFlow(batch, marked))).toBeLessThan(1e-4);
    } finally {
      gpu.dispose();
    }
    // The WebGPU minimum (16 KiB) tiles every layer of a K=7 circuit.
    const g2 = await gpuEngine({ sumKernel: 'tiled', capLimits: { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256 } });
    try {
      await g2.load(compileCircuit(treeCircuit(43, 7, 4, 7)));
      expect(sumSteps(g2.kernelPlan).every((s) => s.kernel === 'sumTiled' && s.tile === 64)).toBe(true);
    } finally {
      g2.dispose();
    }
  });

  it('pass times: each pass from the end of the one before (begins are latched before the barriers)', () => {
    const ns = (...ms: number[]) => BigUint64Array.from(ms, (x) => BigInt(Math.round(x * 1e6)));
    // Pass 1 "begins" at 5 ms while pass 0 runs until 10 ms: its own time is 30 - 10.
    expect(passTimes(ns(0, 10, 5, 30, 31, 40), 3)).toEqual({ ms: [10, 20, 10], span: 40 });
    // Quantised timestamps: an end before the previous end never gives a negative time.
    expect(passTimes(ns(0, 10, 10, 9.9, 10, 12), 3)).toEqual({ ms: [10, 0, 2.1], span: 12 });
    expect(passTimes(ns(0, 0, 0, 0), 2)).toEqual({ ms: [0, 0], span: 0 });
  });

  it('per-pass timings with timestamp-query', async () => {
    const gpu = await gpuEngine({ timings: true });
    try {
      await gpu.load(compileCircuit(treeCircuit(44, 6, 4, 3)));
      await gpu.accumulateFlows(randomBatch(44, 20, 6, 4));
      const t = await gpu.layerTimings();
      if (gpu.device.features.has('timestamp-query')) {
        expect(t.map((x) => x.label)).toEqual(expect.arrayContaining(['pixels', 'forward h=0', 'backward h=0', 'edge flows', 'input flows']));
        for (const x of t) expect(x.ms).toBeGreaterThanOrEqual(0);
      } else expect(t).toEqual([]);
    } finally {
      gpu.dispose();
    }
  });

  it('MNIST smoke: HCLT K=2 on 784 pixels, 64 real digits, against the CPU', async () => {
    const all = await loadEmbeddedDataset();
    const data = subset(
      all,
      Int32Array.from({ length: 64 }, (_, i) => i),
      'first 64',
    );
    const c = buildHclt(data, { K: 2, seed: 1 });
    const [a, b] = compiledPair(c);
    const cpu = await oracle(a);
    const gpu = await gpuEngine();
    try {
      await gpu.load(b);
      const batch = { pixels: data.pixels, count: data.count };
      const want = await cpu.accumulateFlows(batch);
      const got = await gpu.accumulateFlows(batch);
      // log p(x) is about -600 nats here, summed over 784 regions in f32: compare relatively.
      expect(maxRelErr(got, want, 1)).toBeLessThan(1e-5);
      expect(maxRelErr(await gpu.edgeFlows(), await cpu.edgeFlows(), 1e-2)).toBeLessThan(1e-3);
      expect(maxRelErr(await gpu.inputFlows(), await cpu.inputFlows(), 1e-2)).toBeLessThan(1e-3);
      await gpu.emStep({ step: 1, pseudocount: 0.1 });
      await cpu.emStep({ step: 1, pseudocount: 0.1 });
      await cpu.syncParams(); // EM leaves the CPU's input logs to syncParams
      await gpu.syncParams();
      expect(maxAbsErr(b.edgeLogWeights, a.edgeLogWeights)).toBeLessThan(1e-4);
      expect(maxAbsErr(b.inputLogProbs, a.inputLogProbs)).toBeLessThan(1e-4);
      const after = await gpu.logLikelihood(batch);
      expect(maxRelErr(after, await cpu.logLikelihood(batch), 1)).toBeLessThan(1e-5);
    } finally {
      gpu.dispose();
    }
  });
});

// Fused training (`trainEpochIndexed`: resident dataset, no per-batch read-backs) against the float64
// CPU oracle running the per-batch loop accumulateFlows + emStep: same batches, same order, same EM
// steps. Also the Trainer's use of the fused path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileCircuit } from '../../../src/circuit/compile.ts';
import type { Circuit } from '../../../src/circuit/structure.ts';
import type { Dataset } from '../../../src/data/dataset.ts';
import type { Engine } from '../../../src/engines/engine.ts';
import type { GpuEngine, GpuEngineOptions, KernelPass } from '../../../src/engines/gpu/engine.ts';
import type { KernelName } from '../../../src/engines/gpu/kernels.ts';
import { trainRate } from '../../../src/training/bench.ts';
import { DEFAULT_TRAIN_CONFIG, Trainer } from '../../../src/training/trainer.ts';
import { Rng } from '../../../src/util/rng.ts';
import { compiledPair, gpuEngine, maxAbsErr, oracle, planHas, prunedCircuit, randomBatch, treeCircuit } from './helpers.ts';

/** The per-batch loop on any engine: rows `order` of `pixels`, batches of `batch`. */
async function loopEpoch(
  engine: Engine,
  pixels: Uint8Array,
  D: number,
  order: Int32Array,
  batch: number,
  em: { step: number; pseudocount: number },
): Promise<Float64Array> {
  const ll = new Float64Array(order.length);
  engine.resetFlows();
  for (let s = 0; s < order.length; s += batch) {
    const part = order.subarray(s, Math.min(order.length, s + batch));
    const px = new Uint8Array(part.length * D);
    part.forEach((row, k) => px.set(pixels.subarray(row * D, (row + 1) * D), k * D));
    ll.set(await engine.accumulateFlows({ pixels: px, count: part.length }), s);
    await engine.emStep(em);
  }
  await engine.syncParams();
  return ll;
}

const engines: Array<[string, Partial<GpuEngineOptions>]> = [
  ['barrier-free kernels', { maxChunk: 40, sumKernel: 'gather', edgeKernel: 'per-edge' }],
  ['workgroup kernels, naps, small slices', { maxChunk: 40, sumKernel: 'tiled', edgeKernel: 'lanes', tileRows: 2, napBeforeWaitMs: 1, sliceMs: 0.001 }],
  ['naps, small slices, two in flight', { maxChunk: 40, sumKernel: 'gather', edgeKernel: 'per-edge', napBeforeWaitMs: 1, sliceMs: 0.001, slicesInFlight: 2 }],
  ['gemm sums, tiled flows', { maxChunk: 40, sumKernel: 'gemm', edgeKernel: 'tiled', flowKernel: 'gemm', regionMax: 'reduce', inputKernel: 'workgroup' }],
  ['one forward and one backward kernel per height', { maxChunk: 40, forwardKernel: 'height', backwardKernel: 'height', edgeKernel: 'lanes', tileRows: 2 }],
];

const cases: Array<[string, () => Circuit, number, number, number]> = [
  ['tree D=10 V=16 K=3', () => treeCircuit(21, 10, 16, 3), 16, 97, 25],
  ['pruned D=15 V=5 K=7', () => prunedCircuit(22, 15, 5, 7, 0.7), 5, 130, 64], // batch > chunk: 2 chunks per batch
  ['pruned+grown D=8 V=4 K=3', () => prunedCircuit(23, 8, 4, 3, 0.5, true), 4, 61, 61],
];

describe('GPU fused training epoch', () => {
  const gpus: GpuEngine[] = [];
  beforeAll(async () => {
    for (const [, o] of engines) gpus.push(await gpuEngine(o));
  });
  afterAll(() => gpus.forEach((g) => g.dispose()));

  for (const [ei, [ename]] of engines.entries()) {
    for (const [name, make, V, count, batch] of cases) {
      it(`${name}, ${count} rows in batches of ${batch} (${ename})`, async () => {
        const gpu = gpus[ei];
        const c = make();
        const D = c.numVars;
        const [a, b] = compiledPair(c);
        const cpu = await oracle(a);
        const data = randomBatch(count, count, D, V);
        await gpu.uploadDataset(data.pixels, count);
        await gpu.load(b);
        if (ename.startsWith('gemm')) {
          const want: Array<[KernelName, KernelPass]> = [
            ['sumGemm', 'forward'],
            ['sumGemm', 'backward'],
            ['edgeFlowGemm', 'edges'],
            ['regionMaxReduce', 'forward'],
            ['inputHistTiled', 'inputs'],
          ];
          for (const [k, p] of want) expect(planHas(gpu.kernelPlan, k, p)).toBe(true);
        }
        if (ename.startsWith('one forward')) {
          for (const k of ['regionForward', 'regionBackward'] as const) expect(planHas(gpu.kernelPlan, k)).toBe(true);
        }
        const em = { step: 0.3, pseudocount: 0.1 };
        for (let epoch = 0; epoch < 2; epoch++) {
          const order = new Rng(epoch + 5).shuffle(Int32Array.from({ length: count }, (_, i) => i));
          const want = await loopEpoch(cpu, data.pixels, D, order, batch, em);
          const progress: number[] = [];
          const got = await gpu.trainEpochIndexed(order, batch, em, (done) => progress.push(done));
          expect(maxAbsErr(got, want)).toBeLessThan(1e-4);
          expect(progress.at(-1)).toBe(count);
          expect(progress.length).toBe(Math.ceil(count / batch));
          await gpu.syncParams();
          expect(maxAbsErr(b.edgeLogWeights, a.edgeLogWeights)).toBeLessThan(1e-5);
          expect(maxAbsErr(b.inputLogProbs, a.inputLogProbs)).toBeLessThan(1e-5);
        }
        // The epoch leaves the accumulators cleared, and the per-batch calls still agree after it.
        expect(Math.max(...(await gpu.edgeFlows()))).toBe(0);
        const extra = randomBatch(7, 11, D, V, 0.2);
        expect(maxAbsErr(await gpu.accumulateFlows(extra), await cpu.accumulateFlows(extra))).toBeLessThan(1e-4);
      });
    }
  }

  it('the Trainer uses the fused path and matches the per-batch loop', async () => {
    const c = treeCircuit(31, 9, 6, 3);
    const data = randomBatch(31, 150, 9, 6);
    const ds: Dataset = { name: 'random', numVars: 9, numValues: 6, count: 150, rows: 1, cols: 9, pixels: data.pixels };
    const config = { ...DEFAULT_TRAIN_CONFIG, K: 3, batch: 32, step: 0.2 };
    const gpu = await gpuEngine({ maxChunk: 64 });
    const cpu = await oracle(compileCircuit(c));
    try {
      const tg = await Trainer.create(config, gpu, ds, null, c);
      const tc = await Trainer.create(config, cpu, ds, null, c);
      expect(tg.fused).toBe(true);
      expect(tc.fused).toBe(false);
      for (let e = 0; e < 2; e++) {
        const calls: number[] = [];
        const eg = await tg.epoch((done) => calls.push(done));
        const ec = await tc.epoch();
        expect(Math.abs(eg.train_bpd - ec.train_bpd)).toBeLessThan(1e-6);
        expect(calls.at(-1)).toBe(150);
      }
      const sg = await tg.snapshot();
      const sc = await tc.snapshot();
      const ga = compileCircuit(sg);
      const ca = compileCircuit(sc);
      expect(maxAbsErr(ga.edgeLogWeights, ca.edgeLogWeights)).toBeLessThan(1e-5);
      expect(maxAbsErr(ga.inputLogProbs, ca.inputLogProbs)).toBeLessThan(1e-5);
      // Full-batch EM keeps the loop.
      const tf = await Trainer.create({ ...config, fullBatch: true }, gpu, ds, null, c);
      expect(tf.fused).toBe(false);
    } finally {
      gpu.dispose();
    }
  });

  it('trainRate times the fused path over the same samples (warm-up batch, then one epoch)', async () => {
    const c = treeCircuit(32, 7, 5, 2);
    const data = randomBatch(32, 100, 7, 5);
    const ds: Dataset = { name: 'random', numVars: 7, numValues: 5, count: 100, rows: 1, cols: 7, pixels: data.pixels };
    const [a, b] = compiledPair(c);
    const gpu = await gpuEngine({ maxChunk: 64 });
    const cpu = await oracle(a);
    try {
      await gpu.load(b);
      const calls: number[] = [];
      const fused = gpu.trainEpochIndexed.bind(gpu);
      gpu.trainEpochIndexed = (order, batch, em, onBatch) => {
        calls.push(order.length);
        return fused(order, batch, em, onBatch);
      };
      expect(await trainRate(gpu, ds, 32)).toBeGreaterThan(0);
      expect(calls).toEqual([32, 100]);
      // Same updates as the oracle's loop: the warm-up batch, then the epoch in batches of 32.
      const em = { step: DEFAULT_TRAIN_CONFIG.step, pseudocount: DEFAULT_TRAIN_CONFIG.pseudocount };
      const order = Int32Array.from({ length: 100 }, (_, i) => i);
      await loopEpoch(cpu, data.pixels, 7, order.subarray(0, 32), 32, em);
      await loopEpoch(cpu, data.pixels, 7, order, 32, em);
      await gpu.syncParams();
      expect(maxAbsErr(b.edgeLogWeights, a.edgeLogWeights)).toBeLessThan(1e-5);
    } finally {
      gpu.dispose();
    }
  });
});

// Kernel autotuning (`tuneKernels`): the engine times each pass's candidate kernel families on the
// first flows chunk after a load and keeps the fastest. Checked here: which candidates are timed,
// that the choice is the measured fastest per pass and is what runs, that the flows, EM and fused
// epochs after tuning still match the float64 CPU oracle (the trials leave no trace in the
// accumulators), with timestamp-query, on the wall clock, and with naps. On SwiftShader the figures
// are emulation timings; what is asserted is the logic, never a speed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileCircuit } from '../../../src/circuit/compile.ts';
import { requestGpuDevice } from '../../../src/engines/gpu/device.ts';
import { GpuEngine, type KernelChoice, type KernelPass, type KernelTuning, type PlanStep } from '../../../src/engines/gpu/engine.ts';
import { TUNE_MARGIN } from '../../../src/engines/gpu/tuning.ts';
import { findNodeGpu } from '../../../src/engines/gpu/node-gpu.ts';
import { loadNodeShaders } from '../../../src/engines/gpu/shaders-node.ts';
import { Rng } from '../../../src/util/rng.ts';
import { compiledPair, gpuEngine, maxAbsErr, maxRelErr, oracle, planHas, prunedCircuit, randomBatch, treeCircuit } from './helpers.ts';

const PASSES: KernelPass[] = ['forward', 'backward', 'edges', 'inputs'];

/** The family tuning keeps per pass: visiting the measured families in trial order (the rule's
 *  first), one replaces the current choice only if faster by more than TUNE_MARGIN. */
function argmin(t: KernelTuning): KernelChoice {
  const pick = (p: KernelPass) => {
    const entries = Object.entries(t.ms[p]) as Array<[string, number]>;
    return entries.reduce((best, e) => (e[1] < (1 - TUNE_MARGIN) * best[1] ? e : best))[0];
  };
  return Object.fromEntries(PASSES.map((p) => [p, pick(p)])) as unknown as KernelChoice;
}

/** The kernel plan runs the chosen families. */
function expectPlanFollows(plan: readonly PlanStep[], c: KernelChoice): void {
  expect(planHas(plan, 'regionForward')).toBe(c.forward === 'height');
  expect(planHas(plan, 'sumGemm', 'forward')).toBe(c.forward === 'dense');
  expect(planHas(plan, 'regionBackward')).toBe(c.backward === 'height');
  expect(planHas(plan, 'sumGemm', 'backward')).toBe(c.backward === 'dense');
  expect(planHas(plan, 'edgeFlowGemm')).toBe(c.edges === 'dense');
  expect(planHas(plan, 'inputHistTiled')).toBe(c.inputs === 'workgroup');
}

describe('GPU kernel tuning', () => {
  // Real-GPU rules (emulated: false) with tuning on: every family is a candidate.
  let tuned: GpuEngine;
  beforeAll(async () => {
    tuned = await gpuEngine({ maxChunk: 48, emulated: false, tuneKernels: true, tileRows: 2 });
  });
  afterAll(() => tuned?.dispose());

  it('times every family of each pass on the first flows chunk, runs the fastest, and matches the oracle', async () => {
    const c = treeCircuit(61, 9, 5, 6);
    const [a, b] = compiledPair(c);
    const cpu = await oracle(a);
    await tuned.load(b);
    // Dense blocks: the rules pick the dense kernels; tuning has not run yet.
    expect(tuned.kernelChoice).toEqual({ forward: 'dense', backward: 'dense', edges: 'dense', inputs: 'node' });
    expect(tuned.kernelTuning).toBeNull();
    // A forward pass does not tune.
    const b1 = randomBatch(1, 70, 9, 5, 0.2);
    expect(maxAbsErr(await tuned.logLikelihood(b1), await cpu.logLikelihood(b1))).toBeLessThan(1e-4);
    expect(tuned.kernelTuning).toBeNull();

    const b2 = randomBatch(2, 61, 9, 5, 0.1);
    for (const batch of [b1, b2]) expect(maxAbsErr(await tuned.accumulateFlows(batch), await cpu.accumulateFlows(batch))).toBeLessThan(1e-4);
    const t = tuned.kernelTuning!;
    expect(t).not.toBeNull();
    expect(t.clock).toBe('timestamps');
    expect(t.samples).toBe(48); // the first chunk of the first flows call
    expect(Object.keys(t.ms.forward).sort()).toEqual(['csr', 'dense', 'height']);
    expect(Object.keys(t.ms.backward).sort()).toEqual(['csr', 'dense', 'height']);
    expect(Object.keys(t.ms.edges).sort()).toEqual(['csr', 'dense']);
    expect(Object.keys(t.ms.inputs).sort()).toEqual(['node', 'workgroup']);
    for (const p of PASSES) for (const ms of Object.values(t.ms[p])) expect(ms).toBeGreaterThan(0);
    expect(t.chosen).toEqual(argmin(t));
    expect(t.failed).toEqual([]);
    expect(tuned.kernelChoice).toEqual(t.chosen);
    expectPlanFollows(tuned.kernelPlan, t.chosen);

    // The trials left nothing in the accumulators: the two batches' flows are exactly the oracle's.
    expect(maxRelErr(await tuned.edgeFlows(), await cpu.edgeFlows(), 1e-3)).toBeLessThan(1e-3);
    expect(maxRelErr(await tuned.inputFlows(), await cpu.inputFlows(), 1e-3)).toBeLessThan(1e-3);
    await cpu.emStep({ step: 0.5, pseudocount: 0.1 });
    await cpu.syncParams();
    await tuned.emStep({ step: 0.5, pseudocount: 0.1 });
    await tuned.syncParams();
    expect(maxAbsErr(b.edgeLogWeights, a.edgeLogWeights)).toBeLessThan(1e-5);
    expect(maxAbsErr(b.inputLogProbs, a.inputLogProbs)).toBeLessThan(1e-5);
    // Tuned once per load: later flows calls keep the choice.
    await tuned.accumulateFlows(b2);
    expect(tuned.kernelTuning).toBe(t);

    // A new load tunes again, over its own candidates: pruned, and sparser than every density
    // threshold (raised here), so without a dense mirror.
    const p = prunedCircuit(62, 9, 5, 6, 0.7);
    const [pa, pb] = compiledPair(p);
    const pcpu = await oracle(pa);
    const thresholds = tuned.denseThresholds;
    tuned.denseThresholds = { sum: 2, flow: 2, edge: 2 };
    await tuned.load(pb).finally(() => (tuned.denseThresholds = thresholds));
    expect(tuned.kernelTuning).toBeNull();
    expect(maxAbsErr(await tuned.accumulateFlows(b2), await pcpu.accumulateFlows(b2))).toBeLessThan(1e-4);
    const t2 = tuned.kernelTuning!;
    expect(Object.keys(t2.ms.forward).sort()).toEqual(['csr', 'height']);
    expect(Object.keys(t2.ms.edges)).toEqual(['csr']);
    expect(t2.chosen).toEqual(argmin(t2));
    expectPlanFollows(tuned.kernelPlan, t2.chosen);
    expect(maxRelErr(await tuned.edgeFlows(), await pcpu.edgeFlows(), 1e-3)).toBeLessThan(1e-3);
  });

  it('options set to a kernel are not tuned; software adapters do not tune by default', async () => {
    const c = treeCircuit(63, 7, 4, 4);
    const batch = randomBatch(3, 30, 7, 4);
    tuned.forwardKernel = 'layered';
    tuned.backwardKernel = 'height';
    tuned.inputKernel = 'workgroup';
    try {
      await tuned.load(compileCircuit(c));
      await tuned.accumulateFlows(batch);
      const t = tuned.kernelTuning!;
      expect(Object.keys(t.ms.forward).sort()).toEqual(['csr', 'dense']);
      expect(Object.keys(t.ms.backward)).toEqual(['height']);
      expect(Object.keys(t.ms.inputs)).toEqual(['workgroup']);
      expect(t.chosen.backward).toBe('height');
    } finally {
      tuned.forwardKernel = 'auto';
      tuned.backwardKernel = 'auto';
      tuned.inputKernel = 'auto';
    }
    const fixed = await gpuEngine({
      emulated: false,
      tuneKernels: true,
      forwardKernel: 'layered',
      backwardKernel: 'layered',
      sumKernel: 'tiled',
      flowKernel: 'gather',
      edgeKernel: 'lanes',
      inputKernel: 'node',
    });
    const plain = await gpuEngine();
    try {
      for (const g of [fixed, plain]) {
        await g.load(compileCircuit(c));
        await g.accumulateFlows(batch);
        expect(g.kernelTuning).toBeNull();
      }
      expect(plain.tuneKernels).toBe(false); // SwiftShader
      expect(plain.kernelChoice).toEqual({ forward: 'csr', backward: 'csr', edges: 'csr', inputs: 'node' });
    } finally {
      fixed.dispose();
      plain.dispose();
    }
  });

  it('leaves out a family whose pipelines the device rejects, and trains on', async () => {
    // A per-height backward kernel that does not compile (as on a driver that cannot build it).
    const shaders = loadNodeShaders();
    const g = await gpuEngine({ emulated: false, tuneKernels: true, shaders: { ...shaders, region_backward: `${shaders.region_backward}\nfn broken( {` } });
    try {
      const c = treeCircuit(67, 7, 4, 5);
      const [a, b] = compiledPair(c);
      const cpu = await oracle(a);
      await g.load(b);
      const batch = randomBatch(7, 40, 7, 4, 0.1);
      expect(maxAbsErr(await g.accumulateFlows(batch), await cpu.accumulateFlows(batch))).toBeLessThan(1e-4);
      const t = g.kernelTuning!;
      expect(t.failed).toHaveLength(1);
      expect(t.failed[0]).toMatch(/^forward height, backward height, .*: WebGPU rejected the compute pipelines/);
      expect(Object.keys(t.ms.backward).sort()).toEqual(['csr', 'dense']);
      expect(Object.keys(t.ms.forward).sort()).toEqual(['csr', 'dense']);
      expect(t.chosen).toEqual(argmin(t));
      expect(maxRelErr(await g.edgeFlows(), await cpu.edgeFlows(), 1e-3)).toBeLessThan(1e-3);
      await g.emStep({ step: 0.5, pseudocount: 0.1 });
      await cpu.emStep({ step: 0.5, pseudocount: 0.1 });
      await cpu.syncParams();
      expect(maxAbsErr(await g.logLikelihood(batch), await cpu.logLikelihood(batch))).toBeLessThan(1e-4);
    } finally {
      g.dispose();
    }
  });

  it('tunes on the wall clock where the device has no timestamp-query', async () => {
    const { gpu } = await findNodeGpu();
    const ctx = await requestGpuDevice(gpu, { timestamps: false });
    const g = new GpuEngine(ctx, { shaders: loadNodeShaders(), emulated: false, tuneKernels: true });
    try {
      const c = treeCircuit(64, 8, 4, 5);
      const [a, b] = compiledPair(c);
      const cpu = await oracle(a);
      await g.load(b);
      const batch = randomBatch(4, 40, 8, 4, 0.1);
      expect(maxAbsErr(await g.accumulateFlows(batch), await cpu.accumulateFlows(batch))).toBeLessThan(1e-4);
      const t = g.kernelTuning!;
      expect(t.clock).toBe('wall clock');
      expect(t.chosen).toEqual(argmin(t));
      expectPlanFollows(g.kernelPlan, t.chosen);
      expect(maxRelErr(await g.edgeFlows(), await cpu.edgeFlows(), 1e-3)).toBeLessThan(1e-3);
    } finally {
      g.dispose();
    }
  });

  it('a fused epoch with naps tunes on its first chunk and matches the per-batch loop', async () => {
    const g = await gpuEngine({ maxChunk: 40, emulated: false, tuneKernels: true, napBeforeWaitMs: 1, tileRows: 2 });
    try {
      const c = prunedCircuit(65, 10, 6, 5, 0.5);
      const D = c.numVars;
      const [a, b] = compiledPair(c);
      const cpu = await oracle(a);
      const count = 90;
      const data = randomBatch(5, count, D, 6);
      await g.uploadDataset(data.pixels, count);
      await g.load(b);
      const em = { step: 0.3, pseudocount: 0.1 };
      const order = new Rng(7).shuffle(Int32Array.from({ length: count }, (_, i) => i));
      // The oracle: accumulateFlows + emStep per batch of 30.
      const want = new Float64Array(count);
      cpu.resetFlows();
      for (let s = 0; s < count; s += 30) {
        const part = order.subarray(s, s + 30);
        const px = new Uint8Array(part.length * D);
        part.forEach((row, k) => px.set(data.pixels.subarray(row * D, (row + 1) * D), k * D));
        want.set(await cpu.accumulateFlows({ pixels: px, count: part.length }), s);
        await cpu.emStep(em);
      }
      await cpu.syncParams();
      const got = await g.trainEpochIndexed(order, 30, em);
      const t = g.kernelTuning!;
      expect(t.samples).toBe(30);
      expect(t.chosen).toEqual(argmin(t));
      expect(maxAbsErr(got, want)).toBeLessThan(1e-4);
      await g.syncParams();
      expect(maxAbsErr(b.edgeLogWeights, a.edgeLogWeights)).toBeLessThan(1e-5);
      expect(maxAbsErr(b.inputLogProbs, a.inputLogProbs)).toBeLessThan(1e-5);
    } finally {
      g.dispose();
    }
  });
});

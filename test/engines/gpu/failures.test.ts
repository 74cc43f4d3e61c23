// Failure paths of the GPU engine, forced: no WebGPU, no adapter, limits too small (adapter and
// model), out of memory, validation errors, device loss (and the CPU fallback continuing from the
// last EM step), and no buffer leaks across loads.
import { describe, expect, it } from 'vitest';
import { compileCircuit } from '../../../src/circuit/compile.ts';
import { CpuEngine } from '../../../src/engines/cpu/engine.ts';
import { GpuUnavailableError, requestGpuDevice, withErrorScopes } from '../../../src/engines/gpu/device.ts';
import { GpuEngine } from '../../../src/engines/gpu/engine.ts';
import { FallbackEngine } from '../../../src/engines/gpu/fallback.ts';
import { findNodeGpu } from '../../../src/engines/gpu/node-gpu.ts';
import { loadNodeShaders } from '../../../src/engines/gpu/shaders-node.ts';
import { compiledPair, gpuEngine, maxAbsErr, oracle, prunedCircuit, randomBatch, treeCircuit } from './helpers.ts';

async function rejection(p: Promise<unknown>): Promise<GpuUnavailableError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(GpuUnavailableError);
    return e as GpuUnavailableError;
  }
  throw new Error('expected a rejection');
}

function oneSentence(msg: string): void {
  expect(msg.trim().endsWith('.')).toBe(true);
  expect(msg).not.toMatch(/\n/);
}

describe('GPU engine failure paths', () => {
  it('no navigator.gpu', async () => {
    const e = await rejection(requestGpuDevice(undefined));
    expect(e.reason).toBe('no-webgpu');
    expect(e.message).toMatch(/navigator\.gpu/);
    oneSentence(e.message);
    const e2 = await rejection(GpuEngine.create(undefined, { shaders: loadNodeShaders() }));
    expect(e2.reason).toBe('no-webgpu');
  });

  it('no adapter', async () => {
    const fake = { requestAdapter: async () => null } as unknown as GPU;
    const e = await rejection(requestGpuDevice(fake));
    expect(e.reason).toBe('no-adapter');
    expect(e.message).toMatch(/no GPU adapter/);
    oneSentence(e.message);
  });

  it('an adapter whose limits are too small', async () => {
    const { gpu } = await findNodeGpu();
    const real = (await gpu.requestAdapter())!;
    const limits = {
      ...Object.fromEntries(Object.keys(Object.getPrototypeOf(real.limits)).map((k) => [k, (real.limits as unknown as Record<string, number>)[k]])),
      maxStorageBufferBindingSize: 1 << 20,
    };
    const fake = {
      requestAdapter: async () => ({ limits, features: new Set(), info: real.info, requestDevice: () => real.requestDevice() }),
    } as unknown as GPU;
    const e = await rejection(requestGpuDevice(fake, { requireLimits: { maxStorageBufferBindingSize: 1 << 24 } }));
    expect(e.reason).toBe('limit');
    expect(e.message).toMatch(/maxStorageBufferBindingSize is 1 MiB .* needs 16 MiB/);
    oneSentence(e.message);
  });

  it('a model over the storage-binding limit names the limit and the K that fits; small chunks still agree', async () => {
    const gpu = await gpuEngine({ capLimits: { maxStorageBufferBindingSize: 64 * 1024 } });
    try {
      const big = compileCircuit(treeCircuit(21, 20, 256, 7));
      const e = await rejection(gpu.load(big));
      expect(e.reason).toBe('limit');
      expect(e.message).toMatch(/maxStorageBufferBindingSize is 65,536 bytes but this model's input parameters \(K=7.* needs 143,360 bytes; K <= 3 would fit/);
      oneSentence(e.message);
      // A model whose node values fit only 9 samples per chunk runs in chunks of 9.
      const c = treeCircuit(22, 8, 5, 3);
      const [a, b] = compiledPair(c);
      const gpu2 = await gpuEngine({ capLimits: { maxStorageBufferBindingSize: a.numNodes * 4 * 9 } });
      try {
        await gpu2.load(b);
        expect(gpu2.chunk).toBe(9);
        const cpu = await oracle(a);
        const batch = randomBatch(3, 31, 8, 5, 0.1);
        expect(maxAbsErr(await gpu2.accumulateFlows(batch), await cpu.accumulateFlows(batch))).toBeLessThan(1e-4);
        expect(maxAbsErr(await gpu2.edgeFlows(), await cpu.edgeFlows())).toBeLessThan(1e-4);
      } finally {
        gpu2.dispose();
      }
    } finally {
      gpu.dispose();
    }
  });

  it('out of memory and oversized buffers inside the error scopes', async () => {
    const gpu = await gpuEngine();
    try {
      const d = gpu.device;
      const e = await rejection(
        withErrorScopes(d, 'a test buffer of 1 TiB', () =>
          d.createBuffer({ label: 'test/absurd', size: 2 ** 40, usage: GPUBufferUsage.STORAGE, mappedAtCreation: true }),
        ),
      );
      expect(e.reason).toBe('out-of-memory');
      expect(e.message).toMatch(/could not allocate a test buffer of 1 TiB/);
      oneSentence(e.message);
      const e2 = await rejection(
        withErrorScopes(d, 'a test buffer of 1 TiB', () => d.createBuffer({ label: 'test/absurd', size: 2 ** 40, usage: GPUBufferUsage.STORAGE })),
      );
      expect(e2.reason).toBe('limit');
      expect(e2.message).toMatch(/max buffer size/);
      oneSentence(e2.message);
      // The device is still fine afterwards.
      const c = compileCircuit(treeCircuit(1, 5, 3, 2));
      await gpu.load(c);
      expect((await gpu.logLikelihood(randomBatch(1, 4, 5, 3))).length).toBe(4);
    } finally {
      gpu.dispose();
    }
  });

  it('a shader that does not compile is a validation error at load', async () => {
    const shaders = { ...loadNodeShaders() };
    shaders.product = shaders.product.replace('var s = 0.0;', 'var s = 0.0 +;');
    const gpu = await gpuEngine({ shaders });
    try {
      const e = await rejection(gpu.load(compileCircuit(treeCircuit(1, 5, 3, 2))));
      expect(e.reason).toBe('validation');
      expect(e.message).toMatch(/WebGPU rejected the compute pipelines/);
      oneSentence(e.message);
    } finally {
      gpu.dispose();
    }
  });

  it('device loss: every later call rejects with the sentence', async () => {
    const gpu = await gpuEngine();
    const c = compileCircuit(treeCircuit(2, 6, 4, 3));
    await gpu.load(c);
    const batch = randomBatch(2, 10, 6, 4);
    await gpu.accumulateFlows(batch);
    gpu.device.destroy();
    const e = await rejection(gpu.accumulateFlows(batch));
    expect(e.reason).toBe('device-lost');
    expect(e.message).toMatch(/WebGPU device was destroyed/);
    oneSentence(e.message);
    expect(gpu.lost).toBe(true);
    expect((await rejection(gpu.syncParams())).reason).toBe('device-lost');
    expect((await rejection(gpu.load(c))).reason).toBe('device-lost');
    gpu.dispose();
  });

  it('the fallback engine continues on the CPU from the last EM step', async () => {
    const circuit = prunedCircuit(31, 10, 6, 4, 0.4, true);
    const D = circuit.numVars;
    const batches = [0, 1, 2, 3].map((k) => randomBatch(40 + k, 19 + k, D, 6, k === 2 ? 0.2 : 0));
    const em = { step: 0.2, pseudocount: 0.1 };
    // Reference: the CPU oracle all the way.
    const [ref, cc] = compiledPair(circuit);
    const cpu = await oracle(ref);
    const gpu = await gpuEngine();
    const messages: string[] = [];
    const fb = new FallbackEngine(
      gpu,
      () => new CpuEngine({ precision: 'float64' }),
      (m) => messages.push(m),
    );
    await fb.load(cc);
    expect(fb.kind).toBe('gpu');
    for (const b of batches.slice(0, 2)) {
      await cpu.accumulateFlows(b);
      await fb.accumulateFlows(b);
      await cpu.emStep(em);
      await cpu.syncParams(); // EM leaves the CPU's input logs to syncParams
      await fb.emStep(em);
    }
    // Parameters after the last GPU EM step (read back by the checkpoint).
    const edgesAtStep = cc.edgeLogWeights.slice();
    const inputsAtStep = cc.inputLogProbs.slice();
    expect(maxAbsErr(edgesAtStep, ref.edgeLogWeights)).toBeLessThan(1e-5);
    // One more batch on the GPU, then the device dies before the EM step.
    await cpu.accumulateFlows(batches[2]);
    await fb.accumulateFlows(batches[2]);
    gpu.device.destroy();
    const ll = await fb.accumulateFlows(batches[3]);
    await cpu.accumulateFlows(batches[3]);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/WebGPU device was destroyed/);
    expect(fb.kind).toBe('cpu');
    expect(fb.adapter).toMatch(/CPU float64.*after a GPU failure/);
    // The CPU took over with exactly the parameters of the last completed EM step...
    expect(maxAbsErr(cc.edgeLogWeights, edgesAtStep)).toBe(0);
    expect(maxAbsErr(cc.inputLogProbs, inputsAtStep)).toBe(0);
    // ...and the flows since then (replayed batch 2 + batch 3) are all there.
    expect(maxAbsErr(ll, await cpu.logLikelihood(batches[3]))).toBeLessThan(1e-4);
    const ef = await fb.edgeFlows();
    const efRef = await cpu.edgeFlows();
    for (let e = 0; e < ef.length; e++) expect(Math.abs(ef[e] - efRef[e])).toBeLessThan(1e-3 * Math.max(1e-3, efRef[e]));
    await fb.emStep(em);
    await fb.syncParams();
    await cpu.emStep(em);
    await cpu.syncParams(); // EM leaves the CPU's input logs to syncParams
    expect(maxAbsErr(cc.edgeLogWeights, ref.edgeLogWeights)).toBeLessThan(1e-5);
    expect(maxAbsErr(cc.inputLogProbs, ref.inputLogProbs)).toBeLessThan(1e-5);
    fb.dispose();
  });

  it('many load() cycles leave liveBytes constant', async () => {
    const gpu = await gpuEngine();
    try {
      const circuits = [treeCircuit(5, 9, 5, 3), prunedCircuit(6, 12, 5, 5, 0.5, true), treeCircuit(7, 6, 4, 2)];
      const batch = (D: number) => randomBatch(5, 17, D, 4);
      const after: number[] = [];
      for (let cycle = 0; cycle < 4; cycle++) {
        for (const c of circuits) {
          await gpu.load(compileCircuit(c));
          await gpu.accumulateFlows(batch(c.numVars));
          await gpu.emStep({ step: 0.5, pseudocount: 0.1 });
          await gpu.syncParams();
          after.push(gpu.liveBytes());
        }
      }
      // The same circuit gives the same bytes every cycle.
      for (let k = 3; k < after.length; k++) expect(after[k]).toBe(after[k - 3]);
      expect(after[0]).toBeGreaterThan(0);
    } finally {
      gpu.dispose();
    }
  });
});

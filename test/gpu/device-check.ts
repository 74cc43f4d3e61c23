// Device check for the lent GPU machine (not a vitest file): correctness against the CPU float64
// oracle with the kernels 'auto' picks on a real GPU and the barrier-free ones, then training
// throughput on MNIST HCLTs with the dataset resident on the GPU and the nap calibrated from one
// measured batch. Bundle and run (see ../shared/device/README.md):
//   npx esbuild test/gpu/device-check.ts --bundle --platform=node --format=esm --external:webgpu --outfile=dist-node/device-check.mjs
//   ../shared/device/pack.sh dist-node/device-check.mjs shaders public/data
//   device run: bash .device-pack/run.sh [--k=32,128] [--quick]     (carry [".device-pack"])
// Locally: npx tsx test/gpu/device-check.ts --quick (SwiftShader).
import { existsSync } from 'node:fs';
// In the pack, the data file sits in ./data beside the bundle.
const packedData = new URL('./data/', import.meta.url).pathname;
if (existsSync(packedData)) process.env.SPC_DATA_DIR ??= packedData;
const { compileCircuit } = await import('../../src/circuit/compile.ts');
const { buildHclt } = await import('../../src/circuit/hclt.ts');
const { subset } = await import('../../src/data/dataset.ts');
const { loadEmbeddedDataset } = await import('../../src/data/load.ts');
const { createNodeGpuEngine } = await import('../../src/engines/gpu/node-gpu.ts');
const { compiledPair, maxAbsErr, maxRelErr, oracle, prunedCircuit, randomBatch, treeCircuit } = await import('./helpers.ts');
const quick = process.argv.includes('--quick');
const Ks = (process.argv.find((a) => a.startsWith('--k='))?.slice(4) ?? (quick ? '2' : '32,128')).split(',').map(Number);
const log = (o: object) => console.log(JSON.stringify(o));
const t00 = performance.now();

for (const kernels of [{}, { sumKernel: 'gather', edgeKernel: 'per-edge' }] as const) {
  const gpu = await createNodeGpuEngine({ ...kernels, maxChunk: 40, napBeforeWaitMs: 5 });
  const errs = { ll: 0, edge: 0, input: 0, param: 0, marked: 0 };
  const cases = [treeCircuit(11, 6, 3, 1), treeCircuit(12, 10, 16, 3), prunedCircuit(13, 15, 5, 7, 0.7), prunedCircuit(14, 8, 4, 3, 0.5, true), treeCircuit(15, 20, 256, 5)];
  for (const c of cases) {
    const [a, b] = compiledPair(c);
    const cpu = await oracle(a);
    await gpu.load(b);
    const V = c.numValues;
    for (const batch of [randomBatch(1, 57, c.numVars, V, 0.2), randomBatch(2, 90, c.numVars, V)]) {
      errs.ll = Math.max(errs.ll, maxAbsErr(await gpu.accumulateFlows(batch), await cpu.accumulateFlows(batch)));
    }
    errs.edge = Math.max(errs.edge, maxRelErr(await gpu.edgeFlows(), await cpu.edgeFlows(), 1e-3));
    errs.input = Math.max(errs.input, maxRelErr(await gpu.inputFlows(), await cpu.inputFlows(), 1e-3));
    await gpu.emStep({ step: 0.3, pseudocount: 0.1 });
    await cpu.emStep({ step: 0.3, pseudocount: 0.1 });
    await gpu.syncParams();
    errs.param = Math.max(errs.param, maxAbsErr(b.edgeLogWeights, a.edgeLogWeights), maxAbsErr(b.inputLogProbs, a.inputLogProbs));
    const marked = Uint8Array.from({ length: a.numEdges }, (_, e) => e % 3);
    const mb = randomBatch(3, 33, c.numVars, V);
    errs.marked = Math.max(errs.marked, maxAbsErr(await gpu.markedEdgeFlow(mb, marked), await cpu.markedEdgeFlow(mb, marked)));
  }
  log({ check: 'correctness', kernels, adapter: gpu.adapter, sumKernels: gpu.sumKernels, ...errs });
  gpu.dispose();
}

const all = await loadEmbeddedDataset();
const N = quick ? 1024 : all.count;
const train = subset(all, Int32Array.from({ length: N }, (_, i) => i), 'train');
const structureData = subset(all, Int32Array.from({ length: Math.min(2000, N) }, (_, i) => i), 'structure');
for (const K of Ks) {
  const t0 = performance.now();
  const c = buildHclt(structureData, { K, seed: 1 });
  const cc = compileCircuit(c);
  const gpu = await createNodeGpuEngine({ timings: true, napBeforeWaitMs: 200 });
  await gpu.load(cc);
  await gpu.uploadDataset(train.pixels, train.count);
  const B = 512;
  const idx = (k: number) => Int32Array.from({ length: B }, (_, i) => (k * B + i * 7919) % train.count);
  // Warm-up and calibration: GPU time of one batch -> nap 1.5x before each wait.
  await gpu.accumulateFlowsIndexed(idx(0));
  await gpu.emStep({ step: 0.1, pseudocount: 0.1 });
  await gpu.finish();
  const passes = await gpu.layerTimings();
  const gpuMs = passes.reduce((s, p) => s + p.ms, 0);
  const agg = new Map<string, number>();
  for (const p of passes) agg.set(p.label.replace(/h=\d+/, 'h'), (agg.get(p.label.replace(/h=\d+/, 'h')) ?? 0) + p.ms);
  gpu.napBeforeWaitMs = Math.max(0.5, 1.5 * gpuMs);
  const batches = Math.ceil(train.count / B);
  let t1 = performance.now();
  let ll = 0;
  for (let k = 0; k < batches; k++) {
    const r = await gpu.accumulateFlowsIndexed(idx(k));
    for (const v of r) ll += v;
    await gpu.emStep({ step: 0.1, pseudocount: 0.1 });
  }
  await gpu.finish();
  const trainS = (performance.now() - t1) / 1000;
  t1 = performance.now();
  for (let k = 0; k < batches; k++) await gpu.logLikelihoodIndexed(idx(k));
  const fwdS = (performance.now() - t1) / 1000;
  // Batch path (pixels uploaded per call) for comparison.
  t1 = performance.now();
  const pb = Math.min(5, Math.floor(train.count / B));
  for (let k = 0; k < pb; k++) await gpu.accumulateFlows({ pixels: train.pixels.subarray(k * B * 784, (k + 1) * B * 784), count: B });
  const batchPathS = (performance.now() - t1) / 1000;
  log({
    check: 'throughput', K, edges: cc.numEdges, nodes: cc.numNodes, layers: cc.layers.length, chunk: gpu.chunk, sumKernels: [...new Set(gpu.sumKernels)],
    gpu_ms_per_batch: +gpuMs.toFixed(3), nap_ms: +gpu.napBeforeWaitMs.toFixed(2),
    train_samples_per_s: Math.round((batches * B) / trainS), forward_samples_per_s: Math.round((batches * B) / fwdS), batch_path_train_samples_per_s: Math.round((pb * B) / batchPathS),
    gpu_only_samples_per_s: Math.round(B / (gpuMs / 1000)), mean_ll: ll / (batches * B), passes_ms: Object.fromEntries([...agg].map(([k, v]) => [k, +v.toFixed(3)])),
    setup_s: +((t1 - t0) / 1000).toFixed(1), liveMiB: +(gpu.liveBytes() / 2 ** 20).toFixed(1),
  });
  gpu.dispose();
}
log({ done: true, seconds: +((performance.now() - t00) / 1000).toFixed(1) });
process.exit(0);

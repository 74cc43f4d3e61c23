// Device check for the lent GPU machine (not a vitest file). One JSON line per result:
//   {"check":"correctness", ...}   small random circuits against the CPU float64 oracle, per kernel
//                                  set ('auto' = tuned on each circuit, as a real GPU runs; the rules
//                                  without tuning; barrier-free; dense forced; ...), plus the fused
//                                  training epoch against the oracle's per-batch loop
//   {"check":"mnist", ...}         the MNIST HCLT itself (a few digits) against the oracle, per phase
//   {"check":"throughput", ...}    per K and phase (unpruned, then pruned 75 % by flow; 'auto' tunes
//                                  its kernels on the circuit: kernel_choice, tuning_ms; each phase
//                                  also untuned: the rules, every layer on the CSR kernels, the
//                                  pruned one on the dense kernels, ...): fused training
//                                  samples/s (wall clock, Trainer.epoch), GPU ms per batch (timestamp
//                                  totals of one batch: forward + backward + flows + EM), forward-only
//                                  samples/s (wall clock, resident dataset) and its GPU ms per chunk
//   {"done":true, ...}
// Every wait on the GPU naps past the expected GPU time first (Dawn on NVIDIA aborts on long blocking
// waits; docs/bench/README.md has the measurements): with napBeforeWaitMs > 0 the engine calibrates each pass kind
// (fused training batch; forward, flows and marked-flow chunks) on its first batch after a load,
// napping max(napBeforeWaitMs, a conservative prior of 10 G edge-samples/s) before that first wait.
//
// Bundle, pack, run (from the repository root; packing uses the development machines' device tooling,
// as scripts/device-pack.sh does: it is not part of a clone, and no test needs it):
//   npx esbuild scripts/device-check.ts --bundle --platform=node --format=esm --external:webgpu --outfile=dist-node/device-check.mjs
//   <device tooling>/pack.sh dist-node/device-check.mjs shaders public/data   (docs/bench/README.md)
//   device run: command `bash .device-pack/run.sh`, carry [".device-pack"], timeout_s 420
//     options: --k=32,128 (default)  --epochs=2 (timed epochs per phase)  --no-prune
//              --no-variants (skip the extra measurements: 'rules (untuned auto)', 'dense kernels', 'csr kernels', 'workgroup
//              inputs', 'per-height kernels' (one forward and one backward dispatch per height), both)  --quick
// Expected wall time on an H200: about 2-3 minutes (most of it building and compiling the K=128 HCLT,
// pruning it, and the CPU oracle on a few digits).
// Locally (SwiftShader, K=2, 1024 digits): npx tsx scripts/device-check.ts --quick
//   or the bundle: node dist-node/device-check.mjs --quick
import { existsSync } from 'node:fs';
// In the pack, the data file sits in ./data beside the bundle, the shaders in ./shaders.
const packedData = new URL('./data/', import.meta.url).pathname;
if (existsSync(packedData)) process.env.SPC_DATA_DIR ??= packedData;
const packedShaders = new URL('./shaders/', import.meta.url).pathname;
if (existsSync(packedShaders)) process.env.SPC_SHADER_DIR ??= packedShaders;
const { compileCircuit } = await import('../src/circuit/compile.ts');
const { buildHclt } = await import('../src/circuit/hclt.ts');
const { subset } = await import('../src/data/dataset.ts');
const { loadEmbeddedDataset } = await import('../src/data/load.ts');
const { createNodeGpuEngine } = await import('../src/engines/gpu/node-gpu.ts');
const { stepText } = await import('../src/engines/gpu/plan.ts');
const { DEFAULT_TRAIN_CONFIG, Trainer } = await import('../src/training/trainer.ts');
const { Rng } = await import('../src/util/rng.ts');
const { compiledPair, maxAbsErr, maxRelErr, oracle, prunedCircuit, randomBatch, treeCircuit } = await import('../test/engines/gpu/helpers.ts');
type GpuEngineT = import('../src/engines/gpu/engine.ts').GpuEngine;
type EngineT = import('../src/engines/engine.ts').Engine;
type TrainerT = import('../src/training/trainer.ts').Trainer;

const quick = process.argv.includes('--quick');
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const Ks = (arg('k') ?? (quick ? '2' : '32,128')).split(',').map(Number);
const timedEpochs = Number(arg('epochs') ?? (quick ? 1 : 2));
const prune = !process.argv.includes('--no-prune');
// Kernel variants measured besides 'auto' (tuned), untuned: the rules alone, all layers on the dense
// kernels (zero-padded mirrors), all on the CSR kernels, the workgroup input and per-height kernels,
// so that tuning's choices can be checked against whole-epoch figures.
const variants = !process.argv.includes('--no-variants');
const log = (o: object) => console.log(JSON.stringify(o));
const r3 = (x: number) => +x.toPrecision(3);
const t00 = performance.now();

/** Max |a - b| over max |b|: flows of very different sizes, compared at the scale of the largest. */
function scaledErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let big = 0;
  for (let k = 0; k < b.length; k++) big = Math.max(big, Math.abs(b[k]));
  return maxAbsErr(a, b) / Math.max(big, 1e-30);
}

// ------------------------------------------------------------------ correctness, small circuits
// 'auto' tunes its kernels on each circuit (a real GPU); the other sets fix them.
const kernelSets = [
  { name: 'auto', opts: {} },
  { name: 'rules (untuned auto)', opts: { tuneKernels: false } },
  {
    name: 'barrier-free',
    opts: { tuneKernels: false, sumKernel: 'gather', edgeKernel: 'per-edge', flowKernel: 'gather', regionMax: 'serial', inputKernel: 'node' },
  },
  {
    name: 'dense forced',
    opts: { tuneKernels: false, sumKernel: 'gemm', edgeKernel: 'tiled', flowKernel: 'gemm', regionMax: 'reduce', inputKernel: 'workgroup' },
  },
  {
    name: 'csr workgroup',
    opts: { tuneKernels: false, sumKernel: 'tiled', edgeKernel: 'lanes', flowKernel: 'gather', regionMax: 'reduce', inputKernel: 'workgroup' },
  },
  {
    name: 'per-height kernels',
    opts: { tuneKernels: false, forwardKernel: 'height', backwardKernel: 'height', edgeKernel: 'lanes', inputKernel: 'workgroup' },
  },
] as const;
for (const ks of kernelSets) {
  const gpu = await createNodeGpuEngine({ ...ks.opts, maxChunk: 40, napBeforeWaitMs: 5 });
  const errs = { ll: 0, edge: 0, input: 0, param: 0, marked: 0, fused_ll: 0, fused_param: 0 };
  const plans = new Set<string>();
  const choices = new Set<string>();
  const cases = [
    treeCircuit(11, 6, 3, 1),
    treeCircuit(12, 10, 16, 3),
    prunedCircuit(13, 15, 5, 7, 0.7),
    prunedCircuit(14, 8, 4, 3, 0.5, true),
    treeCircuit(15, 20, 256, 5),
    treeCircuit(16, 5, 4, 70),
  ];
  for (const c of cases) {
    const [a, b] = compiledPair(c);
    const cpu = await oracle(a);
    await gpu.load(b);
    const V = c.numValues;
    for (const batch of [randomBatch(1, 57, c.numVars, V, 0.2), randomBatch(2, 90, c.numVars, V)]) {
      errs.ll = Math.max(errs.ll, maxAbsErr(await gpu.accumulateFlows(batch), await cpu.accumulateFlows(batch)));
    }
    // After the first flows pass (where 'auto' tunes).
    for (const p of gpu.kernelPlan) plans.add(stepText(p, false));
    choices.add(gpu.kernelSummary);
    errs.edge = Math.max(errs.edge, maxRelErr(await gpu.edgeFlows(), await cpu.edgeFlows(), 1e-3));
    errs.input = Math.max(errs.input, maxRelErr(await gpu.inputFlows(), await cpu.inputFlows(), 1e-3));
    await gpu.emStep({ step: 0.3, pseudocount: 0.1 });
    await cpu.emStep({ step: 0.3, pseudocount: 0.1 });
    await cpu.syncParams(); // EM leaves the CPU's input logs to syncParams
    await gpu.syncParams();
    errs.param = Math.max(errs.param, maxAbsErr(b.edgeLogWeights, a.edgeLogWeights), maxAbsErr(b.inputLogProbs, a.inputLogProbs));
    const marked = Uint8Array.from({ length: a.numEdges }, (_, e) => e % 3);
    const mb = randomBatch(3, 33, c.numVars, V);
    errs.marked = Math.max(errs.marked, maxAbsErr(await gpu.markedEdgeFlow(mb, marked), await cpu.markedEdgeFlow(mb, marked)));
    // Fused epoch (batches of 32, the last partial) against the oracle's per-batch loop.
    const data = randomBatch(4, 100, c.numVars, V);
    await gpu.uploadDataset(data.pixels, data.count);
    const order = new Rng(5).shuffle(Int32Array.from({ length: data.count }, (_, i) => i));
    const em = { step: 0.2, pseudocount: 0.1 };
    const got = await gpu.trainEpochIndexed(order, 32, em);
    const want = new Float64Array(order.length);
    cpu.resetFlows();
    for (let s = 0; s < order.length; s += 32) {
      const part = order.subarray(s, Math.min(order.length, s + 32));
      const px = new Uint8Array(part.length * c.numVars);
      part.forEach((row, k) => px.set(data.pixels.subarray(row * c.numVars, (row + 1) * c.numVars), k * c.numVars));
      want.set(await cpu.accumulateFlows({ pixels: px, count: part.length }), s);
      await cpu.emStep(em);
    }
    await cpu.syncParams(); // EM leaves the CPU's input logs to syncParams
    await gpu.syncParams();
    errs.fused_ll = Math.max(errs.fused_ll, maxAbsErr(got, want));
    errs.fused_param = Math.max(errs.fused_param, maxAbsErr(b.edgeLogWeights, a.edgeLogWeights), maxAbsErr(b.inputLogProbs, a.inputLogProbs));
  }
  const ok =
    errs.ll < 1e-4 && errs.edge < 1e-3 && errs.input < 1e-3 && errs.param < 1e-5 && errs.marked < 1e-4 && errs.fused_ll < 1e-4 && errs.fused_param < 1e-5;
  log({
    check: 'correctness',
    kernels: ks.name,
    ok,
    adapter: gpu.adapter,
    ...Object.fromEntries(Object.entries(errs).map(([k, v]) => [k, r3(v)])),
    plan: [...plans],
    choices: [...choices],
  });
  gpu.dispose();
}

// ------------------------------------------------------------------ MNIST HCLTs
const all = await loadEmbeddedDataset();
const N = quick ? 1024 : all.count;
const B = 512;
const train = subset(
  all,
  Int32Array.from({ length: N }, (_, i) => i),
  'train',
);
const structureData = subset(
  all,
  Int32Array.from({ length: Math.min(2000, N) }, (_, i) => i),
  'structure',
);
// The float64 CPU oracle takes ~10 s for 16 digits at K=128: 8 digits there.
const checkBatch = (K: number) => ({ pixels: all.pixels.subarray(0, (K >= 128 ? 8 : 16) * all.numVars), count: K >= 128 ? 8 : 16 });

/** The engine's circuit against the CPU oracle on 16 (K=128: 8) digits: log p(x) and edge flows. */
async function mnistCheck(gpu: GpuEngineT, trainer: TrainerT, K: number, phase: string): Promise<void> {
  const t0 = performance.now();
  const cc = compileCircuit(await trainer.snapshot());
  const cpu: EngineT = await oracle(cc);
  gpu.resetFlows();
  const got = await gpu.accumulateFlows(checkBatch(K));
  const want = await cpu.accumulateFlows(checkBatch(K));
  const ef = scaledErr(await gpu.edgeFlows(), await cpu.edgeFlows());
  gpu.resetFlows();
  cpu.dispose();
  const ll = maxRelErr(got, want, 1);
  log({
    check: 'mnist',
    K,
    phase,
    ok: ll < 1e-5 && ef < 1e-4,
    ll_rel_err: r3(ll),
    edge_flow_scaled_err: r3(ef),
    mean_ll: r3(want.reduce((s, v) => s + v, 0) / want.length),
    seconds: r3((performance.now() - t0) / 1000),
  });
}

async function throughput(gpu: GpuEngineT, trainer: TrainerT, K: number, phase: string, setupS: number): Promise<void> {
  // Calibration epoch with per-pass timings: the fused path times its first batch (timestamps).
  gpu.setTimings(true);
  const cal = await trainer.epoch();
  const passes = await gpu.layerTimings();
  gpu.setTimings(false);
  const gpuMs = passes.reduce((s, p) => s + p.ms, 0);
  const agg = new Map<string, number>();
  for (const p of passes) {
    const key = p.label.replace(/ h=\d+/, '');
    agg.set(key, (agg.get(key) ?? 0) + p.ms);
  }
  const epochs: number[] = [];
  let bpd = cal.train_bpd;
  for (let e = 0; e < timedEpochs; e++) {
    const ev = await trainer.epoch();
    epochs.push(ev.samples_per_s);
    bpd = ev.train_bpd;
  }
  // Forward only: one chunk with timestamps (the engine also calibrates its naps on it), then the
  // resident dataset in chunks of B, each settled after a nap of 1.5x the calibrated time.
  const order = Int32Array.from({ length: train.count }, (_, i) => i);
  gpu.setTimings(true);
  await gpu.logLikelihoodIndexed(order.subarray(0, B));
  const fwdMs = (await gpu.layerTimings()).reduce((s, p) => s + p.ms, 0);
  gpu.setTimings(false);
  const t1 = performance.now();
  await gpu.logLikelihoodIndexed(order);
  const fwdRate = train.count / ((performance.now() - t1) / 1000);
  log({
    check: 'throughput',
    K,
    phase,
    edges: trainer.edges,
    layers: trainer.compiled.layers.length,
    samples: train.count,
    batch: B,
    train_samples_per_s: Math.round(Math.max(...epochs)),
    train_samples_per_s_epochs: epochs.map(Math.round),
    gpu_ms_per_batch: r3(gpu.trainBatchGpuMs),
    gpu_pass_ms_per_batch: r3(gpuMs),
    gpu_only_train_samples_per_s: Math.round(B / (gpu.trainBatchGpuMs / 1000)),
    forward_samples_per_s: Math.round(fwdRate),
    forward_gpu_ms_per_chunk: r3(fwdMs),
    gpu_only_forward_samples_per_s: Math.round(B / (fwdMs / 1000)),
    train_bpd: r3(bpd),
    passes_ms: Object.fromEntries([...agg].map(([k, v]) => [k, r3(v)])),
    // Where a batch's GPU time goes, per height: the eight slowest timed passes.
    slowest_passes: [...passes]
      .sort((x, y) => y.ms - x.ms)
      .slice(0, 8)
      .map((p) => `${p.label}: ${r3(p.ms)}`),
    kernels: [...new Set(gpu.kernelPlan.map((p) => stepText(p, false)))],
    kernel_choice: gpu.kernelSummary,
    slices_in_flight: Number(process.env.SPC_GPU_SLICES_IN_FLIGHT) || 1, // the default with naps: 1
    // GPU ms per chunk of each candidate family, per pass (when tuned).
    tuning_ms: gpu.kernelTuning
      ? Object.fromEntries(
          Object.entries(gpu.kernelTuning.ms).map(([p, r]) => [p, Object.fromEntries(Object.entries(r).map(([c, v]) => [c, r3(v as number)]))]),
        )
      : null,
    tuning_failed: gpu.kernelTuning?.failed ?? [],
    setup_s: r3(setupS),
    liveMiB: r3(gpu.liveBytes() / 2 ** 20),
  });
}

/** Reloads the trainer's circuit (current parameters) with other kernel choices (untuned: density
 *  thresholds, forward and input kernels), then measures. */
async function variant(
  gpu: GpuEngineT,
  trainer: TrainerT,
  K: number,
  phase: string,
  choice: { thr?: number; perHeight?: boolean; input?: 'workgroup' },
): Promise<void> {
  const t0 = performance.now();
  const saved = { thr: gpu.denseThresholds, forward: gpu.forwardKernel, backward: gpu.backwardKernel, input: gpu.inputKernel, tune: gpu.tuneKernels };
  gpu.tuneKernels = false;
  if (choice.thr !== undefined) gpu.denseThresholds = { sum: choice.thr, flow: choice.thr, edge: choice.thr };
  if (choice.perHeight) {
    gpu.forwardKernel = 'height';
    gpu.backwardKernel = 'height';
  }
  if (choice.input) gpu.inputKernel = choice.input;
  await trainer.setCircuit(await trainer.snapshot());
  await throughput(gpu, trainer, K, phase, (performance.now() - t0) / 1000);
  gpu.denseThresholds = saved.thr;
  gpu.forwardKernel = saved.forward;
  gpu.backwardKernel = saved.backward;
  gpu.inputKernel = saved.input;
  gpu.tuneKernels = saved.tune;
  await trainer.setCircuit(await trainer.snapshot());
}

for (const K of Ks) {
  const t0 = performance.now();
  const circuit = buildHclt(structureData, { K, seed: 1 });
  const gpu = await createNodeGpuEngine({ napBeforeWaitMs: 20 });
  const trainer = await Trainer.create({ ...DEFAULT_TRAIN_CONFIG, K, batch: B }, gpu, train, null, circuit);
  if (!trainer.fused) throw new Error('the trainer did not pick the fused path');
  await throughput(gpu, trainer, K, 'unpruned', (performance.now() - t0) / 1000);
  await mnistCheck(gpu, trainer, K, 'unpruned');
  if (variants) {
    await variant(gpu, trainer, K, 'unpruned, rules (untuned auto)', {});
    await variant(gpu, trainer, K, 'unpruned, csr kernels', { thr: 2 });
    await variant(gpu, trainer, K, 'unpruned, workgroup inputs', { input: 'workgroup' });
    await variant(gpu, trainer, K, 'unpruned, per-height kernels', { perHeight: true });
    await variant(gpu, trainer, K, 'unpruned, per-height kernels + workgroup inputs', { perHeight: true, input: 'workgroup' });
  }
  if (prune) {
    const t1 = performance.now();
    // Prune reads flows and marked-edge flows in chunks of B, each settled after a calibrated nap.
    const ev = await trainer.prune(0.75, 'flow');
    log({
      check: 'prune',
      K,
      removed_edges: ev.removed_edges,
      edges: ev.edges,
      measured_ll_drop: r3(ev.measured_ll_drop),
      seconds: r3((performance.now() - t1) / 1000),
    });
    await throughput(gpu, trainer, K, 'pruned 75% by flow', (performance.now() - t1) / 1000);
    await mnistCheck(gpu, trainer, K, 'pruned 75% by flow');
    if (variants) {
      await variant(gpu, trainer, K, 'pruned, rules (untuned auto)', {});
      await variant(gpu, trainer, K, 'pruned, dense kernels', { thr: 0 });
      await variant(gpu, trainer, K, 'pruned, csr kernels', { thr: 2 });
      await variant(gpu, trainer, K, 'pruned, workgroup inputs', { input: 'workgroup' });
      await variant(gpu, trainer, K, 'pruned, per-height kernels', { perHeight: true });
      await variant(gpu, trainer, K, 'pruned, per-height kernels + workgroup inputs', { perHeight: true, input: 'workgroup' });
    }
  }
  gpu.dispose();
}
log({ done: true, seconds: r3((performance.now() - t00) / 1000) });
process.exit(0);

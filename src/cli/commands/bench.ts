// `cli bench`: throughput of each engine on HCLTs of the embedded digits (forward, and forward +
// backward + mini-batch EM), optionally again after pruning a fraction of the sum edges by flow.
// Figures, not assertions: the README and issue notes quote them.
import { compileCircuit } from '../../circuit/compile.ts';
import { chowLiuTree } from '../../circuit/hclt.ts';
import { buildTreeCircuit } from '../../circuit/tree.ts';
import { subset, type Dataset } from '../../data/dataset.ts';
import { loadEmbeddedDataset } from '../../data/load.ts';
import { createNodeEngine, ENGINE_KINDS, type EngineKind } from '../../engines/create-node.ts';
import type { Engine } from '../../engines/engine.ts';
import { batchesOf, DEFAULT_TRAIN_CONFIG, Trainer } from '../../training/trainer.ts';
import { Rng } from '../../util/rng.ts';
import { UserError } from '../../util/errors.ts';
import { positiveInt, pruneFraction, type FlagTable, type ParsedFlags } from '../args.ts';
import { createReporter } from '../output.ts';

export const benchFlags: FlagTable = {
  k: { type: 'list', default: '16,32', help: 'comma-separated K values' },
  engine: { type: 'list', default: 'cpu', choices: ENGINE_KINDS, help: 'comma-separated engines' },
  prune: { type: 'number', check: pruneFraction, help: 'also measure after pruning this fraction of sum edges (by flow)' },
  batch: { type: 'int', default: 512, check: positiveInt, help: 'mini-batch size' },
  batches: { type: 'int', default: 4, check: positiveInt, help: 'mini-batches timed per measurement (after one warm-up)' },
  threads: { type: 'int', default: 2, check: positiveInt, help: 'CPU engine threads' },
  json: { type: 'bool', help: 'one JSON object per engine and K' },
};

/** Samples per second of forward passes over `data` (one warm-up pass first). */
async function forwardRate(engine: Engine, data: Dataset, batch: number): Promise<number> {
  const first = batchesOf(data, null, batch).next().value!;
  await engine.logLikelihood(first);
  const t0 = performance.now();
  for (const b of batchesOf(data, null, batch)) await engine.logLikelihood(b);
  return data.count / ((performance.now() - t0) / 1000);
}

/** Samples per second of forward + backward + mini-batch EM. */
async function trainRate(engine: Engine, data: Dataset, batch: number): Promise<number> {
  const opts = { step: DEFAULT_TRAIN_CONFIG.step, pseudocount: DEFAULT_TRAIN_CONFIG.pseudocount };
  const first = batchesOf(data, null, batch).next().value!;
  await engine.accumulateFlows(first);
  await engine.emStep(opts);
  const t0 = performance.now();
  for (const b of batchesOf(data, null, batch)) {
    await engine.accumulateFlows(b);
    await engine.emStep(opts);
  }
  return data.count / ((performance.now() - t0) / 1000);
}

export async function benchCommand(f: ParsedFlags): Promise<void> {
  const ks = (f.k as string[]).map((s) => {
    const k = Number(s);
    if (!Number.isInteger(k) || k < 1) throw new UserError(`--k values must be integers >= 1, got "${s}"`);
    return k;
  });
  const engines = f.engine as EngineKind[];
  const batch = f.batch as number;
  const out = createReporter(Boolean(f.json));
  const all = await loadEmbeddedDataset();
  // A fixed, class-mixed sample of the digits: the tree comes from all of them.
  const order = new Rng(1).shuffle(Int32Array.from({ length: all.count }, (_, i) => i));
  const timed = subset(all, order.subarray(0, batch * (f.batches as number)));
  const tree = chowLiuTree(all);
  for (const kind of engines) {
    const engine = await createNodeEngine(kind, { threads: f.threads as number });
    try {
      for (const k of ks) {
        const circuit = buildTreeCircuit(tree, all.numValues, k, new Rng(1));
        const cc = compileCircuit(circuit);
        await engine.load(cc);
        const fwd = await forwardRate(engine, timed, batch);
        const train = await trainRate(engine, timed, batch);
        const row: Record<string, unknown> = {
          event: 'bench',
          engine: kind,
          adapter: engine.adapter,
          k,
          edges: cc.numEdges,
          forward_samples_per_s: fwd,
          train_samples_per_s: train,
          train_edge_samples_per_s: train * cc.numEdges,
        };
        let text = `${kind} (${engine.adapter}) K=${k}: ${cc.numEdges} edges, forward ${Math.round(fwd)} samples/s, train ${Math.round(train)} samples/s = ${(train * cc.numEdges).toExponential(2)} edge-samples/s`;
        if (f.prune !== undefined) {
          const trainer = await Trainer.create({ ...DEFAULT_TRAIN_CONFIG, K: k }, engine, timed, null, circuit);
          await trainer.prune(f.prune as number, 'flow');
          const pruned = await trainRate(engine, timed, batch);
          Object.assign(row, { pruned_edges: trainer.edges, pruned_train_samples_per_s: pruned, pruned_speedup: pruned / train });
          text += `; pruned to ${trainer.edges} edges: train ${Math.round(pruned)} samples/s (${(pruned / train).toFixed(2)}x)`;
        }
        out.event(row, text);
      }
    } finally {
      engine.dispose();
    }
  }
}

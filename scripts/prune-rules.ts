// Structure through rounds of prune -> grow, and what the paper's own rule for emptied sum nodes gives
// on the same circuits. Per round: sum edges before the prune, after it and after the grow; latent
// states that lost every parent; K per region (min / median / max) after the grow; and, for the same
// circuit and scores, the orphaned states and edges left had the emptied nodes kept their first edge
// (UCLA-StarAI/SparsePC `prune_edges_topk`) instead of their best-scoring one (ours,
// docs/architecture.md "Pruning"). The loop itself always applies our rule.
//
// Run: npx tsx scripts/prune-rules.ts [--train embedded|<idx images>] [--images N] [--k 8]
//        [--rounds 3] [--epochs 4] [--round-epochs 2] [--sigma 0.3] [--threads 1] [--seed 1]
// Prints a Markdown table (the one in docs/results/README.md, "Structure through the rounds").

import { removeEdgesWithReport, selectEdgesToPrune } from '../src/circuit/prune.ts';
import { countSumEdges } from '../src/circuit/structure.ts';
import { parseFlags, positiveInt, type FlagTable } from '../src/cli/args.ts';
import { subset } from '../src/data/dataset.ts';
import { loadDataset, loadEmbeddedDataset } from '../src/data/load.ts';
import { splitTrainValid } from '../src/data/split.ts';
import { createNodeEngine } from '../src/engines/create-node.ts';
import { DEFAULT_TRAIN_CONFIG, Trainer } from '../src/training/trainer.ts';

const flags: FlagTable = {
  train: { type: 'string', default: 'embedded', help: '"embedded" or an IDX images file' },
  images: { type: 'int', default: 0, help: 'use the first N images of the file (0: all)' },
  k: { type: 'int', default: 8, check: positiveInt, help: 'K of the starting HCLT' },
  rounds: { type: 'int', default: 3, check: positiveInt, help: 'rounds of prune -> grow -> EM' },
  epochs: { type: 'int', default: 4, help: 'EM epochs on the HCLT' },
  'round-epochs': { type: 'int', default: 2, help: 'EM epochs per round' },
  prune: { type: 'number', default: 0.75, help: 'fraction of the candidate edges pruned' },
  sigma: { type: 'number', default: 0.3, help: 'growth noise' },
  threads: { type: 'int', default: 1, check: positiveInt, help: 'CPU engine threads' },
  seed: { type: 'int', default: 1, help: 'random seed' },
};

async function main(): Promise<void> {
  const f = parseFlags('prune-rules', process.argv.slice(2), flags);
  const spec = f.train as string;
  let data = spec === 'embedded' ? await loadEmbeddedDataset() : await loadDataset(spec);
  const n = f.images as number;
  if (n > 0 && n < data.count)
    data = subset(
      data,
      Int32Array.from({ length: n }, (_, i) => i),
      `${data.name} (first ${n})`,
    );
  const { train, valid } = splitTrainValid(data, 0.1, f.seed as number);
  const config = { ...DEFAULT_TRAIN_CONFIG, K: f.k as number, seed: f.seed as number, sigma: f.sigma as number };
  const engine = await createNodeEngine('cpu', { threads: f.threads as number });
  const t = await Trainer.create(config, engine, train, valid);
  const fraction = f.prune as number;
  const epoch = async (): Promise<number> => (await t.epoch()).valid_bpd ?? NaN;
  let bpd = NaN;
  for (let e = 0; e < (f.epochs as number); e++) bpd = await epoch();
  console.log(`${data.name}: ${train.count} training images, HCLT K=${config.K}, ${t.edges} sum edges, validation ${bpd.toFixed(4)} bpd`);
  console.log('');
  console.log(
    "| round | sum edges before the prune | after it (ours / paper's rule) | after the grow | latent states orphaned (ours / paper's rule) | K per region after the grow (min / median / max) | validation bpd after the round |",
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (let round = 1; round <= (f.rounds as number); round++) {
    t.round = round;
    const plan = await t.scorePrune(fraction, 'flow');
    // The paper's rule on the same circuit and scores: the same marked count, first edges kept.
    const first = removeEdgesWithReport(plan.before, plan.compiled, selectEdgesToPrune(plan.compiled, plan.scores, fraction, 'first'));
    const firstEdges = countSumEdges(first.circuit);
    const pe = await t.applyPrune(plan);
    const ge = await t.grow();
    for (let e = 0; e < (f['round-epochs'] as number); e++) bpd = await epoch();
    console.log(
      `| ${round} | ${pe.edges_before} | ${pe.edges} / ${firstEdges} | ${ge.edges} | ${pe.orphaned_states} / ${first.orphans.states} | ${ge.k_min} / ${ge.k_median} / ${ge.k_max} | ${bpd.toFixed(4)} |`,
    );
  }
  engine.dispose();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});

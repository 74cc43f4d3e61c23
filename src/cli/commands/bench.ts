// `cli bench`: throughput of each engine on HCLTs of the embedded digits (src/training/bench.ts).
import { chowLiuTree } from '../../circuit/hclt.ts';
import { loadEmbeddedDataset } from '../../data/load.ts';
import { createNodeEngine, ENGINE_KINDS, type EngineKind } from '../../engines/create-node.ts';
import { HEIGHT_KERNEL_CHOICES, type HeightKernelChoice } from '../../engines/gpu/engine.ts';
import { benchOne, benchSample, describeBenchRow } from '../../training/bench.ts';
import { UserError } from '../../util/errors.ts';
import { positiveInt, setting, type FlagTable, type ParsedFlags } from '../args.ts';
import { createReporter } from '../output.ts';

const GPU_TUNE_CHOICES = ['auto', 'on', 'off'] as const;

export const benchFlags: FlagTable = {
  k: { type: 'list', default: '16,32', help: 'comma-separated K values' },
  engine: { type: 'list', default: 'cpu', choices: ENGINE_KINDS, help: 'comma-separated engines' },
  prune: { type: 'number', check: setting('prune'), help: 'also measure after pruning this fraction of sum edges (by flow)' },
  batch: { type: 'int', default: 512, check: positiveInt, help: 'mini-batch size' },
  batches: { type: 'int', default: 4, check: positiveInt, help: 'mini-batches timed per measurement (after one warm-up)' },
  threads: { type: 'int', default: 2, check: positiveInt, help: 'CPU engine threads' },
  'gpu-kernels': {
    type: 'string',
    default: 'auto',
    choices: HEIGHT_KERNEL_CHOICES,
    help: "GPU engine: 'height' runs the forward and the backward as one kernel per height of the circuit, 'layered' as two or three; 'auto' lets kernel tuning pick",
  },
  'gpu-tune': {
    type: 'string',
    default: 'auto',
    choices: GPU_TUNE_CHOICES,
    help: "GPU engine: time the candidate kernels of each pass on each circuit and keep the fastest ('auto': on real GPUs, not on software adapters)",
  },
  repeat: { type: 'int', default: 3, check: positiveInt, help: 'timed runs per figure, the best reported (unpruned and pruned runs alternate)' },
  json: { type: 'bool', help: 'one JSON object per engine and K' },
};

export async function benchCommand(f: ParsedFlags): Promise<void> {
  const ks = (f.k as string[]).map((s) => {
    const k = Number(s);
    if (!Number.isInteger(k) || k < 1) throw new UserError(`--k values must be integers >= 1, got "${s}"`);
    return k;
  });
  const batch = f.batch as number;
  const out = createReporter(Boolean(f.json));
  const all = await loadEmbeddedDataset();
  const timed = benchSample(all, batch * (f.batches as number));
  const tree = chowLiuTree(all);
  for (const kind of f.engine as EngineKind[]) {
    const tune = f['gpu-tune'] as (typeof GPU_TUNE_CHOICES)[number];
    const engine = await createNodeEngine(kind, {
      threads: f.threads as number,
      gpuKernels: f['gpu-kernels'] as HeightKernelChoice,
      gpuTune: tune === 'auto' ? undefined : tune === 'on',
    });
    try {
      for (const k of ks) {
        const row = await benchOne(engine, kind, tree, timed, k, batch, f.prune as number | undefined, f.repeat as number);
        out.event(row as unknown as Record<string, unknown>, describeBenchRow(row));
      }
    } finally {
      engine.dispose();
    }
  }
}

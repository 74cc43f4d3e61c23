// Builds the playground's demo model (src/ui/demo.ts): a sparse circuit trained on the embedded digits
// with the CPU engine, in the session's order (EM epochs on the HCLT, then one round of prune ->
// grow -> EM epochs), saved as .spc version 2 (the compact form: f32 sum weights, 8-bit input
// distributions) to public/models/demo.spc, with public/models/demo.json beside it (settings, split,
// engine, structure, file size and SHA-256, and the validation bpd of the shipped file as loaded,
// measured on the CPU engine in float64).
//
// Run:   npx tsx scripts/build-demo-model.ts [--out public/models] [--threads 2]
// Check: npx tsx scripts/build-demo-model.ts --check   (rebuilds in memory and compares with the
//        shipped files byte for byte; exit 1 on any difference)
//
// Deterministic: the same settings, seed and thread count give the same bytes (the CPU engine combines
// its shards' flows in shard order; the JSON's `seconds` is the only field that varies, and --check
// ignores it). About 2 minutes on 2 cores.

import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileCircuit } from '../src/circuit/compile.ts';
import { decodeSpc, encodeSpc } from '../src/circuit/formats/spc.ts';
import { latentStates, latentStateSpread, type Circuit } from '../src/circuit/structure.ts';
import { parseFlags, positiveInt, type FlagTable } from '../src/cli/args.ts';
import type { Dataset } from '../src/data/dataset.ts';
import { loadEmbeddedDataset } from '../src/data/load.ts';
import { splitFirstImages } from '../src/data/split.ts';
import { CpuEngine } from '../src/engines/cpu/engine.ts';
import { createNodeEngine } from '../src/engines/create-node.ts';
import { datasetBpd, Trainer } from '../src/training/trainer.ts';
import type { DemoInfo } from '../src/ui/demo.ts';
import { toTrainConfig } from '../src/worker/validation.ts';
import type { RunConfig } from '../src/worker/protocol.ts';

/**
 * The demo's settings. K = 6 keeps the file under 3 MB after the grow (its input distributions, 256
 * values per latent state of each pixel, are most of it: about 8,000 states after the grow, 2 MB at
 * one byte each); 4 epochs, then prune 75 % by flow, grow, and 6 epochs, which bring the grown circuit
 * back below the HCLT's validation bpd before the prune.
 */
const DEMO_SETTINGS: RunConfig = {
  K: 6,
  seed: 1,
  batch: 512,
  step: 0.1,
  pseudocount: 0.1,
  epochs: 4,
  roundEpochs: 6,
  rounds: 1,
  prune: 0.75,
  criterion: 'flow',
  sigma: 0.5,
  validFrac: 0.1,
  images: 0,
};

/** The largest file the playground ships as its demo. */
const DEMO_MAX_BYTES = 3 * 1024 * 1024;

const flags: FlagTable = {
  out: { type: 'string', default: fileURLToPath(new URL('../public/models/', import.meta.url)), help: 'folder for demo.spc and demo.json' },
  threads: { type: 'int', default: 2, check: positiveInt, help: 'CPU engine threads (part of the recipe: another count gives other bytes)' },
  check: { type: 'bool', help: 'rebuild and compare with the files in --out instead of writing' },
};

/** The split the demo was trained on, as the session makes it (images used, then a seeded split). */
function demoSplit(data: Dataset, s: RunConfig): { train: Dataset; valid: Dataset | null } {
  return splitFirstImages(data, s.images, s.validFrac, s.seed);
}

/** Validation bpd of a circuit on the CPU engine in float64, one thread (the test's measurement). */
async function float64Bpd(c: Circuit, valid: Dataset): Promise<number> {
  const engine = new CpuEngine({ threads: 1, precision: 'float64' });
  await engine.load(compileCircuit(c));
  const bpd = await datasetBpd(engine, valid);
  engine.dispose();
  return bpd;
}

async function build(threads: number): Promise<{ spc: Uint8Array; info: DemoInfo }> {
  const t0 = performance.now();
  const s = DEMO_SETTINGS;
  const data = await loadEmbeddedDataset();
  const { train, valid } = demoSplit(data, s);
  if (!valid) throw new Error('the demo needs validation images');
  const engine = await createNodeEngine('cpu', { threads });
  const log = (m: string): void => void process.stderr.write(`${m}\n`);
  log(`demo model: ${train.count} training and ${valid.count} validation images, ${engine.adapter}`);
  const t = await Trainer.create(toTrainConfig(s), engine, train, valid);
  const epochs = async (n: number): Promise<void> => {
    for (let e = 0; e < n; e++) {
      const ev = await t.epoch();
      log(`  round ${ev.round} epoch ${ev.epoch}: valid ${ev.valid_bpd?.toFixed(4)} bpd, ${ev.edges} edges, ${ev.seconds.toFixed(1)} s`);
    }
  };
  await epochs(s.epochs);
  for (let r = 1; r <= s.rounds; r++) {
    // The session's order (src/worker/session.ts): entering round r, prune, grow, the round's epochs.
    t.round = r;
    t.epochInRound = 0;
    const p = await t.prune(s.prune, s.criterion);
    log(`  prune: ${p.edges_before} -> ${p.edges} edges, K per region ${p.k_min} / ${p.k_median} / ${p.k_max}`);
    const g = await t.grow(s.sigma);
    log(`  grow: ${g.edges} edges, K per region ${g.k_min} / ${g.k_median} / ${g.k_max}`);
    await epochs(s.roundEpochs);
  }
  const circuit = await t.snapshot();
  engine.dispose();

  const spread = latentStateSpread(circuit);
  const edges = t.edges;
  const params = t.params;
  const K = latentStates(circuit);
  const meta = { source: 'Sparse PC Playground demo model (scripts/build-demo-model.ts)', config: s, dataset: data.name, K, round: s.rounds, edges, params };
  const spc = encodeSpc(circuit, meta, { version: 2 });
  const shipped = decodeSpc(spc, 'demo.spc').circuit;
  const info: DemoInfo = {
    file: 'demo.spc',
    bytes: spc.length,
    sha256: createHash('sha256').update(spc).digest('hex'),
    format: 2,
    command: 'npx tsx scripts/build-demo-model.ts',
    data: 'embedded',
    settings: s,
    split: { train: train.count, valid: valid.count },
    engine: { kind: 'cpu', precision: 'float32', threads },
    schedule: `${s.epochs} EM epochs on the HCLT, then ${s.rounds} round${s.rounds === 1 ? '' : 's'} of prune ${s.prune} by ${s.criterion} -> grow (sigma ${s.sigma}) -> ${s.roundEpochs} EM epochs`,
    structure: { K, kMin: spread.min, kMedian: spread.median, kMax: spread.max, edges, params },
    validBpd: await float64Bpd(shipped, valid),
    validBpdBeforeSaving: await float64Bpd(circuit, valid),
    version1Bytes: encodeSpc(circuit, meta).length,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
  };
  return { spc, info };
}

function json(info: DemoInfo): string {
  return `${JSON.stringify(info, null, 2)}\n`;
}

async function main(): Promise<void> {
  const f = parseFlags('build-demo-model', process.argv.slice(2), flags);
  const out = f.out as string;
  const { spc, info } = await build(f.threads as number);
  if (spc.length > DEMO_MAX_BYTES) throw new Error(`the demo model takes ${spc.length} bytes, over the ${DEMO_MAX_BYTES} allowed`);
  const summary = `${info.bytes} bytes (${info.version1Bytes} as .spc version 1), validation bpd ${info.validBpd.toFixed(6)} (${info.validBpdBeforeSaving.toFixed(6)} before saving), ${info.seconds} s`;
  if (f.check) {
    const [oldSpc, oldInfo] = await Promise.all([readFile(join(out, 'demo.spc')), readFile(join(out, 'demo.json'), 'utf8')]);
    const same = Buffer.compare(Buffer.from(spc), oldSpc) === 0;
    const sameInfo = json({ ...info, seconds: 0 }) === json({ ...(JSON.parse(oldInfo) as DemoInfo), seconds: 0 });
    console.log(`rebuilt: ${summary}; demo.spc ${same ? 'identical' : 'DIFFERS'}, demo.json ${sameInfo ? 'identical (but seconds)' : 'DIFFERS'}`);
    if (!same || !sameInfo) process.exit(1);
    return;
  }
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'demo.spc'), spc);
  await writeFile(join(out, 'demo.json'), json(info));
  console.log(`wrote ${join(out, 'demo.spc')} and demo.json: ${summary}`);
}

main().catch((e) => {
  console.error(`build-demo-model: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});

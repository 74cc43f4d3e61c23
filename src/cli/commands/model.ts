// `cli eval`, `cli prune`, `cli grow`: scripting on saved models.
import { compileCircuit } from '../../circuit/compile.ts';
import { PRUNE_CRITERIA, type PruneCriterion } from '../../circuit/prune.ts';
import { loadDataset } from '../../data/load.ts';
import { createNodeEngine, ENGINE_KINDS, type EngineKind } from '../../engines/create-node.ts';
import { DEFAULT_TRAIN_CONFIG, meanLogLikelihood, Trainer } from '../../training/trainer.ts';
import { UserError } from '../../util/errors.ts';
import { bitsPerDim } from '../../util/math.ts';
import { positiveInt, setting, type FlagTable, type ParsedFlags } from '../args.ts';
import { readModel, writeModel } from '../model-files.ts';
import { createReporter, describeGrow, describePrune, fmt } from '../output.ts';
import { mustBeWritableDir, mustExist } from './train.ts';

const common: FlagTable = {
  engine: { type: 'string', default: 'cpu', choices: ENGINE_KINDS, help: 'cpu or gpu' },
  threads: { type: 'int', default: 2, check: positiveInt, help: 'CPU engine threads' },
  json: { type: 'bool', help: 'print one JSON object' },
};

export const evalFlags: FlagTable = {
  model: { type: 'string', help: 'model file (.spc or .jpc)' },
  data: { type: 'string', default: 'embedded', help: '"embedded" or an IDX images file' },
  ...common,
};

export const pruneFlags: FlagTable = {
  in: { type: 'string', help: 'input model file' },
  out: { type: 'string', help: 'output model file' },
  prune: { type: 'number', default: DEFAULT_TRAIN_CONFIG.prune, check: setting('prune'), help: 'fraction of sum edges to remove' },
  criterion: { type: 'string', default: 'flow', choices: PRUNE_CRITERIA, help: 'pruning criterion' },
  data: { type: 'string', default: 'embedded', help: 'data the edges are scored on ("embedded" or an IDX file)' },
  seed: { type: 'int', default: 1, help: 'seed (random criterion)' },
  ...common,
};

export const growFlags: FlagTable = {
  in: { type: 'string', help: 'input model file' },
  out: { type: 'string', help: 'output model file' },
  sigma: { type: 'number', default: DEFAULT_TRAIN_CONFIG.sigma, check: setting('sigma'), help: 'noise on log-weights' },
  seed: { type: 'int', default: 1, help: 'seed for the noise' },
  ...common,
};

function required(f: ParsedFlags, name: string, command: string): string {
  const v = f[name];
  if (typeof v !== 'string' || v === '') throw new UserError(`${command}: --${name} <file> is required`);
  return v;
}

async function dataFor(spec: string, numVars: number, flag: string) {
  if (spec !== 'embedded') await mustExist(spec, flag);
  const data = await loadDataset(spec);
  if (data.numVars !== numVars) throw new UserError(`${flag} ${spec} has ${data.numVars} pixels per image, but the model has ${numVars} variables`);
  return data;
}

export async function evalCommand(f: ParsedFlags): Promise<void> {
  const modelPath = required(f, 'model', 'eval');
  await mustExist(modelPath, '--model');
  const { circuit } = await readModel(modelPath);
  const data = await dataFor(f.data as string, circuit.numVars, '--data');
  const engine = await createNodeEngine(f.engine as EngineKind, { threads: f.threads as number });
  try {
    await engine.load(compileCircuit(circuit));
    const ll = await meanLogLikelihood(engine, data);
    const bpd = bitsPerDim(ll, data.numVars);
    createReporter(Boolean(f.json)).event(
      { bpd, ll_mean: ll, n: data.count },
      `${data.name}: ${fmt(bpd)} bpd (mean log-likelihood ${fmt(ll, 2)} nats over ${data.count} images)`,
    );
  } finally {
    engine.dispose();
  }
}

export async function pruneCommand(f: ParsedFlags): Promise<void> {
  const inPath = required(f, 'in', 'prune');
  const outPath = required(f, 'out', 'prune');
  await mustExist(inPath, '--in');
  await mustBeWritableDir(outPath, '--out');
  const { circuit, meta } = await readModel(inPath);
  const data = await dataFor(f.data as string, circuit.numVars, '--data');
  const engine = await createNodeEngine(f.engine as EngineKind, { threads: f.threads as number });
  try {
    const config = { ...DEFAULT_TRAIN_CONFIG, seed: f.seed as number };
    const trainer = await Trainer.create(config, engine, data, null, circuit);
    const e = await trainer.prune(f.prune as number, f.criterion as PruneCriterion);
    await writeModel(outPath, await trainer.snapshot(), meta);
    createReporter(Boolean(f.json)).event(e as unknown as Record<string, unknown>, `${describePrune(e)}; saved ${outPath}`);
  } finally {
    engine.dispose();
  }
}

export async function growCommand(f: ParsedFlags): Promise<void> {
  const inPath = required(f, 'in', 'grow');
  const outPath = required(f, 'out', 'grow');
  await mustExist(inPath, '--in');
  await mustBeWritableDir(outPath, '--out');
  const { circuit, meta } = await readModel(inPath);
  const engine = await createNodeEngine(f.engine as EngineKind, { threads: f.threads as number });
  try {
    const config = { ...DEFAULT_TRAIN_CONFIG, seed: f.seed as number };
    const empty = { name: 'none', count: 0, numVars: circuit.numVars, numValues: circuit.numValues, rows: 0, cols: 0, pixels: new Uint8Array(0) };
    const trainer = await Trainer.create(config, engine, empty, null, circuit);
    const e = await trainer.grow(f.sigma as number);
    await writeModel(outPath, await trainer.snapshot(), meta);
    createReporter(Boolean(f.json)).event(e as unknown as Record<string, unknown>, `${describeGrow(e)}; saved ${outPath}`);
  } finally {
    engine.dispose();
  }
}

// `cli train`: HCLT + EM (+ prune/grow rounds) on the embedded digits or an IDX file.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname } from 'node:path';
import { splitTrainValid } from '../../data/split.ts';
import { loadDataset } from '../../data/load.ts';
import { createNodeEngine, ENGINE_KINDS, type EngineKind } from '../../engines/create-node.ts';
import { PRUNE_CRITERIA, type PruneCriterion } from '../../circuit/prune.ts';
import { datasetBpd, DEFAULT_TRAIN_CONFIG, Trainer, type TrainConfig } from '../../training/trainer.ts';
import { PAPER_SCHEDULE, SCHEDULES, type ScheduleName } from '../../training/schedule.ts';
import { UserError } from '../../util/errors.ts';
import { positiveInt, setting, type FlagTable, type ParsedFlags } from '../args.ts';
import { writeModel } from '../model-files.ts';
import { createReporter, describeGrow, describePrune, fmt } from '../output.ts';

const d = DEFAULT_TRAIN_CONFIG;
export const trainFlags: FlagTable = {
  train: { type: 'string', default: 'embedded', help: '"embedded" or an IDX images file (raw or .gz)' },
  test: { type: 'string', help: 'IDX images file to report test bpd on' },
  'valid-frac': { type: 'number', default: 0.1, check: setting('validFrac'), help: 'fraction of the training data held out for validation' },
  k: { type: 'int', default: d.K, check: setting('K'), help: 'latent states per variable' },
  schedule: {
    type: 'string',
    default: d.schedule,
    choices: SCHEDULES,
    help: 'plain (fixed step, --epochs / --round-epochs) or paper (the paper\'s annealed EM phases, early stopping, best round kept; sets the defaults marked "paper")',
  },
  'phase-epochs': {
    type: 'int',
    default: PAPER_SCHEDULE.phaseEpochs,
    check: positiveInt,
    help: 'paper schedule: epochs per EM phase (three phases per round)',
  },
  epochs: { type: 'int', default: d.epochs, check: setting('epochs'), help: 'plain schedule: EM epochs on the initial HCLT' },
  batch: { type: 'int', default: d.batch, check: setting('batch'), help: 'mini-batch size' },
  step: { type: 'number', default: d.step, check: setting('step'), help: 'plain schedule: mini-batch EM step size' },
  pseudocount: { type: 'number', check: setting('pseudocount'), help: `EM pseudocount (default ${d.pseudocount}; paper ${PAPER_SCHEDULE.pseudocount})` },
  'full-batch': { type: 'bool', help: 'full-batch EM (one update per epoch, step 1)' },
  seed: { type: 'int', default: d.seed, check: setting('seed'), help: 'random seed (same seed, same run)' },
  engine: { type: 'string', default: 'cpu', choices: ENGINE_KINDS, help: 'cpu or gpu' },
  threads: { type: 'int', default: 2, check: positiveInt, help: 'CPU engine threads' },
  rounds: { type: 'int', check: setting('rounds'), help: `prune -> grow -> EM rounds (default ${d.rounds}; paper ${PAPER_SCHEDULE.rounds})` },
  prune: {
    type: 'number',
    default: d.prune,
    check: setting('prune'),
    help: 'fraction of the prunable sum edges (those of sum nodes with several children) removed per round',
  },
  criterion: { type: 'string', default: d.criterion, choices: PRUNE_CRITERIA, help: 'pruning criterion' },
  sigma: { type: 'number', check: setting('sigma'), help: `growth noise on log-weights (default ${d.sigma}; paper ${PAPER_SCHEDULE.sigma})` },
  'round-epochs': { type: 'int', check: setting('roundEpochs'), help: 'plain schedule: EM epochs after each prune + grow (default: --epochs)' },
  patience: { type: 'int', default: d.patience, check: positiveInt, help: 'rounds without validation improvement before stopping' },
  out: { type: 'string', help: 'save the final model (.spc, or .jpc for Juice.jl)' },
  json: { type: 'bool', help: 'one JSON object per line' },
};

export function trainConfigFromFlags(f: ParsedFlags): TrainConfig {
  const schedule = f.schedule as ScheduleName;
  const paper = schedule === 'paper';
  if (paper && f['full-batch']) throw new UserError('--full-batch does not go with --schedule paper (its EM phases are mini-batch)');
  return {
    K: f.k as number,
    seed: f.seed as number,
    epochs: f.epochs as number,
    batch: f.batch as number,
    step: f.step as number,
    pseudocount: (f.pseudocount as number | undefined) ?? (paper ? PAPER_SCHEDULE.pseudocount : d.pseudocount),
    fullBatch: Boolean(f['full-batch']),
    rounds: (f.rounds as number | undefined) ?? (paper ? PAPER_SCHEDULE.rounds : d.rounds),
    prune: f.prune as number,
    criterion: f.criterion as PruneCriterion,
    sigma: (f.sigma as number | undefined) ?? (paper ? PAPER_SCHEDULE.sigma : d.sigma),
    roundEpochs: (f['round-epochs'] as number | undefined) ?? (f.epochs as number),
    patience: f.patience as number,
    schedule,
    phaseEpochs: f['phase-epochs'] as number,
  };
}

export async function mustExist(path: string, flag: string): Promise<void> {
  try {
    await access(path);
  } catch {
    throw new UserError(`${flag} ${path}: no such file`);
  }
}

/** The folder a result will be written to exists and is writable (checked before hours of training). */
export async function mustBeWritableDir(path: string, flag: string): Promise<void> {
  const dir = dirname(path);
  try {
    await access(dir, constants.W_OK);
  } catch {
    throw new UserError(`${flag} ${path}: folder ${dir} does not exist or is not writable`);
  }
}

export async function trainCommand(f: ParsedFlags): Promise<void> {
  const config = trainConfigFromFlags(f);
  const trainSpec = f.train as string;
  const testPath = f.test as string | undefined;
  if (trainSpec !== 'embedded') await mustExist(trainSpec, '--train');
  if (testPath) await mustExist(testPath, '--test');
  if (f.out) await mustBeWritableDir(f.out as string, '--out');
  const out = createReporter(Boolean(f.json));
  const t0 = performance.now();
  const all = await loadDataset(trainSpec);
  const test = testPath ? await loadDataset(testPath) : null;
  if (test && (test.numVars !== all.numVars || test.numValues !== all.numValues)) {
    throw new UserError(`--test ${testPath} has ${test.rows}x${test.cols} images, but the training data has ${all.rows}x${all.cols}`);
  }
  const { train, valid } = splitTrainValid(all, f['valid-frac'] as number, config.seed);
  // On the GPU, a failure mid-run (device lost, out of memory) moves training to the CPU engine from
  // the last EM step's parameters; the sentence goes to stderr.
  const engine = await createNodeEngine(f.engine as EngineKind, {
    threads: f.threads as number,
    gpuFallback: true,
    onFallback: (m) => process.stderr.write(`warning: ${m} Training continues on the CPU engine.\n`),
  });
  try {
    if (!out.json) process.stdout.write(`training on ${train.count} images (${valid?.count ?? 0} validation), ${engine.adapter}\n`);
    const trainer = await Trainer.create(config, engine, train, valid);
    await trainer.run(
      (e) => {
        if (e.event === 'epoch') {
          out.event(
            e as unknown as Record<string, unknown>,
            `round ${e.round} epoch ${e.epoch}: train ${fmt(e.train_bpd)} bpd, valid ${fmt(e.valid_bpd)} bpd, ${e.seconds.toFixed(1)} s (${Math.round(e.samples_per_s)} samples/s), ${e.edges} edges`,
          );
        } else if (e.event === 'prune') {
          out.event(e as unknown as Record<string, unknown>, describePrune(e));
        } else {
          out.event(e as unknown as Record<string, unknown>, describeGrow(e));
        }
      },
      (done, total) => out.progress('epoch', done, total),
    );
    const validBpd = valid ? await datasetBpd(engine, valid) : null;
    const testBpd = test ? await datasetBpd(engine, test) : null;
    if (f.out) {
      await writeModel(f.out as string, await trainer.snapshot(), { config, train: train.name, valid_bpd: validBpd, test_bpd: testBpd });
    }
    const done: Record<string, unknown> = { event: 'done' };
    if (testBpd !== null) done.test_bpd = testBpd;
    const bestRound = trainer.best?.round ?? null;
    Object.assign(done, { valid_bpd: validBpd, best_round: bestRound, edges: trainer.edges, params: trainer.params, seconds: (performance.now() - t0) / 1000 });
    out.event(
      done,
      `done: ${bestRound !== null ? `best round ${bestRound} kept, ` : ''}${testBpd !== null ? `test ${fmt(testBpd)} bpd, ` : ''}valid ${fmt(validBpd)} bpd, ${trainer.edges} edges, ${trainer.params} parameters, ${(done.seconds as number).toFixed(1)} s${f.out ? `, saved ${f.out}` : ''}`,
    );
  } finally {
    engine.dispose();
  }
}

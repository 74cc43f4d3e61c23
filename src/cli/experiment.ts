// `npm run experiment -- <name> [flags]`: runs one of the paper-reproduction experiments
// (src/experiments/) on the embedded digits, tested on the official MNIST test split (read from
// ../shared/data/mnist/ at run time, never copied) or on held-out embedded digits. Progress and the
// result go to stdout (JSON lines with --json); --out writes <name>.json (the result with the exact
// command, date, engine, cores and seconds) and <name>.svg. Bad flags: one line on stderr, exit 1.

import { existsSync } from 'node:fs';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset, loadEmbeddedDataset } from '../data/load.ts';
import { createNodeEngine, ENGINE_KINDS, type EngineKind } from '../engines/create-node.ts';
import { prepareExperimentData } from '../experiments/data.ts';
import { EXPERIMENTS, type ExperimentResult } from '../experiments/index.ts';
import { layoutFigure, renderSvg } from '../experiments/plot.ts';
import { EXPERIMENT_NAMES, type ExperimentName } from '../experiments/types.ts';
import { isUserError, UserError } from '../util/errors.ts';
import { formatHelp, parseFlags, positiveInt, setting, type FlagTable } from './args.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The official MNIST test split, next to the repository (docs/architecture.md, "Data": read there,
 *  never copied in). */
const DEFAULT_TEST_PATH = resolve(ROOT, '../shared/data/mnist/t10k-images-idx3-ubyte.gz');
const HOLDOUT = 'embedded-holdout';

const experimentFlags: FlagTable = {
  train: { type: 'string', default: 'embedded', help: '"embedded" (the embedded MNIST digits) or an IDX images file (raw or .gz) to train and validate on' },
  quick: { type: 'bool', help: 'the CI size (seconds, held-out embedded digits as the test set unless --test says otherwise)' },
  test: {
    type: 'string',
    help: `IDX images file for test bpd, or "${HOLDOUT}" (default: ../shared/data/mnist/t10k-images-idx3-ubyte.gz; with --quick: ${HOLDOUT})`,
  },
  engine: { type: 'string', default: 'cpu', choices: ENGINE_KINDS, help: 'cpu or gpu' },
  threads: { type: 'int', default: 2, check: positiveInt, help: 'CPU engine threads' },
  seed: { type: 'int', default: 1, help: 'random seed (same seed, same run)' },
  out: { type: 'string', help: 'folder to write <name>.json and <name>.svg into (created if missing)' },
  tag: { type: 'string', help: 'files are named <name>-<tag>.json and .svg (e.g. --tag fashion: prune-grow-fashion.json)' },
  k: { type: 'int', check: setting('K'), help: "latent states per region of the (starting) HCLT, instead of the size's own" },
  'phase-epochs': {
    type: 'int',
    check: positiveInt,
    help: "prune-grow: epochs per EM phase (three phases per round; the paper: 50), instead of the size's own",
  },
  rounds: { type: 'int', check: positiveInt, help: "prune-grow: most rounds of prune -> grow -> EM (the paper: 20), instead of the size's own" },
  json: { type: 'bool', help: 'one JSON object per line: progress events, then the result' },
  replot: {
    type: 'bool',
    help: 'only redraw <out>/<name>.svg and refresh the summary in <out>/<name>.json from its measurements (after a code change); runs nothing',
  },
};

function usage(): string {
  return [
    'usage: npm run experiment -- <name> [flags]',
    '',
    ...EXPERIMENT_NAMES.map((n) => `  ${n.padEnd(12)} ${EXPERIMENTS[n].summary}`),
    '',
    'npm run experiment -- <name> --help lists the flags.',
  ].join('\n');
}

/** The command as a person would type it again (arguments with spaces or quotes quoted). */
function commandLine(argv: string[]): string {
  const q = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['npm', 'run', 'experiment', '--', ...argv].map(q).join(' ');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 1 : 0;
  }
  if (!(EXPERIMENT_NAMES as readonly string[]).includes(name)) {
    process.stderr.write(`error: unknown experiment "${name}" (experiments: ${EXPERIMENT_NAMES.join(', ')})\n`);
    return 1;
  }
  const spec = EXPERIMENTS[name as ExperimentName];
  if (rest.includes('--help')) {
    process.stdout.write(formatHelp(name, spec.summary, experimentFlags).replace(`npm run cli -- ${name}`, `npm run experiment -- ${name}`) + '\n');
    return 0;
  }
  try {
    await run(name as ExperimentName, argv);
    return 0;
  } catch (e) {
    if (isUserError(e)) {
      // args.ts points at the main CLI's help; this entry has its own.
      process.stderr.write(`error: ${e.message.replace(`npm run cli -- ${name} --help`, `npm run experiment -- ${name} --help`)}\n`);
      return 1;
    }
    throw e;
  }
}

interface RunMeta {
  command: string;
  date: string;
  engine: string;
  machine: { cores: number };
  seconds: number;
}

/** The small print under a saved chart: how it was made. */
function svgNote(meta: RunMeta): string {
  return `${meta.command} | ${meta.date.slice(0, 10)} | ${meta.engine} | ${meta.machine.cores} cores | ${Math.round(meta.seconds)} s`;
}

/** Redraws <out>/<name>.svg from the saved <out>/<name>.json. */
async function replot(name: ExperimentName, outDir: string | undefined, fileBase: string): Promise<void> {
  if (!outDir) throw new UserError('--replot needs --out <folder> holding the saved <name>.json.');
  const path = join(outDir, `${fileBase}.json`);
  let saved: RunMeta & { result: ExperimentResult };
  try {
    saved = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new UserError(`--replot: cannot read ${path} (${e instanceof Error ? e.message.split('\n')[0] : String(e)}).`);
  }
  if (saved?.result?.experiment !== name) throw new UserError(`--replot: ${path} does not hold a ${name} result.`);
  // Derived fields (summary, sentences) follow the current code; the measurements stay as they were.
  const spec = EXPERIMENTS[name];
  const result = spec.resummarize(saved.result);
  await writeFile(path, JSON.stringify({ ...saved, summary: spec.summaryLines(result), result }, null, 2) + '\n');
  await writeFile(join(outDir, `${fileBase}.svg`), renderSvg(layoutFigure(spec.figure(result, svgNote(saved)))));
  process.stdout.write(`wrote ${join(outDir, `${fileBase}.svg`)} and refreshed the summary in ${path}\n`);
}

/** Flags that replace one option of the chosen size, by the option they set. */
const SIZE_OVERRIDES = { k: 'K', 'phase-epochs': 'phaseEpochs', rounds: 'rounds' } as const;

/** The options the size flags set; a flag the experiment has no option for is a user error. */
function sizeOverrides(name: ExperimentName, options: object, f: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [flag, key] of Object.entries(SIZE_OVERRIDES)) {
    if (f[flag] === undefined) continue;
    if (!(key in options)) throw new UserError(`--${flag}: the ${name} experiment has no such setting (it is for prune-grow).`);
    out[key] = f[flag] as number;
  }
  return out;
}

async function run(name: ExperimentName, argv: string[]): Promise<void> {
  const f = parseFlags(name, argv.slice(1), experimentFlags);
  const quick = Boolean(f.quick);
  const json = Boolean(f.json);
  const seed = f.seed as number;
  const spec = EXPERIMENTS[name];
  const size = quick ? spec.sizes.quick : spec.sizes.default;
  const tag = f.tag as string | undefined;
  if (tag !== undefined && !/^[\w-]+$/.test(tag)) throw new UserError(`--tag must be letters, digits, - or _, got "${tag}"`);
  const fileBase = tag ? `${name}-${tag}` : name;
  if (f.replot) return replot(name, f.out as string | undefined, fileBase);

  // Where the test images come from, checked before any work.
  const testFlag = f.test as string | undefined;
  const trainSpec = f.train as string;
  if (trainSpec !== 'embedded' && !existsSync(trainSpec)) throw new UserError(`--train ${trainSpec}: no such file (pass an IDX images file or "embedded").`);
  const testSpec = testFlag ?? (quick || trainSpec !== 'embedded' ? HOLDOUT : DEFAULT_TEST_PATH);
  if (testSpec !== HOLDOUT && !existsSync(testSpec)) {
    if (testFlag === undefined) {
      throw new UserError(
        `the official MNIST test split is missing (${relative(process.cwd(), testSpec) || testSpec}): put it there, or pass --test <images-idx3-ubyte file> or --test ${HOLDOUT}.`,
      );
    }
    throw new UserError(`--test ${testSpec}: no such file (pass an IDX images file or "${HOLDOUT}").`);
  }
  const outDir = f.out as string | undefined;
  if (outDir) {
    try {
      await mkdir(outDir, { recursive: true });
      await access(outDir, 2 /* W_OK */);
    } catch {
      throw new UserError(`--out ${outDir}: cannot create or write to this folder.`);
    }
  }

  const t0 = performance.now();
  const pool = trainSpec === 'embedded' ? await loadEmbeddedDataset() : await loadDataset(trainSpec);
  const test = testSpec === HOLDOUT ? null : await loadDataset(testSpec);
  const testName = testSpec === HOLDOUT ? `--test ${HOLDOUT}` : testSpec === DEFAULT_TEST_PATH ? 'official MNIST test split' : testSpec;
  const data = prepareExperimentData(pool, test, { seed, ...size.data }, testName);
  const options = { ...size.options, ...sizeOverrides(name, size.options, f), seed };
  const engineKind = f.engine as EngineKind;
  let adapter = '';
  const makeEngine = async () => {
    const e = await createNodeEngine(engineKind, {
      threads: f.threads as number,
      gpuFallback: true,
      onFallback: (m) => process.stderr.write(`warning: ${m} The experiment continues on the CPU engine.\n`),
    });
    adapter ||= e.adapter;
    return e;
  };
  const say = (obj: Record<string, unknown>, text: string): void => {
    process.stdout.write((json ? JSON.stringify(obj) : text) + '\n');
  };
  say(
    { event: 'start', experiment: name, size: quick ? 'quick' : 'default', train: data.trainSource, test: data.testSource },
    `${name} (${quick ? 'quick' : 'default'} size): ${data.trainSource}; test: ${data.testSource}`,
  );
  const result = await spec.run(makeEngine, data, options, (p) => say(p as unknown as Record<string, unknown>, `[${p.step}/${p.steps}] ${p.message}`));
  const seconds = (performance.now() - t0) / 1000;
  const command = commandLine(argv);
  const meta = {
    command,
    date: new Date().toISOString(),
    engine: adapter,
    machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform} ${process.arch}` },
    seconds,
  };
  const lines = spec.summaryLines(result);
  if (outDir) {
    const svg = renderSvg(layoutFigure(spec.figure(result, svgNote(meta))));
    await writeFile(join(outDir, `${fileBase}.json`), JSON.stringify({ ...meta, summary: lines, result }, null, 2) + '\n');
    await writeFile(join(outDir, `${fileBase}.svg`), svg);
  }
  if (json) say({ event: 'result', ...meta, summary: lines, result }, '');
  else {
    for (const l of lines) process.stdout.write(l + '\n');
    process.stdout.write(
      `done in ${seconds.toFixed(0)} s${outDir ? `; wrote ${join(outDir, `${fileBase}.json`)} and ${join(outDir, `${fileBase}.svg`)}` : ''}\n`,
    );
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(2);
  },
);

// The command line: `npm run cli -- <command> [flags]`. User mistakes print one line and exit 1;
// anything else is a bug and keeps its stack trace.
import { formatHelp, parseFlags, type FlagTable, type ParsedFlags } from './args.ts';
import { benchCommand, benchFlags } from './commands/bench.ts';
import { evalCommand, evalFlags, growCommand, growFlags, pruneCommand, pruneFlags } from './commands/model.ts';
import { trainCommand, trainFlags } from './commands/train.ts';
import { isUserError } from '../util/errors.ts';

interface Command {
  summary: string;
  flags: FlagTable;
  run: (f: ParsedFlags) => Promise<void>;
}

const commands: Record<string, Command> = {
  train: { summary: 'Learn an HCLT (and prune/grow rounds) with EM.', flags: trainFlags, run: trainCommand },
  eval: { summary: 'Bits per dimension of a saved model on a dataset.', flags: evalFlags, run: evalCommand },
  prune: { summary: 'Prune a saved model by flow, magnitude or at random.', flags: pruneFlags, run: pruneCommand },
  grow: { summary: 'Grow a saved model (double every region).', flags: growFlags, run: growCommand },
  bench: { summary: 'Throughput of the engines on HCLTs of the embedded digits.', flags: benchFlags, run: benchCommand },
};

function usage(): string {
  return [
    'usage: npm run cli -- <command> [flags]',
    '',
    ...Object.entries(commands).map(([n, c]) => `  ${n.padEnd(6)} ${c.summary}`),
    '',
    'npm run cli -- <command> --help lists the flags.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 1 : 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`error: unknown command "${name}" (commands: ${Object.keys(commands).join(', ')})\n`);
    return 1;
  }
  if (rest.includes('--help')) {
    process.stdout.write(formatHelp(name, cmd.summary, cmd.flags) + '\n');
    return 0;
  }
  try {
    await cmd.run(parseFlags(name, rest, cmd.flags));
    return 0;
  } catch (e) {
    if (isUserError(e)) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));

// Command-line flags: one declarative table per command, parsed and validated before any work
// starts. Every mistake becomes one UserError sentence naming the flag and what was expected.

import { settingProblem, type SettingName } from '../training/settings.ts';
import { UserError } from '../util/errors.ts';

export type FlagType = 'int' | 'number' | 'string' | 'bool' | 'list';

export interface FlagSpec {
  type: FlagType;
  default?: string | number | boolean;
  help: string;
  /** Returns a sentence fragment saying what is expected, or null when the value is fine. */
  check?: (v: never) => string | null;
  /** Allowed values for strings and list items. */
  choices?: readonly string[];
}

export type FlagTable = Record<string, FlagSpec>;
export type ParsedFlags = Record<string, string | number | boolean | string[] | undefined>;

export function parseFlags(command: string, argv: string[], table: FlagTable): ParsedFlags {
  const out: ParsedFlags = {};
  for (const [name, spec] of Object.entries(table)) {
    if (spec.default !== undefined) out[name] = spec.type === 'list' ? convert(name, spec, String(spec.default)) : spec.default;
  }
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k];
    if (!arg.startsWith('--')) throw new UserError(`${command}: unexpected argument "${arg}" (flags look like --name value; see --help)`);
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const spec = table[name];
    if (!spec) throw new UserError(`${command}: unknown option --${name} (see npm run cli -- ${command} --help)`);
    if (spec.type === 'bool') {
      if (value !== undefined && value !== 'true' && value !== 'false') throw new UserError(`--${name} takes no value`);
      out[name] = value !== 'false';
      continue;
    }
    if (value === undefined) {
      if (k + 1 >= argv.length || argv[k + 1].startsWith('--')) throw new UserError(`--${name} needs a value (${spec.help})`);
      value = argv[++k];
    }
    out[name] = convert(name, spec, value);
  }
  for (const [name, spec] of Object.entries(table)) {
    const v = out[name];
    if (v === undefined) continue;
    const problem = spec.check ? spec.check(v as never) : null;
    if (problem) throw new UserError(`--${name} ${problem}, got ${Array.isArray(v) ? v.join(',') : v}`);
  }
  return out;
}

function convert(name: string, spec: FlagSpec, raw: string): string | number | string[] {
  switch (spec.type) {
    case 'int': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isInteger(v)) throw new UserError(`--${name} must be an integer, got "${raw}"`);
      return v;
    }
    case 'number': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v)) throw new UserError(`--${name} must be a number, got "${raw}"`);
      return v;
    }
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) throw new UserError(`--${name} must be one of ${spec.choices.join(', ')}, got "${raw}"`);
      return raw;
    case 'list': {
      const items = raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      if (items.length === 0) throw new UserError(`--${name} needs a comma-separated list, got "${raw}"`);
      for (const it of items)
        if (spec.choices && !spec.choices.includes(it)) throw new UserError(`--${name} items must be among ${spec.choices.join(', ')}, got "${it}"`);
      return items;
    }
    case 'bool':
      throw new Error('unreachable');
  }
}

export function formatHelp(command: string, summary: string, table: FlagTable): string {
  const lines = [`npm run cli -- ${command} [flags]`, '', summary, ''];
  for (const [name, spec] of Object.entries(table)) {
    const d = spec.default !== undefined && spec.type !== 'bool' ? ` (default ${spec.default})` : '';
    lines.push(`  --${name}${spec.type === 'bool' ? '' : ' <' + spec.type + '>'}  ${spec.help}${d}`);
  }
  return lines.join('\n');
}

// Shared checks. The learning settings use the one table of ranges (training/settings.ts) that the
// playground's links and worker use too, at the learner's (CLI) limits.
export const setting =
  (name: SettingName) =>
  (v: number): string | null =>
    settingProblem(name, v, 'cli');
export const positiveInt = (v: number): string | null => (v >= 1 ? null : 'must be an integer >= 1');

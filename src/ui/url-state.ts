// The playground's URL state: one typed table of fields (hash key, type, default, safe range) that is
// used both to write the Share link and to read it back, so the two can never drift apart (the same
// idea as tensorflow/playground's src/state.ts). Pure: strings in, strings out, no DOM.
//
// Links come from strangers, so `decodeState` never throws and never trusts a value: anything unknown,
// malformed or out of range is repaired to the nearest safe value (or the default) and reported in a
// plain-text notice that never repeats more than a few safe characters of what the link said.

import { PRUNE_CRITERIA, type PruneCriterion } from '../circuit/prune.ts';
import { DEFAULT_TRAIN_CONFIG, settingRange, type SettingName } from '../training/settings.ts';

/** Bump when a key changes meaning; old links then open with the defaults and a notice. */
export const URL_STATE_VERSION = 1;
/** Longer hashes are refused whole: a valid link is about 150 characters. */
export const MAX_HASH_LENGTH = 2000;

/** Only the embedded subset can travel in a link: a visitor's own IDX files stay on their machine. */
export const SHAREABLE_DATASETS = ['embedded'] as const;
export type ShareableDataset = (typeof SHAREABLE_DATASETS)[number];

export const VIEWS = ['train', 'circuit', 'draw', 'experiments'] as const;
export type PlaygroundView = (typeof VIEWS)[number];

/** `demo`: open with the shipped demo model (src/ui/demo.ts) loaded; `new`: no model until Play. */
export const MODEL_CHOICES = ['new', 'demo'] as const;
export type ModelChoice = (typeof MODEL_CHOICES)[number];

export interface PlaygroundUrlState {
  dataset: ShareableDataset;
  K: number;
  seed: number;
  batch: number;
  step: number;
  pseudocount: number;
  /** EM epochs on the initial HCLT. */
  epochs: number;
  /** EM epochs after each prune + grow. */
  roundEpochs: number;
  rounds: number;
  prune: number;
  criterion: PruneCriterion;
  sigma: number;
  validFrac: number;
  /** Use only the first this many images (0: all). */
  images: number;
  /** Train a dense HCLT with the same sum edges beside the sparse circuit, after each round (src/ui/compare.ts). */
  compare: boolean;
  /** Which model the page opens with: the demo model, or none until Play (`replay` wins over `demo`). */
  model: ModelChoice;
  view: PlaygroundView;
  /** Replay the run when the link is opened. */
  replay: boolean;
}

interface FieldBase<P extends keyof PlaygroundUrlState> {
  prop: P;
  /** Key in the hash; short because links get pasted into chats. */
  key: string;
  /** Name used in notices. */
  label: string;
  default: PlaygroundUrlState[P];
}
export interface NumberField<P extends keyof PlaygroundUrlState = keyof PlaygroundUrlState> extends FieldBase<P> {
  kind: 'int' | 'number';
  min: number;
  max: number;
  /** `min` itself is not allowed (step size 0 would never learn); below it there is no nearest safe value, so the default is used. */
  minExclusive?: boolean;
}
export interface EnumField<P extends keyof PlaygroundUrlState = keyof PlaygroundUrlState> extends FieldBase<P> {
  kind: 'enum';
  values: readonly string[];
}
export interface BoolField<P extends keyof PlaygroundUrlState = keyof PlaygroundUrlState> extends FieldBase<P> {
  kind: 'bool';
}
export type UrlField = NumberField | EnumField | BoolField;

const T = DEFAULT_TRAIN_CONFIG;

/** A numeric field's kind and range: the playground's, from the one table of setting ranges. */
function range(name: SettingName): { kind: 'int' | 'number'; min: number; max: number; minExclusive?: boolean } {
  const r = settingRange(name, 'browser');
  return { kind: r.integer ? 'int' : 'number', min: r.min, max: r.max, ...(r.minExclusive ? { minExclusive: true } : {}) };
}

/**
 * The schema, in the order keys are written (a fixed order keeps links stable and diffable).
 * Every field is always written, defaults included, so a link keeps its meaning if a default changes.
 */
export const URL_FIELDS: readonly UrlField[] = [
  { prop: 'dataset', key: 'data', label: 'dataset', kind: 'enum', values: SHAREABLE_DATASETS, default: 'embedded' },
  // K = 8, not the CLI's 32: the browser's CPU fallback takes minutes per epoch at K = 32.
  { prop: 'K', key: 'k', label: 'K', ...range('K'), default: 8 },
  { prop: 'seed', key: 'seed', label: 'seed', ...range('seed'), default: T.seed },
  { prop: 'batch', key: 'batch', label: 'batch size', ...range('batch'), default: T.batch },
  { prop: 'step', key: 'step', label: 'step size', ...range('step'), default: T.step },
  { prop: 'pseudocount', key: 'pc', label: 'pseudocount', ...range('pseudocount'), default: T.pseudocount },
  // A shorter schedule than the CLI's (10 epochs, no rounds): a first Play in the browser should show
  // the point of the method, prunes and grows, within a minute or two.
  { prop: 'epochs', key: 'epochs', label: 'initial epochs', ...range('epochs'), default: 4 },
  { prop: 'roundEpochs', key: 're', label: 'epochs per round', ...range('roundEpochs'), default: 2 },
  { prop: 'rounds', key: 'rounds', label: 'rounds', ...range('rounds'), default: 2 },
  { prop: 'prune', key: 'prune', label: 'prune fraction', ...range('prune'), default: T.prune },
  { prop: 'criterion', key: 'crit', label: 'prune criterion', kind: 'enum', values: PRUNE_CRITERIA, default: T.criterion },
  { prop: 'sigma', key: 'sigma', label: 'growth noise (sigma)', ...range('sigma'), default: T.sigma },
  // 0.1 as in `cli train --valid-frac`.
  { prop: 'validFrac', key: 'vf', label: 'validation fraction', ...range('validFrac'), default: 0.1 },
  // 0 (all) by default.
  { prop: 'images', key: 'n', label: 'images used', ...range('images'), default: 0 },
  // Off in the schema; the page turns it on for a first visit when WebGPU is present (main.tsx).
  { prop: 'compare', key: 'cmp', label: 'compare with dense', kind: 'bool', default: false },
  // `new` in the schema (a link without the key opens as it always did); a first visit, with no link
  // and nothing remembered, opens on the demo (page.ts).
  { prop: 'model', key: 'model', label: 'model', kind: 'enum', values: MODEL_CHOICES, default: 'new' },
  { prop: 'view', key: 'view', label: 'view', kind: 'enum', values: VIEWS, default: 'train' },
  { prop: 'replay', key: 'replay', label: 'replay', kind: 'bool', default: false },
];

export const DEFAULT_URL_STATE: PlaygroundUrlState = Object.freeze(
  Object.fromEntries(URL_FIELDS.map((f) => [f.prop, f.default])) as unknown as PlaygroundUrlState,
);

export function defaultUrlState(): PlaygroundUrlState {
  return { ...DEFAULT_URL_STATE };
}

// ---------------------------------------------------------------------------------------------------
// Writing

/** Shortest string that reads back to the same double; -0 becomes 0 (they mean the same setting). */
function formatNumber(n: number): string {
  return String(n === 0 ? 0 : n);
}

/**
 * The hash for a state, e.g. `#v=1&data=embedded&k=8&...`. Values go through the same repair as
 * decoding (silently), so even a corrupted in-memory state can never produce a hostile link.
 */
export function encodeState(state: PlaygroundUrlState): string {
  const parts = [`v=${URL_STATE_VERSION}`];
  const bag = state as unknown as Record<string, unknown>;
  for (const f of URL_FIELDS) parts.push(`${f.key}=${formatValue(f, repairTyped(f, bag[f.prop]))}`);
  return `#${parts.join('&')}`;
}

function formatValue(f: UrlField, v: unknown): string {
  if (f.kind === 'bool') return v ? '1' : '0';
  if (f.kind === 'enum') return String(v);
  return formatNumber(v as number);
}

/** A typed value forced into the field's range without a notice (used when writing). */
function repairTyped(f: UrlField, v: unknown): unknown {
  if (f.kind === 'bool') return typeof v === 'boolean' ? v : f.default;
  if (f.kind === 'enum') return typeof v === 'string' && f.values.includes(v) ? v : f.default;
  if (typeof v !== 'number' || !Number.isFinite(v)) return f.default;
  return repairNumber(f, v).value;
}

// ---------------------------------------------------------------------------------------------------
// Reading

/** Plain-decimal or exponent notation only: no hex, no `Infinity`, no whitespace, no empty string. */
const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const SAFE_RE = /^[A-Za-z0-9._-]+$/;
const MAX_SHOWN = 12;

/**
 * How a notice refers to raw text from the link: quoted when short and made only of [A-Za-z0-9._-],
 * otherwise described, so notices never carry markup or long attacker-chosen text.
 */
export function describeRaw(raw: string): string {
  if (raw === '') return 'an empty value';
  if (raw.length <= MAX_SHOWN && SAFE_RE.test(raw)) return `"${raw}"`;
  return `an unreadable value (${raw.length} characters)`;
}

interface Repaired {
  value: number;
  /** What was wrong, phrased to follow the raw value, or null when the value was fine. */
  problem: string | null;
}

function repairNumber(f: NumberField, v: number): Repaired {
  if (f.minExclusive ? v <= f.min : v < f.min) {
    if (f.minExclusive)
      return { value: f.default as number, problem: `must be above ${formatNumber(f.min)}; used the default ${formatNumber(f.default as number)}` };
    return { value: f.min, problem: `is below the minimum ${formatNumber(f.min)}; used ${formatNumber(f.min)}` };
  }
  if (v > f.max) return { value: f.max, problem: `is above the maximum ${formatNumber(f.max)}; used ${formatNumber(f.max)}` };
  if (f.kind === 'int' && !Number.isInteger(v)) {
    // min and max are integers, so rounding stays inside the range.
    const r = Math.round(v);
    return { value: r, problem: `is not a whole number; used ${formatNumber(r)}` };
  }
  return { value: v === 0 ? 0 : v, problem: null };
}

function readField(f: UrlField, raw: string): { value: unknown; notice: string | null } {
  const shown = describeRaw(raw);
  const fail = (why: string, value: unknown = f.default) => ({ value, notice: `${f.label}: ${shown} ${why}.` });
  if (f.kind === 'bool') {
    if (raw === '1') return { value: true, notice: null };
    if (raw === '0') return { value: false, notice: null };
    return fail(`is not 1 or 0; used the default ${f.default ? '1' : '0'}`);
  }
  if (f.kind === 'enum') {
    if (f.values.includes(raw)) return { value: raw, notice: null };
    if (f.prop === 'dataset') return fail(`cannot be shared (only the embedded MNIST subset can); used ${String(f.default)}`);
    return fail(`is not one of ${f.values.join(', ')}; used ${String(f.default)}`);
  }
  const def = formatNumber(f.default as number);
  if (!NUMBER_RE.test(raw)) return fail(`is not a number; used the default ${def}`);
  const n = Number(raw);
  if (!Number.isFinite(n)) return fail(`is not a finite number; used the default ${def}`);
  const r = repairNumber(f, n);
  return r.problem === null ? { value: r.value, notice: null } : fail(r.problem, r.value);
}

const FIELD_BY_KEY = new Map(URL_FIELDS.map((f) => [f.key, f]));
const MAX_UNKNOWN_SHOWN = 3;

/**
 * Reads a hash (with or without the leading `#`). Never throws. An empty hash gives the defaults
 * without notices; a missing or unknown version, or an over-long hash, gives the defaults and exactly
 * one notice (guessing what another schema meant could run something the sender never asked for).
 * Within v=1, each bad field is repaired on its own, with one notice per field.
 */
export function decodeState(hash: string): { state: PlaygroundUrlState; notices: string[] } {
  const state = defaultUrlState();
  if (typeof hash !== 'string') return { state, notices: ['The link could not be read; used the defaults.'] };
  if (hash.length > MAX_HASH_LENGTH) {
    return { state, notices: [`The link is ${hash.length} characters long, over the ${MAX_HASH_LENGTH} allowed; used the defaults.`] };
  }
  const body = hash.startsWith('#') ? hash.slice(1) : hash;
  if (body === '') return { state, notices: [] };

  // First occurrence of each key wins; a Map, not an object, so keys like `__proto__` are inert.
  const values = new Map<string, string>();
  const counts = new Map<string, number>();
  for (const part of body.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (!values.has(key)) values.set(key, value);
  }

  const version = values.get('v');
  if (version === undefined) return { state, notices: ['The link has no schema version (v); used the defaults.'] };
  if (version !== String(URL_STATE_VERSION)) {
    return {
      state,
      notices: [`The link uses schema version ${describeRaw(version)}, but this playground reads v=${URL_STATE_VERSION}; used the defaults.`],
    };
  }

  const notices: string[] = [];
  const bag = state as unknown as Record<string, unknown>;
  const unknown: string[] = [];
  for (const [key, raw] of values) {
    const count = counts.get(key) ?? 1;
    const f = FIELD_BY_KEY.get(key);
    if (key !== 'v' && f === undefined) {
      unknown.push(key);
      continue;
    }
    if (count > 1) notices.push(`${f ? f.label : 'version'}: given ${count} times; used the first.`);
    if (f === undefined) continue;
    const r = readField(f, raw);
    bag[f.prop] = r.value;
    if (r.notice !== null) notices.push(r.notice);
  }
  if (unknown.length > 0) {
    // One notice for all of them: a link stuffed with junk keys should not flood the page.
    const named = unknown.slice(0, MAX_UNKNOWN_SHOWN).map(describeRaw).join(', ');
    const more = unknown.length > MAX_UNKNOWN_SHOWN ? ` and ${unknown.length - MAX_UNKNOWN_SHOWN} more` : '';
    notices.push(`Ignored ${unknown.length} unknown setting${unknown.length === 1 ? '' : 's'}: ${named}${more}.`);
  }
  return { state, notices };
}

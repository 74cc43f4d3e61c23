// The Share link's schema: defaults, exact round trips over a seeded sample of valid states, and the
// repair of hostile links (issue 4, "Behaviour people expect"): every bad value gets a concrete safe
// value and one plain-text notice, and nothing from the link reaches a notice as markup.
import { describe, expect, it } from 'vitest';
import { PRUNE_CRITERIA } from '../../src/circuit/prune.ts';
import { DEFAULT_TRAIN_CONFIG } from '../../src/training/trainer.ts';
import {
  DEFAULT_URL_STATE,
  MAX_HASH_LENGTH,
  URL_FIELDS,
  VIEWS,
  decodeState,
  defaultUrlState,
  encodeState,
  type NumberField,
  type PlaygroundUrlState,
} from '../../src/ui/url-state.ts';
import { Rng } from '../../src/util/rng.ts';

const DEFAULT_HASH =
  '#v=1&data=embedded&k=8&seed=1&batch=512&step=0.1&pc=0.1&epochs=4&re=2&rounds=2&prune=0.75&crit=flow&sigma=0.5&vf=0.1&n=0&cmp=0&model=new&view=train&replay=0';

/** The default link with one key's value replaced (or appended when `key` is new). */
function withValue(key: string, value: string): string {
  const parts = DEFAULT_HASH.slice(1).split('&');
  const i = parts.findIndex((p) => p.startsWith(`${key}=`));
  if (i < 0) parts.push(`${key}=${value}`);
  else parts[i] = `${key}=${value}`;
  return `#${parts.join('&')}`;
}

function randomValidState(rng: Rng): PlaygroundUrlState {
  const s = defaultUrlState() as unknown as Record<string, unknown>;
  for (const f of URL_FIELDS) {
    if (f.kind === 'bool') s[f.prop] = rng.int(2) === 1;
    else if (f.kind === 'enum') s[f.prop] = f.values[rng.int(f.values.length)];
    else if (f.kind === 'int') s[f.prop] = f.min + rng.int(f.max - f.min + 1);
    else {
      // Endpoints, short decimals and full-precision doubles: the last is what sliders produce.
      const pick = rng.int(4);
      const u = rng.uniform();
      const v =
        pick === 0
          ? f.max
          : pick === 1
            ? f.minExclusive
              ? f.max
              : f.min
            : pick === 2
              ? (Math.round(u * 100) / 100) * f.max
              : f.min + (1 - u) * (f.max - f.min);
      s[f.prop] = f.minExclusive && v <= f.min ? f.max : v;
    }
  }
  return s as unknown as PlaygroundUrlState;
}

describe('url state: defaults and encoding', () => {
  it('defaults come from DEFAULT_TRAIN_CONFIG, with the browser K of 8', () => {
    expect(DEFAULT_URL_STATE).toEqual({
      dataset: 'embedded',
      K: 8,
      seed: DEFAULT_TRAIN_CONFIG.seed,
      batch: DEFAULT_TRAIN_CONFIG.batch,
      step: DEFAULT_TRAIN_CONFIG.step,
      pseudocount: DEFAULT_TRAIN_CONFIG.pseudocount,
      epochs: 4,
      roundEpochs: 2,
      rounds: 2,
      prune: DEFAULT_TRAIN_CONFIG.prune,
      criterion: DEFAULT_TRAIN_CONFIG.criterion,
      sigma: DEFAULT_TRAIN_CONFIG.sigma,
      validFrac: 0.1,
      images: 0,
      compare: false,
      model: 'new',
      view: 'train',
      replay: false,
    });
    expect(DEFAULT_URL_STATE.K).toBe(8);
    expect(DEFAULT_URL_STATE.seed).toBe(1);
  });

  it('every default lies inside its own safe range', () => {
    for (const f of URL_FIELDS) {
      if (f.kind === 'int' || f.kind === 'number') {
        const d = f.default as number;
        expect(d <= f.max && (f.minExclusive ? d > f.min : d >= f.min), f.key).toBe(true);
      }
    }
  });

  it('encodes every field in a fixed key order, numbers in shortest form', () => {
    expect(encodeState(DEFAULT_URL_STATE)).toBe(DEFAULT_HASH);
    const s = { ...DEFAULT_URL_STATE, K: 16, step: 0.1 + 0.2, replay: true, view: 'draw' as const, criterion: 'random' as const };
    expect(encodeState(s)).toBe(
      '#v=1&data=embedded&k=16&seed=1&batch=512&step=0.30000000000000004&pc=0.1&epochs=4&re=2&rounds=2&prune=0.75&crit=random&sigma=0.5&vf=0.1&n=0&cmp=0&model=new&view=draw&replay=1',
    );
    // Key order follows the table, not the object's property order.
    const shuffled = Object.fromEntries(Object.entries(s).reverse()) as unknown as PlaygroundUrlState;
    expect(encodeState(shuffled)).toBe(encodeState(s));
  });

  it('an empty hash gives the defaults without notices', () => {
    expect(decodeState('')).toEqual({ state: DEFAULT_URL_STATE, notices: [] });
    expect(decodeState('#')).toEqual({ state: DEFAULT_URL_STATE, notices: [] });
  });

  it('reads a hash with or without the leading #, and keeps missing keys at their defaults', () => {
    expect(decodeState('v=1&k=4').state).toEqual({ ...DEFAULT_URL_STATE, K: 4 });
    expect(decodeState('#v=1&k=4&view=circuit&replay=1')).toEqual({
      state: { ...DEFAULT_URL_STATE, K: 4, view: 'circuit', replay: true },
      notices: [],
    });
  });

  it('encoding repairs a corrupted in-memory state instead of writing it', () => {
    const bad = { ...DEFAULT_URL_STATE, K: 1e9, step: Number.NaN, view: '<b>' } as unknown as PlaygroundUrlState;
    expect(encodeState(bad)).toBe(DEFAULT_HASH.replace('k=8', 'k=64'));
  });
});

describe('url state: the demo model (model=demo)', () => {
  it('a link can name the demo; without the key a link opens as before (no model until Play)', () => {
    expect(decodeState('#v=1&k=4&model=demo')).toEqual({ state: { ...DEFAULT_URL_STATE, K: 4, model: 'demo' }, notices: [] });
    expect(decodeState('#v=1&k=4').state.model).toBe('new');
    expect(encodeState({ ...DEFAULT_URL_STATE, model: 'demo' })).toBe(DEFAULT_HASH.replace('model=new', 'model=demo'));
    // Any other value is repaired to `new` with one notice.
    expect(decodeState('#v=1&model=mine')).toEqual({
      state: DEFAULT_URL_STATE,
      notices: ['model: "mine" is not one of new, demo; used new.'],
    });
  });
});

describe('url state: round trips', () => {
  it('decode(encode(s)) equals s for 500 seeded random valid states, without notices', () => {
    const rng = new Rng(20240604);
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const s = randomValidState(rng);
      const hash = encodeState(s);
      seen.add(hash);
      const back = decodeState(hash);
      expect(back.notices).toEqual([]);
      expect(back.state).toEqual(s);
      expect(encodeState(back.state)).toBe(hash);
    }
    expect(seen.size).toBe(500);
    // The sample reached every enum value.
    expect(new Set([...seen].map((h) => /view=(\w+)/.exec(h)?.[1]))).toEqual(new Set(VIEWS));
    expect(new Set([...seen].map((h) => /crit=(\w+)/.exec(h)?.[1]))).toEqual(new Set(PRUNE_CRITERIA));
  });

  it('range endpoints round-trip', () => {
    const lo = defaultUrlState() as unknown as Record<string, unknown>;
    const hi = defaultUrlState() as unknown as Record<string, unknown>;
    for (const f of URL_FIELDS) {
      if (f.kind !== 'int' && f.kind !== 'number') continue;
      lo[f.prop] = f.minExclusive ? Number.MIN_VALUE : f.min;
      hi[f.prop] = f.max;
    }
    for (const s of [lo, hi] as unknown as PlaygroundUrlState[]) expect(decodeState(encodeState(s))).toEqual({ state: s, notices: [] });
    expect((hi as unknown as PlaygroundUrlState).seed).toBe(2147483647);
  });

  it('encode(decode(x)) is idempotent, hostile or not', () => {
    const inputs = [
      '',
      '#v=1&k=1e9&seed=-4&step=0&pc=NaN&view=<script>&zz=1',
      '#v=1&k=8.5&k=3&batch=Infinity&crit=FLOW&replay=yes',
      '#v=2&k=4',
      'garbage',
      '#v=1&' + 'x'.repeat(MAX_HASH_LENGTH),
    ];
    const rng = new Rng(7);
    const alphabet = 'v=1&k8.e-+<>%#"x';
    for (let i = 0; i < 200; i++) {
      let s = '#v=1&';
      for (let j = 0; j < 30; j++) s += alphabet[rng.int(alphabet.length)];
      inputs.push(s);
    }
    for (const x of inputs) {
      const once = encodeState(decodeState(x).state);
      const again = decodeState(once);
      expect(again.notices).toEqual([]);
      expect(encodeState(again.state)).toBe(once);
    }
  });
});

describe('url state: hostile links are repaired with one plain-text notice each', () => {
  const cases: Array<{ name: string; key: string; raw: string; prop: keyof PlaygroundUrlState; value: unknown; notice: string }> = [
    { name: 'K = 1e9', key: 'k', raw: '1e9', prop: 'K', value: 64, notice: 'K: "1e9" is above the maximum 64; used 64.' },
    { name: 'negative K', key: 'k', raw: '-3', prop: 'K', value: 1, notice: 'K: "-3" is below the minimum 1; used 1.' },
    { name: 'fractional K', key: 'k', raw: '8.5', prop: 'K', value: 9, notice: 'K: "8.5" is not a whole number; used 9.' },
    { name: 'NaN', key: 'k', raw: 'NaN', prop: 'K', value: 8, notice: 'K: "NaN" is not a number; used the default 8.' },
    { name: 'Infinity', key: 'batch', raw: 'Infinity', prop: 'batch', value: 512, notice: 'batch size: "Infinity" is not a number; used the default 512.' },
    { name: 'overflowing exponent', key: 'k', raw: '1e400', prop: 'K', value: 8, notice: 'K: "1e400" is not a finite number; used the default 8.' },
    { name: 'a word where a number goes', key: 'seed', raw: 'abc', prop: 'seed', value: 1, notice: 'seed: "abc" is not a number; used the default 1.' },
    { name: 'hex', key: 'batch', raw: '0x10', prop: 'batch', value: 512, notice: 'batch size: "0x10" is not a number; used the default 512.' },
    { name: 'empty value', key: 'pc', raw: '', prop: 'pseudocount', value: 0.1, notice: 'pseudocount: an empty value is not a number; used the default 0.1.' },
    { name: 'negative seed', key: 'seed', raw: '-1', prop: 'seed', value: 0, notice: 'seed: "-1" is below the minimum 0; used 0.' },
    {
      name: 'huge seed',
      key: 'seed',
      raw: '99999999999',
      prop: 'seed',
      value: 2147483647,
      notice: 'seed: "99999999999" is above the maximum 2147483647; used 2147483647.',
    },
    { name: 'batch 0', key: 'batch', raw: '0', prop: 'batch', value: 1, notice: 'batch size: "0" is below the minimum 1; used 1.' },
    { name: 'step 0', key: 'step', raw: '0', prop: 'step', value: 0.1, notice: 'step size: "0" must be above 0; used the default 0.1.' },
    { name: 'step 5', key: 'step', raw: '5', prop: 'step', value: 1, notice: 'step size: "5" is above the maximum 1; used 1.' },
    { name: 'prune 1', key: 'prune', raw: '1', prop: 'prune', value: 0.99, notice: 'prune fraction: "1" is above the maximum 0.99; used 0.99.' },
    { name: 'sigma -1', key: 'sigma', raw: '-1', prop: 'sigma', value: 0, notice: 'growth noise (sigma): "-1" is below the minimum 0; used 0.' },
    { name: 'validFrac 0.9', key: 'vf', raw: '0.9', prop: 'validFrac', value: 0.5, notice: 'validation fraction: "0.9" is above the maximum 0.5; used 0.5.' },
    { name: 'rounds 11', key: 'rounds', raw: '11', prop: 'rounds', value: 10, notice: 'rounds: "11" is above the maximum 10; used 10.' },
    { name: 'epochs 101', key: 'epochs', raw: '101', prop: 'epochs', value: 100, notice: 'initial epochs: "101" is above the maximum 100; used 100.' },
    { name: 'round epochs -2', key: 're', raw: '-2', prop: 'roundEpochs', value: 0, notice: 'epochs per round: "-2" is below the minimum 0; used 0.' },
    {
      name: 'script text in a number',
      key: 'k',
      raw: '<script>alert(1)</script>',
      prop: 'K',
      value: 8,
      notice: 'K: an unreadable value (25 characters) is not a number; used the default 8.',
    },
    {
      name: 'percent-encoded script',
      key: 'view',
      raw: '%3Cscript%3E',
      prop: 'view',
      value: 'train',
      notice: 'view: an unreadable value (12 characters) is not one of train, circuit, draw, experiments; used train.',
    },
    {
      name: 'unknown view',
      key: 'view',
      raw: 'admin',
      prop: 'view',
      value: 'train',
      notice: 'view: "admin" is not one of train, circuit, draw, experiments; used train.',
    },
    {
      name: 'criterion in the wrong case',
      key: 'crit',
      raw: 'FLOW',
      prop: 'criterion',
      value: 'flow',
      notice: 'prune criterion: "FLOW" is not one of flow, magnitude, random; used flow.',
    },
    { name: 'replay yes', key: 'replay', raw: 'yes', prop: 'replay', value: false, notice: 'replay: "yes" is not 1 or 0; used the default 0.' },
    {
      name: 'a dataset that cannot be shared',
      key: 'data',
      raw: 'fashion',
      prop: 'dataset',
      value: 'embedded',
      notice: 'dataset: "fashion" cannot be shared (only the embedded MNIST subset can); used embedded.',
    },
    {
      name: 'a long value',
      key: 'data',
      raw: 'a'.repeat(40),
      prop: 'dataset',
      value: 'embedded',
      notice: 'dataset: an unreadable value (40 characters) cannot be shared (only the embedded MNIST subset can); used embedded.',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { state, notices } = decodeState(withValue(c.key, c.raw));
      expect(state).toEqual({ ...DEFAULT_URL_STATE, [c.prop]: c.value });
      expect(notices).toEqual([c.notice]);
    });
  }

  it('several bad fields give one notice each, in schema order', () => {
    const { state, notices } = decodeState('#v=1&k=1e9&seed=-5&view=x');
    expect(state).toEqual({ ...DEFAULT_URL_STATE, K: 64, seed: 0 });
    expect(notices).toEqual([
      'K: "1e9" is above the maximum 64; used 64.',
      'seed: "-5" is below the minimum 0; used 0.',
      'view: "x" is not one of train, circuit, draw, experiments; used train.',
    ]);
  });

  it('a duplicated key: the first value wins, with a notice', () => {
    const { state, notices } = decodeState('#v=1&k=4&k=1e9&k=2');
    expect(state).toEqual({ ...DEFAULT_URL_STATE, K: 4 });
    expect(notices).toEqual(['K: given 3 times; used the first.']);
    expect(decodeState('#v=1&v=2').notices).toEqual(['version: given 2 times; used the first.']);
  });

  it('unknown keys are ignored with one notice naming at most three', () => {
    expect(decodeState('#v=1&foo=1&k=4')).toEqual({ state: { ...DEFAULT_URL_STATE, K: 4 }, notices: ['Ignored 1 unknown setting: "foo".'] });
    // The third key is `<img src` (the pair splits at its first `=`).
    const r = decodeState('#v=1&a=1&__proto__=x&<img src=x onerror=alert(1)>&K=9&constructor=2');
    expect(r.state).toEqual(DEFAULT_URL_STATE);
    expect(r.notices).toEqual(['Ignored 5 unknown settings: "a", "__proto__", an unreadable value (8 characters) and 2 more.']);
    expect(Object.getPrototypeOf(r.state)).toBe(Object.prototype);
  });

  it('an over-long link is refused whole, with one notice', () => {
    const long = withValue('zz', 'x'.repeat(MAX_HASH_LENGTH));
    expect(long.length).toBeGreaterThan(MAX_HASH_LENGTH);
    const r = decodeState(long);
    expect(r.state).toEqual(DEFAULT_URL_STATE);
    expect(r.notices).toEqual([`The link is ${long.length} characters long, over the 2000 allowed; used the defaults.`]);
    // Exactly at the limit is still read.
    const atLimit = withValue('k', '4') + '&' + 'p'.repeat(MAX_HASH_LENGTH - withValue('k', '4').length - 1);
    expect(atLimit.length).toBe(MAX_HASH_LENGTH);
    expect(decodeState(atLimit).state.K).toBe(4);
  });

  it('no notice ever contains markup characters or long raw input', () => {
    const hostile = [
      '#v=<script>',
      '#v=1&k=<script>alert(1)</script>',
      '#v=1&<svg/onload=alert(1)>=1',
      '#v=1&view="><img src=x>',
      '#v=1&data=javascript:alert(1)',
      '#v=1&k=' + '9'.repeat(500),
      '#v=' + '<'.repeat(3000),
      '#<b>hi</b>',
    ];
    const rng = new Rng(99);
    const alphabet = 'v=1&k<>"\'/;:%#x.-e9';
    for (let i = 0; i < 300; i++) {
      let s = rng.int(2) === 0 ? '#v=1&' : '#';
      for (let j = 0; j < 40; j++) s += alphabet[rng.int(alphabet.length)];
      hostile.push(s);
    }
    for (const h of hostile) {
      const { notices } = decodeState(h);
      for (const n of notices) {
        expect(n).not.toMatch(/[<>&'`]/);
        // Raw text is echoed only as a short quoted token.
        for (const quoted of n.match(/"[^"]*"/g) ?? []) expect(quoted.length).toBeLessThanOrEqual(14);
      }
    }
  });
});

describe('url state: versions', () => {
  it('an unknown version gives the defaults and exactly one notice, ignoring the other keys', () => {
    expect(decodeState('#v=2&k=1e9&view=<x>')).toEqual({
      state: DEFAULT_URL_STATE,
      notices: ['The link uses schema version "2", but this playground reads v=1; used the defaults.'],
    });
    expect(decodeState('#v=<script>&k=4').notices).toEqual([
      'The link uses schema version an unreadable value (8 characters), but this playground reads v=1; used the defaults.',
    ]);
    expect(decodeState('#v=1.0&k=4').state).toEqual(DEFAULT_URL_STATE);
  });

  it('a missing version gives the defaults and one notice', () => {
    expect(decodeState('#k=4')).toEqual({ state: DEFAULT_URL_STATE, notices: ['The link has no schema version (v); used the defaults.'] });
    expect(decodeState('garbage')).toEqual({ state: DEFAULT_URL_STATE, notices: ['The link has no schema version (v); used the defaults.'] });
  });

  it('never throws, whatever it is given', () => {
    for (const x of [undefined, null, 42, {}, '#v=1&=&&==&k==4', '%', '#v=1&k=%E0%A4%A']) {
      expect(() => decodeState(x as unknown as string)).not.toThrow();
    }
    expect(decodeState(undefined as unknown as string).state).toEqual(DEFAULT_URL_STATE);
  });

  it('number fields expose their safe ranges for the inputs', () => {
    const k = URL_FIELDS.find((f) => f.prop === 'K') as NumberField;
    expect([k.min, k.max, k.default]).toEqual([1, 64, 8]);
  });
});

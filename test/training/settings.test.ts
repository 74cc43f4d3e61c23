// The one table of setting ranges (src/training/settings.ts): the URL schema, the worker session and
// the CLI all apply it, the browser at its limits and the CLI at the learner's.
import { describe, expect, it } from 'vitest';
import { setting } from '../../src/cli/args.ts';
import { SETTING_RANGES, settingProblem, settingRange, type SettingName } from '../../src/training/settings.ts';
import { URL_FIELDS, type NumberField } from '../../src/ui/url-state.ts';
import { checkRunConfig } from '../../src/worker/validation.ts';

const NAMES = Object.keys(SETTING_RANGES) as SettingName[];

describe('setting ranges', () => {
  it('the URL schema takes every numeric setting range from the table (browser limits)', () => {
    for (const name of NAMES) {
      const f = URL_FIELDS.find((x) => x.prop === name) as NumberField | undefined;
      expect(f, name).toBeDefined();
      const r = settingRange(name, 'browser');
      expect([f!.kind, f!.min, f!.max, f!.minExclusive ?? false]).toEqual([r.integer ? 'int' : 'number', r.min, r.max, r.minExclusive]);
    }
  });

  it('the session refuses what a link may not ask for, the CLI takes up to the learner limit', () => {
    expect(() => checkRunConfig({ K: 64 })).not.toThrow();
    expect(() => checkRunConfig({ K: 65 })).toThrow('The setting K must be a whole number from 1 to 64, got 65.');
    expect(() => checkRunConfig({ step: 0 })).toThrow('The setting step must be a number above 0 and at most 1, got 0.');
    expect(() => checkRunConfig({ batch: 2.5 })).toThrow(/batch must be a whole number/);
    expect(setting('K')(65)).toBeNull();
    expect(setting('K')(1025)).toBe('must be a whole number from 1 to 1024');
    for (const name of NAMES) {
      const cli = settingRange(name, 'cli');
      const browser = settingRange(name, 'browser');
      expect(browser.max).toBeLessThanOrEqual(cli.max);
      expect(settingProblem(name, browser.max, 'browser')).toBeNull();
      expect(settingProblem(name, cli.max, 'cli')).toBeNull();
      expect(settingProblem(name, NaN, 'cli')).not.toBeNull();
      expect(settingProblem(name, cli.min - 1, 'cli')).not.toBeNull();
    }
  });
});

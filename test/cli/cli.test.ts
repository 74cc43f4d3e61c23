// The command line as other checks call it: flag validation before any work, JSON events, model files.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;

function cli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const lines = (s: string) =>
  s
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('cli flag errors: one line, non-zero exit, before any work', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spc-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'junk.idx'), 'not an idx file');
  const cases: Array<[string[], RegExp]> = [
    [['train', '--k', '0'], /^error: --k must be a whole number from 1 to 1024, got 0$/],
    [['train', '--k', 'abc'], /^error: --k must be an integer, got "abc"$/],
    [['train', '--step', '1.5'], /^error: --step must be a number above 0 and at most 1, got 1.5$/],
    [['train', '--step', '0'], /^error: --step must be a number above 0 and at most 1, got 0$/],
    [['train', '--prune', '1'], /^error: --prune must be a number from 0 to 0.99, got 1$/],
    [['train', '--criterion', 'biggest'], /^error: --criterion must be one of flow, magnitude, random, got "biggest"$/],
    [['train', '--train', join(dir, 'missing.idx')], /^error: --train .*missing\.idx: no such file$/],
    [['train', '--train', join(dir, 'junk.idx')], /^error: .*junk\.idx .*IDX/],
    [['train', '--epochs'], /^error: --epochs needs a value/],
    [['train', '--out', join(dir, 'no-such-folder', 'm.spc')], /^error: --out .*m\.spc: folder .*no-such-folder does not exist or is not writable$/],
    [['grow', '--in', join(dir, 'junk.idx'), '--out', join(dir, 'nope', 'g.spc')], /^error: --out .*g\.spc: folder .*nope does not exist or is not writable$/],
    [['train', '--bogus', '3'], /^error: train: unknown option --bogus/],
    [['eval', '--data', 'embedded'], /^error: eval: --model <file> is required$/],
    [['eval', '--model', join(dir, 'none.spc')], /^error: --model .*none\.spc: no such file$/],
    [['eval', '--model', join(dir, 'junk.idx')], /^error: .*junk\.idx is not a \.spc model/],
    [['bench', '--k', '0'], /^error: --k values must be integers >= 1, got "0"$/],
    [['bench', '--engine', 'tpu'], /^error: --engine items must be among cpu, gpu, got "tpu"$/],
    [['frobnicate'], /^error: unknown command "frobnicate"/],
  ];
  for (const [args, pattern] of cases) {
    it(args.join(' '), () => {
      const r = cli(...args);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(pattern);
    });
  }
});

describe('cli train / eval / prune / grow', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spc-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const model = join(dir, 'm.spc');
  const trainArgs = [
    'train',
    '--k',
    '2',
    '--epochs',
    '1',
    '--rounds',
    '1',
    '--round-epochs',
    '1',
    '--prune',
    '0.5',
    '--valid-frac',
    '0.5',
    '--batch',
    '500',
    '--json',
  ];

  it('train --json prints epoch, prune, grow and done events with every field, and is deterministic', () => {
    const r = cli(...trainArgs, '--out', model);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const ev = lines(r.stdout);
    expect(ev.map((e) => e.event)).toEqual(['epoch', 'prune', 'grow', 'epoch', 'done']);
    expect(Object.keys(ev[0]).sort()).toEqual(['edges', 'epoch', 'event', 'params', 'round', 'samples_per_s', 'seconds', 'train_bpd', 'valid_bpd'].sort());
    expect(ev[0].edges).toBe(783 * 4 + 2);
    // Half of the 3,134 edges (every sum node of a K=2 HCLT has two), less one for each sum node that
    // would lose both.
    expect(ev[1]).toMatchObject({ criterion: 'flow', edges_before: 3134 });
    expect(Number(ev[1].removed_edges)).toBeLessThanOrEqual(1567);
    expect(Number(ev[1].removed_edges)).toBeGreaterThan(1567 - 783);
    for (const k of [
      'bound_ll_drop',
      'measured_ll_drop',
      'edges',
      'params',
      'orphaned_states',
      'orphaned_sums',
      'orphaned_edges',
      'k_min',
      'k_median',
      'k_max',
    ])
      expect(ev[1]).toHaveProperty(k);
    expect(Number(ev[1].edges)).toBe(3134 - Number(ev[1].removed_edges) - Number(ev[1].orphaned_edges));
    expect(Number(ev[2].k) % 2).toBe(0);
    expect(ev[2]).toMatchObject({ edges_before: ev[1].edges, k_median: 2 * Number(ev[1].k_median), k_max: 2 * Number(ev[1].k_max) });
    // A sum node with several children and its copy get 2d edges each, one with a single child one each.
    expect(Number(ev[2].edges)).toBeGreaterThanOrEqual(2 * Number(ev[1].edges));
    expect(Number(ev[2].edges)).toBeLessThanOrEqual(4 * Number(ev[1].edges));
    expect(ev[3]).toMatchObject({ round: 1, epoch: 1 });
    const done = ev[4];
    expect(Number(done.valid_bpd)).toBeGreaterThan(0.8);
    expect(Number(done.valid_bpd)).toBeLessThan(4);
    expect(done).not.toHaveProperty('test_bpd');
    // Same seed, same run: every figure but the timings is identical.
    const again = lines(cli(...trainArgs).stdout);
    const strip = (e: Record<string, unknown>) => ({ ...e, seconds: 0, samples_per_s: 0 });
    expect(again.map(strip)).toEqual(ev.map(strip));

    // eval on the saved model agrees with the training run's validation figure on the same split
    // (here: on all 10,000 embedded digits, so only bounds are comparable).
    const e = cli('eval', '--model', model, '--data', 'embedded', '--json');
    expect(e.code).toBe(0);
    const res = JSON.parse(e.stdout);
    expect(res.n).toBe(10000);
    expect(Math.abs(res.bpd - Number(done.valid_bpd))).toBeLessThan(0.1);
    expect(res.ll_mean).toBeCloseTo(-res.bpd * 784 * Math.LN2, 6);
  });

  it('prune and grow saved models, and .jpc export evaluates identically', () => {
    const pruned = join(dir, 'p.spc');
    const grown = join(dir, 'g.jpc');
    const p = cli('prune', '--in', model, '--out', pruned, '--prune', '0.3', '--criterion', 'magnitude', '--json');
    expect(p.code).toBe(0);
    const pe = JSON.parse(p.stdout);
    expect(pe).toMatchObject({ event: 'prune', criterion: 'magnitude' });
    const g = cli('grow', '--in', pruned, '--out', grown, '--sigma', '0', '--json');
    expect(g.code).toBe(0);
    const ge = JSON.parse(g.stdout);
    expect(ge.k).toBeGreaterThanOrEqual(2);
    const a = JSON.parse(cli('eval', '--model', pruned, '--json').stdout);
    const b = JSON.parse(cli('eval', '--model', grown, '--json').stdout);
    // Growing with sigma 0 keeps the function: same bpd up to float32 evaluation noise.
    expect(Math.abs(a.bpd - b.bpd)).toBeLessThan(1e-4);
  });
});

describe('cli flag parsing', () => {
  it('list defaults are lists', async () => {
    const { parseFlags } = await import('../../src/cli/args.ts');
    const { benchFlags } = await import('../../src/cli/commands/bench.ts');
    const f = parseFlags('bench', [], benchFlags);
    expect(f.engine).toEqual(['cpu']);
    expect(f.k).toEqual(['16', '32']);
    expect(parseFlags('bench', ['--k', '4,8', '--engine', 'cpu,gpu'], benchFlags)).toMatchObject({ k: ['4', '8'], engine: ['cpu', 'gpu'] });
  });
});

// The paper-reproduction experiments at their quick (CI) sizes, on the embedded digits with a held-out
// slice as the test set (so nothing here reads outside the repository): prune-curve's expected ordering
// (flow beats random at 50 %, the measured drop never above the bound where it is finite),
// prune-grow's per-round rows, compress's 1 % stopping rule through the CLI (--json, --out), and the
// SVG writer's output (well-formed, no NaN).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.ts';
import { loadEmbeddedDataset } from '../../src/data/load.ts';
import { CpuEngine } from '../../src/engines/cpu/engine.ts';
import { prepareExperimentData } from '../../src/experiments/data.ts';
import { formatTick, layoutFigure, renderSvg, wrapText, type Figure } from '../../src/experiments/plot.ts';
import { PRUNE_CURVE_SIZES, pruneCurveFigure, runPruneCurve } from '../../src/experiments/prune-curve.ts';
import { denseHcltEdges, denseKForEdges } from '../../src/circuit/hclt.ts';
import { PRUNE_GROW_SIZES, pruneGrowFigure, runPruneGrow } from '../../src/experiments/prune-grow.ts';
import type { ExperimentProgress } from '../../src/experiments/types.ts';

// One in-thread float32 engine per call: the fast mode the CLI uses, without worker start-up.
const engine = async () => new CpuEngine({ precision: 'float32' });
let pool: Dataset | null = null;
const embedded = async (): Promise<Dataset> => (pool ??= await loadEmbeddedDataset());

/** Well-formed XML as far as an SVG writer can get it wrong: balanced tags, quoted attributes, escaped text. */
export function svgProblems(svg: string): string[] {
  const problems: string[] = [];
  if (!svg.startsWith('<svg ')) problems.push('does not start with <svg');
  for (const bad of ['NaN', 'Infinity', 'undefined', 'null']) if (svg.includes(bad)) problems.push(`contains ${bad}`);
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(svg); m; m = tag.exec(svg)) {
    const between = svg.slice(last, m.index);
    if (/[<>]/.test(between)) problems.push(`stray angle bracket near ${JSON.stringify(between.slice(0, 40))}`);
    if (/&(?!amp;|lt;|gt;|quot;|#\d+;)/.test(between)) problems.push('unescaped &');
    last = tag.lastIndex;
    const [, close, name, , self] = m;
    if (close) {
      if (stack.pop() !== name) problems.push(`</${name}> closes the wrong element`);
    } else if (!self) stack.push(name);
  }
  if (svg.slice(last).trim() !== '') problems.push('text after the root element');
  if (stack.length) problems.push(`unclosed: ${stack.join(', ')}`);
  return problems;
}

function numbersIn(svg: string): number[] {
  return [...svg.matchAll(/(?:x|y|x1|x2|y1|y2|cx|cy|width|height)="(-?[\d.]+)"/g)].map((m) => Number(m[1]));
}

describe('prune-curve (quick)', () => {
  it('flow beats random and magnitude at 50 %, the drop stays under the bound where finite, and the plot is clean', async () => {
    const size = PRUNE_CURVE_SIZES.quick;
    const data = prepareExperimentData(await embedded(), null, { seed: 1, ...size.data }, 'embedded-holdout');
    const progress: ExperimentProgress[] = [];
    const r = await runPruneCurve(engine, data, size.options, (p) => progress.push(p));

    // Every criterion (random with each seed) at every fraction.
    expect(r.points).toHaveLength(size.options.fractions.length * (2 + size.options.randomSeeds));
    expect(r.data.test).toBe(300);
    expect(r.base.test_bpd).toBeGreaterThan(1.5);
    expect(r.base.test_bpd).toBeLessThan(2.5);

    // The expected ordering at 50 %: flow loses (much) less than random, and less than magnitude.
    const s = r.summary;
    expect(s.at_fraction).toBe(0.5);
    expect(s.flow_beats_random).toBe(true);
    expect(s.flow_beats_magnitude).toBe(true);
    expect(s.random_test_bpd! - s.flow_test_bpd!).toBeGreaterThan(0.01);

    // The bound: finite at 0.1 % by flow (removed flow below 1 for every sample) and never below the
    // measured drop wherever it is finite; vacuous once the removed flow reaches 1 (50 %, 90 %).
    const finite = r.points.filter((p) => p.train_bound_ll_drop !== null);
    expect(finite.map((p) => p.criterion)).toContain('flow');
    expect(finite.every((p) => p.fraction === 0.001)).toBe(true);
    for (const p of finite) expect(p.train_ll_drop).toBeLessThanOrEqual(p.train_bound_ll_drop!);
    for (const p of r.points) if (p.test_bound_ll_drop !== null) expect(p.test_ll_drop).toBeLessThanOrEqual(p.test_bound_ll_drop);
    // Over the samples where the bound is finite (all of them at 0.1 % by flow, on train and test).
    const flowSmall = r.points.find((p) => p.criterion === 'flow' && p.fraction === 0.001)!;
    expect(flowSmall.train_informative!.share).toBe(1);
    for (const inf of [flowSmall.train_informative!, flowSmall.test_informative!]) if (inf.bound !== null) expect(inf.drop!).toBeLessThanOrEqual(inf.bound);
    for (const p of r.points) expect(p.bound_violations).toBe(0);
    expect(s.bound_holds).toBe(true);

    // Fewer edges the more is pruned; removing 90 % of a K=8 HCLT's edges (every sum node keeping one)
    // leaves about one edge per sum node: 784 x 8 of 50,120.
    const flow = r.points.filter((p) => p.criterion === 'flow');
    for (let k = 1; k < flow.length; k++) expect(flow[k].edges).toBeLessThan(flow[k - 1].edges);
    expect(flow.at(-1)!.edges_kept).toBeLessThan(0.11);

    // Progress counts up to its total.
    expect(progress.map((p) => p.step)).toEqual(progress.map((_, i) => i + 1));
    expect(progress.at(-1)!.step).toBe(progress.at(-1)!.steps);

    const svg = renderSvg(layoutFigure(pruneCurveFigure(r, 'note & <test>')));
    expect(svgProblems(svg)).toEqual([]);
    expect(numbersIn(svg).every(Number.isFinite)).toBe(true);
    expect(svg).toContain('note &amp; &lt;test&gt;');
    expect(svg).toContain('flow: bound');
    // Deterministic by seed: the same run again gives the same numbers.
    const again = await runPruneCurve(engine, data, { ...size.options, fractions: [0.5], criteria: ['flow'] });
    expect(again.points[0].test_bpd).toBe(flow.find((p) => p.fraction === 0.5)!.test_bpd);
  });
});

describe('prune-grow (quick)', () => {
  it("runs the paper's loop: a row per round with its structure invariants, and Table 1 against the dense HCLT with the same sum edges", async () => {
    const size = PRUNE_GROW_SIZES.quick;
    const data = prepareExperimentData(await embedded(), null, { seed: 1, ...size.data }, 'embedded-holdout');
    const r = await runPruneGrow(engine, data, size.options);
    expect(r.rounds.map((x) => x.round)).toEqual([0, 1, 2]);
    expect(r.rounds[0].k).toBe(4);
    for (const x of r.rounds) {
      expect(x.params).toBeGreaterThan(x.edges);
      for (const v of [x.train_bpd, x.valid_bpd, x.test_bpd]) {
        expect(v).toBeGreaterThan(0.5);
        expect(v).toBeLessThan(3);
      }
      // The round's numbers are its best epoch's.
      expect(x.valid_bpd).toBe(Math.min(...x.epochs.map((e) => e.valid_bpd!)));
    }
    for (const x of r.rounds.slice(1)) {
      // Prune 75 % then grow: the edges come back within 25 % of the edges before the prune, and the
      // grow doubles every region.
      expect(x.prune!.edges_before).toBe(r.rounds[x.round - 1].edges);
      expect(x.grow!.edges_before).toBe(x.prune!.edges);
      expect(Math.abs(x.grow!.edges / x.prune!.edges_before - 1)).toBeLessThan(0.25);
      expect(x.grow!.k_median).toBe(2 * x.prune!.k_median);
      expect(x.grow!.k_max).toBe(2 * x.prune!.k_max);
      expect(x.edges).toBe(x.grow!.edges);
    }
    // Table 1: every round against the dense HCLT whose edge count is nearest.
    expect(r.comparison.map((c) => c.round)).toEqual([0, 1, 2]);
    for (const c of r.comparison) {
      const others = [c.dense_k - 1, c.dense_k + 1].filter((k) => k >= 1).map((k) => Math.abs(denseHcltEdges(784, k) - c.edges));
      expect(Math.abs(c.dense_edges - c.edges)).toBeLessThanOrEqual(Math.min(...others));
      expect(c.delta_test_bpd).toBeCloseTo(c.sparse_test_bpd - c.dense_test_bpd, 12);
      expect(r.dense.find((d) => d.k === c.dense_k)!.test_bpd).toBe(c.dense_test_bpd);
    }
    const svg = renderSvg(layoutFigure(pruneGrowFigure(r)));
    expect(svgProblems(svg)).toEqual([]);
    expect(numbersIn(svg).every(Number.isFinite)).toBe(true);
  });

  it('finds the dense K with the nearest edge count', () => {
    expect(denseHcltEdges(784, 8)).toBe(783 * 64 + 8);
    expect(denseKForEdges(784, denseHcltEdges(784, 8))).toBe(8);
    expect(denseKForEdges(784, denseHcltEdges(784, 8) + 100)).toBe(8);
    expect(denseKForEdges(784, denseHcltEdges(784, 16) - 5000)).toBe(16);
    expect(denseKForEdges(784, 1)).toBe(1);
  });
});

describe('the experiment command line', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/experiment.ts', ...args], { encoding: 'utf8', timeout: 110_000 });

  it('compress --quick --json --out: stops at the 1 % rule and writes the JSON (with the command) and the SVG', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spc-exp-'));
    try {
      const run = cli(['compress', '--quick', '--json', '--threads', '1', '--out', dir]);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const lines = run.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines[0].event).toBe('start');
      expect(lines.filter((l) => l.event === 'progress').length).toBeGreaterThan(3);
      const last = lines.at(-1);
      expect(last.event).toBe('result');
      const file = JSON.parse(readFileSync(join(dir, 'compress.json'), 'utf8'));
      expect(file.command).toBe(`npm run experiment -- compress --quick --json --threads 1 --out ${dir}`);
      expect(file.machine.cores).toBeGreaterThan(0);
      expect(file.seconds).toBeGreaterThan(0);
      const r = file.result;
      expect(r.experiment).toBe('compress');
      const start = r.rows[0].valid_bpd;
      // The rule: every kept round within 1 % of the start, and the run stops at the first that is not.
      if (r.stopped === 'tolerance') {
        expect(r.rows.at(-1).valid_bpd).toBeGreaterThan(start * 1.01);
        for (const row of r.rows.slice(0, -1)) expect(row.valid_bpd).toBeLessThanOrEqual(start * 1.01);
      }
      expect(r.stopped).toBe('tolerance');
      expect(r.kept.round).toBe(r.rows.length - 2);
      expect(r.kept.edges_kept).toBeLessThan(0.5);
      for (let k = 1; k < r.rows.length; k++) expect(r.rows[k].edges).toBeLessThan(r.rows[k - 1].edges);
      const svg = readFileSync(join(dir, 'compress.svg'), 'utf8');
      expect(svgProblems(svg)).toEqual([]);
      expect(svg).toContain('npm run experiment -- compress --quick');
      // --replot redraws from the saved JSON without training, to the same chart.
      const again = cli(['compress', '--replot', '--out', dir]);
      expect(again.status).toBe(0);
      expect(readFileSync(join(dir, 'compress.svg'), 'utf8')).toBe(svg);
      expect(JSON.parse(readFileSync(join(dir, 'compress.json'), 'utf8')).result.rows).toEqual(r.rows);
      const missing = cli(['prune-curve', '--replot', '--out', dir]);
      expect(missing.status).toBe(1);
      expect(missing.stderr).toMatch(/^error: --replot: cannot read .*prune-curve\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad input stops with one line and exit code 1', () => {
    for (const [args, message] of [
      [['prune-curve', '--bogus'], /^error: prune-curve: unknown option --bogus \(see npm run experiment -- prune-curve --help\)\n$/],
      [['curve'], /^error: unknown experiment "curve" \(experiments: prune-curve, prune-grow, compress\)\n$/],
      [['compress', '--threads', '0'], /^error: --threads must be an integer >= 1, got 0\n$/],
      [['compress', '--test', 'no/such.gz'], /^error: --test no\/such.gz: no such file/],
    ] as const) {
      const run = cli([...args]);
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe('');
    }
  });
});

describe('the plot writer', () => {
  it('drops non-finite points, escapes text, and lays out every panel inside the figure', () => {
    const fig: Figure = {
      title: 'A <title> & more',
      panels: [
        {
          title: 'p1',
          xLabel: 'x',
          yLabel: 'y',
          series: [
            {
              label: 's',
              color: '#000',
              points: [
                [0, 1],
                [1, NaN],
                [2, 3],
                [Infinity, 2],
              ],
            },
          ],
        },
        {
          title: 'p2',
          xLabel: 'x',
          yLabel: 'y',
          xScale: 'log',
          yScale: 'log',
          series: [
            {
              label: 't',
              color: '#111',
              points: [
                [0, 1],
                [10, 100],
                [100, 10],
              ],
              band: [
                [10, 50, 200],
                [100, 5, 20],
              ],
            },
          ],
        },
      ],
    };
    const l = layoutFigure(fig, 800);
    expect(l.panels[0].dots).toHaveLength(2);
    expect(l.panels[1].dots).toHaveLength(2); // x = 0 has no place on a log scale
    expect(l.panels[1].bands).toHaveLength(1);
    for (const p of l.panels) {
      expect(p.left).toBeGreaterThanOrEqual(0);
      expect(p.right).toBeLessThanOrEqual(800);
      expect(p.bottom).toBeLessThan(l.height);
      for (const d of p.dots) {
        expect(d.cx).toBeGreaterThanOrEqual(p.left);
        expect(d.cx).toBeLessThanOrEqual(p.right);
        expect(d.cy).toBeGreaterThanOrEqual(p.top);
        expect(d.cy).toBeLessThanOrEqual(p.bottom);
      }
    }
    const svg = renderSvg(l);
    expect(svgProblems(svg)).toEqual([]);
    expect(svg).toContain('A &lt;title&gt; &amp; more');
  });

  it('labels ticks to the precision of their spacing, so neighbours never read the same', () => {
    expect([1.37, 1.375, 1.38].map((v) => formatTick(v, 0.005))).toEqual(['1.37', '1.375', '1.38']);
    expect([0.5, 1, 1.5].map((v) => formatTick(v, 0.5))).toEqual(['0.5', '1', '1.5']);
    expect(formatTick(0.30000000000000004, 0.1)).toBe('0.3');
    expect([800_000, 6_470_376, 12_000].map((v) => formatTick(v))).toEqual(['800k', '6.47M', '12k']);
    expect(wrapText('a bb ccc dddd', 6)).toEqual(['a bb', 'ccc', 'dddd']);
  });
});

describe('experiment data', () => {
  it('holds the test slice out of training and validation, and cuts the sizes asked for', async () => {
    const d = prepareExperimentData(await embedded(), null, { seed: 3, validFrac: 0.1, trainCount: 700, validCount: 100, testCount: 0, holdout: 500 }, 'x');
    expect([d.train.count, d.valid!.count, d.test.count]).toEqual([700, 100, 500]);
    const key = (ds: Dataset, i: number) => Buffer.from(ds.pixels.subarray(i * 784, (i + 1) * 784)).toString('base64');
    const held = new Set(Array.from({ length: d.test.count }, (_, i) => key(d.test, i)));
    for (const ds of [d.train, d.valid!]) for (let i = 0; i < ds.count; i++) expect(held.has(key(ds, i))).toBe(false);
  });
});

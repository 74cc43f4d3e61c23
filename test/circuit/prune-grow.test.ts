// Pruning respects its bound and flow beats the alternatives; growing with sigma 0 changes nothing.
import { describe, expect, it } from 'vitest';
import { compileCircuit } from '../../src/circuit/compile.ts';
import { growCircuit } from '../../src/circuit/grow.ts';
import { edgeScores, removeEdges, selectEdgesToPrune } from '../../src/circuit/prune.ts';
import { cloneCircuit, countSumEdges, validateCircuit, type Circuit } from '../../src/circuit/structure.ts';
import { buildTreeCircuit, randomTree } from '../../src/circuit/tree.ts';
import { CpuEngine } from '../../src/engines/cpu/engine.ts';
import { CpuEvaluator } from '../../src/engines/cpu/evaluator.ts';
import { DEFAULT_TRAIN_CONFIG, Trainer, type PruneDetails } from '../../src/training/trainer.ts';
import { Rng } from '../../src/util/rng.ts';
import { embeddedSubset, randomDataset } from '../helpers/data.ts';

function logLikelihoods(c: Circuit, pixels: Uint8Array, count: number): Float64Array {
  return new CpuEvaluator(compileCircuit(c), 'float64', count).forward({ pixels, count });
}

describe('pruning', () => {
  it('removes the requested fraction, keeps every sum node, and stays a valid circuit', () => {
    const rng = new Rng(2);
    const c = buildTreeCircuit(randomTree(9, rng), 4, 5, rng);
    const cc = compileCircuit(c);
    // Rows of one edge (after a first prune) are never candidates.
    const once = removeEdges(c, cc, selectEdgesToPrune(cc, edgeScores(cc, 'random', null, 1), 0.7));
    const cc1 = compileCircuit(once);
    for (const [circuit, compiled] of [
      [c, cc],
      [once, cc1],
    ] as const) {
      for (const criterion of ['magnitude', 'random'] as const) {
        const scores = edgeScores(compiled, criterion, null, 3);
        const marked = selectEdgesToPrune(compiled, scores, 0.5);
        // The paper's rule: the floor(50 %) lowest-scoring edges of sum nodes with several children,
        // less one edge (the best-scoring) of each node that would lose them all.
        const nodes: number[][] = [];
        for (const r of compiled.regions)
          for (let j = 0; j < r.rows; j++)
            nodes.push(
              Array.from({ length: compiled.edgePtr[r.sumStart + j + 1] - compiled.edgePtr[r.sumStart + j] }, (_, k) => compiled.edgePtr[r.sumStart + j] + k),
            );
        const candidates = nodes
          .filter((n) => n.length > 1)
          .flat()
          .sort((a, b) => scores[a] - scores[b] || a - b);
        const cut = new Set(candidates.slice(0, Math.floor(0.5 * candidates.length)));
        const emptied = nodes.filter((n) => n.length > 1 && n.every((e) => cut.has(e)));
        expect(marked.reduce((t, x) => t + x, 0)).toBe(cut.size - emptied.length);
        for (const n of emptied) {
          const best = n.reduce((a, e) => (scores[e] > scores[a] ? e : a));
          expect(n.filter((e) => !marked[e])).toEqual([best]);
        }
        // The paper's own rule: the same edges, except that an emptied node keeps its first edge.
        const paper = selectEdgesToPrune(compiled, scores, 0.5, 'first');
        for (let e = 0; e < paper.length; e++) if (!emptied.some((n) => n.includes(e))) expect(paper[e]).toBe(marked[e]);
        for (const n of emptied) expect(n.filter((e) => !paper[e])).toEqual([n[0]]);
        if (criterion === 'random') expect(emptied.length).toBeGreaterThan(0);
        for (const n of nodes) if (n.length === 1) expect(marked[n[0]]).toBe(0);
        const pruned = removeEdges(circuit, compiled, marked);
        expect(validateCircuit(pruned)).toBeNull();
        expect(countSumEdges(pruned)).toBeLessThanOrEqual(compiled.numEdges - (cut.size - emptied.length));
      }
    }
    // Pruning everything it may leaves exactly one edge per sum node.
    const all = selectEdgesToPrune(cc, edgeScores(cc, 'magnitude', null, 0), 0.99);
    const minimal = removeEdges(c, cc, all);
    expect(validateCircuit(minimal)).toBeNull();
    for (const r of minimal.regions) for (let j = 0; j < r.block.rows; j++) expect(r.block.rowPtr[j + 1] - r.block.rowPtr[j]).toBe(1);
  });

  it('the measured log-likelihood drop never exceeds the flow bound, per sample (float64)', async () => {
    const rng = new Rng(5);
    const c = buildTreeCircuit(randomTree(8, rng), 3, 4, rng);
    const data = randomDataset(200, 8, 3, 9);
    for (const [criterion, fraction] of [
      ['flow', 0.3],
      ['flow', 0.6],
      ['magnitude', 0.5],
      ['random', 0.4],
    ] as const) {
      const engine = new CpuEngine({ precision: 'float64' });
      const trainer = await Trainer.create({ ...DEFAULT_TRAIN_CONFIG }, engine, data, null, cloneCircuit(c));
      let details: PruneDetails | null = null;
      const ev = await trainer.prune(fraction, criterion, (d) => (details = d));
      const d = details!;
      let violations = 0;
      for (let s = 0; s < data.count; s++) if (d.llBefore[s] - d.llAfter[s] > d.boundPerSample[s] + 1e-12) violations++;
      expect(violations).toBe(0);
      // The per-sample after-values are the pruned circuit's own likelihoods.
      const direct = logLikelihoods(trainer.circuit, data.pixels, data.count);
      for (let s = 0; s < data.count; s++) expect(Math.abs(direct[s] - d.llAfter[s])).toBeLessThan(1e-9);
      // (A flow prune of an untrained circuit may raise the likelihood: the renormalisation moves mass
      // to the edges the data uses. The other criteria lose some.)
      if (criterion !== 'flow') expect(ev.measured_ll_drop).toBeGreaterThan(0);
      if (ev.bound_ll_drop !== null) expect(ev.measured_ll_drop).toBeLessThanOrEqual(ev.bound_ll_drop + 1e-12);
    }
  });

  it('on a trained circuit at 50 %, flow pruning loses less likelihood than magnitude and random', async () => {
    const data = await embeddedSubset(1500);
    const engine = new CpuEngine({ precision: 'float32' });
    const trainer = await Trainer.create({ ...DEFAULT_TRAIN_CONFIG, K: 6, batch: 250 }, engine, data, null);
    for (let e = 0; e < 3; e++) await trainer.epoch();
    const trained = await trainer.snapshot();
    const drops: Record<string, number> = {};
    for (const criterion of ['flow', 'magnitude', 'random'] as const) {
      const t = await Trainer.create({ ...DEFAULT_TRAIN_CONFIG, seed: 3 }, new CpuEngine({ precision: 'float32' }), data, null, cloneCircuit(trained));
      drops[criterion] = (await t.prune(0.5, criterion)).measured_ll_drop;
    }
    expect(drops.flow).toBeLessThan(drops.magnitude);
    expect(drops.flow).toBeLessThan(drops.random);
    // (Flow pruning may even raise the likelihood of a circuit still far from convergence: the
    // renormalisation moves mass to the edges the data uses, much like an EM step.)
    expect(drops.random).toBeGreaterThan(1);
  });
});

describe('growing', () => {
  it('with sigma 0 leaves every log-likelihood unchanged (float64, 1e-9); a row of d > 1 edges becomes 2 rows of 2d, a row of one edge 2 rows of one', () => {
    for (const seed of [1, 2, 3]) {
      const rng = new Rng(seed);
      const c = buildTreeCircuit(randomTree(7, rng), 3, 3, rng);
      // Grow a pruned circuit too: uneven blocks (and rows left with one edge) must survive growth.
      const cc = compileCircuit(c);
      const pruned = removeEdges(c, cc, selectEdgesToPrune(cc, edgeScores(cc, 'random', null, seed), 0.6));
      for (const base of [c, pruned]) {
        const grown = growCircuit(base, 0, 9);
        expect(validateCircuit(grown)).toBeNull();
        let expected = 0;
        for (const r of base.regions) {
          for (let j = 0; j < r.block.rows; j++) {
            const d = r.block.rowPtr[j + 1] - r.block.rowPtr[j];
            // The root's one row is not copied (and keeps both copies of a single child).
            expected += r.variable === base.root ? 2 * d : d === 1 ? 2 : 4 * d;
          }
        }
        expect(countSumEdges(grown)).toBe(expected);
        for (const r of grown.regions) expect(r.size).toBe(2 * base.regions[r.variable].size);
        const data = randomDataset(100, 7, 3, seed);
        const before = logLikelihoods(base, data.pixels, data.count);
        const after = logLikelihoods(grown, data.pixels, data.count);
        for (let s = 0; s < data.count; s++) expect(Math.abs(before[s] - after[s])).toBeLessThan(1e-9);
      }
      expect(
        pruned.regions.some(
          (r) => r.variable !== pruned.root && Array.from({ length: r.block.rows }, (_, j) => r.block.rowPtr[j + 1] - r.block.rowPtr[j]).includes(1),
        ),
      ).toBe(true);
    }
  });

  it('follows the paper: no cross edges for one-child sums and products, the same noisy vector for a sum node and its copy, inputs copied exactly', () => {
    const rng = new Rng(7);
    const base = buildTreeCircuit(randomTree(6, rng), 4, 3, rng);
    const cc = compileCircuit(base);
    const c = removeEdges(base, cc, selectEdgesToPrune(cc, edgeScores(cc, 'random', null, 2), 0.6));
    const g = growCircuit(c, 0.3, 5);
    for (const r of c.regions) {
      const gr = g.regions[r.variable];
      const n = r.size;
      // Inputs: the copy is the same distribution.
      expect(Array.from(gr.inputLogProbs.subarray(n * 4))).toEqual(Array.from(r.inputLogProbs));
      if (r.variable === c.root) continue;
      const m = r.block.rows;
      for (let j = 0; j < m; j++) {
        const d = r.block.rowPtr[j + 1] - r.block.rowPtr[j];
        const row = (k: number) => ({
          cols: Array.from(gr.block.colIdx.subarray(gr.block.rowPtr[k], gr.block.rowPtr[k + 1])),
          w: Array.from(gr.block.logWeights.subarray(gr.block.rowPtr[k], gr.block.rowPtr[k + 1])),
        });
        const a = row(j);
        const b = row(j + m);
        const old = Array.from(r.block.colIdx.subarray(r.block.rowPtr[j], r.block.rowPtr[j + 1]));
        if (d === 1) {
          expect(a.cols).toEqual(old);
          expect(b.cols).toEqual(old.map((x) => x + n));
          expect(a.w).toEqual([0]);
        } else {
          expect(a.cols).toEqual([...old, ...old.map((x) => x + n)]);
          expect(b).toEqual(a);
          // log theta * eps towards the first copies, log theta / eps towards the second, then
          // normalised by one z: (w_first + z) (w_second + z) = (log theta)^2 for every child, with
          // the same z (a common root of each child's quadratic).
          const lw = Array.from(r.block.logWeights.subarray(r.block.rowPtr[j], r.block.rowPtr[j + 1]));
          expect(a.w.reduce((t, x) => t + Math.exp(x), 0)).toBeCloseTo(1, 12);
          const roots = (e: number): number[] => {
            const p = a.w[e] + a.w[d + e];
            const q = a.w[e] * a.w[d + e] - lw[e] * lw[e];
            const disc = Math.sqrt(Math.max(0, p * p - 4 * q));
            return [(-p - disc) / 2, (-p + disc) / 2];
          };
          const fits = roots(0).filter((z) => lw.every((_, e) => roots(e).some((y) => Math.abs(y - z) < 1e-6)));
          expect(fits.length).toBeGreaterThan(0);
        }
      }
    }
  });

  it('with sigma > 0 changes the function but keeps a valid, normalised circuit', () => {
    const rng = new Rng(4);
    const c = buildTreeCircuit(randomTree(6, rng), 3, 2, rng);
    const grown = growCircuit(c, 0.5, 1);
    expect(validateCircuit(grown)).toBeNull();
    const data = randomDataset(50, 6, 3, 2);
    const before = logLikelihoods(c, data.pixels, data.count);
    const after = logLikelihoods(grown, data.pixels, data.count);
    let changed = 0;
    for (let s = 0; s < data.count; s++) if (Math.abs(before[s] - after[s]) > 1e-6) changed++;
    expect(changed).toBeGreaterThan(40);
    expect(growCircuit(c, 0.5, 1)).toEqual(grown); // deterministic per seed
  });
});

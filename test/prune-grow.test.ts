// Pruning respects its bound and flow beats the alternatives; growing with sigma 0 changes nothing.
import { describe, expect, it } from 'vitest';
import { compileCircuit } from '../src/circuit/compile.ts';
import { growCircuit } from '../src/circuit/grow.ts';
import { edgeScores, removeEdges, selectEdgesToPrune } from '../src/circuit/prune.ts';
import { cloneCircuit, countSumEdges, validateCircuit, type Circuit } from '../src/circuit/structure.ts';
import { buildTreeCircuit, randomTree } from '../src/circuit/tree.ts';
import { CpuEngine } from '../src/engines/cpu/engine.ts';
import { CpuEvaluator } from '../src/engines/cpu/evaluator.ts';
import { DEFAULT_TRAIN_CONFIG, Trainer, type PruneDetails } from '../src/training/trainer.ts';
import { Rng } from '../src/util/rng.ts';
import { embeddedSubset, randomDataset } from './helpers/data.ts';

function logLikelihoods(c: Circuit, pixels: Uint8Array, count: number): Float64Array {
  return new CpuEvaluator(compileCircuit(c), 'float64', count).forward({ pixels, count });
}

describe('pruning', () => {
  it('removes the requested fraction, keeps every sum node, and stays a valid circuit', () => {
    const rng = new Rng(2);
    const c = buildTreeCircuit(randomTree(9, rng), 4, 5, rng);
    const cc = compileCircuit(c);
    for (const criterion of ['magnitude', 'random'] as const) {
      const marked = selectEdgesToPrune(cc, edgeScores(cc, criterion, null, 3), 0.5);
      expect(marked.reduce((s, x) => s + x, 0)).toBe(Math.round(0.5 * cc.numEdges));
      const pruned = removeEdges(c, cc, marked);
      expect(validateCircuit(pruned)).toBeNull();
      expect(countSumEdges(pruned)).toBeLessThanOrEqual(cc.numEdges - Math.round(0.5 * cc.numEdges));
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
    for (const [criterion, fraction] of [['flow', 0.3], ['flow', 0.6], ['magnitude', 0.5], ['random', 0.4]] as const) {
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
      expect(ev.measured_ll_drop).toBeGreaterThan(0);
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
  it('with sigma 0 leaves every log-likelihood unchanged (float64, 1e-9) and quadruples the edges', () => {
    for (const seed of [1, 2, 3]) {
      const rng = new Rng(seed);
      const c = buildTreeCircuit(randomTree(7, rng), 3, 3, rng);
      // Grow a pruned circuit too: uneven blocks must survive growth as well.
      const cc = compileCircuit(c);
      const pruned = removeEdges(c, cc, selectEdgesToPrune(cc, edgeScores(cc, 'random', null, seed), 0.4));
      for (const base of [c, pruned]) {
        const grown = growCircuit(base, 0, 9);
        expect(validateCircuit(grown)).toBeNull();
        const rootEdges = base.regions[base.root].block.colIdx.length;
        expect(countSumEdges(grown)).toBe(4 * (countSumEdges(base) - rootEdges) + 2 * rootEdges);
        for (const r of grown.regions) expect(r.size).toBe(2 * base.regions[r.variable].size);
        const data = randomDataset(100, 7, 3, seed);
        const before = logLikelihoods(base, data.pixels, data.count);
        const after = logLikelihoods(grown, data.pixels, data.count);
        for (let s = 0; s < data.count; s++) expect(Math.abs(before[s] - after[s])).toBeLessThan(1e-9);
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

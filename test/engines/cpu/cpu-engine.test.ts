// The CPU evaluator against brute-force enumeration on tiny circuits.
import { describe, expect, it } from 'vitest';
import { buildTreeCircuit, randomTree } from '../../../src/circuit/tree.ts';
import { compileCircuit } from '../../../src/circuit/compile.ts';
import { CpuEvaluator } from '../../../src/engines/cpu/evaluator.ts';
import { Rng } from '../../../src/util/rng.ts';
import { cloneCircuit, type Circuit } from '../../../src/circuit/structure.ts';
import { edgeScores, removeEdges, selectEdgesToPrune } from '../../../src/circuit/prune.ts';
import { allAssignments, naiveProbability } from '../../helpers/naive.ts';

function tiny(seed: number, D: number, V: number, K: number) {
  const rng = new Rng(seed);
  return buildTreeCircuit(randomTree(D, rng), V, K, rng);
}

describe('CPU evaluator, float64, against brute force', () => {
  for (const [seed, D, V, K] of [
    [1, 3, 2, 2],
    [2, 5, 3, 3],
    [3, 6, 2, 4],
    [4, 4, 3, 1],
  ]) {
    it(`D=${D} V=${V} K=${K}: probabilities sum to 1 and match the naive evaluator`, () => {
      const c = tiny(seed, D, V, K);
      const cc = compileCircuit(c);
      const xs = [...allAssignments(D, V)];
      const pixels = Uint8Array.from(xs.flat());
      const ev = new CpuEvaluator(cc, 'float64', xs.length);
      const ll = ev.forward({ pixels, count: xs.length });
      let total = 0;
      xs.forEach((x, i) => {
        const p = naiveProbability(c, x);
        expect(Math.abs(Math.exp(ll[i]) - p)).toBeLessThan(1e-12);
        total += Math.exp(ll[i]);
      });
      expect(Math.abs(total - 1)).toBeLessThan(1e-12);
    });

    it(`D=${D} V=${V} K=${K}: marginals equal sums over completions`, () => {
      const c = tiny(seed + 100, D, V, K);
      const cc = compileCircuit(c);
      const rng = new Rng(seed);
      const count = 8;
      const pixels = new Uint8Array(count * D);
      const missing = new Uint8Array(count * D);
      for (let k = 0; k < pixels.length; k++) {
        pixels[k] = rng.int(V);
        missing[k] = rng.uniform() < 0.4 ? 1 : 0;
      }
      const ev = new CpuEvaluator(cc, 'float64', count);
      const ll = ev.forward({ pixels, count, missing });
      for (let s = 0; s < count; s++) {
        let p = 0;
        for (const x of allAssignments(D, V)) {
          let ok = true;
          for (let v = 0; v < D; v++) if (!missing[s * D + v] && x[v] !== pixels[s * D + v]) ok = false;
          if (ok) p += naiveProbability(c, x);
        }
        expect(Math.abs(Math.exp(ll[s]) - p)).toBeLessThan(1e-12);
      }
    });

    it(`D=${D} V=${V} K=${K}: edge flows equal posterior edge probabilities`, () => {
      const c = tiny(seed + 200, D, V, K);
      const cc = compileCircuit(c);
      const xs = [...allAssignments(D, V)].slice(0, 40);
      const pixels = Uint8Array.from(xs.flat());
      const ev = new CpuEvaluator(cc, 'float64', xs.length);
      ev.forward({ pixels, count: xs.length });
      const edgeFlows = new Float64Array(cc.numEdges);
      const inputFlows = new Float64Array(cc.numInputs * V);
      ev.backward(edgeFlows, inputFlows);
      // p is linear in each weight, so the posterior of edge e is (p - p[theta_e = 0]) / p.
      const expected = new Float64Array(cc.numEdges);
      for (const cr of cc.regions) {
        for (let local = 0; local < cr.nnz; local++) {
          const c0 = cloneCircuit(c);
          c0.regions[cr.variable].block.logWeights[local] = -Infinity;
          for (const x of xs) expected[cr.edgeStart + local] += 1 - naiveProbability(c0, x) / naiveProbability(c, x);
        }
      }
      for (let e = 0; e < cc.numEdges; e++) expect(Math.abs(edgeFlows[e] - expected[e])).toBeLessThan(1e-10);
      // The same for each input parameter theta_n[x]: p is linear in it, so the flow of input n at value
      // x is the sum over samples with pixel x of (p - p[theta_n[x] = 0]) / p.
      for (const cr of cc.regions) {
        for (let i = 0; i < cr.size; i++) {
          for (let x = 0; x < V; x++) {
            const c0 = cloneCircuit(c);
            c0.regions[cr.variable].inputLogProbs[i * V + x] = -Infinity;
            let want = 0;
            for (const xs1 of xs) if (xs1[cr.variable] === x) want += 1 - naiveProbability(c0, xs1) / naiveProbability(c, xs1);
            expect(Math.abs(inputFlows[(cr.inputStart + i) * V + x] - want)).toBeLessThan(1e-10);
          }
        }
      }
      // Each sample sends flow 1 through the root's edges and through each variable's inputs.
      let inputTotal = 0;
      for (let k = 0; k < inputFlows.length; k++) inputTotal += inputFlows[k];
      expect(Math.abs(inputTotal - D * xs.length)).toBeLessThan(1e-9);
    });
  }
});

/** log p(x) by recursion over regions in the log domain (log-sum-exp per row): a reference that does not
 *  underflow, for circuits too large to enumerate or with probabilities far outside float range. */
function naiveLogProbability(c: Circuit, x: ArrayLike<number>, missing?: ArrayLike<number>): number {
  const V = c.numValues;
  const sums = (v: number): number[] => {
    const r = c.regions[v];
    const childSums = r.children.map(sums);
    const prods: number[] = [];
    for (let i = 0; i < r.size; i++) {
      let p = missing && missing[v] ? 0 : r.inputLogProbs[i * V + x[v]];
      for (const cs of childSums) p += cs[i];
      prods.push(p);
    }
    const b = r.block;
    const out: number[] = [];
    for (let j = 0; j < b.rows; j++) {
      let mx = -Infinity;
      for (let e = b.rowPtr[j]; e < b.rowPtr[j + 1]; e++) mx = Math.max(mx, b.logWeights[e] + prods[b.colIdx[e]]);
      let s = 0;
      for (let e = b.rowPtr[j]; e < b.rowPtr[j + 1]; e++) s += Math.exp(b.logWeights[e] + prods[b.colIdx[e]] - mx);
      out.push(mx === -Infinity ? -Infinity : Math.log(s) + mx);
    }
    return out;
  };
  return sums(c.root)[0];
}

/** A pruned tiny circuit whose last input of every region is extreme: log theta = `logTiny` for value 0. */
function extremeCircuit(seed: number, D: number, V: number, K: number, logTiny: number): Circuit {
  const rng = new Rng(seed);
  const full = buildTreeCircuit(randomTree(D, rng), V, K, rng);
  const cc = compileCircuit(full);
  const c = removeEdges(full, cc, selectEdgesToPrune(cc, edgeScores(cc, 'random', null, seed), 0.5));
  for (const r of c.regions) if (r.size > 1) r.inputLogProbs[(r.size - 1) * V] = logTiny;
  return c;
}

describe('CPU evaluator: linear-domain forward with exact fallbacks', () => {
  it('a 40-variable circuit with missing pixels: float64 matches the log-domain reference, float32 within 1e-6', () => {
    const rng = new Rng(7);
    const D = 40;
    const V = 5;
    const c = buildTreeCircuit(randomTree(D, rng), V, 4, rng);
    const cc = compileCircuit(c);
    const count = 37; // not a multiple of 4: the block product's remainder loop runs too
    const pixels = new Uint8Array(count * D);
    const missing = new Uint8Array(count * D);
    for (let k = 0; k < pixels.length; k++) {
      pixels[k] = rng.int(V);
      missing[k] = rng.uniform() < 0.2 ? 1 : 0;
    }
    const ll64 = new CpuEvaluator(cc, 'float64', count).forward({ pixels, count, missing });
    const ll32 = new CpuEvaluator(cc, 'float32', count).forward({ pixels, count, missing });
    for (let s = 0; s < count; s++) {
      const ref = naiveLogProbability(c, pixels.subarray(s * D, (s + 1) * D), missing.subarray(s * D, (s + 1) * D));
      expect(Math.abs(ll64[s] - ref)).toBeLessThan(1e-12 * Math.abs(ref));
      expect(Math.abs(ll32[s] - ref)).toBeLessThan(1e-6 * Math.abs(ref));
    }
  });

  for (const [precision, logTiny, tol] of [
    ['float32', -150, 1e-6],
    ['float64', -700, 1e-12],
  ] as const) {
    it(`${precision}: rows far below their region's max (log theta = ${logTiny}) take the exact paths and stay exact`, () => {
      const D = 6;
      const V = 2;
      const c = extremeCircuit(3, D, V, 3, logTiny);
      const cc = compileCircuit(c);
      const xs = [...allAssignments(D, V)];
      const pixels = Uint8Array.from(xs.flat());
      const ev = new CpuEvaluator(cc, precision, xs.length);
      const ll = ev.forward({ pixels, count: xs.length });
      // The fallbacks really ran: some region marked a sum as computed in the log domain.
      expect((ev as unknown as { exactFlag: Uint8Array }).exactFlag.some((f) => f === 1)).toBe(true);
      xs.forEach((x, s) => {
        const ref = naiveLogProbability(c, x);
        expect(Math.abs(ll[s] - ref)).toBeLessThan(tol * Math.max(1, Math.abs(ref)));
      });
      // Log values read back through `values` (stored in the evaluator's precision) agree with it.
      const B = ev.capacity;
      xs.forEach((_, s) => expect(Math.abs(ev.values[cc.rootNode * B + s] - ll[s])).toBeLessThan(tol * Math.max(1, Math.abs(ll[s]))));
    });
  }

  it('node flows read back: every sum node carries its parent product flow, inputs their product flow', () => {
    const c = tiny(5, 5, 3, 3);
    const cc = compileCircuit(c);
    const xs = [...allAssignments(5, 3)].slice(0, 30);
    const ev = new CpuEvaluator(cc, 'float64', xs.length);
    ev.forward({ pixels: Uint8Array.from(xs.flat()), count: xs.length });
    ev.backward(null, null);
    const B = ev.capacity;
    const fl = ev.flows;
    for (let s = 0; s < xs.length; s++) {
      expect(fl[cc.rootNode * B + s]).toBe(1);
      // Flow is conserved through every sum node: the flows into a region's inputs add up to 1.
      for (const r of cc.regions) {
        let total = 0;
        for (let i = 0; i < r.size; i++) {
          expect(fl[(r.inputStart + i) * B + s]).toBe(fl[(r.productStart + i) * B + s]);
          total += fl[(r.inputStart + i) * B + s];
        }
        expect(Math.abs(total - 1)).toBeLessThan(1e-12);
      }
    }
  });
});

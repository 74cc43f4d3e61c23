// The CPU evaluator against brute-force enumeration on tiny circuits.
import { describe, expect, it } from 'vitest';
import { buildTreeCircuit, randomTree } from '../src/circuit/tree.ts';
import { compileCircuit } from '../src/circuit/compile.ts';
import { CpuEvaluator } from '../src/engines/cpu/evaluator.ts';
import { Rng } from '../src/util/rng.ts';
import { cloneCircuit } from '../src/circuit/structure.ts';
import { allAssignments, naiveProbability } from './helpers/naive.ts';

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
      // Each sample sends flow 1 through the root's edges and through each variable's inputs.
      let inputTotal = 0;
      for (let k = 0; k < inputFlows.length; k++) inputTotal += inputFlows[k];
      expect(Math.abs(inputTotal - D * xs.length)).toBeLessThan(1e-9);
    });
  }
});

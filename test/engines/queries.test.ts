// The CPU queries (marginal, conditional surprise, sampling, inpainting) against brute-force
// enumeration of every assignment on tiny circuits, including pruned and grown ones.
//
// Sampling tolerances. With n draws from a distribution p over m cells, the empirical distribution q
// has E|q_k - p_k| ~ sqrt(2 p_k (1 - p_k) / (pi n)), so
//   E[TV(p, q)] ~ sum_k sqrt(p_k (1 - p_k) / (2 pi n))  (<= sqrt((m - 1) / (2 pi n)))
// and TV's standard deviation is below 0.5 sqrt(0.36 / n) ~ 0.0015 at n = 40,000. We require
// TV < E[TV] + 0.01 (more than 6 standard deviations of slack). The chi-square statistic over cells
// (cells with expected count < 5 pooled into one) must stay below its 1 - 1e-5 quantile
// (Wilson-Hilferty approximation), which a wrong edge or value distribution exceeds by far. Draws
// are deterministic per seed, so these checks cannot flake: the slack only sets the sensitivity.
import { describe, expect, it } from 'vitest';
import { compileCircuit } from '../../src/circuit/compile.ts';
import { growCircuit } from '../../src/circuit/grow.ts';
import { edgeScores, removeEdges, selectEdgesToPrune } from '../../src/circuit/prune.ts';
import { validateCircuit, type Circuit } from '../../src/circuit/structure.ts';
import { buildTreeCircuit, randomTree } from '../../src/circuit/tree.ts';
import { CpuQueries } from '../../src/engines/cpu/queries.ts';
import { Rng } from '../../src/util/rng.ts';
import { allAssignments, naiveProbability } from '../helpers/naive.ts';

const N_SAMPLES = 40_000;

function randomCircuit(seed: number, D: number, V: number, K: number): Circuit {
  const rng = new Rng(seed);
  return buildTreeCircuit(randomTree(D, rng), V, K, rng);
}

/** Lexicographic index of an assignment (the order of allAssignments): last variable fastest. */
function indexOf(x: ArrayLike<number>, offset: number, vars: ArrayLike<number>, V: number): number {
  let idx = 0;
  for (let k = 0; k < vars.length; k++) idx = idx * V + x[offset + vars[k]];
  return idx;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Upper 1 - 1e-5 quantile of chi-square with df degrees of freedom (Wilson-Hilferty). */
function chiSquareLimit(df: number): number {
  const z = 4.265; // standard normal 1 - 1e-5 quantile
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

/** Compares the histogram `counts` (total n) with the probabilities p: TV and chi-square checks. */
function expectMatches(counts: Float64Array, p: Float64Array, n: number): { tv: number; chi2: number; limit: number } {
  let tv = 0;
  let expectedTv = 0;
  let chi2 = 0;
  let pooledO = 0;
  let pooledE = 0;
  let cells = 0;
  for (let k = 0; k < p.length; k++) {
    tv += 0.5 * Math.abs(counts[k] / n - p[k]);
    expectedTv += Math.sqrt((p[k] * (1 - p[k])) / (2 * Math.PI * n));
    const e = n * p[k];
    if (e < 5) {
      pooledO += counts[k];
      pooledE += e;
    } else {
      chi2 += (counts[k] - e) ** 2 / e;
      cells++;
    }
  }
  if (pooledE > 0) {
    chi2 += (pooledO - pooledE) ** 2 / pooledE;
    cells++;
  }
  const limit = chiSquareLimit(Math.max(1, cells - 1));
  expect(tv).toBeLessThan(expectedTv + 0.01);
  expect(chi2).toBeLessThan(limit);
  return { tv, chi2, limit };
}

/** p(x) for every assignment, in allAssignments order. */
function jointTable(c: Circuit): Float64Array {
  return Float64Array.from(allAssignments(c.numVars, c.numValues), (x) => naiveProbability(c, x));
}

/** Brute-force log p(x_i | x_{-i}) = log(p(x) / sum_{x'} p(x with x_i = x')). */
function naiveSurprise(c: Circuit, x: number[]): number[] {
  const px = naiveProbability(c, x);
  return x.map((_, i) => {
    let rest = 0;
    for (let v = 0; v < c.numValues; v++) {
      const y = x.slice();
      y[i] = v;
      rest += naiveProbability(c, y);
    }
    return Math.log(px / rest);
  });
}

function checkUnconditionalSampling(c: Circuit, seed: number): void {
  const q = new CpuQueries(compileCircuit(c));
  const s = q.sampleSync(N_SAMPLES, seed);
  const counts = new Float64Array(c.numValues ** c.numVars);
  const vars = range(c.numVars);
  for (let d = 0; d < N_SAMPLES; d++) counts[indexOf(s, d * c.numVars, vars, c.numValues)]++;
  expectMatches(counts, jointTable(c), N_SAMPLES);
}

function checkSurprise(c: Circuit, images: number[][], capacity?: number): void {
  const q = new CpuQueries(compileCircuit(c), { capacity });
  for (const x of images) {
    const got = q.conditionalSurpriseSync(Uint8Array.from(x));
    const want = naiveSurprise(c, x);
    expect(got.length).toBe(c.numVars);
    for (let i = 0; i < c.numVars; i++) {
      expect(got[i]).toBeLessThanOrEqual(0);
      expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-10);
    }
  }
}

function randomImages(count: number, D: number, V: number, seed: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => Array.from({ length: D }, () => rng.int(V)));
}

const CONFIGS: Array<[seed: number, D: number, V: number, K: number]> = [
  [1, 4, 2, 2],
  [2, 5, 3, 3],
  [3, 6, 2, 3],
  [4, 6, 3, 2],
  [5, 4, 3, 3],
];

describe('marginal', () => {
  it('equals brute-force marginals, in chunks larger and smaller than the capacity', async () => {
    for (const [seed, D, V, K] of CONFIGS) {
      const c = randomCircuit(seed, D, V, K);
      const rng = new Rng(seed + 100);
      const count = 11;
      const pixels = new Uint8Array(count * D);
      const missing = new Uint8Array(count * D);
      for (let k = 0; k < count * D; k++) {
        pixels[k] = rng.int(V);
        missing[k] = rng.uniform() < 0.4 ? 1 : 0;
      }
      for (const capacity of [1, 4, 64]) {
        const got = await new CpuQueries(compileCircuit(c), { capacity }).marginal({ pixels, count, missing });
        for (let b = 0; b < count; b++) {
          const want = naiveProbability(c, pixels.subarray(b * D, (b + 1) * D), missing.subarray(b * D, (b + 1) * D));
          expect(Math.abs(got[b] - Math.log(want))).toBeLessThan(1e-10);
        }
      }
    }
  });
});

describe('conditionalSurprise', () => {
  it('equals log(p(x) / sum_x_i p(x)) for every pixel, whatever the chunking', async () => {
    for (const [seed, D, V, K] of CONFIGS) {
      const c = randomCircuit(seed, D, V, K);
      const images = randomImages(4, D, V, seed + 7);
      checkSurprise(c, images);
      checkSurprise(c, images, 1);
      checkSurprise(c, images, 3); // D + 1 rows split unevenly
    }
    // The async interface returns the same values.
    const c = randomCircuit(9, 5, 3, 2);
    const q = new CpuQueries(compileCircuit(c));
    const x = Uint8Array.from([2, 0, 1, 1, 0]);
    expect(await q.conditionalSurprise(x)).toEqual(q.conditionalSurpriseSync(x));
  });

  it('the one-pass flow method equals the masked method, including the zero-probability fallback', () => {
    const c = randomCircuit(21, 6, 3, 3);
    // Value 2 of variable 3 impossible in one input node only: that pixel takes the masked path.
    const row = c.regions[3].inputLogProbs.subarray(0, 3);
    row[2] = -Infinity;
    const z = Math.log(Math.exp(row[0]) + Math.exp(row[1]));
    row[0] -= z;
    row[1] -= z;
    const q = new CpuQueries(compileCircuit(c));
    for (const xs of randomImages(6, 6, 3, 5)) {
      const x = Uint8Array.from(xs);
      const fast = q.conditionalSurpriseSync(x);
      const masked = q.conditionalSurpriseMasked(x);
      for (let i = 0; i < 6; i++) {
        if (masked[i] === -Infinity) expect(fast[i]).toBe(-Infinity);
        else expect(Math.abs(fast[i] - masked[i])).toBeLessThan(1e-10);
      }
    }
    checkSurprise(
      c,
      randomImages(4, 6, 3, 8).map((x) => x.map((v, i) => (i === 3 ? 2 : v))),
    );
  });

  it('is -Infinity for an impossible image and rejects malformed input', () => {
    const c = randomCircuit(11, 4, 3, 2);
    // Value 2 of variable 1 becomes impossible in every input node.
    const r = c.regions[1];
    for (let i = 0; i < r.size; i++) {
      const row = r.inputLogProbs.subarray(i * 3, (i + 1) * 3);
      row[2] = -Infinity;
      const z = Math.log(Math.exp(row[0]) + Math.exp(row[1]));
      row[0] -= z;
      row[1] -= z;
    }
    const q = new CpuQueries(compileCircuit(c));
    const s = q.conditionalSurpriseSync(Uint8Array.from([0, 2, 1, 0]));
    expect(s[1]).toBe(-Infinity);
    expect(s[0]).toBe(-Infinity); // p(x) = 0 while p(x_{-0}) = 0 too: still -Infinity, not NaN
    expect(() => q.conditionalSurpriseSync(Uint8Array.from([0, 1, 1]))).toThrow(/4 pixels/);
    expect(() => q.conditionalSurpriseSync(Uint8Array.from([0, 1, 3, 0]))).toThrow(/value 3/);
  });
});

describe('sampling', () => {
  it('unconditional draws match p(x) over all V^D assignments', () => {
    for (const [seed, D, V, K] of CONFIGS) checkUnconditionalSampling(randomCircuit(seed, D, V, K), 1000 + seed);
  });

  it('conditional draws match p(missing | observed) and never change observed pixels', async () => {
    const cases: Array<[seed: number, D: number, V: number, K: number, missingVars: number[]]> = [
      [21, 5, 3, 3, [0, 2, 4]],
      [22, 6, 2, 3, [1, 3, 4, 5]],
      [23, 4, 3, 2, [3]],
      [24, 6, 3, 2, [0, 1, 2, 3, 4, 5]], // nothing observed: the unconditional distribution
    ];
    for (const [seed, D, V, K, missingVars] of cases) {
      const c = randomCircuit(seed, D, V, K);
      const rng = new Rng(seed);
      const missing = new Uint8Array(D);
      for (const v of missingVars) missing[v] = 1;
      const pixels = Uint8Array.from({ length: D }, (_, v) => (missing[v] ? 200 : rng.int(V))); // missing values are ignored
      const q = new CpuQueries(compileCircuit(c));
      const s = await q.sample(N_SAMPLES, 77 + seed, { pixels, missing });
      expect(s.length).toBe(N_SAMPLES * D);
      // Target: p(x_mis | x_obs) = p(x_mis, x_obs) / p(x_obs), over the missing pixels in increasing order.
      const pObs = naiveProbability(c, pixels, missing);
      const target = Float64Array.from(allAssignments(missingVars.length, V), (y) => {
        const x = Array.from(pixels);
        missingVars.forEach((v, k) => (x[v] = y[k]));
        return naiveProbability(c, x) / pObs;
      });
      expect(target.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      const counts = new Float64Array(target.length);
      let changed = 0;
      for (let d = 0; d < N_SAMPLES; d++) {
        for (let v = 0; v < D; v++) {
          if (!missing[v] && s[d * D + v] !== pixels[v]) changed++;
          if (!(s[d * D + v] < V)) changed++;
        }
        counts[indexOf(s, d * D, missingVars, V)]++;
      }
      expect(changed).toBe(0);
      expectMatches(counts, target, N_SAMPLES);
    }
  });

  it('with every pixel observed returns the evidence; impossible evidence and bad arguments throw', () => {
    const c = randomCircuit(31, 4, 3, 2);
    const q = new CpuQueries(compileCircuit(c));
    const pixels = Uint8Array.from([2, 1, 0, 2]);
    const s = q.sampleSync(5, 1, { pixels, missing: new Uint8Array(4) });
    for (let d = 0; d < 5; d++) expect(Array.from(s.subarray(d * 4, d * 4 + 4))).toEqual([2, 1, 0, 2]);
    expect(q.sampleSync(0, 1).length).toBe(0);
    expect(() => q.sampleSync(-1, 1)).toThrow(/count/);
    expect(() => q.sampleSync(1, 1, { pixels: new Uint8Array(3), missing: new Uint8Array(3) })).toThrow(/4 pixels/);
    expect(() => q.sampleSync(1, 1, { pixels: Uint8Array.from([0, 3, 0, 0]), missing: new Uint8Array(4) })).toThrow(/value 3/);
    // Make value 0 of variable 2 impossible: evidence with it observed has p = 0.
    const r = c.regions[2];
    for (let i = 0; i < r.size; i++) {
      const row = r.inputLogProbs.subarray(i * 3, (i + 1) * 3);
      row[0] = -Infinity;
      const z = Math.log(Math.exp(row[1]) + Math.exp(row[2]));
      row[1] -= z;
      row[2] -= z;
    }
    const q0 = new CpuQueries(compileCircuit(c));
    expect(() => q0.sampleSync(1, 1, { pixels: Uint8Array.from([0, 0, 0, 0]), missing: Uint8Array.from([1, 1, 0, 1]) })).toThrow(/probability zero/);
  });

  it('never draws zero-probability values or edges, and still matches p', () => {
    const c = randomCircuit(41, 5, 3, 3);
    const V = 3;
    // Zero out value 1 of every input node of variable 0, and one edge of every sum row of variable 2.
    for (const r of [c.regions[0]]) {
      for (let i = 0; i < r.size; i++) {
        const row = r.inputLogProbs.subarray(i * V, (i + 1) * V);
        row[1] = -Infinity;
        const z = Math.log(Math.exp(row[0]) + Math.exp(row[2]));
        row[0] -= z;
        row[2] -= z;
      }
    }
    const b = c.regions[2].block;
    for (let j = 0; j < b.rows; j++) {
      const first = b.rowPtr[j];
      const last = b.rowPtr[j + 1] - 1; // zero the last edge: exercises the fallback for u * total at the end
      b.logWeights[last] = -Infinity;
      let z = 0;
      for (let e = first; e < last; e++) z += Math.exp(b.logWeights[e]);
      for (let e = first; e < last; e++) b.logWeights[e] -= Math.log(z);
    }
    const p = jointTable(c);
    const q = new CpuQueries(compileCircuit(c));
    const s = q.sampleSync(N_SAMPLES, 5);
    const counts = new Float64Array(p.length);
    for (let d = 0; d < N_SAMPLES; d++) counts[indexOf(s, d * 5, range(5), V)]++;
    for (let k = 0; k < p.length; k++) if (p[k] === 0) expect(counts[k]).toBe(0);
    expectMatches(counts, p, N_SAMPLES);
  });

  it('is deterministic per seed, differs across seeds, and smaller requests are prefixes', async () => {
    const c = randomCircuit(51, 6, 3, 3);
    const q = new CpuQueries(compileCircuit(c));
    const a = await q.sample(200, 123);
    const b = await new CpuQueries(compileCircuit(c)).sample(200, 123);
    expect(b).toEqual(a);
    const other = await q.sample(200, 124);
    expect(other).not.toEqual(a);
    expect(await q.sample(50, 123)).toEqual(a.subarray(0, 50 * 6));
    const ev = { pixels: Uint8Array.from([1, 0, 0, 2, 0, 1]), missing: Uint8Array.from([0, 1, 1, 0, 1, 0]) };
    const ca = await q.sample(200, 9, ev);
    expect(await q.sample(200, 9, ev)).toEqual(ca);
    expect(await q.sample(200, 10, ev)).not.toEqual(ca);
    // Draws are not all alike (a stuck generator would pass the equality checks above).
    const distinct = new Set<string>();
    for (let d = 0; d < 200; d++) distinct.add(a.subarray(d * 6, d * 6 + 6).join(','));
    expect(distinct.size).toBeGreaterThan(50);
  });
});

describe('queries on pruned and grown circuits', () => {
  it('a pruned circuit: sampling and surprise match brute force', () => {
    const c = randomCircuit(61, 6, 3, 3);
    const cc = compileCircuit(c);
    const pruned = removeEdges(c, cc, selectEdgesToPrune(cc, edgeScores(cc, 'magnitude', null, 0), 0.5));
    expect(validateCircuit(pruned)).toBeNull();
    expect(pruned.regions.some((r) => r.size < 3)).toBe(true); // some products really went away
    checkUnconditionalSampling(pruned, 62);
    checkSurprise(pruned, randomImages(3, 6, 3, 63), 4);
  });

  it('a grown circuit: sampling and surprise match brute force', () => {
    const c = randomCircuit(71, 5, 3, 2);
    const grown = growCircuit(c, 0.4, 72);
    expect(validateCircuit(grown)).toBeNull();
    expect(grown.regions[0].size).toBe(4);
    checkUnconditionalSampling(grown, 73);
    checkSurprise(grown, randomImages(3, 5, 3, 74), 4);
  });
});

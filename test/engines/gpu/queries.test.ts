// The playground's queries on the WebGPU engine (Dawn + SwiftShader in Node) against the CPU
// reference and brute-force enumeration: marginals, per-pixel conditional surprise, and sampling
// (unconditional and inpainting) in distribution.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileCircuit } from '../../../src/circuit/compile.ts';
import type { Circuit } from '../../../src/circuit/structure.ts';
import { buildTreeCircuit, randomTree } from '../../../src/circuit/tree.ts';
import { CpuQueries } from '../../../src/engines/cpu/queries.ts';
import type { GpuEngine } from '../../../src/engines/gpu/engine.ts';
import { createNodeGpuEngine } from '../../../src/engines/gpu/node-gpu.ts';
import { GpuQueries } from '../../../src/engines/gpu/queries.ts';
import { loadNodeShaders } from '../../../src/engines/gpu/shaders-node.ts';
import { Rng } from '../../../src/util/rng.ts';
import { allAssignments, naiveProbability } from '../../helpers/naive.ts';

let engine: GpuEngine;
beforeAll(async () => {
  engine = await createNodeGpuEngine();
});
afterAll(() => engine?.dispose());

async function queriesFor(c: Circuit): Promise<GpuQueries> {
  const cc = compileCircuit(c);
  await engine.load(cc);
  return new GpuQueries(engine, cc, loadNodeShaders());
}

/** Total variation between the empirical distribution of `draws` and p, with its sampling-noise scale. */
function tv(counts: Map<string, number>, p: Map<string, number>, n: number): { tv: number; expected: number } {
  let d = 0;
  let expected = 0;
  for (const [k, pk] of p) {
    d += Math.abs((counts.get(k) ?? 0) / n - pk);
    expected += Math.sqrt((pk * (1 - pk)) / (2 * Math.PI * n));
  }
  for (const [k, c] of counts) if (!p.has(k)) d += c / n;
  return { tv: d / 2, expected };
}

describe('GPU queries', () => {
  const rng = new Rng(41);
  const c = buildTreeCircuit(randomTree(4, rng), 3, 2, rng);

  it('marginals and conditional surprise match the CPU reference', async () => {
    const q = await queriesFor(c);
    const cpu = new CpuQueries(compileCircuit(c));
    const r = new Rng(3);
    for (let t = 0; t < 5; t++) {
      const image = Uint8Array.from({ length: 4 }, () => r.int(3));
      const a = await q.conditionalSurprise(image);
      const b = cpu.conditionalSurpriseSync(image);
      for (let i = 0; i < 4; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-4);
    }
    const pixels = Uint8Array.from({ length: 40 }, () => r.int(3));
    const missing = Uint8Array.from({ length: 40 }, () => (r.uniform() < 0.3 ? 1 : 0));
    const ma = await q.marginal({ pixels, count: 10, missing });
    const mb = cpu.marginalSync({ pixels, count: 10, missing });
    for (let s = 0; s < 10; s++) expect(Math.abs(ma[s] - mb[s])).toBeLessThan(1e-4);
  });

  it('unconditional draws follow p(x); deterministic per seed, prefixes of larger requests', async () => {
    const q = await queriesFor(c);
    const n = 30000;
    const draws = await q.sample(n, 7);
    const counts = new Map<string, number>();
    for (let s = 0; s < n; s++) {
      const k = draws.subarray(s * 4, s * 4 + 4).join(',');
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const p = new Map<string, number>();
    for (const x of allAssignments(4, 3)) p.set(x.join(','), naiveProbability(c, x));
    const { tv: d, expected } = tv(counts, p, n);
    expect(d).toBeLessThan(expected + 0.01);
    expect(await q.sample(100, 7)).toEqual(draws.subarray(0, 400));
    expect(await q.sample(100, 8)).not.toEqual(draws.subarray(0, 400));
  });

  it('inpainting draws follow p(missing | observed) and keep the observed pixels', async () => {
    const q = await queriesFor(c);
    const evidence = { pixels: Uint8Array.from([2, 0, 1, 0]), missing: Uint8Array.from([0, 1, 0, 1]) };
    const n = 20000;
    const draws = await q.sample(n, 3, evidence);
    const counts = new Map<string, number>();
    for (let s = 0; s < n; s++) {
      expect(draws[s * 4]).toBe(2);
      expect(draws[s * 4 + 2]).toBe(1);
      const k = `${draws[s * 4 + 1]},${draws[s * 4 + 3]}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const p = new Map<string, number>();
    let z = 0;
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) z += naiveProbability(c, [2, a, 1, b]);
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) p.set(`${a},${b}`, naiveProbability(c, [2, a, 1, b]) / z);
    const { tv: d, expected } = tv(counts, p, n);
    expect(d).toBeLessThan(expected + 0.01);
  });
});

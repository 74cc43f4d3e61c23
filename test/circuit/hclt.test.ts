// HCLT structure on real digits: a spanning tree of maximum mutual information, rooted at a centre,
// with every region sized as designed; deterministic per seed.
import { describe, expect, it } from 'vitest';
import { buildHclt, chowLiuTree, maximumSpanningTree, mutualInformation, rootAtCentre, treeEdgeInformation } from '../../src/circuit/hclt.ts';
import { buildTreeCircuit } from '../../src/circuit/tree.ts';
import { Rng } from '../../src/util/rng.ts';
import { countSumEdges, validateCircuit } from '../../src/circuit/structure.ts';
import { embeddedSubset } from '../helpers/data.ts';

function eccentricities(parent: Int32Array): Int32Array {
  const D = parent.length;
  const adj: number[][] = Array.from({ length: D }, () => []);
  parent.forEach((p, v) => {
    if (p >= 0) {
      adj[p].push(v);
      adj[v].push(p);
    }
  });
  const ecc = new Int32Array(D);
  for (let s = 0; s < D; s++) {
    const dist = new Int32Array(D).fill(-1);
    dist[s] = 0;
    const q = [s];
    for (let h = 0; h < q.length; h++)
      for (const w of adj[q[h]])
        if (dist[w] < 0) {
          dist[w] = dist[q[h]] + 1;
          q.push(w);
        }
    ecc[s] = Math.max(...dist);
    expect(Math.min(...dist)).toBe(0); // connected
  }
  return ecc;
}

describe('HCLT', async () => {
  const data = await embeddedSubset(1500);
  const mi = mutualInformation(data);
  const D = data.numVars;

  it('mutual information is symmetric, non-negative and highest between neighbouring pixels', () => {
    let asymmetric = 0;
    let negative = 0;
    let diagonal = 0;
    for (let u = 0; u < D; u++) {
      if (mi[u * D + u] !== 0) diagonal++;
      for (let v = 0; v < D; v++) {
        if (mi[u * D + v] !== mi[v * D + u]) asymmetric++;
        if (mi[u * D + v] < -1e-12) negative++;
      }
    }
    expect([asymmetric, negative, diagonal]).toEqual([0, 0, 0]);
    // Centre pixel (14,14): its right neighbour shares far more information than a corner pixel.
    const neighbour = mi[(14 * 28 + 14) * D + 14 * 28 + 15];
    const far = mi[(14 * 28 + 14) * D + 0];
    expect(neighbour).toBeGreaterThan(0.3);
    expect(far).toBeLessThan(0.01);
  });

  it("tree edge information equals the MI matrix's entry of every tree edge (the Chow-Liu weights), 0 at the root", () => {
    const parent = chowLiuTree(data);
    const info = treeEdgeInformation(data, parent);
    let worst = 0;
    for (let v = 0; v < D; v++) worst = Math.max(worst, Math.abs(info[v] - (parent[v] < 0 ? 0 : mi[v * D + parent[v]])));
    expect(worst).toBeLessThan(1e-12);
    // Background corner pixels share almost nothing; edges over the digit carry far more.
    expect(info[0]).toBeLessThan(0.01);
    expect(Math.max(...info)).toBeGreaterThan(0.3);
  });

  it('the tree is a maximum spanning tree (same weight as Kruskal) rooted at a centre', () => {
    const edges = maximumSpanningTree(mi, D);
    expect(edges.length).toBe(D - 1);
    const weight = (es: Array<[number, number]>) => es.reduce((s, [a, b]) => s + mi[a * D + b], 0);
    // Kruskal with union-find as an independent check.
    const all: Array<[number, number]> = [];
    for (let u = 0; u < D; u++) for (let v = u + 1; v < D; v++) all.push([u, v]);
    all.sort((x, y) => mi[y[0] * D + y[1]] - mi[x[0] * D + x[1]]);
    const uf = Int32Array.from({ length: D }, (_, i) => i);
    const find = (x: number): number => (uf[x] === x ? x : (uf[x] = find(uf[x])));
    const kruskal: Array<[number, number]> = [];
    for (const [a, b] of all) {
      const ra = find(a);
      const rb = find(b);
      if (ra !== rb) {
        uf[ra] = rb;
        kruskal.push([a, b]);
      }
    }
    expect(Math.abs(weight(edges) - weight(kruskal))).toBeLessThan(1e-9);
    const parent = rootAtCentre(edges, D);
    const root = parent.indexOf(-1);
    expect(parent.filter((p) => p === -1).length).toBe(1);
    const ecc = eccentricities(parent);
    expect(ecc[root]).toBe(Math.min(...ecc));
  });

  it('builds D regions of K products with K x K blocks (one root row), deterministic per seed', () => {
    const K = 3;
    const c = buildHclt(data, { K, seed: 5 });
    expect(validateCircuit(c)).toBeNull();
    expect(c.regions.length).toBe(D);
    for (const r of c.regions) {
      expect(r.size).toBe(K);
      expect(r.block.cols).toBe(K);
      expect(r.block.rows).toBe(r.variable === c.root ? 1 : K);
    }
    expect(countSumEdges(c)).toBe((D - 1) * K * K + K);
    const parent = Int32Array.from(c.regions, (r) => r.parent);
    const again = buildTreeCircuit(parent, data.numValues, K, new Rng(5));
    const other = buildTreeCircuit(parent, data.numValues, K, new Rng(6));
    expect(again.regions[10].inputLogProbs).toEqual(c.regions[10].inputLogProbs);
    expect(again.regions[10].block.logWeights).toEqual(c.regions[10].block.logWeights);
    expect(other.regions[10].block.logWeights).not.toEqual(c.regions[10].block.logWeights);
  });
});

// Pins the compiled-circuit contract (docs/architecture.md, "The compiled circuit") on a small
// circuit: node numbering, layers, CSR children, sum edges and transposed parent lists. Every engine
// relies on this layout.
import { describe, expect, it } from 'vitest';
import { compileCircuit, edgeLocation, writeParamsBack } from '../../src/circuit/compile.ts';
import { cloneCircuit } from '../../src/circuit/structure.ts';
import { buildTreeCircuit } from '../../src/circuit/tree.ts';
import { Rng } from '../../src/util/rng.ts';

describe('compiled circuit', () => {
  // Variables 0 and 2 are leaves under root 1; K = 2, binary values.
  const c = buildTreeCircuit([1, -1, 1], 2, 2, new Rng(1));
  const cc = compileCircuit(c);

  it('numbers nodes inputs first, then product and sum layers by height, regions contiguous', () => {
    expect([cc.numInputs, cc.numProducts, cc.numSums, cc.numNodes, cc.numEdges, cc.rootNode]).toEqual([6, 6, 5, 17, 10, 16]);
    expect(cc.regions.map((r) => [r.variable, r.height, r.inputStart, r.productStart, r.sumStart, r.rows, r.edgeStart, r.nnz])).toEqual([
      [0, 0, 0, 6, 10, 2, 0, 4],
      [2, 0, 2, 8, 12, 2, 4, 4],
      [1, 1, 4, 14, 16, 1, 8, 2],
    ]);
    expect(cc.layers.map((l) => [l.kind, l.nodeStart, l.nodeEnd])).toEqual([
      ['input', 0, 6],
      ['product', 6, 10],
      ['sum', 10, 14],
      ['product', 14, 16],
      ['sum', 16, 17],
    ]);
    expect([...cc.inputVar]).toEqual([0, 0, 2, 2, 1, 1]);
    expect([...cc.regionOfVariable]).toEqual([0, 2, 1]);
  });

  it('stores product children (input first, then child regions) and sum edges as CSR', () => {
    const kids = (n: number) => [...cc.childNode.subarray(cc.childPtr[n], cc.childPtr[n + 1])];
    expect([6, 7, 8, 9, 14, 15].map(kids)).toEqual([[0], [1], [2], [3], [4, 10, 12], [5, 11, 13]]);
    expect(kids(10)).toEqual([]);
    expect([...cc.edgePtr.subarray(10, 18)]).toEqual([0, 2, 4, 6, 8, 8, 8, 10]);
    expect([...cc.edgeChild]).toEqual([6, 7, 6, 7, 8, 9, 8, 9, 14, 15]);
    expect([...cc.edgeLogWeights.subarray(0, 4)]).toEqual([...c.regions[0].block.logWeights]);
  });

  it('has the transposed parent lists (edge id for sum parents, -1 for product parents)', () => {
    const parents = (n: number) => {
      const out: Array<[number, number]> = [];
      for (let k = cc.parentPtr[n]; k < cc.parentPtr[n + 1]; k++) out.push([cc.parentNode[k], cc.parentEdge[k]]);
      return out;
    };
    expect(parents(0)).toEqual([[6, -1]]);
    expect(parents(6)).toEqual([
      [10, 0],
      [11, 2],
    ]);
    expect(parents(14)).toEqual([[16, 8]]);
    expect(parents(10)).toEqual([[14, -1]]);
    expect(parents(16)).toEqual([]);
  });

  it('maps edges back to the structure and writes parameters back', () => {
    expect(edgeLocation(cc, c, 5)).toEqual({ variable: 2, row: 0, col: 1 });
    expect(edgeLocation(cc, c, 9)).toEqual({ variable: 1, row: 0, col: 1 });
    const copy = cloneCircuit(c);
    cc.edgeLogWeights[5] = -3;
    cc.inputLogProbs[4 * 2 + 1] = -4;
    writeParamsBack(cc, copy);
    expect(copy.regions[2].block.logWeights[1]).toBe(-3);
    expect(copy.regions[1].inputLogProbs[1]).toBe(-4);
  });
});

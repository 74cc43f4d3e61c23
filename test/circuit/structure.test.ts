import { describe, expect, it } from 'vitest';
import { buildTreeCircuit, randomTree } from '../../src/circuit/tree.ts';
import { validateCircuit, countSumEdges, bottomUpOrder } from '../../src/circuit/structure.ts';
import { Rng } from '../../src/util/rng.ts';

describe('tree circuits', () => {
  it('builds a valid circuit over a random tree', () => {
    const rng = new Rng(3);
    const parent = randomTree(7, rng);
    const c = buildTreeCircuit(parent, 3, 4, rng);
    expect(validateCircuit(c)).toBeNull();
    expect(countSumEdges(c)).toBe(6 * 16 + 4);
    const order = bottomUpOrder(c);
    expect(order.length).toBe(7);
    expect(order[6]).toBe(c.root);
  });
});

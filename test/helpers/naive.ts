// An independent, deliberately naive evaluator on the editable structure (probability domain,
// recursion over regions), used as the brute-force oracle for the engines.
import type { Circuit } from '../../src/circuit/structure.ts';

/** p(x) with missing[v] = true marginalising pixel v. */
export function naiveProbability(c: Circuit, x: ArrayLike<number>, missing?: ArrayLike<boolean | number>): number {
  const V = c.numValues;
  // sumValue(v) returns the values of the sum nodes (rows) of region v.
  const sumValues = (v: number): number[] => {
    const r = c.regions[v];
    const childSums = r.children.map(sumValues);
    const prods: number[] = [];
    for (let i = 0; i < r.size; i++) {
      let p = missing && missing[v] ? 1 : Math.exp(r.inputLogProbs[i * V + x[v]]);
      for (const cs of childSums) p *= cs[i];
      prods.push(p);
    }
    const out: number[] = [];
    const b = r.block;
    for (let j = 0; j < b.rows; j++) {
      let s = 0;
      for (let e = b.rowPtr[j]; e < b.rowPtr[j + 1]; e++) s += Math.exp(b.logWeights[e]) * prods[b.colIdx[e]];
      out.push(s);
    }
    return out;
  };
  return sumValues(c.root)[0];
}

/** Every assignment of D variables with V values, in lexicographic order. */
export function* allAssignments(D: number, V: number): Generator<number[]> {
  const x = new Array<number>(D).fill(0);
  while (true) {
    yield x.slice();
    let k = D - 1;
    while (k >= 0 && x[k] === V - 1) x[k--] = 0;
    if (k < 0) return;
    x[k]++;
  }
}

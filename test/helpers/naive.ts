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

function logSumExpOf(xs: number[]): number {
  let m = -Infinity;
  for (const x of xs) m = Math.max(m, x);
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (const x of xs) s += Math.exp(x - m);
  return m + Math.log(s);
}

/** Per region (by variable), the log values of its products and of its sum nodes for one sample,
 *  computed independently in the log domain (no scaling tricks: any magnitude is exact). */
export function naiveLogValues(c: Circuit, x: ArrayLike<number>, missing?: ArrayLike<boolean | number>): { prod: number[][]; sum: number[][] } {
  const V = c.numValues;
  const prod: number[][] = new Array(c.numVars);
  const sum: number[][] = new Array(c.numVars);
  const visit = (v: number): void => {
    const r = c.regions[v];
    for (const ch of r.children) visit(ch);
    prod[v] = [];
    for (let i = 0; i < r.size; i++) {
      let p = missing && missing[v] ? 0 : r.inputLogProbs[i * V + x[v]];
      for (const ch of r.children) p += sum[ch][i];
      prod[v].push(p);
    }
    const b = r.block;
    sum[v] = [];
    for (let j = 0; j < b.rows; j++) {
      const terms: number[] = [];
      for (let e = b.rowPtr[j]; e < b.rowPtr[j + 1]; e++) terms.push(b.logWeights[e] + prod[v][b.colIdx[e]]);
      sum[v].push(logSumExpOf(terms));
    }
  };
  visit(c.root);
  return { prod, sum };
}

/**
 * Flows of one sample, in the log domain from the definitions: the root's flow is 1, sum edge
 * F_e = F_j theta_e p_c / s_j, a product's flow the sum of its incoming edge flows, and row i of each
 * child region (the sum node product i multiplies) takes product i's flow. Edge flows per region in
 * block order; input flows per region and input node (the product's flow).
 */
export function naiveFlows(c: Circuit, x: ArrayLike<number>, missing?: ArrayLike<boolean | number>): { edges: number[][]; inputs: number[][] } {
  const { prod, sum } = naiveLogValues(c, x, missing);
  const edges: number[][] = new Array(c.numVars);
  const inputs: number[][] = new Array(c.numVars);
  const visit = (v: number, rowFlowLog: number[]): void => {
    const r = c.regions[v];
    const b = r.block;
    edges[v] = [];
    const incoming: number[][] = Array.from({ length: r.size }, () => []);
    for (let j = 0; j < b.rows; j++) {
      for (let e = b.rowPtr[j]; e < b.rowPtr[j + 1]; e++) {
        const f = rowFlowLog[j] + b.logWeights[e] + prod[v][b.colIdx[e]] - sum[v][j];
        edges[v].push(Number.isNaN(f) ? 0 : Math.exp(f));
        incoming[b.colIdx[e]].push(f);
      }
    }
    const prodFlowLog = incoming.map((fs) => logSumExpOf(fs.filter((f) => !Number.isNaN(f))));
    inputs[v] = prodFlowLog.map(Math.exp);
    for (const ch of r.children) visit(ch, prodFlowLog);
  };
  visit(c.root, [0]);
  return { edges, inputs };
}

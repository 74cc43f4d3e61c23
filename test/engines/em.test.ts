// EM: full-batch EM never lowers its objective; mini-batch EM on real digits lowers bpd.
import { describe, expect, it } from 'vitest';
import { compileCircuit } from '../../src/circuit/compile.ts';
import { buildTreeCircuit, randomTree } from '../../src/circuit/tree.ts';
import { CpuEngine } from '../../src/engines/cpu/engine.ts';
import { DEFAULT_TRAIN_CONFIG, Trainer } from '../../src/training/trainer.ts';
import { Rng } from '../../src/util/rng.ts';
import { emUpdate } from '../../src/engines/em.ts';
import { embeddedSubset, randomDataset } from '../helpers/data.ts';
import { splitTrainValid } from '../../src/data/split.ts';

/** Log-likelihood of the data plus the log Dirichlet prior that EM's pseudocount a stands for:
 *  sum over sum nodes of (a/|ch|) sum_c log theta_c, over inputs of (a/V) sum_x log theta_x. */
function objective(ll: Float64Array, cc: ReturnType<typeof compileCircuit>, a: number): number {
  let s = 0;
  for (const v of ll) s += v;
  if (a === 0) return s;
  for (let n = 0; n < cc.numNodes; n++) {
    const k = cc.edgePtr[n + 1] - cc.edgePtr[n];
    for (let e = cc.edgePtr[n]; e < cc.edgePtr[n + 1]; e++) s += (a / k) * cc.edgeLogWeights[e];
  }
  for (const lp of cc.inputLogProbs) s += (a / cc.numValues) * lp;
  return s;
}

describe('EM', () => {
  for (const a of [0, 0.1, 2]) {
    it(`full-batch EM never lowers the objective (pseudocount ${a})`, async () => {
      const rng = new Rng(11);
      const data = randomDataset(300, 6, 3, 4);
      // Skewed data so there is something to learn: copy variable 0 into 1 most of the time.
      for (let s = 0; s < data.count; s++) if (s % 4 !== 0) data.pixels[s * 6 + 1] = data.pixels[s * 6];
      const cc = compileCircuit(buildTreeCircuit(randomTree(6, rng), 3, 3, rng));
      const engine = new CpuEngine({ precision: 'float64' });
      await engine.load(cc);
      const batch = { pixels: data.pixels, count: data.count };
      let prev = -Infinity;
      const trace: number[] = [];
      for (let it = 0; it < 15; it++) {
        const ll = await engine.accumulateFlows(batch);
        await engine.syncParams(); // the input logs the prior term reads
        const obj = objective(ll, cc, a);
        trace.push(obj);
        expect(obj).toBeGreaterThanOrEqual(prev - 1e-9 * Math.abs(prev));
        prev = obj;
        await engine.emStep({ step: 1, pseudocount: a });
      }
      // It actually learns: the objective rose by a clear margin.
      expect(trace[trace.length - 1] - trace[0]).toBeGreaterThan(10);
    });
  }

  it('the CPU engine updates inputs in the linear domain; after syncParams the logs equal the log-domain update', async () => {
    const rng = new Rng(5);
    const data = randomDataset(200, 7, 5, 9);
    const circuit = buildTreeCircuit(randomTree(7, rng), 5, 4, rng);
    const cc = compileCircuit(circuit);
    const ref = compileCircuit(circuit);
    const engine = new CpuEngine({ precision: 'float64' });
    await engine.load(cc);
    const opts = { step: 0.3, pseudocount: 0.1 };
    for (let it = 0; it < 3; it++) {
      await engine.accumulateFlows({ pixels: data.pixels, count: data.count });
      emUpdate(ref, await engine.edgeFlows(), await engine.inputFlows(), opts);
      await engine.emStep(opts);
    }
    await engine.syncParams();
    let err = 0;
    for (let k = 0; k < ref.inputLogProbs.length; k++) err = Math.max(err, Math.abs(cc.inputLogProbs[k] - ref.inputLogProbs[k]));
    expect(err).toBeLessThan(1e-12);
    expect(err).toBeGreaterThanOrEqual(0);
    for (let e = 0; e < ref.numEdges; e++) expect(cc.edgeLogWeights[e]).toBeCloseTo(ref.edgeLogWeights[e], 12);
  });

  it('mini-batch EM on the embedded digits lowers validation bpd over a few epochs', async () => {
    const data = await embeddedSubset(2000);
    const { train, valid } = splitTrainValid(data, 0.2, 1);
    const engine = new CpuEngine({ precision: 'float32' });
    const trainer = await Trainer.create({ ...DEFAULT_TRAIN_CONFIG, K: 4, batch: 256 }, engine, train, valid);
    const bpd: number[] = [];
    for (let e = 0; e < 3; e++) bpd.push((await trainer.epoch()).valid_bpd!);
    expect(bpd[1]).toBeLessThan(bpd[0]);
    expect(bpd[2]).toBeLessThan(bpd[1]);
    expect(bpd[2]).toBeLessThan(2.5);
    expect(bpd[2]).toBeGreaterThan(0.5);
  });
});

describe('trainer, full-batch EM', () => {
  it('one update per epoch from the flows of the whole training set lowers train bpd every epoch', async () => {
    const data = await embeddedSubset(600, 3);
    const engine = new CpuEngine({ precision: 'float64' });
    const trainer = await Trainer.create({ ...DEFAULT_TRAIN_CONFIG, K: 3, fullBatch: true, pseudocount: 0 }, engine, data, null);
    const bpd: number[] = [];
    for (let e = 0; e < 4; e++) bpd.push((await trainer.epoch()).train_bpd);
    // Epoch e reports the likelihood before its update, so the sequence is EM's objective trace.
    for (let e = 1; e < bpd.length; e++) expect(bpd[e]).toBeLessThan(bpd[e - 1]);
  });
});

// Small rows on the GPU: after a prune (and a grow), a sum row can keep only children that lie far
// below its region's largest product for some sample (gray-level data: latent states that disagree
// with a pixel differ by hundreds of nats). Its linear value s_j = sum theta_e e_c then underflows in
// f32 (to 0 past ~104 nats, to subnormals past ~87), which lost the row's mass from log p(x) (-inf
// when a region loses every product) and made g_j = F_j / s_j inf / NaN. Every kernel family must
// compute such rows exactly in the log domain (forward) and their flows exactly (backward, edge
// flows, marked flows): checked here against the float64 CPU oracle, on circuits where the case
// provably occurs with substantial flow (`smallRowStats`, an independent float64 evaluation).
//
// Verified with the shaders from before the fix, on the same circuits and first batch, in every
// family (gather, tiled, per-height, dense): log-likelihoods wrong by up to 29 nats (18 of 40
// samples; 12 of 40 and 20 nats on the grown circuit), and 26 of 52 (72 of 168) edge flows NaN or
// inf; the mini-batch EM test failed on non-finite edge flows. With the fix, switching off any one
// kernel's small-row path (forward: gather, tiled, per-height, GEMM; backward: sum flow, product
// flow, per-height, GEMM; edges: per-edge, lanes, GEMM; marked) fails the tests of its family.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileCircuit, type CompiledCircuit } from '../../../src/circuit/compile.ts';
import { growCircuit } from '../../../src/circuit/grow.ts';
import { removeEdges } from '../../../src/circuit/prune.ts';
import type { Circuit } from '../../../src/circuit/structure.ts';
import type { Batch } from '../../../src/engines/engine.ts';
import type { GpuEngine } from '../../../src/engines/gpu/engine.ts';
import { Rng } from '../../../src/util/rng.ts';
import { compiledPair, gpuEngine, maxAbsErr, maxRelErr, oracle, sumSteps, treeCircuit } from './helpers.ts';

const V = 256;
const BANDS = 4;
const BAND = V / BANDS;

/**
 * A random tree circuit over D gray-level pixels whose input node i prefers band i mod 4 of the values
 * (out-of-band values 80-130 nats less likely), pruned so that row j of every block keeps only products
 * j and j + 1 (the root row: 0 and 1), optionally grown (latent states doubled, cross edges).
 */
function peakedCircuit(seed: number, D: number, K: number, grow: boolean): Circuit {
  const c = treeCircuit(seed, D, V, K);
  const rng = new Rng(seed + 7);
  for (const r of c.regions) {
    for (let i = 0; i < r.size; i++) {
      const row = r.inputLogProbs.subarray(i * V, (i + 1) * V);
      const penalty = 80 + 40 * rng.uniform();
      for (let x = 0; x < V; x++) row[x] = (Math.floor(x / BAND) === i % BANDS ? 0 : -penalty) - 0.5 * rng.uniform();
      let m = -Infinity;
      for (let x = 0; x < V; x++) m = Math.max(m, row[x]);
      let s = 0;
      for (let x = 0; x < V; x++) s += Math.exp(row[x] - m);
      const z = m + Math.log(s);
      for (let x = 0; x < V; x++) row[x] -= z;
    }
  }
  const cc = compileCircuit(c);
  const marked = new Uint8Array(cc.numEdges);
  for (const r of cc.regions) {
    for (let j = 0; j < r.rows; j++) {
      const node = r.sumStart + j;
      for (let e = cc.edgePtr[node]; e < cc.edgePtr[node + 1]; e++) {
        const i = cc.edgeChild[e] - r.productStart;
        const keep = r.parentRegion < 0 || i === j % r.size || i === (j + 1) % r.size;
        marked[e] = keep ? 0 : 1;
      }
    }
  }
  const pruned = removeEdges(c, cc, marked);
  return grow ? growCircuit(pruned, 0.3, seed + 3) : pruned;
}

/** Samples of one band each, with one pixel from another band. */
function bandedBatch(seed: number, count: number, D: number): Batch {
  const rng = new Rng(seed);
  const pixels = new Uint8Array(count * D);
  for (let b = 0; b < count; b++) {
    const band = rng.int(BANDS);
    for (let v = 0; v < D; v++) pixels[b * D + v] = band * BAND + rng.int(BAND);
    pixels[b * D + rng.int(D)] = ((band + 1 + rng.int(BANDS - 1)) % BANDS) * BAND + rng.int(BAND);
  }
  return { pixels, count };
}

/**
 * Float64 reference of the situation (independent of the engines): per sum row and sample, how far
 * (nats) its best child lies below its region's largest product, and the row's flow F_j. Returns the
 * largest such gap, and the largest flow through a row whose gap exceeds 104 nats (where every
 * exp(u_c - m) underflows to 0 in f32, subnormals included).
 */
function smallRowStats(cc: CompiledCircuit, batch: Batch): { maxGap: number; zeroRows: number; maxFlowZero: number } {
  const D = cc.numVars;
  const x = new Float64Array(cc.numNodes);
  const f = new Float64Array(cc.numNodes);
  let maxGap = 0;
  let zeroRows = 0;
  let maxFlowZero = 0;
  for (let b = 0; b < batch.count; b++) {
    const gap = new Float64Array(cc.numNodes);
    for (const r of cc.regions) {
      const pix = batch.pixels[b * D + r.variable];
      let m = -Infinity;
      for (let i = 0; i < r.size; i++) {
        let u = cc.inputLogProbs[(r.inputStart + i) * cc.numValues + pix];
        for (const ck of r.childRegions) u += x[cc.regions[ck].sumStart + i];
        x[r.productStart + i] = u;
        m = Math.max(m, u);
      }
      for (let j = 0; j < r.rows; j++) {
        const node = r.sumStart + j;
        let best = -Infinity;
        for (let e = cc.edgePtr[node]; e < cc.edgePtr[node + 1]; e++) best = Math.max(best, x[cc.edgeChild[e]]);
        let s = 0;
        for (let e = cc.edgePtr[node]; e < cc.edgePtr[node + 1]; e++) s += Math.exp(cc.edgeLogWeights[e] + x[cc.edgeChild[e]] - best);
        x[node] = best + Math.log(s);
        gap[node] = m - best;
      }
    }
    // Flows, root first (regions are ordered bottom-up).
    f.fill(0);
    f[cc.rootNode] = 1;
    for (let k = cc.regions.length - 1; k >= 0; k--) {
      const r = cc.regions[k];
      for (let j = 0; j < r.rows; j++) {
        const node = r.sumStart + j;
        if (r.parentRegion >= 0) f[node] = f[cc.regions[r.parentRegion].productStart + j];
        for (let e = cc.edgePtr[node]; e < cc.edgePtr[node + 1]; e++)
          f[cc.edgeChild[e]] += f[node] * Math.exp(cc.edgeLogWeights[e] + x[cc.edgeChild[e]] - x[node]);
        maxGap = Math.max(maxGap, gap[node]);
        if (gap[node] > 104) {
          zeroRows++;
          maxFlowZero = Math.max(maxFlowZero, f[node]);
        }
      }
    }
  }
  return { maxGap, zeroRows, maxFlowZero };
}

function allFinite(a: ArrayLike<number>): boolean {
  for (let k = 0; k < a.length; k++) if (!Number.isFinite(a[k])) return false;
  return true;
}

// One engine per kernel family set (tuneKernels off: the options force the families):
//   forward gather sums, backward csr (sum flows, gathered product flows), edges one thread per edge;
//   forward tiled sums, backward csr, edges 32 lanes (several row blocks per region);
//   forward and backward one kernel per height (several row and product blocks per region);
//   forward dense (sum GEMM), backward dense (product-flow GEMM), edges dense (tiled GEMM).
const families = ['gather / csr / per-edge', 'tiled / csr / lanes', 'height / height / lanes', 'dense / dense / dense'] as const;
const engines: GpuEngine[] = [];
beforeAll(async () => {
  engines.push(await gpuEngine({ maxChunk: 32, tuneKernels: false, sumKernel: 'gather', edgeKernel: 'per-edge' }));
  engines.push(await gpuEngine({ maxChunk: 32, tuneKernels: false, sumKernel: 'tiled', edgeKernel: 'lanes', tileRows: 2 }));
  engines.push(await gpuEngine({ maxChunk: 32, tuneKernels: false, forwardKernel: 'height', backwardKernel: 'height', edgeKernel: 'lanes', tileRows: 2 }));
  engines.push(await gpuEngine({ maxChunk: 32, tuneKernels: false, sumKernel: 'gemm', flowKernel: 'gemm', edgeKernel: 'tiled', regionMax: 'reduce' }));
});
afterAll(() => {
  for (const g of engines) g.dispose();
});

const circuits: Array<[string, () => Circuit, number]> = [
  ['pruned D=7 K=4', () => peakedCircuit(77, 7, 4, false), 7],
  ['pruned+grown D=6 K=4', () => peakedCircuit(77, 6, 4, true), 6],
];

describe('GPU small rows (sums far below their region max)', () => {
  for (const [name, make, D] of circuits) {
    it(`${name}: the case occurs with substantial flow, and the oracle stays on its float64 linear path`, () => {
      const cc = compileCircuit(make());
      const stats = smallRowStats(cc, bandedBatch(D, 40, D));
      expect(stats.zeroRows).toBeGreaterThan(0);
      expect(stats.maxFlowZero).toBeGreaterThan(0.1);
      // Far from the float64 oracle's own small-row path (2^-700, ~485 nats).
      expect(stats.maxGap).toBeLessThan(450);
    });

    for (const [k, family] of families.entries()) {
      it(`${name} (${family}): log-likelihoods, edge and input flows, EM, marked flows match the oracle`, async () => {
        const gpu = engines[k];
        const [a, b] = compiledPair(make());
        const cpu = await oracle(a);
        await gpu.load(b);
        const choice = gpu.kernelChoice;
        expect(`${choice.forward} / ${choice.backward} / ${choice.edges}`).toBe(
          family
            .replace(/gather|tiled/, 'csr')
            .replace('per-edge', 'csr')
            .replace('lanes', 'csr'),
        );
        if (k === 0) expect(sumSteps(gpu.kernelPlan).every((s) => s.kernel === 'sumGather')).toBe(true);
        if (k === 1) expect(sumSteps(gpu.kernelPlan).every((s) => s.kernel === 'sumTiled')).toBe(true);
        const b1 = bandedBatch(D, 40, D);
        const b2 = bandedBatch(D + 1, 23, D);
        const ll = await gpu.logLikelihood(b1);
        expect(allFinite(ll)).toBe(true);
        expect(maxAbsErr(ll, await cpu.logLikelihood(b1))).toBeLessThan(1e-4);
        // Marked-edge flows on the peaked parameters (EM below smooths the inputs, and the later
        // passes have fewer small rows): every third edge, and every edge (a region's edges carry all
        // of its flow, so D per sample). The marked pass accumulates nothing.
        for (const marked of [Uint8Array.from({ length: a.numEdges }, (_, e) => (e % 3 === 1 ? 1 : 0)), new Uint8Array(a.numEdges).fill(1)]) {
          const mGot = await gpu.markedEdgeFlow(b1, marked);
          expect(allFinite(mGot)).toBe(true);
          expect(maxAbsErr(mGot, await cpu.markedEdgeFlow(b1, marked))).toBeLessThan(1e-4);
        }
        for (const batch of [b1, b2]) expect(maxAbsErr(await gpu.accumulateFlows(batch), await cpu.accumulateFlows(batch))).toBeLessThan(1e-4);
        const ef = await gpu.edgeFlows();
        expect(allFinite(ef)).toBe(true);
        expect(maxRelErr(ef, await cpu.edgeFlows(), 1e-3)).toBeLessThan(1e-3);
        expect(maxRelErr(await gpu.inputFlows(), await cpu.inputFlows(), 1e-3)).toBeLessThan(1e-3);
        for (let step = 0; step < 2; step++) {
          await cpu.emStep({ step: 0.5, pseudocount: 0.1 });
          await cpu.syncParams(); // EM leaves the CPU's input logs to syncParams
          await gpu.emStep({ step: 0.5, pseudocount: 0.1 });
          await gpu.syncParams();
          expect(maxAbsErr(b.edgeLogWeights, a.edgeLogWeights)).toBeLessThan(1e-5);
          expect(maxAbsErr(b.inputLogProbs, a.inputLogProbs)).toBeLessThan(1e-5);
          const batch = step === 0 ? b2 : b1;
          expect(maxAbsErr(await gpu.accumulateFlows(batch), await cpu.accumulateFlows(batch))).toBeLessThan(1e-4);
        }
        expect(maxRelErr(await gpu.edgeFlows(), await cpu.edgeFlows(), 1e-3)).toBeLessThan(1e-3);
      });
    }
  }

  it('mini-batch EM on the barrier-free kernels stays finite (no NaN, no -inf)', async () => {
    const gpu = await gpuEngine({ maxChunk: 16, tuneKernels: false });
    try {
      const c = peakedCircuit(73, 7, 4, true);
      const cc = compileCircuit(c);
      await gpu.load(cc);
      for (let step = 0; step < 4; step++) {
        const ll = await gpu.accumulateFlows(bandedBatch(100 + step, 24, 7));
        expect(allFinite(ll)).toBe(true);
        expect(allFinite(await gpu.edgeFlows())).toBe(true);
        await gpu.emStep({ step: 0.3, pseudocount: 0.1 });
      }
      await gpu.syncParams();
      expect(allFinite(cc.edgeLogWeights)).toBe(true);
      expect(allFinite(cc.inputLogProbs)).toBe(true);
      expect(allFinite(await gpu.logLikelihood(bandedBatch(200, 24, 7)))).toBe(true);
    } finally {
      gpu.dispose();
    }
  });
});

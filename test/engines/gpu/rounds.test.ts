// Rounds of prune -> grow -> EM on the WebGPU engine, against the float64 CPU oracle after every step.
// The single prune and grow are covered in flows/train tests; here the structure changes three times
// in a row, so rows far below their region (after prunes), latent states that lost every parent,
// regions of unequal sizes and grown cross edges all meet the kernels together:
//   - a random tree circuit with peaked gray-level inputs (test/helpers/gray.ts), pruned at random;
//   - an HCLT on real gray-level images (the committed Fashion-MNIST fixture), pruned by the oracle's
//     dataset edge flows as `Trainer.prune` does, with the GPU's marked-edge flow (the measured drop's
//     pass) checked on the edges being removed.
// After each prune, each grow and two mini-batch EM steps: log p(x), edge and input flows, and the
// EM-updated parameters match; the next round starts from the oracle's parameters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileCircuit, writeParamsBack, type CompiledCircuit } from '../../../src/circuit/compile.ts';
import { growCircuit } from '../../../src/circuit/grow.ts';
import { buildHclt } from '../../../src/circuit/hclt.ts';
import { edgeScores, removeEdgesWithReport, selectEdgesToPrune } from '../../../src/circuit/prune.ts';
import { cloneCircuit, validateCircuit, type Circuit } from '../../../src/circuit/structure.ts';
import type { Batch } from '../../../src/engines/engine.ts';
import type { GpuEngine } from '../../../src/engines/gpu/engine.ts';
import { fashionFixture } from '../../helpers/data.ts';
import { grayBatch, peakedCircuit } from '../../helpers/gray.ts';
import { gpuEngine, maxAbsErr, maxRelErr, oracle } from './helpers.ts';

function allFinite(a: ArrayLike<number>): boolean {
  for (let k = 0; k < a.length; k++) if (!Number.isFinite(a[k])) return false;
  return true;
}

/** |a - b| <= rel * |b| + abs for every sample (log-likelihoods of gray images run to thousands of nats). */
function expectClose(a: Float64Array, b: Float64Array, rel: number, abs: number): void {
  expect(allFinite(a)).toBe(true);
  let worst = 0;
  for (let k = 0; k < b.length; k++) worst = Math.max(worst, Math.abs(a[k] - b[k]) - rel * Math.abs(b[k]));
  expect(worst).toBeLessThan(abs);
}

interface Case {
  name: string;
  circuit: () => Promise<Circuit>;
  batches: () => Promise<Batch[]>;
  /** Edge scores for the prune: 'random' (seeded) or 'flow' (the oracle's dataset flows). */
  criterion: 'random' | 'flow';
  fraction: number;
  /** Kernel families to run it on (the 784-region HCLT on the tuned ones only: GEMM on SwiftShader
   *  takes a minute there, and the small circuit already covers that family). */
  families: ReadonlyArray<(typeof FAMILIES)[number]>;
}

// The tuned default kernels, and the dense (GEMM) family that grown blocks can switch to.
const FAMILIES = ['tuned', 'dense'] as const;

async function fashionRows(): Promise<Batch[]> {
  const data = await fashionFixture();
  const D = data.numVars;
  const rows = (from: number, count: number): Batch => ({ pixels: data.pixels.slice(from * D, (from + count) * D), count });
  return [rows(0, 32), rows(32, 24), rows(56, 24)];
}

const CASES: Case[] = [
  {
    name: 'peaked gray-level tree circuit D=8 K=4, 60 % pruned at random',
    circuit: async () => peakedCircuit(3, 8, 4),
    batches: async () => [grayBatch(31, 48, 8, 0.15), grayBatch(32, 40, 8, 0), grayBatch(33, 40, 8, 0)],
    criterion: 'random',
    fraction: 0.6,
    families: FAMILIES,
  },
  {
    name: 'HCLT K=4 on Fashion-MNIST images, 75 % pruned by flow',
    circuit: async () => buildHclt(await fashionFixture(), { K: 4, seed: 1 }),
    batches: fashionRows,
    criterion: 'flow',
    fraction: 0.75,
    families: ['tuned'],
  },
];

const engines: GpuEngine[] = [];
beforeAll(async () => {
  engines.push(await gpuEngine({ maxChunk: 32 }));
  engines.push(await gpuEngine({ maxChunk: 32, tuneKernels: false, sumKernel: 'gemm', flowKernel: 'gemm', edgeKernel: 'tiled', regionMax: 'reduce' }));
});
afterAll(() => {
  for (const g of engines) g.dispose();
});

/** Loads `c` into a fresh oracle and the GPU engine; checks log p(x), edge and input flows on `batch`. */
async function loadAndCompare(
  gpu: GpuEngine,
  c: Circuit,
  batch: Batch,
): Promise<{ a: CompiledCircuit; b: CompiledCircuit; cpu: Awaited<ReturnType<typeof oracle>> }> {
  expect(validateCircuit(c)).toBeNull();
  const [a, b] = [compileCircuit(c), compileCircuit(c)];
  const cpu = await oracle(a);
  await gpu.load(b);
  gpu.resetFlows();
  expectClose(await gpu.accumulateFlows(batch), await cpu.accumulateFlows(batch), 2e-6, 1e-3);
  const [ge, ce] = [await gpu.edgeFlows(), await cpu.edgeFlows()];
  expect(allFinite(ge)).toBe(true);
  expect(maxRelErr(ge, ce, 1e-3)).toBeLessThan(2e-3);
  expect(maxRelErr(await gpu.inputFlows(), await cpu.inputFlows(), 1e-3)).toBeLessThan(2e-3);
  gpu.resetFlows();
  cpu.resetFlows();
  return { a, b, cpu };
}

describe('GPU: three rounds of prune -> grow -> EM against the float64 oracle', () => {
  for (const cs of CASES) {
    for (const family of cs.families) {
      it(`${cs.name} (${family} kernels)`, async () => {
        const gpu = engines[FAMILIES.indexOf(family)];
        const [b0, b1, b2] = await cs.batches();
        let c = await cs.circuit();
        let orphaned = 0;
        for (let round = 1; round <= 3; round++) {
          // Prune: scores from the oracle (dataset flows for 'flow'), the same marked set for both.
          const { a, cpu } = await loadAndCompare(gpu, c, b0);
          let flows: Float64Array | null = null;
          if (cs.criterion === 'flow') {
            for (const batch of [b0, b1, b2]) await cpu.accumulateFlows(batch);
            flows = await cpu.edgeFlows();
            cpu.resetFlows();
          }
          const marked = selectEdgesToPrune(a, edgeScores(a, cs.criterion, flows, 100 + round), cs.fraction);
          // The measured drop's pass: per sample, the flow through the edges about to go (up to one per
          // region, so hundreds on an HCLT: compared relative to its size).
          expectClose(await gpu.markedEdgeFlow(b0, marked), await cpu.markedEdgeFlow(b0, marked), 1e-5, 1e-4);
          cpu.dispose();
          const pruned = removeEdgesWithReport(c, a, marked);
          orphaned += pruned.orphans.states;
          c = pruned.circuit;
          (await loadAndCompare(gpu, c, b0)).cpu.dispose();

          c = growCircuit(c, 0.3, 200 + round);
          const grown = await loadAndCompare(gpu, c, b0);
          // Two mini-batch EM steps on both from the same parameters: the same parameters after.
          for (const batch of [b1, b2]) {
            expectClose(await gpu.accumulateFlows(batch), await grown.cpu.accumulateFlows(batch), 2e-6, 1e-3);
            await gpu.emStep({ step: 0.3, pseudocount: 0.01 });
            await grown.cpu.emStep({ step: 0.3, pseudocount: 0.01 });
          }
          await gpu.syncParams();
          await grown.cpu.syncParams();
          expect(maxAbsErr(grown.b.edgeLogWeights.map(Math.exp), grown.a.edgeLogWeights.map(Math.exp))).toBeLessThan(1e-5);
          expect(maxAbsErr(grown.b.inputLogProbs.map(Math.exp), grown.a.inputLogProbs.map(Math.exp))).toBeLessThan(1e-5);
          grown.cpu.dispose();
          // The next round goes on from the oracle's parameters.
          c = cloneCircuit(c);
          writeParamsBack(grown.a, c);
        }
        (await loadAndCompare(gpu, c, b0)).cpu.dispose();
        expect(orphaned).toBeGreaterThan(0);
      });
    }
  }
});

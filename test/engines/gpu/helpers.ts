// Shared helpers for the GPU engine tests: small random circuits (random trees, pruned, grown),
// random batches with missing-pixel masks, and the float64 CPU oracle.
import { compileCircuit, type CompiledCircuit } from '../../../src/circuit/compile.ts';
import { growCircuit } from '../../../src/circuit/grow.ts';
import { removeEdges, selectEdgesToPrune } from '../../../src/circuit/prune.ts';
import type { Circuit } from '../../../src/circuit/structure.ts';
import { buildTreeCircuit, randomTree } from '../../../src/circuit/tree.ts';
import { CpuEngine } from '../../../src/engines/cpu/engine.ts';
import type { Batch } from '../../../src/engines/engine.ts';
import type { GpuEngine, GpuEngineOptions, KernelPass } from '../../../src/engines/gpu/engine.ts';
import type { KernelName } from '../../../src/engines/gpu/kernels.ts';
import type { PlanStep } from '../../../src/engines/gpu/plan.ts';
import { createNodeGpuEngine } from '../../../src/engines/gpu/node-gpu.ts';
import { Rng } from '../../../src/util/rng.ts';

export function treeCircuit(seed: number, D: number, V: number, K: number): Circuit {
  const rng = new Rng(seed);
  return buildTreeCircuit(randomTree(D, rng), V, K, rng);
}

/** Prunes a fraction of the edges (random scores) and optionally grows: irregular blocks. */
export function prunedCircuit(seed: number, D: number, V: number, K: number, fraction: number, grow = false): Circuit {
  const c = treeCircuit(seed, D, V, K);
  const cc = compileCircuit(c);
  const rng = new Rng(seed + 1);
  const scores = Float64Array.from({ length: cc.numEdges }, () => rng.uniform());
  const pruned = removeEdges(c, cc, selectEdgesToPrune(cc, scores, fraction));
  return grow ? growCircuit(pruned, 0.3, seed + 2) : pruned;
}

export function randomBatch(seed: number, count: number, D: number, V: number, missingRate = 0): Batch {
  const rng = new Rng(seed);
  const pixels = new Uint8Array(count * D);
  for (let k = 0; k < pixels.length; k++) pixels[k] = rng.int(V);
  if (missingRate <= 0) return { pixels, count };
  const missing = new Uint8Array(count * D);
  for (let k = 0; k < missing.length; k++) missing[k] = rng.uniform() < missingRate ? 1 : 0;
  return { pixels, count, missing };
}

/** Fresh compiled copies (engines may write parameters into the arrays). */
export function compiledPair(c: Circuit): [CompiledCircuit, CompiledCircuit] {
  return [compileCircuit(c), compileCircuit(c)];
}

export async function oracle(cc: CompiledCircuit): Promise<CpuEngine> {
  const e = new CpuEngine({ precision: 'float64', shardCapacity: 64 });
  await e.load(cc);
  return e;
}

/** The GPU engine on whatever adapter Node finds (SwiftShader here). Fails, never skips. */
export function gpuEngine(opts: Partial<GpuEngineOptions> = {}): Promise<GpuEngine> {
  return createNodeGpuEngine(opts);
}

/** max_k |a_k - b_k| / max(|b_k|, floor) */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k] - b[k]) / Math.max(Math.abs(b[k]), floor));
  return m;
}

export function maxAbsErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let k = 0; k < a.length; k++) {
    const d = a[k] === b[k] ? 0 : Math.abs(a[k] - b[k]);
    m = Math.max(m, Number.isNaN(d) ? Infinity : d);
  }
  return m;
}

/** Whether a kernel plan has a step of `kernel` (in `pass`, when given). */
export function planHas(plan: readonly PlanStep[], kernel: KernelName, pass?: KernelPass): boolean {
  return plan.some((s) => s.kernel === kernel && (pass === undefined || s.pass === pass));
}

/** The forward sum kernel of each sum layer (or of each height, for the per-height kernel). */
export function sumSteps(plan: readonly PlanStep[]): PlanStep[] {
  return plan.filter((s) => s.pass === 'forward' && ['sumGemm', 'sumTiled', 'sumGather', 'regionForward'].includes(s.kernel));
}

// The GPU engine's planning rules (src/engines/gpu/plan.ts), the region table packer, layer-uniform
// words and the tuning margin rule, without a device: concrete plans on a small compiled circuit
// (a 4-variable tree: pixel 0 the root, 1 its child, 2 and 3 children of 1; V = 3, K = 4).
import { describe, expect, it } from 'vitest';
import { compileCircuit } from '../../../src/circuit/compile.ts';
import { buildTreeCircuit } from '../../../src/circuit/tree.ts';
import { NONE, REGION_WORDS, packRegions } from '../../../src/engines/gpu/buffers.ts';
import type { EngineLimits } from '../../../src/engines/gpu/device.ts';
import { KERNELS, checkShaderSources, layerWords, parseLayerFields } from '../../../src/engines/gpu/kernels.ts';
import { DEFAULT_DENSE, planSettings, type PlanSettings } from '../../../src/engines/gpu/options.ts';
import {
  edgeShape,
  gemmShape,
  planCapacity,
  planDense,
  planPasses,
  planSteps,
  ruleChoice,
  sampleTile,
  stepText,
  tuneCandidates,
} from '../../../src/engines/gpu/plan.ts';
import { loadNodeShaders } from '../../../src/engines/gpu/shaders-node.ts';
import { TUNE_MARGIN, pickFastest } from '../../../src/engines/gpu/tuning.ts';
import { Rng } from '../../../src/util/rng.ts';

const LIMITS: EngineLimits = {
  maxStorageBufferBindingSize: 1 << 27,
  maxBufferSize: 1 << 28,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBuffersPerShaderStage: 8,
};

function settings(emulated: boolean, over: Partial<PlanSettings> = {}): PlanSettings {
  const base = { cpuEmulated: emulated, tuneKernels: !emulated, denseThresholds: DEFAULT_DENSE };
  return { ...planSettings({ shaders: {} }, { ...base, forwardKernel: 'auto', backwardKernel: 'auto', inputKernel: 'auto' }), ...over };
}

// Layers: inputs [0, 16), products h=0 [16, 24) and sums [24, 32) (regions 0, 1: pixels 2, 3),
// products h=1 [32, 36), sums [36, 40) (region 2: pixel 1), products h=2 [40, 44), root sum 44.
const cc = compileCircuit(buildTreeCircuit(Int32Array.from([-1, 0, 1, 1]), 3, 4, new Rng(1)));

describe('GPU plan (no device)', () => {
  it('the circuit is the one the plans below describe', () => {
    expect([cc.numNodes, cc.numEdges, cc.regions.length]).toEqual([45, 52, 4]);
    expect(cc.regions.map((r) => [r.variable, r.height, r.rows, r.size, r.nnz])).toEqual([
      [2, 0, 4, 4, 16],
      [3, 0, 4, 4, 16],
      [1, 1, 4, 4, 16],
      [0, 2, 1, 4, 4],
    ]);
  });

  it('capacity, sample tiles and GEMM tiles follow the limits', () => {
    expect(planCapacity(cc, LIMITS)).toBe(512);
    expect(planCapacity(cc, LIMITS, 100)).toBe(100);
    // 45 nodes x 4 bytes per sample: a 1 KiB binding holds 5 samples.
    expect(planCapacity(cc, { ...LIMITS, maxStorageBufferBindingSize: 1024 })).toBe(5);
    expect(() => planCapacity(cc, { ...LIMITS, maxStorageBufferBindingSize: 100 })).toThrow(/maxStorageBufferBindingSize/);
    expect([sampleTile(4, 4096), sampleTile(100, 4096), sampleTile(5000, 4096)]).toEqual([64, 32, 0]);
    expect(gemmShape(10, LIMITS)).toEqual({ TM: 16, TN: 256, TK: 8 }); // TK 16 needs 16 x 276 > 4096 floats
    expect(gemmShape(64, LIMITS)).toEqual({ TM: 64, TN: 64, TK: 16 });
    expect(edgeShape(10, LIMITS)).toEqual({ TM: 16, TN: 16, TK: 16 });
    expect(edgeShape(64, { ...LIMITS, maxComputeInvocationsPerWorkgroup: 64 })).toBeNull();
  });

  it('software adapter: no mirror, CSR and barrier-free kernels, nothing to tune', () => {
    const s = settings(true);
    const d = planDense(cc, LIMITS, s);
    expect(d.size).toBe(0);
    expect(d.circuitDensity).toBe(1);
    const choice = ruleChoice(d, s);
    expect(choice).toEqual({ forward: 'csr', backward: 'csr', edges: 'csr', inputs: 'node' });
    expect(tuneCandidates(d, choice, s)).toBeNull();
    const p = planPasses(cc, choice, d, LIMITS, s);
    expect(planSteps(p).map((x) => stepText(x))).toEqual([
      'product h=0',
      'region max serial h=0',
      'sum gather h=0',
      'product h=1',
      'region max serial h=1',
      'sum gather h=1',
      'product h=2',
      'region max serial h=2',
      'sum gather h=2',
      'sum flow h=2',
      'product flow gather h=2',
      'sum flow h=1',
      'product flow gather h=1',
      'sum flow h=0',
      'product flow gather h=0',
      'edge flows per-edge [0, 52)',
      'inputs node',
    ]);
    // Structured entries and named layer words: the gather kernel of height 0.
    expect(planSteps(p)[2]).toEqual({ pass: 'forward', kernel: 'sumGather', heights: [0, 0] });
    expect(Array.from(p.forward[2].layer.slice(0, 5))).toEqual([0, 2, 0, 24, 8]); // firstRegion, regions, -, firstNode, nodes
    expect(p.forward[2].workgroups(100)).toBe(Math.ceil((8 * 100) / 256));
    expect(p.em.map((x) => x.kernel)).toEqual(['emSum', 'emInput']);
  });

  it('real GPU: full blocks are mirrored and run dense; tuning gets every family, the rule first', () => {
    const s = settings(false);
    const d = planDense(cc, LIMITS, s);
    expect(d.layer).toEqual([false, false, true, false, true, false, true]);
    expect(d.size).toBe(52); // 3 x (4 x 4) + 1 x 4, nothing padded
    expect(d.off[3]).toBe(48);
    const choice = ruleChoice(d, s);
    expect(choice).toEqual({ forward: 'dense', backward: 'dense', edges: 'dense', inputs: 'node' });
    expect(tuneCandidates(d, choice, s)).toEqual({
      forward: ['dense', 'csr', 'height'],
      backward: ['dense', 'csr', 'height'],
      edges: ['dense', 'csr'],
      inputs: ['node', 'workgroup'],
    });
    const steps = planSteps(planPasses(cc, choice, d, LIMITS, s));
    expect(steps.filter((x) => x.kernel === 'sumGemm').map((x) => [x.pass, x.heights![0]])).toEqual([
      ['forward', 0],
      ['forward', 1],
      ['forward', 2],
      ['backward', 2],
      ['backward', 1],
      ['backward', 0],
    ]);
    // Consecutive dense layers of one tile shape share one edge-flow GEMM.
    expect(steps.filter((x) => x.pass === 'edges')).toEqual([{ pass: 'edges', kernel: 'edgeFlowGemm', heights: [0, 2], gemm: { TM: 16, TN: 16, TK: 16 } }]);
    // Per height: one forward and one backward kernel per (product, sum) layer pair.
    const h = planSteps(planPasses(cc, { ...choice, forward: 'height', backward: 'height' }, d, LIMITS, s));
    expect(h.filter((x) => x.pass !== 'edges' && x.pass !== 'inputs').map((x) => stepText(x))).toEqual([
      'forward height T=64 h=0',
      'forward height T=64 h=1',
      'forward height T=64 h=2',
      'backward height T=64 h=2',
      'backward height T=64 h=1',
      'backward height T=64 h=0',
    ]);
    // Denser thresholds than the circuit and no tuning: no mirror, the CSR kernels.
    const sparse = settings(false, { tuneKernels: false, denseThresholds: { sum: 2, flow: 2, edge: 2 } });
    const ds = planDense(cc, LIMITS, sparse);
    expect(ds.size).toBe(0);
    expect(ruleChoice(ds, sparse)).toEqual({ forward: 'csr', backward: 'csr', edges: 'csr', inputs: 'node' });
  });

  it('tuning keeps the rule unless another family is faster by more than the margin', () => {
    expect(TUNE_MARGIN).toBe(0.05);
    expect(pickFastest(['csr', 'dense'], { csr: 10, dense: 9.6 })).toBe('csr');
    expect(pickFastest(['csr', 'dense'], { csr: 10, dense: 9.4 })).toBe('dense');
    expect(pickFastest(['dense', 'csr', 'height'], { dense: 10, csr: 9, height: 8.8 })).toBe('csr');
    expect(pickFastest(['dense', 'csr', 'height'], { dense: 10, csr: 9, height: 8.5 })).toBe('height');
    expect(pickFastest(['node', 'workgroup'], { node: 1 })).toBe('node'); // a rejected trial has no time
  });

  it('the region table: records in WGSL struct Region order, then child lists and row pointers', () => {
    const t = packRegions(cc);
    expect(t.length % REGION_WORDS).toBe(0);
    const rec = (k: number) => Array.from(t.subarray(k * REGION_WORDS, (k + 1) * REGION_WORDS));
    // productStart, size, sumStart, rows, inputStart, variable, childStart, childEnd, edgeStart, nnz, rowPtr, parent
    expect(rec(2)).toEqual([32, 4, 36, 4, 8, 1, 48, 50, 32, 16, 61, 3]);
    expect(rec(3)).toEqual([40, 4, 44, 1, 12, 0, 50, 51, 48, 4, 66, NONE]);
    expect(Array.from(t.subarray(48, 51))).toEqual([0, 1, 2]); // region 2's children 0, 1; region 3's child 2
    for (const [k, r] of cc.regions.entries()) {
      const rowPtr = t[k * REGION_WORDS + 10];
      expect(Array.from(t.subarray(rowPtr, rowPtr + r.rows + 1))).toEqual(Array.from(cc.edgePtr.subarray(r.sumStart, r.sumStart + r.rows + 1)));
    }
  });

  it('layer uniforms are packed by field name, and the WGSL structs have the same fields', () => {
    expect(Array.from(layerWords('regionForward', { firstRegion: 3, regions: 2, rowBlocks: 5, numValues: 256 }).slice(0, 4))).toEqual([3, 2, 5, 256]);
    expect(() => layerWords('sumFlow', { rowBlocks: 1 } as never)).toThrow(/no layer field 'rowBlocks'/);
    const shaders = loadNodeShaders();
    checkShaderSources(shaders);
    expect(parseLayerFields(shaders.input_hist)).toEqual([...KERNELS.inputHist.layer]);
    expect(parseLayerFields(shaders.sample)).toBeNull();
    const broken = { ...shaders, edge_flow: shaders.edge_flow.replace('firstEdge: u32', 'first: u32') };
    expect(() => checkShaderSources(broken)).toThrow(/layer struct has fields/);
  });
});

// The playground's queries on the WebGPU engine (interface in src/engines/queries.ts; the CPU
// version in src/engines/cpu/queries.ts is the reference they are tested against):
//   marginal             the engine's forward with the missing-pixel mask (exact marginals);
//   conditionalSurprise  one batch of D + 1 copies of the image, copy i with pixel i missing:
//                        log p(x_i | x_{-i}) = log p(x) - log p(x_{-i});
//   sample               shaders/sample.wgsl (kernel `sample` of kernels.ts), one thread per draw
//                        walking the regions root first.
//                        For inpainting, the row choices follow the posterior theta_e exp(x_c - y_j)
//                        of the evidence image, from one float64 CPU forward pass of that single
//                        image (about a millisecond at K = 32); the draws run on the GPU.

import type { CompiledCircuit } from '../../circuit/compile.ts';
import { CpuEvaluator } from '../cpu/evaluator.ts';
import type { Batch, Evidence, QueryEngine } from '../queries.ts';
import { MAP_READ, NONE as MISSING, READBACK, STORAGE, UNIFORM, packRegions } from './buffers.ts';
import type { GpuEngine } from './engine.ts';
import { KERNELS, moduleSource, parseBindings } from './kernels.ts';

const WG = 64;

export class GpuQueries implements QueryEngine {
  private readonly engine: GpuEngine;
  private readonly cc: CompiledCircuit;
  private readonly sampleSource: string;
  /** Binding number of each of the sample kernel's buffers (parsed from sample.wgsl). */
  private readonly sampleBindings: Map<string, number>;
  private pipeline: GPUComputePipeline | null = null;

  /** `cc` is the circuit `engine` has loaded; `shaders` the WGSL sources (shaders-node / shaders-vite). */
  constructor(engine: GpuEngine, cc: CompiledCircuit, shaders: Record<string, string>) {
    if (!shaders.sample) throw new Error('GPU queries: shaders/sample.wgsl is missing');
    this.engine = engine;
    this.cc = cc;
    this.sampleSource = moduleSource(shaders, KERNELS.sample.shader);
    this.sampleBindings = parseBindings(shaders.sample);
  }

  marginal(batch: Batch): Promise<Float64Array> {
    return this.engine.logLikelihood(batch);
  }

  async conditionalSurprise(image: Uint8Array): Promise<Float64Array> {
    const D = this.cc.numVars;
    if (image.length !== D) throw new Error(`image needs ${D} pixels, got ${image.length}`);
    const pixels = new Uint8Array((D + 1) * D);
    const missing = new Uint8Array((D + 1) * D);
    for (let b = 0; b <= D; b++) {
      pixels.set(image, b * D);
      if (b > 0) missing[b * D + b - 1] = 1;
    }
    const ll = await this.engine.logLikelihood({ pixels, count: D + 1, missing });
    const out = new Float64Array(D);
    for (let i = 0; i < D; i++) {
      // p(x) <= p(x_{-i}): clamp rounding to keep a log probability; impossible images give -Infinity.
      out[i] = ll[0] === -Infinity || ll[i + 1] === -Infinity ? -Infinity : Math.min(0, ll[0] - ll[i + 1]);
    }
    return out;
  }

  async sample(count: number, seed: number, evidence?: Evidence): Promise<Uint8Array> {
    const cc = this.cc;
    const D = cc.numVars;
    const V = cc.numValues;
    if (!(Number.isInteger(count) && count >= 0)) throw new Error(`sample count must be a non-negative integer, got ${count}`);
    if (count === 0) return new Uint8Array(0);
    await this.engine.syncParams();
    const weight = evidence ? this.posteriorWeights(evidence) : Float32Array.from(cc.edgeLogWeights, Math.exp);
    const evidenceWords = new Uint32Array(D).fill(MISSING);
    if (evidence) for (let v = 0; v < D; v++) if (!evidence.missing[v]) evidenceWords[v] = evidence.pixels[v];
    const R = cc.regions.length;
    const device = this.engine.device;
    const made: GPUBuffer[] = [];
    const upload = (label: string, data: ArrayBufferView & { byteLength: number }, usage = STORAGE): GPUBuffer => {
      const buffer = device.createBuffer({ label: `pc/sample ${label}`, size: Math.max(16, Math.ceil(data.byteLength / 4) * 4), usage });
      device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
      made.push(buffer);
      return buffer;
    };
    try {
      // By binding name (kernels.ts KERNELS.sample.uses).
      const bufs: Record<(typeof KERNELS.sample.uses)[number], GPUBuffer> = {
        params: upload('params', new Uint32Array([count, R, V, seed >>> 0, D, 0, 0, 0]), UNIFORM),
        regions: upload('regions', packRegions(cc)),
        edgePtr: upload('edgePtr', Uint32Array.from(cc.edgePtr)),
        edgeChild: upload('edgeChild', Uint32Array.from(cc.edgeChild)),
        weight: upload('weight', weight),
        inputProb: upload('inputProb', Float32Array.from(cc.inputLogProbs, Math.exp)),
        evidence: upload('evidence', evidenceWords),
        choice: upload('choice', new Uint32Array(count * R)),
        pixels: upload('pixels', new Uint32Array(count * D)),
      };
      const readback = device.createBuffer({ label: 'pc/sample readback', size: count * D * 4, usage: READBACK });
      made.push(readback);
      this.pipeline ??= device.createComputePipeline({
        label: 'pc/sample',
        layout: 'auto',
        compute: {
          module: device.createShaderModule({ label: 'pc/sample.wgsl', code: this.sampleSource }),
          entryPoint: KERNELS.sample.entry,
          constants: { WG },
        },
      });
      const bindGroup = device.createBindGroup({
        label: 'pc/sample',
        layout: this.pipeline.getBindGroupLayout(0),
        entries: KERNELS.sample.uses.map((name) => ({ binding: this.sampleBindings.get(name)!, resource: { buffer: bufs[name] } })),
      });
      const enc = device.createCommandEncoder({ label: 'pc/sample' });
      const pass = enc.beginComputePass({ label: 'pc/sample' });
      pass.setPipeline(this.pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(Math.ceil(count / WG));
      pass.end();
      enc.copyBufferToBuffer(bufs.pixels, 0, readback, 0, count * D * 4);
      device.queue.submit([enc.finish()]);
      await readback.mapAsync(MAP_READ);
      const words = new Uint32Array(readback.getMappedRange().slice(0));
      readback.unmap();
      return Uint8Array.from(words);
    } finally {
      for (const b of made) b.destroy();
    }
  }

  /** theta_e exp(x_c - y_j) for the evidence image (float64 CPU forward of one sample). */
  private posteriorWeights(evidence: Evidence): Float32Array {
    const cc = this.cc;
    const D = cc.numVars;
    if (evidence.pixels.length !== D || evidence.missing.length !== D) {
      throw new Error(`evidence needs ${D} pixels and ${D} missing flags, got ${evidence.pixels.length} and ${evidence.missing.length}`);
    }
    const ev = new CpuEvaluator(cc, 'float64', 1);
    const ll = ev.forward({ pixels: evidence.pixels, count: 1, missing: evidence.missing });
    if (ll[0] === -Infinity) throw new Error('the evidence has probability zero under the model: nothing to sample from');
    const w = new Float32Array(cc.numEdges);
    for (let n = 0; n < cc.numNodes; n++) {
      for (let e = cc.edgePtr[n]; e < cc.edgePtr[n + 1]; e++) {
        w[e] = Math.exp(cc.edgeLogWeights[e] + ev.values[cc.edgeChild[e]] - ev.values[n]);
      }
    }
    return w;
  }
}

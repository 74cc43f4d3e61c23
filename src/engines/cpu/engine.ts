// The CPU engine: the reference and the fallback when WebGPU is missing. Splits every batch by sample
// over `threads` shards (shard 0 on the calling thread, the rest in workers that a platform-specific
// `spawnShard` provides). With several shards, the parameters and flow accumulators are moved into
// SharedArrayBuffers on load (the compiled circuit's parameter arrays are replaced by shared copies
// holding the same values), and EM runs split across the shards (see shard.ts). Results do not
// depend on timing: flows are always combined in shard order.

import type { CompiledCircuit } from '../../circuit/compile.ts';
import { splitEmRange, type EmOptions, type EmRange } from '../em.ts';
import type { Batch, Engine } from '../engine.ts';
import type { Precision } from './evaluator.ts';
import { ShardState, type ShardReply, type ShardRequest } from './shard.ts';

/** Something that answers shard requests: in-thread or a worker. */
export interface ShardPort {
  call(req: ShardRequest, transfer?: ArrayBuffer[]): Promise<ShardReply>;
  close(): void;
}

export interface CpuEngineOptions {
  precision?: Precision;
  /** Shards (threads) per batch; > 1 needs `spawnShard`. */
  threads?: number;
  /** Largest number of samples one shard evaluates at once (bigger calls are chunked). */
  shardCapacity?: number;
  spawnShard?: () => ShardPort;
}

class LocalShard implements ShardPort {
  private state = new ShardState();
  call(req: ShardRequest): Promise<ShardReply> {
    return Promise.resolve(this.state.handle(req));
  }
  close(): void {}
}

export class CpuEngine implements Engine {
  readonly kind = 'cpu' as const;
  readonly adapter: string;
  readonly precision: Precision;
  readonly threads: number;
  private readonly shardCapacity: number;
  private readonly shards: ShardPort[];
  private cc: CompiledCircuit | null = null;
  private edgeAcc: Float64Array[] = [];
  private inputAcc: Float64Array[] = [];
  /** EM updates the input parameters in the shards' linear copy only (see emUpdate); the compiled
   *  circuit's logs are refreshed by syncParams when this is set. */
  private inputLogsStale = false;
  /** Each shard's part of the parameters for EM and the log refresh (per loaded circuit). */
  private emRanges: EmRange[] = [];

  constructor(opts: CpuEngineOptions = {}) {
    this.precision = opts.precision ?? 'float32';
    this.threads = Math.max(1, opts.threads ?? 1);
    this.shardCapacity = opts.shardCapacity ?? 256;
    if (this.threads > 1 && !opts.spawnShard) throw new Error('CpuEngine: threads > 1 needs spawnShard');
    if (this.threads > 1 && typeof SharedArrayBuffer === 'undefined')
      throw new Error('CpuEngine: threads > 1 needs SharedArrayBuffer (cross-origin isolation in browsers)');
    this.shards = [new LocalShard()];
    for (let t = 1; t < this.threads; t++) this.shards.push(opts.spawnShard!());
    this.adapter = `CPU ${this.precision}, ${this.threads} thread${this.threads > 1 ? 's' : ''}`;
  }

  private get circuit(): CompiledCircuit {
    if (!this.cc) throw new Error('engine used before load');
    return this.cc;
  }

  private alloc(n: number): Float64Array {
    return this.threads > 1 ? new Float64Array(new SharedArrayBuffer(n * 8)) : new Float64Array(n);
  }

  async load(cc: CompiledCircuit): Promise<void> {
    this.cc = cc;
    this.inputLogsStale = false;
    this.emRanges = splitEmRange(cc, this.shards.length);
    if (this.threads > 1) {
      // Re-home the parameters in shared memory: every shard reads and EM writes the same arrays.
      const w = this.alloc(cc.numEdges);
      w.set(cc.edgeLogWeights);
      cc.edgeLogWeights = w;
      const p = this.alloc(cc.inputLogProbs.length);
      p.set(cc.inputLogProbs);
      cc.inputLogProbs = p;
    }
    const inputProbs = this.alloc(cc.inputLogProbs.length);
    for (let k = 0; k < inputProbs.length; k++) inputProbs[k] = Math.exp(cc.inputLogProbs[k]);
    this.edgeAcc = this.shards.map(() => this.alloc(cc.numEdges));
    this.inputAcc = this.shards.map(() => this.alloc(cc.numInputs * cc.numValues));
    await this.broadcast((index) => ({
      type: 'load',
      cc,
      precision: this.precision,
      capacity: this.shardCapacity,
      index,
      edgeFlows: this.edgeAcc,
      inputFlows: this.inputAcc,
      inputProbs,
    }));
  }

  /** Sends one request to every shard, workers first (shard 0 runs synchronously on this thread). */
  private async broadcast(make: (shard: number) => ShardRequest): Promise<void> {
    const jobs: Array<Promise<ShardReply>> = [];
    for (let t = this.shards.length - 1; t >= 0; t--) jobs.push(this.shards[t].call(make(t)));
    await Promise.all(jobs);
  }

  /** Runs a per-sample request over all shards and chunks; concatenates the per-sample results. */
  private async perSample(batch: Batch, make: (part: Batch) => ShardRequest, pick: (r: ShardReply) => Float64Array): Promise<Float64Array> {
    const D = this.circuit.numVars;
    const out = new Float64Array(batch.count);
    const chunk = this.shardCapacity * this.shards.length;
    for (let start = 0; start < batch.count; start += chunk) {
      const n = Math.min(chunk, batch.count - start);
      const per = Math.ceil(n / this.shards.length);
      const jobs: Array<Promise<ShardReply>> = [];
      const offsets: number[] = [];
      // Workers first, so they run while shard 0 computes on this thread.
      for (let t = this.shards.length - 1; t >= 0; t--) {
        const s0 = start + t * per;
        const cnt = Math.min(per, start + n - s0);
        if (cnt <= 0) continue;
        const part: Batch = {
          pixels: batch.pixels.subarray(s0 * D, (s0 + cnt) * D),
          count: cnt,
          missing: batch.missing?.subarray(s0 * D, (s0 + cnt) * D),
        };
        jobs.push(this.shards[t].call(make(part)));
        offsets.push(s0);
      }
      const replies = await Promise.all(jobs);
      replies.forEach((r, k) => out.set(pick(r), offsets[k]));
    }
    return out;
  }

  logLikelihood(batch: Batch): Promise<Float64Array> {
    return this.perSample(
      batch,
      (p) => ({ type: 'forward', ...p }),
      (r) => r.ll!,
    );
  }

  accumulateFlows(batch: Batch): Promise<Float64Array> {
    return this.perSample(
      batch,
      (p) => ({ type: 'flows', ...p }),
      (r) => r.ll!,
    );
  }

  markedEdgeFlow(batch: Batch, marked: Uint8Array): Promise<Float64Array> {
    return this.perSample(
      batch,
      (p) => ({ type: 'marked', ...p, marked }),
      (r) => r.marked!,
    );
  }

  /** The shards' accumulators summed in shard order. */
  private summed(accs: Float64Array[]): Float64Array {
    const out = accs[0].slice();
    for (let t = 1; t < accs.length; t++) {
      const a = accs[t];
      for (let k = 0; k < a.length; k++) out[k] += a[k];
    }
    return out;
  }

  async edgeFlows(): Promise<Float64Array> {
    return this.summed(this.edgeAcc);
  }

  async inputFlows(): Promise<Float64Array> {
    return this.summed(this.inputAcc);
  }

  resetFlows(): void {
    for (const a of this.edgeAcc) a.fill(0);
    for (const a of this.inputAcc) a.fill(0);
  }

  async emStep(opts: EmOptions): Promise<void> {
    const ranges = this.emRanges;
    // Each shard updates its own range of the shared parameters, then all re-read them.
    await this.broadcast((t) => ({ type: 'em', options: opts, range: ranges[t] }));
    await this.broadcast(() => ({ type: 'refresh' }));
    this.inputLogsStale = true;
  }

  /** Makes cc.inputLogProbs current (EM keeps only the linear input probabilities), split like EM. */
  async syncParams(): Promise<void> {
    if (!this.inputLogsStale) return;
    const ranges = this.emRanges;
    await this.broadcast((t) => ({ type: 'logs', range: ranges[t] }));
    this.inputLogsStale = false;
  }

  dispose(): void {
    for (const s of this.shards) s.close();
  }
}

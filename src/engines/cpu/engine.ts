// The CPU engine: the reference and the fallback when WebGPU is missing. Splits every batch by sample
// over `threads` shards (shard 0 on the calling thread, the rest in workers that a platform-specific
// `spawnShard` provides), sums the shards' flows in shard order (deterministic), and runs EM on the
// compiled parameters in place.

import type { CompiledCircuit } from '../../circuit/compile.ts';
import { emUpdate, type EmOptions } from '../../training/em.ts';
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

  constructor(opts: CpuEngineOptions = {}) {
    this.precision = opts.precision ?? 'float32';
    this.threads = Math.max(1, opts.threads ?? 1);
    this.shardCapacity = opts.shardCapacity ?? 256;
    if (this.threads > 1 && !opts.spawnShard) throw new Error('CpuEngine: threads > 1 needs spawnShard');
    this.shards = [new LocalShard()];
    for (let t = 1; t < this.threads; t++) this.shards.push(opts.spawnShard!());
    this.adapter = `CPU ${this.precision}, ${this.threads} thread${this.threads > 1 ? 's' : ''}`;
  }

  private get circuit(): CompiledCircuit {
    if (!this.cc) throw new Error('engine used before load');
    return this.cc;
  }

  async load(cc: CompiledCircuit): Promise<void> {
    this.cc = cc;
    // Shard 0 shares the compiled circuit (EM writes its parameters in place); workers get copies.
    await Promise.all(this.shards.map((s) => s.call({ type: 'load', cc, precision: this.precision, capacity: this.shardCapacity })));
  }

  private async pushParams(): Promise<void> {
    const cc = this.circuit;
    await Promise.all(this.shards.map((s) => s.call({ type: 'params', edgeLogWeights: cc.edgeLogWeights, inputLogProbs: cc.inputLogProbs })));
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
    return this.perSample(batch, (p) => ({ type: 'forward', ...p }), (r) => r.ll!);
  }

  accumulateFlows(batch: Batch): Promise<Float64Array> {
    return this.perSample(batch, (p) => ({ type: 'flows', ...p }), (r) => r.ll!);
  }

  markedEdgeFlow(batch: Batch, marked: Uint8Array): Promise<Float64Array> {
    return this.perSample(batch, (p) => ({ type: 'marked', ...p, marked }), (r) => r.marked!);
  }

  /** Takes every shard's accumulated flows (resetting them) and sums them in shard order. */
  private async takeFlows(): Promise<{ edge: Float64Array; input: Float64Array }> {
    const replies = await Promise.all(this.shards.map((s) => s.call({ type: 'takeFlows' })));
    const edge = replies[0].edgeFlows!;
    const input = replies[0].inputFlows!;
    for (let t = 1; t < replies.length; t++) {
      const e = replies[t].edgeFlows!;
      const i = replies[t].inputFlows!;
      for (let k = 0; k < e.length; k++) edge[k] += e[k];
      for (let k = 0; k < i.length; k++) input[k] += i[k];
    }
    return { edge, input };
  }

  private pending: { edge: Float64Array; input: Float64Array } | null = null;

  private async collected(): Promise<{ edge: Float64Array; input: Float64Array }> {
    const fresh = await this.takeFlows();
    if (this.pending) {
      for (let k = 0; k < fresh.edge.length; k++) this.pending.edge[k] += fresh.edge[k];
      for (let k = 0; k < fresh.input.length; k++) this.pending.input[k] += fresh.input[k];
    } else this.pending = fresh;
    return this.pending;
  }

  async edgeFlows(): Promise<Float64Array> {
    return (await this.collected()).edge.slice();
  }

  async inputFlows(): Promise<Float64Array> {
    return (await this.collected()).input.slice();
  }

  resetFlows(): void {
    this.pending = null;
    for (const s of this.shards) void s.call({ type: 'resetFlows' });
  }

  async emStep(opts: EmOptions): Promise<void> {
    const flows = await this.collected();
    this.pending = null;
    emUpdate(this.circuit, flows.edge, flows.input, opts);
    await this.pushParams();
  }

  async syncParams(): Promise<void> {}

  dispose(): void {
    for (const s of this.shards) s.close();
  }
}

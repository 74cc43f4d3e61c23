// One shard of the CPU engine: an evaluator plus its own flow accumulators, driven by plain messages
// so the same code runs in-thread (shard 0) and in a worker (worker_threads in Node, a Web Worker in
// the browser). Batches are split by sample between shards; accumulated flows are summed by the
// engine in shard order, so results are the same on every run.

import type { CompiledCircuit } from '../../circuit/compile.ts';
import { CpuEvaluator, type Precision } from './evaluator.ts';

export type ShardRequest =
  | { type: 'load'; cc: CompiledCircuit; precision: Precision; capacity: number }
  | { type: 'params'; edgeLogWeights: Float64Array; inputLogProbs: Float64Array }
  | { type: 'forward'; pixels: Uint8Array; count: number; missing?: Uint8Array }
  | { type: 'flows'; pixels: Uint8Array; count: number; missing?: Uint8Array }
  | { type: 'marked'; pixels: Uint8Array; count: number; missing?: Uint8Array; marked: Uint8Array }
  | { type: 'takeFlows' }
  | { type: 'resetFlows' };

export interface ShardReply {
  ll?: Float64Array;
  edgeFlows?: Float64Array;
  inputFlows?: Float64Array;
  marked?: Float64Array;
}

export class ShardState {
  private ev: CpuEvaluator | null = null;
  private edgeFlows = new Float64Array(0);
  private inputFlows = new Float64Array(0);

  handle(req: ShardRequest): ShardReply {
    if (req.type === 'load') {
      this.ev = new CpuEvaluator(req.cc, req.precision, req.capacity);
      this.edgeFlows = new Float64Array(req.cc.numEdges);
      this.inputFlows = new Float64Array(req.cc.numInputs * req.cc.numValues);
      return {};
    }
    const ev = this.ev;
    if (!ev) throw new Error('shard used before load');
    switch (req.type) {
      case 'params':
        // The engine may pass the very arrays this shard reads (in-thread shard): copy only if not.
        if (req.edgeLogWeights !== ev.cc.edgeLogWeights) ev.cc.edgeLogWeights.set(req.edgeLogWeights);
        if (req.inputLogProbs !== ev.cc.inputLogProbs) ev.cc.inputLogProbs.set(req.inputLogProbs);
        ev.refreshWeights();
        return {};
      case 'forward':
        return { ll: ev.forward(req) };
      case 'flows': {
        const ll = ev.forward(req);
        ev.backward(this.edgeFlows, this.inputFlows);
        return { ll };
      }
      case 'marked': {
        ev.forward(req);
        ev.backward(new Float64Array(ev.cc.numEdges), new Float64Array(ev.cc.numInputs * ev.cc.numValues));
        const out = new Float64Array(req.count);
        ev.markedEdgeFlowPerSample(req.marked, out);
        return { marked: out };
      }
      case 'takeFlows': {
        const reply = { edgeFlows: this.edgeFlows, inputFlows: this.inputFlows };
        this.edgeFlows = new Float64Array(this.edgeFlows.length);
        this.inputFlows = new Float64Array(this.inputFlows.length);
        return reply;
      }
      case 'resetFlows':
        this.edgeFlows.fill(0);
        this.inputFlows.fill(0);
        return {};
    }
  }
}

/** Buffers a reply can hand over without copying. */
export function transferablesOf(reply: ShardReply): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const a of [reply.ll, reply.edgeFlows, reply.inputFlows, reply.marked]) if (a) out.push(a.buffer as ArrayBuffer);
  return out;
}

// One shard of the CPU engine: an evaluator plus its own flow accumulators, driven by plain messages
// so the same code runs in-thread (shard 0) and in a worker (worker_threads in Node, a Web Worker in
// the browser). Batches are split by sample between shards.
//
// With more than one shard, parameters and flow accumulators live in SharedArrayBuffers: nothing
// is copied per batch. EM is split too: shard t owns a range of sum nodes and input nodes, adds the
// other shards' flows for that range into its own accumulator in shard order (so the result does
// not depend on timing), updates the shared parameters there and zeroes the range everywhere.

import type { CompiledCircuit } from '../../circuit/compile.ts';
import { emUpdate, inputLogsFrom, type EmOptions, type EmRange } from '../em.ts';
import { CpuEvaluator, type Precision } from './evaluator.ts';

export interface ShardLoad {
  type: 'load';
  cc: CompiledCircuit;
  precision: Precision;
  capacity: number;
  /** This shard's index and every shard's accumulators (shared memory when there are several). */
  index: number;
  edgeFlows: Float64Array[];
  inputFlows: Float64Array[];
  /** Linear-domain copy of the input parameters, kept in step by EM (shared like the parameters). */
  inputProbs: Float64Array;
}

export type ShardRequest =
  | ShardLoad
  | { type: 'refresh' }
  | { type: 'forward'; pixels: Uint8Array; count: number; missing?: Uint8Array }
  | { type: 'flows'; pixels: Uint8Array; count: number; missing?: Uint8Array }
  | { type: 'marked'; pixels: Uint8Array; count: number; missing?: Uint8Array; marked: Uint8Array }
  | { type: 'em'; options: EmOptions; range: EmRange }
  /** Refreshes cc.inputLogProbs from the linear copy for the input nodes of `range` (after EM). */
  | { type: 'logs'; range: EmRange };

export interface ShardReply {
  ll?: Float64Array;
  marked?: Float64Array;
}

export class ShardState {
  private ev: CpuEvaluator | null = null;
  private load: ShardLoad | null = null;

  handle(req: ShardRequest): ShardReply {
    if (req.type === 'load') {
      // The evaluator reads the input probabilities from the linear copy that EM keeps in step.
      this.ev = new CpuEvaluator(req.cc, req.precision, req.capacity, req.inputProbs);
      this.load = req;
      return {};
    }
    const ev = this.ev;
    const load = this.load;
    if (!ev || !load) throw new Error('shard used before load');
    switch (req.type) {
      case 'refresh':
        ev.refreshWeights();
        return {};
      case 'forward':
        return { ll: ev.forward(req) };
      case 'flows': {
        const ll = ev.forward(req);
        ev.backward(load.edgeFlows[load.index], load.inputFlows[load.index]);
        return { ll };
      }
      case 'marked': {
        ev.forward(req);
        ev.backward(null, null); // node flows only: the removed-edge sums need no accumulators
        const out = new Float64Array(req.count);
        ev.markedEdgeFlowPerSample(req.marked, out);
        return { marked: out };
      }
      case 'em': {
        const { edgeFlows, inputFlows, index } = load;
        const { edgeStart, edgeEnd, inputStart, inputEnd } = req.range;
        const V = ev.cc.numValues;
        sumInto(edgeFlows, index, edgeStart, edgeEnd);
        sumInto(inputFlows, index, inputStart * V, inputEnd * V);
        emUpdate(ev.cc, edgeFlows[index], inputFlows[index], req.options, req.range, load.inputProbs);
        edgeFlows[index].fill(0, edgeStart, edgeEnd);
        inputFlows[index].fill(0, inputStart * V, inputEnd * V);
        return {};
      }
      case 'logs':
        inputLogsFrom(ev.cc, load.inputProbs, req.range.inputStart, req.range.inputEnd);
        return {};
    }
  }
}

/**
 * accs[own][start..end) = sum over shards t (in order) of accs[t][start..end); others zeroed there.
 * In place, element by element (s = a_0 + a_1 + ... in shard order, the same bits as summing into a
 * zeroed buffer): no temporary, which for the input flows would be numInputs x 256 float64 per batch.
 * One shard: the sum is its own accumulator already.
 */
function sumInto(accs: Float64Array[], own: number, start: number, end: number): void {
  if (accs.length === 1) return;
  const target = accs[own];
  const first = accs[0];
  for (let k = start; k < end; k++) {
    let s = first[k];
    for (let t = 1; t < accs.length; t++) s += accs[t][k];
    target[k] = s;
  }
  for (let t = 0; t < accs.length; t++) if (t !== own) accs[t].fill(0, start, end);
}

/** Buffers a reply can hand over without copying. */
export function transferablesOf(reply: ShardReply): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const a of [reply.ll, reply.marked]) if (a) out.push(a.buffer as ArrayBuffer);
  return out;
}

// worker_threads entry for a CPU engine shard (Node). Requests arrive as {id, req}; replies hand
// their result buffers over without copying.
import { parentPort } from 'node:worker_threads';
import { ShardState, transferablesOf, type ShardRequest } from './shard.ts';

const state = new ShardState();
parentPort!.on('message', (msg: { id: number; req: ShardRequest }) => {
  try {
    const reply = state.handle(msg.req);
    parentPort!.postMessage({ id: msg.id, reply }, transferablesOf(reply));
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: e instanceof Error ? e.message : String(e) });
  }
});

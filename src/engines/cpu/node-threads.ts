// Node: CPU engine shards in worker_threads. From TypeScript sources the worker starts through a bootstrap
// that registers tsx; a bundled build (scripts/build-node.mjs) starts the shard-worker.node.mjs emitted next to it.
import { Worker } from 'node:worker_threads';
import type { ShardPort } from './engine.ts';
import type { ShardReply, ShardRequest } from './shard.ts';

export function spawnNodeShard(): ShardPort {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './shard-worker.tsx-bootstrap.mjs' : './shard-worker.node.mjs', import.meta.url);
  const worker = new Worker(url);
  worker.unref();
  let nextId = 0;
  const waiting = new Map<number, { resolve: (r: ShardReply) => void; reject: (e: Error) => void }>();
  worker.on('message', (msg: { id: number; reply?: ShardReply; error?: string }) => {
    const w = waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    if (msg.error !== undefined) w.reject(new Error(msg.error));
    else w.resolve(msg.reply!);
  });
  worker.on('error', (e) => {
    for (const w of waiting.values()) w.reject(e);
    waiting.clear();
  });
  return {
    call(req: ShardRequest, transfer?: ArrayBuffer[]): Promise<ShardReply> {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        worker.ref();
        worker.postMessage({ id, req }, transfer ?? []);
      }).finally(() => {
        if (waiting.size === 0) worker.unref();
      }) as Promise<ShardReply>;
    },
    close(): void {
      void worker.terminate();
    },
  };
}

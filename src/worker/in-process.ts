// The playground's training session behind the page's worker interface (postMessage / onmessage /
// terminate), but in the same thread: Node scripts and tests drive the real store
// (src/ui/store.ts) with real sessions and engines this way, exactly as a tab drives its Web Workers
// (src/worker/training-worker.ts), minus the thread. Messages are delivered asynchronously, as a
// worker's are, so the store's state settles between them.

import type { FromWorker, ToWorker } from './protocol.ts';
import { PlaygroundSession, type SessionDeps } from './session.ts';

export class InProcessWorker {
  onmessage: ((e: MessageEvent<FromWorker>) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  terminated = false;
  /** Every message the page sent, in order (tests read it). */
  readonly sent: ToWorker[] = [];
  readonly session: PlaygroundSession;

  constructor(deps: Omit<SessionDeps, 'post' | 'sleep'>) {
    this.session = new PlaygroundSession({
      ...deps,
      post: (msg) => void Promise.resolve().then(() => !this.terminated && this.onmessage?.({ data: msg } as MessageEvent<FromWorker>)),
      // One macrotask, like the worker's yield: queued messages (pause, queries) are read there.
      sleep: () => new Promise((resolve) => setImmediate(resolve)),
    });
  }

  postMessage(msg: ToWorker): void {
    this.sent.push(msg);
    if (!this.terminated) this.session.handle(msg);
  }

  terminate(): void {
    this.terminated = true;
  }
}

// The playground's training thread: every bit of learning runs here so the page never freezes. A thin
// adapter: the work is PlaygroundSession (src/worker/session.ts, the same class the Node tests drive);
// this file gives it the browser's ways to post messages, fetch or decode datasets, make an engine
// (WebGPU with a CPU fallback, src/engines/create-browser.ts) and wait. The messages are
// src/worker/protocol.ts; reset is the page terminating this worker.

import { fetchEmbeddedDataset } from '../data/fetch.ts';
import { decodeIdxImages } from '../data/idx.ts';
import { createBrowserEngine } from '../engines/create-browser.ts';
import { loadViteShaders } from '../engines/gpu/shaders-vite.ts';
import type { DatasetSource, FromWorker, ToWorker } from './protocol.ts';
import { PlaygroundSession } from './session.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;

/**
 * Waits `ms`; 0 yields one macrotask through a MessageChannel rather than setTimeout, whose nested
 * calls are clamped to 4 ms (a yield per mini-batch would otherwise cost 4 ms on a fast GPU).
 */
function sleep(ms: number): Promise<void> {
  if (ms > 0) return new Promise((resolve) => setTimeout(resolve, ms));
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(null);
  });
}

function loadDataset(src: DatasetSource) {
  if (src.kind === 'embedded') return fetchEmbeddedDataset(src.url);
  return decodeIdxImages(new Uint8Array(src.images.bytes), src.images.name);
}

const session = new PlaygroundSession({
  post: (msg: FromWorker) => scope.postMessage(msg),
  createEngine: (pref, onNotice) => createBrowserEngine(pref, onNotice, { gpu: scope.navigator.gpu, shaders: loadViteShaders }),
  loadDataset,
  sleep,
});

scope.onmessage = (e: MessageEvent<ToWorker>) => session.handle(e.data);

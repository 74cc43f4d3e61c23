// The playground's training thread: every bit of learning runs here so the page never freezes. A thin
// adapter: the work is PlaygroundSession (src/worker/session.ts, the same class the Node tests drive);
// this file gives it the browser's ways to post messages, fetch or decode datasets, make an engine
// (WebGPU with a CPU fallback, src/engines/create-browser.ts) and wait. The messages are
// src/worker/protocol.ts; reset is the page terminating this worker.

import { fetchEmbeddedDataset } from '../data/fetch.ts';
import { MAX_BROWSER_IMAGE_BYTES, readIdxImages } from '../data/idx.ts';
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

/** The embedded digits, or the visitor's file read here in slices with progress (never on the page). */
function loadDataset(src: DatasetSource, onProgress?: (done: number, total: number) => void) {
  if (src.kind === 'embedded') return fetchEmbeddedDataset(src.url);
  return readIdxImages(src.images, src.images.name, { onProgress, maxBytes: MAX_BROWSER_IMAGE_BYTES });
}

const session = new PlaygroundSession({
  post: (msg: FromWorker) => scope.postMessage(msg),
  createEngine: (pref, onNotice) => createBrowserEngine(pref, onNotice, { gpu: scope.navigator.gpu, shaders: loadViteShaders }),
  loadDataset,
  sleep,
});

scope.onmessage = (e: MessageEvent<ToWorker>) => session.handle(e.data);

// The Experiments view's worker: runs the live prune-curve (src/experiments/live.ts) off the page's
// thread, on the CPU engine with one thread, and posts progress and the result. One run per worker:
// the page terminates it to cancel, and spawns a fresh one for the next run.

import { fetchEmbeddedDataset } from '../data/fetch.ts';
import { runLive, type FromExperimentWorker, type ToExperimentWorker } from '../experiments/live.ts';
import { isUserError } from '../util/errors.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (m: FromExperimentWorker): void => scope.postMessage(m);

scope.onmessage = async (e: MessageEvent<ToExperimentWorker>) => {
  const msg = e.data;
  if (msg.type !== 'run') return;
  try {
    const pool = await fetchEmbeddedDataset(msg.dataUrl);
    const result = await runLive(pool, msg.size, msg.seed, (progress) => post({ type: 'progress', progress }));
    post({ type: 'result', result });
  } catch (err) {
    // A user-facing sentence when there is one (e.g. the data could not be downloaded); otherwise the bug's message.
    const message = isUserError(err) ? err.message : `The experiment failed: ${err instanceof Error ? err.message : String(err)}.`;
    post({ type: 'error', message });
  }
};

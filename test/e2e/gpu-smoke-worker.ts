// Worker side of gpu-smoke.html: the same checks on the worker's own navigator.gpu.
import { runSmokeChecks } from './gpu-smoke-checks.ts';

runSmokeChecks(navigator.gpu).then(
  (r) => postMessage(JSON.stringify(r)),
  (e) => postMessage(`error: ${e instanceof Error ? e.message : String(e)}`),
);

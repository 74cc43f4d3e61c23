// gpu-smoke.html: runs the smoke checks on the page's WebGPU (default kernels, then one forward and
// one backward kernel per height) and in a module Web Worker, and writes each outcome as JSON (or
// "error: ...") into #page, #height and #worker for the Node test to read.
import { runSmokeChecks } from './gpu-smoke-checks.ts';

const show = (id: string, text: string) => {
  document.getElementById(id)!.textContent = text;
};

const report = (id: string, run: Promise<unknown>) =>
  run.then(
    (r) => show(id, JSON.stringify(r)),
    (e) => show(id, `error: ${e instanceof Error ? e.message : String(e)}`),
  );
void report('page', runSmokeChecks(navigator.gpu)).then(() =>
  report('height', runSmokeChecks(navigator.gpu, { forwardKernel: 'height', backwardKernel: 'height' })),
);

const worker = new Worker(new URL('./gpu-smoke-worker.ts', import.meta.url), { type: 'module' });
worker.onmessage = (e: MessageEvent<string>) => show('worker', e.data);
worker.onerror = (e) => show('worker', `error: ${e.message}`);

// gpu-smoke.html: runs the smoke checks on the page's WebGPU and in a module Web Worker, and writes
// each outcome as JSON (or "error: ...") into #page and #worker for the Node test to read.
import { runSmokeChecks } from './gpu-smoke-checks.ts';

const show = (id: string, text: string) => {
  document.getElementById(id)!.textContent = text;
};

runSmokeChecks(navigator.gpu).then(
  (r) => show('page', JSON.stringify(r)),
  (e) => show('page', `error: ${e instanceof Error ? e.message : String(e)}`),
);

const worker = new Worker(new URL('./gpu-smoke-worker.ts', import.meta.url), { type: 'module' });
worker.onmessage = (e: MessageEvent<string>) => show('worker', e.data);
worker.onerror = (e) => show('worker', `error: ${e.message}`);

// Entry point: reads the link (or the remembered configuration), creates the playground store with
// its training-worker factory, checks for WebGPU (for the banner, the default K and Compare with dense) and renders.

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { embeddedDataUrl } from '../data/fetch.ts';
import { App } from './App.tsx';
import { detectGpu, initialSettings, openDemo, wantsDemo } from './page.ts';
import { createPlaygroundStore, modelLocked, PlaygroundContext } from './store.ts';
import './styles.css';

/** Default K when nothing chose one: a GPU trains K = 16 in seconds per epoch; one CPU thread needs K = 8. */
const GPU_DEFAULT_K = 16;

const start = initialSettings(location.hash);
const store = createPlaygroundStore({
  // Vite bundles the worker from this exact `new Worker(new URL(...), { type: 'module' })` form.
  spawnWorker: () => new Worker(new URL('../worker/training-worker.ts', import.meta.url), { type: 'module' }),
  // Resolved against the page (public/data/ is copied next to index.html), not against the worker's URL.
  dataUrl: embeddedDataUrl(document.baseURI),
  settings: start.settings,
});
for (const n of start.notices) store.getState().notify(n);
// A first visit (or a link with model=demo) opens on the demo model, without waiting for WebGPU: it
// runs on the CPU engine whatever the browser has.
if (wantsDemo(start)) void openDemo(store);

void detectGpu().then((gpu) => {
  store.getState().setGpuSupport(gpu);
  if (gpu.kind === 'available' && start.source === 'default' && !modelLocked(store.getState())) {
    store.getState().setSetting('K', GPU_DEFAULT_K);
    // The second worker of Compare with dense doubles the work: on by default only with WebGPU.
    store.getState().setSetting('compare', true);
  }
  // A shared link with replay=1 reruns its configuration once the engine choice is known.
  if (start.source === 'link' && start.settings.replay) store.getState().play();
});

const container = document.getElementById('root');
if (!container) throw new Error('index.html has no #root element');
createRoot(container).render(
  <StrictMode>
    <PlaygroundContext.Provider value={store}>
      <App />
    </PlaygroundContext.Provider>
  </StrictMode>,
);

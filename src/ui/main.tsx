// Entry point: creates the playground store (with its training worker factory) and renders the page.

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { embeddedDataUrl } from '../data/fetch.ts';
import { App } from './App.tsx';
import { createPlaygroundStore, PlaygroundContext } from './store.ts';
import './styles.css';

const store = createPlaygroundStore({
  // Vite bundles the worker from this exact `new Worker(new URL(...), { type: 'module' })` form.
  spawnWorker: () => new Worker(new URL('./training-worker.ts', import.meta.url), { type: 'module' }),
  // Resolved against the page (public/data/ is copied next to index.html), not against the worker's URL.
  dataUrl: embeddedDataUrl(document.baseURI),
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

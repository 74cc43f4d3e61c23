// Test page for the Experiments view (test/e2e/experiments.test.ts): the view alone, mounted the way
// the playground mounts it, with the embedded digits at the site root and its default worker (the
// module worker Vite bundles from ExperimentsView.tsx).

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { embeddedDataUrl } from '../../src/data/fetch.ts';
import { ExperimentsView } from '../../src/ui/views/ExperimentsView.tsx';
import '../../src/ui/styles.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <main style={{ padding: '1rem', maxWidth: 1100 }}>
      <ExperimentsView dataUrl={embeddedDataUrl(`${location.origin}/`)} />
    </main>
  </StrictMode>,
);

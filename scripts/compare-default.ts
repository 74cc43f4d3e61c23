// What a default Play with "Compare with dense" shows, measured outside the browser with the page's
// own code: the playground store (src/ui/store.ts) drives two real training sessions
// (src/worker/in-process.ts) with the tab's CPU engine (float32, one thread), so the numbers are those
// a tab on the CPU path shows, bit for bit (deterministic by seed), and the time is that path's.
//
//   npx tsx scripts/compare-default.ts                         # the embedded digits, default settings
//   npx tsx scripts/compare-default.ts --train <idx images>    # a file as dropped on the page
//   npx tsx scripts/compare-default.ts --k 16 --json out.json  # the GPU's default K; the table as JSON
//   npx tsx scripts/compare-default.ts --train <idx> --images 20000  # the page's "Images used"
//
// Prints one line per ended round (sparse against dense validation bpd) and the wall time until both
// runs are done.

import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { loadEmbeddedDataset } from '../src/data/load.ts';
import { readIdxImages } from '../src/data/idx.ts';
import { browserCpuEngine } from '../src/engines/create-browser.ts';
import { comparisonRows } from '../src/ui/compare.ts';
import { createPlaygroundStore, type PlaygroundState } from '../src/ui/store.ts';
import { defaultUrlState } from '../src/ui/url-state.ts';
import { InProcessWorker } from '../src/worker/in-process.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const trainPath = arg('train');
const K = Number(arg('k') ?? defaultUrlState().K);
const images = Number(arg('images') ?? defaultUrlState().images);
const jsonPath = arg('json');
const file = trainPath ? new File([await readFile(trainPath)], basename(trainPath)) : null;

const t0 = performance.now();
const store = createPlaygroundStore({
  spawnWorker: () =>
    new InProcessWorker({
      createEngine: async () => ({ engine: browserCpuEngine() }),
      loadDataset: async (src, onProgress) => (src.kind === 'embedded' ? loadEmbeddedDataset() : readIdxImages(src.images, src.images.name, { onProgress })),
    }),
  dataUrl: 'embedded',
  settings: { K, images, compare: true },
});
store.getState().setEngine('cpu');
if (file) store.getState().setUserData(file);
const s0 = store.getState().settings;
console.log(
  `default Play with Compare with dense on ${file ? file.name : 'the embedded digits'}${s0.images ? ` (first ${s0.images} images)` : ''}: K=${s0.K}, ${s0.epochs} epochs, ${s0.rounds} rounds of prune ${s0.prune} -> grow -> ${s0.roundEpochs} epochs, seed ${s0.seed}`,
);

let printed = 0;
const done = new Promise<PlaygroundState>((resolve, reject) => {
  store.subscribe((s) => {
    if (s.status === 'error') reject(new Error(s.error ?? 'the run failed'));
    const rows = comparisonRows(s.events, s.settings.roundEpochs, s.snapshot?.numVars ?? 784, s.dense.runs);
    while (printed < rows.length && rows[printed].denseValidBpd !== null) {
      const r = rows[printed++];
      const secs = ((performance.now() - t0) / 1000).toFixed(0);
      console.log(
        `round ${r.round}: sparse K=${r.k}, ${r.edges} sum edges, ${r.params} parameters, validation ${r.validBpd?.toFixed(4)} bpd; dense K=${r.denseK} (${r.denseEdges} edges, ${r.denseParams} parameters) after ${r.epochs} epochs: ${r.denseValidBpd?.toFixed(4)}; sparse - dense ${r.delta?.toFixed(4)} (${secs} s)`,
      );
    }
    if (s.status === 'finished' && s.dense.status === 'done' && printed === rows.length && rows.length === s.settings.rounds) resolve(s);
  });
});
// Should the work stop short (a worker error), say where it stood instead of leaving silently.
process.on('exit', (code) => {
  const s = store.getState();
  if (!(s.status === 'finished' && s.dense.status === 'done'))
    console.error(
      `stopped early (exit ${code}): sparse ${s.status}, dense ${s.dense.status}, ${s.dense.runs.map((r) => `K=${r.K}: ${r.events.length} epochs`).join('; ')}; ${s.notices.join(' ')}`,
    );
});
store.getState().play();
const s = await done;
const seconds = (performance.now() - t0) / 1000;
console.log(`both runs done in ${seconds.toFixed(0)} s (CPU engine, float32, one thread per run)`);
if (jsonPath) {
  const rows = comparisonRows(s.events, s.settings.roundEpochs, s.snapshot?.numVars ?? 784, s.dense.runs);
  await writeFile(jsonPath, JSON.stringify({ data: file ? file.name : 'embedded', settings: s.settings, seconds, rows }, null, 1) + '\n');
}

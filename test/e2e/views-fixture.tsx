// views-fixture.html: the training and circuit views (Curves, CircuitView, RegionView, PrunePanel) on
// synthetic but realistic data, to look at and for test/e2e/views.test.ts: a random spanning tree over
// the 28x28 pixels rooted at pixel 406 (the centre), K = 16 blocks pruned unevenly (more near the
// border, as flow pruning does on MNIST), random log-normal flows, a prune preview and a last prune.
// Buttons switch to a 256 x 256 block, grow K, and make the bound vacuous. Seeded: every load is equal.

import { StrictMode, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import type { EpochEvent, GrowEvent, PruneEvent, TrainEvent } from '../../src/training/trainer.ts';
import type { CircuitSnapshot, PrunePreview, RegionDetail } from '../../src/worker/protocol.ts';
import '../../src/ui/styles.css';
import { CircuitView } from '../../src/ui/views/CircuitView.tsx';
import { Curves } from '../../src/ui/views/Curves.tsx';
import { historyFromEvents } from '../../src/ui/views/history.ts';
import { PrunePanel } from '../../src/ui/views/PrunePanel.tsx';
import { RegionView, type RegionMode } from '../../src/ui/views/RegionView.tsx';
import { Rng } from '../../src/util/rng.ts';

const SIDE = 28;
const D = SIDE * SIDE;
export const ROOT = 406;

/** Randomised Prim over the pixel grid (4-neighbours, sometimes a diagonal): a tree like Chow-Liu's. */
function randomTree(rng: Rng): Int32Array {
  const parent = new Int32Array(D).fill(-2);
  parent[ROOT] = -1;
  const frontier: [number, number][] = [];
  const push = (v: number) => {
    const c = v % SIDE;
    const r = Math.floor(v / SIDE);
    for (const [dc, dr] of [
      [1, 0],
      [-1, 0],
      [0, 1],
      [0, -1],
      [1, 1],
      [-1, -1],
      [1, -1],
      [-1, 1],
    ]) {
      if (dc !== 0 && dr !== 0 && rng.uniform() > 0.15) continue;
      const cc = c + dc;
      const rr = r + dr;
      if (cc >= 0 && cc < SIDE && rr >= 0 && rr < SIDE) frontier.push([rr * SIDE + cc, v]);
    }
  };
  push(ROOT);
  while (frontier.length) {
    const i = rng.int(frontier.length);
    const [v, p] = frontier[i];
    frontier[i] = frontier[frontier.length - 1];
    frontier.pop();
    if (parent[v] !== -2) continue;
    parent[v] = p;
    push(v);
  }
  return parent;
}

function centrality(v: number): number {
  const dx = (v % SIDE) - 13.5;
  const dy = Math.floor(v / SIDE) - 13.5;
  return Math.exp(-(dx * dx + dy * dy) / 80);
}

interface Model {
  snapshot: CircuitSnapshot;
  preview: PrunePreview;
}

function makeModel(K: number, seed: number): Model {
  const rng = new Rng(seed);
  const parent = randomTree(new Rng(7));
  const regionSize = new Int32Array(D).fill(K);
  const regionEdges = new Int32Array(D);
  const edgeInformation = new Float32Array(D);
  const pixelInformation = new Float32Array(D);
  const removedPerRegion = new Int32Array(D);
  const scores: number[] = [];
  for (let v = 0; v < D; v++) {
    const rows = parent[v] >= 0 ? K : 1;
    const keep = 0.08 + 0.92 * Math.min(1, centrality(v) * 1.2 + 0.15 * rng.uniform());
    regionEdges[v] = Math.max(rows, Math.round(keep * rows * K));
    edgeInformation[v] = parent[v] >= 0 ? centrality(v) * (0.2 + 1.3 * rng.uniform()) : 0;
    pixelInformation[v] = parent[v] >= 0 ? centrality(v) ** 2 * (0.3 + 0.9 * rng.uniform()) : 0;
    removedPerRegion[v] = rng.uniform() < 0.45 ? Math.round(regionEdges[v] * (0.2 + 0.7 * rng.uniform()) * (1 - centrality(v))) : 0;
    for (let e = 0; e < regionEdges[v]; e += 4) scores.push(-5 + 1.3 * rng.normal() + 1.5 * centrality(v));
  }
  const edges = regionEdges.reduce((a, b) => a + b, 0);
  const removed = removedPerRegion.reduce((a, b) => a + b, 0);
  // 80 bins: the panel must merge them down to at most 60 bars.
  const min = Math.floor(Math.min(...scores));
  const max = Math.ceil(Math.max(...scores));
  const counts = new Int32Array(80);
  for (const s of scores) counts[Math.min(79, Math.floor(((s - min) / (max - min)) * 80))]++;
  const sorted = [...scores].sort((a, b) => a - b);
  const threshold = sorted[Math.floor((removed / edges) * sorted.length)];
  // Removed edges per bin: the bins below the cut, as when no sum node's best edge is among them.
  const removedCounts = counts.map((c, i) => (min + ((i + 1) * (max - min)) / 80 <= threshold ? c : 0));
  const snapshot: CircuitSnapshot = {
    version: K,
    side: SIDE,
    numVars: D,
    K,
    parent,
    regionSize,
    regionEdges,
    edgeInformation,
    pixelInformation,
    layers: 2 * 24 + 1,
    nodes: { inputs: D * K, products: D * K, sums: (D - 1) * K + 1 },
    edges,
    params: edges + D * K * 255,
  };
  const preview: PrunePreview = {
    fraction: removed / edges,
    criterion: 'flow',
    histogram: { min, max, counts, total: scores.length },
    removedCounts,
    threshold,
    removedPerRegion,
    removed,
    holdMs: 3000,
  };
  return { snapshot, preview };
}

/** A region's block: `edges` random entries of the rows x cols block, log-normal flows summing to 1. */
export function makeDetail(variable: number, parentVariable: number, rows: number, cols: number, edges: number, removed: number, seed: number): RegionDetail {
  const rng = new Rng(seed);
  const present: number[][] = Array.from({ length: rows }, () => []);
  // Every row keeps at least one edge (a sum node with none would be removed by the pruner).
  for (let r = 0; r < rows; r++) present[r].push(rng.int(cols));
  const want = Math.min(edges, rows * cols);
  const taken = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) taken[r * cols + present[r][0]] = 1;
  let have = rows;
  if (want > rows) {
    // Dense blocks: walk all cells and keep each with the needed probability (fast for 65k).
    const p = (want - have) / (rows * cols - have);
    for (let i = 0; i < rows * cols && have < want; i++) {
      if (!taken[i] && rng.uniform() < p) {
        taken[i] = 1;
        present[Math.floor(i / cols)].push(i % cols);
        have++;
      }
    }
  }
  const rowPtr = new Int32Array(rows + 1);
  for (let r = 0; r < rows; r++) {
    present[r].sort((a, b) => a - b);
    rowPtr[r + 1] = rowPtr[r] + present[r].length;
  }
  const nnz = rowPtr[rows];
  const colIdx = new Int32Array(nnz);
  const flows = new Float32Array(nnz);
  const weights = new Float32Array(nnz);
  let k = 0;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let rowSum = 0;
    const start = k;
    for (const c of present[r]) {
      colIdx[k] = c;
      flows[k] = Math.exp(2.2 * rng.normal() - 0.02 * Math.abs(r - c));
      weights[k] = flows[k] * (0.5 + rng.uniform());
      total += flows[k];
      rowSum += weights[k];
      k++;
    }
    for (let q = start; q < k; q++) weights[q] /= rowSum;
  }
  for (let q = 0; q < nnz; q++) flows[q] /= total;
  // The preview marks the smallest flows, as flow pruning does.
  const marked = new Uint8Array(nnz);
  const order = Array.from({ length: nnz }, (_, i) => i).sort((a, b) => flows[a] - flows[b]);
  for (let q = 0; q < Math.min(removed, nnz); q++) marked[order[q]] = 1;
  const inputMeans = new Float32Array(cols);
  for (let c = 0; c < cols; c++) inputMeans[c] = 255 * rng.uniform() ** 2;
  return { variable, parentVariable, rows, cols, rowPtr, colIdx, weights, flows, marked, inputMeans };
}

function makeHistory(): TrainEvent[] {
  const ev: TrainEvent[] = [];
  const epoch = (round: number, e: number, train: number, valid: number | null, edges: number, params: number): EpochEvent => ({
    event: 'epoch',
    round,
    epoch: e,
    train_bpd: train,
    valid_bpd: valid,
    seconds: 14.2,
    samples_per_s: 1400,
    edges,
    params,
  });
  let edges = 200_464;
  let params = edges + D * 16 * 255;
  for (let e = 1; e <= 5; e++) ev.push(epoch(0, e, 1.95 - 0.5 * (1 - Math.exp(-e / 2)), e === 3 ? null : 1.99 - 0.48 * (1 - Math.exp(-e / 2)), edges, params));
  const prune: PruneEvent = {
    event: 'prune',
    criterion: 'flow',
    removed_edges: 150_348,
    removed_params: 150_348,
    bound_ll_drop: 0.0421,
    removed_flow: 0.0412,
    measured_ll_drop: 0.0312,
    edges_before: edges,
    edges: (edges -= 150_348),
    params: params - 150_348,
    orphaned_states: 0,
    orphaned_sums: 0,
    orphaned_edges: 0,
    k_min: 16,
    k_median: 16,
    k_max: 16,
  };
  ev.push(prune);
  const grow: GrowEvent = {
    event: 'grow',
    edges_before: edges,
    edges: (edges *= 4),
    params: (params = edges + D * 32 * 255),
    k: 32,
    k_min: 32,
    k_median: 32,
    k_max: 32,
  };
  ev.push(grow);
  for (let e = 1; e <= 5; e++) ev.push(epoch(1, e, 1.47 - 0.08 * (1 - Math.exp(-e / 2)), 1.5 - 0.07 * (1 - Math.exp(-e / 2)), edges, params));
  return ev;
}

const EVENTS = makeHistory();
const LAST_PRUNE = EVENTS.find((e): e is PruneEvent => e.event === 'prune')!;

function Fixture() {
  const [K, setK] = useState(16);
  const model = useMemo(() => makeModel(K, 1), [K]);
  const [selected, setSelected] = useState<number | null>(null);
  const [mode, setMode] = useState<RegionMode>('matrix');
  const [showPreview, setShowPreview] = useState(true);
  const [big, setBig] = useState(false);
  const [vacuous, setVacuous] = useState(false);
  const history = useMemo(() => historyFromEvents(EVENTS), []);
  const s = model.snapshot;
  const detail = useMemo(() => {
    if (big) return makeDetail(ROOT + 1, ROOT, 256, 256, 65_536, 20_000, 99);
    if (selected === null) return null;
    const p = s.parent[selected];
    const rows = p >= 0 ? s.regionSize[p] : 1;
    return makeDetail(
      selected,
      p,
      rows,
      s.regionSize[selected],
      s.regionEdges[selected],
      showPreview ? model.preview.removedPerRegion[selected] : 0,
      1000 + selected,
    );
  }, [big, selected, s, model, showPreview]);
  const lastPrune = vacuous ? { ...LAST_PRUNE, bound_ll_drop: null } : LAST_PRUNE;

  return (
    <main className="page" style={{ maxWidth: 1200 }}>
      <h1>Views fixture</h1>
      <div className="buttons" style={{ marginBottom: '1rem' }}>
        <button type="button" onClick={() => setShowPreview((v) => !v)}>
          {showPreview ? 'Hide preview' : 'Show preview'}
        </button>
        <button type="button" onClick={() => setK((k) => k * 2)}>
          Grow
        </button>
        <button type="button" onClick={() => setBig((v) => !v)}>
          {big ? 'Selected block' : '256 × 256 block'}
        </button>
        <button type="button" onClick={() => setVacuous((v) => !v)}>
          Toggle vacuous bound
        </button>
      </div>
      <div style={{ display: 'grid', gridTemplateColumns: 'minmax(0, 1fr) minmax(0, 1fr)', gap: '1rem' }}>
        <div className="panel">
          <CircuitView snapshot={s} preview={showPreview ? model.preview : null} selected={selected} onSelect={setSelected} />
        </div>
        <div className="panel">
          <RegionView detail={detail} mode={mode} onMode={setMode} />
        </div>
        <div className="panel">
          <Curves history={history} />
        </div>
        <div className="panel">
          <PrunePanel preview={showPreview ? model.preview : null} lastPrune={lastPrune} />
        </div>
      </div>
    </main>
  );
}

// The test reads the tree to know each pixel's block shape.
(window as unknown as { __viewsFixture: unknown }).__viewsFixture = { root: ROOT, parent: Array.from(makeModel(16, 1).snapshot.parent) };

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Fixture />
  </StrictMode>,
);

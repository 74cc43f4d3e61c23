// The three views of the playground, each wiring store state and worker queries into the props-only
// components of src/ui/views/: Training (curves, prune panel, epoch table), Circuit (the Chow-Liu
// tree over the pixel grid, one region's sum block, the summary) and Draw (drawing canvas with live
// likelihood and surprise, fill-in, samples).

import { useCallback, useEffect, useMemo, useState } from 'react';
import { formatBpd } from './Figures.tsx';
import type { Histogram, ImagesResult, PlaygroundEvent, RegionDetail, ScoreResult } from '../worker/protocol.ts';
import { usePlayground, usePlaygroundStore, type PlaygroundState } from './store.ts';
import { CircuitView } from './views/CircuitView.tsx';
import { Curves } from './views/Curves.tsx';
import { DrawPanel } from './views/DrawPanel.tsx';
import { denseCurves, historyFromEvents, historyToCsv } from './views/history.ts';
import { CompareTable } from './views/CompareTable.tsx';
import { comparisonRows } from './compare.ts';
import { PrunePanel } from './views/PrunePanel.tsx';
import { RegionView, type RegionMode } from './views/RegionView.tsx';
import { SamplePanel } from './views/SampleGrid.tsx';

/** The curves as CSV text (the Files panel's export), with the dense comparison when it ran. */
export function historyCsv(s: Pick<PlaygroundState, 'events' | 'dense' | 'settings' | 'snapshot'>): string {
  const rows = s.settings.compare ? comparisonRows(s.events, s.settings.roundEpochs, s.snapshot?.numVars ?? 784, s.dense.runs) : [];
  return historyToCsv(historyFromEvents(s.events), s.dense.runs, rows);
}

export function TrainTab() {
  const events = usePlayground((s) => s.events);
  const pending = usePlayground((s) => s.preview);
  const last = usePlayground((s) => s.lastPreview);
  const lastPrune = usePlayground((s) => s.lastPrune);
  const history = useMemo(() => historyFromEvents(events), [events]);
  const compare = usePlayground((s) => s.settings.compare);
  const roundEpochs = usePlayground((s) => s.settings.roundEpochs);
  const numVars = usePlayground((s) => s.snapshot?.numVars ?? 784);
  const dense = usePlayground((s) => s.dense);
  const curves = useMemo(() => (compare ? denseCurves(dense.runs) : []), [compare, dense.runs]);
  const rows = useMemo(() => (compare ? comparisonRows(events, roundEpochs, numVars, dense.runs) : []), [events, dense.runs, compare, roundEpochs, numVars]);
  return (
    <div className="train-tab">
      <Curves history={history} dense={curves} />
      {compare && <CompareTable rows={rows} status={dense.status} />}
      <PrunePanel preview={pending ?? last} done={pending === null} lastPrune={lastPrune} />
      <EpochTable events={events} />
    </div>
  );
}

function EpochTable({ events }: { events: readonly PlaygroundEvent[] }) {
  const rows = events.filter((e) => e.event === 'epoch');
  if (rows.length === 0) return <p className="note">No epochs yet.</p>;
  const tested = rows.some((r) => typeof r.test_bpd === 'number');
  return (
    <details className="epoch-table">
      <summary>Every epoch ({rows.length})</summary>
      <table className="epochs">
        <thead>
          <tr>
            <th scope="col">Round</th>
            <th scope="col">Epoch</th>
            <th scope="col">Train bpd</th>
            <th scope="col">Valid bpd</th>
            {tested && <th scope="col">Test bpd</th>}
            <th scope="col">Edges</th>
            <th scope="col">Seconds</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i} data-testid="epoch-row">
              <td>{r.round}</td>
              <th scope="row">{r.epoch}</th>
              <td data-testid="train-bpd">{formatBpd(r.train_bpd)}</td>
              <td data-testid="valid-bpd">{formatBpd(r.valid_bpd)}</td>
              {tested && <td data-testid="epoch-test-bpd">{formatBpd(r.test_bpd)}</td>}
              <td>{r.edges}</td>
              <td>{r.seconds.toFixed(1)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

export function CircuitTab() {
  const store = usePlaygroundStore();
  const snapshot = usePlayground((s) => s.snapshot);
  const preview = usePlayground((s) => s.preview);
  const [selected, setSelected] = useState<number | null>(null);
  const [mode, setMode] = useState<RegionMode>('matrix');
  const [detail, setDetail] = useState<RegionDetail | null>(null);
  const hasModel = snapshot !== null;

  // The selected region's block, fetched again whenever the circuit or the pending prune changes.
  useEffect(() => {
    if (selected === null || !hasModel) {
      setDetail(null);
      return;
    }
    let live = true;
    store
      .getState()
      .query({ kind: 'region', variable: selected })
      .then((r) => {
        if (live && r.kind === 'region') setDetail(r);
      })
      .catch(() => undefined); // a reset while asking: nothing to show
    return () => {
      live = false;
    };
  }, [store, selected, hasModel, snapshot?.version, preview]);

  return (
    <div className="view-grid">
      <CircuitView snapshot={snapshot} preview={preview} selected={selected} onSelect={setSelected} />
      <RegionView detail={detail} mode={mode} onMode={setMode} side={snapshot?.side ?? 28} />
    </div>
  );
}

export function DrawTab() {
  const store = usePlaygroundStore();
  const hasModel = usePlayground((s) => s.model !== null);
  const version = usePlayground((s) => s.snapshot?.version ?? 0);
  const [distribution, setDistribution] = useState<{ version: number; histogram: Histogram } | null>(null);

  const score = useCallback(async (pixels: Uint8Array) => (await store.getState().query({ kind: 'score', pixels })) as ScoreResult, [store]);
  const inpaint = useCallback(
    async (pixels: Uint8Array, missing: Uint8Array, count: number, seed: number) =>
      (await store.getState().query({ kind: 'inpaint', pixels, missing, count, seed })) as ImagesResult,
    [store],
  );
  const sample = useCallback(async (count: number, seed: number) => (await store.getState().query({ kind: 'samples', count, seed })) as ImagesResult, [store]);
  const needDistribution = useCallback(() => {
    store
      .getState()
      .query({ kind: 'bpdDistribution' })
      .then((r) => {
        if (r.kind === 'bpdDistribution') setDistribution({ version, histogram: r });
      })
      .catch(() => undefined); // no validation images (validation fraction 0): no placement shown
  }, [store, version]);

  return (
    <div className="view-grid">
      <DrawPanel
        enabled={hasModel}
        score={score}
        inpaint={inpaint}
        distribution={distribution?.version === version ? distribution.histogram : null}
        onNeedDistribution={needDistribution}
        modelVersion={version}
      />
      <SamplePanel enabled={hasModel} sample={sample} />
    </div>
  );
}

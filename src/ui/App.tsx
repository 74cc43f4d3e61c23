// The playground page: header, banners (WebGPU, notices, errors), the settings panel, the live figures
// and the views (training curves, the circuit, drawing, the pruning experiment). Everything it shows comes from the store;
// all training happens in the worker the store drives, so nothing here blocks the page. Side effects
// that touch the browser (links, storage, theme, downloads) live in page.ts.

import { useCallback, useEffect, useRef, useState, type DragEvent } from 'react';
import { embeddedDataUrl } from '../data/fetch.ts';
import { Controls } from './Controls.tsx';
import { chooseDataFile, roleOfDroppedFile } from './data-files.ts';
import { Figures } from './Figures.tsx';
import { applyTheme, download, elementToPng, shareLink, storedTheme, usePauseWhenHidden, useRememberSettings, type Theme } from './page.ts';
import type { ExportResult } from '../worker/protocol.ts';
import { usePlayground, usePlaygroundStore } from './store.ts';
import type { PlaygroundView } from './url-state.ts';
import { CircuitTab, DrawTab, TrainTab, historyCsv } from './tabs.tsx';
import { ExperimentsView } from './views/ExperimentsView.tsx';

const TABS: { id: PlaygroundView; label: string }[] = [
  { id: 'train', label: 'Training' },
  { id: 'circuit', label: 'Circuit' },
  { id: 'draw', label: 'Draw' },
  { id: 'experiments', label: 'Experiments' },
];

export function App() {
  const store = usePlaygroundStore();
  const notify = usePlayground((s) => s.notify);
  const viewRef = useRef<HTMLDivElement>(null);
  const view = useCurrentView();
  useRememberSettings(store);
  usePauseWhenHidden(store);

  const onShare = useCallback(() => {
    void shareLink(store).then(notify);
  }, [store, notify]);

  const onExportModel = useCallback(
    (format: 'spc' | 'jpc') => {
      store
        .getState()
        .query({ kind: 'export', format })
        .then((r) => {
          const f = r as ExportResult;
          download(f.fileName, f.bytes, f.mime);
        })
        .catch((e: Error) => notify(e.message));
    },
    [store, notify],
  );

  const onImportModel = useCallback(
    async (file: File) => {
      await store.getState().importModel({ name: file.name, bytes: await file.arrayBuffer() });
    },
    [store],
  );

  const onExportCsv = useCallback(() => {
    download('curves.csv', historyCsv(store.getState()), 'text/csv');
  }, [store]);

  const onExportPng = useCallback(() => {
    const el = viewRef.current;
    if (!el) return;
    elementToPng(el)
      .then(async (blob) => download(`playground-${store.getState().settings.view}.png`, new Uint8Array(await blob.arrayBuffer()), 'image/png'))
      .catch((e: Error) => notify(e.message));
  }, [store, notify]);

  // Files dropped anywhere: .spc / .jpc files become the model, IDX images the training data or, when
  // named like one (t10k-*, *test*), the test split (data-files.ts). Several may come at once.
  const onDrop = useCallback(
    async (e: DragEvent) => {
      const files = Array.from(e.dataTransfer.files);
      if (files.length === 0) return;
      e.preventDefault();
      for (const file of files) {
        if (/\.(spc|jpc)$/i.test(file.name)) await onImportModel(file);
        else await chooseDataFile(store, file, roleOfDroppedFile(file.name));
      }
    },
    [store, onImportModel],
  );

  return (
    <main className="page" onDragOver={(e) => e.preventDefault()} onDrop={(e) => void onDrop(e)}>
      <header className="top">
        <div>
          <h1>Sparse PC Playground</h1>
          <p className="lede">
            Learn a <strong>sparse probabilistic circuit</strong> on handwritten digits: a hidden Chow-Liu tree trained by EM, then <strong>pruned</strong>{' '}
            (edges with the least circuit flow go) and <strong>grown</strong> (every node splits in two). Lower bits per dimension (bpd) on held-out digits is
            better.
          </p>
        </div>
        <ThemePicker />
      </header>
      <Banners />
      <div className="workspace">
        <Controls
          onShare={onShare}
          onExportModel={onExportModel}
          onImportModel={(f) => void onImportModel(f)}
          onExportCsv={onExportCsv}
          onExportPng={onExportPng}
        />
        <div className="stage">
          <Figures />
          <ViewTabs />
          <div className="view panel" ref={viewRef} role="tabpanel" id="view-panel" aria-labelledby={`tab-${view}`}>
            <CurrentView />
          </div>
        </div>
      </div>
    </main>
  );
}

function useCurrentView(): PlaygroundView {
  const view = usePlayground((s) => s.settings.view);
  return TABS.some((t) => t.id === view) ? view : 'train';
}

function ViewTabs() {
  const view = useCurrentView();
  const setView = usePlayground((s) => s.setView);
  const move = (dir: number) => {
    const i = TABS.findIndex((t) => t.id === view);
    const next = TABS[(i + dir + TABS.length) % TABS.length];
    setView(next.id);
    document.getElementById(`tab-${next.id}`)?.focus();
  };
  return (
    <div className="tabs" role="tablist" aria-label="Views">
      {TABS.map((t) => (
        <button
          key={t.id}
          id={`tab-${t.id}`}
          type="button"
          role="tab"
          aria-selected={view === t.id}
          aria-controls="view-panel"
          tabIndex={view === t.id ? 0 : -1}
          onClick={() => setView(t.id)}
          onKeyDown={(e) => {
            if (e.key === 'ArrowRight') move(1);
            else if (e.key === 'ArrowLeft') move(-1);
          }}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

function CurrentView() {
  const view = useCurrentView();
  if (view === 'circuit') return <CircuitTab />;
  if (view === 'draw') return <DrawTab />;
  // Its own worker: running the experiment never touches the model being trained.
  if (view === 'experiments') return <ExperimentsView dataUrl={embeddedDataUrl(document.baseURI)} />;
  return <TrainTab />;
}

/** WebGPU status, notices (repaired links, GPU fallbacks, shares) and the error, as plain text. */
function Banners() {
  const gpu = usePlayground((s) => s.gpu);
  const engine = usePlayground((s) => (s.demo ? undefined : s.model?.engine));
  const notices = usePlayground((s) => s.notices);
  const dismiss = usePlayground((s) => s.dismissNotice);
  const error = usePlayground((s) => s.error);
  return (
    <div className="banners">
      {gpu?.kind === 'missing' && (
        <p className="banner warn" role="status" data-testid="gpu-banner">
          This browser has no WebGPU, so training runs on the CPU engine (slower; the default K is smaller). To use your GPU, open the page in a current Chrome
          or Edge; on Linux, start Chrome with <code>--enable-unsafe-webgpu</code> or enable chrome://flags/#enable-unsafe-webgpu.
        </p>
      )}
      {gpu?.kind === 'no-adapter' && (
        <p className="banner warn" role="status" data-testid="gpu-banner">
          WebGPU is present but offers no GPU adapter (the GPU may be blocklisted or the driver missing), so training runs on the CPU engine. Check
          chrome://gpu, update the graphics driver, or enable chrome://flags/#enable-unsafe-webgpu.
        </p>
      )}
      {gpu?.kind === 'available' && engine === 'cpu' && (
        <p className="banner" role="status">
          Training on the CPU engine ({gpu.adapter} is available: choose Engine auto and Reset to use it).
        </p>
      )}
      {notices.map((n, i) => (
        <div className="banner notice" role="status" key={`${i}-${n}`} data-testid="notice">
          <span>{n}</span>
          <button type="button" className="link" aria-label="Dismiss notice" onClick={() => dismiss(i)}>
            ×
          </button>
        </div>
      ))}
      {error && (
        <p className="banner error" role="alert" data-testid="error">
          {error}
        </p>
      )}
    </div>
  );
}

function ThemePicker() {
  const [theme, setTheme] = useState<Theme>(() => storedTheme());
  useEffect(() => applyTheme(theme), [theme]);
  return (
    <label className="theme">
      Theme{' '}
      <select value={theme} onChange={(e) => setTheme(e.target.value as Theme)}>
        <option value="auto">system</option>
        <option value="light">light</option>
        <option value="dark">dark</option>
      </select>
    </label>
  );
}

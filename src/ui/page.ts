// The page's side effects in one place (the store stays free of DOM): reading the link and the
// remembered configuration at start, Share, pausing while the tab is hidden, the colour theme,
// WebGPU detection for the banner, and file downloads. Each is a small function or React hook that
// App.tsx calls once.

import { useEffect } from 'react';
import { describeAdapter } from '../engines/gpu/device.ts';
import { fetchDemoModel } from './demo.ts';
import type { GpuSupport, PlaygroundStore, Settings } from './store.ts';
import { decodeState, encodeState } from './url-state.ts';

/** localStorage key of the last configuration (the same text as a link's hash). */
export const SETTINGS_STORAGE_KEY = 'sparse-pc-playground:settings';
export const THEME_STORAGE_KEY = 'sparse-pc-playground:theme';

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled (privacy mode, sandboxed frame): just do not remember
  }
}

/**
 * The settings to start with: the link's hash when there is one (repaired, with notices), else the
 * remembered configuration, else the defaults with the demo model on the Draw view (a first visit
 * opens ready to draw). `replay` asks to run the linked configuration at once; `model: 'demo'` to
 * show the demo model (openDemo).
 */
export function initialSettings(hash: string): { settings: Settings; notices: string[]; source: 'link' | 'saved' | 'default' } {
  if (hash !== '' && hash !== '#') {
    const { state, notices } = decodeState(hash);
    return { settings: state, notices, source: 'link' };
  }
  const saved = storage()?.getItem(SETTINGS_STORAGE_KEY);
  if (saved) {
    // A remembered configuration goes through the same repair as a link, but its notices are not
    // worth showing: it was written by this page (possibly an older version).
    const { state } = decodeState(saved);
    return { settings: { ...state, replay: false }, notices: [], source: 'saved' };
  }
  return { settings: { ...decodeState('').state, model: 'demo', view: 'draw' }, notices: [], source: 'default' };
}

/** Whether the page should open on the demo model: asked for, and no replay (which trains at once). */
export function wantsDemo(start: { settings: Settings; source: 'link' | 'saved' | 'default' }): boolean {
  return start.settings.model === 'demo' && !(start.source === 'link' && start.settings.replay);
}

/**
 * Fetches the demo model (public/models/) and shows it, unless the visitor started something else
 * meanwhile (Play, a step, a file). A failure is one notice; the page then works as without a demo.
 */
export async function openDemo(store: PlaygroundStore): Promise<void> {
  try {
    const demo = await fetchDemoModel(document.baseURI);
    const s = store.getState();
    if (s.settings.model === 'demo' && s.status === 'idle' && s.model === null && s.userData === null) s.showDemo(demo);
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).replace(/[.\s]+$/, '');
    store.getState().notify(`The demo model could not be loaded (${why}); press Play to train a model.`);
  }
}

/** Remembers the configuration whenever it changes. */
export function useRememberSettings(store: PlaygroundStore): void {
  useEffect(
    () =>
      store.subscribe((s, prev) => {
        if (s.settings !== prev.settings) storage()?.setItem(SETTINGS_STORAGE_KEY, encodeState({ ...s.settings, replay: false }));
      }),
    [store],
  );
}

/**
 * Share: writes the configuration into the address bar (replay on, so the link reruns the run) and
 * copies the link. Returns the one sentence to show.
 */
export async function shareLink(store: PlaygroundStore): Promise<string> {
  const s = store.getState();
  // While the demo model is shown, the link opens on it (model=demo) rather than replaying a run.
  const demo = s.demo !== null;
  const hash = encodeState({ ...s.settings, model: demo ? 'demo' : 'new', replay: !demo });
  history.replaceState(null, '', hash);
  const link = location.href;
  const own = s.userData ? ' Your own data file is not part of the link: it opens with the embedded digits.' : '';
  const what = demo ? 'it reopens this configuration with the demo model' : 'it reopens this configuration and replays the run';
  try {
    await navigator.clipboard.writeText(link);
    return `Link copied: ${what}.${own}`;
  } catch {
    return `The link is in the address bar (copying was not allowed): ${what}.${own}`;
  }
}

/** Pauses training while the tab is hidden and resumes it when the visitor comes back. */
export function usePauseWhenHidden(store: PlaygroundStore): void {
  useEffect(() => {
    let pausedByUs = false;
    const onChange = () => {
      const s = store.getState();
      if (document.hidden) {
        if (s.status === 'training') {
          pausedByUs = true;
          s.pause();
        }
      } else if (pausedByUs) {
        pausedByUs = false;
        if (s.status === 'paused') s.play();
      }
    };
    document.addEventListener('visibilitychange', onChange);
    return () => document.removeEventListener('visibilitychange', onChange);
  }, [store]);
}

export type Theme = 'auto' | 'light' | 'dark';

export function storedTheme(): Theme {
  const t = storage()?.getItem(THEME_STORAGE_KEY);
  return t === 'light' || t === 'dark' ? t : 'auto';
}

/** Applies a theme: `auto` follows the system (prefers-color-scheme), the others force it. */
export function applyTheme(theme: Theme): void {
  const root = document.documentElement;
  if (theme === 'auto') delete root.dataset.theme;
  else root.dataset.theme = theme;
  storage()?.setItem(THEME_STORAGE_KEY, theme);
}

/** What this browser offers: WebGPU with an adapter, WebGPU without one, or no WebGPU at all. */
export async function detectGpu(): Promise<GpuSupport> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return { kind: 'missing' };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { kind: 'no-adapter' };
    return { kind: 'available', adapter: describeAdapter(adapter.info) };
  } catch {
    return { kind: 'no-adapter' };
  }
}

/** Saves bytes or text as a file through a temporary link. */
export function download(fileName: string, data: Uint8Array | string, mime: string): void {
  const blob = new Blob([typeof data === 'string' ? data : new Uint8Array(data)], { type: mime });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * A PNG of a part of the page: its canvases drawn as they are and its SVGs rasterised, each at its
 * place on screen, over the panel's background colour. (No DOM-to-image library: the views draw
 * everything that matters on canvases and SVGs.)
 */
export async function elementToPng(root: HTMLElement): Promise<Blob> {
  const box = root.getBoundingClientRect();
  const scale = window.devicePixelRatio || 1;
  const out = document.createElement('canvas');
  out.width = Math.max(1, Math.round(box.width * scale));
  out.height = Math.max(1, Math.round(box.height * scale));
  const ctx = out.getContext('2d')!;
  ctx.scale(scale, scale);
  ctx.fillStyle = getComputedStyle(root).backgroundColor || getComputedStyle(document.body).backgroundColor || '#fff';
  ctx.fillRect(0, 0, box.width, box.height);
  const textColor = getComputedStyle(root).color;
  for (const el of Array.from(root.querySelectorAll<HTMLCanvasElement | SVGSVGElement>('canvas, svg'))) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const x = r.left - box.left;
    const y = r.top - box.top;
    if (el instanceof HTMLCanvasElement) {
      ctx.drawImage(el, x, y, r.width, r.height);
    } else {
      const clone = el.cloneNode(true) as SVGSVGElement;
      clone.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
      clone.setAttribute('width', String(r.width));
      clone.setAttribute('height', String(r.height));
      // CSS variables do not survive serialisation: resolve `currentColor` to the page's text colour.
      clone.setAttribute('color', getComputedStyle(el).color || textColor);
      const text = new XMLSerializer().serializeToString(clone);
      const img = new Image();
      img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text)}`;
      await img.decode().catch(() => undefined);
      if (img.complete && img.naturalWidth > 0) ctx.drawImage(img, x, y, r.width, r.height);
    }
  }
  return await new Promise<Blob>((resolve, reject) =>
    out.toBlob((b) => (b ? resolve(b) : reject(new Error('The view could not be turned into a PNG.'))), 'image/png'),
  );
}

// React hooks the canvas and SVG views share: the size of a container (ResizeObserver), a canvas sized
// for the device's pixel ratio (sharp lines on high-DPI screens), and the theme's colours read from the
// CSS custom properties in views.css, re-read when the colour scheme flips (a canvas cannot use var()).

import { useEffect, useState, type RefObject } from 'react';

/** The content-box width and height of `ref`'s element, updated as it resizes (0 x 0 before mount). */
export function useElementSize(ref: RefObject<HTMLElement | null>): { width: number; height: number } {
  const [size, setSize] = useState({ width: 0, height: 0 });
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => {
      const r = el.getBoundingClientRect();
      // Whole pixels: sub-pixel jitter from layout would otherwise redraw the canvas for nothing.
      const width = Math.floor(r.width);
      const height = Math.floor(r.height);
      setSize((s) => (s.width === width && s.height === height ? s : { width, height }));
    };
    measure();
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [ref]);
  return size;
}

/** The device pixel ratio, updated when the page moves to another screen or zooms. */
export function useDevicePixelRatio(): number {
  const [dpr, setDpr] = useState(() => (typeof window === 'undefined' ? 1 : window.devicePixelRatio || 1));
  useEffect(() => {
    // A resolution media query fires once when the ratio changes; re-arm it for the new ratio.
    let mq: MediaQueryList | null = null;
    const update = () => {
      setDpr(window.devicePixelRatio || 1);
      arm();
    };
    const arm = () => {
      mq?.removeEventListener('change', update);
      mq = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
      mq.addEventListener('change', update);
    };
    arm();
    return () => mq?.removeEventListener('change', update);
  }, []);
  return dpr;
}

/**
 * Sizes `canvas` to width x height CSS pixels backed by width*dpr x height*dpr device pixels, and
 * returns its 2D context with the transform set so drawing code works in CSS pixels. Null when the
 * canvas has no 2D context (never in a browser) or the size is 0.
 */
export function prepareCanvas(canvas: HTMLCanvasElement, width: number, height: number, dpr: number): CanvasRenderingContext2D | null {
  const w = Math.max(0, Math.round(width * dpr));
  const h = Math.max(0, Math.round(height * dpr));
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext('2d');
  if (!ctx || w === 0 || h === 0) return null;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return ctx;
}

/**
 * The colours of CSS custom properties `names` at `ref`'s element, resolved to rgb() strings (e.g.
 * { '--pcv-train': 'rgb(36, 86, 199)' }), re-read when the page switches between light and dark (the
 * system's scheme, or the visitor's theme in <html data-theme>). The properties hold
 * light-dark(light, dark) values, which only a property that takes a colour resolves: each is read
 * through a hidden probe element's `color`. Empty strings until mounted.
 */
export function useThemeColors<N extends string>(ref: RefObject<HTMLElement | null>, names: readonly N[]): Record<N, string> {
  const key = names.join(',');
  const read = (): Record<N, string> => {
    const out = {} as Record<N, string>;
    const el = ref.current;
    for (const n of names) out[n] = '';
    if (!el) return out;
    const probe = document.createElement('span');
    probe.style.display = 'none';
    el.append(probe);
    const style = getComputedStyle(probe);
    for (const n of names) {
      probe.style.color = '';
      probe.style.color = `var(${n})`;
      // An undefined property leaves the inherited colour: report it as unset, so `pick` falls back.
      out[n] = getComputedStyle(el).getPropertyValue(n).trim() === '' ? '' : style.color;
    }
    probe.remove();
    return out;
  };
  const [colors, setColors] = useState<Record<N, string>>(() => {
    const out = {} as Record<N, string>;
    for (const n of names) out[n] = '';
    return out;
  });
  useEffect(() => {
    const update = () => {
      const next = read();
      setColors((prev) => (names.every((n) => prev[n] === next[n]) ? prev : next));
    };
    update();
    const mq = window.matchMedia('(prefers-color-scheme: dark)');
    mq.addEventListener('change', update);
    const themeObserver = new MutationObserver(update);
    themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    return () => {
      mq.removeEventListener('change', update);
      themeObserver.disconnect();
    };
    // `key` stands for `names` (a new array each render with the same contents).
  }, [ref, key]);
  return colors;
}

/** A colour for canvas drawing: the theme's value, or `fallback` before the theme is read. */
export function pick(value: string, fallback: string): string {
  return value && value.length > 0 ? value : fallback;
}

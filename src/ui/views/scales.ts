// Value -> visual encodings shared by the canvas views: line width for the information a tree edge
// carries, a 0..1 position for log-scaled flows, colour ramps between two theme colours, and colour
// look-up tables so drawing 65k matrix cells never builds 65k colour strings. Pure (no DOM): colours
// come in as strings read from CSS custom properties by the components (so dark mode just works).

import { color as d3color, interpolateLab, piecewise } from 'd3';

/**
 * Width (CSS px) of a tree edge carrying `info` bits when the largest in the snapshot is `maxInfo`:
 * a square-root scale from minW (no information) to maxW (the maximum), so the line's *area* grows
 * with the information and thin differences near 0 stay visible. Non-finite, negative or absent
 * information gives minW.
 */
export function edgeWidth(info: number, maxInfo: number, minW = 0.5, maxW = 5): number {
  return minW + (maxW - minW) * sqrtShare(info, maxInfo);
}

/** sqrt(min(1, v / max)): where `v` sits between 0 and `max` on a square-root scale; 0 when either is
 *  non-finite or not positive. */
export function sqrtShare(v: number, max: number): number {
  if (!(max > 0) || !Number.isFinite(max) || !(v > 0) || !Number.isFinite(v)) return 0;
  return Math.sqrt(Math.min(1, v / max));
}

/** Largest finite value of `a` (0 when none is positive). */
export function finiteMax(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i]) && a[i] > m) m = a[i];
  return m;
}

/** Smallest positive finite value of `a` (0 when none). */
export function positiveMin(a: ArrayLike<number>): number {
  let m = Infinity;
  for (let i = 0; i < a.length; i++) if (a[i] > 0 && a[i] < m && Number.isFinite(a[i])) m = a[i];
  return m === Infinity ? 0 : m;
}

/**
 * Position of a flow on a log scale from `lo` (-> 0) to `hi` (-> 1), clamped. Flows are spread over
 * many orders of magnitude (a block's flows sum to 1 over up to 65k entries), which a linear scale
 * would flatten to one colour. Zero, negative and non-finite flows give 0; a degenerate range (lo >= hi)
 * gives 1 for any positive flow.
 */
export function logT(flow: number, lo: number, hi: number): number {
  if (!(flow > 0) || !Number.isFinite(flow)) return 0;
  if (!(lo > 0) || !(hi > lo) || !Number.isFinite(hi)) return 1;
  const t = (Math.log(flow) - Math.log(lo)) / (Math.log(hi) - Math.log(lo));
  return Math.min(1, Math.max(0, t));
}

/** Interpolates two CSS colours in Lab (perceptually even steps); t clamped to [0, 1]. */
export function ramp(from: string, to: string): (t: number) => string {
  const f = interpolateLab(from, to);
  return (t) => f(Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0);
}

/** A ramp through several CSS colours (evenly spaced stops, Lab interpolation); t clamped to [0, 1]. */
export function rampThrough(stops: readonly string[]): (t: number) => string {
  if (stops.length === 1) return () => stops[0];
  const f = piecewise(interpolateLab, [...stops]);
  return (t) => f(Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0);
}

/** RGBA 0..255 of a CSS colour string (d3 parses rgb(), #hex and names; unparseable -> opaque grey). */
export function rgba(css: string): [number, number, number, number] {
  const c = d3color(css)?.rgb();
  if (!c) return [128, 128, 128, 255];
  return [Math.round(c.r), Math.round(c.g), Math.round(c.b), Math.round((Number.isFinite(c.opacity) ? c.opacity : 1) * 255)];
}

/** `n` RGBA colours sampled evenly from `colorAt` (t = i / (n - 1)), packed for ImageData writes. */
export function colorLut(colorAt: (t: number) => string, n = 256): Uint8ClampedArray {
  const lut = new Uint8ClampedArray(4 * n);
  for (let i = 0; i < n; i++) lut.set(rgba(colorAt(n === 1 ? 1 : i / (n - 1))), 4 * i);
  return lut;
}

/** Index into an n-entry LUT for t in [0, 1] (non-finite -> 0). */
export function lutIndex(t: number, n = 256): number {
  if (!Number.isFinite(t)) return 0;
  return Math.min(n - 1, Math.max(0, Math.round(t * (n - 1))));
}

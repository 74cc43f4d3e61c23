// Equal-width histograms (protocol.ts Histogram): the worker's validation-bpd distribution and prune
// score histograms, and the drawing panel's tests and fixture. Pure.

import type { Histogram } from './protocol.ts';

/**
 * Equal-width histogram of the finite values (bins over [min, max] of the data; the maximum goes into
 * the last bin). All-equal values get a bin of width 1 around them so the shape stays valid.
 */
export function histogramOf(values: ArrayLike<number>, bins: number): Histogram {
  if (!(Number.isInteger(bins) && bins >= 1)) throw new Error(`bins must be a positive integer, got ${bins}`);
  let min = Infinity;
  let max = -Infinity;
  let total = 0;
  for (let k = 0; k < values.length; k++) {
    const v = values[k];
    if (!Number.isFinite(v)) continue;
    total++;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const counts = new Int32Array(bins);
  if (total === 0) return { min: 0, max: 1, counts, total: 0 };
  if (max === min) {
    min -= 0.5;
    max += 0.5;
  }
  const h = { min, max, counts, total };
  for (let k = 0; k < values.length; k++) {
    const v = values[k];
    if (Number.isFinite(v)) counts[binOf(h, v)]++;
  }
  return h;
}

/** The bin of `h` that holds the finite value v: floor((v - min) / w), the maximum in the last bin. */
export function binOf(h: Histogram, v: number): number {
  const bins = h.counts.length;
  const w = (h.max - h.min) / bins;
  return Math.max(0, Math.min(bins - 1, Math.floor((v - h.min) / w)));
}

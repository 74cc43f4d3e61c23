// Where one drawn digit's bpd falls among the validation digits': the share of a Histogram below a
// value (values are assumed spread evenly inside each bin, so the answer moves smoothly as the visitor
// draws). The histograms come from ../histogram.ts (the worker's `bpdDistribution`). Pure.

import type { Histogram } from '../../worker/protocol.ts';

/**
 * Percentage (0..100) of the histogram's values below `value`: whole bins below it, plus the part of
 * its own bin left of it. 0 at or below `min`, 100 at or above `max`. Null when the histogram is empty
 * or `value` is not a number (nothing to compare with).
 */
export function percentileBelow(h: Histogram, value: number): number | null {
  const n = h.counts.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += h.counts[i];
  if (total <= 0 || n === 0 || Number.isNaN(value)) return null;
  if (value <= h.min) return 0;
  if (value >= h.max) return 100;
  const w = (h.max - h.min) / n;
  // Guarded against rounding: a value just under max must stay in the last bin.
  const bin = Math.min(n - 1, Math.floor((value - h.min) / w));
  let below = 0;
  for (let i = 0; i < bin; i++) below += h.counts[i];
  const frac = (value - (h.min + bin * w)) / w;
  below += h.counts[bin] * Math.max(0, Math.min(1, frac));
  return (100 * below) / total;
}

/**
 * "Better than N % of validation digits": lower bpd is better, so it is the share above the value.
 * Rounded to a whole percent for the sentence; null when there is nothing to compare with.
 */
export function betterThanPercent(h: Histogram, bpd: number): number | null {
  const below = percentileBelow(h, bpd);
  return below === null ? null : Math.round(100 - below);
}

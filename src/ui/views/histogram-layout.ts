// Layout of the prune panel's histogram of log10 edge scores: merges the worker's bins down to at most
// `maxBars` bars (more would be thinner than a pixel and one SVG element each), places the bars, stacks
// each bar's removed edges (bottom) under its kept ones, and says where the cut line (the highest
// removed score) goes. Removed edges are counted per bin by the worker, not inferred from the cut:
// every sum node keeps its best edge, so some edges below the cut stay. Pure (no DOM).

import type { Histogram } from '../../worker/protocol.ts';

export interface Bar {
  /** Score range [lo, hi) in log10 units. */
  lo: number;
  hi: number;
  count: number;
  x: number;
  width: number;
  /** Top of the bar (y grows downwards, the baseline is at `height`). */
  y: number;
  height: number;
  /** Edges of this bar that the prune removes, and the height of that part (drawn at the bottom). */
  removed: number;
  removedHeight: number;
}

export interface HistogramLayout {
  bars: Bar[];
  /** x of the threshold line, clamped into [0, width]; null when there is no finite threshold. */
  thresholdX: number | null;
  maxCount: number;
  min: number;
  max: number;
}

/** Merges adjacent bins by a whole factor so that there are at most maxBars (the last bar may hold fewer). */
export function rebin(h: Histogram, maxBars: number): Histogram {
  const n = h.counts.length;
  const factor = Math.max(1, Math.ceil(n / Math.max(1, maxBars)));
  if (factor === 1) return h;
  const bars = Math.ceil(n / factor);
  const counts = mergeCounts(h.counts, factor);
  // The last merged bar may cover fewer source bins; widening the range keeps every bar equally wide.
  const w = (h.max - h.min) / n;
  return { min: h.min, max: h.min + bars * factor * w, counts, total: h.total };
}

function mergeCounts(counts: ArrayLike<number>, factor: number): Int32Array {
  const out = new Int32Array(Math.ceil(counts.length / factor));
  for (let i = 0; i < counts.length; i++) out[Math.floor(i / factor)] += counts[i];
  return out;
}

/**
 * Bars of `h` (after rebinning to maxBars) in a width x height box, with bar heights linear in the
 * count and the threshold at x = (threshold - min) / (max - min) * width. A degenerate histogram
 * (max <= min, or no bins) lays out no bars; every coordinate is finite.
 */
export function histogramLayout(
  h: Histogram,
  threshold: number | null,
  width: number,
  height: number,
  maxBars = 60,
  removedCounts: ArrayLike<number> | null = null,
): HistogramLayout {
  const r = rebin(h, maxBars);
  const factor = Math.max(1, Math.ceil(h.counts.length / Math.max(1, maxBars)));
  const removedBars = removedCounts && removedCounts.length === h.counts.length ? mergeCounts(removedCounts, factor) : null;
  const n = r.counts.length;
  const span = r.max - r.min;
  let maxCount = 0;
  for (let i = 0; i < n; i++) maxCount = Math.max(maxCount, r.counts[i]);
  const ok = n > 0 && span > 0 && Number.isFinite(span);
  const xOf = (v: number) => ((v - r.min) / span) * width;
  const thresholdX = ok && threshold !== null && Number.isFinite(threshold) ? Math.min(width, Math.max(0, xOf(threshold))) : null;
  const bars: Bar[] = [];
  if (ok) {
    const bw = width / n;
    for (let i = 0; i < n; i++) {
      const count = r.counts[i];
      const bh = maxCount > 0 ? (count / maxCount) * height : 0;
      const x = i * bw;
      const removed = removedBars ? Math.min(count, removedBars[i]) : 0;
      const removedHeight = count > 0 ? (removed / count) * bh : 0;
      bars.push({ lo: r.min + (i * span) / n, hi: r.min + ((i + 1) * span) / n, count, x, width: bw, y: height - bh, height: bh, removed, removedHeight });
    }
  }
  return { bars, thresholdX, maxCount, min: r.min, max: r.max };
}

// The grow animation of the circuit summary: a row-wrapped grid of dots, one per node of a region (K
// of them), and when a grow doubles K every dot splits into two, the copy sliding out of its original
// to its own place over ~800 ms. grow.ts makes node i + K the copy of node i, so new dot j starts at
// old dot j mod K. Pure (no DOM): positions as a function of time, for the component and the tests.

export const GROW_MS = 800;

export interface DotGrid {
  count: number;
  cols: number;
  /** Centre-to-centre spacing (CSS px). */
  gap: number;
}

/** Dots per row: at most maxCols, and no more than needed for `count`. */
export function dotGrid(count: number, maxCols = 32, gap = 9): DotGrid {
  const n = Math.max(0, Math.floor(count));
  return { count: n, cols: Math.max(1, Math.min(maxCols, n)), gap };
}

/** Centre of dot i of the grid (first dot at (gap/2, gap/2)). */
export function dotCentre(i: number, g: DotGrid): { x: number; y: number } {
  return { x: ((i % g.cols) + 0.5) * g.gap, y: (Math.floor(i / g.cols) + 0.5) * g.gap };
}

/** Height of the grid's box. */
export function dotGridHeight(g: DotGrid): number {
  return Math.ceil(g.count / g.cols) * g.gap;
}

/** Cubic ease in-out of t (clamped to [0, 1]; non-finite -> 1, i.e. the animation is over). */
export function easeInOut(t: number): number {
  if (!Number.isFinite(t) || t >= 1) return 1;
  if (t <= 0) return 0;
  return t < 0.5 ? 4 * t * t * t : 1 - Math.pow(-2 * t + 2, 3) / 2;
}

/** Animation progress after `elapsedMs` of `durationMs` (0..1, eased). */
export function growProgress(elapsedMs: number, durationMs = GROW_MS): number {
  if (!(durationMs > 0)) return 1;
  return easeInOut(elapsedMs / durationMs);
}

/**
 * Where the `to` dots are at eased progress t of a grow from `from` nodes to `to` nodes: dot j moves
 * from old dot j mod from (in the old grid) to its own place (in the new grid), linearly in t. With
 * t = 0 every copy sits exactly on its original (the picture before the grow); with t = 1 the new grid.
 * Returns x, y interleaved. `from` <= 0 (no previous snapshot) places dots at their final positions.
 */
export function growDotPositions(from: number, to: number, t: number, maxCols = 32, gap = 9): Float32Array {
  const oldG = dotGrid(from, maxCols, gap);
  const newG = dotGrid(to, maxCols, gap);
  const out = new Float32Array(2 * newG.count);
  const u = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 1;
  for (let j = 0; j < newG.count; j++) {
    const end = dotCentre(j, newG);
    const start = oldG.count > 0 ? dotCentre(j % oldG.count, oldG) : end;
    out[2 * j] = start.x + (end.x - start.x) * u;
    out[2 * j + 1] = start.y + (end.y - start.y) * u;
  }
  return out;
}

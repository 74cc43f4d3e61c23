// Geometry of the circuit view: the 28x28 pixel grid, where each variable's cell and centre is, the
// Chow-Liu tree's edges as line segments (child pixel -> parent pixel), hit testing of clicks and the
// keyboard focus moves. Pure (no DOM), in CSS pixels; the canvas multiplies by devicePixelRatio.

/** Variable v is pixel (column v % side, row floor(v / side)) (CircuitSnapshot.side). */
export function pixelCentre(v: number, side: number, cell: number): { x: number; y: number } {
  return { x: ((v % side) + 0.5) * cell, y: (Math.floor(v / side) + 0.5) * cell };
}

/** The variable under (x, y) in a grid of `side` x `side` cells of size `cell`; null outside it. */
export function pixelAt(x: number, y: number, side: number, cell: number, numVars = side * side): number | null {
  if (!(cell > 0) || !Number.isFinite(x) || !Number.isFinite(y) || x < 0 || y < 0) return null;
  const col = Math.floor(x / cell);
  const row = Math.floor(y / cell);
  if (col >= side || row >= side) return null;
  const v = row * side + col;
  return v < numVars ? v : null;
}

export interface TreeSegments {
  /** The child variable of each segment. */
  child: Int32Array;
  /** x1, y1, x2, y2 per segment: from the child's centre to its parent's. */
  coords: Float32Array;
}

/** One segment per non-root variable (parent >= 0), from the pixel's centre to its parent's centre. */
export function treeSegments(parent: Int32Array, side: number, cell: number): TreeSegments {
  let n = 0;
  for (let v = 0; v < parent.length; v++) if (parent[v] >= 0 && parent[v] < parent.length) n++;
  const child = new Int32Array(n);
  const coords = new Float32Array(4 * n);
  let k = 0;
  for (let v = 0; v < parent.length; v++) {
    const p = parent[v];
    if (p < 0 || p >= parent.length) continue;
    const a = pixelCentre(v, side, cell);
    const b = pixelCentre(p, side, cell);
    child[k] = v;
    coords.set([a.x, a.y, b.x, b.y], 4 * k);
    k++;
  }
  return { child, coords };
}

/** Arrow keys move the focus cell one pixel (clamped at the border); Home/End jump to the first/last. */
export function moveFocus(v: number, key: string, side: number, numVars = side * side): number {
  const col = v % side;
  const row = Math.floor(v / side);
  let next = v;
  switch (key) {
    case 'ArrowLeft':
      next = col > 0 ? v - 1 : v;
      break;
    case 'ArrowRight':
      next = col < side - 1 ? v + 1 : v;
      break;
    case 'ArrowUp':
      next = row > 0 ? v - side : v;
      break;
    case 'ArrowDown':
      next = row < side - 1 ? v + side : v;
      break;
    case 'Home':
      next = 0;
      break;
    case 'End':
      next = numVars - 1;
      break;
  }
  return next >= 0 && next < numVars ? next : v;
}

/**
 * Fraction of a region's possible sum edges still kept: edges / (regionSize * parentSize). A root
 * (no parent) has one sum node, so its block is 1 x regionSize. Clamped to [0, 1]; 0 when the block
 * is empty or sizes are missing (never NaN).
 */
export function keptFraction(regionEdges: number, regionSize: number, parentSize: number): number {
  const full = regionSize * parentSize;
  if (!(full > 0) || !Number.isFinite(regionEdges)) return 0;
  return Math.min(1, Math.max(0, regionEdges / full));
}

/** keptFraction for every variable of a snapshot (parent -1 -> a 1-row block). */
export function keptFractions(parent: Int32Array, regionSize: Int32Array, regionEdges: Int32Array): Float32Array {
  const out = new Float32Array(parent.length);
  for (let v = 0; v < parent.length; v++) {
    const p = parent[v];
    const parentSize = p >= 0 && p < regionSize.length ? regionSize[p] : 1;
    out[v] = keptFraction(regionEdges[v], regionSize[v], parentSize);
  }
  return out;
}

// Rasterising brush strokes into a grayscale buffer (0 = empty, 255 = full ink), the model input
// behind the "Draw a digit" canvas. Pure (no DOM) so tests can draw known strokes and the canvas is
// only a view of the buffer. A stroke segment is a capsule (a thick line with round caps): each pixel
// gets ink by how much of it the capsule covers, approximated by the distance from the pixel centre to
// the segment (a one-pixel linear ramp at the edge), which anti-aliases like a pen on paper and like
// the soft edges of MNIST's strokes.

/** A gray raster, row-major, one byte per pixel. */
export interface Raster {
  width: number;
  height: number;
  data: Uint8Array;
}

export function createRaster(width: number, height: number): Raster {
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0))
    throw new Error(`raster size must be positive integers, got ${width} x ${height}`);
  return { width, height, data: new Uint8Array(width * height) };
}

/** Distance from (px, py) to the segment (ax, ay)-(bx, by). */
export function distanceToSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const vx = bx - ax;
  const vy = by - ay;
  const len2 = vx * vx + vy * vy;
  // A zero-length segment (a tap) is a dot: the distance to its one point.
  const t = len2 > 0 ? Math.max(0, Math.min(1, ((px - ax) * vx + (py - ay) * vy) / len2)) : 0;
  const dx = px - (ax + t * vx);
  const dy = py - (ay + t * vy);
  return Math.hypot(dx, dy);
}

/**
 * Paints the capsule of `radius` around segment a-b (raster coordinates: pixel (x, y) spans
 * [x, x+1) x [y, y+1), so its centre is (x + 0.5, y + 0.5)). Coverage is 1 inside radius - 0.5,
 * 0 beyond radius + 0.5 and linear between; a pixel keeps the larger of its ink and `value` x coverage
 * (overlapping segments of one stroke do not darken each other, as with a real pen).
 * Returns the touched box [x0, x1) x [y0, y1) (empty when the capsule misses the raster), so a view
 * can redraw only that part.
 */
export function paintSegment(
  r: Raster,
  ax: number,
  ay: number,
  bx: number,
  by: number,
  radius: number,
  value = 255,
): { x0: number; y0: number; x1: number; y1: number } {
  const reach = radius + 0.5;
  const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - reach));
  const y0 = Math.max(0, Math.floor(Math.min(ay, by) - reach));
  const x1 = Math.min(r.width, Math.ceil(Math.max(ax, bx) + reach));
  const y1 = Math.min(r.height, Math.ceil(Math.max(ay, by) + reach));
  const data = r.data;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const d = distanceToSegment(x + 0.5, y + 0.5, ax, ay, bx, by);
      const cover = Math.max(0, Math.min(1, reach - d));
      if (cover <= 0) continue;
      const v = Math.round(value * cover);
      const k = y * r.width + x;
      if (v > data[k]) data[k] = v;
    }
  }
  return { x0, y0, x1: Math.max(x0, x1), y1: Math.max(y0, y1) };
}

/** Paints a polyline (consecutive points joined by capsules); one point is a dot. */
export function paintStroke(r: Raster, points: ReadonlyArray<readonly [number, number]>, radius: number, value = 255): void {
  if (points.length === 0) return;
  if (points.length === 1) {
    paintSegment(r, points[0][0], points[0][1], points[0][0], points[0][1], radius, value);
    return;
  }
  for (let k = 1; k < points.length; k++) paintSegment(r, points[k - 1][0], points[k - 1][1], points[k][0], points[k][1], radius, value);
}

/** Whether any pixel holds ink. */
export function hasInk(r: Raster): boolean {
  const d = r.data;
  for (let k = 0; k < d.length; k++) if (d[k] !== 0) return true;
  return false;
}

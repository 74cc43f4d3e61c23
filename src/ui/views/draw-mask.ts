// Where the canvas lands in the 28x28 image, and which 28x28 pixels an erased region marks missing.
// preprocessDrawing (src/data/preprocess.ts) crops the ink's bounding box, scales it into a 20x20 box
// and shifts it so the centre of mass sits at MNIST's centre; the erase layer must go through the very
// same map, or the "missing" cells would not be the ones the visitor erased. `drawingTransform` is
// that map (exported by preprocess.ts, which uses it itself), and `missingMask` pulls the erase
// raster back through it: a 28x28 cell is missing when enough of the canvas area it stands for was
// erased. The ink decides the map; erasing does not move the digit.

import { drawingTransform as preprocessTransform, MNIST_SIDE, type DrawingTransform } from '../../data/preprocess.ts';

export type { DrawingTransform };

/** The map preprocessDrawing applies to this drawing (the whole canvas when it is blank). */
export function drawingTransform(gray: ArrayLike<number>, width: number, height: number): DrawingTransform {
  return preprocessTransform(gray, width, height).transform;
}

/**
 * Per 28x28 pixel, the fraction (0..1) of the canvas area it stands for that the erase raster covers
 * (erase values 0..255 count proportionally; canvas outside the raster counts as not erased).
 */
export function erasedCoverage(erase: ArrayLike<number>, width: number, height: number, t: DrawingTransform): Float64Array {
  const out = new Float64Array(MNIST_SIDE * MNIST_SIDE);
  const fx = t.bw / t.tw;
  const fy = t.bh / t.th;
  const area = fx * fy;
  for (let j = 0; j < MNIST_SIDE; j++) {
    const ya = t.y0 + (j - t.dy) * fy;
    const yb = ya + fy;
    const yStart = Math.max(0, Math.floor(ya));
    const yEnd = Math.min(height, Math.ceil(yb));
    for (let i = 0; i < MNIST_SIDE; i++) {
      const xa = t.x0 + (i - t.dx) * fx;
      const xb = xa + fx;
      const xStart = Math.max(0, Math.floor(xa));
      const xEnd = Math.min(width, Math.ceil(xb));
      let s = 0;
      for (let y = yStart; y < yEnd; y++) {
        const wy = Math.min(yb, y + 1) - Math.max(ya, y);
        if (wy <= 0) continue;
        for (let x = xStart; x < xEnd; x++) {
          const wx = Math.min(xb, x + 1) - Math.max(xa, x);
          if (wx > 0) s += wx * wy * erase[y * width + x];
        }
      }
      out[j * MNIST_SIDE + i] = s / (255 * area);
    }
  }
  return out;
}

/** Default share of a cell that must be erased for it to count as missing: a majority. */
export const MISSING_THRESHOLD = 0.5;

/** The 28x28 missing mask (1 = missing) of an erase raster under the drawing's transform. */
export function missingMask(erase: ArrayLike<number>, width: number, height: number, t: DrawingTransform, threshold = MISSING_THRESHOLD): Uint8Array {
  const cover = erasedCoverage(erase, width, height, t);
  const out = new Uint8Array(cover.length);
  // A hair of slack so a cell erased completely is not lost to rounding in the area sums.
  for (let k = 0; k < cover.length; k++) out[k] = cover[k] >= threshold - 1e-9 ? 1 : 0;
  return out;
}

export function countMissing(mask: ArrayLike<number>): number {
  let n = 0;
  for (let k = 0; k < mask.length; k++) if (mask[k]) n++;
  return n;
}

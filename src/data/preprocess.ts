// Drawn digits -> MNIST-like 28x28 images, the way MNIST was made (LeCun et al.): the ink's bounding
// box is scaled, keeping its aspect ratio, to fit a 20x20 box (with anti-aliasing: each target pixel
// averages the source area it covers), then the 20x20 result is placed in the 28x28 field so that
// its centre of mass (intensity-weighted) lands on the field's centre. Pure: works on any gray
// image (0 = background, 255 = full ink), from a canvas, a test, or a file.

export const MNIST_SIDE = 28;
export const MNIST_BOX = 20;
/** Where MNIST puts the centre of mass: the centre of pixel 14 (measured on the embedded digits). */
export const MNIST_CENTRE = 14.5;

/** Ink bounding box [x0, x1) x [y0, y1), or null when nothing exceeds `threshold`. */
export function inkBoundingBox(
  gray: ArrayLike<number>,
  width: number,
  height: number,
  threshold = 0,
): { x0: number; y0: number; x1: number; y1: number } | null {
  let x0 = width;
  let y0 = height;
  let x1 = 0;
  let y1 = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (gray[y * width + x] > threshold) {
        if (x < x0) x0 = x;
        if (x >= x1) x1 = x + 1;
        if (y < y0) y0 = y;
        if (y >= y1) y1 = y + 1;
      }
    }
  }
  return x1 > x0 ? { x0, y0, x1, y1 } : null;
}

/**
 * Area-averaging resample of the source rectangle [sx0, sx0 + sw) x [sy0, sy0 + sh) to tw x th:
 * target pixel (i, j) covers source x in [sx0 + i sw/tw, sx0 + (i+1) sw/tw) (likewise y), and takes
 * the coverage-weighted mean of the source pixels there.
 */
function resampleArea(gray: ArrayLike<number>, width: number, sx0: number, sy0: number, sw: number, sh: number, tw: number, th: number): Float64Array {
  const out = new Float64Array(tw * th);
  const fx = sw / tw;
  const fy = sh / th;
  for (let j = 0; j < th; j++) {
    const ya = sy0 + j * fy;
    const yb = ya + fy;
    for (let i = 0; i < tw; i++) {
      const xa = sx0 + i * fx;
      const xb = xa + fx;
      let s = 0;
      // Clamped to the source rectangle: rounding in ya/yb must never reach a pixel outside it.
      for (let y = Math.max(sy0, Math.floor(ya)); y < Math.min(sy0 + sh, Math.ceil(yb)); y++) {
        const wy = Math.min(yb, y + 1) - Math.max(ya, y);
        if (wy <= 0) continue;
        for (let x = Math.max(sx0, Math.floor(xa)); x < Math.min(sx0 + sw, Math.ceil(xb)); x++) {
          const wx = Math.min(xb, x + 1) - Math.max(xa, x);
          if (wx > 0) s += wx * wy * gray[y * width + x];
        }
      }
      out[j * tw + i] = s / (fx * fy);
    }
  }
  return out;
}

/** Intensity-weighted centre of mass, in pixel coordinates whose pixel (i, j) spans [i, i+1). */
export function centreOfMass(img: ArrayLike<number>, width: number, height: number): { x: number; y: number } | null {
  let m = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = img[y * width + x];
      m += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  return m > 0 ? { x: mx / m, y: my / m } : null;
}

/**
 * Canvas -> 28x28 map of a drawing: canvas x maps to dx + (x - x0) * tw / bw (y likewise), i.e. 28x28
 * pixel i covers canvas x in [x0 + (i - dx) bw / tw, x0 + (i - dx + 1) bw / tw). The drawing page
 * pulls its erase layer back through the same map (src/ui/views/draw-mask.ts).
 */
export interface DrawingTransform {
  x0: number;
  y0: number;
  /** Source box size (canvas pixels). */
  bw: number;
  bh: number;
  /** Its size in the 28x28 image. */
  tw: number;
  th: number;
  /** Where the box's top-left lands in the 28x28 image. */
  dx: number;
  dy: number;
}

/**
 * The map `preprocessDrawing` applies to this drawing, with the resampled ink box (`small`, tw x th).
 * An empty drawing has no ink to place; it gets the whole canvas squeezed onto the 28x28 field (so an
 * erased region of a blank canvas still means something) and `small` is null.
 */
export function drawingTransform(gray: ArrayLike<number>, width: number, height: number): { transform: DrawingTransform; small: Float64Array | null } {
  const box = inkBoundingBox(gray, width, height);
  if (!box) return { transform: { x0: 0, y0: 0, bw: width, bh: height, tw: MNIST_SIDE, th: MNIST_SIDE, dx: 0, dy: 0 }, small: null };
  const bw = box.x1 - box.x0;
  const bh = box.y1 - box.y0;
  // The longer side becomes 20 pixels; the other keeps the aspect ratio (at least one pixel).
  const scale = MNIST_BOX / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * scale));
  const th = Math.max(1, Math.round(bh * scale));
  const small = resampleArea(gray, width, box.x0, box.y0, bw, bh, tw, th);
  // Integer shift that puts the centre of mass nearest the centre of pixel (14, 14), where MNIST's
  // digits have it (coordinates here span [i, i+1) per pixel, so that is 14.5), kept inside.
  const com = centreOfMass(small, tw, th)!;
  const dx = Math.min(MNIST_SIDE - tw, Math.max(0, Math.round(MNIST_CENTRE - com.x)));
  const dy = Math.min(MNIST_SIDE - th, Math.max(0, Math.round(MNIST_CENTRE - com.y)));
  return { transform: { x0: box.x0, y0: box.y0, bw, bh, tw, th, dx, dy }, small };
}

/**
 * A drawing (gray levels, 0 = background) of any size -> 28 x 28 bytes like an MNIST digit. An empty
 * drawing gives an all-zero image.
 */
export function preprocessDrawing(gray: ArrayLike<number>, width: number, height: number): Uint8Array {
  const out = new Uint8Array(MNIST_SIDE * MNIST_SIDE);
  const { transform: t, small } = drawingTransform(gray, width, height);
  if (!small) return out;
  for (let j = 0; j < t.th; j++) {
    for (let i = 0; i < t.tw; i++) out[(j + t.dy) * MNIST_SIDE + i + t.dx] = Math.max(0, Math.min(255, Math.round(small[j * t.tw + i])));
  }
  return out;
}

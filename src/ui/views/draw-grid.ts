// Laying out many 28x28 images on one canvas (samples, inpainting completions): RGBA bytes for a
// grid with a gap between cells, at one byte-pixel per image pixel (the canvas is scaled up by CSS
// with pixelated rendering, so the pixels stay crisp). White ink on black, as MNIST is stored.
// Pixels the model filled in (a `missing` mask shared by all images) are tinted warm so that what was
// drawn and what was completed stay distinguishable. Pure.

export const DIGIT_SIDE = 28;

export interface GridLayout {
  columns: number;
  rows: number;
  /** Backing size in pixels. */
  width: number;
  height: number;
}

export function gridLayout(count: number, columns: number, gap = 2, side = DIGIT_SIDE): GridLayout {
  const cols = Math.max(1, Math.min(Math.floor(columns), Math.max(1, count)));
  const rows = Math.max(1, Math.ceil(count / cols));
  return { columns: cols, rows, width: cols * side + (cols - 1) * gap, height: rows * side + (rows - 1) * gap };
}

/** The tint of filled-in ink at full intensity (amber: visible on black, distinct from white). */
export const FILLED_RGB: readonly [number, number, number] = [255, 176, 64];
/** The gap colour: a dark gray that separates black cells without glowing. */
export const GAP_RGB: readonly [number, number, number] = [64, 68, 76];

/**
 * RGBA for `count` images ([count x side^2] bytes 0..255) in a grid. `missing` (side^2, 1 = filled in)
 * tints those pixels with FILLED_RGB scaled by the ink.
 */
export function imagesToRgba(
  pixels: Uint8Array,
  count: number,
  columns: number,
  missing?: Uint8Array | null,
  gap = 2,
  side = DIGIT_SIDE,
): { layout: GridLayout; rgba: Uint8ClampedArray<ArrayBuffer> } {
  const D = side * side;
  if (pixels.length < count * D) throw new Error(`expected ${count} images of ${D} pixels, got ${pixels.length} bytes`);
  const layout = gridLayout(count, columns, gap, side);
  const rgba = new Uint8ClampedArray(layout.width * layout.height * 4);
  for (let k = 0; k < rgba.length; k += 4) {
    rgba[k] = GAP_RGB[0];
    rgba[k + 1] = GAP_RGB[1];
    rgba[k + 2] = GAP_RGB[2];
    rgba[k + 3] = 255;
  }
  for (let n = 0; n < count; n++) {
    const ox = (n % layout.columns) * (side + gap);
    const oy = Math.floor(n / layout.columns) * (side + gap);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const v = pixels[n * D + y * side + x];
        const o = ((oy + y) * layout.width + ox + x) * 4;
        if (missing && missing[y * side + x]) {
          rgba[o] = (FILLED_RGB[0] * v) / 255;
          rgba[o + 1] = (FILLED_RGB[1] * v) / 255;
          rgba[o + 2] = (FILLED_RGB[2] * v) / 255;
        } else {
          rgba[o] = v;
          rgba[o + 1] = v;
          rgba[o + 2] = v;
        }
      }
    }
  }
  return { layout, rgba };
}

/** The largest whole scale at which a backing width fits `maxCssWidth` (at least 1): crisp pixels. */
export function integerScale(backingWidth: number, maxCssWidth: number): number {
  return Math.max(1, Math.floor(maxCssWidth / backingWidth));
}

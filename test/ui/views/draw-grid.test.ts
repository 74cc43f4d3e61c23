// Sample and completion grids: layout sizes and the RGBA bytes of cells, gaps and filled-in pixels.
import { describe, expect, it } from 'vitest';
import { FILLED_RGB, GAP_RGB, gridLayout, imagesToRgba, integerScale } from '../../../src/ui/views/draw-grid.ts';

describe('gridLayout', () => {
  it('fits count images into at most `columns` columns with gaps', () => {
    expect(gridLayout(8, 4)).toEqual({ columns: 4, rows: 2, width: 118, height: 58 });
    expect(gridLayout(16, 8, 0)).toEqual({ columns: 8, rows: 2, width: 224, height: 56 });
    expect(gridLayout(3, 16)).toEqual({ columns: 3, rows: 1, width: 88, height: 28 });
    expect(gridLayout(0, 4)).toEqual({ columns: 1, rows: 1, width: 28, height: 28 });
  });

  it('picks a whole scale for crisp pixels', () => {
    expect(integerScale(118, 480)).toBe(4);
    expect(integerScale(118, 100)).toBe(1);
  });
});

describe('imagesToRgba', () => {
  it('writes white-on-black cells, gray gaps and tinted filled-in pixels', () => {
    const D = 784;
    const pixels = new Uint8Array(3 * D);
    pixels[0] = 255; // image 0, pixel (0, 0)
    pixels[D + 27] = 100; // image 1, pixel (27, 0)
    pixels[2 * D + 28 * 27] = 255; // image 2, pixel (0, 27): filled in
    const missing = new Uint8Array(D);
    missing[28 * 27] = 1;
    const { layout, rgba } = imagesToRgba(pixels, 3, 2, missing);
    expect(layout).toEqual({ columns: 2, rows: 2, width: 58, height: 58 });
    const px = (x: number, y: number): number[] => Array.from(rgba.subarray((y * 58 + x) * 4, (y * 58 + x) * 4 + 4));
    expect(px(0, 0)).toEqual([255, 255, 255, 255]);
    expect(px(1, 0)).toEqual([0, 0, 0, 255]);
    // Gap between column 0 and 1.
    expect(px(28, 0)).toEqual([...GAP_RGB, 255]);
    // Image 1 starts at x = 30.
    expect(px(30 + 27, 0)).toEqual([100, 100, 100, 255]);
    // Image 2 in row 1 (y from 30), its pixel (0, 27) is filled in: full amber.
    expect(px(0, 30 + 27)).toEqual([...FILLED_RGB, 255]);
    // The empty fourth cell stays gap-coloured.
    expect(px(40, 40)).toEqual([...GAP_RGB, 255]);
  });

  it('refuses too few bytes', () => {
    expect(() => imagesToRgba(new Uint8Array(10), 1, 1)).toThrow(/784/);
  });
});

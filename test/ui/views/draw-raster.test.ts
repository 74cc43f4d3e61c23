// Stroke rasterisation behind the drawing canvas: exact ink values of a known capsule.
import { describe, expect, it } from 'vitest';
import { createRaster, distanceToSegment, hasInk, paintSegment, paintStroke } from '../../../src/ui/views/draw-raster.ts';

describe('distanceToSegment', () => {
  it('measures to the nearest point of the segment, caps included', () => {
    expect(distanceToSegment(5, 3, 0, 0, 10, 0)).toBe(3);
    expect(distanceToSegment(13, 4, 0, 0, 10, 0)).toBe(5);
    expect(distanceToSegment(-3, 0, 0, 0, 10, 0)).toBe(3);
    // A zero-length segment is a point.
    expect(distanceToSegment(3, 4, 0, 0, 0, 0)).toBe(5);
  });
});

describe('paintSegment', () => {
  it('paints a round-capped capsule with a one-pixel anti-aliased edge', () => {
    const r = createRaster(20, 20);
    const box = paintSegment(r, 5.5, 10.5, 15.5, 10.5, 2);
    expect(box).toEqual({ x0: 3, y0: 8, x1: 18, y1: 13 });
    const at = (x: number, y: number): number => r.data[y * 20 + x];
    // Across the middle: distance 0, 1, 2, 3 from the axis -> coverage 1, 1, 0.5, 0.
    expect([at(10, 10), at(10, 11), at(10, 12), at(10, 13)]).toEqual([255, 255, 128, 0]);
    expect([at(10, 9), at(10, 8), at(10, 7)]).toEqual([255, 128, 0]);
    // Along the axis past the left end (round cap): distance 1, 2, 3.
    expect([at(4, 10), at(3, 10), at(2, 10)]).toEqual([255, 128, 0]);
    // Diagonal off the cap: distance sqrt(5) = 2.236 -> coverage 0.264 -> 67.
    expect(at(3, 9)).toBe(67);
    // Nothing outside the returned box.
    let outside = 0;
    for (let y = 0; y < 20; y++) for (let x = 0; x < 20; x++) if ((x < 3 || x >= 18 || y < 8 || y >= 13) && at(x, y)) outside++;
    expect(outside).toBe(0);
  });

  it('keeps the larger ink where segments overlap and clips at the edges', () => {
    const r = createRaster(10, 10);
    paintSegment(r, 0, 0, 0, 0, 3);
    paintSegment(r, 0, 0, 0, 0, 3);
    expect(r.data[0]).toBe(255);
    expect(Math.max(...r.data)).toBe(255);
    // A faint value does not lighten existing ink.
    paintSegment(r, 0.5, 0.5, 0.5, 0.5, 1, 100);
    expect(r.data[0]).toBe(255);
    const box = paintSegment(r, -20, -20, -20, -20, 2);
    expect(box.x1 - box.x0).toBe(0);
  });

  it('paints a tap as a dot and strokes as joined segments', () => {
    const r = createRaster(8, 8);
    expect(hasInk(r)).toBe(false);
    paintStroke(r, [[4.5, 4.5]], 0);
    // Radius 0: the pixel whose centre is the point is half covered.
    expect(r.data[4 * 8 + 4]).toBe(128);
    expect(hasInk(r)).toBe(true);
    const s = createRaster(30, 10);
    paintStroke(
      s,
      [
        [2.5, 5.5],
        [12.5, 5.5],
        [25.5, 5.5],
      ],
      1,
    );
    let inked = 0;
    for (let x = 0; x < 30; x++) if (s.data[5 * 30 + x] === 255) inked++;
    // Full ink where the pixel centre is within 0.5 of the polyline: centres 2.5 .. 25.5, pixels 2..25.
    expect(inked).toBe(24);
    expect(s.data[5 * 30 + 1]).toBe(128);
  });

  it('rejects nonsense sizes', () => {
    expect(() => createRaster(0, 5)).toThrow(/positive/);
  });
});

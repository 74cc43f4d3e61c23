// Erased canvas regions -> the 28x28 missing mask, through the same map preprocessDrawing applies.
import { describe, expect, it } from 'vitest';
import { countMissing, drawingTransform, erasedCoverage, missingMask } from '../../../src/ui/views/draw-mask.ts';

const W = 280;

function rect(x0: number, y0: number, x1: number, y1: number, w = W, h = W): Uint8Array {
  const a = new Uint8Array(w * h);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) a[y * w + x] = 255;
  return a;
}

describe('drawingTransform', () => {
  it('places a filled square at the centre with a 10x scale', () => {
    expect(drawingTransform(rect(40, 40, 240, 240), W, W)).toEqual({ x0: 40, y0: 40, bw: 200, bh: 200, tw: 20, th: 20, dx: 5, dy: 5 });
  });

  it('squeezes the whole canvas onto the field when nothing is drawn', () => {
    expect(drawingTransform(new Uint8Array(W * W), W, W)).toEqual({ x0: 0, y0: 0, bw: W, bh: W, tw: 28, th: 28, dx: 0, dy: 0 });
  });
});

describe('missingMask', () => {
  const t = drawingTransform(rect(40, 40, 240, 240), W, W);

  it('marks the cells whose canvas area was erased, through the transform', () => {
    // Cell i covers canvas x in [40 + 10 (i - 5), +10): erasing x in [140, 240) frees columns 15..24;
    // all canvas rows free rows 1..27 (row 0 stands for canvas y in [-10, 0), off the canvas).
    const mask = missingMask(rect(140, 0, 240, W), W, W, t);
    expect(countMissing(mask)).toBe(10 * 27);
    for (let j = 0; j < 28; j++) {
      for (let i = 0; i < 28; i++) expect(mask[j * 28 + i], `cell ${i},${j}`).toBe(i >= 15 && i <= 24 && j >= 1 ? 1 : 0);
    }
  });

  it('needs enough of a cell erased (threshold)', () => {
    // x from 135: cell 14 ([130, 140)) is half erased.
    const erase = rect(135, 100, 240, 110);
    const cover = erasedCoverage(erase, W, W, t);
    // Row 11 stands for canvas y in [100, 110).
    expect(cover[11 * 28 + 14]).toBeCloseTo(0.5, 12);
    expect(cover[11 * 28 + 15]).toBeCloseTo(1, 12);
    expect(cover[11 * 28 + 13]).toBe(0);
    expect(missingMask(erase, W, W, t)[11 * 28 + 14]).toBe(1);
    expect(missingMask(erase, W, W, t, 0.6)[11 * 28 + 14]).toBe(0);
    expect(countMissing(missingMask(erase, W, W, t, 0.6))).toBe(10);
    // Faint erasing counts in proportion.
    const faint = erase.map((v) => (v ? 102 : 0));
    expect(erasedCoverage(faint, W, W, t)[11 * 28 + 15]).toBeCloseTo(0.4, 12);
    expect(countMissing(missingMask(faint, W, W, t))).toBe(0);
  });

  it('maps an erased stroke on an empty drawing through the whole-canvas map', () => {
    const t0 = drawingTransform(new Uint8Array(W * W), W, W);
    // Canvas x in [0, 140) is the left half: columns 0..13.
    expect(countMissing(missingMask(rect(0, 0, 140, W), W, W, t0))).toBe(14 * 28);
  });
});

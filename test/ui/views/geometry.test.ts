// Geometry and encodings of the circuit and region views: pixel centres and tree-edge segments, click
// and keyboard moves on the pixel grid, kept fractions, width/colour scales (monotone, finite at 0 and
// at the extremes), histogram bars and the cut, matrix/bipartite hit testing, the grow animation.
import { describe, expect, it } from 'vitest';
import type { Histogram } from '../../../src/worker/protocol.ts';
import { bipartiteHit, bipartiteLayout, findEntry, matrixHit, matrixLayout, nodeX } from '../../../src/ui/views/block-layout.ts';
import { keptFraction, keptFractions, moveFocus, pixelAt, pixelCentre, treeSegments } from '../../../src/ui/views/grid.ts';
import { dotGrid, dotGridHeight, easeInOut, growDotPositions, growProgress } from '../../../src/ui/views/grow-anim.ts';
import { histogramLayout, rebin } from '../../../src/ui/views/histogram-layout.ts';
import { colorLut, edgeWidth, finiteMax, logT, lutIndex, positiveMin, ramp, rampThrough, rgba } from '../../../src/ui/views/scales.ts';

describe('pixel grid', () => {
  it('variable v is column v % 28, row floor(v / 28); centres are half a cell in', () => {
    expect(pixelCentre(0, 28, 10)).toEqual({ x: 5, y: 5 });
    expect(pixelCentre(29, 28, 10)).toEqual({ x: 15, y: 15 });
    expect(pixelCentre(783, 28, 10)).toEqual({ x: 275, y: 275 });
    expect(pixelCentre(406, 28, 20)).toEqual({ x: 14.5 * 20, y: 14.5 * 20 });
  });

  it('pixelAt inverts pixelCentre and is null outside the grid', () => {
    for (const v of [0, 27, 28, 406, 783]) {
      const c = pixelCentre(v, 28, 12.5);
      expect(pixelAt(c.x, c.y, 28, 12.5)).toBe(v);
    }
    expect(pixelAt(0, 0, 28, 10)).toBe(0);
    expect(pixelAt(279.9, 279.9, 28, 10)).toBe(783);
    expect(pixelAt(280, 5, 28, 10)).toBeNull();
    expect(pixelAt(-1, 5, 28, 10)).toBeNull();
    expect(pixelAt(NaN, 5, 28, 10)).toBeNull();
    expect(pixelAt(5, 5, 28, 0)).toBeNull();
  });

  it('treeSegments: one segment per non-root variable, child centre to parent centre', () => {
    // 2x2 image: root 0; 1 -> 0, 2 -> 0, 3 -> 1.
    const s = treeSegments(Int32Array.from([-1, 0, 0, 1]), 2, 10);
    expect(Array.from(s.child)).toEqual([1, 2, 3]);
    expect(Array.from(s.coords)).toEqual([15, 5, 5, 5, 5, 15, 5, 5, 15, 15, 15, 5]);
    const big = new Int32Array(784).map((_, v) => v - 1);
    expect(treeSegments(big, 28, 10).child.length).toBe(783);
  });

  it('moveFocus: arrows move one pixel and stop at the border', () => {
    expect(moveFocus(406, 'ArrowRight', 28)).toBe(407);
    expect(moveFocus(406, 'ArrowLeft', 28)).toBe(405);
    expect(moveFocus(406, 'ArrowUp', 28)).toBe(378);
    expect(moveFocus(406, 'ArrowDown', 28)).toBe(434);
    expect(moveFocus(27, 'ArrowRight', 28)).toBe(27);
    expect(moveFocus(28, 'ArrowLeft', 28)).toBe(28);
    expect(moveFocus(5, 'ArrowUp', 28)).toBe(5);
    expect(moveFocus(780, 'ArrowDown', 28)).toBe(780);
    expect(moveFocus(400, 'End', 28)).toBe(783);
    expect(moveFocus(400, 'Home', 28)).toBe(0);
    expect(moveFocus(400, 'x', 28)).toBe(400);
  });

  it('keptFraction: edges over rows x cols, the root a 1-row block, never NaN', () => {
    expect(keptFraction(64, 16, 16)).toBe(0.25);
    expect(keptFraction(256, 16, 16)).toBe(1);
    expect(keptFraction(0, 16, 16)).toBe(0);
    expect(keptFraction(5, 0, 16)).toBe(0);
    expect(keptFraction(NaN, 4, 4)).toBe(0);
    expect(keptFraction(20, 4, 4)).toBe(1);
    const k = keptFractions(Int32Array.from([-1, 0]), Int32Array.from([4, 8]), Int32Array.from([2, 16]));
    expect(Array.from(k)).toEqual([0.5, 0.5]);
  });
});

describe('scales', () => {
  it('edgeWidth: minW at 0, maxW at the maximum, square root in between, monotone and finite', () => {
    expect(edgeWidth(0, 2, 0.5, 5)).toBe(0.5);
    expect(edgeWidth(2, 2, 0.5, 5)).toBe(5);
    expect(edgeWidth(0.5, 2, 0.5, 5)).toBeCloseTo(0.5 + 4.5 * 0.5, 12);
    expect(edgeWidth(4, 2, 0.5, 5)).toBe(5);
    for (const bad of [NaN, -1, Infinity]) expect(edgeWidth(bad, 2, 0.5, 5)).toBe(0.5);
    expect(edgeWidth(1, 0, 0.5, 5)).toBe(0.5);
    let prev = -Infinity;
    for (let i = 0; i <= 100; i++) {
      const w = edgeWidth(i / 50, 2);
      expect(w).toBeGreaterThanOrEqual(prev);
      prev = w;
    }
  });

  it('logT: 0 at lo, 1 at hi, halfway in log, clamped; 0 for zero and non-finite flows', () => {
    expect(logT(1e-6, 1e-6, 1e-2)).toBe(0);
    expect(logT(1e-2, 1e-6, 1e-2)).toBe(1);
    expect(logT(1e-4, 1e-6, 1e-2)).toBeCloseTo(0.5, 12);
    expect(logT(1e-9, 1e-6, 1e-2)).toBe(0);
    expect(logT(1, 1e-6, 1e-2)).toBe(1);
    expect(logT(0, 1e-6, 1e-2)).toBe(0);
    expect(logT(NaN, 1e-6, 1e-2)).toBe(0);
    expect(logT(0.3, 0.3, 0.3)).toBe(1);
    expect(logT(Number.MIN_VALUE, Number.MIN_VALUE, Number.MAX_VALUE)).toBe(0);
    expect(logT(Number.MAX_VALUE, Number.MIN_VALUE, Number.MAX_VALUE)).toBe(1);
    let prev = -1;
    for (let e = -8; e <= 0; e += 0.5) {
      const t = logT(10 ** e, 1e-6, 1e-2);
      expect(t).toBeGreaterThanOrEqual(prev);
      prev = t;
    }
  });

  it('finiteMax / positiveMin skip non-finite and non-positive values', () => {
    expect(finiteMax(Float32Array.from([0.1, NaN, 3, Infinity]))).toBe(3);
    expect(finiteMax(new Float32Array(3))).toBe(0);
    expect(positiveMin(Float32Array.from([0, 0.5, 0.25, -1]))).toBe(0.25);
    expect(positiveMin(new Float32Array(3))).toBe(0);
  });

  it('colour ramps hit their ends, clamp, and the LUT is finite RGBA', () => {
    const r = ramp('#000000', '#ffffff');
    expect(rgba(r(0))).toEqual([0, 0, 0, 255]);
    expect(rgba(r(1))).toEqual([255, 255, 255, 255]);
    expect(rgba(r(2))).toEqual([255, 255, 255, 255]);
    expect(rgba(r(NaN))).toEqual([0, 0, 0, 255]);
    const three = rampThrough(['#ff0000', '#00ff00', '#0000ff']);
    expect(rgba(three(0.5))).toEqual([0, 255, 0, 255]);
    const lut = colorLut(three, 256);
    expect(lut.length).toBe(1024);
    expect(Array.from(lut.subarray(0, 4))).toEqual([255, 0, 0, 255]);
    expect(Array.from(lut.subarray(1020, 1024))).toEqual([0, 0, 255, 255]);
    expect(rgba('not a colour')).toEqual([128, 128, 128, 255]);
    expect(rgba('rgb(10, 20, 30)')).toEqual([10, 20, 30, 255]);
    expect(lutIndex(0)).toBe(0);
    expect(lutIndex(1)).toBe(255);
    expect(lutIndex(0.5)).toBe(128);
    expect(lutIndex(NaN)).toBe(0);
    expect(lutIndex(7)).toBe(255);
  });
});

describe('histogram layout', () => {
  const hist = (counts: number[], min: number, max: number): Histogram => ({
    min,
    max,
    counts: Int32Array.from(counts),
    total: counts.reduce((a, b) => a + b, 0),
  });

  it('rebin merges adjacent bins by a whole factor to at most maxBars', () => {
    const h = hist(
      Array.from({ length: 100 }, (_, i) => i),
      -5,
      0,
    );
    const r = rebin(h, 60);
    expect(r.counts.length).toBe(50);
    expect(r.counts[0]).toBe(0 + 1);
    expect(r.counts[49]).toBe(98 + 99);
    expect(r.max).toBe(0);
    expect(r.total).toBe(h.total);
    const odd = rebin(hist([1, 1, 1, 1, 1], 0, 5), 2);
    expect(Array.from(odd.counts)).toEqual([3, 2]);
    // The last bar covers 3 bins' width like the others: the range widens to 6.
    expect(odd.max).toBe(6);
    expect(rebin(h, 200)).toBe(h);
  });

  it("places bars, the cut line and each bar's removed part (stacked at the bottom, from the per-bin counts)", () => {
    const l = histogramLayout(hist([2, 4, 1, 0], -4, 0), -2.5, 400, 100, 60, Int32Array.of(2, 1, 0, 0));
    expect(l.bars.map((b) => [b.x, b.width, b.y, b.height])).toEqual([
      [0, 100, 50, 50],
      [100, 100, 0, 100],
      [200, 100, 75, 25],
      [300, 100, 100, 0],
    ]);
    expect(l.thresholdX).toBe(150);
    expect(l.bars.map((b) => [b.removed, b.removedHeight])).toEqual([
      [2, 50],
      [1, 25],
      [0, 0],
      [0, 0],
    ]);
    // Merged bins merge their removed counts too; counts of the wrong length are ignored.
    const merged = histogramLayout(hist([2, 4, 1, 0], -4, 0), -2.5, 400, 100, 2, Int32Array.of(2, 1, 0, 0));
    expect(merged.bars.map((b) => b.removed)).toEqual([3, 0]);
    expect(histogramLayout(hist([2, 4], -4, 0), -2.5, 400, 100, 60, Int32Array.of(1)).bars.map((b) => b.removed)).toEqual([0, 0]);
    expect(l.bars[1]).toMatchObject({ lo: -3, hi: -2, count: 4 });
  });

  it('clamps the cut into the box, and degenerate input lays out nothing (never NaN)', () => {
    expect(histogramLayout(hist([1, 1], 0, 1), -10, 200, 50).thresholdX).toBe(0);
    expect(histogramLayout(hist([1, 1], 0, 1), 10, 200, 50).thresholdX).toBe(200);
    expect(histogramLayout(hist([1, 1], 0, 1), null, 200, 50).thresholdX).toBeNull();
    expect(histogramLayout(hist([1, 1], 0, 1), NaN, 200, 50).thresholdX).toBeNull();
    const flat = histogramLayout(hist([3], 2, 2), 2, 200, 50);
    expect(flat.bars).toEqual([]);
    expect(flat.thresholdX).toBeNull();
    const zeros = histogramLayout(hist([0, 0], 0, 1), 0.5, 200, 50);
    for (const b of zeros.bars) expect([b.x, b.y, b.width, b.height].every(Number.isFinite)).toBe(true);
    expect(histogramLayout(hist(Array(300).fill(1), 0, 3), 1, 600, 50).bars.length).toBeLessThanOrEqual(60);
  });
});

describe('block layout', () => {
  it('matrix cells are square and fit the box', () => {
    expect(matrixLayout(16, 16, 320, 500)).toEqual({ rows: 16, cols: 16, cell: 20, width: 320, height: 320 });
    const big = matrixLayout(256, 256, 512, 512);
    expect(big.cell).toBe(2);
    expect(matrixLayout(1, 16, 320, 500).height).toBe(20);
    expect(matrixLayout(0, 16, 320, 500).cell).toBe(0);
  });

  it('matrixHit maps (x, y) to (row, col) and is null outside', () => {
    const m = matrixLayout(16, 32, 320, 500); // cell 10
    expect(matrixHit(0, 0, m)).toEqual({ row: 0, col: 0 });
    expect(matrixHit(25, 15, m)).toEqual({ row: 1, col: 2 });
    expect(matrixHit(319.9, 159.9, m)).toEqual({ row: 15, col: 31 });
    expect(matrixHit(320, 5, m)).toBeNull();
    expect(matrixHit(5, 160, m)).toBeNull();
    expect(matrixHit(-0.1, 5, m)).toBeNull();
    expect(matrixHit(NaN, 5, m)).toBeNull();
    const big = matrixLayout(256, 256, 300, 300);
    expect(matrixHit(299.99, 299.99, big)).toEqual({ row: 255, col: 255 });
  });

  it('findEntry finds (row, col) in a CSR block, -1 for pruned entries', () => {
    // Row 0: cols 1, 3; row 1: none; row 2: cols 0, 2, 3.
    const rowPtr = Int32Array.from([0, 2, 2, 5]);
    const colIdx = Int32Array.from([1, 3, 0, 2, 3]);
    expect(findEntry(rowPtr, colIdx, 0, 1)).toBe(0);
    expect(findEntry(rowPtr, colIdx, 0, 3)).toBe(1);
    expect(findEntry(rowPtr, colIdx, 0, 2)).toBe(-1);
    expect(findEntry(rowPtr, colIdx, 1, 0)).toBe(-1);
    expect(findEntry(rowPtr, colIdx, 2, 0)).toBe(2);
    expect(findEntry(rowPtr, colIdx, 2, 3)).toBe(4);
    expect(findEntry(rowPtr, colIdx, 3, 0)).toBe(-1);
    expect(findEntry(rowPtr, colIdx, -1, 0)).toBe(-1);
  });

  it('bipartite nodes spread over the line and hits find the nearest node', () => {
    const b = bipartiteLayout(4, 8, 400, 280);
    expect(nodeX(0, 4, b)).toBe(b.pad);
    expect(nodeX(3, 4, b)).toBe(400 - b.pad);
    expect(nodeX(0, 1, b)).toBe(200);
    expect(bipartiteHit(nodeX(2, 4, b) + 1, b.topY, b)).toEqual({ side: 'row', index: 2 });
    expect(bipartiteHit(nodeX(5, 8, b) - 1, b.bottomY + 2, b)).toEqual({ side: 'col', index: 5 });
    expect(bipartiteHit(200, (b.topY + b.bottomY) / 2, b)).toBeNull();
    const dense = bipartiteLayout(256, 256, 400, 280);
    expect(dense.radius).toBeGreaterThanOrEqual(1);
    expect(bipartiteHit(nodeX(255, 256, dense), dense.bottomY, dense)).toEqual({ side: 'col', index: 255 });
  });
});

describe('grow animation', () => {
  it('eases from 0 to 1 monotonically, clamped, over 800 ms', () => {
    expect(easeInOut(0)).toBe(0);
    expect(easeInOut(0.5)).toBe(0.5);
    expect(easeInOut(1)).toBe(1);
    expect(easeInOut(-1)).toBe(0);
    expect(easeInOut(NaN)).toBe(1);
    expect(growProgress(400, 800)).toBe(0.5);
    expect(growProgress(1000, 800)).toBe(1);
    expect(growProgress(10, 0)).toBe(1);
    let prev = 0;
    for (let ms = 0; ms <= 800; ms += 20) {
      const p = growProgress(ms);
      expect(p).toBeGreaterThanOrEqual(prev);
      prev = p;
    }
  });

  it('each copy starts on its original (node j from node j mod K) and ends on the new grid', () => {
    const K = 4;
    const g = dotGrid(8, 4, 10); // new grid: 2 rows of 4
    expect(dotGridHeight(g)).toBe(20);
    const start = growDotPositions(K, 8, 0, 4, 10);
    const end = growDotPositions(K, 8, 1, 4, 10);
    const mid = growDotPositions(K, 8, 0.5, 4, 10);
    // Start: dots 0..3 and their copies 4..7 sit on the old row (y = 5, x = 5, 15, 25, 35).
    expect(Array.from(start)).toEqual([5, 5, 15, 5, 25, 5, 35, 5, 5, 5, 15, 5, 25, 5, 35, 5]);
    // End: the new 4-column grid, copies on the second row.
    expect(Array.from(end)).toEqual([5, 5, 15, 5, 25, 5, 35, 5, 5, 15, 15, 15, 25, 15, 35, 15]);
    expect(mid[2 * 5 + 1]).toBe(10);
    // No previous K: everything already in place.
    expect(Array.from(growDotPositions(0, 8, 0, 4, 10))).toEqual(Array.from(end));
    for (const v of growDotPositions(16, 32, NaN)) expect(Number.isFinite(v)).toBe(true);
  });
});

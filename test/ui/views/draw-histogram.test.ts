// Where a bpd falls among the validation digits: interpolated percentiles and building histograms.
import { describe, expect, it } from 'vitest';
import type { Histogram } from '../../../src/worker/protocol.ts';
import { histogramOf } from '../../../src/worker/histogram.ts';
import { betterThanPercent, percentileBelow } from '../../../src/ui/views/draw-histogram.ts';

const h: Histogram = { min: 1, max: 3, counts: Int32Array.from([1, 2, 3, 4]), total: 10 };

describe('percentileBelow', () => {
  it('is 0 and 100 at and beyond the ends', () => {
    expect(percentileBelow(h, 1)).toBe(0);
    expect(percentileBelow(h, -5)).toBe(0);
    expect(percentileBelow(h, 3)).toBe(100);
    expect(percentileBelow(h, 7)).toBe(100);
    expect(percentileBelow(h, -Infinity)).toBe(0);
    expect(percentileBelow(h, Infinity)).toBe(100);
  });

  it('counts whole bins below and interpolates inside the bin', () => {
    // Bins of width 0.5: [1,1.5) 1, [1.5,2) 2, [2,2.5) 3, [2.5,3] 4.
    expect(percentileBelow(h, 2)).toBeCloseTo(30, 12);
    expect(percentileBelow(h, 2.25)).toBeCloseTo(45, 12);
    expect(percentileBelow(h, 1.1)).toBeCloseTo(2, 12);
    expect(percentileBelow(h, 2.875)).toBeCloseTo(60 + 30, 12);
  });

  it('is monotone in the value', () => {
    let prev = -1;
    for (let v = 0.5; v <= 3.5; v += 0.01) {
      const p = percentileBelow(h, v)!;
      expect(p).toBeGreaterThanOrEqual(prev);
      prev = p;
    }
  });

  it('has nothing to say about an empty histogram or NaN', () => {
    expect(percentileBelow({ min: 0, max: 1, counts: new Int32Array(4), total: 0 }, 0.5)).toBeNull();
    expect(percentileBelow(h, NaN)).toBeNull();
  });

  it('says "better than" as the share with a higher bpd', () => {
    expect(betterThanPercent(h, 2.25)).toBe(55);
    expect(betterThanPercent(h, 0.2)).toBe(100);
    expect(betterThanPercent(h, 9)).toBe(0);
  });
});

describe('histogramOf', () => {
  it('bins finite values over their range, the maximum in the last bin', () => {
    const r = histogramOf([1, 2, 2, 3, 3, 3, NaN, Infinity], 2);
    expect(r.min).toBe(1);
    expect(r.max).toBe(3);
    expect(Array.from(r.counts)).toEqual([1, 5]);
    expect(r.total).toBe(6);
  });

  it('widens a single value to a unit range and handles no data', () => {
    const r = histogramOf([5, 5], 2);
    expect([r.min, r.max, Array.from(r.counts)]).toEqual([4.5, 5.5, [0, 2]]);
    expect(percentileBelow(r, 5)).toBe(0);
    const e = histogramOf([], 3);
    expect(e.total).toBe(0);
    expect(percentileBelow(e, 0.5)).toBeNull();
    expect(() => histogramOf([1], 0)).toThrow(/bins/);
  });
});

// The surprise heatmap's colour scale: finite, clamped, and brighter for more surprising pixels.
import { describe, expect, it } from 'vitest';
import {
  infernoGradientCss,
  infernoRgb,
  luminance,
  SURPRISE_SCALE_NATS,
  surpriseRgb,
  surpriseToRgba,
  surpriseToUnit,
} from '../../../src/ui/views/draw-colour.ts';

describe('surpriseToUnit', () => {
  it('maps surprisal linearly onto [0, 1] over the fixed scale, clamped', () => {
    expect(SURPRISE_SCALE_NATS).toBe(16);
    expect(surpriseToUnit(0)).toBe(0);
    expect(surpriseToUnit(-8)).toBe(0.5);
    expect(surpriseToUnit(-16)).toBe(1);
    expect(surpriseToUnit(-4, 8)).toBe(0.5);
    expect(surpriseToUnit(-100)).toBe(1);
    expect(surpriseToUnit(1e-9)).toBe(0);
    expect(surpriseToUnit(-1, 2)).toBe(0.5);
  });

  it('treats impossible pixels and NaN as most surprising', () => {
    expect(surpriseToUnit(-Infinity)).toBe(1);
    expect(surpriseToUnit(NaN)).toBe(1);
  });
});

describe('infernoRgb', () => {
  it('hits the stops and interpolates between them', () => {
    expect(infernoRgb(0)).toEqual([0, 0, 4]);
    expect(infernoRgb(1)).toEqual([252, 255, 164]);
    expect(infernoRgb(0.5)).toEqual([188, 55, 84]);
    // Halfway between stop 0 (#000004) and stop 1 (#210c4a).
    expect(infernoRgb(1 / 16)).toEqual([17, 6, 39]);
    expect(infernoRgb(-3)).toEqual([0, 0, 4]);
    expect(infernoRgb(9)).toEqual([252, 255, 164]);
    expect(infernoRgb(NaN)).toEqual([252, 255, 164]);
  });

  it('gets brighter monotonically', () => {
    let prev = -1;
    for (let i = 0; i <= 10_000; i++) {
      const l = luminance(infernoRgb(i / 10_000));
      expect(l).toBeGreaterThanOrEqual(prev);
      prev = l;
    }
    // Strictly on the snapped levels.
    for (let i = 1; i <= 256; i++) expect(luminance(infernoRgb(i / 256))).toBeGreaterThan(luminance(infernoRgb((i - 1) / 256)));
    expect(luminance(infernoRgb(0))).toBeLessThan(0.001);
    expect(luminance(infernoRgb(1))).toBeGreaterThan(0.9);
  });
});

describe('surprise colours', () => {
  it('are brighter for more surprising pixels and finite for every input', () => {
    const values = [0.5, 0, -0.1, -1, -2, -5, -7.9, -8, -15.9, -16, -50, -Infinity];
    const lum = values.map((v) => luminance(surpriseRgb(v)));
    for (let k = 1; k < lum.length; k++) expect(lum[k]).toBeGreaterThanOrEqual(lum[k - 1]);
    expect(lum[3]).toBeGreaterThan(lum[1]);
    const rgba = surpriseToRgba(Float32Array.from([0, -8, -Infinity, NaN]));
    expect(Array.from(rgba)).toEqual([0, 0, 4, 255, 188, 55, 84, 255, 252, 255, 164, 255, 252, 255, 164, 255]);
  });

  it('has a CSS gradient for the legend through all nine stops', () => {
    const css = infernoGradientCss();
    expect(css.startsWith('linear-gradient(to right, rgb(0 0 4) 0.0%')).toBe(true);
    expect(css.endsWith('rgb(252 255 164) 100.0%)')).toBe(true);
    expect(css.match(/rgb\(/g)).toHaveLength(9);
  });
});

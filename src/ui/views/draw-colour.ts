// Colours for the per-pixel surprise heatmap. Surprise log p(x_i | x_rest) is <= 0 nats; its negation
// (the surprisal) is drawn on a fixed scale so that heatmaps of different drawings compare: 0 nats is
// black, SURPRISE_SCALE_NATS and beyond the brightest colour. The ramp is Inferno (perceptually uniform,
// readable for colour-blind visitors, and its lightness rises monotonically, so "brighter = more
// surprising" holds in grayscale too), sampled at nine stops from d3-scale-chromatic and interpolated
// linearly here so this module has no dependencies and returns plain numbers. Pure.

/**
 * Surprisal (nats) at the top of the colour scale. Measured on validation digits (K = 8 and K = 32
 * HCLTs): background pixels sit near 0.02 nats (90 % below 0.6), ink near 6 (its exact gray level
 * among 256 is hard to predict), and the 90th-99th percentiles of ink at 7-13. A 16-nat scale keeps
 * background black, ordinary ink mid-scale, and lets truly unexpected pixels stand out brightest.
 */
export const SURPRISE_SCALE_NATS = 16;

/** Inferno at t = 0, 1/8, ..., 1 (d3.interpolateInferno). */
export const INFERNO_STOPS: ReadonlyArray<readonly [number, number, number]> = [
  [0x00, 0x00, 0x04],
  [0x21, 0x0c, 0x4a],
  [0x57, 0x10, 0x6e],
  [0x8a, 0x22, 0x6a],
  [0xbc, 0x37, 0x54],
  [0xe4, 0x5a, 0x31],
  [0xf9, 0x8e, 0x09],
  [0xf9, 0xcb, 0x35],
  [0xfc, 0xff, 0xa4],
];

/**
 * Position on the scale (0..1) of a surprise value log p(x_i | rest): -surprise / scale, clamped.
 * Non-numbers and -Infinity (an impossible pixel) are the most surprising; positive rounding excess
 * counts as 0.
 */
export function surpriseToUnit(surprise: number, scaleNats = SURPRISE_SCALE_NATS): number {
  if (Number.isNaN(surprise) || surprise === -Infinity) return 1;
  const t = -surprise / scaleNats;
  return t <= 0 ? 0 : t >= 1 ? 1 : t;
}

/** Steps of the scale: t is snapped to multiples of 1/256 (the stops at multiples of 1/8 stay exact). */
const LEVELS = 256;

/**
 * Inferno colour (r, g, b bytes) at t in [0, 1] (clamped; NaN counts as 1, like an impossible pixel).
 * t is snapped to LEVELS steps first: rounding each channel of a continuous interpolation to a byte
 * lets the luminance wobble down by a hair between neighbouring t, and on the 257 snapped levels it
 * rises strictly (test/ui/views/draw-colour.test.ts), so "brighter = more surprising" holds exactly.
 */
export function infernoRgb(t: number): [number, number, number] {
  const u = Math.round((Number.isNaN(t) ? 1 : Math.max(0, Math.min(1, t))) * LEVELS) / LEVELS;
  const last = INFERNO_STOPS.length - 1;
  const x = u * last;
  const i = Math.min(last - 1, Math.floor(x));
  const f = x - i;
  const a = INFERNO_STOPS[i];
  const b = INFERNO_STOPS[i + 1];
  return [Math.round(a[0] + f * (b[0] - a[0])), Math.round(a[1] + f * (b[1] - a[1])), Math.round(a[2] + f * (b[2] - a[2]))];
}

export function surpriseRgb(surprise: number, scaleNats = SURPRISE_SCALE_NATS): [number, number, number] {
  return infernoRgb(surpriseToUnit(surprise, scaleNats));
}

/** Relative luminance (sRGB -> linear, Rec. 709 weights), 0..1: what "brighter" means in tests. */
export function luminance([r, g, b]: readonly [number, number, number]): number {
  const lin = (c: number): number => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** RGBA bytes (28 x 28 x 4 for a digit) of a surprise map, for putImageData. */
export function surpriseToRgba(surprise: ArrayLike<number>, scaleNats = SURPRISE_SCALE_NATS): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(surprise.length * 4);
  for (let k = 0; k < surprise.length; k++) {
    const [r, g, b] = surpriseRgb(surprise[k], scaleNats);
    out[4 * k] = r;
    out[4 * k + 1] = g;
    out[4 * k + 2] = b;
    out[4 * k + 3] = 255;
  }
  return out;
}

/** A CSS linear-gradient through the stops, for the legend bar (left = unsurprising). */
export function infernoGradientCss(direction = 'to right'): string {
  const last = INFERNO_STOPS.length - 1;
  const stops = INFERNO_STOPS.map(([r, g, b], i) => `rgb(${r} ${g} ${b}) ${((100 * i) / last).toFixed(1)}%`);
  return `linear-gradient(${direction}, ${stops.join(', ')})`;
}

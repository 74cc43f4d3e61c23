// Drawn digits are preprocessed like MNIST: bounding box to 20x20 keeping the aspect ratio,
// centre of mass at the centre of the 28x28 field.
import { describe, expect, it } from 'vitest';
import { centreOfMass, inkBoundingBox, preprocessDrawing } from '../../src/data/preprocess.ts';
import { embeddedSubset } from '../helpers/data.ts';

describe('preprocessDrawing', () => {
  it('an empty drawing gives an empty image', () => {
    expect(preprocessDrawing(new Uint8Array(300 * 200), 300, 200)).toEqual(new Uint8Array(784));
  });

  it('a solid 100 x 50 rectangle becomes a 20 x 10 block of full ink, centred', () => {
    const W = 300;
    const H = 200;
    const g = new Uint8Array(W * H);
    for (let y = 30; y < 80; y++) for (let x = 150; x < 250; x++) g[y * W + x] = 255;
    const out = preprocessDrawing(g, W, H);
    const box = inkBoundingBox(out, 28, 28)!;
    expect([box.x1 - box.x0, box.y1 - box.y0]).toEqual([20, 10]);
    expect(out.filter((v) => v === 255).length).toBe(200);
    expect(out.filter((v) => v > 0).length).toBe(200);
    const com = centreOfMass(out, 28, 28)!;
    expect(Math.abs(com.x - 14.5)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(com.y - 14.5)).toBeLessThanOrEqual(0.5);
  });

  it('a tall stroke keeps its aspect ratio (20 high) and anti-aliases its edges', () => {
    const W = 64;
    const H = 64;
    const g = new Uint8Array(W * H);
    for (let y = 2; y < 62; y++) for (let x = 30; x < 37; x++) g[y * W + x] = 255; // 7 x 60
    const out = preprocessDrawing(g, W, H);
    const box = inkBoundingBox(out, 28, 28)!;
    expect(box.y1 - box.y0).toBe(20);
    expect(box.x1 - box.x0).toBe(2); // 7 * 20/60 = 2.33 -> 2 columns
    expect(Math.max(...out)).toBe(255);
  });

  it('re-preprocessing real MNIST digits scaled up 3x gives back exactly the same images', async () => {
    const data = await embeddedSubset(30, 5);
    let worst = 1;
    let exact = 0;
    for (let s = 0; s < data.count; s++) {
      const img = data.pixels.subarray(s * 784, (s + 1) * 784);
      const big = new Uint8Array(84 * 84);
      for (let y = 0; y < 84; y++) for (let x = 0; x < 84; x++) big[y * 84 + x] = img[Math.floor(y / 3) * 28 + Math.floor(x / 3)];
      const out = preprocessDrawing(big, 84, 84);
      if (out.every((v, k) => v === img[k])) exact++;
      // Pearson correlation with the original digit.
      let sa = 0,
        sb = 0,
        saa = 0,
        sbb = 0,
        sab = 0;
      for (let k = 0; k < 784; k++) {
        sa += img[k];
        sb += out[k];
        saa += img[k] * img[k];
        sbb += out[k] * out[k];
        sab += img[k] * out[k];
      }
      const n = 784;
      const r = (sab - (sa * sb) / n) / Math.sqrt((saa - (sa * sa) / n) * (sbb - (sb * sb) / n));
      worst = Math.min(worst, r);
    }
    // Every one comes back pixel for pixel: the 60-pixel box scales by exactly 1/3 and the centre of
    // mass lands where MNIST put it (checked on 770 of the embedded digits while writing this).
    expect(worst).toBeGreaterThan(1 - 1e-9);
    expect(exact).toBe(data.count);
  });
});

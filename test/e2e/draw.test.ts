// End to end: DrawPanel and SamplePanel in headless Chromium with a real model (draw-fixture.tsx fits a
// small HCLT on embedded digits and answers with CpuQueries). Draws with the mouse, checks live bpd,
// its change, the validation percentile, erase + Fill in (observed pixels kept, the missing ones in
// the erased part), samples, Clear, and that live scoring never had two requests in flight. Saves
// test-results/draw-*.png for people to look at.

import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// Type only (erased): the fixture page's call statistics, window.__draw.
import type { DrawStats } from './draw-fixture.tsx';
import { RESULTS, startPageHarness, type BrowserHarness } from './harness.ts';

const BPD = /^\d+\.\d{4}$/;

/** A mouse stroke through canvas-relative points (CSS pixels of the 280 x 280 canvas). */
async function stroke(page: Page, canvas: Locator, points: Array<[number, number]>): Promise<void> {
  const box = (await canvas.boundingBox())!;
  await page.mouse.move(box.x + points[0][0], box.y + points[0][1]);
  await page.mouse.down();
  for (const [x, y] of points.slice(1)) await page.mouse.move(box.x + x, box.y + y, { steps: 8 });
  await page.mouse.up();
}

/** Pixels of the drawing canvas that show white ink and the blue erase veil (canvas read-back). */
async function canvasPixels(page: Page): Promise<{ ink: number; veil: number }> {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  return page.evaluate(() => {
    const c = document.querySelector<HTMLCanvasElement>('canvas[aria-label="Draw a digit"]')!;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    let veil = 0;
    for (let k = 0; k < d.length; k += 4) {
      if (d[k] > 200 && d[k + 1] > 200 && d[k + 2] > 200) ink++;
      else if (d[k + 2] > d[k] + 40) veil++;
    }
    return { ink, veil };
  });
}

/** Waits until no score request is in flight and none is due (the throttle interval has passed). */
async function settle(page: Page): Promise<void> {
  await page.waitForFunction(() => window.__draw.inFlight === 0);
  await page.waitForTimeout(250);
  await page.waitForFunction(() => window.__draw.inFlight === 0);
}

describe('Draw a digit, with a real model in headless Chromium', () => {
  let h: BrowserHarness | undefined;
  let page: Page;
  let problems: string[] = [];

  beforeAll(async () => {
    ({ h, page, problems } = await startPageHarness({ width: 1000, height: 1100 }));
  });

  afterAll(async () => {
    await h?.close();
  });

  it('scores strokes live, places them among validation digits, fills in erased pixels and draws samples', async () => {
    await page.goto(`${h!.url}test/e2e/draw-fixture.html`);
    const status = page.getByTestId('fixture-status');
    await page.waitForFunction(() => /^(ready|error)/.test(document.querySelector('[data-testid="fixture-status"]')?.textContent ?? ''), null, {
      timeout: 60_000,
    });
    expect(await status.textContent()).toMatch(/^ready/);
    const stats = (): Promise<DrawStats> => page.evaluate(() => window.__draw);

    // The canvas's accessible name; nothing drawn yet: no score call, a hint, no bpd.
    const canvas = page.locator('canvas[aria-label="Draw a digit"]');
    await canvas.waitFor();
    expect(await page.getByTestId('draw-bpd').textContent()).toBe('–');
    await page.getByText('Draw a digit from 0 to 9').waitFor();
    expect((await stats()).scoreCalls).toBe(0);

    // A "7": the top bar and the diagonal.
    await stroke(page, canvas, [
      [70, 60],
      [210, 60],
      [130, 235],
    ]);
    const bpd = page.getByTestId('draw-bpd');
    await page.waitForFunction(() => /^\d+\.\d{4}$/.test(document.querySelector('[data-testid="draw-bpd"]')?.textContent ?? ''), null, { timeout: 10_000 });
    // The canvas shows the stroke (a 22-pixel brush over ~450 pixels of path).
    const drawnPixels = await canvasPixels(page);
    expect(drawnPixels.ink).toBeGreaterThan(5000);
    expect(drawnPixels.veil).toBe(0);

    // Let the final (pointerup) score land, then read both figures at once.
    await settle(page);
    const [first, llText] = await page.evaluate(() => ['draw-bpd', 'draw-ll'].map((id) => document.querySelector(`[data-testid="${id}"]`)!.textContent!));
    expect(first).toMatch(BPD);
    const firstValue = Number(first);
    expect(Number.isFinite(firstValue)).toBe(true);
    expect(firstValue).toBeGreaterThan(0);
    expect(firstValue).toBeLessThan(8);
    const ll = Number(llText);
    // bpd = -log p(x) / (784 ln 2), to the printed precision.
    expect(Math.abs(-ll / (784 * Math.LN2) - firstValue)).toBeLessThan(2e-3);

    // Where it falls among the validation digits (the panel asked for the histogram once).
    const percentile = page.getByTestId('draw-percentile');
    await percentile.waitFor({ timeout: 10_000 });
    expect(await percentile.textContent()).toMatch(/^Better than (\d|[1-9]\d|100) % of validation digits\.$/);
    expect((await stats()).needDistributionCalls).toBe(1);

    // More ink (a crossbar): the score changes.
    await stroke(page, canvas, [
      [95, 150],
      [185, 150],
    ]);
    await page.waitForFunction(
      (old) => {
        const t = document.querySelector('[data-testid="draw-bpd"]')?.textContent ?? '';
        return /^\d+\.\d{4}$/.test(t) && t !== old;
      },
      first,
      { timeout: 10_000 },
    );
    await settle(page);
    const second = Number(await bpd.textContent());
    expect(second).not.toBe(firstValue);
    await page.screenshot({ path: `${RESULTS}draw-scored.png`, fullPage: true });

    // Erase the lower part and fill it in.
    const erase = page.getByRole('button', { name: 'Erase to fill in' });
    await erase.click();
    expect(await erase.getAttribute('aria-pressed')).toBe('true');
    const scoresBeforeErase = (await stats()).scoreCalls;
    await stroke(page, canvas, [
      [60, 190],
      [230, 190],
      [230, 240],
      [60, 240],
      [60, 270],
      [230, 270],
    ]);
    await page.getByTestId('draw-missing').waitFor();
    const erasedShown = Number(await page.getByTestId('draw-missing').textContent());
    // The erased region is veiled on the canvas.
    expect((await canvasPixels(page)).veil).toBeGreaterThan(10_000);
    // Erasing marks pixels missing; it does not change the drawing, so nothing is rescored.
    expect((await stats()).scoreCalls).toBe(scoresBeforeErase);
    await page.getByRole('button', { name: 'Fill in', exact: true }).click();
    const fillCount = page.getByTestId('fill-count');
    await fillCount.waitFor({ timeout: 15_000 });
    expect(await fillCount.textContent()).toBe('8');
    expect(await page.getByTestId('fill-grid').getAttribute('data-count')).toBe('8');
    const inp = (await stats()).lastInpaint!;
    expect(inp.count).toBe(8);
    let missingCount = 0;
    let lowerHalf = 0;
    for (let v = 0; v < 784; v++) {
      if (!inp.missing[v]) continue;
      missingCount++;
      if (Math.floor(v / 28) >= 14) lowerHalf++;
    }
    expect(missingCount).toBeGreaterThan(20);
    expect(missingCount).toBe(erasedShown);
    // The erased canvas rows (190..270 of 280) land in the lower part of the 28x28 image.
    expect(lowerHalf / missingCount).toBeGreaterThan(0.9);
    // Observed pixels are kept in every completion.
    for (let n = 0; n < 8; n++) {
      for (let v = 0; v < 784; v++) if (!inp.missing[v]) expect(inp.result[n * 784 + v]).toBe(inp.pixels[v]);
    }
    await page.screenshot({ path: `${RESULTS}draw-filled.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: `${RESULTS}draw-dark.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });

    // Samples: 16 per click, the seed moves on.
    expect(await page.getByTestId('sample-seed').textContent()).toBe('1');
    await page.getByRole('button', { name: 'Draw samples' }).click();
    await page.getByTestId('sample-count').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('sample-count').textContent()).toBe('16');
    expect(await page.getByTestId('sample-seed').textContent()).toBe('2');
    await page.getByTestId('sample-grid').screenshot({ path: `${RESULTS}draw-samples.png` });

    // Clear: no score, no completions, and no further score calls for the empty canvas.
    await page.getByRole('button', { name: 'Clear', exact: true }).click();
    expect(await bpd.textContent()).toBe('–');
    expect(await fillCount.count()).toBe(0);
    expect(await canvasPixels(page)).toEqual({ ink: 0, veil: 0 });
    const afterClear = (await stats()).scoreCalls;
    await page.waitForTimeout(300);
    const s = await stats();
    expect(s.scoreCalls).toBe(afterClear);
    // Live scoring never queued: at most one request in flight, and fewer calls than mouse moves.
    expect(s.maxInFlight).toBe(1);
    expect(s.inFlight).toBe(0);
    expect(s.scoreCalls).toBeGreaterThan(1);
    expect(problems).toEqual([]);
  });
});

// End to end: the training and circuit views on the synthetic fixture (views-fixture.html) in headless
// Chromium. Clicks a pixel of the circuit canvas and checks the region view names it with the right
// block shape (the root's 1 x 16, another pixel's 16 x 16), moves with the keyboard, reads the prune
// panel's numbers, switches matrix/bipartite, hovers for the tooltip, grows K, draws a 256 x 256
// block, and checks that the canvases are drawn (pixels read back) and no SVG path holds NaN.
// Screenshots go to test-results/views-*.png for people to look at.

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESULTS, startPageHarness, type BrowserHarness } from './harness.ts';

/** Distinct opaque colours in a canvas (a blank or failed drawing has 0 or 1). */
async function canvasColours(page: Page, testId: string): Promise<number> {
  return page.getByTestId(testId).evaluate((c: HTMLCanvasElement) => {
    const ctx = c.getContext('2d')!;
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set<number>();
    for (let i = 0; i < d.length; i += 4 * 7) if (d[i + 3] === 255) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    return seen.size;
  });
}

/** Clicks pixel v of the 28 x 28 circuit canvas at its centre. */
async function clickPixel(page: Page, v: number): Promise<void> {
  const box = (await page.getByTestId('circuit-canvas').boundingBox())!;
  const cell = box.width / 28;
  await page.mouse.click(box.x + ((v % 28) + 0.5) * cell, box.y + (Math.floor(v / 28) + 0.5) * cell);
}

describe('training and circuit views in headless Chromium', () => {
  let h: BrowserHarness | undefined;
  let page: Page;
  let problems: string[] = [];

  beforeAll(async () => {
    ({ h, page, problems } = await startPageHarness({ width: 1200, height: 1300 }));
    await page.goto(`${h!.url}test/e2e/views-fixture.html`);
    await page.getByTestId('circuit-canvas').waitFor({ timeout: 30_000 });
  });

  afterAll(async () => {
    await h?.close();
  });

  it('selects a region by clicking a pixel and by the keyboard', async () => {
    const fixture = (await page.evaluate(() => (window as unknown as { __viewsFixture: { root: number; parent: number[] } }).__viewsFixture))!;
    expect(fixture.parent[fixture.root]).toBe(-1);
    expect(await page.getByTestId('region-title').textContent()).toBe('Region');

    await clickPixel(page, fixture.root);
    await expect.poll(() => page.getByTestId('region-title').textContent()).toBe('Region of pixel 406 (column 14, row 14)');
    // The root has one sum node over its 16 products.
    expect(await page.getByTestId('region-shape').textContent()).toBe('1 × 16');

    await clickPixel(page, 100);
    await expect.poll(() => page.getByTestId('region-title').textContent()).toBe('Region of pixel 100 (column 16, row 3)');
    expect(await page.getByTestId('region-shape').textContent()).toBe('16 × 16');
    expect(await canvasColours(page, 'circuit-canvas')).toBeGreaterThan(10);
    expect(await canvasColours(page, 'region-canvas')).toBeGreaterThan(10);

    // Keyboard: focus stays on the clicked pixel; right, down, Enter selects 100 + 1 + 28.
    await page.getByTestId('circuit-canvas').focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('region-title').textContent()).toBe('Region of pixel 129 (column 17, row 4)');
    expect(await page.getByText(/^Pixel 129 \(column 17, row 4\), parent \d+: \d+ of 256 edges kept/).count()).toBe(1);
    await page.screenshot({ path: `${RESULTS}views-fixture.png`, fullPage: true });
  });

  it('shows the tooltip on hover and switches matrix / bipartite', async () => {
    const canvas = page.getByTestId('region-canvas');
    const box = (await canvas.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.5 + 1, box.y + box.height * 0.5 + 1);
    await expect.poll(() => page.getByTestId('region-tooltip').textContent()).toMatch(/^sum node 8 → product 8/);

    await page.getByRole('button', { name: 'Bipartite graph' }).click();
    expect(await canvas.getAttribute('data-mode')).toBe('bipartite');
    expect(await page.getByRole('button', { name: 'Bipartite graph' }).getAttribute('aria-pressed')).toBe('true');
    expect(await page.getByRole('button', { name: 'Matrix' }).getAttribute('aria-pressed')).toBe('false');
    expect(await canvasColours(page, 'region-canvas')).toBeGreaterThan(10);
    await page.locator('.pcv-region').screenshot({ path: `${RESULTS}views-bipartite.png` });

    await page.getByRole('button', { name: 'Matrix' }).click();
    expect(await canvas.getAttribute('data-mode')).toBe('matrix');
    await page.locator('.pcv-region').screenshot({ path: `${RESULTS}views-matrix.png` });
  });

  it('prune panel: at most 60 bars, the cut, and the bound beside the measured drop', async () => {
    const bars = await page.locator('[data-testid="prune-histogram"] rect').count();
    expect(bars).toBeGreaterThan(10);
    // Each bar is at most two rects (removed part + kept part); the fixture's 80 bins merge to 40 bars.
    expect(bars).toBeLessThanOrEqual(2 * 60);
    expect(await page.locator('[data-testid="prune-histogram"] .cut').count()).toBe(1);
    expect(await page.locator('[data-testid="prune-histogram"] .bar-removed').count()).toBeGreaterThan(0);
    expect(Number(await page.getByTestId('bound-drop').textContent())).toBe(0.0421);
    expect(Number(await page.getByTestId('measured-drop').textContent())).toBe(0.0312);
    await page.getByRole('button', { name: 'Toggle vacuous bound' }).click();
    expect(await page.getByTestId('bound-drop').textContent()).toBe('vacuous');
    await page.getByRole('button', { name: 'Toggle vacuous bound' }).click();
    await page.locator('.pcv-prune').screenshot({ path: `${RESULTS}views-prune.png` });
  });

  it('curves: labelled charts without NaN in any path', async () => {
    const label = await page.getByTestId('bpd-chart').getAttribute('aria-label');
    expect(label).toMatch(/over 10 epochs: latest train 1\.39\d+, validation 1\.43\d+; 2 prune\/grow events marked/);
    const paths = await page.locator('.pcv-curves path').evaluateAll((ps) => ps.map((p) => p.getAttribute('d') ?? ''));
    expect(paths.length).toBe(4);
    for (const d of paths) expect(d).not.toMatch(/NaN|Infinity/);
    expect(await page.locator('.pcv-curves').getByText('prune −150.3k').count()).toBe(1);
    expect(await page.locator('.pcv-curves').getByText('grow K=32').count()).toBe(1);
    await page.locator('.pcv-curves').screenshot({ path: `${RESULTS}views-curves.png` });
  });

  it('grow animates the nodes splitting, then the summary shows K = 32', async () => {
    expect(await page.getByTestId('summary-k').textContent()).toBe('16');
    await page.getByRole('button', { name: 'Grow' }).click();
    await expect.poll(() => page.getByTestId('grow-dots').getAttribute('data-animating')).toBe('true');
    expect(await page.getByTestId('summary-k').textContent()).toBe('32');
    await expect.poll(() => page.getByTestId('grow-dots').getAttribute('data-animating'), { timeout: 5000 }).toBe('false');
    expect(await page.locator('[data-testid="grow-dots"] circle').count()).toBe(32);
  });

  it('draws a 256 x 256 block (65,536 edges) in both modes', async () => {
    await page.getByRole('button', { name: '256 × 256 block' }).click();
    await expect.poll(() => page.getByTestId('region-shape').textContent()).toBe('256 × 256');
    for (const mode of ['Bipartite graph', 'Matrix']) {
      await page.getByRole('button', { name: mode }).click();
      expect(await canvasColours(page, 'region-canvas')).toBeGreaterThan(10);
      // The component times its own drawing of the 65k edges: a few tens of ms on the 2-core machine.
      const ms = Number(await page.getByTestId('region-canvas').getAttribute('data-draw-ms'));
      console.log(`256 x 256 block, ${mode}: drawn in ${ms} ms`);
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThan(1000);
    }
    await page.locator('.pcv-region').screenshot({ path: `${RESULTS}views-big.png` });
  });

  it('follows the dark colour scheme (canvases re-read the theme)', async () => {
    const corner = () =>
      page.getByTestId('circuit-canvas').evaluate((c: HTMLCanvasElement) => Array.from(c.getContext('2d')!.getImageData(2, 2, 1, 1).data).join(','));
    const light = await corner();
    await page.emulateMedia({ colorScheme: 'dark' });
    await expect.poll(corner).not.toBe(light);
    await page.screenshot({ path: `${RESULTS}views-dark.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
    expect(problems).toEqual([]);
  });
});

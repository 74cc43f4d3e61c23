// End to end: the Experiments view in headless Chromium runs the tiny live prune-curve in its Web
// Worker (CPU engine, one thread, embedded digits fetched from the dev server) and draws the chart.
// Checks the progress, that the figure appears with only finite coordinates, that its numbers table
// has a finite bpd per criterion and fraction, and that no page or worker error occurred. Saves
// test-results/experiments.png for people to look at.

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESULTS, startPageHarness, type BrowserHarness } from './harness.ts';

describe('Experiments view in headless Chromium', () => {
  let h: BrowserHarness | undefined;
  let page: Page;
  let problems: string[] = [];

  beforeAll(async () => {
    ({ h, page, problems } = await startPageHarness({ width: 1100, height: 1200 }));
  });

  afterAll(async () => {
    await h?.close();
  });

  it('runs the tiny prune-curve live and draws the plot with finite numbers', async () => {
    await page.goto(`${h!.url}test/e2e/experiments-fixture.html`);
    const status = page.getByTestId('experiment-status');
    await status.waitFor();
    expect(await status.textContent()).toBe('Not run yet.');
    // Tiny is the default size; the radio says what it does.
    expect(await page.getByRole('radio', { name: /^Tiny/ }).isChecked()).toBe(true);

    await page.getByRole('button', { name: 'Run prune-curve' }).click();
    await page.getByTestId('experiment-progress').waitFor({ timeout: 10_000 });
    await expect.poll(() => status.textContent(), { timeout: 30_000 }).toMatch(/^Step \d+ of \d+: /);
    await page.getByTestId('experiment-figure').waitFor({ timeout: 60_000 });
    expect(await status.textContent()).toMatch(/^Done in \d+\.\d s\.$/);
    expect(await page.getByRole('button', { name: 'Run again' }).isEnabled()).toBe(true);

    // The chart: three series per panel at least, every coordinate finite, an accessible name.
    const figure = page.getByTestId('experiment-figure');
    const geometry = await figure.evaluate((svg: SVGSVGElement) => {
      const attrs: string[] = [];
      svg.querySelectorAll('*').forEach((el) => {
        for (const a of ['d', 'x', 'y', 'x1', 'x2', 'y1', 'y2', 'cx', 'cy', 'transform']) {
          const v = el.getAttribute(a);
          if (v !== null) attrs.push(v);
        }
      });
      return {
        attrs,
        paths: svg.querySelectorAll('path').length,
        dots: svg.querySelectorAll('circle').length,
        title: svg.querySelector('title')?.textContent ?? '',
      };
    });
    expect(geometry.attrs.some((v) => /NaN|Infinity|undefined/.test(v))).toBe(false);
    expect(geometry.paths).toBeGreaterThanOrEqual(6);
    expect(geometry.dots).toBeGreaterThanOrEqual(12);
    expect(geometry.title).toMatch(/^Pruning an HCLT \(K=4, 2 epochs\)/);

    // The headline and the numbers table: a finite bpd for every criterion at every fraction.
    expect(await page.getByTestId('experiment-headline').textContent()).toMatch(
      /At 50 % of the edges removed, test bpd is \d\.\d{4} by flow, \d\.\d{4} by magnitude and \d\.\d{4} at random/,
    );
    await page.getByText('Numbers (test bpd by fraction removed)').click();
    const cells = await page.getByTestId('experiment-table').locator('tbody td').allTextContents();
    expect(cells).toHaveLength(3 * 3);
    for (const c of cells) {
      expect(c).toMatch(/^\d\.\d{4}$/);
      expect(Number(c)).toBeGreaterThan(1);
      expect(Number(c)).toBeLessThan(4);
    }
    await page.screenshot({ path: `${RESULTS}experiments.png`, fullPage: true });
    expect(problems).toEqual([]);
  });
});

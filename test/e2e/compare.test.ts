// End to end, Compare with dense (headless Chromium): with WebGPU (SwiftShader) and without it (the CPU engine), a small
// run with `cmp=1` plays two rounds of prune -> grow -> EM while a second worker trains the dense HCLT
// with the same sum edges; the figures show its validation bpd, the table one row per round with a
// finite difference, the chart the dashed dense curve, and the CSV and the shared link carry it.
// Without a link and with WebGPU, the switch starts on; without WebGPU it starts off.

import { mkdirSync, readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectProblems, RESULTS, startBrowserHarness, type BrowserHarness } from './harness.ts';

const RUN =
  'v=1&data=embedded&k=3&seed=2&batch=256&step=0.1&pc=0.1&epochs=1&re=1&rounds=2&prune=0.75&crit=flow&sigma=0.3&vf=0.25&n=400&cmp=1&view=train&replay=0';

/** Waits until the sparse run has finished and the dense run has caught up. */
async function bothDone(page: Page): Promise<void> {
  await page.waitForFunction(
    () =>
      document.querySelector('[data-status]')?.getAttribute('data-status') === 'finished' &&
      document.querySelector('[data-testid=dense-bpd]')?.getAttribute('data-status') === 'done' &&
      document.querySelectorAll('[data-testid=compare-row]').length === 2 &&
      !document.querySelector('[data-testid=compare-dense]')?.textContent?.includes('training'),
    null,
    { timeout: 240_000 },
  );
}

async function runComparison(h: BrowserHarness, webgpu: boolean): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const context = await h.browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = collectProblems(page);
  await page.goto(`${h.url}#${RUN}`);
  expect(await page.getByTestId('compare').isChecked()).toBe(true);
  await page.getByRole('button', { name: 'Play', exact: true }).click();
  await bothDone(page);

  // Both workers run on the engine the browser offers: WebGPU (SwiftShader) or the CPU fallback.
  expect(await page.getByTestId('backend').textContent()).toMatch(webgpu ? /^WebGPU/ : /^CPU/);
  const dense = Number(await page.getByTestId('dense-bpd').textContent());
  expect(Number.isFinite(dense)).toBe(true);
  const rows = page.getByTestId('compare-row');
  for (let i = 0; i < 2; i++) {
    const sparse = Number(await rows.nth(i).getByTestId('compare-sparse').textContent());
    const denseCell = (await rows.nth(i).getByTestId('compare-dense').textContent())!;
    const delta = (await rows.nth(i).getByTestId('compare-delta').textContent())!;
    const denseBpd = Number(denseCell.split(' ')[0]);
    expect(Number.isFinite(sparse) && Number.isFinite(denseBpd)).toBe(true);
    // The difference shown is sparse minus dense, to the 4 decimals shown.
    expect(Number(delta.split(' ')[0])).toBeCloseTo(sparse - denseBpd, 3);
    expect(delta).toMatch(/\((sparse wins|dense wins|tie)\)$/);
  }
  expect(await page.getByTestId('dense-curve').count()).toBeGreaterThan(0);
  expect(await page.getByTestId('bpd-chart').innerHTML()).not.toMatch(/NaN|Infinity/);
  await page.screenshot({ path: `${RESULTS}compare-${webgpu ? 'webgpu' : 'no-webgpu'}.png`, fullPage: true });

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export curves (CSV)' }).click()]);
  const csv = readFileSync(await download.path(), 'utf8')
    .trim()
    .split('\n');
  const kind = csv[0].split(',').indexOf('kind');
  expect(csv.filter((l) => l.split(',')[kind] === 'comparison')).toHaveLength(2);
  expect(csv.some((l) => l.split(',')[kind] === 'dense_epoch')).toBe(true);
  expect(csv.join('\n')).not.toMatch(/NaN|Infinity/);

  await page.getByRole('button', { name: 'Share' }).click();
  await page.getByTestId('notice').filter({ hasText: /link/i }).first().waitFor();
  expect(page.url()).toContain('cmp=1');
  // Reset clears the comparison with the model.
  await page.getByRole('button', { name: 'Reset' }).click();
  expect(await page.getByTestId('dense-bpd').textContent()).toBe('–');
  expect(await page.getByTestId('compare-row').count()).toBe(0);
  expect(problems).toEqual([]);
  await context.close();
}

describe('Compare with dense in headless Chromium', () => {
  let gpu: BrowserHarness | undefined;
  let noGpu: BrowserHarness | undefined;

  beforeAll(async () => {
    gpu = await startBrowserHarness();
    noGpu = await startBrowserHarness([], { webgpu: false });
  });

  afterAll(async () => {
    await gpu?.close();
    await noGpu?.close();
  });

  it('on WebGPU: both runs finish, the table, figure, curve, CSV and link carry the comparison', async () => {
    await runComparison(gpu!, true);
  }, 300_000);

  it('without WebGPU (the CPU engine): the same', async () => {
    await runComparison(noGpu!, false);
  }, 300_000);

  it('a first visit starts with the switch on when WebGPU is present and off without it', async () => {
    for (const [h, on] of [
      [gpu!, true],
      [noGpu!, false],
    ] as const) {
      const page = await h.browser.newPage();
      await page.goto(h.url);
      await page.getByRole('heading', { name: 'Sparse PC Playground' }).waitFor();
      // The GPU check is asynchronous: without WebGPU its banner says it is done.
      if (!on) await page.getByTestId('gpu-banner').waitFor();
      await page.waitForFunction((expectOn) => (document.querySelector('[data-testid=compare]') as HTMLInputElement | null)?.checked === expectOn, on, {
        timeout: 30_000,
      });
      await page.close();
    }
  }, 120_000);
});

// End to end: the playground in headless Chromium (DESIGN.md section 4). Starts Vite's dev server on
// a free port, opens the page, trains a small HCLT (K = 2) for two epochs in the worker and checks the
// numbers the page reports. Needs Debian's chromium at /usr/bin/chromium (scripts/ensure-test-deps.sh).
// Saves test-results/playground.png for people to look at.

import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectProblems, RESULTS, startBrowserHarness, type BrowserHarness } from './harness.ts';

/** HCLT sum edges on D variables with K states: (D - 1) K x K blocks plus the root's K. */
function hcltEdges(D: number, K: number): number {
  return (D - 1) * K * K + K;
}

function parseNumber(text: string | null): number {
  // Live figures are plain numbers: no separators to strip.
  return Number((text ?? '').trim());
}

describe('playground in headless Chromium', () => {
  let h: BrowserHarness | undefined;
  let page: Page;
  let url: string;
  let problems: string[] = [];

  beforeAll(async () => {
    h = await startBrowserHarness();
    url = h.url;
    page = await h.browser.newPage({ viewport: { width: 1100, height: 900 } });
    problems = collectProblems(page);
  });

  afterAll(async () => {
    await h?.close();
  });

  it('trains K = 2 for two epochs and reports falling bpd, the HCLT edge count and the CPU backend', async () => {
    await page.goto(url);
    await page.getByRole('heading', { name: 'Sparse PC Playground' }).waitFor();
    expect(await page.getByTestId('bpd').textContent()).toBe('–');

    await page.getByRole('spinbutton', { name: 'K (hidden states)' }).fill('2');
    await page.getByRole('spinbutton', { name: 'Epochs' }).fill('2');
    await page.getByRole('button', { name: 'Play' }).click();

    const rows = page.getByTestId('epoch-row');
    await rows.nth(1).waitFor({ timeout: 60_000 });
    await page.getByText('Trained 2 epochs').waitFor();
    expect(await rows.count()).toBe(2);

    const bpd = parseNumber(await page.getByTestId('bpd').textContent());
    expect(Number.isFinite(bpd)).toBe(true);
    expect(bpd).toBeGreaterThan(0.5);
    expect(bpd).toBeLessThan(8);
    expect(await page.getByTestId('bpd').textContent()).toMatch(/^\d+\.\d{4}$/);

    const valid = (await page.getByTestId('valid-bpd').allTextContents()).map(parseNumber);
    expect(valid).toHaveLength(2);
    expect(valid[1]).toBeLessThan(valid[0]);
    expect(valid[1]).toBe(bpd);

    expect(parseNumber(await page.getByTestId('edges').textContent())).toBe(hcltEdges(784, 2));
    expect(hcltEdges(784, 2)).toBe(3134);
    expect(await page.getByTestId('backend').textContent()).toContain('CPU');
    expect(parseNumber(await page.getByTestId('params').textContent())).toBeGreaterThan(0);

    // Finished: Play has nothing left to do until Epochs is raised; no error is shown.
    expect(await page.getByRole('button', { name: 'Play' }).isDisabled()).toBe(true);
    expect(await page.getByRole('alert').count()).toBe(0);

    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: `${RESULTS}playground.png`, fullPage: true });
    expect(problems).toEqual([]);
  });

  // Continues on the same page (the model trained above): Play after raising Epochs, Pause, Reset.
  it('continues after Epochs is raised, pauses after the current epoch and resets', async () => {
    const rows = page.getByTestId('epoch-row');
    await page.getByRole('spinbutton', { name: 'Epochs' }).fill('4');
    await page.getByRole('button', { name: 'Play' }).click();
    await page.getByText('Epoch 3:').waitFor();
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByText('Paused after 3 epochs').waitFor({ timeout: 30_000 });
    expect(await rows.count()).toBe(3);
    expect(await page.getByRole('spinbutton', { name: 'K (hidden states)' }).isDisabled()).toBe(true);

    await page.getByRole('button', { name: 'Reset' }).click();
    expect(await rows.count()).toBe(0);
    expect(await page.getByTestId('bpd').textContent()).toBe('–');
    expect(await page.getByRole('spinbutton', { name: 'K (hidden states)' }).isEnabled()).toBe(true);
    expect(problems).toEqual([]);
  });

  it('keyboard shortcuts from the action registry: Space plays and pauses, R resets', async () => {
    const kb = await h!.browser.newPage();
    const kbProblems = collectProblems(kb);
    await kb.goto(url);
    await kb.getByRole('spinbutton', { name: 'K (hidden states)' }).fill('2');
    await kb.getByRole('spinbutton', { name: 'Epochs' }).fill('3');
    await kb.locator('body').click({ position: { x: 5, y: 5 } }); // focus leaves the inputs
    expect(await kb.getByRole('button', { name: 'Play' }).getAttribute('aria-keyshortcuts')).toBe('Space P');
    await kb.keyboard.press('Space');
    await kb.getByText('Epoch 1:').waitFor({ timeout: 60_000 });
    await kb.keyboard.press('Space');
    await kb.getByText(/Paused after \d+ epochs?/).waitFor({ timeout: 60_000 });
    const rows = kb.getByTestId('epoch-row');
    expect(await rows.count()).toBeGreaterThanOrEqual(1);
    expect(await rows.count()).toBeLessThan(3);
    await kb.keyboard.press('r');
    expect(await rows.count()).toBe(0);
    expect(await kb.getByTestId('bpd').textContent()).toBe('–');
    expect(kbProblems).toEqual([]);
    await kb.close();
  });

  it('shows a missing data file as one sentence in an alert', async () => {
    const errorPage = await h!.browser.newPage();
    const pageErrors: string[] = [];
    errorPage.on('pageerror', (e) => pageErrors.push(e.message));
    await errorPage.route('**/data/*.bin', (route) => route.fulfill({ status: 404, body: 'not here' }));
    await errorPage.goto(url);
    await errorPage.getByRole('button', { name: 'Play' }).click();
    const alert = errorPage.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/^Could not download the training data \(.+\): HTTP 404[^.]*\.$/);
    expect(await errorPage.getByRole('button', { name: 'Play' }).isEnabled()).toBe(true);
    expect(pageErrors).toEqual([]);
    await errorPage.close();
  });
});

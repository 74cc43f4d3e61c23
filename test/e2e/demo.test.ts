// End to end: a first visit (no link, nothing remembered) opens on the shipped demo model
// (public/models/, src/ui/demo.ts) with the Draw view showing. Without pressing Play, a drawing is
// scored, samples are drawn, an erased part is filled in and the circuit view shows the demo's tree
// and a region; the page says which model it shows. Play then trains a new model from the settings.
// A link with model=demo opens on the demo too, one without it as before; a demo that cannot be
// fetched is one notice. With WebGPU (SwiftShader) and without it. Records the time from opening
// the page to the first scored drawing in test-results/demo-timing-*.json (reported, not asserted).

import { readFileSync, writeFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoInfo } from '../../src/ui/demo.ts';
import { collectProblems, RESULTS, ROOT, startBrowserHarness, type BrowserHarness } from './harness.ts';

const INFO = JSON.parse(readFileSync(`${ROOT}public/models/demo.json`, 'utf8')) as DemoInfo;
const BPD_RE = /^\d+\.\d{4}$/;

/** A vertical stroke down the middle of the drawing canvas (a "1"), as a visitor would draw it. */
async function drawOne(page: Page): Promise<void> {
  const canvas = page.getByTestId('draw-canvas');
  const box = (await canvas.boundingBox())!;
  const at = (fx: number, fy: number) => [box.x + fx * box.width, box.y + fy * box.height] as const;
  await page.mouse.move(...at(0.5, 0.2));
  await page.mouse.down();
  for (let k = 1; k <= 12; k++) await page.mouse.move(...at(0.5 + 0.1 * (k / 12), 0.2 + (0.6 * k) / 12));
  await page.mouse.up();
}

async function waitForBpd(page: Page, testId: string, timeout = 60_000): Promise<number> {
  await page.waitForFunction(
    ([id, re]) => new RegExp(re).test(document.querySelector(`[data-testid=${id}]`)?.textContent ?? ''),
    [testId, BPD_RE.source] as const,
    {
      timeout,
    },
  );
  return Number(await page.getByTestId(testId).textContent());
}

/**
 * Opens the page fresh (new context: nothing remembered), draws at once and waits for the score.
 * Returns the milliseconds from the start of navigation to the demo shown and to the scored drawing.
 */
async function openAndDraw(browser: Browser, url: string): Promise<{ page: Page; problems: string[]; demoMs: number; scoredMs: number }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = collectProblems(page);
  const t0 = Date.now();
  await page.goto(url);
  // The visitor draws as soon as the canvas is there; the drawing is scored once the demo is loaded.
  await page.getByTestId('draw-canvas').waitFor();
  await drawOne(page);
  await page
    .getByTestId('status')
    .filter({ hasText: /^Showing the demo model/ })
    .waitFor({ timeout: 60_000 });
  const demoMs = Date.now() - t0;
  await waitForBpd(page, 'draw-bpd');
  const scoredMs = Date.now() - t0;
  return { page, problems, demoMs, scoredMs };
}

function demoSuite(name: string, webgpu: boolean): void {
  describe(name, () => {
    let h: BrowserHarness | undefined;

    beforeAll(async () => {
      h = await startBrowserHarness([], { webgpu });
    });

    afterAll(async () => {
      await h?.close();
    });

    // First, before any Play: Play's WebGPU work (SwiftShader compiling its pipelines) goes on in the
    // browser's GPU process for a while after Reset and would slow what follows.
    it('a link with model=demo opens on the demo, and Share keeps it there; a link without it opens as before', async () => {
      const context = await h!.browser.newContext();
      const page = await context.newPage();
      const problems = collectProblems(page);
      await page.goto(`${h!.url}#v=1&k=4&seed=3&model=demo&view=circuit&replay=0`);
      await page
        .getByTestId('status')
        .filter({ hasText: /^Showing the demo model/ })
        .waitFor({ timeout: 60_000 });
      expect(await page.getByRole('tab', { name: 'Circuit' }).getAttribute('aria-selected')).toBe('true');
      // The link's settings stay what Play will use.
      expect(await page.getByRole('spinbutton', { name: 'K (hidden states)' }).inputValue()).toBe('4');
      await page.waitForFunction((k) => document.querySelector('[data-testid=summary-k]')?.textContent === String(k), INFO.structure.K, { timeout: 60_000 });
      // Share while the demo shows: the link names the demo and does not replay.
      await page.getByRole('button', { name: 'Share' }).click();
      await page
        .getByTestId('notice')
        .filter({ hasText: /demo model/ })
        .first()
        .waitFor();
      expect(page.url()).toContain('model=demo');
      expect(page.url()).toContain('replay=0');

      const plain = await context.newPage();
      await plain.goto(`${h!.url}#v=1&k=4&seed=3&view=draw&replay=0`);
      await plain.getByRole('heading', { name: 'Sparse PC Playground' }).waitFor();
      await plain.waitForTimeout(1500);
      expect(await plain.getByTestId('status').textContent()).toMatch(/^Press Play/);
      expect(await plain.getByTestId('edges').textContent()).toBe('–');
      await plain.close();
      expect(problems).toEqual([]);
      await context.close();
    }, 120_000);

    it('a demo model that cannot be fetched is one notice, and the page opens as without it', async () => {
      const context = await h!.browser.newContext();
      const page = await context.newPage();
      const problems = collectProblems(page);
      await page.route('**/models/demo.spc', (route) => route.fulfill({ status: 404, body: 'not here' }));
      await page.goto(h!.url);
      const notice = page.getByTestId('notice').filter({ hasText: 'demo model' });
      await notice.waitFor({ timeout: 60_000 });
      expect(await notice.locator('span').textContent()).toMatch(
        /^The demo model could not be loaded \(models\/demo\.spc: HTTP 404[^)]*\); press Play to train a model\.$/,
      );
      expect(await page.getByTestId('error').count()).toBe(0);
      expect(await page.getByTestId('status').textContent()).toMatch(/^Press Play/);
      expect(await page.getByRole('button', { name: 'Play', exact: true }).isEnabled()).toBe(true);
      // The 404 itself is logged by the browser; nothing else goes wrong.
      expect(problems.filter((p) => !/404/.test(p))).toEqual([]);
      await context.close();
    }, 120_000);

    it('a first visit opens ready to draw: scores a drawing, draws samples, fills in and shows the circuit, before any training', async () => {
      // The first open also makes Vite compile the page's modules; the second is what a returning
      // server gives (both recorded).
      const cold = await openAndDraw(h!.browser, h!.url);
      await cold.page.context().close();
      const { page, problems, demoMs, scoredMs } = await openAndDraw(h!.browser, h!.url);

      // The page says which model it shows; the figures are the demo's; nothing was trained.
      expect(await page.getByRole('tab', { name: 'Draw' }).getAttribute('aria-selected')).toBe('true');
      const status = (await page.getByTestId('status').textContent())!;
      expect(status).toContain(`validation bpd ${INFO.validBpd.toFixed(4)}`);
      expect(status).toMatch(/Play trains a new model from the settings\.$/);
      expect(await page.getByTestId('bpd').textContent()).toBe(INFO.validBpd.toFixed(4));
      expect(Number(await page.getByTestId('edges').textContent())).toBe(INFO.structure.edges);
      expect(Number(await page.getByTestId('k').textContent())).toBe(INFO.structure.K);
      expect(await page.getByTestId('backend').textContent()).toMatch(/^CPU/);
      expect(await page.getByTestId('epoch-row').count()).toBe(0);
      expect(await page.getByTestId('data-counts').textContent()).toBe(`${INFO.split.train} training and ${INFO.split.valid} validation images.`);
      const drawn = await waitForBpd(page, 'draw-bpd');
      expect(drawn).toBeGreaterThan(0);
      expect(drawn).toBeLessThan(8);
      await page.getByTestId('draw-percentile').waitFor({ timeout: 30_000 });
      // The settings are not fixed by the demo; Prune and Grow need a model trained here.
      expect(await page.getByRole('spinbutton', { name: 'K (hidden states)' }).isEnabled()).toBe(true);
      expect(await page.getByRole('button', { name: 'Prune', exact: true }).isEnabled()).toBe(false);
      expect(await page.getByRole('button', { name: 'Play', exact: true }).isEnabled()).toBe(true);

      // Samples.
      await page.getByRole('button', { name: 'Draw samples' }).click();
      await page.getByTestId('sample-count').waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('sample-count').textContent()).toBe('16');

      // Fill in: erase the lower half of the stroke and draw completions.
      await page.getByRole('button', { name: 'Erase to fill in' }).click();
      const canvas = page.getByTestId('draw-canvas');
      const box = (await canvas.boundingBox())!;
      await page.mouse.move(box.x + 0.2 * box.width, box.y + 0.7 * box.height);
      await page.mouse.down();
      await page.mouse.move(box.x + 0.8 * box.width, box.y + 0.7 * box.height, { steps: 8 });
      await page.mouse.up();
      await page.getByTestId('draw-missing').waitFor();
      await page.getByRole('button', { name: 'Fill in', exact: true }).click();
      await page.getByTestId('fill-count').waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('fill-count').textContent()).toBe('8');
      await page.screenshot({ path: `${RESULTS}demo-draw-${webgpu ? 'webgpu' : 'cpu'}.png`, fullPage: true });

      // The circuit view: the demo's tree, and a region's block on a click.
      await page.getByRole('tab', { name: 'Circuit' }).click();
      await page.waitForFunction((k) => document.querySelector('[data-testid=summary-k]')?.textContent === String(k), INFO.structure.K, { timeout: 60_000 });
      const tree = page.getByTestId('circuit-canvas');
      const tb = (await tree.boundingBox())!;
      await tree.click({ position: { x: (tb.width * 14.5) / 28, y: (tb.height * 14.5) / 28 } });
      await page.getByTestId('region-shape').waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('region-shape').textContent()).toMatch(/^\d+ × \d+$/);
      await page.screenshot({ path: `${RESULTS}demo-circuit-${webgpu ? 'webgpu' : 'cpu'}.png` });

      // Play trains a new model from the settings (the demo goes; the engine is the visitor's).
      const K = Number(await page.getByRole('spinbutton', { name: 'K (hidden states)' }).inputValue());
      expect(K).toBe(webgpu ? 16 : 8);
      // Slow speed: one mini-batch at a time, so Play has little to undo when Reset comes.
      await page.getByRole('combobox', { name: 'Speed' }).selectOption('slow');
      await page.getByRole('button', { name: 'Play', exact: true }).click();
      await page
        .getByTestId('status')
        .filter({ hasNotText: /demo model/ })
        .waitFor();
      await page.waitForFunction((k) => document.querySelector('[data-testid=k]')?.textContent === String(k), K, { timeout: 120_000 });
      expect(await page.getByTestId('backend').textContent()).toMatch(webgpu ? /^WebGPU: / : /^CPU/);
      expect(Number(await page.getByTestId('edges').textContent())).toBe(783 * K * K + K);
      await page.getByRole('button', { name: 'Reset', exact: true }).click();
      expect(await page.getByTestId('status').textContent()).toMatch(/^Press Play/);
      expect(problems).toEqual([]);

      const timing = {
        engine: webgpu ? 'WebGPU (SwiftShader) present; the demo runs on the CPU engine' : 'no WebGPU adapter; CPU engine',
        server: 'Vite dev server (test harness), 127.0.0.1',
        coldOpen: { demoShownMs: cold.demoMs, firstScoredDrawingMs: cold.scoredMs },
        warmOpen: { demoShownMs: demoMs, firstScoredDrawingMs: scoredMs },
      };
      writeFileSync(`${RESULTS}demo-timing-${webgpu ? 'webgpu' : 'cpu'}.json`, `${JSON.stringify(timing, null, 2)}\n`);
      console.log(`demo (${webgpu ? 'WebGPU' : 'no WebGPU'}): open -> first scored drawing ${scoredMs} ms (first open ${cold.scoredMs} ms)`);
      await page.context().close();
    }, 300_000);
  });
}

demoSuite('the demo model with WebGPU (SwiftShader)', true);
demoSuite('the demo model without WebGPU', false);

// End to end, the rest of what a visitor expects of the playground (headless Chromium, CPU engine to
// keep it quick): model, curve and view files out and a model back in; the remembered configuration;
// pausing while the tab is hidden; the dark theme; layouts at 1280x720 and on a tablet; and the static
// site `npm run build` makes, served from a sub-folder by a plain file server.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import type { Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEmbeddedDataset } from '../../src/data/load.ts';
import { collectProblems, RESULTS, ROOT, startBrowserHarness, type BrowserHarness } from './harness.ts';

const TINY_RUN =
  'v=1&data=embedded&k=2&seed=5&batch=256&step=0.1&pc=0.1&epochs=50&re=1&rounds=0&prune=0.5&crit=flow&sigma=0.5&vf=0.25&n=800&view=train&replay=0';

async function idle(page: Page, timeout = 120_000): Promise<void> {
  await page.waitForFunction(
    () => !['loading', 'training', 'stepping', 'pausing'].includes(document.querySelector('[data-status]')?.getAttribute('data-status') ?? ''),
    null,
    {
      timeout,
    },
  );
}

async function press(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name, exact: true }).click();
  await idle(page);
}

async function downloadBytes(page: Page, button: string): Promise<{ name: string; bytes: Buffer }> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: button }).click()]);
  const path = await download.path();
  return { name: download.suggestedFilename(), bytes: readFileSync(path) };
}

describe('playground files, memory, visibility, theme and layout', () => {
  let h: BrowserHarness | undefined;

  beforeAll(async () => {
    h = await startBrowserHarness();
  });

  afterAll(async () => {
    await h?.close();
  });

  it('exports the model (.spc, .jpc), the curves (CSV) and the view (PNG), and imports the model back', async () => {
    const context = await h!.browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = collectProblems(page);
    await page.goto(`${h!.url}#${TINY_RUN}`);
    await page.getByRole('combobox', { name: 'Engine' }).selectOption('cpu');
    await press(page, 'Epoch');
    const edges = Number(await page.getByTestId('edges').textContent());

    const spc = await downloadBytes(page, 'Export model (.spc)');
    expect(spc.name).toMatch(/\.spc$/);
    expect([...spc.bytes.subarray(0, 4)]).toEqual([0x53, 0x50, 0x43, 0x00]);
    const jpc = await downloadBytes(page, 'Export Juice.jl (.jpc)');
    expect(jpc.name).toMatch(/\.jpc$/);
    expect(jpc.bytes.toString('utf8')).toMatch(/^c /m);
    const csv = (await downloadBytes(page, 'Export curves (CSV)')).bytes.toString('utf8').trim().split('\n');
    expect(csv).toHaveLength(2); // header + one epoch
    expect(csv[1]).not.toMatch(/NaN|Infinity/);
    const png = await downloadBytes(page, 'Save view (PNG)');
    expect([...png.bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.bytes.length).toBeGreaterThan(2000);

    // A fresh start, then the saved model back: same structure, and the draw view scores with it.
    await page.getByRole('button', { name: 'Reset' }).click();
    expect(await page.getByTestId('edges').textContent()).toBe('–');
    await page.locator('input[type=file][accept=".spc,.jpc"]').setInputFiles({ name: spc.name, mimeType: 'application/octet-stream', buffer: spc.bytes });
    await page
      .getByTestId('notice')
      .filter({ hasText: `Loaded the model from ${spc.name}` })
      .waitFor({ timeout: 60_000 });
    expect(Number(await page.getByTestId('edges').textContent())).toBe(edges);
    // A file that is not a model: one sentence, and the loaded model stays.
    await page
      .locator('input[type=file][accept=".spc,.jpc"]')
      .setInputFiles({ name: 'junk.spc', mimeType: 'application/octet-stream', buffer: Buffer.from('not a model') });
    await page.getByTestId('notice').filter({ hasText: 'junk.spc' }).waitFor();
    expect(Number(await page.getByTestId('edges').textContent())).toBe(edges);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('trains on an IDX images file the visitor picks, and refuses a broken one in one sentence', async () => {
    // 300 embedded digits written as a standard IDX images file (magic 0x00000803, count, 28, 28, pixels).
    const data = await loadEmbeddedDataset();
    const count = 300;
    const idx = Buffer.alloc(16 + count * 784);
    idx.writeUInt32BE(0x00000803, 0);
    idx.writeUInt32BE(count, 4);
    idx.writeUInt32BE(28, 8);
    idx.writeUInt32BE(28, 12);
    idx.set(data.pixels.subarray(0, count * 784), 16);
    const page = await h!.browser.newPage();
    const problems = collectProblems(page);
    await page.goto(`${h!.url}#${TINY_RUN.replace('n=800', 'n=0')}`);
    await page.getByRole('combobox', { name: 'Engine' }).selectOption('cpu');
    const picker = page.locator('input[type=file][accept^=".gz"]');
    await picker.setInputFiles({ name: 'my-digits-idx3-ubyte', mimeType: 'application/octet-stream', buffer: idx });
    // The page reads the file asynchronously before it names it.
    await page.getByTestId('dataset').filter({ hasText: 'my-digits-idx3-ubyte' }).waitFor();
    expect(await page.getByTestId('dataset').textContent()).toBe('my-digits-idx3-ubyte');
    await press(page, 'Step');
    expect(await page.getByTestId('data-counts').textContent()).toBe('225 training and 75 validation images.');
    // A truncated file: one sentence naming it, and Play can be pressed again.
    await page.getByRole('button', { name: 'Reset' }).click();
    await picker.setInputFiles({ name: 'broken-idx3-ubyte', mimeType: 'application/octet-stream', buffer: idx.subarray(0, 1000) });
    await page.getByTestId('dataset').filter({ hasText: 'broken-idx3-ubyte' }).waitFor();
    await page.getByRole('button', { name: 'Step', exact: true }).click();
    const alert = page.getByTestId('error');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/^broken-idx3-ubyte[^\n]*\.$/);
    expect(await page.getByRole('button', { name: 'Play' }).isEnabled()).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('remembers the last configuration when opened without a link', async () => {
    const context = await h!.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${h!.url}#${TINY_RUN.replace('seed=5', 'seed=77')}`);
    await page.getByRole('spinbutton', { name: 'Prune fraction' }).fill('0.6');
    const again = await context.newPage();
    await again.goto(h!.url);
    expect(await again.getByRole('spinbutton', { name: 'Seed' }).inputValue()).toBe('77');
    expect(await again.getByRole('spinbutton', { name: 'Prune fraction' }).inputValue()).toBe('0.6');
    expect(await again.getByTestId('notice').count()).toBe(0);
    await context.close();
  });

  it('pauses while the tab is hidden and resumes when it is shown again', async () => {
    const page = await h!.browser.newPage();
    const problems = collectProblems(page);
    await page.goto(`${h!.url}#${TINY_RUN}`);
    await page.getByRole('combobox', { name: 'Engine' }).selectOption('cpu');
    await page.getByRole('button', { name: 'Play' }).click();
    const status = page.locator('[data-status]');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=epoch-row]').length >= 1, null, { timeout: 60_000 });
    const setHidden = (hidden: boolean) =>
      page.evaluate((hid) => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => hid });
        document.dispatchEvent(new Event('visibilitychange'));
      }, hidden);
    await setHidden(true);
    await page.waitForFunction(() => document.querySelector('[data-status]')?.getAttribute('data-status') === 'paused', null, { timeout: 60_000 });
    const rows = await page.getByTestId('epoch-row').count();
    await page.waitForTimeout(1500);
    expect(await page.getByTestId('epoch-row').count()).toBe(rows);
    await setHidden(false);
    expect(['training', 'loading']).toContain(await status.getAttribute('data-status'));
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=epoch-row]').length > n, rows, { timeout: 60_000 });
    await page.getByRole('button', { name: 'Reset' }).click();
    expect(problems).toEqual([]);
    await page.close();
  });

  it('switches to the dark theme and fits 1280x720 and a tablet without sideways scrolling', async () => {
    const page = await h!.browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.goto(`${h!.url}#${TINY_RUN}`);
    // The views' own palette (views.css, read by the canvases) follows the picked theme too.
    const cellColour = () =>
      page.evaluate(() => {
        const probe = document.createElement('span');
        probe.style.color = 'var(--pcv-cell)';
        document.body.append(probe);
        const c = getComputedStyle(probe).color;
        probe.remove();
        return c;
      });
    const lightCell = await cellColour();
    await page.getByRole('combobox', { name: 'Theme' }).selectOption('dark');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    expect(await cellColour()).not.toBe(lightCell);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor || getComputedStyle(document.documentElement).backgroundColor);
    const [r, g, b] = (bg.match(/\d+/g) ?? ['255', '255', '255']).map(Number);
    expect((0.2126 * r + 0.7152 * g + 0.0722 * b) / 255).toBeLessThan(0.2);
    await page.getByRole('combobox', { name: 'Theme' }).selectOption('auto');
    // The view tabs start above the fold at 720 px.
    expect((await page.getByRole('tab', { name: 'Circuit' }).boundingBox())!.y).toBeLessThan(720);
    for (const viewport of [
      { width: 1280, height: 720 },
      { width: 768, height: 1024 },
    ]) {
      await page.setViewportSize(viewport);
      for (const tab of ['Training', 'Circuit', 'Draw', 'Experiments']) {
        await page.getByRole('tab', { name: tab }).click();
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        expect(overflow, `${tab} at ${viewport.width}px`).toBeLessThanOrEqual(0);
      }
    }
    await page.close();
  });
});

describe('the circuit view at a glance', () => {
  let h: BrowserHarness | undefined;

  beforeAll(async () => {
    h = await startBrowserHarness([], { webgpu: false });
  });

  afterAll(async () => {
    await h?.close();
  });

  it('draws the Chow-Liu tree in both themes at 1280x720 and 768x1024, whole and with its legend (screenshots in test-results/)', async () => {
    const page = await h!.browser.newPage({ viewport: { width: 1280, height: 720 } });
    const problems = collectProblems(page);
    await page.goto(`${h!.url}#${TINY_RUN}`);
    await press(page, 'Epoch');
    await page.getByRole('tab', { name: 'Circuit' }).click();
    const canvas = page.getByTestId('circuit-canvas');
    await canvas.waitFor();
    for (const theme of ['light', 'dark'] as const) {
      await page.getByRole('combobox', { name: 'Theme' }).selectOption(theme);
      for (const viewport of [
        { width: 1280, height: 720 },
        { width: 768, height: 1024 },
      ]) {
        await page.setViewportSize(viewport);
        await canvas.scrollIntoViewIfNeeded();
        const box = (await canvas.boundingBox())!;
        // The whole tree fits the width of the page, square, and large enough to read.
        expect(box.x).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width).toBeLessThanOrEqual(viewport.width);
        expect(box.width).toBeGreaterThan(250);
        expect(Math.abs(box.width - box.height)).toBeLessThan(2);
        // Strong edges stand out: the drawing holds pixels far from the background, and most of it stays background.
        const contrast = await canvas.evaluate((el: HTMLCanvasElement) => {
          const ctx = el.getContext('2d')!;
          const { data } = ctx.getImageData(0, 0, el.width, el.height);
          const [r0, g0, b0] = [data[0], data[1], data[2]];
          let strong = 0;
          for (let i = 0; i < data.length; i += 4) if (Math.abs(data[i] - r0) + Math.abs(data[i + 1] - g0) + Math.abs(data[i + 2] - b0) > 150) strong++;
          return strong / (data.length / 4);
        });
        expect(contrast, `${theme} ${viewport.width}px`).toBeGreaterThan(0.005);
        expect(contrast, `${theme} ${viewport.width}px`).toBeLessThan(0.6);
        expect(await page.getByRole('group', { name: 'Legend of the tree drawing' }).isVisible()).toBe(true);
        await page
          .getByTestId('circuit-canvas')
          .locator('xpath=ancestor::section[1]')
          .screenshot({ path: `${RESULTS}circuit-tree-${theme}-${viewport.width}x${viewport.height}.png` });
      }
    }
    expect(problems).toEqual([]);
    await page.close();
  }, 180_000);
});

describe('the static site from `npm run build`', () => {
  let dir = '';
  let server: Server | undefined;
  let h: BrowserHarness | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'spc-dist-'));
    await build({ root: ROOT, configFile: `${ROOT}vite.config.ts`, logLevel: 'error', build: { outDir: dir, emptyOutDir: true } });
    // A plain file server that puts the site under /sub/, as on a project page: every asset path
    // must be relative for this to work.
    const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.bin': 'application/octet-stream' };
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (!url.pathname.startsWith('/sub/')) return void res.writeHead(404).end();
      const rel = normalize(decodeURIComponent(url.pathname.slice('/sub/'.length)) || 'index.html');
      if (rel.startsWith('..')) return void res.writeHead(403).end();
      try {
        const body = readFileSync(join(dir, rel));
        res.writeHead(200, { 'content-type': types[extname(rel)] ?? 'application/octet-stream' }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    h = await startBrowserHarness();
  });

  afterAll(async () => {
    await h?.close();
    await new Promise((resolve) => server?.close(resolve));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loads from a sub-folder of a static server and trains a mini-batch', async () => {
    const port = (server!.address() as AddressInfo).port;
    const page = await h!.browser.newPage();
    const problems = collectProblems(page);
    await page.goto(`http://127.0.0.1:${port}/sub/#${TINY_RUN}`);
    await page.getByRole('heading', { name: 'Sparse PC Playground' }).waitFor();
    await page.getByRole('combobox', { name: 'Engine' }).selectOption('cpu');
    await press(page, 'Step');
    expect(await page.getByTestId('backend').textContent()).toMatch(/^CPU/);
    expect(Number(await page.getByTestId('edges').textContent())).toBe(783 * 4 + 2);
    expect(problems).toEqual([]);
  });
});

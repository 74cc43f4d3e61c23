// End to end, full-size data in the tab (headless Chromium): a generated IDX file of 60,000 28x28 images,
// gzip-compressed with node:zlib to about Fashion-MNIST's size, is dropped on the page; the training
// worker reads it and builds the tree with progress that reaches the page as it goes, the Figures
// state the images' memory, and one mini-batch trains to a finite bpd, on WebGPU (SwiftShader) and in
// a browser without WebGPU (the CPU engine). There a test split (a generated t10k-images-idx3-ubyte.gz
// of 10,000 images) is dropped too and its bpd appears, and a file too large for the tab is refused in
// one sentence while the loaded data and model stay usable. The generated files go to test-results/
// (never committed).

import { mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser, type ElementHandle, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_FLAGS, collectProblems, RESULTS, startBrowserHarness, type BrowserHarness } from './harness.ts';
import { idxImagesBytes } from '../helpers/data.ts';

/** K = 2 and small batches keep a mini-batch and the snapshots cheap on SwiftShader. */
const RUN = 'v=1&data=embedded&k=2&seed=1&batch=64&step=0.1&pc=0.1&epochs=1&re=1&rounds=0&prune=0.5&crit=flow&sigma=0.5&vf=0.1&n=0&view=train&replay=0';
const DIR = `${RESULTS}full-data/`;

/**
 * An IDX images file of `count` 28x28 images: background noise in 0..15 (so gzip leaves about half of
 * it, as with real images) and a short bright stroke per image whose place and brightness vary (so the
 * Chow-Liu tree has something to find). `declared` overrides the count in the header.
 */
function generatedImages(count: number, seed: number, declared = count): Uint8Array {
  const pixels = new Uint8Array(count * 784);
  const words = new Uint32Array(pixels.buffer);
  let x = seed >>> 0 || 1;
  for (let k = 0; k < words.length; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[k] = x & 0x0f0f0f0f;
  }
  for (let i = 0; i < count; i++) {
    const col = 8 + ((i * 7) % 12);
    const row0 = 5 + (i % 10);
    for (let r = row0; r < row0 + 9; r++) pixels[i * 784 + r * 28 + col] = 128 + ((i * 31) % 128);
  }
  return idxImagesBytes(pixels, declared);
}

function writeGz(name: string, raw: Uint8Array): { path: string; size: number } {
  const gz = gzipSync(raw, { level: 1 });
  const path = `${DIR}${name}`;
  writeFileSync(path, gz);
  return { path, size: gz.length };
}

/** Drops the file at `path` on the page, as a visitor dragging it from their file manager. */
async function dropFile(page: Page, path: string): Promise<void> {
  const input = (await page.evaluateHandle(() => {
    const el = document.createElement('input');
    el.type = 'file';
    el.hidden = true;
    document.body.append(el);
    return el;
  })) as ElementHandle<HTMLInputElement>;
  await input.setInputFiles(path);
  await input.evaluate((el) => {
    const dt = new DataTransfer();
    dt.items.add(el.files![0]);
    document.querySelector('main')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    el.remove();
  });
}

/** Records every value the file-reading and tree-building progress bars show, and the longest gap between main-thread ticks. */
async function watchLoading(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { loadSeen: number[][]; buildSeen: number[]; maxGapMs: number };
    w.loadSeen = [];
    w.buildSeen = [];
    w.maxGapMs = 0;
    new MutationObserver(() => {
      const p = document.querySelector<HTMLProgressElement>('progress[aria-label="Loading the images"]');
      if (p && p.max > 1 && w.loadSeen.at(-1)?.[0] !== p.value) w.loadSeen.push([p.value, p.max]);
      const b = document.querySelector<HTMLProgressElement>('progress[aria-label="Building the hidden Chow-Liu tree"]');
      if (b && b.max > 1 && w.buildSeen.at(-1) !== b.value) w.buildSeen.push(b.value / b.max);
    }).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    let last = performance.now();
    const tick = () => {
      const now = performance.now();
      w.maxGapMs = Math.max(w.maxGapMs, now - last);
      last = now;
      if (document.querySelector('[data-status]')?.getAttribute('data-status') === 'loading') setTimeout(tick, 20);
    };
    setTimeout(tick, 20);
  });
}

async function idle(page: Page, timeout = 240_000): Promise<void> {
  await page.waitForFunction(
    () => !['loading', 'training', 'stepping', 'pausing'].includes(document.querySelector('[data-status]')?.getAttribute('data-status') ?? ''),
    null,
    { timeout },
  );
}

async function step(page: Page): Promise<number> {
  await page.getByRole('button', { name: 'Step', exact: true }).click();
  await idle(page);
  return Number(await page.getByTestId('batch-train-bpd').textContent());
}

/**
 * Drops the 60,000-image file, steps one mini-batch and checks the progress, the counts, the memory and
 * the bpd; returns the page's figures for the caller's own checks.
 */
async function trainOneBatchOnFullData(page: Page, file: { path: string; size: number }): Promise<void> {
  await dropFile(page, file.path);
  await page.getByTestId('dataset').filter({ hasText: 'train-images-idx3-ubyte.gz' }).waitFor();
  await watchLoading(page);
  const bpd = await step(page);
  expect(Number.isFinite(bpd) && bpd > 0).toBe(true);
  const { seen, built, gap } = await page.evaluate(() => {
    const w = window as unknown as { loadSeen: number[][]; buildSeen: number[]; maxGapMs: number };
    return { seen: w.loadSeen, built: w.buildSeen, gap: w.maxGapMs };
  });
  // The page showed the reading as it went: several increasing values of the file's size, ending at it.
  expect(seen.every(([, max]) => max === file.size)).toBe(true);
  expect(seen.filter(([v]) => v > 0 && v < file.size).length).toBeGreaterThanOrEqual(3);
  expect(seen.every(([v], i) => i === 0 || v > seen[i - 1][0])).toBe(true);
  expect(seen.at(-1)![0]).toBe(file.size);
  // Building the tree showed its progress too (a share of the pixel pairs, rising).
  expect(built.filter((v) => v > 0 && v < 1).length).toBeGreaterThanOrEqual(2);
  expect(built.every((v, i) => i === 0 || v > built[i - 1])).toBe(true);
  console.log(
    `full-data: ${seen.length} progress values shown while reading, ${built.length} while building the tree; longest main-thread gap while loading ${gap.toFixed(0)} ms`,
  );
  expect(await page.getByTestId('data-counts').textContent()).toBe('54000 training and 6000 validation images.');
  // 60,000 images x 784 bytes = 47,040,000 bytes.
  expect(await page.getByTestId('data-memory').textContent()).toBe('44.9 MiB');
}

describe('full-size data in headless Chromium', () => {
  let h: BrowserHarness | undefined;
  let noGpu: Browser | undefined;
  let train: { path: string; size: number };
  let test: { path: string; size: number };
  let huge: { path: string; size: number };

  beforeAll(async () => {
    mkdirSync(DIR, { recursive: true });
    train = writeGz('train-images-idx3-ubyte.gz', generatedImages(60_000, 1));
    test = writeGz('t10k-images-idx3-ubyte.gz', generatedImages(10_000, 2));
    // A header announcing 2,000,000 images (1.46 GiB decoded) over a few real ones: refused from its header.
    huge = writeGz('huge-images-idx3-ubyte.gz', generatedImages(100, 3, 2_000_000));
    h = await startBrowserHarness();
    noGpu = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS.filter((f) => f !== '--enable-unsafe-webgpu') });
  });

  afterAll(async () => {
    await noGpu?.close();
    await h?.close();
  });

  it('reads a dropped 60,000-image gzip file with progress and trains one mini-batch on WebGPU', async () => {
    const page = await h!.browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = collectProblems(page);
    await page.goto(`${h!.url}#${RUN}`);
    await trainOneBatchOnFullData(page, train);
    expect(await page.getByTestId('backend').textContent()).toMatch(/^WebGPU: .*swiftshader/i);
    // The GPU holds the model and one chunk of a batch, never the file: its buffers do not grow with the data.
    expect(await page.getByTestId('gpu-memory').textContent()).toMatch(/^\d+\.\d MiB$/);
    await page.screenshot({ path: `${RESULTS}playground-full-data.png` });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('without WebGPU: trains one mini-batch on the CPU, shows the dropped test split’s bpd, and refuses a file too large for the tab', async () => {
    const page = await noGpu!.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = collectProblems(page);
    await page.goto(`${h!.url}#${RUN}`);
    await trainOneBatchOnFullData(page, train);
    expect(await page.getByTestId('backend').textContent()).toMatch(/^CPU/);

    // The test split, named as the official file: measured at once for the model there is.
    await dropFile(page, test.path);
    await page.getByTestId('test-split').filter({ hasText: 't10k-images-idx3-ubyte.gz' }).waitFor();
    await page.waitForFunction(() => /^\d+\.\d{4}$/.test(document.querySelector('[data-testid=test-bpd]')?.textContent ?? ''), null, { timeout: 120_000 });
    const testBpd = Number(await page.getByTestId('test-bpd').textContent());
    expect(Number.isFinite(testBpd) && testBpd > 0).toBe(true);
    expect(await page.getByTestId('data-counts').textContent()).toBe('54000 training and 6000 validation images, 10000 test images.');
    expect(await page.getByTestId('data-memory').textContent()).toBe('52.3 MiB'); // 70,000 x 784 bytes

    // Too large: one sentence with the file, its image count and the limit; the data and model stay.
    const edges = await page.getByTestId('edges').textContent();
    await dropFile(page, huge.path);
    const notice = page.getByTestId('notice').filter({ hasText: 'huge-images-idx3-ubyte.gz' });
    await notice.waitFor();
    expect(await notice.locator('span').textContent()).toBe(
      'huge-images-idx3-ubyte.gz holds 2,000,000 images of 28x28 (1.46 GiB decoded), more than the 1.00 GiB of images the playground keeps in a tab (1,369,568 such images), so it was not loaded.',
    );
    expect(await page.getByTestId('dataset').textContent()).toBe('train-images-idx3-ubyte.gz');
    expect(await page.getByTestId('edges').textContent()).toBe(edges);
    expect(Number.isFinite(await step(page))).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });
});

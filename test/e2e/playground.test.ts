// End to end: the playground in headless Chromium with WebGPU (SwiftShader), driven by playwright-core
// (docs/architecture.md, "Testing"). A link configures a small run (K = 4 on the first 1,200
// embedded digits); the test steps through mini-batches and epochs, prunes, grows, draws a digit,
// shares the link and opens it again, then checks hostile links, the no-WebGPU banner with a CPU run,
// the keyboard shortcuts and a missing data file. Asserts numbers and DOM state; saves screenshots of
// the main views to test-results/ (the README shows some of them).

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectProblems, RESULTS, startBrowserHarness, startPageHarness, type BrowserHarness } from './harness.ts';

/** HCLT sum edges on D variables with K states: (D - 1) K x K blocks plus the root's K. */
function hcltEdges(D: number, K: number): number {
  return (D - 1) * K * K + K;
}

const SMALL_RUN = 'v=1&data=embedded&k=4&seed=3&batch=256&step=0.1&pc=0.1&epochs=2&re=1&rounds=1&prune=0.3&crit=flow&sigma=0.5&vf=0.25&n=1200&view=train';

function num(text: string | null): number {
  // Live figures are plain numbers; the summary uses separators.
  return Number((text ?? '').replace(/,/g, '').trim());
}

/** Waits until the run is not busy (the live figures' data-status, which is the store's status). */
async function idle(page: Page, timeout = 120_000): Promise<void> {
  await page.waitForFunction(
    () => !['loading', 'training', 'stepping', 'pausing'].includes(document.querySelector('[data-status]')?.getAttribute('data-status') ?? ''),
    null,
    {
      timeout,
    },
  );
}

/** Clicks an action button and waits for its work to finish (React renders the busy status within the click). */
async function press(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name, exact: true }).click();
  await idle(page);
}

async function figure(page: Page, id: string): Promise<number> {
  return num(await page.getByTestId(id).textContent());
}

describe('playground in headless Chromium', () => {
  let h: BrowserHarness | undefined;
  let page: Page;
  let problems: string[] = [];

  beforeAll(async () => {
    ({ h, page, problems } = await startPageHarness({ width: 1280, height: 900 }));
  });

  afterAll(async () => {
    await h?.close();
  });

  it('steps mini-batches and epochs on WebGPU: the bpd curve falls and the backend is named', async () => {
    await page.goto(`${h!.url}#${SMALL_RUN}&replay=0`);
    await page.getByRole('heading', { name: 'Sparse PC Playground' }).waitFor();
    expect(await page.getByTestId('notice').count()).toBe(0);
    expect(await page.getByTestId('bpd').textContent()).toBe('–');
    expect(await page.getByRole('spinbutton', { name: 'K (hidden states)' }).inputValue()).toBe('4');

    // 900 training images in batches of 256: four steps make the first epoch.
    await press(page, 'Step');
    expect(await page.getByTestId('backend').textContent()).toMatch(/^WebGPU: .*swiftshader/i);
    expect(await figure(page, 'edges')).toBe(hcltEdges(784, 4));
    expect(await page.getByTestId('gpu-memory').textContent()).toMatch(/^\d+(\.\d+)? (MiB|GiB)$/);
    for (let k = 0; k < 3; k++) await press(page, 'Step');
    await press(page, 'Epoch');
    const valid = (await page.getByTestId('valid-bpd').allTextContents()).map(num);
    expect(valid).toHaveLength(2);
    expect(valid.every(Number.isFinite)).toBe(true);
    expect(valid[1]).toBeLessThan(valid[0]);
    expect(await figure(page, 'bpd')).toBe(valid[1]);
    const chart = await page.getByTestId('bpd-chart').getAttribute('aria-label');
    expect(chart).toContain(valid[1].toFixed(4).slice(0, 5));
    expect(await page.getByTestId('bpd-chart').innerHTML()).not.toMatch(/NaN|Infinity/);
    await page.screenshot({ path: `${RESULTS}playground-train.png` });
  });

  it('prunes: the edge count drops by the chosen fraction, with the bound and the measured drop shown', async () => {
    const before = await figure(page, 'edges');
    expect(await page.getByTestId('k-spread').textContent()).toBe('4 in every region');
    await press(page, 'Prune');
    // Some latent states lose every incoming edge and go; the largest region keeps its 4.
    const spread = (await page.getByTestId('k-spread').textContent())!.split(' / ').map(Number);
    expect(spread).toHaveLength(3);
    expect(spread[0]).toBeGreaterThanOrEqual(1);
    expect(spread[0]).toBeLessThanOrEqual(spread[1]);
    expect(spread[2]).toBe(4);
    const after = await figure(page, 'edges');
    // floor(30 %) of the edges are marked (less one for each sum node that would lose them all), and
    // the few that only fed nodes nothing points to any more go with them.
    const marked = Math.floor(0.3 * before);
    expect(before - after).toBeGreaterThanOrEqual(0.9 * marked);
    expect(before - after).toBeLessThan(marked * 1.1);
    const measured = num(await page.getByTestId('measured-drop').textContent());
    expect(Number.isFinite(measured)).toBe(true);
    // The bound -log(1 - sum of removed flow) is vacuous once an image's removed flow reaches 1 (it sums
    // over all 784 regions, so at 30 % it often does); when finite it must hold.
    const boundText = (await page.getByTestId('bound-drop').textContent())!;
    if (boundText !== 'vacuous') expect(measured).toBeLessThanOrEqual(num(boundText));
    expect(await page.getByTestId('prune-histogram').count()).toBe(1);
    await page.screenshot({ path: `${RESULTS}playground-prune.png`, fullPage: true });
  });

  it('grows: K and the node counts double; the circuit view shows the tree and a region', async () => {
    const spread = (await page.getByTestId('k-spread').textContent())!.split(' / ').map(Number);
    await page.getByRole('tab', { name: 'Circuit' }).click();
    const nodes = async () => [await figure(page, 'summary-inputs'), await figure(page, 'summary-products'), await figure(page, 'summary-sums')];
    const before = await nodes();
    expect(await figure(page, 'k')).toBe(4);
    await press(page, 'Grow');
    expect(await figure(page, 'k')).toBe(8);
    // A grow doubles every region's latent states.
    expect((await page.getByTestId('k-spread').textContent())!.split(' / ').map(Number)).toEqual(spread.map((k) => 2 * k));
    await page.waitForFunction(() => document.querySelector('[data-testid=summary-k]')?.textContent === '8');
    // Every node splits in two, except the root's single output sum node.
    expect(await nodes()).toEqual([2 * before[0], 2 * before[1], 2 * (before[2] - 1) + 1]);
    // Click pixel (14, 14) = variable 14 * 28 + 14: the region view opens that block.
    const canvas = page.getByTestId('circuit-canvas');
    const box = (await canvas.boundingBox())!;
    await canvas.click({ position: { x: (box.width * 14.5) / 28, y: (box.height * 14.5) / 28 } });
    await page.getByTestId('region-shape').waitFor();
    expect(await page.getByTestId('region-title').textContent()).toContain('pixel 406');
    expect(await page.getByTestId('region-shape').textContent()).toMatch(/^\d+ × \d+$/);
    await page.screenshot({ path: `${RESULTS}playground-circuit.png` });
  });

  it('draws a digit with the mouse: a finite likelihood appears and changes as the stroke grows', async () => {
    await page.getByRole('tab', { name: 'Draw' }).click();
    const canvas = page.getByRole('img', { name: 'Draw a digit' }).or(page.getByLabel('Draw a digit')).first();
    const box = (await canvas.boundingBox())!;
    const at = (fx: number, fy: number) => [box.x + fx * box.width, box.y + fy * box.height] as const;
    await page.mouse.move(...at(0.5, 0.2));
    await page.mouse.down();
    for (let k = 1; k <= 12; k++) await page.mouse.move(...at(0.5, 0.2 + (0.6 * k) / 12));
    await page.mouse.up();
    await page.waitForFunction(() => /^\d+\.\d{4}$/.test(document.querySelector('[data-testid=draw-bpd]')?.textContent ?? ''));
    const first = await figure(page, 'draw-bpd');
    expect(Number.isFinite(first)).toBe(true);
    await page.mouse.move(...at(0.3, 0.3));
    await page.mouse.down();
    for (let k = 1; k <= 10; k++) await page.mouse.move(...at(0.3 + (0.4 * k) / 10, 0.3));
    await page.mouse.up();
    await page.waitForFunction((b) => {
      const t = document.querySelector('[data-testid=draw-bpd]')?.textContent ?? '';
      return /^\d+\.\d{4}$/.test(t) && Number(t) !== b;
    }, first);
    expect(Number.isFinite(await figure(page, 'draw-bpd'))).toBe(true);
    await page.screenshot({ path: `${RESULTS}playground-draw.png` });
    expect(problems).toEqual([]);
  });

  it('Share puts the configuration in the link; opening it restores the settings and replays the run', async () => {
    await page.getByRole('tab', { name: 'Training' }).click();
    await page.getByRole('spinbutton', { name: 'Prune fraction' }).fill('0.4');
    await page.getByRole('button', { name: 'Share' }).click();
    await page.getByTestId('notice').filter({ hasText: /link/i }).first().waitFor();
    const link = page.url();
    expect(link).toContain('k=4');
    expect(link).toContain('prune=0.4');
    expect(link).toContain('replay=1');

    const other = await h!.browser.newPage({ viewport: { width: 1280, height: 900 } });
    const otherProblems = collectProblems(other);
    await other.goto(link);
    for (const [name, value] of [
      ['K (hidden states)', '4'],
      ['Seed', '3'],
      ['Batch size', '256'],
      ['Prune fraction', '0.4'],
      ['Images used', '1200'],
    ] as const) {
      expect(await other.getByRole('spinbutton', { name }).inputValue()).toBe(value);
    }
    // replay=1: the run starts by itself and reaches its first validation bpd.
    await other.waitForFunction(() => /^\d+\.\d{4}$/.test(document.querySelector('[data-testid=bpd]')?.textContent ?? ''), null, { timeout: 120_000 });
    await other.getByRole('button', { name: 'Reset' }).click();
    expect(otherProblems).toEqual([]);
    await other.close();
  });

  it('repairs a hostile link with plain-text notices and never renders it as HTML', async () => {
    const bad = await h!.browser.newPage();
    const badProblems = collectProblems(bad);
    let dialogs = 0;
    bad.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await bad.goto(`${h!.url}#v=1&k=1e9&step=NaN&seed=-5&batch=abc&crit=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&zzz=%3Cscript%3Ealert(1)%3C%2Fscript%3E`);
    await bad.getByRole('heading', { name: 'Sparse PC Playground' }).waitFor();
    const notices = await bad.getByTestId('notice').allTextContents();
    expect(notices.length).toBeGreaterThanOrEqual(5);
    expect(notices.join(' ')).not.toMatch(/[<>]/);
    expect(await bad.getByRole('spinbutton', { name: 'K (hidden states)' }).inputValue()).toBe('64');
    expect(await bad.getByRole('spinbutton', { name: 'Seed' }).inputValue()).toBe('0');
    expect(await bad.locator('img').count()).toBe(0);
    // Another schema version: the defaults and exactly one notice.
    await bad.goto(`${h!.url}#v=99&k=4`);
    await bad.reload();
    await bad.getByRole('heading', { name: 'Sparse PC Playground' }).waitFor();
    expect(await bad.getByTestId('notice').allTextContents()).toEqual([expect.stringContaining('schema version')]);
    expect(dialogs).toBe(0);
    expect(badProblems).toEqual([]);
    await bad.close();
  });

  it('keyboard shortcuts from the action registry: E trains an epoch, Space plays and pauses, R resets', async () => {
    const kb = await h!.browser.newPage();
    const kbProblems = collectProblems(kb);
    await kb.goto(`${h!.url}#${SMALL_RUN.replace('k=4', 'k=2')}&replay=0`);
    await kb.getByRole('combobox', { name: 'Engine' }).selectOption('cpu');
    await kb.locator('h1').click(); // focus leaves the inputs
    expect(await kb.getByRole('button', { name: 'Play' }).getAttribute('aria-keyshortcuts')).toBe('Space P');
    await kb.keyboard.press('e');
    await kb.getByTestId('epoch-row').first().waitFor({ state: 'attached', timeout: 60_000 });
    await idle(kb);
    await kb.keyboard.press('Space');
    const status = kb.locator('p.status');
    await status.filter({ hasText: /^Training/ }).waitFor();
    await kb.keyboard.press('Space');
    await status.filter({ hasText: /^Paused after|^Schedule done/ }).waitFor({ timeout: 60_000 });
    await kb.keyboard.press('r');
    expect(await kb.getByTestId('epoch-row').count()).toBe(0);
    expect(await kb.getByTestId('bpd').textContent()).toBe('–');
    expect(kbProblems).toEqual([]);
    await kb.close();
  });

  it('shows a missing data file as one sentence in an alert, and Play works again after', async () => {
    const errorPage = await h!.browser.newPage();
    const pageErrors: string[] = [];
    errorPage.on('pageerror', (e) => pageErrors.push(e.message));
    await errorPage.route('**/data/*.bin', (route) => route.fulfill({ status: 404, body: 'not here' }));
    await errorPage.goto(`${h!.url}#${SMALL_RUN}&replay=0`);
    await errorPage.getByRole('button', { name: 'Play' }).click();
    const alert = errorPage.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/^Could not download the training data \(.+\): HTTP 404[^.]*\.$/);
    expect(await errorPage.getByRole('button', { name: 'Play' }).isEnabled()).toBe(true);
    expect(pageErrors).toEqual([]);
    await errorPage.close();
  });
});

describe('playground without WebGPU', () => {
  let h: BrowserHarness | undefined;

  beforeAll(async () => {
    // Without --enable-unsafe-webgpu: navigator.gpu exists but offers no adapter, as on a blocklisted GPU.
    h = await startBrowserHarness([], { webgpu: false });
  });

  afterAll(async () => {
    await h?.close();
  });

  it('shows the banner and trains on the CPU engine', async () => {
    const page = await h!.browser.newPage({ viewport: { width: 1280, height: 720 } });
    const problems = collectProblems(page);
    await page.goto(`${h!.url}#${SMALL_RUN}&replay=0`);
    const banner = page.getByTestId('gpu-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toMatch(/WebGPU/);
    await press(page, 'Epoch');
    expect(await page.getByTestId('backend').textContent()).toMatch(/^CPU/);
    expect(Number.isFinite(await figure(page, 'bpd'))).toBe(true);
    await page.screenshot({ path: `${RESULTS}playground-no-webgpu.png` });
    expect(problems).toEqual([]);
  });
});

// The WebGPU engine inside headless Chromium (SwiftShader adapter): the same kernels as in Node, now
// through the browser's WebGPU, on the page and in a Web Worker, against the CPU float64 oracle.
// Also runs bench.html once at a tiny size to prove the page works end to end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectProblems, startBrowserHarness, type BrowserHarness } from './harness.ts';

describe('WebGPU engine in headless Chromium', () => {
  let h: BrowserHarness | undefined;
  beforeAll(async () => {
    h = await startBrowserHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('matches the CPU oracle on the page (default and per-height kernels) and in a Web Worker', async () => {
    const page = await h!.browser.newPage();
    const problems = collectProblems(page);
    await page.goto(`${h!.url}test/e2e/gpu-smoke.html`);
    for (const id of ['page', 'height', 'worker']) {
      await page.waitForFunction((el) => document.getElementById(el)!.textContent !== 'running', id, { timeout: 90_000 });
      const text = (await page.locator(`#${id}`).textContent())!;
      expect(text, `${id}: ${text}`).not.toMatch(/^error/);
      const r = JSON.parse(text);
      expect(r.circuits).toBe(3);
      expect(r.adapter).toMatch(/swiftshader/i);
      expect(r.maxLlError).toBeLessThan(1e-4);
      expect(r.maxEdgeFlowRelError).toBeLessThan(1e-3);
      expect(r.maxInputFlowRelError).toBeLessThan(1e-3);
      expect(r.maxParamError).toBeLessThan(1e-5);
      expect(Number.isFinite(r.meanLl)).toBe(true);
    }
    expect(problems).toEqual([]);
    await page.close();
  });

  it('bench.html measures the GPU and the CPU engine', async () => {
    const page = await h!.browser.newPage();
    const problems = collectProblems(page);
    await page.goto(`${h!.url}bench.html?k=2&batch=64&batches=1&prune=0.5&autorun=1`);
    await page.getByText('done', { exact: true }).waitFor({ timeout: 120_000 });
    expect(await page.getByRole('alert').isHidden()).toBe(true);
    const rows = (await page.getByTestId('bench-json').textContent())!
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => r.engine)).toEqual(['gpu', 'cpu']);
    for (const r of rows) {
      expect(r.edges).toBe(783 * 4 + 2);
      expect(r.train_samples_per_s).toBeGreaterThan(0);
      expect(r.pruned_speedup).toBeGreaterThan(0);
    }
    expect(rows[0].adapter).toMatch(/swiftshader/i);
    expect(rows[0].kernels).toBe('forward csr, backward csr, edges csr, inputs node (rules)'); // no tuning on software adapters
    expect(rows[1].kernels).toBeUndefined();
    expect(problems).toEqual([]);
    await page.close();
  });

  it('bench.html?kernels=height&tune=1 runs the GPU engine with one kernel per height, the other passes tuned', async () => {
    const page = await h!.browser.newPage();
    const problems = collectProblems(page);
    await page.goto(`${h!.url}bench.html?k=2&batch=64&batches=1&cpu=0&repeat=1&kernels=height&tune=1&autorun=1`);
    await page.getByText('done', { exact: true }).waitFor({ timeout: 120_000 });
    expect(await page.getByRole('alert').isHidden()).toBe(true);
    const rows = (await page.getByTestId('bench-json').textContent())!
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => r.engine)).toEqual(['gpu (height kernels)']);
    for (const k of [rows[0].kernels, rows[0].pruned_kernels])
      expect(k).toMatch(/^forward height, backward height, edges (csr|dense), inputs (node|workgroup) \(tuned\)$/);
    expect(await page.getByRole('cell', { name: /\(tuned\)/ }).count()).toBe(1);
    // The tuning table: edges and inputs (the passes left to tuning), unpruned and pruned.
    for (const t of [rows[0].kernel_tuning_ms, rows[0].pruned_kernel_tuning_ms]) expect(Object.keys(t.inputs).sort()).toEqual(['node', 'workgroup']);
    await expect.poll(() => page.getByRole('table', { name: 'Kernel tuning' }).locator('tbody tr').count()).toBe(8);
    expect(rows[0].train_samples_per_s).toBeGreaterThan(0);
    expect(rows[0].pruned_speedup).toBeGreaterThan(0);
    expect(problems).toEqual([]);
    await page.close();
  });
});

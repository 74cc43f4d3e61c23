// The time of a default Play with "Compare with dense" in headless Chromium, as a first visitor gets
// it: a fresh page (nothing remembered, no link) on the Vite dev server, Play pressed once the page
// has settled on its defaults, timed until the sparse schedule has finished and the dense run has
// caught up. With WebGPU (SwiftShader here; the first visit's defaults are K = 16 and the comparison
// on) or without it (`--no-webgpu`: the CPU engine, K = 8, the comparison switched on by hand).
//
//   npx tsx scripts/time-default-play.ts              # WebGPU (SwiftShader on this machine)
//   npx tsx scripts/time-default-play.ts --no-webgpu  # the CPU path
//
// Prints the comparison table as the page shows it and the seconds; asserts nothing (figures only).

import { startBrowserHarness } from '../test/e2e/harness.ts';

const webgpu = !process.argv.includes('--no-webgpu');
const h = await startBrowserHarness([], { webgpu });
try {
  const page = await h.browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(h.url);
  await page.getByRole('heading', { name: 'Sparse PC Playground' }).waitFor();
  if (webgpu) {
    // The first visit's GPU defaults arrive with the adapter check.
    await page.waitForFunction(() => (document.querySelector('[data-testid=compare]') as HTMLInputElement | null)?.checked === true, null, { timeout: 60_000 });
  } else {
    await page.getByTestId('gpu-banner').waitFor();
    await page.getByTestId('compare').check();
  }
  await page.getByRole('tab', { name: 'Training' }).click();
  const k = await page.getByRole('spinbutton', { name: 'K (hidden states)' }).inputValue();
  const t0 = Date.now();
  await page.getByRole('button', { name: 'Play', exact: true }).click();
  // A line a minute, so a run cut short still says how far it got.
  const ticker = setInterval(() => {
    void page
      .evaluate(() => [
        document.querySelector('[data-status]')?.getAttribute('data-status'),
        document.querySelectorAll('[data-testid=epoch-row]').length,
        document.querySelector('[data-testid=dense-bpd]')?.textContent,
        document.querySelectorAll('[data-testid=compare-row]').length,
      ])
      .then(([status, epochs, dense, rows]) =>
        console.log(`${((Date.now() - t0) / 1000).toFixed(0)} s: sparse ${status}, ${epochs} epochs; dense validation bpd ${dense}; ${rows} rounds ended`),
      )
      .catch(() => undefined);
  }, 60_000);
  await page.waitForFunction(
    () =>
      document.querySelector('[data-status]')?.getAttribute('data-status') === 'finished' &&
      document.querySelector('[data-testid=dense-bpd]')?.getAttribute('data-status') === 'done' &&
      !Array.from(document.querySelectorAll('[data-testid=compare-dense]')).some((e) => e.textContent?.includes('training')),
    null,
    { timeout: 3_600_000, polling: 1000 },
  );
  clearInterval(ticker);
  const seconds = (Date.now() - t0) / 1000;
  const backend = await page.getByTestId('backend').textContent();
  const rows = await page.getByTestId('compare-row').allInnerTexts();
  console.log(`default Play with Compare with dense, ${webgpu ? 'WebGPU' : 'no WebGPU'} (backend ${backend}), K = ${k}: ${seconds.toFixed(0)} s`);
  for (const r of rows) console.log(`  ${r.replace(/\s+/g, ' ')}`);
} finally {
  await h.close();
}

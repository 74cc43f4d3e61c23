// Shared set-up of the headless-browser tests: Vite's dev server on a free loopback port and Debian's
// Chromium with WebGPU enabled (docs/architecture.md, "Testing"), plus a collector of page errors.
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RESULTS = fileURLToPath(new URL('../../test-results/', import.meta.url));

export interface BrowserHarness {
  server: ViteDevServer;
  browser: Browser;
  /** http://127.0.0.1:PORT/ */
  url: string;
  close(): Promise<void>;
}

/** `webgpu: false` launches Chromium without --enable-unsafe-webgpu: navigator.gpu then offers no adapter. */
export async function startBrowserHarness(extraFlags: string[] = [], opts: { webgpu?: boolean } = {}): Promise<BrowserHarness> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run "bash scripts/ensure-test-deps.sh" (installs Debian's chromium).`);
  const server = await createServer({
    root: ROOT,
    configFile: `${ROOT}vite.config.ts`,
    logLevel: 'error',
    server: { host: '127.0.0.1', port: 0, strictPort: true, hmr: false },
  });
  await server.listen();
  const address = server.httpServer?.address() as AddressInfo | null;
  if (!address || typeof address !== 'object') throw new Error('Vite dev server has no address');
  const flags = opts.webgpu === false ? CHROMIUM_FLAGS.filter((f) => f !== '--enable-unsafe-webgpu') : CHROMIUM_FLAGS;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...flags, ...extraFlags] });
  return {
    server,
    browser,
    url: `http://127.0.0.1:${address.port}/`,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** Page errors and console errors (workers' included) of `page`, collected as they happen. */
export function collectProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  return problems;
}

/** The set-up of a suite that drives one page: a harness, a page of `viewport` with its problems
 *  collected, and the results folder (screenshots) made. */
export async function startPageHarness(viewport: { width: number; height: number }): Promise<{ h: BrowserHarness; page: Page; problems: string[] }> {
  mkdirSync(RESULTS, { recursive: true });
  const h = await startBrowserHarness();
  const page = await h.browser.newPage({ viewport });
  return { h, page, problems: collectProblems(page) };
}

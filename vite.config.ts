// Vite serves and builds the playground (relative asset paths so `dist/` works from any static
// server); Vitest runs every test under test/ in Node.
import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

export default defineConfig({
  base: './',
  plugins: [react()],
  // Two pages: the playground and the engine benchmark.
  build: { rollupOptions: { input: { main: 'index.html', bench: 'bench.html' } } },
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173 },
  // The training worker is a module worker (`{ type: 'module' }`): bundle it as ES too.
  worker: { format: 'es' },
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});

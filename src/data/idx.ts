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
  checkDataLength(bytes.length - headerLen, fileName, headerLen, expected, says);
}

/** `have` bytes followed the header where `expected` were announced: equal, or one sentence. */
function checkDataLength(have: number, fileName: string, headerLen: number, expected: number, says: string): void {
  if (have < expected) {
    throw new UserError(`${fileName} is truncated: the header says ${says} = ${expected} bytes but the file has ${have} after the ${headerLen}-byte header.`);
  }
  if (have > expected) {
    throw new UserError(
      `${fileName} has ${have - expected} bytes of trailing data: the header says ${says} = ${expected} bytes but the file has ${have} after the ${headerLen}-byte header.`,
    );
  }
}

/** What an IDX images header announces. */
export interface IdxImagesHeader {
  count: number;
  rows: number;
  cols: number;
}

/** Bytes of an IDX images header: the magic and three sizes. */
const IMAGES_HEADER_BYTES = 16;

/** The header of an images file (`bytes` starts with it), checked: an images file of non-empty images. */
function imagesHeader(bytes: Uint8Array, fileName: string): IdxImagesHeader {
  const [count, rows, cols] = readHeader(bytes, fileName, 'images');
  if (count === 0) throw new UserError(`${fileName} holds 0 images.`);
  if (rows === 0 || cols === 0) throw new UserError(`${fileName} has empty images of ${rows}x${cols} pixels.`);
  return { count, rows, cols };
}

function describeImages(h: IdxImagesHeader): string {
  return `${h.count} images of ${h.rows}x${h.cols}`;
}

function imagesDataset(fileName: string, h: IdxImagesHeader, pixels: Uint8Array): Dataset {
  return { name: fileName, count: h.count, numVars: h.rows * h.cols, numValues: 256, rows: h.rows, cols: h.cols, pixels };
}

/** Parses an uncompressed IDX images file (magic 0x00000803) into a 256-valued dataset. */
export function parseIdxImages(bytes: Uint8Array, fileName: string): Dataset {
  const h = imagesHeader(bytes, fileName);
  checkLength(bytes, fileName, IMAGES_HEADER_BYTES, h.count * h.rows * h.cols, describeImages(h));
  // A copy, so the dataset never aliases (and keeps alive) the caller's file buffer.
  return imagesDataset(fileName, h, bytes.slice(IMAGES_HEADER_BYTES));
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

// ---------------------------------------------------------------------------------------------------
// Streaming: a file (a Blob: the browser's File, or Node's) read chunk by chunk, gunzipped on the way
// when it starts with the gzip magic, so a 60,000-image file is never held twice and its reading can
// report progress. The browser's training worker reads dropped files this way (docs/architecture.md,
// "Data").

/**
 * The most decoded image bytes (one byte per pixel) the playground loads: 1 GiB, i.e. 1,369,568
 * images of 28x28 (all of EMNIST, 814,255 images, is 0.6 GiB). While it splits them the training
 * worker holds about twice this (the decoded file and its shuffled training / validation copy), which
 * a 64-bit browser tab can still allocate on an ordinary 8 GiB machine; larger files would fail with
 * an out-of-memory crash instead of a sentence.
 */
export const MAX_BROWSER_IMAGE_BYTES = 2 ** 30;

/** Decoded bytes of the images a header announces. */
export function imageBytes(h: IdxImagesHeader): number {
  return h.count * h.rows * h.cols;
}

function formatMiB(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** One sentence when the images of `fileName` take more than `maxBytes` decoded, else null. */
export function imagesOverLimit(h: IdxImagesHeader, fileName: string, maxBytes: number): string | null {
  const bytes = imageBytes(h);
  if (bytes <= maxBytes) return null;
  const fit = Math.floor(maxBytes / (h.rows * h.cols));
  return (
    `${fileName} holds ${h.count.toLocaleString('en-US')} images of ${h.rows}x${h.cols} (${formatMiB(bytes)} decoded), more than the ` +
    `${formatMiB(maxBytes)} of images the playground keeps in a tab (${fit.toLocaleString('en-US')} such images), so it was not loaded.`
  );
}

/** Options of `readIdxImages`. */
export interface ReadIdxOptions {
  /** Called as the file is read: bytes of the file (compressed, for .gz) consumed so far, and its size. */
  onProgress?(doneBytes: number, totalBytes: number): void;
  /** Refuse (one sentence, before reading further) a file whose decoded images take more bytes. */
  maxBytes?: number;
}

/** Slices a file is read in: small enough for steady progress (about 100 steps for Fashion-MNIST's
 *  26 MB), large enough that the per-slice cost does not matter. */
const READ_SLICE_BYTES = 256 * 1024;

/** A reader of the file's decoded bytes; `onRead` gets the file bytes consumed so far. */
async function decodedReader(file: Blob, onRead?: (bytes: number) => void): Promise<{ reader: ReadableStreamDefaultReader<Uint8Array>; gz: boolean }> {
  const gz = isGzip(new Uint8Array(await file.slice(0, 2).arrayBuffer()));
  // The file in fixed slices (Blob.stream()'s chunking differs between browsers and Node), read one
  // ahead at most, so progress and the bytes held are the same everywhere.
  let offset = 0;
  const raw = new ReadableStream<Uint8Array>({
    async pull(out) {
      if (offset >= file.size) return out.close();
      const end = Math.min(file.size, offset + READ_SLICE_BYTES);
      const chunk = new Uint8Array(await file.slice(offset, end).arrayBuffer());
      offset = end;
      onRead?.(offset);
      out.enqueue(chunk);
    },
  });
  // DecompressionStream's types want BufferSource chunks; the file's chunks are Uint8Arrays.
  const stream = gz ? raw.pipeThrough(new DecompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>) : raw;
  return { reader: stream.getReader(), gz };
}

/** The next chunk, with a failure to read or to gunzip as one sentence naming the file. */
async function nextChunk(reader: ReadableStreamDefaultReader<Uint8Array>, fileName: string, gz: boolean): Promise<Uint8Array | null> {
  try {
    const { done, value } = await reader.read();
    return done ? null : value;
  } catch (e) {
    const why = e instanceof Error && e.message ? ` (${e.message.replace(/[.\s]+$/, '')})` : '';
    if (gz) throw new UserError(`${fileName} looks gzip-compressed but cannot be decompressed: the gzip data is corrupt or truncated${why}.`);
    throw new UserError(`${fileName} could not be read${why}.`);
  }
}

/** Reads the images header from the start of the decoded stream; `rest` is what followed it in the last chunk read. */
async function readStreamHeader(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  fileName: string,
  gz: boolean,
): Promise<{ header: IdxImagesHeader; rest: Uint8Array }> {
  const head = new Uint8Array(IMAGES_HEADER_BYTES);
  let have = 0;
  let rest: Uint8Array = new Uint8Array(0);
  while (have < IMAGES_HEADER_BYTES) {
    const chunk = await nextChunk(reader, fileName, gz);
    if (!chunk) break;
    const n = Math.min(chunk.length, IMAGES_HEADER_BYTES - have);
    head.set(chunk.subarray(0, n), have);
    have += n;
    rest = chunk.subarray(n);
  }
  if (have === 0 && gz) throw new UserError(`${fileName} is a gzip file that decompresses to nothing (0 bytes).`);
  return { header: imagesHeader(head.subarray(0, have), fileName), rest };
}

/**
 * The header of an IDX images file (raw or .gz), read from its first bytes only: what the page checks
 * (format, count, size) before it hands a dropped file to the training worker.
 */
export async function peekIdxImagesHeader(file: Blob, fileName: string): Promise<IdxImagesHeader> {
  if (file.size === 0) throw new UserError(`${fileName} is empty (0 bytes), expected an IDX image file.`);
  const { reader, gz } = await decodedReader(file);
  try {
    return (await readStreamHeader(reader, fileName, gz)).header;
  } finally {
    void reader.cancel().catch(() => undefined);
  }
}

/**
 * Reads an IDX images file (raw or .gz) chunk by chunk into one exactly sized pixel array: the same
 * dataset and the same one-sentence errors as `decodeIdxImages`, but the file is never held whole
 * (compressed or decompressed) next to the pixels, progress is reported as it is read, and a file
 * over `maxBytes` is refused from its header before anything is allocated.
 */
export async function readIdxImages(file: Blob, fileName: string, opts: ReadIdxOptions = {}): Promise<Dataset> {
  const total = file.size;
  if (total === 0) throw new UserError(`${fileName} is empty (0 bytes), expected an IDX image file.`);
  const { reader, gz } = await decodedReader(file, (n) => opts.onProgress?.(n, total));
  try {
    const { header, rest } = await readStreamHeader(reader, fileName, gz);
    if (opts.maxBytes !== undefined) {
      const over = imagesOverLimit(header, fileName, opts.maxBytes);
      if (over) throw new UserError(over);
    }
    const expected = imageBytes(header);
    const pixels = new Uint8Array(expected);
    let have = 0; // bytes after the header so far (trailing data included, for the message)
    for (let chunk: Uint8Array | null = rest; chunk; chunk = await nextChunk(reader, fileName, gz)) {
      const n = Math.min(chunk.length, Math.max(0, expected - have));
      if (n > 0) pixels.set(chunk.subarray(0, n), have);
      have += chunk.length;
    }
    checkDataLength(have, fileName, IMAGES_HEADER_BYTES, expected, describeImages(header));
    return imagesDataset(fileName, header, pixels);
  } finally {
    void reader.cancel().catch(() => undefined);
  }
}

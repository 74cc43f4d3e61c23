// Node-only loading (CLI, tests, benchmarks): reads files with node:fs and hands the bytes to the pure
// decoders in idx.ts and embedded.ts, which the browser uses with fetched bytes instead.

import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dataset } from './dataset.ts';
import { UserError } from '../util/errors.ts';
import { attachLabels, decodeIdxImages, decodeIdxLabels } from './idx.ts';
import { decodeEmbeddedDataset, EMBEDDED_DATA_FILE } from './embedded.ts';

/** Reads a whole file, turning the usual failures into one readable sentence. */
async function readBytes(path: string): Promise<Uint8Array> {
  try {
    const buf = await readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : (e as Error).message;
    throw new UserError(`cannot read ${path}: ${why}.`);
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Candidate label files for an images file, by the standard naming (train-images-idx3-ubyte.gz ->
 * train-labels-idx1-ubyte.gz; also the "images.idx3-ubyte" spelling some mirrors use). The same
 * compression is tried first, then the other, since people often gunzip only one of the pair.
 */
export function siblingLabelPaths(imagesPath: string): string[] {
  const name = basename(imagesPath);
  const swapped = name.replace(/images([-.])idx3-ubyte/, 'labels$1idx1-ubyte');
  if (swapped === name) return [];
  const other = swapped.endsWith('.gz') ? swapped.slice(0, -3) : swapped + '.gz';
  return [join(dirname(imagesPath), swapped), join(dirname(imagesPath), other)];
}

/**
 * Loads an IDX images file (raw or .gz). When a sibling labels file exists it is attached; a present
 * but broken labels file is an error rather than silently ignored.
 */
export async function loadImagesFile(path: string): Promise<Dataset> {
  const ds = await decodeIdxImages(await readBytes(path), path);
  for (const labelPath of siblingLabelPaths(path)) {
    if (!(await isFile(labelPath))) continue;
    const labels = await decodeIdxLabels(await readBytes(labelPath), labelPath);
    return attachLabels(ds, labels, labelPath);
  }
  return ds;
}

/**
 * Path of the embedded data file, resolved from this module so it works from any working directory.
 * A bundled build (dist-node/, the GPU machine's pack) has no public/ beside it: SPC_DATA_DIR says
 * where the file is.
 */
export function embeddedDataPath(): string {
  const dir = process.env.SPC_DATA_DIR;
  if (dir) return join(dir, EMBEDDED_DATA_FILE);
  return fileURLToPath(new URL(`../../public/data/${EMBEDDED_DATA_FILE}`, import.meta.url));
}

/** The embedded first 10,000 MNIST training digits, with labels. */
export async function loadEmbeddedDataset(): Promise<Dataset> {
  const path = embeddedDataPath();
  return decodeEmbeddedDataset(await readBytes(path), path);
}

/** 'embedded' for the built-in digits, otherwise a path to an IDX images file. */
export async function loadDataset(spec: string): Promise<Dataset> {
  return spec === 'embedded' ? loadEmbeddedDataset() : loadImagesFile(spec);
}

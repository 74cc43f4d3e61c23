// Reading and writing model files from the command line: `.jpc` (Juice.jl text) by extension or
// content, everything else as the project's binary `.spc`.
import { readFile, writeFile } from 'node:fs/promises';
import { decodeSpc, encodeSpc } from '../circuit/formats/spc.ts';
import { exportJpc, importJpc } from '../circuit/formats/jpc.ts';
import type { Circuit } from '../circuit/structure.ts';
import { UserError } from '../util/errors.ts';

export async function readModel(path: string): Promise<{ circuit: Circuit; meta: Record<string, unknown> }> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read model ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message}`);
  }
  const isJpc = path.toLowerCase().endsWith('.jpc') || /^\s*(c|jpc)\b/.test(new TextDecoder().decode(bytes.subarray(0, 64)));
  if (isJpc) return { circuit: importJpc(new TextDecoder().decode(bytes), path), meta: {} };
  return decodeSpc(bytes, path);
}

export async function writeModel(path: string, c: Circuit, meta: Record<string, unknown>): Promise<void> {
  const data = path.toLowerCase().endsWith('.jpc') ? exportJpc(c) : encodeSpc(c, meta);
  try {
    await writeFile(path, data);
  } catch (e) {
    throw new UserError(`cannot write model ${path}: ${(e as Error).message}`);
  }
}

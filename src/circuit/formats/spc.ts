// The project's own binary model format (.spc), versioned and checksummed. Pure (Uint8Array in and
// out, no Node APIs) so the browser saves and loads the same files as the CLI.
//
// Layout, all integers little-endian:
//   header   "SPC\0" | u32 version (1 or 2) | u32 payload length | u32 CRC-32 (IEEE) of the payload
//   payload  u32 metaLength | metaLength bytes of UTF-8 JSON (training config, K, ...)
//            u32 numVars | u32 numValues | u32 root
//            per region v = 0..numVars-1 (the region's variable is its index):
//              i32 parent | u32 nChildren | u32 child x nChildren | u32 size
//              u32 rows | u32 cols | u32 nnz
//              i32 rowPtr x (rows+1) | i32 colIdx x nnz
//              version 1: f64 logWeights x nnz | f64 inputLogProbs x (size * numValues)
//              version 2: f32 logWeights x nnz | f32 step x size | u8 code x (size * numValues)
//
// Version 1 keeps the parameters as f64, so save -> load is bit exact: the CLI and the page's Export
// write it. Version 2 is the compact form for shipping a model (the playground's demo model): the sum
// weights' logs as f32 (as read: a row's weights then sum to 1 within about 1e-7), and each input
// node's distribution as 8-bit codes, log p(x) = -code * step - log Z with log Z the log-sum-exp of
// -code * step over the node's values (so every distribution sums to 1 again after loading). The
// encoder picks step = f32(min(range, SPC2_INPUT_RANGE) / 255) from the node's range of log-probabilities
// (max - min), and code = round((max - log p) / step), at most 255. About 8x smaller than version 1
// (a pixel's 256 values take 260 bytes instead of 2,048); on the embedded digits it moves validation
// bpd by about 1e-5 (docs/architecture.md, "Model files"). Encoding a loaded version 2 circuit as
// version 2 again gives the same bytes.
//
// Loading trusts nothing: every count is checked against the bytes that remain before anything is
// allocated, and the result must pass validateCircuit; each failure is one UserError sentence naming
// the file.

import { UserError } from '../../util/errors.ts';
import { crc32 } from '../../util/crc32.ts';
import { validateCircuit, type Circuit, type Region } from '../structure.ts';

export const SPC_MAGIC = Uint8Array.of(0x53, 0x50, 0x43, 0x00); // "SPC\0"
/** The newest version this build reads and can write; `encodeSpc` writes version 1 unless asked. */
export const SPC_VERSION = 2;
export const SPC_VERSIONS = [1, 2] as const;
export type SpcVersion = (typeof SPC_VERSIONS)[number];
/** Version 2: the widest range of log-probabilities (nats below a node's most likely value) the 8-bit
 *  input codes cover; lower values are stored as the lowest code (probabilities under e^-64 of the
 *  largest, where a model file says 0, are raised to that). */
export const SPC2_INPUT_RANGE = 64;
const SPC2_LEVELS = 255;
/** Bytes before the payload: magic, version, payload length, checksum. */
export const SPC_HEADER_BYTES = 16;
/** Fixed bytes of one region record (parent, nChildren, size, rows, cols, nnz, rowPtr[0]). */
const REGION_FIXED_BYTES = 28;

/**
 * Serialises a circuit and optional JSON metadata, as version 1 (f64, bit exact; the default) or
 * version 2 (compact, see above). Throws (a programming error) on an invalid circuit.
 */
export function encodeSpc(c: Circuit, meta: Record<string, unknown> = {}, options: { version?: SpcVersion } = {}): Uint8Array {
  const version = options.version ?? 1;
  if (!(SPC_VERSIONS as readonly number[]).includes(version)) throw new Error(`spc encoder: unknown version ${String(version)}`);
  const compact = version === 2;
  const problem = validateCircuit(c);
  if (problem !== null) throw new Error(`refusing to save an invalid circuit: ${problem}`);
  const metaBytes = new TextEncoder().encode(JSON.stringify(meta));

  let payload = 4 + metaBytes.length + 12;
  for (const r of c.regions) {
    const nnz = r.block.colIdx.length;
    payload += 4 + 4 + 4 * r.children.length + 4 + 12 + 4 * (r.block.rows + 1) + 4 * nnz;
    payload += compact ? 4 * nnz + 4 * r.size + r.inputLogProbs.length : 8 * nnz + 8 * r.inputLogProbs.length;
  }

  const out = new Uint8Array(SPC_HEADER_BYTES + payload);
  const dv = new DataView(out.buffer);
  let p = SPC_HEADER_BYTES;
  const u32 = (x: number): void => {
    dv.setUint32(p, x, true);
    p += 4;
  };
  const i32 = (x: number): void => {
    dv.setInt32(p, x, true);
    p += 4;
  };
  const f64 = (x: number): void => {
    dv.setFloat64(p, x, true);
    p += 8;
  };
  const f32 = (x: number): void => {
    dv.setFloat32(p, x, true);
    p += 4;
  };

  u32(metaBytes.length);
  out.set(metaBytes, p);
  p += metaBytes.length;
  u32(c.numVars);
  u32(c.numValues);
  u32(c.root);
  for (const r of c.regions) {
    const b = r.block;
    i32(r.parent);
    u32(r.children.length);
    for (const ch of r.children) u32(ch);
    u32(r.size);
    u32(b.rows);
    u32(b.cols);
    u32(b.colIdx.length);
    for (let i = 0; i < b.rowPtr.length; i++) i32(b.rowPtr[i]);
    for (let i = 0; i < b.colIdx.length; i++) i32(b.colIdx[i]);
    if (!compact) {
      for (let i = 0; i < b.logWeights.length; i++) f64(b.logWeights[i]);
      for (let i = 0; i < r.inputLogProbs.length; i++) f64(r.inputLogProbs[i]);
      continue;
    }
    for (let i = 0; i < b.logWeights.length; i++) f32(b.logWeights[i]);
    const V = c.numValues;
    const codes = new Uint8Array(r.inputLogProbs.length);
    for (let k = 0; k < r.size; k++) {
      f32(quantiseInputNode(r.inputLogProbs, k * V, V, codes));
    }
    out.set(codes, p);
    p += codes.length;
  }
  if (p !== out.length) throw new Error(`spc encoder wrote ${p} bytes, expected ${out.length}`);

  out.set(SPC_MAGIC, 0);
  dv.setUint32(4, version, true);
  dv.setUint32(8, payload, true);
  dv.setUint32(12, crc32(out, 0, SPC_HEADER_BYTES, out.length), true);
  return out;
}

/** Parses and validates a .spc file; every problem becomes a UserError naming `fileName`. */
export function decodeSpc(bytes: Uint8Array, fileName: string): { circuit: Circuit; meta: Record<string, unknown> } {
  const fail: (what: string) => never = (what) => {
    throw new UserError(`${fileName} ${what}.`);
  };
  if (!hasMagic(bytes)) {
    if (looksLikeJpcText(bytes)) fail('looks like a .jpc text circuit, not a .spc model: load it as .jpc');
    fail(
      bytes.length < SPC_MAGIC.length
        ? `is too short to be a .spc model (${bytes.length} bytes)`
        : 'is not a .spc model (it does not start with the SPC signature)',
    );
  }
  if (bytes.length < SPC_HEADER_BYTES) fail(`is truncated: its ${bytes.length} bytes do not even hold the ${SPC_HEADER_BYTES}-byte header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(4, true);
  if (version > SPC_VERSION) fail(`was written by a newer version (v${version}); this build reads v1 to v${SPC_VERSION}`);
  if (version < 1) fail(`has an invalid format version ${version}`);
  const payloadLength = dv.getUint32(8, true);
  const actual = bytes.length - SPC_HEADER_BYTES;
  if (payloadLength > actual) fail(`is truncated: the header promises ${payloadLength} payload bytes but only ${actual} are present`);
  if (payloadLength < actual) fail(`has ${actual - payloadLength} unexpected bytes after its ${payloadLength}-byte payload`);
  const expectedCrc = dv.getUint32(12, true);
  if (crc32(bytes, 0, SPC_HEADER_BYTES, bytes.length) !== expectedCrc) fail('is corrupted: the payload checksum does not match');

  const rd = new Reader(dv, SPC_HEADER_BYTES, bytes.length, fileName);
  const metaLength = rd.count('the metadata', 1);
  let meta: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(rd.pos, rd.pos + metaLength));
    meta = JSON.parse(text);
  } catch {
    fail('is corrupt: its metadata is not valid UTF-8 JSON');
  }
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) fail('is corrupt: its metadata is not a JSON object');
  rd.skip(metaLength);

  const numVars = rd.count('the region list', REGION_FIXED_BYTES);
  const numValues = rd.u32();
  const root = rd.u32();
  const regions: Region[] = [];
  for (let v = 0; v < numVars; v++) {
    const parent = rd.i32();
    const nChildren = rd.count(`region ${v}'s child list`, 4);
    const children: number[] = [];
    for (let k = 0; k < nChildren; k++) children.push(rd.u32());
    const size = rd.u32();
    const rows = rd.u32();
    const cols = rd.u32();
    const nnz = rd.u32();
    const rowPtr = rd.i32Array(rows + 1, `region ${v}'s ${rows} sum nodes`);
    const colIdx = rd.i32Array(nnz, `region ${v}'s ${nnz} sum edges`);
    const inputs = `region ${v}'s ${size} x ${numValues} input parameters`;
    let logWeights: Float64Array;
    let inputLogProbs: Float64Array;
    if (version === 1) {
      logWeights = rd.f64Array(nnz, `region ${v}'s ${nnz} sum weights`);
      inputLogProbs = rd.f64Array(size * numValues, inputs);
    } else {
      logWeights = rd.f32Array(nnz, `region ${v}'s ${nnz} sum weights`);
      const steps = rd.f32Array(size, `region ${v}'s ${size} input steps`);
      const codes = rd.u8Array(size * numValues, inputs);
      inputLogProbs = new Float64Array(size * numValues);
      for (let k = 0; k < size; k++) {
        if (!(steps[k] >= 0 && steps[k] < Infinity)) fail(`is corrupt: region ${v}'s input node ${k} has an invalid step ${steps[k]}`);
        dequantiseInputNode(codes, steps[k], k * numValues, numValues, inputLogProbs);
      }
    }
    regions.push({ variable: v, parent, children, size, inputLogProbs, block: { rows, cols, rowPtr, colIdx, logWeights } });
  }
  if (rd.pos !== bytes.length) fail(`is corrupt: ${bytes.length - rd.pos} bytes are left over after the last region`);

  const circuit: Circuit = { numVars, numValues, regions, root };
  const problem = validateCircuit(circuit);
  if (problem !== null) fail(`does not hold a valid circuit: ${problem}`);
  return { circuit, meta: meta as Record<string, unknown> };
}

/** Bounds-checked little-endian reads over the payload. */
class Reader {
  pos: number;
  constructor(
    private readonly dv: DataView,
    start: number,
    private readonly end: number,
    private readonly fileName: string,
  ) {
    this.pos = start;
  }

  private need(n: number, what: string): void {
    const left = this.end - this.pos;
    if (n > left) throw new UserError(`${this.fileName} is corrupt: ${what} would take ${n} bytes but only ${left} remain.`);
  }

  skip(n: number): void {
    this.pos += n;
  }

  u32(): number {
    this.need(4, 'a 4-byte field');
    const x = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return x;
  }

  i32(): number {
    this.need(4, 'a 4-byte field');
    const x = this.dv.getInt32(this.pos, true);
    this.pos += 4;
    return x;
  }

  /** Reads a count and checks that `count * elementBytes` bytes remain, before anyone allocates. */
  count(what: string, elementBytes: number): number {
    const n = this.u32();
    this.need(n * elementBytes, `${n} entries of ${what}`);
    return n;
  }

  i32Array(n: number, what: string): Int32Array {
    this.need(n * 4, what);
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.dv.getInt32(this.pos + 4 * i, true);
    this.pos += 4 * n;
    return a;
  }

  f32Array(n: number, what: string): Float64Array {
    this.need(n * 4, what);
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = this.dv.getFloat32(this.pos + 4 * i, true);
    this.pos += 4 * n;
    return a;
  }

  u8Array(n: number, what: string): Uint8Array {
    this.need(n, what);
    const a = new Uint8Array(this.dv.buffer, this.dv.byteOffset + this.pos, n).slice();
    this.pos += n;
    return a;
  }

  f64Array(n: number, what: string): Float64Array {
    this.need(n * 8, what);
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = this.dv.getFloat64(this.pos + 8 * i, true);
    this.pos += 8 * n;
    return a;
  }
}

/**
 * Version 2: one input node's log-probabilities `logp[start .. start + n)` as codes (written into
 * `codes` at the same positions); returns the step. A loaded node reads back to the same codes and
 * step: its largest value is -log Z (code 0) and its smallest -255 step - log Z, so the range and
 * hence the step are the same, and every code is its old one plus rounding noise far below 0.5.
 */
function quantiseInputNode(logp: Float64Array, start: number, n: number, codes: Uint8Array): number {
  let max = -Infinity;
  let min = Infinity;
  for (let i = start; i < start + n; i++) {
    if (logp[i] > max) max = logp[i];
    if (logp[i] < min) min = logp[i];
  }
  const step = Math.fround(Math.min(max - min, SPC2_INPUT_RANGE) / SPC2_LEVELS);
  for (let i = start; i < start + n; i++) codes[i] = step > 0 ? Math.min(SPC2_LEVELS, Math.round((max - logp[i]) / step)) : 0;
  return step;
}

/** Version 2: log-probabilities -code * step, normalised (log-sum-exp in a fixed order). */
function dequantiseInputNode(codes: Uint8Array, step: number, start: number, n: number, out: Float64Array): void {
  // Code 0 is the largest value, so the sum of exp(-code * step) is at least 1 and cannot underflow.
  let z = 0;
  for (let i = start; i < start + n; i++) z += Math.exp(-codes[i] * step);
  const logZ = Math.log(z);
  for (let i = start; i < start + n; i++) out[i] = -codes[i] * step - logZ;
}

function hasMagic(bytes: Uint8Array): boolean {
  if (bytes.length < SPC_MAGIC.length) return false;
  for (let i = 0; i < SPC_MAGIC.length; i++) if (bytes[i] !== SPC_MAGIC[i]) return false;
  return true;
}

/** A .jpc file starts with comment lines ("c ...") or the "jpc N" header. */
function looksLikeJpcText(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart();
  return /^(c(\s|$)|jpc\s+\d)/.test(head);
}

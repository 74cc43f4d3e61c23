// Model file formats: .spc (binary, ours) and .jpc (ProbabilisticCircuits.jl text). Round trips must be
// bit exact, corrupt or foreign files must fail with one sentence naming the file, and circuits shaped
// the way ProbabilisticCircuits.jl writes its HCLTs must import to the same distribution.

import { describe, expect, it } from 'vitest';
import { buildTreeCircuit, randomTree } from '../../src/circuit/tree.ts';
import { bottomUpOrder, validateCircuit, type Circuit, type Region, type SumBlock } from '../../src/circuit/structure.ts';
import { decodeSpc, encodeSpc, SPC2_INPUT_RANGE, SPC_HEADER_BYTES } from '../../src/circuit/formats/spc.ts';
import { exportJpc, importJpc } from '../../src/circuit/formats/jpc.ts';
import { crc32 } from '../../src/util/crc32.ts';
import { UserError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/rng.ts';

// ---------------------------------------------------------------------------------------------
// Circuit builders

/** Random sparse block: every row non-empty, every column used, rows renormalised. */
function sparseBlock(rows: number, cols: number, rng: Rng, keep: number): SumBlock {
  const on: boolean[][] = Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.uniform() < keep));
  for (let i = 0; i < cols; i++) if (!on.some((r) => r[i])) on[rng.int(rows)][i] = true;
  for (const r of on) if (!r.some((x) => x)) r[rng.int(cols)] = true;
  const rowPtr = new Int32Array(rows + 1);
  const colIdx: number[] = [];
  const logWeights: number[] = [];
  for (let j = 0; j < rows; j++) {
    const start = colIdx.length;
    for (let i = 0; i < cols; i++) {
      if (!on[j][i]) continue;
      colIdx.push(i);
      logWeights.push(Math.log(0.05 + rng.uniform()));
    }
    renormalise(logWeights, start);
    rowPtr[j + 1] = colIdx.length;
  }
  return { rows, cols, rowPtr, colIdx: Int32Array.from(colIdx), logWeights: Float64Array.from(logWeights) };
}

function renormalise(a: number[], start: number): void {
  let s = 0;
  for (let i = start; i < a.length; i++) s += Math.exp(a[i]);
  const l = Math.log(s);
  for (let i = start; i < a.length; i++) a[i] -= l;
}

/** Deletes random entries of every block of a dense circuit (keeping it valid) and renormalises. */
function sparsify(c: Circuit, rng: Rng, keep: number): Circuit {
  return {
    ...c,
    regions: c.regions.map((r) => {
      const b = r.block;
      const rowPtr = new Int32Array(b.rows + 1);
      const colIdx: number[] = [];
      const w: number[] = [];
      const used = new Uint8Array(b.cols);
      const kept: number[][] = [];
      for (let j = 0; j < b.rows; j++) {
        const row: number[] = [];
        for (let e = b.rowPtr[j]; e < b.rowPtr[j + 1]; e++) if (rng.uniform() < keep) row.push(e);
        if (row.length === 0) row.push(b.rowPtr[j] + rng.int(b.rowPtr[j + 1] - b.rowPtr[j]));
        for (const e of row) used[b.colIdx[e]] = 1;
        kept.push(row);
      }
      for (let i = 0; i < b.cols; i++) {
        if (used[i]) continue;
        const j = rng.int(b.rows); // dense input: entry (j, i) is at rowPtr[j] + i
        kept[j].push(b.rowPtr[j] + i);
        kept[j].sort((x, y) => x - y);
      }
      for (let j = 0; j < b.rows; j++) {
        const start = colIdx.length;
        for (const e of kept[j]) {
          colIdx.push(b.colIdx[e]);
          w.push(b.logWeights[e]);
        }
        renormalise(w, start);
        rowPtr[j + 1] = colIdx.length;
      }
      const block = { rows: b.rows, cols: b.cols, rowPtr, colIdx: Int32Array.from(colIdx), logWeights: Float64Array.from(w) };
      return { ...r, block };
    }),
  };
}

/** A tree circuit whose regions have different sizes (1..maxSize) and sparse blocks. */
function unevenCircuit(D: number, numValues: number, maxSize: number, rng: Rng): Circuit {
  const parent = randomTree(D, rng);
  const size = Array.from({ length: D }, () => 1 + rng.int(maxSize));
  const regions: Region[] = [];
  let root = -1;
  for (let v = 0; v < D; v++) {
    if (parent[v] === -1) root = v;
    const children: number[] = [];
    for (let c = 0; c < D; c++) if (parent[c] === v) children.push(c);
    const inputLogProbs = new Float64Array(size[v] * numValues);
    for (let i = 0; i < size[v]; i++) {
      const row: number[] = [];
      for (let x = 0; x < numValues; x++) row.push(Math.log(0.01 + rng.uniform()));
      renormalise(row, 0);
      inputLogProbs.set(row, i * numValues);
    }
    const rows = parent[v] === -1 ? 1 : size[parent[v]];
    regions.push({ variable: v, parent: parent[v], children, size: size[v], inputLogProbs, block: sparseBlock(rows, size[v], rng, 0.5) });
  }
  return { numVars: D, numValues, regions, root };
}

/** log p(x) by the region recursion of docs/architecture.md, "Forward pass" (float64, no shortcuts). */
function logProb(c: Circuit, x: number[]): number {
  const sums: Float64Array[] = new Array(c.numVars);
  for (const v of bottomUpOrder(c)) {
    const r = c.regions[v];
    const prod = new Float64Array(r.size);
    for (let i = 0; i < r.size; i++) {
      prod[i] = r.inputLogProbs[i * c.numValues + x[v]];
      for (const ch of r.children) prod[i] += sums[ch][i];
    }
    const b = r.block;
    const out = new Float64Array(b.rows);
    for (let j = 0; j < b.rows; j++) {
      let s = 0;
      for (let e = b.rowPtr[j]; e < b.rowPtr[j + 1]; e++) s += Math.exp(b.logWeights[e] + prod[b.colIdx[e]]);
      out[j] = Math.log(s);
    }
    sums[v] = out;
  }
  return sums[c.root][0];
}

/** log p(x) straight from .jpc text, node by node (an independent reading of the format). */
function jpcLogProb(text: string, x: number[]): number {
  const val = new Map<string, number>();
  let last = '';
  for (const line of text.split('\n')) {
    const t = line.trim().split(' ');
    if (line === '' || line.startsWith('c') || t[0] === 'jpc') continue;
    const id = t[1];
    if (t[0] === 'C') val.set(id, Number(t[4 + x[Number(t[3]) - 1]]));
    else if (t[0] === 'P')
      val.set(
        id,
        t.slice(4).reduce((s, ch) => s + val.get(ch)!, 0),
      );
    else {
      let s = 0;
      for (let k = 4; k < t.length; k += 2) s += Math.exp(Number(t[k + 1]) + val.get(t[k])!);
      val.set(id, Math.log(s));
    }
    last = id;
  }
  return val.get(last)!;
}

function allAssignments(D: number, V: number): number[][] {
  const out: number[][] = [];
  const x = new Array<number>(D).fill(0);
  for (;;) {
    out.push(x.slice());
    let k = 0;
    while (k < D && ++x[k] === V) x[k++] = 0;
    if (k === D) return out;
  }
}

// ProbabilisticCircuits.jl's HCLT (src/structures/hclts.jl, Categorical inputs) and its .jpc writer
// (src/io/jpc_io.jl), re-enacted: nodes are objects, written in post-order with ids from 0.
type JNode = { t: 'C'; v: number; logp: number[] } | { t: 'P'; ch: JNode[] } | { t: 'S'; ch: JNode[]; w: number[] };

function juliaHclt(parent: ArrayLike<number>, K: number, V: number, rng: Rng): JNode {
  const D = parent.length;
  const f32norm = (n: number): number[] => {
    const a = Array.from({ length: n }, () => Math.log(0.2 + rng.uniform()));
    renormalise(a, 0);
    return a.map((x) => Math.fround(x)); // Julia keeps parameters in Float32
  };
  const leaves = Array.from({ length: D }, (_, v) => Array.from({ length: K }, (): JNode => ({ t: 'C', v: v + 1, logp: f32norm(V) })));
  const kids = Array.from({ length: D }, (_, v) => Array.from(parent).flatMap((p, c) => (p === v ? [c] : [])));
  const root = Array.from(parent).indexOf(-1);
  const circuits: JNode[][] = new Array(D);
  const visit = (v: number): void => {
    for (const c of kids[v]) visit(c);
    if (kids[v].length === 0) {
      circuits[v] = leaves[v];
      return;
    }
    let child: JNode[];
    if (kids[v].length > 1) {
      child = Array.from({ length: K }, (_, i): JNode => ({ t: 'S', ch: [{ t: 'P', ch: kids[v].map((c) => circuits[c][i]) }], w: [0] }));
    } else child = circuits[kids[v][0]];
    circuits[v] = Array.from({ length: K }, (): JNode => ({ t: 'S', ch: child.map((cc, i): JNode => ({ t: 'P', ch: [cc, leaves[v][i]] })), w: f32norm(K) }));
  };
  visit(root);
  return circuits[root][0];
}

/** Julia prints floats with a ".0" or "e" form: 0.0, -1.0, 1.0e-5. */
function juliaFloat(x: number): string {
  const s = String(x);
  if (/e/.test(s)) return s.includes('.') ? s : s.replace('e', '.0e');
  return s.includes('.') ? s : s + '.0';
}

function writeJuliaJpc(root: JNode): string {
  const ids = new Map<JNode, number>();
  const order: JNode[] = [];
  const label = (n: JNode): void => {
    if (ids.has(n)) return;
    if (n.t !== 'C') for (const c of n.ch) label(c);
    ids.set(n, order.length);
    order.push(n);
  };
  label(root);
  const lines = ['c this file was saved by ProbabilisticCircuits.jl', 'c ids of jpc nodes start at 0', 'c', `jpc ${order.length}`];
  for (const n of order) {
    const id = ids.get(n)!;
    if (n.t === 'C') lines.push(`C ${id} 0 ${n.v} ${n.logp.map(juliaFloat).join(' ')}`);
    else if (n.t === 'P') lines.push(`P ${id} 0 ${n.ch.length} ${n.ch.map((c) => ids.get(c)).join(' ')}`);
    else lines.push(`S ${id} 0 ${n.ch.length} ${n.ch.map((c, k) => `${ids.get(c)} ${juliaFloat(n.w[k])}`).join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

function userError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error('expected a UserError');
}

const cases: Array<{ name: string; make: () => Circuit }> = [
  ...[1, 2, 3].map((seed) => ({
    name: `dense tree seed ${seed}`,
    make: () => {
      const rng = new Rng(seed);
      return buildTreeCircuit(randomTree(3 + seed * 2, rng), 2 + seed, 1 + seed, rng);
    },
  })),
  ...[4, 5, 6].map((seed) => ({
    name: `sparsified tree seed ${seed}`,
    make: () => {
      const rng = new Rng(seed);
      return sparsify(buildTreeCircuit(randomTree(6, rng), 4, 5, rng), rng, 0.4);
    },
  })),
  ...[7, 8, 9].map((seed) => ({ name: `uneven regions seed ${seed}`, make: () => unevenCircuit(7, 3, 4, new Rng(seed)) })),
  { name: 'single variable', make: () => buildTreeCircuit(Int32Array.of(-1), 5, 3, new Rng(10)) },
];

// ---------------------------------------------------------------------------------------------

describe('crc32', () => {
  it('matches the IEEE check value and chains over chunks', () => {
    const bytes = new TextEncoder().encode('123456789');
    expect(crc32(bytes)).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(bytes.subarray(4), crc32(bytes.subarray(0, 4)))).toBe(0xcbf43926);
    expect(crc32(bytes, 0, 2, 5)).toBe(crc32(bytes.subarray(2, 5)));
  });
});

describe('.spc round trip', () => {
  for (const { name, make } of cases) {
    it(`is bit exact: ${name}`, () => {
      const c = make();
      expect(validateCircuit(c)).toBeNull();
      const meta = { K: 4, config: { prune: 0.75, seed: 3, note: 'ünïcode ✓' } };
      const bytes = encodeSpc(c, meta);
      const back = decodeSpc(bytes, 'model.spc');
      expect(back.circuit).toEqual(c);
      expect(back.meta).toEqual(meta);
      expect(encodeSpc(back.circuit, back.meta)).toEqual(bytes);
    });
  }

  it('writes the documented header', () => {
    const c = buildTreeCircuit(Int32Array.of(-1, 0), 2, 1, new Rng(1));
    const bytes = encodeSpc(c);
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x53, 0x50, 0x43, 0x00]);
    const dv = new DataView(bytes.buffer);
    expect(dv.getUint32(4, true)).toBe(1);
    expect(dv.getUint32(8, true)).toBe(bytes.length - SPC_HEADER_BYTES);
    expect(dv.getUint32(12, true)).toBe(crc32(bytes.subarray(SPC_HEADER_BYTES)));
    // meta "{}" (2 bytes) + 3 u32 + 2 regions of (7 u32 + 2 rowPtr... see layout): exact size
    const region = (nch: number, rows: number, nnz: number, size: number) => 4 + 4 + 4 * nch + 4 + 12 + 4 * (rows + 1) + 12 * nnz + 8 * size * 2;
    expect(bytes.length).toBe(16 + 4 + 2 + 12 + region(1, 1, 1, 1) + region(0, 1, 1, 1));
  });

  it('decodes from a Uint8Array view at an odd offset', () => {
    const c = unevenCircuit(4, 3, 3, new Rng(11));
    const bytes = encodeSpc(c);
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    expect(decodeSpc(big.subarray(3), 'x.spc').circuit).toEqual(c);
  });
});

describe('.spc rejects bad files with one sentence naming the file', () => {
  const c = unevenCircuit(5, 3, 3, new Rng(12));
  const good = encodeSpc(c, { K: 3 });
  const metaLen = 7; // {"K":3}
  const reCrc = (b: Uint8Array): Uint8Array => {
    new DataView(b.buffer).setUint32(12, crc32(b.subarray(SPC_HEADER_BYTES)), true);
    return b;
  };

  it('flipped payload byte', () => {
    const b = good.slice();
    b[b.length - 5] ^= 0x10;
    expect(userError(() => decodeSpc(b, 'model.spc'))).toBe('model.spc is corrupted: the payload checksum does not match.');
  });
  it('truncated file and truncated header', () => {
    const payload = good.length - SPC_HEADER_BYTES;
    expect(userError(() => decodeSpc(good.subarray(0, good.length - 10), 'model.spc'))).toBe(
      `model.spc is truncated: the header promises ${payload} payload bytes but only ${payload - 10} are present.`,
    );
    expect(userError(() => decodeSpc(good.subarray(0, 9), 'model.spc'))).toBe('model.spc is truncated: its 9 bytes do not even hold the 16-byte header.');
    expect(userError(() => decodeSpc(new Uint8Array(0), 'empty.spc'))).toBe('empty.spc is too short to be a .spc model (0 bytes).');
  });
  it('trailing bytes', () => {
    const b = new Uint8Array(good.length + 3);
    b.set(good);
    expect(userError(() => decodeSpc(b, 'model.spc'))).toBe(`model.spc has 3 unexpected bytes after its ${good.length - 16}-byte payload.`);
  });
  it('wrong magic, random bytes, and a .jpc file', () => {
    const b = good.slice();
    b[0] = 0x50;
    expect(userError(() => decodeSpc(b, 'model.spc'))).toBe('model.spc is not a .spc model (it does not start with the SPC signature).');
    const rng = new Rng(5);
    const noise = Uint8Array.from({ length: 200 }, () => rng.int(256));
    expect(userError(() => decodeSpc(noise, 'noise.bin'))).toBe('noise.bin is not a .spc model (it does not start with the SPC signature).');
    const jpc = new TextEncoder().encode(exportJpc(c));
    expect(userError(() => decodeSpc(jpc, 'model.jpc'))).toBe('model.jpc looks like a .jpc text circuit, not a .spc model: load it as .jpc.');
  });
  it('newer version', () => {
    const b = good.slice();
    new DataView(b.buffer).setUint32(4, 3, true);
    expect(userError(() => decodeSpc(b, 'model.spc'))).toBe('model.spc was written by a newer version (v3); this build reads v1 to v2.');
  });
  it('absurd counts are caught before allocating', () => {
    const b = good.slice();
    const at = SPC_HEADER_BYTES + 4 + metaLen; // numVars
    new DataView(b.buffer).setUint32(at, 0xffffffff, true);
    const left = good.length - (at + 4);
    expect(userError(() => decodeSpc(reCrc(b), 'model.spc'))).toBe(
      `model.spc is corrupt: 4294967295 entries of the region list would take ${0xffffffff * 28} bytes but only ${left} remain.`,
    );
    // region 0's nnz field
    const r0 = at + 12;
    const nch = c.regions[0].children.length;
    const nnzAt = r0 + 8 + 4 * nch + 12;
    const b2 = good.slice();
    new DataView(b2.buffer).setUint32(nnzAt, 0x7fffffff, true);
    const msg = userError(() => decodeSpc(reCrc(b2), 'model.spc'));
    expect(msg).toMatch(/^model\.spc is corrupt: region 0's 2147483647 sum edges would take 8589934588 bytes but only \d+ remain\.$/);
    // the metadata length
    const b3 = good.slice();
    new DataView(b3.buffer).setUint32(SPC_HEADER_BYTES, 1e9, true);
    expect(userError(() => decodeSpc(reCrc(b3), 'model.spc'))).toBe(
      `model.spc is corrupt: 1000000000 entries of the metadata would take 1000000000 bytes but only ${good.length - 20} remain.`,
    );
  });
  it('a well-formed file holding an invalid circuit', () => {
    const b = good.slice();
    // region 0's first log-weight: after parent, children, size, rows, cols, nnz, rowPtr, colIdx
    const r = c.regions[0];
    const at = SPC_HEADER_BYTES + 4 + metaLen + 12 + 8 + 4 * r.children.length + 16 + 4 * (r.block.rows + 1) + 4 * r.block.colIdx.length;
    new DataView(b.buffer).setFloat64(at, 5, true);
    expect(userError(() => decodeSpc(reCrc(b), 'model.spc'))).toMatch(
      /^model\.spc does not hold a valid circuit: region 0 sum node 0 weights sum to [\d.e+]+, expected 1\.$/,
    );
  });
  it('metadata that is not a JSON object', () => {
    const bad = encodeSpc(c, { K: 3 });
    bad.set(new TextEncoder().encode('[1,2,3]'), SPC_HEADER_BYTES + 4);
    expect(userError(() => decodeSpc(reCrc(bad), 'model.spc'))).toBe('model.spc is corrupt: its metadata is not a JSON object.');
  });
});

/** Largest |a - b| over two circuits' parameters (same structure). */
function maxParamDiff(a: Circuit, b: Circuit): { weights: number; inputs: number } {
  let weights = 0;
  let inputs = 0;
  a.regions.forEach((r, v) => {
    const s = b.regions[v];
    r.block.logWeights.forEach((w, e) => (weights = Math.max(weights, Math.abs(w - s.block.logWeights[e]))));
    r.inputLogProbs.forEach((x, i) => (inputs = Math.max(inputs, Math.abs(Math.exp(x) - Math.exp(s.inputLogProbs[i])))));
  });
  return { weights, inputs };
}

describe('.spc version 2 (compact)', () => {
  for (const { name, make } of cases) {
    it(`keeps the structure, is close in value and re-encodes to the same bytes: ${name}`, () => {
      const c = make();
      const meta = { K: 4, note: 'ünïcode ✓' };
      const bytes = encodeSpc(c, meta, { version: 2 });
      expect(new DataView(bytes.buffer).getUint32(4, true)).toBe(2);
      const back = decodeSpc(bytes, 'model.spc');
      expect(back.meta).toEqual(meta);
      expect(validateCircuit(back.circuit)).toBeNull();
      const structure = (x: Circuit) => x.regions.map((r) => [r.parent, r.children, r.size, r.block.rows, r.block.cols, r.block.rowPtr, r.block.colIdx]);
      expect(structure(back.circuit)).toEqual(structure(c));
      expect([back.circuit.numVars, back.circuit.numValues, back.circuit.root]).toEqual([c.numVars, c.numValues, c.root]);
      const d = maxParamDiff(c, back.circuit);
      expect(d.weights).toBeLessThan(1e-6); // f32 logs
      expect(d.inputs).toBeLessThan(0.05); // 8-bit codes, about 1/255 of the range in log space
      // A loaded version 2 circuit is a fixed point: saving it again gives the same file.
      expect(encodeSpc(back.circuit, back.meta, { version: 2 })).toEqual(bytes);
      // And version 1 of the loaded circuit round trips it bit exactly, as for any circuit.
      expect(decodeSpc(encodeSpc(back.circuit, meta), 'v1.spc').circuit).toEqual(back.circuit);
    });
  }

  it('is about 8 times smaller than version 1 on wide inputs, and the likelihoods stay close', () => {
    const c = unevenCircuit(6, 256, 5, new Rng(21));
    const v1 = encodeSpc(c);
    const v2 = encodeSpc(c, {}, { version: 2 });
    expect(v2.length).toBeLessThan(v1.length / 6);
    const back = decodeSpc(v2, 'm.spc').circuit;
    const rng = new Rng(22);
    for (let t = 0; t < 20; t++) {
      const x = Array.from({ length: 6 }, () => rng.int(256));
      expect(Math.abs(logProb(back, x) - logProb(c, x))).toBeLessThan(0.05 * 6);
    }
  });

  it('zero probabilities, uniform and one-hot distributions', () => {
    const c = buildTreeCircuit(Int32Array.of(-1, 0), 4, 2, new Rng(23));
    const L = c.numValues;
    c.regions[0].inputLogProbs.fill(-Math.log(4), 0, L); // uniform
    c.regions[0].inputLogProbs.set([0, -Infinity, -Infinity, -Infinity], L); // one-hot
    c.regions[1].inputLogProbs.set([Math.log(0.5), Math.log(0.5), -Infinity, -Infinity], 0); // zeros
    const back = decodeSpc(encodeSpc(c, {}, { version: 2 }), 'm.spc').circuit;
    const p = (v: number, k: number) => Array.from(back.regions[v].inputLogProbs.subarray(k * L, (k + 1) * L), Math.exp);
    for (const x of p(0, 0)) expect(x).toBeCloseTo(0.25, 15);
    expect(p(0, 1)[0]).toBeCloseTo(1, 12);
    // Below SPC2_INPUT_RANGE nats under the largest value, a probability is stored as e^-range.
    expect(p(0, 1)[1]).toBeGreaterThan(0);
    expect(Math.log(p(0, 1)[1])).toBeCloseTo(-SPC2_INPUT_RANGE, 4);
    expect(p(1, 0)[0]).toBeCloseTo(0.5, 12);
    expect(p(1, 0)[2]).toBeLessThan(1e-27);
  });

  describe('rejects bad files with one sentence naming the file', () => {
    const c = unevenCircuit(5, 3, 3, new Rng(24));
    const good = encodeSpc(c, { K: 3 }, { version: 2 });
    it('flipped payload byte', () => {
      const b = good.slice();
      b[b.length - 2] ^= 0x01;
      expect(userError(() => decodeSpc(b, 'model.spc'))).toBe('model.spc is corrupted: the payload checksum does not match.');
    });
    it('truncated file', () => {
      const payload = good.length - SPC_HEADER_BYTES;
      expect(userError(() => decodeSpc(good.subarray(0, good.length - 1), 'model.spc'))).toBe(
        `model.spc is truncated: the header promises ${payload} payload bytes but only ${payload - 1} are present.`,
      );
    });
    it('a payload cut short inside the codes (with a matching header and checksum)', () => {
      const cut = good.slice(0, good.length - 2);
      const dv = new DataView(cut.buffer);
      dv.setUint32(8, cut.length - SPC_HEADER_BYTES, true);
      dv.setUint32(12, crc32(cut.subarray(SPC_HEADER_BYTES)), true);
      expect(userError(() => decodeSpc(cut, 'model.spc'))).toMatch(
        /^model\.spc is corrupt: region 4's \d+ x 3 input parameters would take \d+ bytes but only \d+ remain\.$/,
      );
    });
    it('an invalid step', () => {
      // region 0's first step: after the fixed fields, rowPtr, colIdx and the f32 weights
      const r = c.regions[0];
      const at = SPC_HEADER_BYTES + 4 + 7 + 12 + 8 + 4 * r.children.length + 16 + 4 * (r.block.rows + 1) + 8 * r.block.colIdx.length;
      const b = good.slice();
      const dv = new DataView(b.buffer);
      dv.setFloat32(at, Number.NaN, true);
      dv.setUint32(12, crc32(b.subarray(SPC_HEADER_BYTES)), true);
      expect(userError(() => decodeSpc(b, 'model.spc'))).toBe("model.spc is corrupt: region 0's input node 0 has an invalid step NaN.");
    });
  });
});

describe('.jpc export / import', () => {
  for (const { name, make } of cases) {
    it(`round trips bit exactly: ${name}`, () => {
      const c = make();
      const text = exportJpc(c);
      const back = importJpc(text, 'model.jpc');
      expect(back).toEqual(c);
      expect(exportJpc(back)).toBe(text);
    });
  }

  it('writes the ProbabilisticCircuits.jl layout', () => {
    // root 0 with child 1; K = 2; values 2.
    const c = buildTreeCircuit(Int32Array.of(-1, 0), 2, 2, new Rng(2));
    const lines = exportJpc(c).trimEnd().split('\n');
    const body = lines.filter((l) => !l.startsWith('c'));
    expect(body[0]).toBe('jpc 11');
    expect(body.map((l) => l.split(' ')[0]).join('')).toBe('jpcCCPPSSCCPPS');
    const r1 = c.regions[1];
    expect(body[1]).toBe(`C 0 0 2 ${r1.inputLogProbs[0]} ${r1.inputLogProbs[1]}`);
    expect(body[3]).toBe('P 2 0 1 0');
    expect(body[5]).toMatch(/^S 4 0 2 2 \S+ 3 \S+$/);
    expect(body[9]).toBe('P 8 0 2 4 6'); // child sum 0, then own input 0 (Julia's HCLT order)
    expect(body[10]).toBe('P 9 0 2 5 7');
    expect(body[11]).toBe(`S 10 0 2 8 ${c.regions[0].block.logWeights[0]} 9 ${c.regions[0].block.logWeights[1]}`);
    for (const l of body.slice(1)) expect(l).not.toMatch(/ {2}|\s$/); // Julia's fast reader splits on single spaces
  });

  it('writes -Inf and -0 so they survive the round trip', () => {
    const c = buildTreeCircuit(Int32Array.of(-1), 3, 1, new Rng(3));
    c.regions[0].inputLogProbs.set([0, -Infinity, -Infinity]);
    c.regions[0].block.logWeights[0] = -0;
    const text = exportJpc(c);
    expect(text).toContain('C 0 0 1 0 -Inf -Inf\n');
    expect(text).toContain('S 2 0 1 1 -0\n');
    const back = importJpc(text, 'm.jpc');
    expect(Object.is(back.regions[0].block.logWeights[0], -0)).toBe(true);
    expect(back).toEqual(c);
  });
});

describe('.jpc import of circuits written by ProbabilisticCircuits.jl', () => {
  const trees: Array<{ name: string; parent: number[] }> = [
    { name: 'a chain', parent: [-1, 0, 1, 2] },
    { name: 'a root with two leaf children', parent: [-1, 0, 0] },
    { name: 'mixed inner and leaf children', parent: [1, -1, 1, 2, 2, 1] },
    { name: 'two inner children', parent: [-1, 0, 0, 1, 2] },
    { name: 'one leaf and one inner child (read as a chain)', parent: [-1, 0, 0, 2] },
  ];
  for (const { name, parent } of trees) {
    it(`imports an HCLT over ${name} as the same distribution`, () => {
      const rng = new Rng(parent.length * 7);
      const K = 3;
      const V = 2;
      const text = writeJuliaJpc(juliaHclt(parent, K, V, rng));
      const c = importJpc(text, 'hclt.jpc');
      expect(validateCircuit(c)).toBeNull();
      expect(c.numVars).toBe(parent.length);
      expect(c.numValues).toBe(V);
      for (const r of c.regions) expect(r.size).toBe(K);
      let total = 0;
      for (const x of allAssignments(parent.length, V)) {
        const lp = logProb(c, x);
        expect(lp).toBeCloseTo(jpcLogProb(text, x), 12);
        total += Math.exp(lp);
      }
      expect(total).toBeCloseTo(1, 5); // Float32 parameters: normalised to ~1e-7
      // import is canonical: exporting and importing again changes nothing
      expect(importJpc(exportJpc(c), 'again.jpc')).toEqual(c);
    });
  }

  it('keeps the CLT of a chain and merges the per-sum product copies', () => {
    const text = writeJuliaJpc(juliaHclt([-1, 0, 1], 2, 3, new Rng(1)));
    // Julia: 6 inputs, region 2: 2 sums x 2 products, root region: 1 sum x 2 products (the other root sum is unreachable)
    expect(text).toContain('jpc 15\n');
    const c = importJpc(text, 'hclt.jpc');
    expect(c.root).toBe(0);
    expect(c.regions.map((r) => r.parent)).toEqual([-1, 0, 1]);
    expect(c.regions.map((r) => r.block.rows)).toEqual([1, 2, 2]);
    expect(c.regions.map((r) => r.block.colIdx.length)).toEqual([2, 4, 2]);
    // the leaf variable gets single-child sums of weight 1 (log 0), one per parent product
    expect(Array.from(c.regions[2].block.logWeights)).toEqual([0, 0]);
    expect(Array.from(c.regions[2].block.rowPtr)).toEqual([0, 1, 2]);
  });

  it('accepts a sum that points directly at input nodes of a leaf variable', () => {
    const h = Math.log(0.5);
    const text = [
      'jpc 8',
      `C 0 0 2 ${Math.log(0.9)} ${Math.log(0.1)}`,
      `C 1 0 2 ${Math.log(0.2)} ${Math.log(0.8)}`,
      `S 2 0 2 0 ${Math.log(0.3)} 1 ${Math.log(0.7)}`,
      `C 3 0 1 ${h} ${h}`,
      'P 4 0 2 2 3',
      `C 5 0 1 ${Math.log(0.6)} ${Math.log(0.4)}`,
      'P 6 0 2 2 5',
      `S 7 0 2 4 ${Math.log(0.25)} 6 ${Math.log(0.75)}`,
    ].join('\n');
    const c = importJpc(text, 'direct.jpc');
    expect(c.regions[1].size).toBe(2);
    expect(Array.from(c.regions[1].block.rowPtr)).toEqual([0, 2, 4]);
    expect(Array.from(c.regions[1].block.colIdx)).toEqual([0, 1, 0, 1]);
    expect(Array.from(c.regions[1].block.logWeights)).toEqual([Math.log(0.3), Math.log(0.7), Math.log(0.3), Math.log(0.7)]);
    // p(x1=0, x2=1) = 0.25*0.5*(0.3*0.1+0.7*0.8) + 0.75*0.6*(0.3*0.1+0.7*0.8)
    expect(Math.exp(logProb(c, [0, 1]))).toBeCloseTo((0.25 * 0.5 + 0.75 * 0.6) * (0.03 + 0.56), 14);
  });
});

describe('.jpc rejects malformed files with the file name and line', () => {
  const h = Math.log(0.5);
  const ok = ['c a comment', 'jpc 3', `C 0 0 1 ${h} ${h}`, 'P 1 0 1 0', 'S 2 0 1 1 0'];
  const with_ = (i: number, line: string): string => ok.map((l, k) => (k === i ? line : l)).join('\n');

  it('accepts the base file', () => {
    const c = importJpc(ok.join('\n'), 'model.jpc');
    expect(c.numVars).toBe(1);
    expect(Array.from(c.regions[0].inputLogProbs)).toEqual([h, h]);
  });
  it('bad header', () => {
    expect(userError(() => importJpc(with_(1, 'jpx 3'), 'model.jpc'))).toBe(
      'model.jpc line 2: expected the header "jpc <node count>" before any node, found "jpx".',
    );
    expect(userError(() => importJpc(with_(1, 'jpc three'), 'model.jpc'))).toBe('model.jpc line 2: the node count "three" is not a positive integer.');
    expect(userError(() => importJpc(with_(1, 'jpc 99999999999'), 'model.jpc'))).toBe(
      'model.jpc line 2: the header announces 99999999999 nodes but only 3 lines follow.',
    );
    expect(userError(() => importJpc('c nothing here\n', 'model.jpc'))).toBe('model.jpc has no "jpc <node count>" header line: it is not a .jpc circuit.');
    expect(userError(() => importJpc(with_(1, 'jpc 4'), 'model.jpc'))).toBe('model.jpc defines 3 nodes but its header announces 4.');
  });
  it('undefined child id', () => {
    expect(userError(() => importJpc(with_(3, 'P 1 0 1 2'), 'model.jpc'))).toBe('model.jpc line 4: product 1 refers to node 2 that is not defined yet.');
    expect(userError(() => importJpc(with_(4, 'S 2 0 1 40 0'), 'model.jpc'))).toBe('model.jpc line 5: sum node 2 refers to node 40 that is not defined yet.');
  });
  it('wrong token count', () => {
    expect(userError(() => importJpc(with_(4, 'S 2 0 2 1 0'), 'model.jpc'))).toBe(
      'model.jpc line 5: sum node 2 announces 2 children but the line has 2 fields after the count (expected 4: child id and log-weight per child).',
    );
    expect(userError(() => importJpc(with_(3, 'P 1 0 2 0'), 'model.jpc'))).toBe(
      'model.jpc line 4: product 1 announces 2 children but the line has 1 fields after the count (1 children).',
    );
    expect(userError(() => importJpc(with_(2, 'C 0 0 1 0'), 'model.jpc'))).toBe(
      'model.jpc line 3: categorical node 0 lists 1 log-probabilities; at least 2 are needed.',
    );
  });
  it('non-numbers and bad ids', () => {
    expect(userError(() => importJpc(with_(2, `C 0 0 1 abc ${h}`), 'model.jpc'))).toBe(
      'model.jpc line 3: log-probability "abc" of categorical node 0 is not a number.',
    );
    expect(userError(() => importJpc(with_(4, 'S 2 0 1 1 zero'), 'model.jpc'))).toBe('model.jpc line 5: log-weight "zero" of sum node 2 is not a number.');
    expect(userError(() => importJpc(with_(3, 'P x 0 1 0'), 'model.jpc'))).toBe('model.jpc line 4: node id "x" is not a non-negative integer.');
    expect(userError(() => importJpc(with_(3, 'P 0 0 1 0'), 'model.jpc'))).toBe('model.jpc line 4: node 0 is defined twice (first on line 3).');
    expect(userError(() => importJpc(with_(2, `C 0 0 0 ${h} ${h}`), 'model.jpc'))).toBe(
      'model.jpc line 3: categorical node 0 has variable "0"; variables are integers from 1.',
    );
    expect(userError(() => importJpc(with_(2, 'L 0 0 1'), 'model.jpc'))).toBe(
      'model.jpc line 3: literal (L) input nodes are not supported; this playground loads categorical (C) inputs only.',
    );
    expect(userError(() => importJpc(with_(2, 'X 0 0 1'), 'model.jpc'))).toBe('model.jpc line 3: unknown node type "X" (expected C, P or S).');
  });
  it('weights or probabilities that are not normalised', () => {
    expect(userError(() => importJpc(with_(4, 'S 2 0 1 1 -0.1'), 'model.jpc'))).toBe(
      `model.jpc line 5: the weights of sum node 2 sum to ${Math.exp(-0.1)}, not 1.`,
    );
    expect(userError(() => importJpc(with_(2, 'C 0 0 1 -1 -1'), 'model.jpc'))).toBe(
      `model.jpc line 3: the probabilities of categorical node 0 sum to ${2 * Math.exp(-1)}, not 1.`,
    );
    // within tolerance (Float32 files): kept exactly as written
    const w = -5e-7;
    const c = importJpc(with_(4, `S 2 0 1 1 ${w}`), 'model.jpc');
    expect(c.regions[0].block.logWeights[0]).toBe(w);
  });
  it('a binary .spc handed to the text importer', () => {
    const spc = encodeSpc(buildTreeCircuit(Int32Array.of(-1), 2, 1, new Rng(1)));
    expect(userError(() => importJpc(new TextDecoder().decode(spc), 'model.spc'))).toBe(
      'model.spc looks like a binary .spc model, not .jpc text: load it as .spc.',
    );
  });

  const prefix = (f: string) => `${f} is not a tree-structured circuit this playground can load: `;
  const C = (id: number, v: number) => `C ${id} 0 ${v} ${h} ${h}`;
  it('a sum that mixes products of different variables', () => {
    const text = ['jpc 5', C(0, 3), C(1, 9), 'P 2 0 1 0', 'P 3 0 1 1', `S 4 0 2 2 ${h} 3 ${h}`].join('\n');
    expect(userError(() => importJpc(text, 'model.jpc'))).toBe(prefix('model.jpc') + 'sum node 4 mixes products of variables 3 and 9.');
  });
  it('a product that is not decomposable', () => {
    // product 4 multiplies two sums that both cover variable 1
    const text = ['jpc 6', C(0, 1), C(1, 1), 'P 2 0 1 0', `S 3 0 1 2 0`, 'P 4 0 2 3 1', 'S 5 0 1 4 0'].join('\n');
    expect(userError(() => importJpc(text, 'model.jpc'))).toBe(prefix('model.jpc') + 'product 4 is not decomposable: two of its children involve variable 1.');
  });
  it('a node shared by two parts of the tree (a DAG)', () => {
    // variables 2 and 3 both multiply sum node 2 over variable 4
    const text = [
      'jpc 12',
      C(0, 4),
      'P 1 0 1 0',
      'S 2 0 1 1 0',
      C(3, 2),
      'P 4 0 2 2 3',
      'S 5 0 1 4 0',
      C(6, 3),
      'P 7 0 2 2 6',
      'S 8 0 1 7 0',
      C(9, 1),
      'P 10 0 3 5 8 9',
      'S 11 0 1 10 0',
    ].join('\n');
    expect(userError(() => importJpc(text, 'model.jpc'))).toBe(prefix('model.jpc') + 'variable 4 appears in two separate parts of the circuit.');
  });
  it('a sum over a sum, and variables with gaps', () => {
    const text = ['jpc 4', C(0, 1), 'P 1 0 1 0', 'S 2 0 1 1 0', 'S 3 0 1 2 0'].join('\n');
    expect(userError(() => importJpc(text, 'model.jpc'))).toBe(
      prefix('model.jpc') + 'sum node 3 has sum node 2 as a child, but sums must mix products or input nodes.',
    );
    const gap = ['jpc 3', C(0, 2), 'P 1 0 1 0', 'S 2 0 1 1 0'].join('\n');
    expect(userError(() => importJpc(gap, 'model.jpc'))).toBe(
      prefix('model.jpc') + 'the circuit never uses variable 1, but variables must be numbered 1..2 without gaps.',
    );
  });
  it('products of one region that multiply different variables', () => {
    const text =
      ['jpc 9', C(0, 2), 'P 1 0 1 0', 'S 2 0 1 1 0', C(3, 3), 'P 4 0 1 3', 'S 5 0 1 4 0', C(6, 1), C(7, 1), 'P 8 0 2 2 6'].join('\n') +
      `\nP 9 0 2 5 7\nS 10 0 2 8 ${h} 9 ${h}`;
    const fixed = text.replace('jpc 9', 'jpc 11');
    expect(userError(() => importJpc(fixed, 'model.jpc'))).toBe(
      prefix('model.jpc') + 'products 8 and 9 of variable 1 multiply nodes over different variables.',
    );
  });
});

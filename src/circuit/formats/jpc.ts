// The Juice / ProbabilisticCircuits.jl ".jpc" text format, so circuits move to and from Julia.
//
// Format, as read and written by Tractables/ProbabilisticCircuits.jl src/io/jpc_io.jl (JPC_FORMAT,
// `read_fast`, `Base.write(io, circuit, ::JpcFormat)`):
//   c ...                                   comment lines (any line starting with "c")
//   jpc <count>                             number of node lines that follow
//   C id vt var logp_1 ... logp_k           categorical input over values 0..k-1, var 1-based
//   P id vt n child_1 ... child_n           product
//   S id vt n child_1 logw_1 ... child_n logw_n   sum (log-weights)
// Ids are 0-based and every node appears after its children (bottom-up); the root is the last line.
// `vt` is the vtree node id; ProbabilisticCircuits.jl writes 0 when there is no vtree, and so do we.
// Julia's fast reader splits on single spaces, so we write exactly one space between tokens. Tokens
// are parsed with Base.parse(Float64), which also reads "-Inf" (what Julia prints for -Infinity).
// L (literal), I (indicator), B (binomial) and G (gaussian) inputs exist in the format but are not
// categorical, so they are rejected here with a clear message.
//
// Export writes per region (bottom-up): its input nodes (C), its products (P: child regions' sum node
// i, then input i, the order Julia's HCLT uses), its sum nodes (S). Floats use JavaScript's shortest
// round-trip form, so export -> import is bit exact.
//
// Import rebuilds the region tree (structure.ts) from any circuit that has that shape, including the
// HCLTs ProbabilisticCircuits.jl writes, which differ from ours in three ways that import undoes:
//   - each sum has its own copies of the region's products (same children): identical products merge;
//   - leaf variables have no sum layer: a product multiplies input nodes of several variables; the
//     owner is the variable all the region's products share (the last input, Julia's order, when
//     several qualify), the others become leaf regions with single-child sums of weight 1;
//   - a variable with several tree children multiplies a single-child sum over the product of the
//     children's nodes: such unit sums are flattened into the product.
// Variable numbers in messages are the file's (1-based); node ids are the file's ids.

import { UserError } from '../../util/errors.ts';
import { bottomUpOrder, validateCircuit, type Circuit, type Region } from '../structure.ts';

/**
 * How far exp of a node's log-parameters may sum from 1. ProbabilisticCircuits.jl keeps parameters
 * in Float32 (Categorical.logps, PlainSumNode.params), so its files are normalised only to ~1e-7;
 * this is also validateCircuit's default tolerance. Values are kept exactly as written.
 */
export const JPC_TOLERANCE = 1e-6;

const HEADER = [
  'c this file was saved by Sparse PC Playground (the ProbabilisticCircuits.jl .jpc format)',
  'c ids of jpc nodes start at 0',
  'c jpc nodes appear bottom-up, children before parents',
  'c',
  'c file syntax:',
  'c jpc count-of-jpc-nodes',
  'c C id-of-jpc-node id-of-vtree variable {log-probability}+',
  'c P id-of-product-jpc-node id-of-vtree number-of-children {child-id}+',
  'c S id-of-sum-jpc-node id-of-vtree number-of-children {child-id log-probability}+',
  'c',
];

/** Writes a circuit as .jpc text. Throws (a programming error) on an invalid circuit. */
export function exportJpc(c: Circuit): string {
  const problem = validateCircuit(c);
  if (problem !== null) throw new Error(`refusing to export an invalid circuit: ${problem}`);
  let count = 0;
  for (const r of c.regions) count += 2 * r.size + r.block.rows;
  const lines = HEADER.slice();
  lines.push(`jpc ${count}`);
  const sumBase = new Int32Array(c.numVars); // id of sum node 0 of each region
  let next = 0;
  for (const v of bottomUpOrder(c)) {
    const r = c.regions[v];
    const inputBase = next;
    for (let i = 0; i < r.size; i++) {
      const parts = ['C', String(next++), '0', String(v + 1)];
      for (let x = 0; x < c.numValues; x++) parts.push(formatFloat(r.inputLogProbs[i * c.numValues + x]));
      lines.push(parts.join(' '));
    }
    const productBase = next;
    for (let i = 0; i < r.size; i++) {
      const parts = ['P', String(next++), '0', String(r.children.length + 1)];
      for (const ch of r.children) parts.push(String(sumBase[ch] + i));
      parts.push(String(inputBase + i));
      lines.push(parts.join(' '));
    }
    sumBase[v] = next;
    const b = r.block;
    for (let j = 0; j < b.rows; j++) {
      const parts = ['S', String(next++), '0', String(b.rowPtr[j + 1] - b.rowPtr[j])];
      for (let e = b.rowPtr[j]; e < b.rowPtr[j + 1]; e++) parts.push(String(productBase + b.colIdx[e]), formatFloat(b.logWeights[e]));
      lines.push(parts.join(' '));
    }
  }
  return lines.join('\n') + '\n';
}

/** Shortest round-trip decimal; infinities as Julia prints them; keeps the sign of -0. */
function formatFloat(x: number): string {
  if (x === -Infinity) return '-Inf';
  if (x === Infinity) return 'Inf';
  if (Object.is(x, -0)) return '-0';
  return String(x);
}

// ---------------------------------------------------------------------------------------------
// Parsing

const INPUT = 1;
const PRODUCT = 2;
const SUM = 3;

/** The node table of a parsed file, flat (files of a million nodes stay cheap). */
interface NodeTable {
  kind: Uint8Array;
  line: Int32Array;
  /** Inputs: 0-based variable. */
  variable: Int32Array;
  /** Smallest variable in the node's scope: tells a product's children apart by subtree. */
  anchor: Int32Array;
  /** Products and sums: children[start .. start+len) (weights aligned, sums only); inputs: probs. */
  start: Int32Array;
  len: Int32Array;
  children: number[];
  weights: number[];
  probs: number[];
  numValues: number;
  root: number;
}

function parseJpc(text: string, fileName: string): NodeTable {
  if (text.startsWith('SPC\u0000')) throw new UserError(`${fileName} looks like a binary .spc model, not .jpc text: load it as .spc.`);
  const lines = text.split(/\r?\n/);
  let lineNo = 0;
  const fail: (what: string) => never = (what) => {
    throw new UserError(`${fileName} line ${lineNo}: ${what}.`);
  };
  let t: NodeTable | null = null;
  let defined = 0;
  let lastId = -1;
  for (let li = 0; li < lines.length; li++) {
    lineNo = li + 1;
    const raw = lines[li].trim();
    if (raw === '' || raw.startsWith('c')) continue; // comments start with "c", as in Julia's reader
    const tok = raw.split(/\s+/);
    if (t === null) {
      if (tok[0] !== 'jpc') fail(`expected the header "jpc <node count>" before any node, found ${quote(tok[0])}`);
      if (tok.length !== 2) fail(`the header must be "jpc <node count>"`);
      const count = parseIndex(tok[1]);
      if (count === null || count < 1) fail(`the node count ${quote(tok[1])} is not a positive integer`);
      // Every node needs a line of its own: a larger count is corrupt, and must not size allocations.
      if (count > lines.length - li) fail(`the header announces ${count} nodes but only ${lines.length - li - 1} lines follow`);
      t = newTable(count);
      continue;
    }
    if (tok[0] === 'jpc') fail('a second "jpc" header');
    const type = tok[0];
    if (type === 'L' || type === 'I' || type === 'B' || type === 'G') {
      const name = { L: 'literal', I: 'indicator', B: 'binomial', G: 'gaussian' }[type];
      fail(`${name} (${type}) input nodes are not supported; this playground loads categorical (C) inputs only`);
    }
    if (type !== 'C' && type !== 'P' && type !== 'S') fail(`unknown node type ${quote(type)} (expected C, P or S)`);
    if (tok.length < 4) fail(`a ${type} line needs at least 4 fields, found ${tok.length}`);
    const id = parseIndex(tok[1]);
    if (id === null) fail(`node id ${quote(tok[1])} is not a non-negative integer`);
    if (id >= t.kind.length) fail(`node id ${id} is out of range: the header announces ${t.kind.length} nodes (ids 0..${t.kind.length - 1})`);
    if (t.kind[id] !== 0) fail(`node ${id} is defined twice (first on line ${t.line[id]})`);
    if (!/^-?\d+$/.test(tok[2])) fail(`the vtree id ${quote(tok[2])} of node ${id} is not an integer`);

    if (type === 'C') {
      const v = parseIndex(tok[3]);
      if (v === null || v < 1) fail(`categorical node ${id} has variable ${quote(tok[3])}; variables are integers from 1`);
      const k = tok.length - 4;
      if (k < 2) fail(`categorical node ${id} lists ${k} log-probabilities; at least 2 are needed`);
      if (t.numValues === 0) t.numValues = k;
      else if (k !== t.numValues) fail(`categorical node ${id} has ${k} values but earlier ones have ${t.numValues}`);
      t.start[id] = t.probs.length;
      t.len[id] = k;
      for (let x = 0; x < k; x++) {
        const p = parseNumber(tok[4 + x]);
        if (p === null) fail(`log-probability ${quote(tok[4 + x])} of categorical node ${id} is not a number`);
        t.probs.push(p);
      }
      const s = sumExp(t.probs, t.start[id], k);
      if (!(Math.abs(s - 1) <= JPC_TOLERANCE)) fail(`the probabilities of categorical node ${id} sum to ${s}, not 1`);
      t.kind[id] = INPUT;
      t.variable[id] = v - 1;
      t.anchor[id] = v - 1;
    } else {
      const what = type === 'P' ? 'product' : 'sum node';
      const n = parseIndex(tok[3]);
      if (n === null || n < 1) fail(`${what} ${id} has child count ${quote(tok[3])}; it must be a positive integer`);
      const stride = type === 'P' ? 1 : 2;
      if (tok.length !== 4 + stride * n) {
        const listed = Math.floor((tok.length - 4) / stride);
        fail(
          `${what} ${id} announces ${n} children but the line has ${tok.length - 4} fields after the count (${type === 'P' ? `${listed} children` : `expected ${2 * n}: child id and log-weight per child`})`,
        );
      }
      t.start[id] = t.children.length;
      t.len[id] = n;
      let anchor = Number.MAX_SAFE_INTEGER;
      for (let k = 0; k < n; k++) {
        const ch = parseIndex(tok[4 + stride * k]);
        if (ch === null) fail(`${what} ${id} has child id ${quote(tok[4 + stride * k])}, which is not a non-negative integer`);
        if (ch >= t.kind.length || t.kind[ch] === 0) fail(`${what} ${id} refers to node ${ch} that is not defined yet`);
        let w = 0;
        if (type === 'S') {
          const parsed = parseNumber(tok[5 + 2 * k]);
          if (parsed === null) fail(`log-weight ${quote(tok[5 + 2 * k])} of sum node ${id} is not a number`);
          w = parsed;
        }
        t.children.push(ch);
        t.weights.push(w);
        anchor = Math.min(anchor, t.anchor[ch]);
      }
      if (type === 'S') {
        const s = sumExp(t.weights, t.start[id], n);
        if (!(Math.abs(s - 1) <= JPC_TOLERANCE)) fail(`the weights of sum node ${id} sum to ${s}, not 1`);
      }
      t.kind[id] = type === 'P' ? PRODUCT : SUM;
      t.anchor[id] = anchor;
    }
    t.line[id] = lineNo;
    defined++;
    lastId = id;
  }
  if (t === null) throw new UserError(`${fileName} has no "jpc <node count>" header line: it is not a .jpc circuit.`);
  if (defined !== t.kind.length) throw new UserError(`${fileName} defines ${defined} nodes but its header announces ${t.kind.length}.`);
  if (t.numValues === 0) throw new UserError(`${fileName} has no categorical (C) input nodes.`);
  t.root = lastId;
  return t;
}

function newTable(count: number): NodeTable {
  return {
    kind: new Uint8Array(count),
    line: new Int32Array(count),
    variable: new Int32Array(count),
    anchor: new Int32Array(count),
    start: new Int32Array(count),
    len: new Int32Array(count),
    children: [],
    weights: [],
    probs: [],
    numValues: 0,
    root: -1,
  };
}

function parseIndex(s: string): number | null {
  if (!/^\d{1,15}$/.test(s)) return null;
  return Number(s);
}

function parseNumber(s: string): number | null {
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Number(s);
  const m = /^([+-]?)(inf|infinity)$/i.exec(s);
  if (m !== null) return m[1] === '-' ? -Infinity : Infinity;
  return null;
}

/** sum of exp(a[start..start+n)), computed stably. */
function sumExp(a: number[], start: number, n: number): number {
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, a[start + i]);
  if (m === -Infinity) return 0;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(a[start + i] - m);
  return s * Math.exp(m);
}

function quote(s: string): string {
  return JSON.stringify(s.length > 24 ? s.slice(0, 24) + '...' : s);
}

// ---------------------------------------------------------------------------------------------
// Region recognition

/** One sum node of a region being built: a real sum, or an implicit weight-1 sum (sum = -1). */
interface Row {
  sum: number;
  children: number[];
  logw: number[];
}

interface Draft {
  parent: number;
  children: number[];
  size: number;
  inputLogProbs: Float64Array;
  rowPtr: Int32Array;
  colIdx: Int32Array;
  logWeights: Float64Array;
}

/** Parses .jpc text and rebuilds the region tree; every problem is a UserError naming the file. */
export function importJpc(text: string, fileName: string): Circuit {
  const t = parseJpc(text, fileName);
  const notTree: (why: string) => never = (why) => {
    throw new UserError(`${fileName} is not a tree-structured circuit this playground can load: ${why}.`);
  };
  const kindName = (id: number): string => (t.kind[id] === INPUT ? 'input node' : t.kind[id] === PRODUCT ? 'product' : 'sum node');
  const kids = (id: number): number[] => t.children.slice(t.start[id], t.start[id] + t.len[id]);
  const rowOf = (id: number): Row => ({ sum: id, children: kids(id), logw: t.weights.slice(t.start[id], t.start[id] + t.len[id]) });

  // Factors of a product: its children, with nested products (associativity) and single-child sums
  // over products that are not region products (Julia's multi-child HCLT layer) flattened in.
  const factorMemo = new Map<number, number[]>();
  const factors = (p: number): number[] => {
    const memo = factorMemo.get(p);
    if (memo !== undefined) return memo;
    const out: number[] = [];
    for (const ch of kids(p)) {
      if (t.kind[ch] === PRODUCT) out.push(...factors(ch));
      else if (t.kind[ch] === SUM && t.len[ch] === 1 && t.kind[t.children[t.start[ch]]] === PRODUCT) {
        const inner = factors(t.children[t.start[ch]]);
        let inputs = 0;
        for (const f of inner) if (t.kind[f] === INPUT) inputs++;
        if (inputs === 1)
          out.push(ch); // a region's sum node that happens to have one entry
        else out.push(...inner);
      } else out.push(ch);
    }
    factorMemo.set(p, out);
    return out;
  };

  const claim = new Map<number, number>(); // node -> variable of the region that owns it
  const claimNode = (id: number, v: number): void => {
    const other = claim.get(id);
    if (other === undefined) claim.set(id, v);
    else if (other !== v) notTree(`${kindName(id)} ${id} is shared by the parts for variables ${other + 1} and ${v + 1}`);
  };

  const drafts = new Map<number, Draft>();
  const queue: Array<{ rows: Row[]; parent: number }> = [];
  const r = t.root;
  queue.push({ rows: [t.kind[r] === SUM ? rowOf(r) : { sum: -1, children: [r], logw: [0] }], parent: -1 });

  try {
    for (let q = 0; q < queue.length; q++) {
      const { rows, parent } = queue[q];
      // 1. The distinct children of the rows (products, or inputs as single-factor products), merged
      //    when their factors are identical (Julia's per-sum copies of the same product).
      const merged: Array<{ node: number; factors: number[]; row: number }> = [];
      const mergedOf = new Map<number, number>();
      const byKey = new Map<string, number>();
      rows.forEach((row, j) => {
        for (const ch of row.children) {
          if (mergedOf.has(ch)) continue;
          if (t.kind[ch] === SUM) notTree(`sum node ${row.sum} has sum node ${ch} as a child, but sums must mix products or input nodes`);
          const f = t.kind[ch] === INPUT ? [ch] : factors(ch);
          const key = f
            .slice()
            .sort((a, b) => a - b)
            .join(',');
          let m = byKey.get(key);
          if (m === undefined) {
            m = merged.length;
            byKey.set(key, m);
            merged.push({ node: ch, factors: f, row: j });
          }
          mergedOf.set(ch, m);
        }
      });

      // 2. The owner variable: one input of it in every product, a different input per product.
      const first = merged[0];
      const firstInputs = first.factors.filter((f) => t.kind[f] === INPUT);
      if (firstInputs.length === 0) notTree(`product ${first.node} has no input-node child, so it belongs to no variable`);
      const ownerInputs = (u: number): number[] | string => {
        const seen = new Map<number, number>();
        const out: number[] = [];
        for (const m of merged) {
          const ins = m.factors.filter((f) => t.kind[f] === INPUT && t.variable[f] === u);
          if (ins.length === 0) {
            const other = m.factors.find((f) => t.kind[f] === INPUT);
            if (other === undefined) return `product ${m.node} has no input-node child, so it belongs to no variable`;
            const where =
              m.row === first.row && rows[m.row].sum >= 0 ? `sum node ${rows[m.row].sum}` : `the sum nodes above products ${first.node} and ${m.node}`;
            return `${where} mixes products of variables ${u + 1} and ${t.variable[other] + 1}`;
          }
          if (ins.length > 1) return `product ${m.node} has two input nodes of variable ${u + 1}`;
          const prev = seen.get(ins[0]);
          if (prev !== undefined) return `products ${prev} and ${m.node} share input node ${ins[0]} of variable ${u + 1} but differ in their other children`;
          seen.set(ins[0], m.node);
          out.push(ins[0]);
        }
        return out;
      };
      let owner = -1;
      let owned: number[] = [];
      let reason = '';
      for (let k = firstInputs.length - 1; k >= 0 && owner < 0; k--) {
        const u = t.variable[firstInputs[k]];
        const res = ownerInputs(u);
        if (typeof res === 'string') {
          if (reason === '') reason = res;
        } else {
          owner = u;
          owned = res;
        }
      }
      if (owner < 0) notTree(reason);
      const u = owner;
      if (drafts.has(u)) notTree(`variable ${u + 1} appears in two separate parts of the circuit`);

      // 3. Columns ordered by input node id (the file order of the region's inputs).
      const order = merged.map((_, m) => m).sort((a, b) => owned[a] - owned[b]);
      const col = new Int32Array(merged.length);
      order.forEach((m, i) => (col[m] = i));
      for (const row of rows) {
        if (row.sum >= 0) claimNode(row.sum, u);
        for (const ch of row.children) claimNode(ch, u);
      }
      for (const inp of owned) claimNode(inp, u);

      const n = merged.length;
      const V = t.numValues;
      const inputLogProbs = new Float64Array(n * V);
      order.forEach((m, i) => {
        const s = t.start[owned[m]];
        for (let x = 0; x < V; x++) inputLogProbs[i * V + x] = t.probs[s + x];
      });

      // 4. The sparse block: one row per sum node, duplicate columns (merged products) combined.
      const rowPtr = new Int32Array(rows.length + 1);
      const colList: number[] = [];
      const wList: number[] = [];
      rows.forEach((row, j) => {
        const entries = new Map<number, number>();
        row.children.forEach((ch, e) => {
          const c = col[mergedOf.get(ch)!];
          const prev = entries.get(c);
          entries.set(c, prev === undefined ? row.logw[e] : logAddExp(prev, row.logw[e]));
        });
        for (const c of [...entries.keys()].sort((a, b) => a - b)) {
          colList.push(c);
          wList.push(entries.get(c)!);
        }
        rowPtr[j + 1] = colList.length;
      });

      drafts.set(u, { parent, children: [], size: n, inputLogProbs, rowPtr, colIdx: Int32Array.from(colList), logWeights: Float64Array.from(wList) });
      if (parent >= 0) drafts.get(parent)!.children.push(u);

      // 5. Child regions: the other factors of the products, grouped by subtree (scope anchor).
      const slots: Array<Map<number, number>> = order.map((m) => {
        const slot = new Map<number, number>();
        for (const f of merged[m].factors) {
          if (f === owned[m]) continue;
          const a = t.anchor[f];
          if (a === u || slot.has(a)) notTree(`product ${merged[m].node} is not decomposable: two of its children involve variable ${a + 1}`);
          slot.set(a, f);
        }
        return slot;
      });
      const anchors = [...slots[0].keys()].sort((a, b) => a - b);
      for (let i = 1; i < n; i++) {
        const same = slots[i].size === anchors.length && anchors.every((a) => slots[i].has(a));
        if (!same) notTree(`products ${merged[order[0]].node} and ${merged[order[i]].node} of variable ${u + 1} multiply nodes over different variables`);
      }
      for (const a of anchors) {
        const childRows = slots.map((slot): Row => {
          const f = slot.get(a)!;
          return t.kind[f] === SUM ? rowOf(f) : { sum: -1, children: [f], logw: [0] };
        });
        queue.push({ rows: childRows, parent: u });
      }
    }
  } catch (e) {
    if (e instanceof RangeError && /call stack/i.test(e.message)) throw new UserError(`${fileName} nests products too deeply to load.`);
    throw e;
  }

  const D = Math.max(...drafts.keys()) + 1;
  for (let v = 0; v < D; v++) {
    if (!drafts.has(v)) notTree(`the circuit never uses variable ${v + 1}, but variables must be numbered 1..${D} without gaps`);
  }
  const regions: Region[] = [];
  let root = -1;
  for (let v = 0; v < D; v++) {
    const d = drafts.get(v)!;
    if (d.parent < 0) root = v;
    regions.push({
      variable: v,
      parent: d.parent,
      children: d.children.sort((a, b) => a - b),
      size: d.size,
      inputLogProbs: d.inputLogProbs,
      block: { rows: d.rowPtr.length - 1, cols: d.size, rowPtr: d.rowPtr, colIdx: d.colIdx, logWeights: d.logWeights },
    });
  }
  const circuit: Circuit = { numVars: D, numValues: t.numValues, regions, root };
  const problem = validateCircuit(circuit, JPC_TOLERANCE * 2);
  if (problem !== null) throw new UserError(`${fileName} does not describe a valid circuit: ${problem}.`);
  return circuit;
}

function logAddExp(a: number, b: number): number {
  const m = Math.max(a, b);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

// Declarations every kernel shares; the engine puts this file in front of each shader (WGSL has no
// includes: src/engines/gpu/kernels.ts moduleSource). Batch: the chunk being processed (n samples,
// cap = stride of the node-major buffers, flags, root node). Em: the EM step size and pseudocount.
// Each shader declares the struct of its own layer uniform `lay` (one dispatch's sizes, named
// fields); kernels.ts lists the same fields per kernel and packs them by name (layerWords).
struct Batch { n: u32, cap: u32, flags: u32, root: u32 }
struct Em { step: f32, pseudocount: f32, p0: f32, p1: f32 }

// One region of the compiled circuit (src/circuit/compile.ts CompiledRegion), packed by packRegions
// in src/engines/gpu/buffers.ts: its products [productStart, productStart + size) (one per latent
// state, with input nodes [inputStart, ...) over pixel `variable`), its sum rows
// [sumStart, sumStart + rows) with edges [edgeStart, edgeStart + nnz), its child regions at words
// [childStart, childEnd) and its rows' edge pointers at words [rowPtr, rowPtr + rows] of the same
// table (read through `regionWords`), and its parent region (MISSING at the root).
struct Region {
  productStart: u32, size: u32, sumStart: u32, rows: u32,
  inputStart: u32, variable: u32, childStart: u32, childEnd: u32,
  edgeStart: u32, nnz: u32, rowPtr: u32, parent: u32,
}
// u32 words per Region (the table's stride).
const REGION_WORDS: u32 = 12u;

// A missing pixel (pixel codes, evidence), no region (Region.parent), no edge (dense-mirror maps).
const MISSING: u32 = 0xffffffffu;

// Flat invocation index of a dispatch folded into 2-D (nwg.x workgroups of wg invocations per row).
fn flatIndex(wid: vec3u, nwg: vec3u, lid: u32, wg: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * wg + lid;
}

// Kernels with one workgroup per (region, block of rows or products, tile of `tile` samples), for
// regions [start, start + count) and `blocks` blocks per region. Workgroups past the end get
// live = false but a valid region, so they still reach every barrier (storage reads are not uniform
// values: no early returns in those kernels). nb = samples of the batch (n) in the tile.
struct RegionTile { live: bool, r: u32, block: u32, b0: u32, nb: u32 }
fn regionTile(wid: vec3u, nwg: vec3u, n: u32, start: u32, count: u32, blocks: u32, tile: u32) -> RegionTile {
  let wg = wid.y * nwg.x + wid.x;
  let tiles = (n + tile - 1u) / tile;
  let perRegion = blocks * tiles;
  let rem = wg % perRegion;
  let b0 = (rem % tiles) * tile;
  return RegionTile(wg < count * perRegion, start + min(wg / perRegion, count - 1u), rem / tiles, b0, min(tile, n - min(b0, n)));
}

// Below any finite log value a circuit produces; -inf compares below it too.
const LOW: f32 = -3.0e38;

// Small rows (engine.ts header, "Small rows"; shaders/README.md). A sum row j whose linear value
// s_j = sum_e theta_e e_c(e) falls below ROW_FLOOR for sample b (its children all lie far below the
// region's max m, so their exps underflow or lose precision) is computed again exactly in the log
// domain from its children's local log values u_c (val of the products):
//   mr = max_c u_c,  t = sum_e theta_e exp(u_c - mr),
//   ex_j = L_j = mr + log t   (the row's log value in its products' frame: < 0, which marks the row,
//                              since normal rows store s_j >= ROW_FLOOR > 0 and L_j <= m + log ROW_FLOOR
//                              with m <= ~0 for normalised weights),
//   val_j = (mr - m) + log t  (the usual region-local value, read by the parent products).
// Terms dropped from a row above the floor (each < 2^-126, flushed) cost it < nnz * 2^-30 relative.
// Backward: sum_flow / region_backward store flow_j = -F_j (< 0, marks the row) instead of
// g_j = F_j / s_j (which can overflow f32), and every reader of g takes, for such an entry, the exact
// edge flow F_e = theta_e F_j exp(u_c - L_j) (<= F_j: nothing overflows) instead of theta_e g_j e_c.
// Normal entries cost one compare (a max with 0 and a running min, or a branch) per term or output.
const ROW_FLOOR: f32 = 0x1p-96f;

// exp(u_c - L_j) for an edge of a small row: at most 1 / theta_e, so the cap (e^88 < 2^127) changes
// nothing for a weight that is a normal f32, and keeps cells without an edge (0 in a dense mirror)
// or 0 weights from producing inf * 0.
fn smallExp(d: f32) -> f32 {
  return exp(min(d, 88.0));
}

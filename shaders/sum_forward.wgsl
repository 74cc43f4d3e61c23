// Sum layer forward: the sparse block product in the linear domain, then the log.
//   s_j[b] = sum_{e in row j} theta_e e_{child(e)}[b]        (linear sum, kept for backward)
//   val_j[b] = log(s_j[b])        (region-local: the true value is y_j = log s_j + O_r, engine.ts)
// A row below ROW_FLOOR for a sample goes through `smallRow` (common.wgsl: exact log-domain value,
// ex = L_j < 0 marks it for the backward).
// `tiled`: one workgroup per (region, block of ROWS rows, tile of TILE samples). The region's
// products' linear values for the tile are staged in workgroup memory (size x TILE floats, at most
// TILE_FLOATS), then each thread computes outputs (row j, sample bb) with bb fastest, so a warp
// shares row j's weights and reads consecutive tile words. The scheduler picks TILE per layer from
// the workgroup-storage limit, and ROWS so a workgroup has about 4 outputs per thread: row blocks
// give big-K layers with few regions enough workgroups to fill a GPU.
// `gather`: one thread per (sum node, sample) reading the children from global memory; used when a
// region's columns do not fit a useful tile.
// Layer uniform (SumLayer), tiled: the layer's regions [firstRegion, firstRegion + regions) and
// rowBlocks per region (the layer's most rows / ROWS, rounded up); gather: its sum nodes
// [firstNode, firstNode + nodes), and its regions (`smallRow` finds the node's region by binary
// search).

override WG: u32 = 256;
override TILE: u32 = 16;
override TILE_FLOATS: u32 = 1024;
override ROWS: u32 = 16;

struct SumLayer { firstRegion: u32, regions: u32, rowBlocks: u32, firstNode: u32, nodes: u32 }
@group(0) @binding(0) var<uniform> bat: Batch;
@group(0) @binding(1) var<uniform> lay: SumLayer;
@group(0) @binding(2) var<storage, read> regions: array<Region>;
@group(0) @binding(3) var<storage, read> edgePtr: array<u32>;
@group(0) @binding(4) var<storage, read> edgeChild: array<u32>;
@group(0) @binding(5) var<storage, read> weight: array<f32>;
@group(0) @binding(6) var<storage, read_write> ex: array<f32>;
@group(0) @binding(7) var<storage, read_write> val: array<f32>;

var<workgroup> tile: array<f32, TILE_FLOATS>;

// Row `node` for sample b, exactly in the log domain (common.wgsl, "Small rows"): the region's max m
// over its products [ps, ps + size), the row's max mr and sum t around it; out = node * cap + b.
fn smallRow(node: u32, out: u32, ps: u32, size: u32, b: u32, cap: u32) {
  var m = LOW;
  for (var i = 0u; i < size; i++) { m = max(m, val[(ps + i) * cap + b]); }
  if (m <= LOW) { m = 0.0; }
  var mr = LOW;
  for (var e = edgePtr[node]; e < edgePtr[node + 1u]; e++) { mr = max(mr, val[edgeChild[e] * cap + b]); }
  var t = 0.0;
  for (var e = edgePtr[node]; e < edgePtr[node + 1u]; e++) { t += weight[e] * exp(val[edgeChild[e] * cap + b] - mr); }
  let lt = log(t);   // -inf when every child is -inf (t = 0): then ex and val are -inf
  ex[out] = mr + lt;
  val[out] = (mr - m) + lt;
}

@compute @workgroup_size(WG)
fn tiled(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  // Workgroup -> (region, block of ROWS rows, tile of TILE samples).
  // Row blocks past a region's rows do no work but still reach the barrier.
  let place = regionTile(wid, nwg, bat.n, lay.firstRegion, lay.regions, lay.rowBlocks, TILE);
  let r = place.r;
  let j0 = place.block * ROWS;
  let b0 = place.b0;
  let nb = place.nb;
  let cap = bat.cap;
  let reg = regions[r];
  let ps = reg.productStart;
  let size = reg.size;
  let ss = reg.sumStart;
  let rows = reg.rows;
  let working = place.live && j0 < rows;
  var loadCount = 0u;
  if (working) { loadCount = size * TILE; }
  for (var i = lid; i < loadCount; i += WG) {
    let bb = i % TILE;
    var x = 0.0;
    if (bb < nb) { x = ex[(ps + i / TILE) * cap + b0 + bb]; }
    tile[i] = x;
  }
  workgroupBarrier();
  var outCount = 0u;
  if (working) { outCount = min(ROWS, rows - j0) * TILE; }
  for (var o = lid; o < outCount; o += WG) {
    let bb = o % TILE;
    if (bb >= nb) { continue; }
    let node = ss + j0 + o / TILE;
    var s = 0.0;
    for (var e = edgePtr[node]; e < edgePtr[node + 1u]; e++) {
      s += weight[e] * tile[(edgeChild[e] - ps) * TILE + bb];
    }
    let out = node * cap + b0 + bb;
    if (s >= ROW_FLOOR) {
      ex[out] = s;
      val[out] = log(s);
    } else {
      smallRow(node, out, ps, size, b0 + bb, cap);
    }
  }
}

@compute @workgroup_size(WG)
fn gather(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = flatIndex(wid, nwg, lid, WG);
  if (id >= lay.nodes * bat.n) { return; }
  let node = lay.firstNode + id / bat.n;
  let b = id % bat.n;
  let cap = bat.cap;
  var s = 0.0;
  for (var e = edgePtr[node]; e < edgePtr[node + 1u]; e++) {
    s += weight[e] * ex[edgeChild[e] * cap + b];
  }
  let out = node * cap + b;
  if (s >= ROW_FLOOR) {
    ex[out] = s;
    val[out] = log(s);
    return;
  }
  // The node's region: the last of the layer's regions whose sumStart <= node.
  var lo = lay.firstRegion;
  var hi = lay.firstRegion + lay.regions - 1u;
  while (lo < hi) {
    let mid = (lo + hi + 1u) / 2u;
    if (regions[mid].sumStart <= node) { lo = mid; } else { hi = mid - 1u; }
  }
  smallRow(node, out, regions[lo].productStart, regions[lo].size, b, cap);
}

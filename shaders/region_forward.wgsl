// A whole height of the forward pass in one kernel: per region and tile of samples, the products
// (input + child sums), the region max and exps, and the sparse block product of the region's sum
// rows. The same math as product.wgsl, region_max.wgsl and sum_forward.wgsl:tiled, in one dispatch
// per height instead of three: on a real GPU a K=32 circuit's forward is bound by the number of
// dependent dispatches (tens of microseconds of arithmetic per height, several microseconds per
// dispatch and barrier), not by its edges.
//   u_i[b]   = log theta_i[x_v[b]] (0 for a missing pixel) + sum_{child regions c} val_{c,i}[b]
//   m_b      = max_i u_i[b] (0 when every product is -inf)      e_i[b] = exp(u_i[b] - m_b)
//   O_r[b]   = m_b + sum_c O_c[b]                                  (rmax)
//   s_j[b]   = sum_{e in row j} theta_e e_{child(e)}[b]             val_j[b] = log s_j[b]
// (a row below ROW_FLOOR: exactly in the log domain, common.wgsl "Small rows"; its children's u are
// recomputed from global memory, since only row block 0 stores them)
// Region-local values as in engine.ts. One workgroup per (region, block of ROWS rows, tile of TILE
// samples): the products of the tile are computed into workgroup memory (size x TILE floats), the
// per-sample max by WG / TILE lanes and a fixed-order tree, then each thread computes outputs
// (row j, sample bb) with bb fastest, as in sum_forward.wgsl:tiled. Row block 0 also stores the
// products' values, e_i and O_r (other row blocks recompute the products and keep them local).
// Layer uniform: start = first region, count = regions, a = row blocks per region, b = V.
// Regions: the table's words (`regionWords`, read through regionAt of region_words.wgsl; one binding
// for the records, the child lists and the rows' edge pointers keeps the kernel within the 8 storage
// buffers every WebGPU device has): child regions at [childStart, childEnd), rows' edge pointers
// (absolute edge indices) at [rowPtr, rowPtr + rows].

override WG: u32 = 256;
override TILE: u32 = 16;
override TILE_FLOATS: u32 = 1024;
override ROWS: u32 = 16;

struct RegionForwardLayer { firstRegion: u32, regions: u32, rowBlocks: u32, numValues: u32 }
@group(0) @binding(0) var<uniform> bat: Batch;
@group(0) @binding(1) var<uniform> lay: RegionForwardLayer;
@group(0) @binding(2) var<storage, read> regionWords: array<u32>;
@group(0) @binding(3) var<storage, read> logProb: array<f32>;
@group(0) @binding(4) var<storage, read> pix: array<u32>;
@group(0) @binding(5) var<storage, read> edgeChild: array<u32>;
@group(0) @binding(6) var<storage, read> weight: array<f32>;
@group(0) @binding(7) var<storage, read_write> val: array<f32>;
@group(0) @binding(8) var<storage, read_write> ex: array<f32>;
@group(0) @binding(9) var<storage, read_write> rmax: array<f32>;

var<workgroup> tile: array<f32, TILE_FLOATS>;
var<workgroup> red: array<f32, WG>;

// Product i's local log value u_i for sample b (as the tile computes it), for small rows.
fn productLog(i: u32, b: u32, cap: u32, is: u32, v: u32, c0: u32, c1: u32) -> f32 {
  var u = 0.0;
  let x = pix[v * cap + b];
  if (x != MISSING) { u = logProb[(is + i) * lay.numValues + x]; }
  for (var c = c0; c < c1; c++) { u += val[(regionSumStart(regionWords[c]) + i) * cap + b]; }
  return u;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  // Row blocks past a region's rows do no work but still reach every barrier.
  let place = regionTile(wid, nwg, bat.n, lay.firstRegion, lay.regions, lay.rowBlocks, TILE);
  let r = place.r;
  let j0 = place.block * ROWS;
  let b0 = place.b0;
  let nb = place.nb;
  let cap = bat.cap;
  let reg = regionAt(r);
  let ps = reg.productStart;
  let size = reg.size;
  let ss = reg.sumStart;
  let rows = reg.rows;
  let is = reg.inputStart;
  let v = reg.variable;
  let c0 = reg.childStart;
  let c1 = reg.childEnd;
  let rp = reg.rowPtr;
  let working = place.live && j0 < rows;
  let writer = working && place.block == 0u;

  // Products of the tile (padding samples: LOW, so they never win a max and their exps are 0).
  var count = 0u;
  if (working) { count = size * TILE; }
  for (var k = lid; k < count; k += WG) {
    let i = k / TILE;
    let bb = k % TILE;
    var u = LOW;
    if (bb < nb) {
      let b = b0 + bb;
      u = 0.0;
      let x = pix[v * cap + b];
      if (x != MISSING) { u = logProb[(is + i) * lay.numValues + x]; }
      for (var c = c0; c < c1; c++) { u += val[(regionSumStart(regionWords[c]) + i) * cap + b]; }
      if (writer) { val[(ps + i) * cap + b] = u; }
    }
    tile[k] = u;
  }
  workgroupBarrier();

  // Per-sample max: WG / TILE lanes per sample, strided partial maxima, then a fixed-order tree.
  let s = lid % TILE;
  let lane = lid / TILE;
  let lanes = WG / TILE;
  var m = LOW;
  for (var i = lane; i < select(0u, size, working); i += lanes) { m = max(m, tile[i * TILE + s]); }
  red[lid] = m;
  workgroupBarrier();
  for (var half = lanes / 2u; half > 0u; half = half / 2u) {
    if (lane < half) { red[lid] = max(red[lid], red[lid + half * TILE]); }
    workgroupBarrier();
  }

  // Exps in place; row block 0 stores e_i and the region's offset.
  for (var k = lid; k < count; k += WG) {
    let bb = k % TILE;
    var mb = red[bb];
    if (mb <= LOW) { mb = 0.0; }
    let e = exp(tile[k] - mb);
    tile[k] = e;
    if (writer && bb < nb) { ex[(ps + k / TILE) * cap + b0 + bb] = e; }
  }
  if (writer && lid < nb) {
    var o = red[lid];
    if (o <= LOW) { o = 0.0; }
    for (var c = c0; c < c1; c++) { o += rmax[regionWords[c] * cap + b0 + lid]; }
    rmax[r * cap + b0 + lid] = o;
  }
  workgroupBarrier();

  // The block product of this workgroup's rows.
  var outCount = 0u;
  if (working) { outCount = min(ROWS, rows - j0) * TILE; }
  for (var o = lid; o < outCount; o += WG) {
    let bb = o % TILE;
    if (bb >= nb) { continue; }
    let j = j0 + o / TILE;
    var acc = 0.0;
    for (var e = regionWords[rp + j]; e < regionWords[rp + j + 1u]; e++) {
      acc += weight[e] * tile[(edgeChild[e] - ps) * TILE + bb];
    }
    let out = (ss + j) * cap + b0 + bb;
    if (acc >= ROW_FLOOR) {
      ex[out] = acc;
      val[out] = log(acc);
    } else {
      // Small row (common.wgsl): m from the reduction, mr and t from the children's u.
      let b = b0 + bb;
      var m = red[bb];
      if (m <= LOW) { m = 0.0; }
      let e0 = regionWords[rp + j];
      let e1 = regionWords[rp + j + 1u];
      var mr = LOW;
      for (var e = e0; e < e1; e++) { mr = max(mr, productLog(edgeChild[e] - ps, b, cap, is, v, c0, c1)); }
      var t = 0.0;
      for (var e = e0; e < e1; e++) { t += weight[e] * exp(productLog(edgeChild[e] - ps, b, cap, is, v, c0, c1) - mr); }
      let lt = log(t);
      ex[out] = mr + lt;
      val[out] = (mr - m) + lt;
    }
  }
}

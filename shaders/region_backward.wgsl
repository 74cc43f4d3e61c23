// A whole height of the backward pass in one kernel: per region and tile of samples, the g of the
// region's sum rows, then the flows of its products. The same math as sum_flow.wgsl and
// product_flow.wgsl, in one dispatch per height instead of two (on a real GPU a K=32 backward is
// bound by the number of dependent dispatches, not by its edges):
//   F_j[b] = 1 at the root, else the sum of its parent products' flows (computed one height up)
//   g_j[b] = F_j[b] / s_j[b]   (0 where F_j = 0)                 stored in flow for the edge flows
//   F_p[b] = e_p[b] sum_{(j, e) parents of p} theta_e g_j[b]     (the parents are this region's rows)
// One workgroup per (region, block of ROWS products, tile of TILE samples): g of all the region's
// rows for the tile goes to workgroup memory (rows x TILE floats; product block 0 also stores it),
// then each thread computes product flows (product p, sample bb) with bb fastest. Deterministic:
// every output sums its own inputs in list order. Small rows (common.wgsl): a row whose forward
// stored ex = L_j < ROW_FLOOR gets -F_j instead of g (in the tile and in flow), and each product
// adds theta_e F_j exp(u_p - L_j) for such parents after its ordinary sum.
// Layer uniform: the regions [firstRegion, firstRegion + regions), productBlocks per region.
// bat.root = root node. Regions: common.wgsl struct Region.

override WG: u32 = 256;
override TILE: u32 = 16;
override TILE_FLOATS: u32 = 1024;
override ROWS: u32 = 16;

struct RegionBackwardLayer { firstRegion: u32, regions: u32, productBlocks: u32 }
@group(0) @binding(0) var<uniform> bat: Batch;
@group(0) @binding(1) var<uniform> lay: RegionBackwardLayer;
@group(0) @binding(2) var<storage, read> regions: array<Region>;
@group(0) @binding(3) var<storage, read> parentPtr: array<u32>;
@group(0) @binding(4) var<storage, read> parentNode: array<u32>;
@group(0) @binding(5) var<storage, read> parentEdge: array<u32>;
@group(0) @binding(6) var<storage, read> weight: array<f32>;
@group(0) @binding(7) var<storage, read> ex: array<f32>;
@group(0) @binding(8) var<storage, read_write> flow: array<f32>;
@group(0) @binding(9) var<storage, read> val: array<f32>;

var<workgroup> gt: array<f32, TILE_FLOATS>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  // Product blocks past a region's products do no work but still reach the barrier.
  let place = regionTile(wid, nwg, bat.n, lay.firstRegion, lay.regions, lay.productBlocks, TILE);
  let r = place.r;
  let i0 = place.block * ROWS;
  let b0 = place.b0;
  let nb = place.nb;
  let cap = bat.cap;
  let reg = regions[r];
  let ps = reg.productStart;
  let size = reg.size;
  let ss = reg.sumStart;
  let rows = reg.rows;
  let working = place.live && i0 < size;

  // g of every row of the region for the tile.
  var count = 0u;
  if (working) { count = rows * TILE; }
  for (var k = lid; k < count; k += WG) {
    let bb = k % TILE;
    var g = 0.0;
    if (bb < nb) {
      let node = ss + k / TILE;
      let b = b0 + bb;
      var f = 0.0;
      if (node == bat.root) {
        f = 1.0;
      } else {
        for (var q = parentPtr[node]; q < parentPtr[node + 1u]; q++) { f += flow[parentNode[q] * cap + b]; }
      }
      if (f != 0.0) {
        let s = ex[node * cap + b];
        if (s >= ROW_FLOOR) { g = f / s; } else if (s > LOW) { g = -f; }
      }
      if (place.block == 0u) { flow[node * cap + b] = g; }
    }
    gt[k] = g;
  }
  workgroupBarrier();

  // Flows of this workgroup's products.
  var outCount = 0u;
  if (working) { outCount = min(ROWS, size - i0) * TILE; }
  for (var o = lid; o < outCount; o += WG) {
    let bb = o % TILE;
    if (bb >= nb) { continue; }
    let p = ps + i0 + o / TILE;
    var t = 0.0;
    var lo = 0.0;
    for (var q = parentPtr[p]; q < parentPtr[p + 1u]; q++) {
      let g = gt[(parentNode[q] - ss) * TILE + bb];
      t += weight[parentEdge[q]] * max(g, 0.0);
      lo = min(lo, g);
    }
    let out = p * cap + b0 + bb;
    var f = t * ex[out];
    if (lo < 0.0) {
      let u = val[out];
      for (var q = parentPtr[p]; q < parentPtr[p + 1u]; q++) {
        let g = gt[(parentNode[q] - ss) * TILE + bb];
        if (g < 0.0) { f += weight[parentEdge[q]] * -g * smallExp(u - ex[parentNode[q] * cap + b0 + bb]); }
      }
    }
    flow[out] = f;
  }
}

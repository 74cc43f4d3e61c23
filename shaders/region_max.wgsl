// Per region and sample: the max m over the region's (local) product values, one exp per product,
// and the region's log offset:
//   m_b = max_i u_i[b]   (m = 0 when every product is -inf, so nothing turns NaN; as on the CPU)
//   e_i[b] = exp(u_i[b] - m_b)
//   O_r[b] = m_b + sum_{child regions c} O_c[b]          (stored in rmax)
// Values are region-local (see engine.ts): the true product value is x_i = u_i + sum_c O_c and the
// true sum value y_j = log s_j + O_r, so the large common part of log p never enters x - m.
// `main`: one thread per (region, sample), looping over the region's products (no barriers; for
// software adapters). `reduce`: one workgroup per (region, tile of TS samples); WG / TS product lanes
// per sample share the max (strided partial maxima, then a fixed-order tree reduction in workgroup
// memory) and the exps, so a K=128 region is spread over 8 lanes x 32 samples instead of one
// serial thread per sample. Reads stay coalesced along the samples.
// Layer uniform: the layer's regions [firstRegion, firstRegion + regions). Regions: common.wgsl
// struct Region; a region's tree children are regionWords[childStart .. childEnd).

override WG: u32 = 256;
override TS: u32 = 32;     // samples per workgroup of `reduce` (divides WG; WG / TS a power of two)

struct RegionMaxLayer { firstRegion: u32, regions: u32 }
@group(0) @binding(0) var<uniform> bat: Batch;
@group(0) @binding(1) var<uniform> lay: RegionMaxLayer;
@group(0) @binding(2) var<storage, read> regions: array<Region>;
@group(0) @binding(3) var<storage, read> val: array<f32>;
@group(0) @binding(4) var<storage, read_write> ex: array<f32>;
@group(0) @binding(5) var<storage, read_write> rmax: array<f32>;
@group(0) @binding(6) var<storage, read> regionWords: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = flatIndex(wid, nwg, lid, WG);
  if (id >= lay.regions * bat.n) { return; }
  let r = lay.firstRegion + id / bat.n;
  let b = id % bat.n;
  let cap = bat.cap;
  let reg = regions[r];
  let ps = reg.productStart;
  let size = reg.size;
  var m = LOW;
  for (var i = 0u; i < size; i++) { m = max(m, val[(ps + i) * cap + b]); }
  if (m <= LOW) { m = 0.0; }
  var o = m;
  for (var k = reg.childStart; k < reg.childEnd; k++) { o += rmax[regionWords[k] * cap + b]; }
  rmax[r * cap + b] = o;
  for (var i = 0u; i < size; i++) {
    let o = (ps + i) * cap + b;
    ex[o] = exp(val[o] - m);
  }
}

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn reduce(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let place = regionTile(wid, nwg, bat.n, lay.firstRegion, lay.regions, 1u, TS);
  let r = place.r;
  let s = lid % TS;
  let lane = lid / TS;
  let lanes = WG / TS;
  let b = place.b0 + s;
  let live = place.live && b < bat.n;
  let cap = bat.cap;
  let reg = regions[r];
  let ps = reg.productStart;
  var size = 0u;
  if (live) { size = reg.size; }
  var m = LOW;
  for (var i = lane; i < size; i += lanes) { m = max(m, val[(ps + i) * cap + b]); }
  red[lid] = m;
  workgroupBarrier();
  for (var h = lanes / 2u; h > 0u; h = h / 2u) {
    if (lane < h) { red[lid] = max(red[lid], red[lid + h * TS]); }
    workgroupBarrier();
  }
  m = red[s];
  if (m <= LOW) { m = 0.0; }
  if (live && lane == 0u) {
    var o = m;
    for (var k = reg.childStart; k < reg.childEnd; k++) { o += rmax[regionWords[k] * cap + b]; }
    rmax[r * cap + b] = o;
  }
  for (var i = lane; i < size; i += lanes) {
    let q = (ps + i) * cap + b;
    ex[q] = exp(val[q] - m);
  }
}

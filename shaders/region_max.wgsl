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
// Layer uniform: start = first region, count = regions in layer.
// Region table rows (8 u32): productStart, size, sumStart, rows, edgeStart, nnz, and the range
// [childStart, childEnd) of the region's tree children in `regionChild`.

override WG: u32 = 256;
override TS: u32 = 32;     // samples per workgroup of `reduce` (divides WG; WG / TS a power of two)

@group(0) @binding(0) var<uniform> bat: Batch;
@group(0) @binding(1) var<uniform> lay: Layer;
@group(0) @binding(2) var<storage, read> regions: array<u32>;
@group(0) @binding(3) var<storage, read> val: array<f32>;
@group(0) @binding(4) var<storage, read_write> ex: array<f32>;
@group(0) @binding(5) var<storage, read_write> rmax: array<f32>;
@group(0) @binding(6) var<storage, read> regionChild: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = flatIndex(wid, nwg, lid, WG);
  if (id >= lay.count * bat.n) { return; }
  let r = lay.start + id / bat.n;
  let b = id % bat.n;
  let cap = bat.cap;
  let ps = regions[r * 8u];
  let size = regions[r * 8u + 1u];
  var m = LOW;
  for (var i = 0u; i < size; i++) { m = max(m, val[(ps + i) * cap + b]); }
  if (m <= LOW) { m = 0.0; }
  var o = m;
  for (var k = regions[r * 8u + 6u]; k < regions[r * 8u + 7u]; k++) { o += rmax[regionChild[k] * cap + b]; }
  rmax[r * cap + b] = o;
  for (var i = 0u; i < size; i++) {
    let o = (ps + i) * cap + b;
    ex[o] = exp(val[o] - m);
  }
}

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn reduce(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.y * nwg.x + wid.x;
  let tiles = (bat.n + TS - 1u) / TS;
  let inRange = wg < lay.count * tiles;
  let r = lay.start + min(wg / tiles, lay.count - 1u);
  let s = lid % TS;
  let lane = lid / TS;
  let lanes = WG / TS;
  let b = (wg % tiles) * TS + s;
  let live = inRange && b < bat.n;
  let cap = bat.cap;
  let ps = regions[r * 8u];
  var size = 0u;
  if (live) { size = regions[r * 8u + 1u]; }
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
    for (var k = regions[r * 8u + 6u]; k < regions[r * 8u + 7u]; k++) { o += rmax[regionChild[k] * cap + b]; }
    rmax[r * cap + b] = o;
  }
  for (var i = lane; i < size; i += lanes) {
    let q = (ps + i) * cap + b;
    ex[q] = exp(val[q] - m);
  }
}

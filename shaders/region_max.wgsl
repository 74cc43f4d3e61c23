// Per region and sample: the max m over the region's (local) product values, one exp per product,
// and the region's log offset:
//   m_b = max_i u_i[b]   (m = 0 when every product is -inf, so nothing turns NaN; as on the CPU)
//   e_i[b] = exp(u_i[b] - m_b)
//   O_r[b] = m_b + sum_{child regions c} O_c[b]          (stored in rmax)
// Values are region-local (see engine.ts): the true product value is x_i = u_i + sum_c O_c and the
// true sum value y_j = log s_j + O_r, so the large common part of log p never enters x - m.
// One thread per (region, sample). Layer uniform: start = first region, count = regions in layer.
// Region table rows (8 u32): productStart, size, sumStart, rows, edgeStart, nnz, and the range
// [childStart, childEnd) of the region's tree children in `regionChild`.

struct Batch { n: u32, cap: u32, flags: u32, root: u32 }
struct Layer { start: u32, count: u32, a: u32, b: u32, c: u32, d: u32, e: u32, f: u32 }

override WG: u32 = 256;
// Below any finite log value a circuit produces; -inf products compare below it too.
const LOW: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> bat: Batch;
@group(0) @binding(1) var<uniform> lay: Layer;
@group(0) @binding(2) var<storage, read> regions: array<u32>;
@group(0) @binding(3) var<storage, read> val: array<f32>;
@group(0) @binding(4) var<storage, read_write> ex: array<f32>;
@group(0) @binding(5) var<storage, read_write> rmax: array<f32>;
@group(0) @binding(6) var<storage, read> regionChild: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = (wid.y * nwg.x + wid.x) * WG + lid;
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

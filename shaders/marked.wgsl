// Per-sample flow through a set of marked edges (the pruning bound -log(1 - sum_{e in E} F_e(x))):
//   F_e[b] = theta_e g_j[b] e_c[b]      (after forward + node-flow backward on the same chunk)
// (a row marked small for the sample, g = -F_j < 0: F_e = theta_e F_j exp(u_c - L_j), common.wgsl)
// `partial`: one thread per (region, sample) sums its region's marked edges into part[r * cap + b],
// row by row (the rows' edge pointers from the region table's words, Region.rowPtr).
// `total`: one thread per sample sums the regions in order into out[b]. Deterministic, no atomics.
// Layer uniform: the regions [firstRegion, firstRegion + regions) (total: from region 0).

override WG: u32 = 256;

struct MarkedLayer { firstRegion: u32, regions: u32 }
@group(0) @binding(0) var<uniform> bat: Batch;
@group(0) @binding(1) var<uniform> lay: MarkedLayer;
@group(0) @binding(2) var<storage, read> regionWords: array<u32>;
@group(0) @binding(3) var<storage, read> marked: array<u32>;
@group(0) @binding(4) var<storage, read> val: array<f32>;
@group(0) @binding(5) var<storage, read> edgeChild: array<u32>;
@group(0) @binding(6) var<storage, read> weight: array<f32>;
@group(0) @binding(7) var<storage, read> ex: array<f32>;
@group(0) @binding(8) var<storage, read> flow: array<f32>;
@group(0) @binding(9) var<storage, read_write> part: array<f32>;
@group(0) @binding(10) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = flatIndex(wid, nwg, lid, WG);
  if (id >= lay.regions * bat.n) { return; }
  let r = lay.firstRegion + id / bat.n;
  let b = id % bat.n;
  let cap = bat.cap;
  let reg = regionAt(r);
  let ss = reg.sumStart;
  let rows = reg.rows;
  let rp = reg.rowPtr;
  var s = 0.0;
  for (var j = 0u; j < rows; j++) {
    let q = (ss + j) * cap + b;
    let g = flow[q];
    if (g == 0.0) { continue; }
    for (var e = regionWords[rp + j]; e < regionWords[rp + j + 1u]; e++) {
      if (marked[e] == 0u) { continue; }
      let c = edgeChild[e] * cap + b;
      if (g > 0.0) { s += weight[e] * g * ex[c]; } else { s += weight[e] * -g * smallExp(val[c] - ex[q]); }
    }
  }
  part[r * cap + b] = s;
}

@compute @workgroup_size(WG)
fn total(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = flatIndex(wid, nwg, lid, WG);
  if (b >= bat.n) { return; }
  var s = 0.0;
  for (var r = 0u; r < lay.regions; r++) { s += part[r * bat.cap + b]; }
  out[b] = s;
}

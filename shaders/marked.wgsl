// Per-sample flow through a set of marked edges (the pruning bound -log(1 - sum_{e in E} F_e(x))):
//   F_e[b] = theta_e g_j[b] e_c[b]      (after forward + node-flow backward on the same chunk)
// `partial`: one thread per (region, sample) sums its region's marked edges into part[r * cap + b].
// `total`: one thread per sample sums the regions in order into out[b]. Deterministic, no atomics.
// Layer uniform (partial): start = first region, count = regions. (total): count = regions.

override WG: u32 = 256;

@group(0) @binding(0) var<uniform> bat: Batch;
@group(0) @binding(1) var<uniform> lay: Layer;
@group(0) @binding(2) var<storage, read> regions: array<u32>;
@group(0) @binding(3) var<storage, read> marked: array<u32>;
@group(0) @binding(4) var<storage, read> edgeNode: array<u32>;
@group(0) @binding(5) var<storage, read> edgeChild: array<u32>;
@group(0) @binding(6) var<storage, read> weight: array<f32>;
@group(0) @binding(7) var<storage, read> ex: array<f32>;
@group(0) @binding(8) var<storage, read> flow: array<f32>;
@group(0) @binding(9) var<storage, read_write> part: array<f32>;
@group(0) @binding(10) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = flatIndex(wid, nwg, lid, WG);
  if (id >= lay.count * bat.n) { return; }
  let r = lay.start + id / bat.n;
  let b = id % bat.n;
  let cap = bat.cap;
  let e0 = regions[r * 8u + 4u];
  let e1 = e0 + regions[r * 8u + 5u];
  var s = 0.0;
  for (var e = e0; e < e1; e++) {
    if (marked[e] != 0u) { s += weight[e] * flow[edgeNode[e] * cap + b] * ex[edgeChild[e] * cap + b]; }
  }
  part[r * cap + b] = s;
}

@compute @workgroup_size(WG)
fn total(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = (wid.y * nwg.x + wid.x) * WG + lid;
  if (b >= bat.n) { return; }
  var s = 0.0;
  for (var r = 0u; r < lay.count; r++) { s += part[r * bat.cap + b]; }
  out[b] = s;
}

// Parameter (edge) flows, reduced over the batch and added to the accumulator:
//   acc[e] += theta_e sum_b g_j[b] e_c[b]         (j = the edge's sum node, c = its child product)
// One workgroup handles WG / LANES edges; the LANES threads of an edge stride over the samples
// (coalesced reads), then a fixed-order tree reduction in workgroup memory: deterministic, no float
// atomics. Each edge's accumulator is written by exactly one thread.
// `per_edge`: one thread per edge loops over the batch; no barriers (CPU-emulated adapters such as
// SwiftShader run barrier-heavy kernels slowly).
// Small rows (common.wgsl): a sample whose row is marked small (g = -F_j < 0) adds nothing in the
// main loop (max with 0; a running min notes it), and its exact flow F_j exp(u_c - L_j) in a second
// pass over the edge's samples, run only when the min is negative.
// Layer uniform: the edges [firstEdge, firstEdge + edges).

override WG: u32 = 256;
override LANES: u32 = 32;   // a power of two dividing WG

struct EdgeLayer { firstEdge: u32, edges: u32 }
@group(0) @binding(0) var<uniform> bat: Batch;
@group(0) @binding(1) var<uniform> lay: EdgeLayer;
@group(0) @binding(2) var<storage, read> edgeNode: array<u32>;
@group(0) @binding(3) var<storage, read> edgeChild: array<u32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read> ex: array<f32>;
@group(0) @binding(6) var<storage, read> flow: array<f32>;
@group(0) @binding(7) var<storage, read_write> acc: array<f32>;
@group(0) @binding(8) var<storage, read> val: array<f32>;

var<workgroup> part: array<f32, WG>;

// The exact flows (over theta_e) of samples b = first, first + stride, ... whose row is small:
// sum of F_j exp(u_c - L_j), F_j = -flow_j, L_j = ex_j, u_c = val_c (go, eo: row and child offsets).
fn smallEdge(go: u32, eo: u32, first: u32, stride: u32) -> f32 {
  var d = 0.0;
  for (var b = first; b < bat.n; b += stride) {
    let g = flow[go + b];
    if (g < 0.0) { d += -g * smallExp(val[eo + b] - ex[go + b]); }
  }
  return d;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.y * nwg.x + wid.x;
  let perWg = WG / LANES;
  if (wg * perWg >= lay.edges) { return; }   // uniform per workgroup
  let local = lid / LANES;
  let lane = lid % LANES;
  let k = wg * perWg + local;
  let cap = bat.cap;
  var d = 0.0;
  if (k < lay.edges) {
    let e = lay.firstEdge + k;
    let go = edgeNode[e] * cap;
    let eo = edgeChild[e] * cap;
    var lo = 0.0;
    for (var b = lane; b < bat.n; b += LANES) {
      let g = flow[go + b];
      d += max(g, 0.0) * ex[eo + b];
      lo = min(lo, g);
    }
    if (lo < 0.0) { d += smallEdge(go, eo, lane, LANES); }
  }
  part[lid] = d;
  workgroupBarrier();
  for (var h = LANES / 2u; h > 0u; h = h / 2u) {
    if (lane < h) { part[lid] += part[lid + h]; }
    workgroupBarrier();
  }
  if (lane == 0u && k < lay.edges) {
    let e = lay.firstEdge + k;
    acc[e] += weight[e] * part[lid];
  }
}

@compute @workgroup_size(WG)
fn per_edge(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let k = flatIndex(wid, nwg, lid, WG);
  if (k >= lay.edges) { return; }
  let e = lay.firstEdge + k;
  let go = edgeNode[e] * bat.cap;
  let eo = edgeChild[e] * bat.cap;
  var d = 0.0;
  var lo = 0.0;
  for (var b = 0u; b < bat.n; b++) {
    let g = flow[go + b];
    d += max(g, 0.0) * ex[eo + b];
    lo = min(lo, g);
  }
  if (lo < 0.0) { d += smallEdge(go, eo, 0u, 1u); }
  acc[e] += weight[e] * d;
}

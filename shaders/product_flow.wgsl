// Product layer backward: each product gathers over its parent sum edges (the transposed lists),
//   F_p[b] = e_p[b] sum_{(j, e) parents of p} theta_e g_j[b]
// Deterministic (no atomics): each output sums its own inputs in list order. The product's flow is
// also its input node's flow and the flow of row p of each child region (read from here later).
// A parent row marked small for the sample (g = -F_j < 0, common.wgsl) adds nothing to the sum (max
// with 0) and its exact flow theta_e F_j exp(u_p - L_j) afterwards (L_j = ex_j, u_p = val_p).
// Layer uniform: the layer's products [firstNode, firstNode + nodes).

override WG: u32 = 256;

struct ProductFlowLayer { firstNode: u32, nodes: u32 }
@group(0) @binding(0) var<uniform> bat: Batch;
@group(0) @binding(1) var<uniform> lay: ProductFlowLayer;
@group(0) @binding(2) var<storage, read> parentPtr: array<u32>;
@group(0) @binding(3) var<storage, read> parentNode: array<u32>;
@group(0) @binding(4) var<storage, read> parentEdge: array<u32>;
@group(0) @binding(5) var<storage, read> weight: array<f32>;
@group(0) @binding(6) var<storage, read> ex: array<f32>;
@group(0) @binding(7) var<storage, read_write> flow: array<f32>;
@group(0) @binding(8) var<storage, read> val: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = flatIndex(wid, nwg, lid, WG);
  if (id >= lay.nodes * bat.n) { return; }
  let p = lay.firstNode + id / bat.n;
  let b = id % bat.n;
  let cap = bat.cap;
  var t = 0.0;
  var lo = 0.0;
  for (var k = parentPtr[p]; k < parentPtr[p + 1u]; k++) {
    let g = flow[parentNode[k] * cap + b];
    t += weight[parentEdge[k]] * max(g, 0.0);
    lo = min(lo, g);
  }
  var f = t * ex[p * cap + b];
  if (lo < 0.0) {
    let u = val[p * cap + b];
    for (var k = parentPtr[p]; k < parentPtr[p + 1u]; k++) {
      let q = parentNode[k] * cap + b;
      let g = flow[q];
      if (g < 0.0) { f += weight[parentEdge[k]] * -g * smallExp(u - ex[q]); }
    }
  }
  flow[p * cap + b] = f;
}

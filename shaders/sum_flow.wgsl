// Sum layer backward, first half: the flow of each sum node, turned into g at once.
//   F_j[b] = 1 at the root, else the sum of its parent products' flows
//   g_j[b] = F_j[b] / s_j[b] = F_j[b] exp(m_b - y_j[b])      (0 where F_j = 0)
// g overwrites F in the flow buffer: every later use (product flows, edge flows, marked-edge flows)
// needs g, since F_e = theta_e g_j e_c. Gather style: one thread per (sum node, sample).
// A small row (forward stored ex = L_j < ROW_FLOOR instead of s_j; common.wgsl) stores -F_j instead
// (< 0: its readers take the exact edge flows theta_e F_j exp(u_c - L_j)); 0 where F_j = 0 or the
// row is -inf.
// Layer uniform: the layer's sum nodes [firstNode, firstNode + nodes). bat.root = root node.

override WG: u32 = 256;

struct SumFlowLayer { firstNode: u32, nodes: u32 }
@group(0) @binding(0) var<uniform> bat: Batch;
@group(0) @binding(1) var<uniform> lay: SumFlowLayer;
@group(0) @binding(2) var<storage, read> parentPtr: array<u32>;
@group(0) @binding(3) var<storage, read> parentNode: array<u32>;
@group(0) @binding(4) var<storage, read> ex: array<f32>;
@group(0) @binding(5) var<storage, read_write> flow: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = flatIndex(wid, nwg, lid, WG);
  if (id >= lay.nodes * bat.n) { return; }
  let node = lay.firstNode + id / bat.n;
  let b = id % bat.n;
  let cap = bat.cap;
  var f = 0.0;
  if (node == bat.root) {
    f = 1.0;
  } else {
    for (var k = parentPtr[node]; k < parentPtr[node + 1u]; k++) { f += flow[parentNode[k] * cap + b]; }
  }
  var g = 0.0;
  if (f != 0.0) {
    let s = ex[node * cap + b];
    if (s >= ROW_FLOOR) { g = f / s; } else if (s > LOW) { g = -f; }
  }
  flow[node * cap + b] = g;
}

// EM for sum nodes, one thread per sum node (its edges are contiguous):
//   new_e = (F_e + a / |ch(j)|) / (sum_{e' of j} F_e' + a)
//   theta_e <- (1 - s) theta_e + s new_e       (stored twice: linear for the kernels, log for read-back)
// A node with no flow and no pseudocount keeps its weights (as src/engines/em.ts).
// Layer uniform: sum nodes [firstSum, firstSum + sums) of `sumNodes`. em: step s, pseudocount a.

override WG: u32 = 256;

struct EmSumLayer { firstSum: u32, sums: u32 }
@group(0) @binding(0) var<uniform> em: Em;
@group(0) @binding(1) var<uniform> lay: EmSumLayer;
@group(0) @binding(2) var<storage, read> sumNodes: array<u32>;
@group(0) @binding(3) var<storage, read> edgePtr: array<u32>;
@group(0) @binding(4) var<storage, read> acc: array<f32>;
@group(0) @binding(5) var<storage, read_write> weight: array<f32>;
@group(0) @binding(6) var<storage, read_write> logWeight: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = flatIndex(wid, nwg, lid, WG);
  if (id >= lay.sums) { return; }
  let node = sumNodes[lay.firstSum + id];
  let e0 = edgePtr[node];
  let e1 = edgePtr[node + 1u];
  var total = 0.0;
  for (var e = e0; e < e1; e++) { total += acc[e]; }
  let a = em.pseudocount;
  if (!(total + a > 0.0)) { return; }
  let prior = a / f32(e1 - e0);
  let s = em.step;
  for (var e = e0; e < e1; e++) {
    let fresh = (acc[e] + prior) / (total + a);
    let w = (1.0 - s) * weight[e] + s * fresh;
    weight[e] = w;
    logWeight[e] = log(w);
  }
}

// EM for categorical input nodes, one thread per input node over its V bins:
//   new_x = (F_x + a / V) / (sum_x F_x + a),   log theta_x <- log((1 - s) theta_x + s new_x)
// Layer uniform: count = input nodes, b = V. em: step s, pseudocount a.

override WG: u32 = 256;

@group(0) @binding(0) var<uniform> em: Em;
@group(0) @binding(1) var<uniform> lay: Layer;
@group(0) @binding(2) var<storage, read> hist: array<f32>;
@group(0) @binding(3) var<storage, read_write> logProb: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = flatIndex(wid, nwg, lid, WG);
  if (id >= lay.count) { return; }
  let V = lay.b;
  let o = (lay.start + id) * V;
  var total = 0.0;
  for (var x = 0u; x < V; x++) { total += hist[o + x]; }
  let a = em.pseudocount;
  if (!(total + a > 0.0)) { return; }
  let prior = a / f32(V);
  let s = em.step;
  for (var x = 0u; x < V; x++) {
    let fresh = (hist[o + x] + prior) / (total + a);
    logProb[o + x] = log((1.0 - s) * exp(logProb[o + x]) + s * fresh);
  }
}

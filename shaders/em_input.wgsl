// EM for categorical input nodes:
//   new_x = (F_x + a / V) / (sum_x F_x + a),   log theta_x <- log((1 - s) theta_x + s new_x)
// `main`: one thread per input node over its V bins (no barriers: software adapters). `reduce`: a
// workgroup per input node, thread t on bins t, t + WG, ... (coalesced; `main`'s threads read
// V apart), the total by a fixed-order tree reduction in workgroup memory.
// Layer uniform: the input nodes [firstInput, firstInput + inputs), numValues = V. em: step s, pseudocount a.

override WG: u32 = 256;

struct InputLayer { firstInput: u32, inputs: u32, numValues: u32 }
@group(0) @binding(0) var<uniform> em: Em;
@group(0) @binding(1) var<uniform> lay: InputLayer;
@group(0) @binding(2) var<storage, read> hist: array<f32>;
@group(0) @binding(3) var<storage, read_write> logProb: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = flatIndex(wid, nwg, lid, WG);
  if (id >= lay.inputs) { return; }
  let V = lay.numValues;
  let o = (lay.firstInput + id) * V;
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

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn reduce(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = wid.y * nwg.x + wid.x; // the workgroup's input node: uniform, so the barriers below are too
  if (id >= lay.inputs) { return; }
  let V = lay.numValues;
  let o = (lay.firstInput + id) * V;
  var t = 0.0;
  for (var x = lid; x < V; x += WG) { t += hist[o + x]; }
  partial[lid] = t;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h = h / 2u) {
    if (lid < h) { partial[lid] += partial[lid + h]; }
    workgroupBarrier();
  }
  let total = partial[0];
  let a = em.pseudocount;
  if (!(total + a > 0.0)) { return; }
  let prior = a / f32(V);
  let s = em.step;
  for (var x = lid; x < V; x += WG) {
    let fresh = (hist[o + x] + prior) / (total + a);
    logProb[o + x] = log((1.0 - s) * exp(logProb[o + x]) + s * fresh);
  }
}

// Input + product layer (forward, log domain). One thread per (product node, sample):
//   u_p[b] = sum over the product's children c of  (c an input node)  log theta_c[pix[var(c), b]]
//                                                  (c a sum node)     log s_c[b]
// Region-local values (engine.ts): u_p is the product's log value minus the sum of its child
// regions' offsets, which is the same for every product of the region.
// A missing pixel contributes 0 (log 1), which marginalises the variable. Input values are never
// stored: each input node has exactly one parent product, which reads its log-probability here.
// Layer uniform: the layer's products [firstNode, firstNode + nodes), numInputs, numValues = V.

override WG: u32 = 256;

struct ProductLayer { firstNode: u32, nodes: u32, numInputs: u32, numValues: u32 }
@group(0) @binding(0) var<uniform> bat: Batch;
@group(0) @binding(1) var<uniform> lay: ProductLayer;
@group(0) @binding(2) var<storage, read> childPtr: array<u32>;
@group(0) @binding(3) var<storage, read> childNode: array<u32>;
@group(0) @binding(4) var<storage, read> inputVar: array<u32>;
@group(0) @binding(5) var<storage, read> logProb: array<f32>;
@group(0) @binding(6) var<storage, read> pix: array<u32>;
@group(0) @binding(7) var<storage, read_write> val: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = flatIndex(wid, nwg, lid, WG);
  if (id >= lay.nodes * bat.n) { return; }
  let p = lay.firstNode + id / bat.n;
  let b = id % bat.n;
  let cap = bat.cap;
  var s = 0.0;
  for (var k = childPtr[p]; k < childPtr[p + 1u]; k++) {
    let c = childNode[k];
    if (c < lay.numInputs) {
      let x = pix[inputVar[c] * cap + b];
      if (x != MISSING) { s += logProb[c * lay.numValues + x]; }
    } else {
      s += val[c * cap + b];
    }
  }
  val[p * cap + b] = s;
}

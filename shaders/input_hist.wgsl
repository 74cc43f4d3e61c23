// Categorical input flows as histograms: for input node n on variable v, with p its parent product
// (the input's flow is the product's flow),
//   hist[n, pix[v, b]] += F_p[b]      for every observed sample b
// One thread per input node loops over the batch in order and owns its row of V bins: deterministic,
// no atomics. Layer uniform: start = first input node, count = input nodes, b = V.

override WG: u32 = 256;
const MISSING: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> bat: Batch;
@group(0) @binding(1) var<uniform> lay: Layer;
@group(0) @binding(2) var<storage, read> parentPtr: array<u32>;
@group(0) @binding(3) var<storage, read> parentNode: array<u32>;
@group(0) @binding(4) var<storage, read> inputVar: array<u32>;
@group(0) @binding(5) var<storage, read> pix: array<u32>;
@group(0) @binding(6) var<storage, read> flow: array<f32>;
@group(0) @binding(7) var<storage, read_write> hist: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = flatIndex(wid, nwg, lid, WG);
  if (id >= lay.count) { return; }
  let n = lay.start + id;
  if (parentPtr[n] == parentPtr[n + 1u]) { return; }
  let p = parentNode[parentPtr[n]];
  let cap = bat.cap;
  let po = p * cap;
  let vo = inputVar[n] * cap;
  let ho = n * lay.b;
  for (var b = 0u; b < bat.n; b++) {
    let x = pix[vo + b];
    if (x != MISSING) { hist[ho + x] += flow[po + b]; }
  }
}

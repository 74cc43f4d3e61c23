// Categorical input flows as histograms: for input node n on variable v, with p its parent product
// (the input's flow is the product's flow),
//   hist[n, pix[v, b]] += F_p[b]      for every observed sample b
// `main`: one thread per input node loops over the batch in order and owns its row of V bins
// (deterministic, no atomics, no barriers: software adapters). `tiled`: a workgroup per input node
// stages WG samples' pixel codes and flows in workgroup memory (coalesced reads; `main` reads each
// node's flows with a stride of the node-major layout across threads), then thread t owns bins
// t, t + WG, ... and scans the tile in sample order: deterministic too, the same order of additions.
// Layer uniform: the input nodes [firstInput, firstInput + inputs), numValues = V.

override WG: u32 = 256;

struct InputLayer { firstInput: u32, inputs: u32, numValues: u32 }
@group(0) @binding(0) var<uniform> bat: Batch;
@group(0) @binding(1) var<uniform> lay: InputLayer;
@group(0) @binding(2) var<storage, read> parentPtr: array<u32>;
@group(0) @binding(3) var<storage, read> parentNode: array<u32>;
@group(0) @binding(4) var<storage, read> inputVar: array<u32>;
@group(0) @binding(5) var<storage, read> pix: array<u32>;
@group(0) @binding(6) var<storage, read> flow: array<f32>;
@group(0) @binding(7) var<storage, read_write> hist: array<f32>;

// Input node n's offsets: its parent product's flows (po), its variable's pixel codes (vo), its V
// bins (ho); `used` is false for an input no product reads (pruned away).
struct HistRow { po: u32, vo: u32, ho: u32, used: bool }

fn histRow(n: u32) -> HistRow {
  if (parentPtr[n] == parentPtr[n + 1u]) { return HistRow(0u, 0u, 0u, false); }
  let p = parentNode[parentPtr[n]];
  return HistRow(p * bat.cap, inputVar[n] * bat.cap, n * lay.numValues, true);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = flatIndex(wid, nwg, lid, WG);
  if (id >= lay.inputs) { return; }
  let row = histRow(lay.firstInput + id);
  if (!row.used) { return; }
  for (var b = 0u; b < bat.n; b++) {
    let x = pix[row.vo + b];
    if (x != MISSING) { hist[row.ho + x] += flow[row.po + b]; }
  }
}

var<workgroup> tilePix: array<u32, WG>;
var<workgroup> tileFlow: array<f32, WG>;

@compute @workgroup_size(WG)
fn tiled(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = wid.y * nwg.x + wid.x; // the workgroup's input node: uniform, so the barriers below are too
  if (id >= lay.inputs) { return; }
  let row = histRow(lay.firstInput + id);
  if (!row.used) { return; }
  for (var b0 = 0u; b0 < bat.n; b0 += WG) {
    let b = b0 + lid;
    var x = MISSING;
    var f = 0.0;
    if (b < bat.n) { x = pix[row.vo + b]; f = flow[row.po + b]; }
    tilePix[lid] = x;
    tileFlow[lid] = f;
    workgroupBarrier();
    let m = min(WG, bat.n - b0);
    for (var v = lid; v < lay.numValues; v += WG) {
      var h = hist[row.ho + v];
      for (var k = 0u; k < m; k++) {
        if (tilePix[k] == v) { h += tileFlow[k]; }
      }
      hist[row.ho + v] = h;
    }
    workgroupBarrier();
  }
}

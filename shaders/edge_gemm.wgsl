// Edge (parameter) flows of dense region blocks as a tiled GEMM over the batch, like PyJuice's
// parameter-flow kernel: for region r, the block of flows
//   P[j,i] = sum_b g_j[b] e_i[b]      (TM sum rows x TN products: G (rows x n) times E^T (n x size))
// is computed by one workgroup per (region, row tile, column tile); each of its (TM/4) x (TN/4)
// threads owns a 4x4 register block; the batch is walked in chunks of TK samples, staged (coalesced
// along the samples) in workgroup memory. Then acc[e] += theta_e P[j,i] for the edge e at (j, i)
// (denseEdge maps the zero-padded mirror back to edges; absent edges are MISSING). Each edge is
// written by exactly one thread: deterministic, no atomics.
// Small rows (common.wgsl): g is staged as max(g, 0), so a sample whose row is marked small
// (flow = -F_j < 0) adds nothing to the GEMM; a workgroup that staged one adds, per output, the exact
// F_j exp(u_i - L_j) of such samples at the end (a pass over the batch; normal workgroups pay a
// compare per staged value and one branch).
// Layer uniform: the regions [firstRegion, firstRegion + regions), rowTiles and colTiles per region.

override WG: u32 = 256;     // = (TM / 4) * (TN / 4)
override TM: u32 = 64;
override TN: u32 = 64;
override TK: u32 = 16;
override GS4: u32 = 272;    // TK * (TM / 4 + 1): rows padded by one vec4 (fewer bank conflicts)
override ES4: u32 = 272;    // TK * (TN / 4 + 1)

struct EdgeGemmLayer { firstRegion: u32, regions: u32, rowTiles: u32, colTiles: u32 }
@group(0) @binding(0) var<uniform> bat: Batch;
@group(0) @binding(1) var<uniform> lay: EdgeGemmLayer;
@group(0) @binding(2) var<storage, read> regions: array<Region>;
@group(0) @binding(3) var<storage, read> denseOff: array<u32>;
@group(0) @binding(4) var<storage, read> denseEdge: array<u32>;
@group(0) @binding(5) var<storage, read> weight: array<f32>;
@group(0) @binding(6) var<storage, read> ex: array<f32>;
@group(0) @binding(7) var<storage, read> flow: array<f32>;
@group(0) @binding(8) var<storage, read_write> acc: array<f32>;
@group(0) @binding(9) var<storage, read> val: array<f32>;

var<workgroup> gs: array<vec4<f32>, GS4>;
var<workgroup> es: array<vec4<f32>, ES4>;
// Set when the workgroup staged a small-row entry (a negative flow).
var<workgroup> small: atomic<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.y * nwg.x + wid.x;
  let perRegion = lay.rowTiles * lay.colTiles;
  let inRange = wg < lay.regions * perRegion;
  let r = lay.firstRegion + min(wg / perRegion, lay.regions - 1u);
  let rem = wg % perRegion;
  let j0 = (rem / lay.colTiles) * TM;
  let i0 = (rem % lay.colTiles) * TN;
  let n = bat.n;
  let cap = bat.cap;
  let reg = regions[r];
  let ps = reg.productStart;
  let size = reg.size;
  let ss = reg.sumStart;
  let rows = reg.rows;
  let working = inRange && j0 < rows && i0 < size;
  let TM4 = TM / 4u;
  let TN4 = TN / 4u;
  let GROW = TM4 + 1u;
  let EROW = TN4 + 1u;
  let tm = lid / TN4;
  let tn = lid % TN4;
  if (lid == 0u) { atomicStore(&small, 0u); }
  workgroupBarrier();
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var b0 = 0u; b0 < n; b0 += TK) {
    for (var t = lid; t < TM * TK; t += WG) {
      let kk = t % TK;
      let mm = t / TK;
      let j = j0 + mm;
      let b = b0 + kk;
      var x = 0.0;
      if (working && j < rows && b < n) {
        let g = flow[(ss + j) * cap + b];
        if (g < 0.0) { atomicStore(&small, 1u); }
        x = max(g, 0.0);
      }
      gs[kk * GROW + mm / 4u][mm % 4u] = x;
    }
    for (var t = lid; t < TN * TK; t += WG) {
      let kk = t % TK;
      let nn = t / TK;
      let i = i0 + nn;
      let b = b0 + kk;
      var x = 0.0;
      if (working && i < size && b < n) { x = ex[(ps + i) * cap + b]; }
      es[kk * EROW + nn / 4u][nn % 4u] = x;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let a = gs[kk * GROW + tm];
      let bv = es[kk * EROW + tn];
      acc0 += a.x * bv;
      acc1 += a.y * bv;
      acc2 += a.z * bv;
      acc3 += a.w * bv;
    }
    workgroupBarrier();
  }
  if (!working) { return; }
  let dof = denseOff[r];
  var accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  if (atomicLoad(&small) != 0u) {
    for (var q = 0u; q < 4u; q++) {
      let j = j0 + tm * 4u + q;
      if (j >= rows) { break; }
      for (var b = 0u; b < n; b++) {
        let g = flow[(ss + j) * cap + b];
        if (g >= 0.0) { continue; }
        let L = ex[(ss + j) * cap + b];
        for (var c = 0u; c < 4u; c++) {
          let i = i0 + tn * 4u + c;
          if (i >= size) { break; }
          accs[q][c] += -g * smallExp(val[(ps + i) * cap + b] - L);
        }
      }
    }
  }
  for (var q = 0u; q < 4u; q++) {
    let j = j0 + tm * 4u + q;
    if (j >= rows) { break; }
    for (var c = 0u; c < 4u; c++) {
      let i = i0 + tn * 4u + c;
      if (i >= size) { break; }
      let e = denseEdge[dof + j * size + i];
      if (e != MISSING) { acc[e] += weight[e] * accs[q][c]; }
    }
  }
}

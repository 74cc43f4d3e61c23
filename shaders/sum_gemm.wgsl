// Dense region blocks as tiled GEMMs (the way fast GPU GEMMs are written): each workgroup computes a
// TM x TN tile of outputs (rows x samples) of one region; each of its (TM/4) x (TN/4) threads a 4x4
// register block. The inner dimension is walked in chunks of TK: the block's weights (TM x TK) and
// the operand values (TK x TN) are staged in workgroup memory as vec4 rows, so each thread does 16
// FMAs per two vec4 reads, and every global read is coalesced and happens once per workgroup.
// Weights come from `wdense`, a zero-padded dense mirror of the region's sparse block (rows x size
// at denseOff[r]; the scheduler picks this kernel for blocks dense enough that the padding pays, and
// `scatter` refreshes the mirror from the CSR weights after every EM step).
//   mode 0 (forward, sum layer):  s_j[b] = sum_i W[j,i] e_i[b];  ex = s, val = log s   (M = rows, K = size)
//   mode 1 (backward, products):  F_i[b] = e_i[b] sum_j W[j,i] g_j[b]                 (M = size, K = rows)
// Mode 1 is the product layer's flow: a product's only parents are its own region's sum nodes.
// Small rows (common.wgsl): mode 0 sends an output below ROW_FLOOR through `smallDenseRow` (the
// row's exact log value from the mirror row and the products' val); mode 1 stages max(g, 0), so a
// row entry marked small (flow = -F_j < 0) adds nothing to the GEMM, and a workgroup that staged one
// adds the exact flows theta F_j exp(u_i - L_j) of such entries per output at the end
// (`smallFlows`). Normal workgroups pay a compare per staged value and one branch per output.
// Layer uniform: the regions [firstRegion, firstRegion + regions), rowTiles per region
// (ceil(max M / TM)), inner = the layer's largest K (a uniform loop bound: barriers need uniform
// control flow), mode; `scatter` reads only `edges`.
// Workgroups past a region's rows load zeros and write nothing, but still reach every barrier.

override WG: u32 = 256;     // = (TM / 4) * (TN / 4)
override TM: u32 = 64;      // rows per tile (multiple of 4)
override TN: u32 = 64;      // samples per tile (multiple of 4)
override TK: u32 = 16;      // inner chunk
override WS4: u32 = 272;    // TK * (TM / 4 + 1): each k row padded by one vec4 (fewer bank conflicts)
override ES4: u32 = 256;    // TK * TN / 4

struct GemmLayer { firstRegion: u32, regions: u32, rowTiles: u32, inner: u32, mode: u32, edges: u32 }
@group(0) @binding(0) var<uniform> bat: Batch;
@group(0) @binding(1) var<uniform> lay: GemmLayer;
@group(0) @binding(2) var<storage, read> regions: array<Region>;
@group(0) @binding(3) var<storage, read> denseOff: array<u32>;
@group(0) @binding(4) var<storage, read> wdense: array<f32>;
@group(0) @binding(5) var<storage, read_write> ex: array<f32>;
@group(0) @binding(6) var<storage, read_write> val: array<f32>;
@group(0) @binding(7) var<storage, read_write> flow: array<f32>;
@group(0) @binding(8) var<storage, read> denseIdx: array<u32>;
@group(0) @binding(9) var<storage, read> weight: array<f32>;
@group(0) @binding(10) var<storage, read_write> wmirror: array<f32>;

var<workgroup> ws: array<vec4<f32>, WS4>;
var<workgroup> es: array<vec4<f32>, ES4>;
// Mode 1: set when the workgroup staged a small-row entry (a negative flow).
var<workgroup> small: atomic<u32>;

// Mode 0: sum row at mirror offset `wrow` (size weights; 0 = no edge) for sample b, exactly in the
// log domain (common.wgsl, "Small rows"); o = its output index.
fn smallDenseRow(o: u32, wrow: u32, ps: u32, size: u32, b: u32, cap: u32) {
  var m = LOW;
  for (var i = 0u; i < size; i++) { m = max(m, val[(ps + i) * cap + b]); }
  if (m <= LOW) { m = 0.0; }
  var mr = LOW;
  for (var i = 0u; i < size; i++) {
    if (wdense[wrow + i] != 0.0) { mr = max(mr, val[(ps + i) * cap + b]); }
  }
  var t = 0.0;
  for (var i = 0u; i < size; i++) {
    let w = wdense[wrow + i];
    if (w != 0.0) { t += w * exp(val[(ps + i) * cap + b] - mr); }
  }
  let lt = log(t);
  ex[o] = mr + lt;
  val[o] = (mr - m) + lt;
}

// Mode 1: the exact flows into product i (index p = its node's output index, sample b) from the
// region's rows marked small for b: sum_j W[j,i] F_j exp(u_i - L_j), F_j = -flow_j, L_j = ex_j.
fn smallFlows(p: u32, i: u32, dof: u32, ss: u32, rows: u32, size: u32, b: u32, cap: u32) -> f32 {
  let u = val[p];
  var f = 0.0;
  for (var j = 0u; j < rows; j++) {
    let q = (ss + j) * cap + b;
    let g = flow[q];
    let w = wdense[dof + j * size + i];
    if (g < 0.0) { f += w * -g * smallExp(u - ex[q]); }
  }
  return f;
}

@compute @workgroup_size(WG)
fn gemm(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let place = regionTile(wid, nwg, bat.n, lay.firstRegion, lay.regions, lay.rowTiles, TN);
  let inRange = place.live;
  let r = place.r;
  let m0 = place.block * TM;
  let b0 = place.b0;
  let n = bat.n;
  let cap = bat.cap;
  let mode = lay.mode;
  let reg = regions[r];
  let ps = reg.productStart;
  let size = reg.size;
  let ss = reg.sumStart;
  let rows = reg.rows;
  let dof = denseOff[r];
  var M = rows;
  var K = size;
  var bBase = ps;     // operand rows: products (mode 0) or sums (mode 1)
  var oBase = ss;     // output rows: sums (mode 0) or products (mode 1)
  if (mode == 1u) { M = size; K = rows; bBase = ss; oBase = ps; }
  let working = inRange && m0 < M;
  let TM4 = TM / 4u;
  let WROW = TM4 + 1u;   // padded row of ws
  let TN4 = TN / 4u;
  let tm = lid / TN4;
  let tn = lid % TN4;
  if (lid == 0u) { atomicStore(&small, 0u); }
  workgroupBarrier();
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < lay.inner; k0 += TK) {
    // A tile (TM x TK), stored k-major: ws[kk * WROW + mm / 4][mm % 4]. Threads run along the
    // mirror's contiguous index: k for mode 0 (rows of W), m for mode 1 (W transposed).
    for (var t = lid; t < TM * TK; t += WG) {
      var kk = t % TK;
      var mm = t / TK;
      if (mode == 1u) { kk = t / TM; mm = t % TM; }
      let m = m0 + mm;
      let k = k0 + kk;
      var x = 0.0;
      if (working && m < M && k < K) {
        if (mode == 0u) { x = wdense[dof + m * size + k]; } else { x = wdense[dof + k * size + m]; }
      }
      ws[kk * WROW + mm / 4u][mm % 4u] = x;
    }
    // B tile (TK x TN): samples contiguous (coalesced).
    for (var t = lid; t < TK * TN; t += WG) {
      let nn = t % TN;
      let kk = t / TN;
      let k = k0 + kk;
      let b = b0 + nn;
      var x = 0.0;
      if (working && k < K && b < n) {
        if (mode == 0u) {
          x = ex[(bBase + k) * cap + b];
        } else {
          let g = flow[(bBase + k) * cap + b];
          if (g < 0.0) { atomicStore(&small, 1u); }
          x = max(g, 0.0);
        }
      }
      es[kk * TN4 + nn / 4u][nn % 4u] = x;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let a = ws[kk * WROW + tm];
      let bv = es[kk * TN4 + tn];
      acc0 += a.x * bv;
      acc1 += a.y * bv;
      acc2 += a.z * bv;
      acc3 += a.w * bv;
    }
    workgroupBarrier();
  }
  if (!working) { return; }
  let anySmall = atomicLoad(&small) != 0u;
  var accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + tm * 4u + i;
    if (m >= M) { break; }
    for (var c = 0u; c < 4u; c++) {
      let b = b0 + tn * 4u + c;
      if (b >= n) { break; }
      let o = (oBase + m) * cap + b;
      let s = accs[i][c];
      if (mode == 0u) {
        if (s >= ROW_FLOOR) {
          ex[o] = s;
          val[o] = log(s);
        } else {
          smallDenseRow(o, dof + m * size, ps, size, b, cap);
        }
      } else {
        var f = s * ex[o];
        if (anySmall) { f += smallFlows(o, m, dof, ss, rows, size, b, cap); }
        flow[o] = f;
      }
    }
  }
}

// Refreshes the dense mirror from the CSR weights: wmirror[denseIdx[e]] = weight[e] (one thread
// per edge; edges outside mirrored blocks have denseIdx = MISSING). Layer uniform: edges.
@compute @workgroup_size(WG)
fn scatter(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let e = flatIndex(wid, nwg, lid, WG);
  if (e >= lay.edges) { return; }
  let d = denseIdx[e];
  if (d != MISSING) { wmirror[d] = weight[e]; }
}

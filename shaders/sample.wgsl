// Top-down (ancestral) sampling, one thread per draw. Regions are visited root first (reverse
// compiled order, so a parent is always visited before its children): a region's sum row is the
// product its parent chose (row 0 at the root); the thread picks one edge of that row with
// probability proportional to `weight` (the parameters theta for unconditional draws, or the
// posterior theta_e exp(x_c - y_j) of one evidence image for inpainting), which fixes the region's
// product i; the pixel copies the evidence when observed, else is drawn from input node i.
// Random numbers: a PCG hash of (seed, draw, region, purpose), so a draw depends only on its index.

struct Params { count: u32, numRegions: u32, numValues: u32, seed: u32, numVars: u32, p0: u32, p1: u32, p2: u32 }
// Regions: common.wgsl struct Region (the engine's region table, src/engines/gpu/buffers.ts
// packRegions; the engine puts common.wgsl in front of this file as of every kernel).
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> regions: array<Region>;
@group(0) @binding(2) var<storage, read> edgePtr: array<u32>;
@group(0) @binding(3) var<storage, read> edgeChild: array<u32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read> inputProb: array<f32>;
@group(0) @binding(6) var<storage, read> evidence: array<u32>;   // [numVars] pixel, or MISSING
@group(0) @binding(7) var<storage, read_write> choice: array<u32>; // [count x numRegions]
@group(0) @binding(8) var<storage, read_write> pixels: array<u32>; // [count x numVars]

override WG: u32 = 64;

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

/** Uniform in [0, 1) from 24 random bits. */
fn rand01(draw: u32, region: u32, purpose: u32) -> f32 {
  let h = pcg(pcg(pcg(params.seed ^ 0x9e3779b9u) ^ draw) ^ (region * 2u + purpose));
  return f32(h >> 8u) * (1.0 / 16777216.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let draw = gid.x;
  if (draw >= params.count) { return; }
  let R = params.numRegions;
  let V = params.numValues;
  for (var k = R; k > 0u; k--) {
    let r = k - 1u;
    let reg = regions[r];
    var row = 0u;
    if (reg.parent != MISSING) { row = choice[draw * R + reg.parent]; }
    let node = reg.sumStart + row;
    let start = edgePtr[node];
    let end = edgePtr[node + 1u];
    var total = 0.0;
    for (var e = start; e < end; e++) { total += weight[e]; }
    let u = rand01(draw, r, 0u) * total;
    // The last edge with positive weight takes what rounding leaves over.
    var picked = end - 1u;
    for (var e = start; e < end; e++) { if (weight[e] > 0.0) { picked = e; } }
    var acc = 0.0;
    for (var e = start; e < end; e++) {
      let w = weight[e];
      if (w > 0.0) {
        acc += w;
        if (u < acc) { picked = e; break; }
      }
    }
    let i = edgeChild[picked] - reg.productStart;
    choice[draw * R + r] = i;
    let observed = evidence[reg.variable];
    var value = observed;
    if (observed == MISSING) {
      let io = (reg.inputStart + i) * V;
      let v = rand01(draw, r, 1u);
      var c = 0.0;
      value = 0u;
      for (var x = 0u; x < V; x++) { if (inputProb[io + x] > 0.0) { value = x; } }
      for (var x = 0u; x < V; x++) {
        let p = inputProb[io + x];
        if (p > 0.0) {
          c += p;
          if (v < c) { value = x; break; }
        }
      }
    }
    pixels[draw * params.numVars + reg.variable] = value;
  }
}

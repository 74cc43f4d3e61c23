// Declarations every kernel shares; the engine puts this file in front of each shader (WGSL has no
// includes). Batch: the chunk being processed (n samples, cap = stride of the node-major buffers,
// flags, root node). Layer: one dispatch's sizes (start, count and per-kernel fields a..f, described
// in each shader). Em: the EM step size and pseudocount.
struct Batch { n: u32, cap: u32, flags: u32, root: u32 }
struct Layer { start: u32, count: u32, a: u32, b: u32, c: u32, d: u32, e: u32, f: u32 }
struct Em { step: f32, pseudocount: f32, p0: f32, p1: f32 }

// Flat invocation index of a dispatch folded into 2-D (nwg.x workgroups of wg invocations per row).
fn flatIndex(wid: vec3u, nwg: vec3u, lid: u32, wg: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * wg + lid;
}

// Kernels with one workgroup per (region, block of rows or products, tile of `tile` samples), for
// regions [start, start + count) and `blocks` blocks per region. Workgroups past the end get
// live = false but a valid region, so they still reach every barrier (storage reads are not uniform
// values: no early returns in those kernels). nb = samples of the batch (n) in the tile.
struct RegionTile { live: bool, r: u32, block: u32, b0: u32, nb: u32 }
fn regionTile(wid: vec3u, nwg: vec3u, n: u32, start: u32, count: u32, blocks: u32, tile: u32) -> RegionTile {
  let wg = wid.y * nwg.x + wid.x;
  let tiles = (n + tile - 1u) / tile;
  let perRegion = blocks * tiles;
  let rem = wg % perRegion;
  let b0 = (rem % tiles) * tile;
  return RegionTile(wg < count * perRegion, start + min(wg / perRegion, count - 1u), rem / tiles, b0, min(tile, n - min(b0, n)));
}

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

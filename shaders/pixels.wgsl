// Batch pixels -> the variable-major code table pix[v * cap + b] that every other kernel reads
// (MISSING marks a missing pixel, which contributes log 1 = 0: a marginal).
// Two sources share this kernel: a chunk uploaded as packed bytes (row b of the chunk), or the
// GPU-resident dataset addressed through an index list (row idx[b]). Bytes are packed 4 per u32,
// sample-major, exactly as the Uint8Array the caller holds: byte k lives in word k >> 2.
// Layer uniform: numVars = D. bat.flags: 1 = the chunk has a missing mask, 2 = indexed rows.

override WG: u32 = 256;

struct PixelsLayer { numVars: u32 }
@group(0) @binding(0) var<uniform> bat: Batch;
@group(0) @binding(1) var<uniform> lay: PixelsLayer;
@group(0) @binding(2) var<storage, read> data: array<u32>;
@group(0) @binding(3) var<storage, read> miss: array<u32>;
@group(0) @binding(4) var<storage, read> idx: array<u32>;
@group(0) @binding(5) var<storage, read_write> pix: array<u32>;

fn byteAt(k: u32) -> u32 { return (data[k >> 2u] >> ((k & 3u) * 8u)) & 0xffu; }
fn missAt(k: u32) -> u32 { return (miss[k >> 2u] >> ((k & 3u) * 8u)) & 0xffu; }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let id = flatIndex(wid, nwg, lid, WG);
  let D = lay.numVars;
  if (id >= D * bat.n) { return; }
  let v = id / bat.n;
  let b = id % bat.n;
  var row = b;
  if ((bat.flags & 2u) != 0u) { row = idx[b]; }
  let k = row * D + v;
  var x = byteAt(k);
  if ((bat.flags & 1u) != 0u && missAt(k) != 0u) { x = MISSING; }
  pix[v * bat.cap + b] = x;
}

// Prelude of the kernels that bind the region table only as words (`regionWords: array<u32>`:
// region_forward.wgsl, marked.wgsl), put between common.wgsl and their own file
// (src/engines/gpu/kernels.ts SHADER_PRELUDES): one binding for the records and the lists they point
// into keeps region_forward within the 8 storage buffers every WebGPU device has.

// Region r's record (common.wgsl struct Region), from the words of the table.
fn regionAt(r: u32) -> Region {
  let o = r * REGION_WORDS;
  return Region(
    regionWords[o], regionWords[o + 1u], regionWords[o + 2u], regionWords[o + 3u],
    regionWords[o + 4u], regionWords[o + 5u], regionWords[o + 6u], regionWords[o + 7u],
    regionWords[o + 8u], regionWords[o + 9u], regionWords[o + 10u], regionWords[o + 11u],
  );
}

// Region r's sumStart alone (its field index in struct Region), for loops over child regions.
fn regionSumStart(r: u32) -> u32 {
  return regionWords[r * REGION_WORDS + 2u];
}

// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320: the zip/png checksum), table driven.
// The .spc model format stores it over its payload so a flipped or truncated byte is reported as a
// corrupt file instead of loading as a subtly different circuit. Pure: runs in the browser and Node.

/** The 256-entry byte table, built once; never written after construction. */
const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32 of `bytes[start, end)`, as an unsigned 32-bit integer. Pass a previous result as `crc` to
 * continue a checksum over several chunks (crc32(a ++ b) === crc32(b, crc32(a))).
 */
export function crc32(bytes: Uint8Array, crc = 0, start = 0, end = bytes.length): number {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

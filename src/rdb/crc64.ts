// Redis's CRC-64 (redis/src/crc64.c): the Jones polynomial 0xad93d23594c935a9, reflected input and
// output, no final xor. The DUMP trailer and RDB files carry it little-endian. JavaScript has no
// fast 64-bit integers, so the table and the running value are kept as two 32-bit halves.

const POLY_REFLECTED_HI = 0x95ac9329;
const POLY_REFLECTED_LO = 0xac4bc9b5;

const TABLE_HI = new Uint32Array(256);
const TABLE_LO = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let hi = 0;
  let lo = i;
  for (let bit = 0; bit < 8; bit++) {
    const lsb = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi >>>= 1;
    if (lsb) {
      hi = (hi ^ POLY_REFLECTED_HI) >>> 0;
      lo = (lo ^ POLY_REFLECTED_LO) >>> 0;
    }
  }
  TABLE_HI[i] = hi;
  TABLE_LO[i] = lo;
}

/** Continues `crc` over `data` (start with 0n). */
export function crc64(crc: bigint, data: Uint8Array): bigint {
  let hi = Number((crc >> 32n) & 0xffffffffn);
  let lo = Number(crc & 0xffffffffn);
  for (let i = 0; i < data.length; i++) {
    const idx = (lo ^ data[i]!) & 0xff;
    lo = ((lo >>> 8) | ((hi & 0xff) << 24)) ^ TABLE_LO[idx]!;
    hi = (hi >>> 8) ^ TABLE_HI[idx]!;
  }
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** The CRC of `data` as the 8 little-endian bytes a DUMP payload ends with. */
export function crc64Bytes(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, crc64(0n, data), true);
  return out;
}

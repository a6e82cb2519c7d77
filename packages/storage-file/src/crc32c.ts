// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum etcd's
// WAL and ext4/iSCSI use. Castagnoli's polynomial detects more error patterns
// in the record sizes we write than the older IEEE CRC-32. Every WAL byte is
// checksummed on write and again on replay, so this is on the write path of
// every entry: slicing-by-16 (sixteen bytes per step, read as four
// little-endian words) runs about 1.6 times as fast in V8 as slicing-by-8
// over single bytes, and several times as fast as a byte-at-a-time loop.
// From WASM_MIN_BYTES on, the same loop runs in WebAssembly (crc32c-wasm.ts),
// faster again; below, calling it and copying the input in costs more.
import { wasmCrc32c } from './crc32c-wasm.js';

const POLY = 0x82f63b78;
const STRIDE = 16;

/**
 * Table k (at k * 256) advances the CRC over byte value n followed by k
 * zero bytes. One flat array: one bounds check and no indirection per lookup.
 */
export const CRC32C_TABLES = ((): Uint32Array => {
  const t = new Uint32Array(STRIDE * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let b = 0; b < 8; b++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < STRIDE; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c >>> 0;
    }
  }
  return t;
})();

/** Measured crossover: a 64-byte input is already checksummed faster in WebAssembly. */
export const WASM_MIN_BYTES = 64;
const wasm = wasmCrc32c(CRC32C_TABLES);
const T = CRC32C_TABLES;

/**
 * Extends `crc` (the value of a previous call, or 0 to start) over `bytes`,
 * so a checksum can span several buffers without concatenating them.
 */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  if (wasm !== undefined && bytes.length >= WASM_MIN_BYTES) return wasm.crc(bytes, crc);
  return crc32cJs(bytes, crc);
}

/**
 * The CRC-32C (from 0) of each range `bytes[bounds[2k], bounds[2k+1])`,
 * k < count, into `out[k]`: what crc32c gives for each range's subarray,
 * without a view or a copy per range. A WAL batch checksums each of its
 * records; in WebAssembly the batch is copied in a window at a time and
 * each record checksummed where it lies. Ranges must come in increasing
 * order, and not overlap.
 */
export function crc32cRanges(bytes: Uint8Array, bounds: ArrayLike<number>, count: number, out: Uint32Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  /** The staged window, as offsets into `bytes`. */
  let staged = 0;
  let stagedEnd = 0;
  for (let k = 0; k < count; k++) {
    const start = bounds[2 * k]!;
    const end = bounds[2 * k + 1]!;
    const n = end - start;
    if (wasm === undefined || n < WASM_MIN_BYTES) {
      out[k] = crc32cJsRange(bytes, view, start, end, 0);
    } else if (n > wasm.windowBytes) {
      out[k] = wasm.crc(bytes.subarray(start, end), 0);
    } else {
      if (start < staged || end > stagedEnd) {
        staged = start;
        stagedEnd = Math.min(bytes.length, start + wasm.windowBytes);
        wasm.stage(bytes, staged, stagedEnd);
      }
      out[k] = wasm.stagedCrc(start - staged, n, 0);
    }
  }
}

/** crc32c of `bytes[start, end)` in JavaScript, without a view: for short ranges such as a record header. */
export function crc32cAt(bytes: Uint8Array, start: number, end: number, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = start; i < end; i++) c = T[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** crc32c in JavaScript alone (short inputs, and where WebAssembly is missing). */
export function crc32cJs(bytes: Uint8Array, crc = 0): number {
  const n = bytes.length;
  // A DataView reads words at any byte offset; a record header (12 bytes)
  // does not pay for one.
  return n >= STRIDE ? crc32cJsRange(bytes, new DataView(bytes.buffer, bytes.byteOffset, n), 0, n, crc) : crc32cAt(bytes, 0, n, crc);
}

/** crc32cJs over `bytes[start, end)`, `view` being a DataView of all of `bytes`. */
function crc32cJsRange(bytes: Uint8Array, v: DataView, start: number, stop: number, crc: number): number {
  let c = ~crc >>> 0;
  let i = start;
  const n = stop - start;
  if (n >= STRIDE) {
    const end = start + n - (n % STRIDE);
    while (i < end) {
      const a = v.getUint32(i, true) ^ c;
      const b = v.getUint32(i + 4, true);
      const d = v.getUint32(i + 8, true);
      const e = v.getUint32(i + 12, true);
      c =
        T[3840 + (a & 0xff)]! ^
        T[3584 + ((a >>> 8) & 0xff)]! ^
        T[3328 + ((a >>> 16) & 0xff)]! ^
        T[3072 + (a >>> 24)]! ^
        T[2816 + (b & 0xff)]! ^
        T[2560 + ((b >>> 8) & 0xff)]! ^
        T[2304 + ((b >>> 16) & 0xff)]! ^
        T[2048 + (b >>> 24)]! ^
        T[1792 + (d & 0xff)]! ^
        T[1536 + ((d >>> 8) & 0xff)]! ^
        T[1280 + ((d >>> 16) & 0xff)]! ^
        T[1024 + (d >>> 24)]! ^
        T[768 + (e & 0xff)]! ^
        T[512 + ((e >>> 8) & 0xff)]! ^
        T[256 + ((e >>> 16) & 0xff)]! ^
        T[e >>> 24]!;
      i += STRIDE;
    }
  }
  // The tail, byte by byte: crc32cAt, resumed from the register as it stands.
  return crc32cAt(bytes, i, stop, ~c >>> 0);
}

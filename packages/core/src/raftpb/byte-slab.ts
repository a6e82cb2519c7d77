// Copies of decoded input, carved out of a shared slab.
//
// A decoded value never aliases its input, so the decoder copies the input
// once and hands out views of the copy. `new Uint8Array(n)` per copy gives
// each one its own off-heap backing store (V8 keeps only arrays of 64 bytes
// or less on the heap), slow to allocate and to collect. Node's Buffer pool
// answers the same problem the same way: small copies share a 64 KiB
// ArrayBuffer, each a view of its own bytes; a large copy gets its own
// buffer, so a slab never grows past 64 KiB and at most 1/16 of one is left
// unused at its end.
//
// What this means for a holder of a decoded array: its bytes are its own
// (nothing else writes them), but its `.buffer` may be shared with other
// decoded arrays (of the same message, or of others through the slab), at
// any `byteOffset`. Views over it must use `byteOffset` and `byteLength`;
// keeping one decoded array alive keeps its whole buffer alive, as with
// Node's pooled Buffers.
import { EMPTY_BYTES } from './types.js';

const SLAB_BYTES = 64 * 1024;
/** Larger pieces get a buffer of their own. */
export const MAX_SLAB_COPY = SLAB_BYTES / 16;
/** Copies this small are a byte loop; above, one `set` (whose subarray costs more than a short loop). */
const LOOP_COPY_MAX = 16;

let slab = new ArrayBuffer(SLAB_BYTES);
let slabBytes = new Uint8Array(slab);
let slabUsed = 0;

/**
 * `n` zeroed bytes of the caller's own: a view into the slab when small
 * (slab space is never handed out twice), a buffer of its own otherwise.
 * The host builds each proposal's entry data with it.
 */
export function allocBytes(n: number): Uint8Array {
  if (n === 0) return EMPTY_BYTES;
  if (n > MAX_SLAB_COPY) return new Uint8Array(n);
  if (slabUsed + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabBytes = new Uint8Array(slab);
    slabUsed = 0;
  }
  const at = slabUsed;
  // Each piece starts 8-byte aligned, as in Node's pool.
  slabUsed = (at + n + 7) & ~7;
  return new Uint8Array(slab, at, n);
}

/** A copy of `src[start, end)` that owns its bytes; EMPTY_BYTES when empty. */
export function copyBytes(src: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  if (n === 0) return EMPTY_BYTES;
  const out = allocBytes(n);
  if (n <= LOOP_COPY_MAX) {
    for (let i = 0; i < n; i++) out[i] = src[start + i]!;
  } else {
    out.set(src.subarray(start, end));
  }
  return out;
}

// The protobufjs reader both raftpb decoders read through (the direct one in
// message-decoder.ts and the reflection one in reflection-codec.ts), so both
// accept and refuse exactly the same varints, tags and lengths.
import protobuf from 'protobufjs';
import type { Long } from 'protobufjs';

/** A failure found by our reader or decoders; turned into ErrMalformedMessage. */
export class DecodeFailure extends Error {}

/** Reads a varint at `pos` exactly, as a bigint (for error messages only). */
export function varintBigInt(buf: Uint8Array, pos: number, end: number): { value: bigint; next: number } {
  let value = 0n;
  for (let shift = 0n; pos < end && shift < 70n; shift += 7n) {
    const b = buf[pos++]!;
    value |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) break;
  }
  return { value, next: pos };
}

const MAX_INT32 = 0x7fffffff;

/**
 * A protobufjs reader that keeps unknown fields (so the reflection decoder's
 * checks see wrong wire types and unknown enum values) and reads uint64 and
 * enum varints exactly, independent of protobufjs's Long configuration.
 */
export class StrictReader extends protobuf.Reader {
  /** Where the tag of the field being read starts (for error messages). */
  private tagPos = 0;

  constructor(buf: Uint8Array) {
    super(buf);
    this.discardUnknown = false;
  }

  override tag(): number {
    this.tagPos = this.pos;
    return super.tag();
  }

  /**
   * Reads a varint of at most 10 bytes and at most 2^64-1 (a 10th byte above
   * 1 would set bits past 63, or continue to an 11th byte). The result is
   * exact when it is at most 2^53-1, and above 2^53-1 otherwise: each step
   * adds an exact power-of-two multiple, and rounding is monotone.
   */
  private varint(): number {
    const buf = this.buf;
    const end = this.len;
    const start = this.pos;
    let pos = start;
    // One byte: most tags, types, small ids and terms.
    if (pos < end) {
      const b = buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw new DecodeFailure(`unexpected end of input in a varint at offset ${start}`);
      const b = buf[pos++]!;
      if (i === 9 && b > 1) throw new DecodeFailure(`varint at offset ${start} overflows 64 bits`);
      v += (b & 0x7f) * mul;
      if (b < 0x80) {
        this.pos = pos;
        return v;
      }
      mul *= 128;
    }
    throw new DecodeFailure(`varint at offset ${start} overflows 64 bits`); // not reached
  }

  /** A uint64 field: a safe integer, or a DecodeFailure. Never rounded. */
  safeUint64(): number {
    const start = this.pos;
    const v = this.varint();
    if (v > Number.MAX_SAFE_INTEGER) {
      const { value } = varintBigInt(this.buf, start, this.len);
      const field = Number(varintBigInt(this.buf, this.tagPos, this.len).value >> 3n);
      throw new DecodeFailure(
        `uint64 field ${field} at offset ${start} holds ${value}, above Number.MAX_SAFE_INTEGER (2^53-1)`,
      );
    }
    return v;
  }

  /** protobufjs's uint64 (the reflection decoder and uint64s call it): safeUint64. */
  override uint64(): Long {
    // protobufjs declares Long; our converters expect (and check for) numbers.
    return this.safeUint64() as unknown as Long;
  }

  /**
   * int32 is used only for enums here. A value that is not a non-negative
   * int32 becomes -1, which no enum of ours has, so it is refused as an
   * unknown value (reported from the raw bytes, with its real value).
   */
  override int32(): number {
    const v = this.varint();
    return v > MAX_INT32 ? -1 : v;
  }
}

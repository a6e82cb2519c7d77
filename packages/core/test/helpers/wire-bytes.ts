// Building and showing protobuf bytes by hand, for the codec tests.

export function fromHex(h: string): Uint8Array {
  return Uint8Array.from(Buffer.from(h, 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A varint of any value up to 2^64-1, exactly. */
export function varint(v: bigint): Uint8Array {
  const out: number[] = [];
  while (v >= 128n) {
    out.push(Number(v & 127n) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

/**
 * The varint `v` stretched to `length` bytes with continuation bytes: the
 * same value, written non-canonically, as a lenient writer or a hostile peer might.
 */
export function paddedVarint(v: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  out.set(v);
  for (let i = v.length - 1; i < out.length - 1; i++) out[i]! |= 0x80;
  return out;
}

export function tag(field: number, wireType: number): Uint8Array {
  return varint((BigInt(field) << 3n) | BigInt(wireType));
}

/** A length-delimited field (wire type 2) holding `body`. */
export function lengthDelimited(field: number, body: Uint8Array): Uint8Array {
  return concat(tag(field, 2), varint(BigInt(body.length)), body);
}

export interface Field {
  field: number;
  wireType: number;
  start: number;
  /** Where the value starts (after the tag, and after the length for wire type 2). */
  valueStart: number;
  end: number;
}

/** The top-level fields of a well-formed encoding (undefined where it is not). */
export function fields(b: Uint8Array): Field[] | undefined {
  const out: Field[] = [];
  let pos = 0;
  const read = (): number | undefined => {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= b.length) return undefined;
      const x = b[pos++]!;
      v += (x & 0x7f) * mul;
      mul *= 128;
      if (x < 0x80) return v;
    }
    return undefined;
  };
  while (pos < b.length) {
    const start = pos;
    const t = read();
    if (t === undefined) return undefined;
    const wireType = t % 8;
    let valueStart = pos;
    if (wireType === 0) {
      if (read() === undefined) return undefined;
    } else if (wireType === 2) {
      const n = read();
      if (n === undefined) return undefined;
      valueStart = pos;
      pos += n;
    } else if (wireType === 1) pos += 8;
    else if (wireType === 5) pos += 4;
    else return undefined;
    if (pos > b.length) return undefined;
    out.push({ field: Math.floor(t / 8), wireType, start, valueStart, end: pos });
  }
  return out;
}

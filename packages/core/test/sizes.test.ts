import { describe, expect, it } from 'vitest';
import { varintSize } from '../src/util/sizes.js';

/** Bytes of a varint, counted the slow way: 7 bits per byte. */
function reference(v: number): number {
  let n = 1;
  for (let x = BigInt(v); x >= 128n; x >>= 7n) n++;
  return n;
}

describe('varintSize', () => {
  it('matches 7 bits per byte on both sides of every byte boundary below 2^53', () => {
    const values = [0, 1, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1];
    for (let bits = 7; bits < 53; bits += 7) values.push(2 ** bits - 1, 2 ** bits, 2 ** bits + 1);
    for (let bits = 1; bits < 53; bits++) values.push(2 ** bits - 1, 2 ** bits);
    for (const v of values) expect(varintSize(v), `varintSize(${v})`).toBe(reference(v));
  });
});

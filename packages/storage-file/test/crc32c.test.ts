import { describe, expect, it } from 'vitest';
import { wasmCrc32c } from '../src/crc32c-wasm.js';
import { CRC32C_TABLES, WASM_MIN_BYTES, crc32c, crc32cAt, crc32cJs, crc32cRanges } from '../src/crc32c.js';

describe('crc32c', () => {
  // RFC 3720 (iSCSI) appendix B.4 and the usual check value.
  it.each([
    ['123456789', Uint8Array.from(Buffer.from('123456789')), 0xe3069283],
    ['32 zero bytes', new Uint8Array(32), 0x8a9136aa],
    ['32 0xff bytes', new Uint8Array(32).fill(0xff), 0x62a8ab43],
    ['0..31', Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
    ['31..0', Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0x113fdb5c],
    ['empty', new Uint8Array(0), 0],
  ])('%s', (_, bytes, want) => {
    expect(crc32c(bytes)).toBe(want);
  });

  it('extends across buffers as over their concatenation', () => {
    const all = Uint8Array.from({ length: 1000 }, (_, i) => (i * 131) % 251);
    for (const cut of [0, 1, 7, 8, 9, 500, 999, 1000]) {
      expect(crc32c(all.subarray(cut), crc32c(all.subarray(0, cut)))).toBe(crc32c(all));
    }
  });

  it('matches a byte-at-a-time reference on unaligned lengths', () => {
    const ref = (b: Uint8Array) => {
      let c = ~0 >>> 0;
      for (const x of b) {
        c ^= x;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      }
      return ~c >>> 0;
    };
    const all = Uint8Array.from({ length: 100 }, (_, i) => (i * 97 + 13) & 0xff);
    for (let n = 0; n <= 100; n++) expect(crc32c(all.subarray(0, n))).toBe(ref(all.subarray(0, n)));
    // Views at every offset within a word and past one, of lengths on both
    // sides of each 16-byte step: the words are read from the view, not its buffer.
    for (let offset = 1; offset <= 9; offset++) {
      for (let n = 0; n <= 70; n++) expect(crc32c(all.subarray(offset, offset + n))).toBe(ref(all.subarray(offset, offset + n)));
    }
  });

  it('crc32cAt checksums a range in place, from a CRC as crc32c does', () => {
    const all = Uint8Array.from({ length: 300 }, (_, i) => (i * 89 + 7) & 0xff);
    for (const [start, end] of [
      [0, 0],
      [0, 12],
      [5, 17],
      [3, 300],
      [299, 300],
    ] as const) {
      expect(crc32cAt(all, start, end)).toBe(crc32c(all.subarray(start, end)));
      expect(crc32cAt(all, start, end, 0xdeadbeef)).toBe(crc32c(all.subarray(start, end), 0xdeadbeef));
    }
  });

  it('crc32cRanges gives each range what crc32c gives its subarray: short, long, past the copy window, across windows', () => {
    const data = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 2654435761) >>> 24);
    // A view at an odd offset into a larger buffer, as a WAL batch may be.
    const bytes = data.subarray(3, 290_003);
    const lengths = [0, 1, 12, 15, 16, 63, 64, 65, 150, 1_050, 4_096, 20_000, 49_151, 49_152, 49_153, 60_000];
    const bounds: number[] = [];
    let at = 0;
    for (let i = 0; at < bytes.length; i++) {
      const n = lengths[(i * 7) % lengths.length]!;
      if (at + n > bytes.length) break;
      // Gaps of 0 to 15 bytes between ranges, as record headers leave.
      bounds.push(at, at + n);
      at += n + (i % 16);
    }
    const count = bounds.length / 2;
    expect(count).toBe(20);
    const out = new Uint32Array(count);
    crc32cRanges(bytes, bounds, count, out);
    for (let k = 0; k < count; k++) expect(out[k], `range ${k}`).toBe(crc32c(bytes.subarray(bounds[2 * k]!, bounds[2 * k + 1]!)));
    // Only the first `count` ranges are read, and only `out[0..count)` written.
    const two = new Uint32Array(3).fill(7);
    crc32cRanges(bytes, bounds, 2, two);
    expect(Array.from(two)).toEqual([out[0], out[1], 7]);
  });

  describe('in WebAssembly', () => {
    const wasm = wasmCrc32c(CRC32C_TABLES);
    const data = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 2654435761) >>> 24);

    it('is available in Node', () => {
      expect(wasm).toBeDefined();
    });

    it('agrees with the JavaScript loop at every short length and offset', () => {
      for (let offset = 0; offset < 8; offset++) {
        for (let n = 0; n <= 200; n++) {
          const view = data.subarray(offset, offset + n);
          expect(wasm!.crc(view, 0)).toBe(crc32cJs(view));
        }
      }
    });

    it('agrees on inputs around and past its 48 KiB copy window, and extends a CRC', () => {
      for (const n of [49_151, 49_152, 49_153, 98_304, 150_001]) {
        const view = data.subarray(5, 5 + n);
        expect(wasm!.crc(view, 0)).toBe(crc32cJs(view));
        expect(wasm!.crc(view.subarray(1000), crc32cJs(view.subarray(0, 1000)))).toBe(crc32cJs(view));
      }
      expect(wasm!.crc(Uint8Array.from(Buffer.from('123456789')), 0)).toBe(0xe3069283);
    });

    it('is what crc32c answers with on either side of the crossover', () => {
      for (const n of [WASM_MIN_BYTES - 1, WASM_MIN_BYTES, 1_050, 70_000]) {
        const view = data.subarray(3, 3 + n);
        expect(crc32c(view)).toBe(crc32cJs(view));
        expect(crc32c(view, 0x1234)).toBe(crc32cJs(view, 0x1234));
      }
    });
  });
});

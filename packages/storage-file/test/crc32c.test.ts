import { describe, expect, it } from 'vitest';
import { wasmCrc32c } from '../src/crc32c-wasm.js';
import { CRC32C_TABLES, WASM_MIN_BYTES, crc32c, crc32cJs } from '../src/crc32c.js';

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
          expect(wasm!(view, 0)).toBe(crc32cJs(view));
        }
      }
    });

    it('agrees on inputs around and past its 48 KiB copy window, and extends a CRC', () => {
      for (const n of [49_151, 49_152, 49_153, 98_304, 150_001]) {
        const view = data.subarray(5, 5 + n);
        expect(wasm!(view, 0)).toBe(crc32cJs(view));
        expect(wasm!(view.subarray(1000), crc32cJs(view.subarray(0, 1000)))).toBe(crc32cJs(view));
      }
      expect(wasm!(Uint8Array.from(Buffer.from('123456789')), 0)).toBe(0xe3069283);
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

// The WAL scan's checksums taken in one pass: each must be what readRecord
// would compute for the record it is handed to, and a header that fails
// its own checksum must never have its payload vouched for by one.
import { newEntry } from '@raftbus/core';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../src/crc32c.js';
import {
  COMMIT_CHECK,
  RECORD_HEADER_SIZE,
  WAL_VERSION,
  commitPayload,
  decodeCommitPayload,
  decodeSegmentHeader,
  encodeSegmentHeader,
  frameRecords,
  payloadChecksums,
  readRecord,
} from '../src/wal-format.js';

/** Entry records of these data sizes: empty, around the JS/WebAssembly crossover, past the 48 KiB staging window. */
const SIZES = [0, 1, 63, 64, 65, 1000, 48 * 1024, 70_000, 5, 128];

function framed(): Uint8Array {
  const entries = SIZES.map((n, i) => newEntry({ index: i + 1, term: 1, data: Uint8Array.from({ length: n }, (_, j) => (j * 31 + i) & 0xff) }));
  const f = frameRecords([], entries, []);
  return f.bytes.slice(0, f.body);
}

describe('payloadChecksums', () => {
  it("gives the k-th record's payload checksum for each record along the chain", () => {
    const buf = framed();
    const crcs = payloadChecksums(buf, 0);
    expect(crcs).toHaveLength(SIZES.length);
    let at = 0;
    for (let k = 0; k < SIZES.length; k++) {
      const r = readRecord(buf, at);
      if (r.kind !== 'ok') throw new Error(`record ${k}: ${r.kind}`);
      expect(crcs[k]).toBe(crc32c(r.payload));
      expect(readRecord(buf, at, crcs[k])).toEqual(r);
      at = r.end;
    }
    expect(at).toBe(buf.length);
  });

  it('stops where a length runs past the end, and a cut tail reads as cut', () => {
    const buf = framed();
    const cut = buf.subarray(0, buf.length - 3);
    const crcs = payloadChecksums(cut, 0);
    expect(crcs).toHaveLength(SIZES.length - 1);
    let at = 0;
    for (let k = 0; k < crcs.length; k++) {
      const r = readRecord(cut, at, crcs[k]);
      expect(r.kind).toBe('ok');
      if (r.kind === 'ok') at = r.end;
    }
    expect(readRecord(cut, at, undefined).kind).toBe('cut');
  });

  it('is used only once the header passes its own checksum; a wrong one fails the payload', () => {
    const buf = framed();
    const crcs = payloadChecksums(buf, 0);
    const first = readRecord(buf, 0);
    if (first.kind !== 'ok') throw new Error(first.kind);
    const second = first.end;
    // A checksum that does not match the payload: the payload is refused.
    expect(readRecord(buf, second, (crcs[1]! ^ 1) >>> 0)).toMatchObject({ kind: 'bad-payload' });
    // A damaged length: the header fails first, whatever checksum is offered.
    const bent = buf.slice();
    bent[second] = bent[second]! ^ 0x40;
    // The chain stops there, and nothing after it is checksummed.
    expect(payloadChecksums(bent, 0)).toEqual(crcs.subarray(0, 1));
    expect(readRecord(bent, second, crcs[1])).toMatchObject({ kind: 'bad-header' });
  });
});

describe('field layout', () => {
  // Read back with a DataView, independently of the byte helpers that write
  // them: the layout files already on disk have (little-endian, u64 as low
  // word then high word).
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

  it('record headers: length, type, payload checksum, header checksum', () => {
    const buf = framed();
    const v = view(buf);
    let at = 0;
    for (const n of SIZES) {
      const len = v.getUint32(at, true);
      expect(buf[at + 4]).toBe(1); // RecordType.Entry
      expect(v.getUint32(at + 8, true)).toBe(crc32c(buf.subarray(at + RECORD_HEADER_SIZE, at + RECORD_HEADER_SIZE + len)));
      expect(v.getUint32(at + 12, true)).toBe(crc32c(buf.subarray(at, at + 12)));
      expect(len).toBeGreaterThanOrEqual(n);
      at += RECORD_HEADER_SIZE + len;
    }
    expect(at).toBe(buf.length);
  });

  it('segment headers and commit payloads, u64 fields past 2^32 included', () => {
    const big = 2 ** 40 + 3;
    const h = encodeSegmentHeader(5, big);
    const hv = view(h);
    expect(hv.getUint32(8, true)).toBe(WAL_VERSION);
    expect([hv.getUint32(16, true), hv.getUint32(20, true)]).toEqual([5, 0]);
    expect([hv.getUint32(24, true), hv.getUint32(28, true)]).toEqual([3, 256]);
    expect(hv.getUint32(32, true)).toBe(crc32c(h.subarray(0, 32)));
    expect(decodeSegmentHeader(h)).toEqual({ ok: true, seq: 5, firstIndex: big });

    const c = commitPayload({ batchSeq: big, records: 7, bytes: 4096 });
    const cv = view(c);
    expect([cv.getUint32(0, true), cv.getUint32(4, true)]).toEqual([3, 256]);
    expect(cv.getUint32(8, true)).toBe(7);
    expect([cv.getUint32(12, true), cv.getUint32(16, true)]).toEqual([4096, 0]);
    expect(cv.getUint32(20, true)).toBe(COMMIT_CHECK);
    expect(decodeCommitPayload(c)).toEqual({ batchSeq: big, records: 7, bytes: 4096 });
    // A u64 past 2^53 is refused, not rounded.
    cv.setUint32(4, 2 ** 21, true);
    expect(decodeCommitPayload(c)).toBeUndefined();
  });
});

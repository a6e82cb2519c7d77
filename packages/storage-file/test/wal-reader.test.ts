// scanSegment hands each complete batch over as soon as its Commit is read,
// in order; a torn final batch is reported, not handed over; corruption is
// still refused after earlier batches were handed over (open() then
// discards everything it read).
import { newEntry } from '@raftbus/core';
import { describe, expect, it } from 'vitest';
import { ErrCorruptWAL } from '../src/errors.js';
import { RecordType, SEGMENT_HEADER_SIZE, commitPayload, encodeRecords, encodeSegmentHeader, frameRecords } from '../src/wal-format.js';
import { scanSegment, type Batch } from '../src/wal-reader.js';

/** A batch of entries first…first+n-1 with its Commit record. */
function batch(seq: number, first: number, n: number): Uint8Array {
  const entries = Array.from({ length: n }, (_, i) => newEntry({ index: first + i, term: 1, data: Uint8Array.of(first + i) }));
  const f = frameRecords([], entries, []);
  encodeRecords([{ type: RecordType.Commit, payload: commitPayload({ batchSeq: seq, records: n, bytes: f.body }) }], f.bytes, f.body);
  return f.bytes;
}

const b1 = batch(1, 1, 3);
const b2 = batch(2, 4, 2);
// A third batch whose Commit never reached the disk.
const b3 = batch(3, 6, 2);
const torn = b3.subarray(0, b3.length - 10);
const segment = Buffer.concat([encodeSegmentHeader(1, 1), b1, b2, torn]);
const expect1 = { seq: 1, firstIndex: 1 };

describe('scanSegment', () => {
  it('hands over each complete batch in order, and reports the torn one of the last segment', () => {
    const seen: Batch[] = [];
    const scan = scanSegment('seg', segment, expect1, true, undefined, (b) => seen.push(b));
    expect(seen.map((b) => [b.seq, b.records.length, b.offset])).toEqual([
      [1, 3, SEGMENT_HEADER_SIZE],
      [2, 2, SEGMENT_HEADER_SIZE + b1.length],
    ]);
    expect(seen.flatMap((b) => b.records.map((r) => r.payload.at(-1)))).toEqual([1, 2, 3, 4, 5]);
    expect(scan.torn).toMatchObject({ offset: SEGMENT_HEADER_SIZE + b1.length + b2.length, bytes: torn.length });
  });

  it('refuses a cut segment that is not the last, after handing over what came before the cut', () => {
    const seen: number[] = [];
    expect(() => scanSegment('seg', segment, expect1, false, undefined, (b) => seen.push(b.seq))).toThrow(ErrCorruptWAL);
    expect(seen).toEqual([1, 2]);
  });

  // The final batch starts a few bytes before a sector boundary, where the
  // last durable batch ended; that sector never reached the disk (zeros
  // past the old end of the file) while the next ones did. Its share of the
  // header is too short for a zeroed sector to count as evidence. Up to 4
  // bytes, only the length's low bytes are lost: they are rebuilt from the
  // checksums. Returns the segment with the final batch's first k bytes
  // zeroed, the same segment undamaged, and where the final batch starts.
  function finalBatchTornAt(k: number, final: Uint8Array) {
    const head = encodeSegmentHeader(1, 1);
    // Batch 1's first entry sized so that the final batch starts k bytes before the boundary at 1024.
    const firstBatch = (size: number): Uint8Array => {
      const entries = [newEntry({ index: 1, term: 1, data: new Uint8Array(size).fill(9) }), ...[2, 3].map((i) => newEntry({ index: i, term: 1, data: Uint8Array.of(i) }))];
      const f = frameRecords([], entries, []);
      encodeRecords([{ type: RecordType.Commit, payload: commitPayload({ batchSeq: 1, records: 3, bytes: f.body }) }], f.bytes, f.body);
      return f.bytes;
    };
    let size = 0;
    while (head.length + firstBatch(size).length + b2.length < 1024 - k) size++;
    const b1Padded = firstBatch(size);
    const buf = new Uint8Array(Buffer.concat([head, b1Padded, b2, final]));
    const at = head.length + b1Padded.length + b2.length;
    expect(Math.ceil(at / 512) * 512 - at, 'bytes of the final batch before the boundary').toBe(k);
    const whole = buf.slice();
    buf.fill(0, at, at + k);
    return { buf, whole, at };
  }

  it.each([
    [1, /rebuilt from its checksums/],
    [2, /rebuilt from its checksums/],
    [3, /rebuilt from its checksums/],
    [4, /rebuilt from its checksums/],
    [5, /zeroed header/],
    [11, /zeroed header/],
    [15, /zeroed header/],
  ])('takes a final batch whose header reads as zeros up to a sector boundary %i bytes on for a torn write', (k, reason) => {
    const final = batch(3, 6, 2);
    const { buf, whole, at } = finalBatchTornAt(k, final);
    const seen: number[] = [];
    const scan = scanSegment('seg', buf, expect1, true, undefined, (b) => seen.push(b.seq));
    expect(seen).toEqual([1, 2]);
    expect(scan.torn).toMatchObject({ offset: at, bytes: final.length });
    expect(scan.torn!.reason).toMatch(reason);

    // The same header damaged otherwise (bit rot, not zeros) is still refused.
    const rotten = whole.slice();
    rotten[at + 2] ^= 0x40;
    expect(() => scanSegment('seg', rotten, expect1, true, undefined, () => {})).toThrow(/no zeroed sector to show a torn write/);
  });

  // The zeros alone prove nothing when they are this few: the same zeros
  // with one more damaged byte elsewhere in the header, or in the first
  // record's payload, are bit rot as far as anyone can tell.
  it.each([1, 2, 3, 4])('refuses a header zeroed %i bytes up to a sector boundary when other bytes of the record are damaged too', (k) => {
    const final = batch(3, 6, 2);
    const { buf, at } = finalBatchTornAt(k, final);
    for (const damaged of [at + 9, at + 14, at + 16]) {
      const rotten = buf.slice();
      rotten[damaged] ^= 0x01;
      expect(() => scanSegment('seg', rotten, expect1, true, undefined, () => {}), `byte ${damaged - at} of the record`).toThrow(/no zeroed sector to show a torn write/);
    }
  });

  it('refuses a batch out of sequence before handing it over', () => {
    const seen: number[] = [];
    expect(() => scanSegment('seg', segment, expect1, true, 2, (b) => seen.push(b.seq))).toThrow(/batch 1 out of order: expected batch 2/);
    expect(seen).toEqual([]);
  });
});

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

  it('refuses a batch out of sequence before handing it over', () => {
    const seen: number[] = [];
    expect(() => scanSegment('seg', segment, expect1, true, 2, (b) => seen.push(b.seq))).toThrow(/batch 1 out of order: expected batch 2/);
    expect(seen).toEqual([]);
  });
});

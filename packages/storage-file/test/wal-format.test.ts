// The WAL scan's checksums taken in one pass: each must be what readRecord
// would compute for the record it is handed to, and a header that fails
// its own checksum must never have its payload vouched for by one.
import { newEntry } from '@raftbus/core';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../src/crc32c.js';
import { frameRecords, payloadChecksums, readRecord } from '../src/wal-format.js';

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

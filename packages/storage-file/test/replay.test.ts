// Replay with a decode floor must describe the same log as replay without
// one, only holding fewer entries decoded: the same last index, hard state
// and newest snapshot, the same corruption refused with the same words,
// and, of the log, exactly its entries from decodeFrom on. Checked over
// seeded random WAL histories: appends, leaders overwriting a suffix (also
// from below decodeFrom), snapshot installs, and now and then a gap.
import { encodeEntry, encodeHardState, newEntry, type Entry } from '@raftbus/core';
import { SeededRandom } from '@raftbus/testkit';
import { describe, expect, it } from 'vitest';
import { Replay } from '../src/replay.js';
import { RecordType, snapshotMetaPayload } from '../src/wal-format.js';
import type { Batch, WalRecord } from '../src/wal-reader.js';

function entryRecord(index: number, term: number): WalRecord {
  return { type: RecordType.Entry, payload: encodeEntry(newEntry({ index, term, data: Uint8Array.of(index & 0xff, term) })), offset: index };
}

/** A random history of batches; `last` tracks the writer's log as raft would leave it. */
function history(rng: SeededRandom): Batch[] {
  const batches: Batch[] = [];
  let last = 0;
  let term = 1;
  let floor = 0;
  for (let seq = 1; seq <= 40; seq++) {
    const records: WalRecord[] = [];
    const roll = rng.int(100);
    if (roll < 6 && last > floor + 1) {
      // A snapshot from the leader: the log is dropped up to it.
      floor = floor + 1 + rng.int(last - floor);
      last = floor;
      records.push({
        type: RecordType.SnapshotInstall,
        payload: snapshotMetaPayload({ index: floor, term, confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } }),
        offset: 0,
      });
    } else {
      // Appends, starting at or below the next index (an overwrite), or, rarely, past it (a gap).
      let from = last + 1;
      if (roll < 25 && last > floor + 1) {
        from = floor + 1 + rng.int(last - floor);
        term++;
      } else if (roll < 27) {
        from = last + 2;
      }
      const n = 1 + rng.int(8);
      for (let i = 0; i < n; i++) records.push(entryRecord(from + i, term));
      last = from + n - 1;
    }
    if (rng.int(3) === 0) records.push({ type: RecordType.HardState, payload: encodeHardState({ term, vote: 1, commit: Math.max(0, last - 2) }), offset: 0 });
    batches.push({ seq, records, offset: seq });
  }
  return batches;
}

interface Outcome {
  error?: string;
  maxIndexes: number[];
  lastIndex: number;
  ents: Entry[];
  base: number;
  skipped: boolean;
  rest: unknown;
}

function run(batches: Batch[], decodeFrom: number): Outcome {
  const r = new Replay(decodeFrom);
  const maxIndexes: number[] = [];
  let error: string | undefined;
  try {
    for (const b of batches) maxIndexes.push(r.apply('wal', b));
  } catch (e) {
    error = (e as Error).message;
  }
  return {
    ...(error !== undefined && { error }),
    maxIndexes,
    lastIndex: r.lastIndex(),
    ents: r.ents,
    base: r.base,
    skipped: r.skipped(),
    rest: { hardState: r.hardState, latest: r.latest, batches: r.batches },
  };
}

describe('Replay with a decode floor', () => {
  it('describes the same log as a full replay, holding decoded exactly its entries from decodeFrom on', () => {
    let skippedSome = 0;
    let refused = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const batches = history(new SeededRandom(seed));
      const full = run(batches, 0);
      expect(full.skipped).toBe(false);
      if (full.error !== undefined) refused++;
      for (const decodeFrom of [1, 2, 5, 17, 40, 90, 1000]) {
        const part = run(batches, decodeFrom);
        const where = `seed ${seed}, decodeFrom ${decodeFrom}`;
        expect(part.error, where).toBe(full.error);
        expect(part.maxIndexes, where).toEqual(full.maxIndexes);
        expect(part.lastIndex, where).toBe(full.lastIndex);
        expect(part.rest, where).toEqual(full.rest);
        const want = full.ents.filter((e) => e.index >= decodeFrom);
        expect(part.ents, where).toEqual(want);
        if (want.length > 0) expect(part.base, where).toBe(want[0]!.index);
        // Entries of the log below decodeFrom were left undecoded, and said so.
        if (full.ents.some((e) => e.index < decodeFrom)) expect(part.skipped, where).toBe(true);
        if (part.skipped) skippedSome++;
      }
    }
    // The histories reach both paths: some refused, many skipping.
    expect(refused).toBeGreaterThan(0);
    expect(skippedSome).toBeGreaterThan(300);
  });
});

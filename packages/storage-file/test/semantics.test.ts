// The read side must answer exactly as the core's MemoryStorage (etcd's)
// does after the same operations: one table of operations is applied to
// both, and every read raft can make is compared after each step.
import {
  ErrMalformedMessage,
  MemoryStorage,
  discardLogger,
  getLogger,
  newConfState,
  newEntry,
  setLogger,
  type ConfState,
  type PersistBatch,
  type Snapshot,
  type Storage,
} from '@raftbus/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrCompactBeyondSnapshot, type FileStorage } from '../src/index.js';
import { ents, hs, opened, outcome, recovered, rejection, removeTempDirs, tempDir } from './helpers.js';

type Op =
  | { save: PersistBatch }
  | { createSnapshot: [number, ConfState, Uint8Array] }
  | { compact: number };

const bytes = (s: string) => new TextEncoder().encode(s);
const snap = (index: number, term: number, cs: ConfState, data: string): Snapshot => ({
  data: bytes(data),
  metadata: { index, term, confState: cs },
});
const cs1 = newConfState({ voters: [1, 2, 3] });
const cs2 = newConfState({ voters: [1, 2, 3], learners: [4] });
const cs3 = newConfState({ voters: [2, 3], votersOutgoing: [1, 2, 3], autoLeave: true });

// Each step: the operation and, when it must fail, the error both stores give.
const table: { name: string; op: Op; err?: string }[] = [
  { name: 'append 1..5', op: { save: { entries: ents(1, [1, 1, 1, 2, 2]), hardState: hs(2, 1, 3) } } },
  { name: 'overwrite the suffix from 4', op: { save: { entries: ents(4, [3, 3, 3]), hardState: hs(3, 2, 3) } } },
  { name: 'append 7..9', op: { save: { entries: ents(7, [3, 3, 3]) } } },
  { name: 'a gap is refused', op: { save: { entries: ents(12, [3, 3]) } }, err: 'RaftPanic' },
  { name: 'hard state alone', op: { save: { entries: [], hardState: hs(3, 2, 7) } } },
  { name: 'createSnapshot(5)', op: { createSnapshot: [5, cs1, bytes('state at 5')] } },
  { name: 'createSnapshot(4) is out of date', op: { createSnapshot: [4, cs1, bytes('old')] }, err: 'ErrSnapOutOfDate' },
  { name: 'createSnapshot past the last index', op: { createSnapshot: [30, cs1, bytes('future')] }, err: 'RaftPanic' },
  { name: 'compact(3)', op: { compact: 3 } },
  { name: 'compact(3) again', op: { compact: 3 }, err: 'ErrCompacted' },
  { name: 'compact(2) below', op: { compact: 2 }, err: 'ErrCompacted' },
  {
    name: 'append reaching into the compacted part',
    op: { save: { entries: ents(2, [1, 1, 3, 3, 3, 3, 3, 3, 4], 'y'), hardState: hs(4, 1, 8) } },
  },
  { name: 'entries that are all compacted change nothing', op: { save: { entries: ents(1, [1, 1, 1]) } } },
  { name: 'createSnapshot(8)', op: { createSnapshot: [8, cs2, bytes('state at 8')] } },
  { name: 'compact(8)', op: { compact: 8 } },
  {
    name: 'a snapshot from the leader with entries after it',
    op: { save: { snapshot: snap(20, 5, cs2, 'leader at 20'), entries: ents(21, [5, 5]), hardState: hs(5, 0, 20) } },
  },
  { name: 'an older snapshot from the leader', op: { save: { snapshot: snap(15, 5, cs1, 'old') , entries: [] } }, err: 'ErrSnapOutOfDate' },
  { name: 'append 23..25', op: { save: { entries: ents(23, [5, 6, 6]), hardState: hs(6, 3, 24) } } },
  { name: 'createSnapshot(24) with a joint config', op: { createSnapshot: [24, cs3, new Uint8Array(3000).fill(7)] } },
  { name: 'compact(22)', op: { compact: 22 } },
  { name: 'overwrite 25', op: { save: { entries: [newEntry({ index: 25, term: 7 })], hardState: hs(7, 3, 24) } } },
  { name: 'a snapshot from the leader past the log', op: { save: { snapshot: snap(40, 8, cs1, 'leader at 40'), entries: [] } } },
  { name: 'append after it', op: { save: { entries: ents(41, [8]) } } },
];

async function applyFile(s: FileStorage, op: Op): Promise<unknown> {
  if ('save' in op) return s.save(op.save);
  if ('createSnapshot' in op) return s.createSnapshot(...op.createSnapshot);
  return s.compact(op.compact);
}

function applyMem(m: MemoryStorage, op: Op): void {
  if ('save' in op) {
    if (op.save.snapshot) m.applySnapshot(op.save.snapshot);
    m.append(op.save.entries);
    if (op.save.hardState) m.setHardState(op.save.hardState);
  } else if ('createSnapshot' in op) {
    m.createSnapshot(...op.createSnapshot);
  } else {
    m.compact(op.compact);
  }
}

/** Every read raft can make, over a window around the log, outcomes and errors alike. */
function reads(s: Storage): unknown[] {
  const out: unknown[] = [];
  const first = s.firstIndex();
  const last = s.lastIndex();
  out.push({ first, last }, outcome(() => s.initialState()), outcome(() => s.snapshot()));
  for (let i = Math.max(0, first - 3); i <= last + 2; i++) out.push({ term: i, ...(outcome(() => s.term(i)) as object) });
  for (let lo = Math.max(0, first - 2); lo <= last + 1; lo++) {
    // hi stops at last+1: past it MemoryStorage panics where the Storage
    // contract (and FileStorage) says ErrUnavailable; tested below.
    for (let hi = lo; hi <= last + 1; hi++) {
      for (const max of [0, 1, 40, 100, Infinity]) {
        out.push({ lo, hi, max, ...(outcome(() => s.entries(lo, hi, max)) as object) });
      }
    }
  }
  return out;
}

const saved = getLogger();
beforeAll(() => setLogger(discardLogger));
afterAll(() => setLogger(saved));
afterEach(removeTempDirs);

describe('FileStorage reads as MemoryStorage', () => {
  it('after every operation of the table', async () => {
    const file = await opened(await tempDir(), { segmentBytes: 512 });
    const mem = new MemoryStorage();
    expect(reads(file)).toEqual(reads(mem));
    for (const step of table) {
      const fileErr = await rejection(applyFile(file, step.op));
      let memErr: unknown = 'none';
      try {
        applyMem(mem, step.op);
      } catch (e) {
        memErr = e;
      }
      const name = (e: unknown) => (e instanceof Error ? e.name : e);
      expect({ step: step.name, err: name(fileErr) }).toEqual({ step: step.name, err: step.err ?? 'none' });
      expect({ step: step.name, err: name(memErr) }).toEqual({ step: step.name, err: step.err ?? 'none' });
      expect(reads(file), step.name).toEqual(reads(mem));
    }
    await file.close();
  });

  it('entries() past lastIndex()+1: ErrUnavailable per the Storage contract (MemoryStorage panics)', async () => {
    const file = await opened(await tempDir());
    await file.save({ entries: ents(1, [1, 1, 1]) });
    expect(outcome(() => file.entries(2, 5, Infinity))).toEqual({ error: 'ErrUnavailable' });
    // Below the first index, ErrCompacted still comes first, as in MemoryStorage.
    expect(outcome(() => file.entries(0, 5, Infinity))).toEqual({ error: 'ErrCompacted' });
    await file.close();
  });

  it('compact() refuses to pass the latest snapshot (MemoryStorage does not check)', async () => {
    const file = await opened(await tempDir());
    await file.save({ entries: ents(1, [1, 1, 1, 1]) });
    await file.createSnapshot(2, cs1, bytes('at 2'));
    const err = await rejection(file.compact(3));
    expect(err).toBeInstanceOf(ErrCompactBeyondSnapshot);
    expect(file.firstIndex()).toBe(1);
    await file.compact(2);
    expect(file.firstIndex()).toBe(3);
    await file.close();
  });

  it.each([
    ['data that is not bytes', { data: undefined as unknown as Uint8Array }, 'raftpb: cannot encode Entry.data: not a Uint8Array'],
    ['a negative term', { term: -1 }, 'raftpb: cannot encode Entry.term: -1 is not an integer in [0, 2^53-1]'],
  ])('a save with an entry the codec refuses (%s) rejects with its error and changes nothing', async (_, fault, message) => {
    const dir = await tempDir();
    const file = await opened(dir);
    await file.save({ entries: ents(1, [1, 1]), hardState: hs(1, 1, 1) });
    const bad = { ...newEntry({ index: 4, term: 1 }), ...fault };
    const err = await rejection(file.save({ entries: [newEntry({ index: 3, term: 1 }), bad], hardState: hs(1, 1, 2) }));
    expect(err).toBeInstanceOf(ErrMalformedMessage);
    expect((err as Error).message).toBe(message);
    expect(file.lastIndex()).toBe(2);
    expect(file.initialState().hardState).toEqual(hs(1, 1, 1));
    // The storage goes on: the next save lands and survives a reopen.
    await file.save({ entries: ents(3, [1]), hardState: hs(1, 1, 3) });
    await file.close();
    expect(await recovered(dir)).toEqual({ lastIndex: 3, hardState: hs(1, 1, 3) });
  });

  it('a refused save changes nothing, not even the part before the refused one', async () => {
    const dir = await tempDir();
    const file = await opened(dir);
    await file.save({ entries: ents(1, [1, 1]), hardState: hs(1, 1, 1) });
    // The snapshot would be accepted, the entries after it leave a gap.
    const err = await rejection(file.save({ snapshot: snap(5, 1, cs1, 's'), entries: ents(7, [1]), hardState: hs(2, 0, 5) }));
    expect((err as Error).name).toBe('RaftPanic');
    expect(file.lastIndex()).toBe(2);
    expect(file.snapshot().metadata.index).toBe(0);
    expect(file.initialState().hardState).toEqual(hs(1, 1, 1));
    await file.close();
    const again = await opened(dir);
    expect(again.lastIndex()).toBe(2);
    expect(again.snapshot().metadata.index).toBe(0);
    await again.close();
  });
});

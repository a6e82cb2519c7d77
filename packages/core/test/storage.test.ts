// Ported in spirit from etcd-raft's storage_test.go, plus the copying
// guarantees our MemoryStorage makes where etcd relies on slice semantics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrCompacted, ErrSnapOutOfDate, ErrUnavailable, RaftPanic } from '../src/errors.js';
import { discardLogger, getLogger, setLogger } from '../src/logger.js';
import { newConfState, newEntry, newHardState, newSnapshot, type Entry } from '../src/raftpb/types.js';
import { MemoryStorage } from '../src/storage.js';
import { entrySize } from '../src/util/sizes.js';

function index(i: number) {
  return {
    terms: (...terms: number[]): Entry[] => terms.map((term, k) => newEntry({ term, index: i + k })),
  };
}

// A storage holding exactly ents (ents[0] is the dummy entry), as etcd's
// tests build &MemoryStorage{ents: ents}.
function storageWith(ents: Entry[]): MemoryStorage {
  const s = new MemoryStorage();
  s.ents = ents.slice();
  return s;
}

const data = new TextEncoder().encode('data');

// MemoryStorage panics through the global logger; keep the expected ones quiet.
const saved = getLogger();
beforeAll(() => setLogger(discardLogger));
afterAll(() => setLogger(saved));

describe('MemoryStorage', () => {
  it('starts with a dummy entry at index 0, term 0', () => {
    const s = new MemoryStorage();
    expect(s.ents).toEqual([newEntry()]);
    expect(s.firstIndex()).toBe(1);
    expect(s.lastIndex()).toBe(0);
    expect(s.term(0)).toBe(0);
    expect(s.snapshot()).toEqual(newSnapshot());
    expect(s.initialState()).toEqual({ hardState: newHardState(), confState: newConfState() });
    // Only the dummy entry: nothing to read.
    expect(() => s.entries(1, 1, Infinity)).toThrow(ErrUnavailable);
  });

  it.each([
    { i: 2, err: ErrCompacted, term: 0 },
    { i: 3, err: undefined, term: 3 },
    { i: 4, err: undefined, term: 4 },
    { i: 5, err: undefined, term: 5 },
    { i: 6, err: ErrUnavailable, term: 0 },
  ])('term($i)', ({ i, err, term }) => {
    const s = storageWith(index(3).terms(3, 4, 5));
    if (err) expect(() => s.term(i)).toThrow(err);
    else expect(s.term(i)).toBe(term);
  });

  const ents = index(3).terms(3, 4, 5, 6);
  const size = (...es: Entry[]) => es.reduce((n, e) => n + entrySize(e), 0);
  it.each([
    { lo: 2, hi: 6, max: Infinity, err: ErrCompacted, want: [] },
    { lo: 3, hi: 4, max: Infinity, err: ErrCompacted, want: [] },
    { lo: 4, hi: 5, max: Infinity, err: undefined, want: index(4).terms(4) },
    { lo: 4, hi: 6, max: Infinity, err: undefined, want: index(4).terms(4, 5) },
    { lo: 4, hi: 7, max: Infinity, err: undefined, want: index(4).terms(4, 5, 6) },
    // even if maxsize is zero, the first entry should be returned
    { lo: 4, hi: 7, max: 0, err: undefined, want: index(4).terms(4) },
    // limit to 2
    { lo: 4, hi: 7, max: size(ents[1]!, ents[2]!), err: undefined, want: index(4).terms(4, 5) },
    {
      lo: 4,
      hi: 7,
      max: size(ents[1]!, ents[2]!) + Math.floor(size(ents[3]!) / 2),
      err: undefined,
      want: index(4).terms(4, 5),
    },
    { lo: 4, hi: 7, max: size(ents[1]!, ents[2]!, ents[3]!) - 1, err: undefined, want: index(4).terms(4, 5) },
    // all
    { lo: 4, hi: 7, max: size(ents[1]!, ents[2]!, ents[3]!), err: undefined, want: index(4).terms(4, 5, 6) },
  ])('entries($lo, $hi, $max)', ({ lo, hi, max, err, want }) => {
    const s = storageWith(ents);
    if (err) expect(() => s.entries(lo, hi, max)).toThrow(err);
    else expect(s.entries(lo, hi, max)).toEqual(want);
  });

  it('entries panics past the last index', () => {
    const s = storageWith(index(3).terms(3, 4, 5));
    expect(() => s.entries(4, 7, Infinity)).toThrow(new RaftPanic("entries' hi(7) is out of bound lastindex(5)"));
  });

  it('entries returns a fresh array the caller may change', () => {
    const s = storageWith(index(3).terms(3, 4, 5));
    const got = s.entries(4, 6, Infinity);
    got.push(newEntry({ index: 6, term: 9 }));
    got[0] = newEntry({ index: 4, term: 9 });
    expect(s.entries(4, 6, Infinity)).toEqual(index(4).terms(4, 5));
    expect(s.term(4)).toBe(4);
  });

  it('lastIndex', () => {
    const s = storageWith(index(3).terms(3, 4, 5));
    expect(s.lastIndex()).toBe(5);
    s.append(index(6).terms(5));
    expect(s.lastIndex()).toBe(6);
  });

  it('firstIndex', () => {
    const s = storageWith(index(3).terms(3, 4, 5));
    expect(s.firstIndex()).toBe(4);
    s.compact(4);
    expect(s.firstIndex()).toBe(5);
  });

  it.each([
    { i: 2, err: ErrCompacted, windex: 3, wterm: 3, wlen: 3 },
    { i: 3, err: ErrCompacted, windex: 3, wterm: 3, wlen: 3 },
    { i: 4, err: undefined, windex: 4, wterm: 4, wlen: 2 },
    { i: 5, err: undefined, windex: 5, wterm: 5, wlen: 1 },
  ])('compact($i)', ({ i, err, windex, wterm, wlen }) => {
    const s = storageWith(index(3).terms(3, 4, 5));
    if (err) expect(() => s.compact(i)).toThrow(err);
    else s.compact(i);
    expect(s.ents[0]!.index).toBe(windex);
    expect(s.ents[0]!.term).toBe(wterm);
    expect(s.ents).toHaveLength(wlen);
  });

  it('compact panics past the last index', () => {
    const s = storageWith(index(3).terms(3, 4, 5));
    expect(() => s.compact(6)).toThrow(new RaftPanic('compact 6 is out of bound lastindex(5)'));
  });

  it('compact keeps the dummy entry free of data and leaves earlier reads intact', () => {
    const s = storageWith([newEntry({ index: 3, term: 3 }), newEntry({ index: 4, term: 4, data }), newEntry({ index: 5, term: 5 })]);
    const before = s.entries(4, 6, Infinity);
    s.compact(4);
    expect(s.ents[0]).toEqual(newEntry({ index: 4, term: 4 }));
    expect(before).toEqual([newEntry({ index: 4, term: 4, data }), newEntry({ index: 5, term: 5 })]);
    expect(() => s.entries(4, 5, Infinity)).toThrow(ErrCompacted);
    expect(s.term(4)).toBe(4);
  });

  it.each([4, 5])('createSnapshot(%i)', (i) => {
    const s = storageWith(index(3).terms(3, 4, 5));
    const cs = newConfState({ voters: [1, 2, 3] });
    const snap = s.createSnapshot(i, cs, data);
    const want = newSnapshot({ data, metadata: { index: i, term: i, confState: newConfState({ voters: [1, 2, 3] }) } });
    expect(snap).toEqual(want);
    expect(s.snapshot()).toEqual(want);
    // The ConfState is copied in, and the snapshot copied out.
    cs.voters.push(4);
    snap.metadata.confState.voters.push(5);
    snap.metadata.index = 100;
    expect(s.snapshot()).toEqual(want);
    // Creating a snapshot does not compact the log.
    expect(s.firstIndex()).toBe(4);
  });

  it('createSnapshot keeps the previous ConfState when given none, and refuses old indexes', () => {
    const s = storageWith(index(3).terms(3, 4, 5));
    s.createSnapshot(4, newConfState({ voters: [1] }), data);
    const snap = s.createSnapshot(5, undefined, data);
    expect(snap.metadata).toEqual({ index: 5, term: 5, confState: newConfState({ voters: [1] }) });
    expect(() => s.createSnapshot(5, undefined, data)).toThrow(ErrSnapOutOfDate);
    expect(() => s.createSnapshot(4, undefined, data)).toThrow(ErrSnapOutOfDate);
  });

  it('createSnapshot panics past the last index', () => {
    const s = storageWith(index(3).terms(3, 4, 5));
    expect(() => s.createSnapshot(6, undefined, data)).toThrow(new RaftPanic('snapshot 6 is out of bound lastindex(5)'));
  });

  it.each([
    { entries: index(1).terms(1, 2), want: index(3).terms(3, 4, 5) },
    { entries: index(3).terms(3, 4, 5), want: index(3).terms(3, 4, 5) },
    { entries: index(3).terms(3, 6, 6), want: index(3).terms(3, 6, 6) },
    { entries: index(3).terms(3, 4, 5, 5), want: index(3).terms(3, 4, 5, 5) },
    // Truncate incoming entries, truncate the existing entries and append.
    { entries: index(2).terms(3, 3, 5), want: index(3).terms(3, 5) },
    // Truncate the existing entries and append.
    { entries: index(4).terms(5), want: index(3).terms(3, 5) },
    // Direct append.
    { entries: index(6).terms(5), want: index(3).terms(3, 4, 5, 5) },
  ])('append %#', ({ entries, want }) => {
    const s = storageWith(index(3).terms(3, 4, 5));
    s.append(entries);
    expect(s.ents).toEqual(want);
  });

  it('append panics on a gap', () => {
    const s = storageWith(index(3).terms(3, 4, 5));
    expect(() => s.append(index(7).terms(5))).toThrow(new RaftPanic('missing log entry [last: 5, append at: 7]'));
  });

  it('append never keeps the caller array, and earlier reads survive a truncation', () => {
    const s = storageWith(index(3).terms(3, 4, 5));
    const before = s.entries(4, 6, Infinity);
    const incoming = index(4).terms(6, 6);
    s.append(incoming);
    incoming.push(newEntry({ index: 6, term: 7 }));
    incoming[0] = newEntry({ index: 4, term: 9 });
    expect(s.ents).toEqual(index(3).terms(3, 6, 6));
    expect(before).toEqual(index(4).terms(4, 5));
  });

  describe('applySnapshot', () => {
    const cs = newConfState({ voters: [1, 2, 3] });
    it('normal case', () => {
      const s = new MemoryStorage();
      const snap = newSnapshot({ data, metadata: { index: 4, term: 4, confState: cs } });
      s.applySnapshot(snap);
      expect(s.snapshot()).toEqual(snap);
      expect(s.ents).toEqual([newEntry({ index: 4, term: 4 })]);
      expect(s.firstIndex()).toBe(5);
      expect(s.lastIndex()).toBe(4);
      expect(s.term(4)).toBe(4);
      expect(s.initialState().confState).toEqual(cs);
      // Copied in: later changes by the caller do not reach the storage.
      snap.metadata.confState.voters.push(4);
      expect(s.snapshot().metadata.confState).toEqual(newConfState({ voters: [1, 2, 3] }));
    });

    it('snapshot out of date', () => {
      const s = new MemoryStorage();
      s.applySnapshot(newSnapshot({ data, metadata: { index: 4, term: 4, confState: cs } }));
      expect(() => s.applySnapshot(newSnapshot({ data, metadata: { index: 3, term: 3, confState: cs } }))).toThrow(
        ErrSnapOutOfDate,
      );
      expect(() => s.applySnapshot(newSnapshot({ data, metadata: { index: 4, term: 4, confState: cs } }))).toThrow(
        ErrSnapOutOfDate,
      );
    });

    it('bootstrap with confState', () => {
      const s = new MemoryStorage();
      s.applySnapshot(newSnapshot({ data, metadata: { confState: cs } }));
      expect(s.initialState().confState).toEqual(cs);
      // Index 0 may be applied again while nothing else was.
      s.applySnapshot(newSnapshot({ metadata: { confState: cs } }));
      expect(s.firstIndex()).toBe(1);
    });

    it('snapshot data is copied in and out', () => {
      const s = new MemoryStorage();
      const bytes = new Uint8Array([1, 2, 3]);
      s.applySnapshot(newSnapshot({ data: bytes, metadata: { index: 2, term: 1 } }));
      bytes[0] = 9;
      const out = s.snapshot();
      expect(out.data).toEqual(new Uint8Array([1, 2, 3]));
      out.data[1] = 9;
      expect(s.snapshot().data).toEqual(new Uint8Array([1, 2, 3]));
    });
  });

  it('setHardState / initialState copy the HardState', () => {
    const s = new MemoryStorage();
    const hs = newHardState({ term: 2, vote: 1, commit: 3 });
    s.setHardState(hs);
    hs.commit = 9;
    const got = s.initialState();
    expect(got.hardState).toEqual({ term: 2, vote: 1, commit: 3 });
    got.hardState.term = 7;
    got.confState.voters.push(1);
    expect(s.initialState()).toEqual({ hardState: { term: 2, vote: 1, commit: 3 }, confState: newConfState() });
  });

  it('counts Storage calls like etcd callStats', () => {
    const s = storageWith(index(3).terms(3, 4, 5));
    s.initialState();
    s.firstIndex();
    s.lastIndex();
    s.lastIndex();
    s.term(4);
    s.entries(4, 5, Infinity);
    s.snapshot();
    // Mutators and internal bounds checks do not count.
    s.append(index(6).terms(6));
    s.compact(4);
    s.createSnapshot(5, undefined, data);
    expect(s.callStats).toEqual({ initialState: 1, firstIndex: 1, lastIndex: 2, entries: 1, term: 1, snapshot: 1 });
  });
});

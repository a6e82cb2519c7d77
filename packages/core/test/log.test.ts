// Ported in spirit from etcd-raft's log_test.go and types_test.go.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noLimit } from '../src/config.js';
import { ErrCompacted, ErrSnapshotTemporarilyUnavailable, ErrUnavailable, RaftPanic } from '../src/errors.js';
import { newLog, newLogWithSize, RaftLog } from '../src/log.js';
import { discardLogger, getLogger, setLogger, type Logger } from '../src/logger.js';
import { EntryType, newEntry, newSnapshot, type Entry, type Snapshot } from '../src/raftpb/types.js';
import { MemoryStorage } from '../src/storage.js';
import { LogSlice, pbEntryID, type EntryID } from '../src/types.js';
import { entrySize, entsSize } from '../src/util/sizes.js';

// Entry generators, as etcd's `index(i).terms(...)` / `index(i).termRange(from, to)`.
function index(i: number) {
  return {
    /** Entries at [i, i+len(terms)) with the given terms. */
    terms: (...terms: number[]): Entry[] => terms.map((term, k) => newEntry({ term, index: i + k })),
    /** to-from entries from index i, with consecutive terms in [from, to). */
    termRange: (from: number, to: number): Entry[] =>
      Array.from({ length: to - from }, (_, k) => newEntry({ term: from + k, index: i + k, type: EntryType.EntryNormal })),
  };
}

function snap(index: number, term: number): Snapshot {
  return newSnapshot({ metadata: { index, term } });
}

function id(term: number, index: number): EntryID {
  return { term, index };
}

function recordingLogger(): Logger & { infos: string[] } {
  const infos: string[] = [];
  return { ...discardLogger, infos, info: (m: string) => void infos.push(m) };
}

const logger = discardLogger;

// MemoryStorage panics through the global logger; keep the expected ones quiet.
const saved = getLogger();
beforeAll(() => setLogger(discardLogger));
afterAll(() => setLogger(saved));

describe('EntryID and LogSlice (types.ts)', () => {
  it('pbEntryID', () => {
    expect(pbEntryID(newEntry())).toEqual(id(0, 0));
    expect(pbEntryID(newEntry({ term: 1, index: 2, data: new Uint8Array([1]) }))).toEqual(id(1, 2));
    expect(pbEntryID(newEntry({ term: 10, index: 123 }))).toEqual(id(10, 123));
  });

  const e = (index: number, term: number) => newEntry({ term, index });
  const at = (index: number, term: number) => id(term, index);
  it.each([
    // Empty "dummy" slice, starting at (0, 0) origin of the log.
    { term: 0, prev: at(0, 0), entries: [], last: at(0, 0) },
    // Empty slice with a given prev ID. Valid only if term >= prev.term.
    { term: 0, prev: at(123, 10), entries: [], err: 'leader term 0: entry {term:10 index:123} has a newer term' },
    { term: 9, prev: at(123, 10), entries: [], err: 'leader term 9: entry {term:10 index:123} has a newer term' },
    { term: 10, prev: at(123, 10), entries: [], last: at(123, 10) },
    { term: 11, prev: at(123, 10), entries: [], last: at(123, 10) },
    // A single entry.
    { term: 0, prev: at(0, 0), entries: [e(1, 1)], err: 'leader term 0: entry {term:1 index:1} has a newer term' },
    { term: 1, prev: at(0, 0), entries: [e(1, 1)], last: at(1, 1) },
    { term: 2, prev: at(0, 0), entries: [e(1, 1)], last: at(1, 1) },
    // Multiple entries.
    {
      term: 2,
      prev: at(0, 0),
      entries: [e(2, 1), e(3, 1), e(4, 2)],
      err: 'leader term 2: entries {term:0 index:0} and {term:1 index:2} not consistent',
    },
    { term: 1, prev: at(1, 1), entries: [e(2, 1), e(3, 1), e(4, 2)], err: 'leader term 1: entry {term:2 index:4} has a newer term' },
    { term: 2, prev: at(1, 1), entries: [e(2, 1), e(3, 1), e(4, 2)], last: at(4, 2) },
    // First entry inconsistent with prev.
    { term: 10, prev: at(123, 5), entries: [e(111, 5)], err: 'leader term 10: entries {term:5 index:123} and {term:5 index:111} not consistent' },
    { term: 10, prev: at(123, 5), entries: [e(124, 4)], err: 'leader term 10: entries {term:5 index:123} and {term:4 index:124} not consistent' },
    { term: 10, prev: at(123, 5), entries: [e(234, 6)], err: 'not consistent' },
    { term: 10, prev: at(123, 5), entries: [e(124, 6)], last: at(124, 6) },
    // Inconsistent entries.
    { term: 10, prev: at(12, 2), entries: [e(13, 2), e(12, 2)], err: 'not consistent' },
    { term: 10, prev: at(12, 2), entries: [e(13, 2), e(15, 2)], err: 'not consistent' },
    { term: 10, prev: at(12, 2), entries: [e(13, 2), e(14, 1)], err: 'not consistent' },
    { term: 10, prev: at(12, 2), entries: [e(13, 2), e(14, 3)], last: at(14, 3) },
  ])('LogSlice %#', ({ term, prev, entries, last, err }) => {
    const s = new LogSlice(term, prev, entries);
    if (err !== undefined) {
      expect(() => s.valid()).toThrow(err);
      return;
    }
    expect(() => s.valid()).not.toThrow();
    expect(s.lastEntryID()).toEqual(last);
    expect(s.lastIndex()).toBe(last!.index);
  });
});

describe('RaftLog', () => {
  it.each([
    // no conflict, empty ent
    { ents: [], want: 0 },
    // no conflict
    { ents: index(1).terms(1, 2, 3), want: 0 },
    { ents: index(2).terms(2, 3), want: 0 },
    { ents: index(3).terms(3), want: 0 },
    // no conflict, but has new entries
    { ents: index(1).terms(1, 2, 3, 4, 4), want: 4 },
    { ents: index(2).terms(2, 3, 4, 5), want: 4 },
    { ents: index(3).terms(3, 4, 4), want: 4 },
    { ents: index(4).terms(4, 4), want: 4 },
    // conflicts with existing entries
    { ents: index(1).terms(4, 4), want: 1 },
    { ents: index(2).terms(1, 4, 4), want: 2 },
    { ents: index(3).terms(1, 2, 4, 4), want: 3 },
  ])('findConflict %#', ({ ents, want }) => {
    const l = newLog(new MemoryStorage(), logger);
    l.append(index(1).terms(1, 2, 3));
    expect(l.findConflict(ents)).toBe(want);
  });

  it('findConflict logs a conflict with an existing entry, not a new one', () => {
    const log = recordingLogger();
    const l = newLog(new MemoryStorage(), log);
    l.append(index(1).terms(1, 2, 3));
    expect(l.findConflict(index(2).terms(2, 4))).toBe(3);
    expect(l.findConflict(index(3).terms(3, 4))).toBe(4);
    expect(log.infos).toEqual(['found conflict at index 3 [existing term: 3, conflicting term: 4]']);
  });

  it.each([
    // Log starts from index 1.
    { ents: index(0).terms(0, 2, 2, 5, 5, 5), index: 100, term: 2, want: 100 }, // ErrUnavailable
    { ents: index(0).terms(0, 2, 2, 5, 5, 5), index: 5, term: 6, want: 5 },
    { ents: index(0).terms(0, 2, 2, 5, 5, 5), index: 5, term: 5, want: 5 },
    { ents: index(0).terms(0, 2, 2, 5, 5, 5), index: 5, term: 4, want: 2 },
    { ents: index(0).terms(0, 2, 2, 5, 5, 5), index: 5, term: 2, want: 2 },
    { ents: index(0).terms(0, 2, 2, 5, 5, 5), index: 5, term: 1, want: 0 },
    { ents: index(0).terms(0, 2, 2, 5, 5, 5), index: 1, term: 2, want: 1 },
    { ents: index(0).terms(0, 2, 2, 5, 5, 5), index: 1, term: 1, want: 0 },
    { ents: index(0).terms(0, 2, 2, 5, 5, 5), index: 0, term: 0, want: 0 },
    // Log with compacted entries.
    { ents: index(10).terms(3, 3, 3, 4, 4, 4), index: 30, term: 3, want: 30 }, // ErrUnavailable
    { ents: index(10).terms(3, 3, 3, 4, 4, 4), index: 14, term: 9, want: 14 },
    { ents: index(10).terms(3, 3, 3, 4, 4, 4), index: 14, term: 4, want: 14 },
    { ents: index(10).terms(3, 3, 3, 4, 4, 4), index: 14, term: 3, want: 12 },
    { ents: index(10).terms(3, 3, 3, 4, 4, 4), index: 14, term: 2, want: 9 },
    { ents: index(10).terms(3, 3, 3, 4, 4, 4), index: 11, term: 5, want: 11 },
    { ents: index(10).terms(3, 3, 3, 4, 4, 4), index: 10, term: 5, want: 10 },
    { ents: index(10).terms(3, 3, 3, 4, 4, 4), index: 10, term: 3, want: 10 },
    { ents: index(10).terms(3, 3, 3, 4, 4, 4), index: 10, term: 2, want: 9 },
    { ents: index(10).terms(3, 3, 3, 4, 4, 4), index: 9, term: 2, want: 9 }, // ErrCompacted
    { ents: index(10).terms(3, 3, 3, 4, 4, 4), index: 4, term: 2, want: 4 }, // ErrCompacted
    { ents: index(10).terms(3, 3, 3, 4, 4, 4), index: 0, term: 0, want: 0 }, // ErrCompacted
  ])('findConflictByTerm %#', ({ ents, index: i, term, want }) => {
    const st = new MemoryStorage();
    st.applySnapshot(snap(ents[0]!.index, ents[0]!.term));
    const l = newLog(st, logger);
    l.append(ents.slice(1));
    const got = l.findConflictByTerm(i, term);
    expect(got.index).toBe(want);
    expect(got.term).toBe(l.zeroTermOnOutOfBounds(want));
  });

  it('isUpToDate', () => {
    const l = newLog(new MemoryStorage(), logger);
    l.append(index(1).terms(1, 2, 3));
    const last = l.lastIndex();
    const cases: [number, number, boolean][] = [
      // greater term, ignore lastIndex
      [last - 1, 4, true],
      [last, 4, true],
      [last + 1, 4, true],
      // smaller term, ignore lastIndex
      [last - 1, 2, false],
      [last, 2, false],
      [last + 1, 2, false],
      // equal term, equal or larger lastIndex wins
      [last - 1, 3, false],
      [last, 3, true],
      [last + 1, 3, true],
    ];
    for (const [i, term, want] of cases) expect(l.isUpToDate(id(term, i)), `${i}/${term}`).toBe(want);
  });

  it.each([
    { ents: [], windex: 2, wents: index(1).terms(1, 2), wunstable: 3 },
    { ents: index(3).terms(2), windex: 3, wents: index(1).terms(1, 2, 2), wunstable: 3 },
    // conflicts with index 1
    { ents: index(1).terms(2), windex: 1, wents: index(1).terms(2), wunstable: 1 },
    // conflicts with index 2
    { ents: index(2).terms(3, 3), windex: 3, wents: index(1).terms(1, 3, 3), wunstable: 2 },
  ])('append %#', ({ ents, windex, wents, wunstable }) => {
    const storage = new MemoryStorage();
    storage.append(index(1).terms(1, 2));
    const l = newLog(storage, logger);
    expect(l.append(ents)).toBe(windex);
    expect(l.entries(1, noLimit)).toEqual(wents);
    expect(l.unstable.offset).toBe(wunstable);
  });

  it('append panics below the commit index', () => {
    const l = newLog(new MemoryStorage(), logger);
    l.append(index(1).terms(1, 2, 3));
    l.commitTo(2);
    expect(() => l.append(index(2).terms(4))).toThrow(new RaftPanic('after(1) is out of range [committed(2)]'));
  });

  describe('maybeAppend', () => {
    // If prev matches our log: delete an existing entry that conflicts with a
    // new one and all that follow, then append the new entries. Otherwise
    // refuse.
    const lastindex = 3;
    const lastterm = 3;
    const commit = 1;
    it.each([
      // not match: term is different
      { prev: id(lastterm - 1, lastindex), committed: lastindex, ents: index(lastindex + 1).terms(4), wlasti: undefined, wcommit: commit },
      // not match: index out of bound
      { prev: id(lastterm, lastindex + 1), committed: lastindex, ents: index(lastindex + 2).terms(4), wlasti: undefined, wcommit: commit },
      // match with the last existing entry
      { prev: id(lastterm, lastindex), committed: lastindex, ents: [], wlasti: lastindex, wcommit: lastindex },
      // do not increase commit higher than lastnewi
      { prev: id(lastterm, lastindex), committed: lastindex + 1, ents: [], wlasti: lastindex, wcommit: lastindex },
      // commit up to the commit in the message
      { prev: id(lastterm, lastindex), committed: lastindex - 1, ents: [], wlasti: lastindex, wcommit: lastindex - 1 },
      // commit do not decrease
      { prev: id(lastterm, lastindex), committed: 0, ents: [], wlasti: lastindex, wcommit: commit },
      { prev: id(0, 0), committed: lastindex, ents: [], wlasti: 0, wcommit: commit },
      { prev: id(lastterm, lastindex), committed: lastindex, ents: index(lastindex + 1).terms(4), wlasti: lastindex + 1, wcommit: lastindex },
      { prev: id(lastterm, lastindex), committed: lastindex + 1, ents: index(lastindex + 1).terms(4), wlasti: lastindex + 1, wcommit: lastindex + 1 },
      // do not increase commit higher than lastnewi
      { prev: id(lastterm, lastindex), committed: lastindex + 2, ents: index(lastindex + 1).terms(4), wlasti: lastindex + 1, wcommit: lastindex + 1 },
      { prev: id(lastterm, lastindex), committed: lastindex + 2, ents: index(lastindex + 1).terms(4, 4), wlasti: lastindex + 2, wcommit: lastindex + 2 },
      // match with the entry in the middle
      { prev: id(lastterm - 1, lastindex - 1), committed: lastindex, ents: index(lastindex).terms(4), wlasti: lastindex, wcommit: lastindex },
      { prev: id(lastterm - 2, lastindex - 2), committed: lastindex, ents: index(lastindex - 1).terms(4), wlasti: lastindex - 1, wcommit: lastindex - 1 },
      { prev: id(lastterm - 2, lastindex - 2), committed: lastindex, ents: index(lastindex - 1).terms(4, 4), wlasti: lastindex, wcommit: lastindex },
    ])('%#', ({ prev, committed, ents, wlasti, wcommit }) => {
      // A high enough leader term that the slice is a valid append.
      const a = new LogSlice(100, prev, ents);
      a.valid();
      const l = newLog(new MemoryStorage(), logger);
      l.append(index(1).terms(1, 2, 3));
      l.committed = commit;
      expect(l.maybeAppend(a, committed)).toBe(wlasti);
      expect(l.committed).toBe(wcommit);
      if (wlasti !== undefined && ents.length !== 0) {
        expect(l.slice(l.lastIndex() - ents.length + 1, l.lastIndex() + 1, noLimit)).toEqual(ents);
      }
      if (wlasti === undefined) expect(l.allEntries()).toEqual(index(1).terms(1, 2, 3));
    });

    it('panics on a conflict with a committed entry', () => {
      const l = newLog(new MemoryStorage(), logger);
      l.append(index(1).terms(1, 2, 3));
      l.committed = commit;
      const a = new LogSlice(100, id(lastterm - 3, lastindex - 3), index(lastindex - 2).terms(4));
      expect(() => l.maybeAppend(a, lastindex)).toThrow(new RaftPanic('entry 1 conflict with committed entry [committed(1)]'));
    });
  });

  it('compaction side effects', () => {
    // 1000 entries; 750 in stable storage and 250 in unstable.
    const lastIndex = 1000;
    const unstableIndex = 750;
    const storage = new MemoryStorage();
    storage.append(index(1).termRange(1, unstableIndex + 1));
    const l = newLog(storage, logger);
    l.append(index(unstableIndex + 1).termRange(unstableIndex + 1, lastIndex + 1));

    expect(l.maybeCommit(l.lastEntryID())).toBe(true);
    l.appliedTo(l.committed, 0);

    const offset = 500;
    storage.compact(offset);
    expect(l.lastIndex()).toBe(lastIndex);
    for (let j = offset; j <= l.lastIndex(); j++) expect(l.term(j)).toBe(j);
    for (let j = offset; j <= l.lastIndex(); j++) expect(l.matchTerm(id(j, j))).toBe(true);

    const unstableEnts = l.nextUnstableEnts();
    expect(unstableEnts).toHaveLength(250);
    expect(unstableEnts[0]!.index).toBe(751);

    const prev = l.lastIndex();
    l.append([newEntry({ index: l.lastIndex() + 1, term: l.lastIndex() + 1 })]);
    expect(l.lastIndex()).toBe(prev + 1);
    expect(l.entries(l.lastIndex(), noLimit)).toHaveLength(1);
  });

  // A log over snapshot (3, term 1) with entries 4..6 at term 1: entry 4
  // stable, 5..6 unstable, committed to 5.
  function applyingLog(maxSize = noLimit): RaftLog {
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(3, 1));
    const ents = index(4).terms(1, 1, 1);
    storage.append(ents.slice(0, 1));
    const l = newLogWithSize(storage, logger, maxSize);
    l.append(ents);
    l.stableTo(id(1, 4));
    l.maybeCommit(id(1, 5));
    return l;
  }

  const applyingCases = [
    { applied: 3, applying: 3, allowUnstable: true, want: index(4).terms(1, 1) },
    { applied: 3, applying: 4, allowUnstable: true, want: index(5).terms(1) },
    { applied: 3, applying: 5, allowUnstable: true, want: [] },
    { applied: 4, applying: 4, allowUnstable: true, want: index(5).terms(1) },
    { applied: 4, applying: 5, allowUnstable: true, want: [] },
    { applied: 5, applying: 5, allowUnstable: true, want: [] },
    // Don't allow unstable entries.
    { applied: 3, applying: 3, allowUnstable: false, want: index(4).terms(1) },
    { applied: 3, applying: 4, allowUnstable: false, want: [] },
    { applied: 3, applying: 5, allowUnstable: false, want: [] },
    { applied: 4, applying: 4, allowUnstable: false, want: [] },
    { applied: 4, applying: 5, allowUnstable: false, want: [] },
    { applied: 5, applying: 5, allowUnstable: false, want: [] },
    // Paused.
    { applied: 3, applying: 3, allowUnstable: true, paused: true, want: [] },
    // With snapshot.
    { applied: 3, applying: 3, allowUnstable: true, snap: true, want: [] },
  ];

  it.each(applyingCases)('hasNextCommittedEnts / nextCommittedEnts %#', ({ applied, applying, allowUnstable, paused, snap: withSnap, want }) => {
    const l = applyingLog();
    l.appliedTo(applied, 0);
    l.acceptApplying(applying, 0, allowUnstable);
    l.applyingEntsPaused = paused ?? false;
    if (withSnap) l.restore(snap(4, 1));
    expect(l.hasNextCommittedEnts(allowUnstable)).toBe(want.length > 0);
    expect(l.nextCommittedEnts(allowUnstable)).toEqual(want);
  });

  const maxSize = 100;
  it.each([
    { index: 3, allowUnstable: true, size: maxSize - 1, wpaused: true },
    { index: 3, allowUnstable: true, size: maxSize, wpaused: true },
    { index: 3, allowUnstable: true, size: maxSize + 1, wpaused: true },
    { index: 4, allowUnstable: true, size: maxSize - 1, wpaused: true },
    { index: 4, allowUnstable: true, size: maxSize, wpaused: true },
    { index: 4, allowUnstable: true, size: maxSize + 1, wpaused: true },
    { index: 5, allowUnstable: true, size: maxSize - 1, wpaused: false },
    { index: 5, allowUnstable: true, size: maxSize, wpaused: true },
    { index: 5, allowUnstable: true, size: maxSize + 1, wpaused: true },
    // Don't allow unstable entries.
    { index: 3, allowUnstable: false, size: maxSize - 1, wpaused: true },
    { index: 3, allowUnstable: false, size: maxSize, wpaused: true },
    { index: 3, allowUnstable: false, size: maxSize + 1, wpaused: true },
    { index: 4, allowUnstable: false, size: maxSize - 1, wpaused: false },
    { index: 4, allowUnstable: false, size: maxSize, wpaused: true },
    { index: 4, allowUnstable: false, size: maxSize + 1, wpaused: true },
    { index: 5, allowUnstable: false, size: maxSize - 1, wpaused: false },
    { index: 5, allowUnstable: false, size: maxSize, wpaused: true },
    { index: 5, allowUnstable: false, size: maxSize + 1, wpaused: true },
  ])('acceptApplying %#', ({ index: i, allowUnstable, size, wpaused }) => {
    const l = applyingLog(maxSize);
    l.appliedTo(3, 0);
    l.acceptApplying(i, size, allowUnstable);
    expect(l.applying).toBe(i);
    expect(l.applyingEntsSize).toBe(size);
    expect(l.applyingEntsPaused).toBe(wpaused);
  });

  const overshoot = 5;
  it.each([
    // Apply some of in-progress entries (applying = 5 below).
    { index: 4, size: overshoot - 1, wsize: maxSize + 1, wpaused: true },
    { index: 4, size: overshoot, wsize: maxSize, wpaused: true },
    { index: 4, size: overshoot + 1, wsize: maxSize - 1, wpaused: false },
    // Apply all of in-progress entries.
    { index: 5, size: overshoot - 1, wsize: maxSize + 1, wpaused: true },
    { index: 5, size: overshoot, wsize: maxSize, wpaused: true },
    { index: 5, size: overshoot + 1, wsize: maxSize - 1, wpaused: false },
    // Apply all of outstanding bytes.
    { index: 4, size: maxSize + overshoot, wsize: 0, wpaused: false },
    // Apply more than outstanding bytes: bad accounting does not go negative.
    { index: 4, size: maxSize + overshoot + 1, wsize: 0, wpaused: false },
  ])('appliedTo %#', ({ index: i, size, wsize, wpaused }) => {
    const l = applyingLog(maxSize);
    l.appliedTo(3, 0);
    l.acceptApplying(5, maxSize + overshoot, false);
    l.appliedTo(i, size);
    expect(l.applied).toBe(i);
    expect(l.applying).toBe(5);
    expect(l.applyingEntsSize).toBe(wsize);
    expect(l.applyingEntsPaused).toBe(wpaused);
  });

  it('appliedTo and acceptApplying panic out of range', () => {
    const l = applyingLog();
    expect(() => l.appliedTo(6, 0)).toThrow(new RaftPanic('applied(6) is out of range [prevApplied(3), committed(5)]'));
    l.appliedTo(4, 0);
    expect(() => l.appliedTo(3, 0)).toThrow(new RaftPanic('applied(3) is out of range [prevApplied(4), committed(5)]'));
    expect(() => l.acceptApplying(6, 0, true)).toThrow(new RaftPanic('applying(6) is out of range [prevApplying(4), committed(5)]'));
  });

  it('nextCommittedEnts hands out entries within the applying size budget, pausing until applied', () => {
    const ents = Array.from({ length: 6 }, (_, k) => newEntry({ index: k + 1, term: 1, data: new Uint8Array(10) }));
    const sz = entrySize(ents[0]!);
    const storage = new MemoryStorage();
    storage.append(ents);
    // Room for two and a half entries.
    const l = newLogWithSize(storage, logger, 2 * sz + sz / 2);
    l.commitTo(6);

    const first = l.nextCommittedEnts(false);
    expect(first).toEqual(ents.slice(0, 2));
    l.acceptApplying(2, entsSize(first), false);
    // Cut short by the budget, so paused although under the limit.
    expect(l.applyingEntsSize).toBe(2 * sz);
    expect(l.applyingEntsPaused).toBe(true);
    expect(l.hasNextCommittedEnts(false)).toBe(false);
    expect(l.nextCommittedEnts(false)).toEqual([]);

    // Acknowledging one entry frees room for one more (budget left 1.5 entries).
    l.appliedTo(1, sz);
    expect(l.applyingEntsPaused).toBe(false);
    expect(l.nextCommittedEnts(false)).toEqual(ents.slice(2, 3));
    l.acceptApplying(3, sz, false);
    l.appliedTo(3, 2 * sz);
    expect(l.applyingEntsSize).toBe(0);

    // With room left over after the last appliable entry, no pause.
    const rest = l.nextCommittedEnts(false);
    expect(rest).toEqual(ents.slice(3, 5));
    l.acceptApplying(5, entsSize(rest), false);
    expect(l.applyingEntsPaused).toBe(true);
    l.appliedTo(5, entsSize(rest));
    expect(l.nextCommittedEnts(false)).toEqual(ents.slice(5));
    l.acceptApplying(6, sz, false);
    expect(l.applyingEntsPaused).toBe(false);
    expect(l.hasNextCommittedEnts(false)).toBe(false);
  });

  it('nextCommittedEnts with an oversized entry hands it out alone', () => {
    const ents = [newEntry({ index: 1, term: 1, data: new Uint8Array(100) }), newEntry({ index: 2, term: 1 })];
    const storage = new MemoryStorage();
    storage.append(ents);
    const l = newLogWithSize(storage, logger, 10);
    l.commitTo(2);
    expect(l.nextCommittedEnts(false)).toEqual(ents.slice(0, 1));
    l.acceptApplying(1, entrySize(ents[0]!), false);
    expect(l.applyingEntsPaused).toBe(true);
    expect(l.nextCommittedEnts(false)).toEqual([]);
  });

  it.each([
    { unstable: 3, want: [] },
    { unstable: 1, want: index(1).terms(1, 2) },
  ])('nextUnstableEnts %#', ({ unstable, want }) => {
    const prev = index(1).terms(1, 2);
    // Stable entries to storage, the rest to the unstable log.
    const storage = new MemoryStorage();
    storage.append(prev.slice(0, unstable - 1));
    const l = newLog(storage, logger);
    l.append(prev.slice(unstable - 1));

    expect(l.hasNextUnstableEnts()).toBe(want.length > 0);
    expect(l.hasNextOrInProgressUnstableEnts()).toBe(want.length > 0);
    const ents = l.nextUnstableEnts();
    if (ents.length > 0) l.stableTo(pbEntryID(ents[ents.length - 1]!));
    expect(ents).toEqual(want);
    expect(l.unstable.offset).toBe(3);
    expect(l.hasNextOrInProgressUnstableEnts()).toBe(false);
  });

  it('acceptUnstable marks entries and snapshot in progress', () => {
    const l = newLog(new MemoryStorage(), logger);
    l.restore(snap(5, 2));
    l.append(index(6).terms(2, 2));
    expect(l.hasNextUnstableSnapshot()).toBe(true);
    expect(l.nextUnstableSnapshot()).toEqual(snap(5, 2));
    l.acceptUnstable();
    expect(l.hasNextUnstableEnts()).toBe(false);
    expect(l.hasNextOrInProgressUnstableEnts()).toBe(true);
    expect(l.hasNextUnstableSnapshot()).toBe(false);
    expect(l.nextUnstableSnapshot()).toBeUndefined();
    expect(l.hasNextOrInProgressSnapshot()).toBe(true);
    l.append(index(8).terms(3));
    expect(l.nextUnstableEnts()).toEqual(index(8).terms(3));
    l.stableSnapTo(5);
    expect(l.hasNextOrInProgressSnapshot()).toBe(false);
  });

  it.each([
    { commit: 3, wcommit: 3 },
    { commit: 1, wcommit: 2 }, // never decrease
  ])('commitTo($commit)', ({ commit, wcommit }) => {
    const l = newLog(new MemoryStorage(), logger);
    l.append(index(1).terms(1, 2, 3));
    l.committed = 2;
    l.commitTo(commit);
    expect(l.committed).toBe(wcommit);
  });

  it('commitTo past the last index panics', () => {
    const l = newLog(new MemoryStorage(), logger);
    l.append(index(1).terms(1, 2, 3));
    expect(() => l.commitTo(4)).toThrow(
      new RaftPanic('tocommit(4) is out of range [lastIndex(3)]. Was the raft log corrupted, truncated, or lost?'),
    );
  });

  it.each([
    { stablei: 1, stablet: 1, wunstable: 2 },
    { stablei: 2, stablet: 2, wunstable: 3 },
    { stablei: 2, stablet: 1, wunstable: 1 }, // bad term
    { stablei: 3, stablet: 1, wunstable: 1 }, // bad index
  ])('stableTo %#', ({ stablei, stablet, wunstable }) => {
    const l = newLog(new MemoryStorage(), logger);
    l.append(index(1).terms(1, 2));
    l.stableTo(id(stablet, stablei));
    expect(l.unstable.offset).toBe(wunstable);
  });

  const snapi = 5;
  const snapt = 2;
  it.each([
    { stablei: snapi + 1, stablet: snapt, newEnts: [], wunstable: snapi + 1 },
    { stablei: snapi, stablet: snapt, newEnts: [], wunstable: snapi + 1 },
    { stablei: snapi - 1, stablet: snapt, newEnts: [], wunstable: snapi + 1 },

    { stablei: snapi + 1, stablet: snapt + 1, newEnts: [], wunstable: snapi + 1 },
    { stablei: snapi, stablet: snapt + 1, newEnts: [], wunstable: snapi + 1 },
    { stablei: snapi - 1, stablet: snapt + 1, newEnts: [], wunstable: snapi + 1 },

    { stablei: snapi + 1, stablet: snapt, newEnts: index(snapi + 1).terms(snapt), wunstable: snapi + 2 },
    { stablei: snapi, stablet: snapt, newEnts: index(snapi + 1).terms(snapt), wunstable: snapi + 1 },
    { stablei: snapi - 1, stablet: snapt, newEnts: index(snapi + 1).terms(snapt), wunstable: snapi + 1 },

    { stablei: snapi + 1, stablet: snapt + 1, newEnts: index(snapi + 1).terms(snapt), wunstable: snapi + 1 },
    { stablei: snapi, stablet: snapt + 1, newEnts: index(snapi + 1).terms(snapt), wunstable: snapi + 1 },
    { stablei: snapi - 1, stablet: snapt + 1, newEnts: index(snapi + 1).terms(snapt), wunstable: snapi + 1 },
  ])('stableTo with snapshot %#', ({ stablei, stablet, newEnts, wunstable }) => {
    const s = new MemoryStorage();
    s.applySnapshot(snap(snapi, snapt));
    const l = newLog(s, logger);
    l.append(newEnts);
    l.stableTo(id(stablet, stablei));
    expect(l.unstable.offset).toBe(wunstable);
  });

  it.each([
    // out of upper bound
    { lastIndex: 1000, compact: [1001], wleft: [-1], wallow: false },
    { lastIndex: 1000, compact: [300, 500, 800, 900], wleft: [700, 500, 200, 100], wallow: true },
    // out of lower bound
    { lastIndex: 1000, compact: [300, 299], wleft: [700, -1], wallow: false },
  ])('compaction %#', ({ lastIndex, compact, wleft, wallow }) => {
    const storage = new MemoryStorage();
    storage.append(index(1).termRange(1, lastIndex + 1));
    const l = newLog(storage, logger);
    expect(l.maybeCommit(id(0, lastIndex))).toBe(false); // term 0 never matches
    l.appliedTo(l.committed, 0);
    let failed = false;
    compact.forEach((c, j) => {
      try {
        storage.compact(c);
      } catch (e) {
        expect(e).toSatisfy((x) => x instanceof ErrCompacted || x instanceof RaftPanic);
        failed = true;
        return;
      }
      expect(l.allEntries()).toHaveLength(wleft[j]!);
    });
    expect(failed).toBe(!wallow);
  });

  it('restore from storage', () => {
    const i = 1000;
    const term = 1000;
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(i, term));
    const l = newLog(storage, logger);
    expect(l.allEntries()).toHaveLength(0);
    expect(l.firstIndex()).toBe(i + 1);
    expect(l.committed).toBe(i);
    expect(l.applying).toBe(i);
    expect(l.applied).toBe(i);
    expect(l.unstable.offset).toBe(i + 1);
    expect(l.term(i)).toBe(term);
  });

  it('restore() logs, commits to the snapshot and resets the unstable log', () => {
    const log = recordingLogger();
    const storage = new MemoryStorage();
    storage.append(index(1).terms(1, 1));
    const l = newLog(storage, log);
    l.append(index(3).terms(2));
    l.commitTo(2);
    l.appliedTo(2, 0);
    expect(l.toString()).toBe(
      'committed=2, applied=2, applying=2, unstable.offset=3, unstable.offsetInProgress=3, len(unstable.Entries)=1',
    );
    const s = snap(10, 3);
    l.restore(s);
    expect(log.infos).toEqual([
      'log [committed=2, applied=2, applying=2, unstable.offset=3, unstable.offsetInProgress=3, len(unstable.Entries)=1] starts to restore snapshot [index: 10, term: 3]',
    ]);
    expect(l.committed).toBe(10);
    expect(l.firstIndex()).toBe(11);
    expect(l.lastIndex()).toBe(10);
    expect(l.lastEntryID()).toEqual(id(3, 10));
    expect(l.lastTerm()).toBe(3);
    // snapshot() copies the unstable one.
    const got = l.snapshot();
    expect(got).toEqual(s);
    expect(got).not.toBe(l.unstable.snapshot);
  });

  it('snapshot() falls back to storage, passing its errors through', () => {
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(4, 2));
    const l = newLog(storage, logger);
    expect(l.snapshot()).toEqual(snap(4, 2));
    storage.snapshot = () => {
      throw new ErrSnapshotTemporarilyUnavailable();
    };
    expect(() => l.snapshot()).toThrow(ErrSnapshotTemporarilyUnavailable);
  });

  describe('mustCheckOutOfBounds', () => {
    const offset = 100;
    const num = 100;
    const first = offset + 1;
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(offset, 0));
    const l = newLog(storage, logger);
    l.append(index(offset + 1).termRange(offset + 1, offset + num + 1));
    it.each([
      { lo: first - 2, hi: first + 1, result: 'compacted' },
      { lo: first - 1, hi: first + 1, result: 'compacted' },
      { lo: first, hi: first, result: 'ok' },
      { lo: first + num / 2, hi: first + num / 2, result: 'ok' },
      { lo: first + num - 1, hi: first + num - 1, result: 'ok' },
      { lo: first + num, hi: first + num, result: 'ok' },
      { lo: first + num, hi: first + num + 1, result: 'panic' },
      { lo: first + num + 1, hi: first + num + 1, result: 'panic' },
      { lo: first + 1, hi: first, result: 'panic' },
    ])('[$lo, $hi) $result', ({ lo, hi, result }) => {
      const check = () => l.mustCheckOutOfBounds(lo, hi);
      if (result === 'ok') expect(check).not.toThrow();
      else expect(check).toThrow(result === 'compacted' ? ErrCompacted : RaftPanic);
    });
  });

  describe('term', () => {
    const offset = 100;
    const num = 100;
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(offset, 1));
    const l = newLog(storage, logger);
    l.append(index(offset + 1).termRange(1, num));
    it.each([
      { idx: offset - 1, err: ErrCompacted },
      { idx: offset, term: 1 },
      { idx: offset + num / 2, term: num / 2 },
      { idx: offset + num - 1, term: num - 1 },
      { idx: offset + num, err: ErrUnavailable },
    ])('term($idx)', ({ idx, term, err }) => {
      if (err !== undefined) {
        expect(() => l.term(idx)).toThrow(err);
        expect(l.maybeTerm(idx)).toBeUndefined();
        expect(l.zeroTermOnOutOfBounds(idx)).toBe(0);
        expect(l.matchTerm(id(0, idx))).toBe(false);
      } else {
        expect(l.term(idx)).toBe(term);
        expect(l.maybeTerm(idx)).toBe(term);
        expect(l.zeroTermOnOutOfBounds(idx)).toBe(term);
        expect(l.matchTerm(id(term!, idx))).toBe(true);
        expect(l.matchTerm(id(term! + 1, idx))).toBe(false);
      }
    });
  });

  describe('term with an unstable snapshot', () => {
    const storagesnapi = 100;
    const unstablesnapi = storagesnapi + 5;
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(storagesnapi, 1));
    const l = newLog(storage, logger);
    l.restore(snap(unstablesnapi, 1));
    it.each([
      // cannot get term from storage
      { idx: storagesnapi, err: ErrCompacted },
      // cannot get term from the gap between storage ents and unstable snapshot
      { idx: storagesnapi + 1, err: ErrCompacted },
      { idx: unstablesnapi - 1, err: ErrCompacted },
      // get term from unstable snapshot index
      { idx: unstablesnapi, term: 1 },
      // the log beyond the unstable snapshot is empty
      { idx: unstablesnapi + 1, err: ErrUnavailable },
    ])('term($idx)', ({ idx, term, err }) => {
      if (err !== undefined) expect(() => l.term(idx)).toThrow(err);
      else expect(l.term(idx)).toBe(term);
    });
  });

  it('term passes unexpected storage errors through', () => {
    const storage = new MemoryStorage();
    storage.append(index(1).terms(1, 2));
    const l = newLog(storage, logger);
    const boom = new Error('disk on fire');
    storage.term = () => {
      throw boom;
    };
    expect(() => l.term(1)).toThrow(boom);
    expect(() => l.maybeTerm(1)).toThrow(boom);
    expect(() => l.matchTerm(id(1, 1))).toThrow(boom);
  });

  describe('slice', () => {
    const offset = 100;
    const num = 100;
    const last = offset + num;
    const half = offset + num / 2;
    const halfe = newEntry({ index: half, term: half, type: EntryType.EntryNormal });
    const hs = entrySize(halfe);
    const entries = (from: number, to: number) => index(from).termRange(from, to);

    const storage = new MemoryStorage();
    storage.applySnapshot(snap(offset, 0));
    storage.append(entries(offset + 1, half));
    const l = newLog(storage, logger);
    l.append(entries(half, last));

    it.each([
      // ErrCompacted.
      { lo: offset - 1, hi: offset + 1, lim: noLimit, compacted: true },
      { lo: offset, hi: offset + 1, lim: noLimit, compacted: true },
      // panics
      { lo: half, hi: half - 1, lim: noLimit, panic: true }, // lo and hi inversion
      { lo: last, hi: last + 1, lim: noLimit, panic: true }, // hi is out of bounds

      // No limit.
      { lo: offset + 1, hi: offset + 1, lim: noLimit, w: [] },
      { lo: offset + 1, hi: half - 1, lim: noLimit, w: entries(offset + 1, half - 1) },
      { lo: offset + 1, hi: half, lim: noLimit, w: entries(offset + 1, half) },
      { lo: offset + 1, hi: half + 1, lim: noLimit, w: entries(offset + 1, half + 1) },
      { lo: offset + 1, hi: last, lim: noLimit, w: entries(offset + 1, last) },
      { lo: half - 1, hi: half, lim: noLimit, w: entries(half - 1, half) },
      { lo: half - 1, hi: half + 1, lim: noLimit, w: entries(half - 1, half + 1) },
      { lo: half - 1, hi: last, lim: noLimit, w: entries(half - 1, last) },
      { lo: half, hi: half + 1, lim: noLimit, w: entries(half, half + 1) },
      { lo: half, hi: last, lim: noLimit, w: entries(half, last) },
      { lo: last - 1, hi: last, lim: noLimit, w: entries(last - 1, last) },

      // At least one entry is always returned.
      { lo: offset + 1, hi: last, lim: 0, w: entries(offset + 1, offset + 2) },
      { lo: half - 1, hi: half + 1, lim: 0, w: entries(half - 1, half) },
      { lo: half, hi: last, lim: 0, w: entries(half, half + 1) },
      { lo: half + 1, hi: last, lim: 0, w: entries(half + 1, half + 2) },
      // Low limit.
      { lo: offset + 1, hi: last, lim: hs - 1, w: entries(offset + 1, offset + 2) },
      { lo: half - 1, hi: half + 1, lim: hs - 1, w: entries(half - 1, half) },
      { lo: half, hi: last, lim: hs - 1, w: entries(half, half + 1) },
      // Just enough for one limit.
      { lo: offset + 1, hi: last, lim: hs, w: entries(offset + 1, offset + 2) },
      { lo: half - 1, hi: half + 1, lim: hs, w: entries(half - 1, half) },
      { lo: half, hi: last, lim: hs, w: entries(half, half + 1) },
      // Not enough for two limit.
      { lo: offset + 1, hi: last, lim: hs + 1, w: entries(offset + 1, offset + 2) },
      { lo: half - 1, hi: half + 1, lim: hs + 1, w: entries(half - 1, half) },
      { lo: half, hi: last, lim: hs + 1, w: entries(half, half + 1) },
      // Enough for two limit.
      { lo: offset + 1, hi: last, lim: hs * 2, w: entries(offset + 1, offset + 3) },
      { lo: half - 2, hi: half + 1, lim: hs * 2, w: entries(half - 2, half) },
      { lo: half - 1, hi: half + 1, lim: hs * 2, w: entries(half - 1, half + 1) },
      { lo: half, hi: last, lim: hs * 2, w: entries(half, half + 2) },
      // Not enough for three.
      { lo: half - 2, hi: half + 1, lim: hs * 3 - 1, w: entries(half - 2, half) },
      // Enough for three.
      { lo: half - 1, hi: half + 2, lim: hs * 3, w: entries(half - 1, half + 2) },
    ])('[$lo, $hi) limit $lim', ({ lo, hi, lim, w, compacted, panic }) => {
      if (compacted) expect(() => l.slice(lo, hi, lim)).toThrow(ErrCompacted);
      else if (panic) expect(() => l.slice(lo, hi, lim)).toThrow(RaftPanic);
      else expect(l.slice(lo, hi, lim)).toEqual(w);
    });

    it('returns arrays the caller owns', () => {
      for (const [lo, hi] of [
        [half - 2, half + 2],
        [half, half + 2],
        [offset + 1, half],
      ] as const) {
        const got = l.slice(lo, hi, noLimit);
        got.push(newEntry({ index: 999, term: 999 }));
        got[0] = newEntry({ index: 998, term: 998 });
        expect(l.slice(lo, hi, noLimit)).toEqual(entries(lo, hi));
      }
    });

    it('entries() reads from an index to the end', () => {
      expect(l.entries(last, noLimit)).toEqual([]);
      expect(l.entries(last - 1, noLimit)).toEqual(entries(last - 1, last));
      expect(l.entries(half - 1, hs)).toEqual(entries(half - 1, half));
      expect(() => l.entries(offset, noLimit)).toThrow(ErrCompacted);
    });

    it('panics when storage lost entries it claimed to have', () => {
      const st = new MemoryStorage();
      st.append(index(1).terms(1, 1, 1));
      const lg = newLog(st, logger);
      st.entries = () => {
        throw new ErrUnavailable();
      };
      expect(() => lg.slice(1, 3, noLimit)).toThrow(new RaftPanic('entries[1:3) is unavailable from storage'));
    });
  });

  describe('scan', () => {
    const offset = 47;
    const num = 20;
    const last = offset + num;
    const half = offset + num / 2;
    const entries = (from: number, to: number) => index(from).termRange(from, to);
    const entrySz = entsSize(entries(half, half + 1));

    const storage = new MemoryStorage();
    storage.applySnapshot(snap(offset, 0));
    storage.append(entries(offset + 1, half));
    const l = newLog(storage, logger);
    l.append(entries(half, last));

    it('returns the same entries as slice(), on all inputs', () => {
      for (const pageSize of [0, 1, 10, 100, entrySz, entrySz + 1]) {
        for (let lo = offset + 1; lo < last; lo++) {
          for (let hi = lo; hi <= last; hi++) {
            const got: Entry[] = [];
            const stopped = l.scan(lo, hi, pageSize, (e) => {
              got.push(...e);
              expect(e.length === 1 || entsSize(e) <= pageSize).toBe(true);
            });
            expect(stopped).toBe(false);
            expect(got, `[${lo}, ${hi}) @ ${pageSize}`).toEqual(l.slice(lo, hi, noLimit));
          }
        }
      }
    });

    it('stops when the visitor returns true', () => {
      let iters = 0;
      expect(l.scan(offset + 1, half, 0, () => ++iters === 2)).toBe(true);
      expect(iters).toBe(2);
    });

    it('propagates what the visitor throws', () => {
      const boom = new Error('boom');
      expect(() =>
        l.scan(offset + 1, half, 0, () => {
          throw boom;
        }),
      ).toThrow(boom);
    });

    it('maxes out the page size', () => {
      // Works because the requested range length is even.
      let pages = 0;
      l.scan(offset + 1, offset + 11, entrySz * 2, (ents) => {
        pages++;
        expect(ents).toHaveLength(2);
        expect(entsSize(ents)).toBe(entrySz * 2);
      });
      expect(pages).toBe(5);
    });

    it('throws ErrCompacted for a compacted range', () => {
      expect(() => l.scan(offset, half, noLimit, () => {})).toThrow(ErrCompacted);
    });
  });

  it('newLog starts committed and applied at the last compaction', () => {
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(10, 2));
    storage.append(index(11).terms(2, 3));
    const l = newLog(storage, logger);
    expect(l.committed).toBe(10);
    expect(l.applying).toBe(10);
    expect(l.applied).toBe(10);
    expect(l.unstable.offset).toBe(13);
    expect(l.unstable.offsetInProgress).toBe(13);
    expect(l.maxApplyingEntsSize).toBe(noLimit);
    expect(l.firstIndex()).toBe(11);
    expect(l.lastIndex()).toBe(12);
    expect(l.lastEntryID()).toEqual(id(3, 12));
    expect(l.allEntries()).toEqual(index(11).terms(2, 3));
  });

  it('maybeCommit needs a matching, non-zero term above the commit index', () => {
    const l = newLog(new MemoryStorage(), logger);
    l.append(index(1).terms(1, 2, 2));
    expect(l.maybeCommit(id(1, 2))).toBe(false); // term mismatch
    expect(l.maybeCommit(id(2, 2))).toBe(true);
    expect(l.committed).toBe(2);
    expect(l.maybeCommit(id(2, 2))).toBe(false); // not above the commit index
    expect(l.maybeCommit(id(0, 0))).toBe(false);
    expect(l.maybeCommit(id(2, 3))).toBe(true);
    expect(l.committed).toBe(3);
  });
});

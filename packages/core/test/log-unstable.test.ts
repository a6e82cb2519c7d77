// Ported in spirit from etcd-raft's log_unstable_test.go.
import { describe, expect, it } from 'vitest';
import { RaftPanic } from '../src/errors.js';
import { Unstable } from '../src/log-unstable.js';
import { discardLogger, type Logger } from '../src/logger.js';
import { newEntry, newSnapshot, type Entry, type Snapshot } from '../src/raftpb/types.js';

// Entries at consecutive indexes from i with the given terms.
function index(i: number) {
  return {
    terms: (...terms: number[]): Entry[] => terms.map((term, k) => newEntry({ term, index: i + k })),
  };
}

function snap(index: number, term: number): Snapshot {
  return newSnapshot({ metadata: { index, term } });
}

// Builds an Unstable as Go's composite literals do: unset fields are zero.
function unstable(f: {
  entries?: Entry[];
  offset?: number;
  offsetInProgress?: number;
  snapshot?: Snapshot;
  snapshotInProgress?: boolean;
  logger?: Logger;
}): Unstable {
  const u = new Unstable(f.offset ?? 0, f.logger ?? discardLogger);
  u.entries = f.entries ?? [];
  u.offsetInProgress = f.offsetInProgress ?? 0;
  u.snapshot = f.snapshot;
  u.snapshotInProgress = f.snapshotInProgress ?? false;
  return u;
}

function recordingLogger(): Logger & { infos: string[] } {
  const infos: string[] = [];
  return { ...discardLogger, infos, info: (m: string) => void infos.push(m) };
}

describe('Unstable', () => {
  it('constructor starts offsetInProgress at offset', () => {
    const u = new Unstable(7, discardLogger);
    expect(u.offset).toBe(7);
    expect(u.offsetInProgress).toBe(7);
    expect(u.entries).toEqual([]);
    expect(u.snapshot).toBeUndefined();
    expect(u.snapshotInProgress).toBe(false);
  });

  it.each([
    // no snapshot
    { entries: index(5).terms(1), offset: 5, snap: undefined, want: undefined },
    { entries: [], offset: 0, snap: undefined, want: undefined },
    // has snapshot
    { entries: index(5).terms(1), offset: 5, snap: snap(4, 1), want: 5 },
    { entries: [], offset: 5, snap: snap(4, 1), want: 5 },
  ])('maybeFirstIndex %#', ({ entries, offset, snap, want }) => {
    expect(unstable({ entries, offset, snapshot: snap }).maybeFirstIndex()).toBe(want);
  });

  it.each([
    // last in entries
    { entries: index(5).terms(1), offset: 5, snap: undefined, want: 5 },
    { entries: index(5).terms(1), offset: 5, snap: snap(4, 1), want: 5 },
    // last in snapshot
    { entries: [], offset: 5, snap: snap(4, 1), want: 4 },
    // empty unstable
    { entries: [], offset: 0, snap: undefined, want: undefined },
  ])('maybeLastIndex %#', ({ entries, offset, snap, want }) => {
    expect(unstable({ entries, offset, snapshot: snap }).maybeLastIndex()).toBe(want);
  });

  it.each([
    // term from entries
    { entries: index(5).terms(1), offset: 5, snap: undefined, i: 5, want: 1 },
    { entries: index(5).terms(1), offset: 5, snap: undefined, i: 6, want: undefined },
    { entries: index(5).terms(1), offset: 5, snap: undefined, i: 4, want: undefined },
    { entries: index(5).terms(1), offset: 5, snap: snap(4, 1), i: 5, want: 1 },
    { entries: index(5).terms(1), offset: 5, snap: snap(4, 1), i: 6, want: undefined },
    // term from snapshot
    { entries: index(5).terms(1), offset: 5, snap: snap(4, 1), i: 4, want: 1 },
    { entries: index(5).terms(1), offset: 5, snap: snap(4, 1), i: 3, want: undefined },
    { entries: [], offset: 5, snap: snap(4, 1), i: 5, want: undefined },
    { entries: [], offset: 5, snap: snap(4, 1), i: 4, want: 1 },
    { entries: [], offset: 0, snap: undefined, i: 5, want: undefined },
  ])('maybeTerm %#', ({ entries, offset, snap, i, want }) => {
    expect(unstable({ entries, offset, snapshot: snap }).maybeTerm(i)).toBe(want);
  });

  it('restore replaces everything with a copy of the snapshot', () => {
    const u = unstable({
      entries: index(5).terms(1),
      offset: 5,
      offsetInProgress: 6,
      snapshot: snap(4, 1),
      snapshotInProgress: true,
    });
    const s = snap(6, 2);
    u.restore(s);
    expect(u.offset).toBe(7);
    expect(u.offsetInProgress).toBe(7);
    expect(u.entries).toHaveLength(0);
    expect(u.snapshot).toEqual(s);
    expect(u.snapshot).not.toBe(s);
    expect(u.snapshotInProgress).toBe(false);
    // The caller's snapshot is not aliased.
    s.metadata.index = 100;
    s.metadata.confState.voters.push(9);
    expect(u.snapshot!.metadata.index).toBe(6);
    expect(u.snapshot!.metadata.confState.voters).toEqual([]);
  });

  it.each([
    // nothing in progress
    { entries: index(5).terms(1, 1), offset: 5, offsetInProgress: 5, want: index(5).terms(1, 1) },
    // partially in progress
    { entries: index(5).terms(1, 1), offset: 5, offsetInProgress: 6, want: index(6).terms(1) },
    // everything in progress
    { entries: index(5).terms(1, 1), offset: 5, offsetInProgress: 7, want: [] },
  ])('nextEntries %#', ({ entries, offset, offsetInProgress, want }) => {
    const u = unstable({ entries, offset, offsetInProgress });
    const got = u.nextEntries();
    expect(got).toEqual(want);
    // A fresh array: pushing to it does not touch the unstable log.
    got.push(newEntry({ index: 99, term: 9 }));
    expect(u.entries).toHaveLength(2);
  });

  it.each([
    // snapshot not unstable
    { snapshot: undefined, inProgress: false, want: undefined },
    // snapshot not in progress
    { snapshot: snap(4, 1), inProgress: false, want: snap(4, 1) },
    // snapshot in progress
    { snapshot: snap(4, 1), inProgress: true, want: undefined },
  ])('nextSnapshot %#', ({ snapshot, inProgress, want }) => {
    const u = unstable({ snapshot, snapshotInProgress: inProgress });
    const got = u.nextSnapshot();
    expect(got).toEqual(want);
    if (got !== undefined) expect(got).not.toBe(u.snapshot);
  });

  const s41 = snap(4, 1);
  it.each([
    { entries: [], snapshot: undefined, oip: 5, sip: false, woip: 5, wsip: false }, // no entries
    { entries: index(5).terms(1), snapshot: undefined, oip: 5, sip: false, woip: 6, wsip: false },
    { entries: index(5).terms(1, 1), snapshot: undefined, oip: 5, sip: false, woip: 7, wsip: false },
    { entries: index(5).terms(1, 1), snapshot: undefined, oip: 6, sip: false, woip: 7, wsip: false },
    { entries: index(5).terms(1, 1), snapshot: undefined, oip: 7, sip: false, woip: 7, wsip: false },
    // with snapshot
    { entries: [], snapshot: s41, oip: 5, sip: false, woip: 5, wsip: true },
    { entries: index(5).terms(1), snapshot: s41, oip: 5, sip: false, woip: 6, wsip: true },
    { entries: index(5).terms(1, 1), snapshot: s41, oip: 5, sip: false, woip: 7, wsip: true },
    { entries: index(5).terms(1, 1), snapshot: s41, oip: 6, sip: false, woip: 7, wsip: true },
    { entries: index(5).terms(1, 1), snapshot: s41, oip: 7, sip: false, woip: 7, wsip: true },
    { entries: [], snapshot: s41, oip: 5, sip: true, woip: 5, wsip: true },
    { entries: index(5).terms(1), snapshot: s41, oip: 5, sip: true, woip: 6, wsip: true },
    { entries: index(5).terms(1, 1), snapshot: s41, oip: 5, sip: true, woip: 7, wsip: true },
    { entries: index(5).terms(1, 1), snapshot: s41, oip: 6, sip: true, woip: 7, wsip: true },
    { entries: index(5).terms(1, 1), snapshot: s41, oip: 7, sip: true, woip: 7, wsip: true },
  ])('acceptInProgress %#', ({ entries, snapshot, oip, sip, woip, wsip }) => {
    const u = unstable({ entries, snapshot, offsetInProgress: oip, snapshotInProgress: sip });
    u.acceptInProgress();
    expect(u.offsetInProgress).toBe(woip);
    expect(u.snapshotInProgress).toBe(wsip);
    // Accepted entries and snapshot are no longer "next".
    expect(u.nextSnapshot()).toBeUndefined();
  });

  it.each([
    { entries: [], offset: 0, oip: 0, snap: undefined, index: 5, term: 1, woffset: 0, woip: 0, wlen: 0 },
    // stable to the first entry
    { entries: index(5).terms(1), offset: 5, oip: 6, snap: undefined, index: 5, term: 1, woffset: 6, woip: 6, wlen: 0 },
    { entries: index(5).terms(1, 1), offset: 5, oip: 6, snap: undefined, index: 5, term: 1, woffset: 6, woip: 6, wlen: 1 },
    // stable to the first entry and in-progress ahead
    { entries: index(5).terms(1, 1), offset: 5, oip: 7, snap: undefined, index: 5, term: 1, woffset: 6, woip: 7, wlen: 1 },
    // stable to the first entry and term mismatch
    { entries: index(6).terms(2), offset: 6, oip: 7, snap: undefined, index: 6, term: 1, woffset: 6, woip: 7, wlen: 1 },
    // stable to old entry
    { entries: index(5).terms(1), offset: 5, oip: 6, snap: undefined, index: 4, term: 1, woffset: 5, woip: 6, wlen: 1 },
    { entries: index(5).terms(1), offset: 5, oip: 6, snap: undefined, index: 4, term: 2, woffset: 5, woip: 6, wlen: 1 },
    // with snapshot: stable to the first entry
    { entries: index(5).terms(1), offset: 5, oip: 6, snap: snap(4, 1), index: 5, term: 1, woffset: 6, woip: 6, wlen: 0 },
    { entries: index(5).terms(1, 1), offset: 5, oip: 6, snap: snap(4, 1), index: 5, term: 1, woffset: 6, woip: 6, wlen: 1 },
    // stable to the first entry and in-progress ahead
    { entries: index(5).terms(1, 1), offset: 5, oip: 7, snap: snap(4, 1), index: 5, term: 1, woffset: 6, woip: 7, wlen: 1 },
    // stable to the first entry and term mismatch
    { entries: index(6).terms(2), offset: 6, oip: 7, snap: snap(5, 1), index: 6, term: 1, woffset: 6, woip: 7, wlen: 1 },
    // stable to snapshot
    { entries: index(5).terms(1), offset: 5, oip: 6, snap: snap(4, 1), index: 4, term: 1, woffset: 5, woip: 6, wlen: 1 },
    // stable to old entry
    { entries: index(5).terms(2), offset: 5, oip: 6, snap: snap(4, 2), index: 4, term: 1, woffset: 5, woip: 6, wlen: 1 },
  ])('stableTo %#', ({ entries, offset, oip, snap, index, term, woffset, woip, wlen }) => {
    const u = unstable({ entries, offset, offsetInProgress: oip, snapshot: snap });
    u.stableTo({ term, index });
    expect(u.offset).toBe(woffset);
    expect(u.offsetInProgress).toBe(woip);
    expect(u.entries).toHaveLength(wlen);
  });

  it('stableTo logs why it ignores a request, in etcd words', () => {
    const log = recordingLogger();
    const u = unstable({ entries: index(6).terms(2), offset: 6, offsetInProgress: 7, snapshot: snap(5, 1), logger: log });
    u.stableTo({ term: 1, index: 9 });
    u.stableTo({ term: 1, index: 5 });
    u.stableTo({ term: 1, index: 6 });
    expect(log.infos).toEqual([
      'entry at index 9 missing from unstable log; ignoring',
      'entry at index 5 matched unstable snapshot; ignoring',
      'entry at (index,term)=(6,1) mismatched with entry at (6,2) in unstable log; ignoring',
    ]);
  });

  it('stableSnapTo clears only the matching snapshot', () => {
    const u = unstable({ snapshot: snap(4, 1), snapshotInProgress: true, offset: 5, offsetInProgress: 5 });
    u.stableSnapTo(3);
    expect(u.snapshot).toEqual(snap(4, 1));
    expect(u.snapshotInProgress).toBe(true);
    u.stableSnapTo(4);
    expect(u.snapshot).toBeUndefined();
    expect(u.snapshotInProgress).toBe(false);
  });

  it.each([
    // append to the end
    { entries: index(5).terms(1), offset: 5, oip: 5, app: index(6).terms(1, 1), woffset: 5, woip: 5, went: index(5).terms(1, 1, 1) },
    { entries: index(5).terms(1), offset: 5, oip: 6, app: index(6).terms(1, 1), woffset: 5, woip: 6, went: index(5).terms(1, 1, 1) },
    // replace the unstable entries
    { entries: index(5).terms(1), offset: 5, oip: 5, app: index(5).terms(2, 2), woffset: 5, woip: 5, went: index(5).terms(2, 2) },
    { entries: index(5).terms(1), offset: 5, oip: 5, app: index(4).terms(2, 2, 2), woffset: 4, woip: 4, went: index(4).terms(2, 2, 2) },
    { entries: index(5).terms(1), offset: 5, oip: 6, app: index(5).terms(2, 2), woffset: 5, woip: 5, went: index(5).terms(2, 2) },
    // truncate the existing entries and append
    { entries: index(5).terms(1, 1, 1), offset: 5, oip: 5, app: index(6).terms(2), woffset: 5, woip: 5, went: index(5).terms(1, 2) },
    { entries: index(5).terms(1, 1, 1), offset: 5, oip: 5, app: index(7).terms(2, 2), woffset: 5, woip: 5, went: index(5).terms(1, 1, 2, 2) },
    { entries: index(5).terms(1, 1, 1), offset: 5, oip: 6, app: index(6).terms(2), woffset: 5, woip: 6, went: index(5).terms(1, 2) },
    { entries: index(5).terms(1, 1, 1), offset: 5, oip: 7, app: index(6).terms(2), woffset: 5, woip: 6, went: index(5).terms(1, 2) },
  ])('truncateAndAppend %#', ({ entries, offset, oip, app, woffset, woip, went }) => {
    const u = unstable({ entries, offset, offsetInProgress: oip });
    u.truncateAndAppend(app);
    expect(u.offset).toBe(woffset);
    expect(u.offsetInProgress).toBe(woip);
    expect(u.entries).toEqual(went);
    // The caller's array is never adopted.
    expect(u.entries).not.toBe(app);
    app.length = 0;
    expect(u.entries).toEqual(went);
  });

  it('truncateAndAppend logs the truncation in etcd words', () => {
    const log = recordingLogger();
    const u = unstable({ entries: index(5).terms(1, 1, 1), offset: 5, offsetInProgress: 5, logger: log });
    u.truncateAndAppend(index(6).terms(2));
    u.truncateAndAppend(index(4).terms(3));
    expect(log.infos).toEqual(['truncate the unstable entries before index 6', 'replace the unstable entries from index 4']);
  });

  it('truncateAndAppend panics on a gap past the end', () => {
    const u = unstable({ entries: index(5).terms(1), offset: 5, offsetInProgress: 5 });
    expect(() => u.truncateAndAppend(index(8).terms(1))).toThrow(new RaftPanic('unstable.slice[5,8) out of bound [5,6]'));
  });

  it('slice returns a copy of the range and panics out of bounds', () => {
    const u = unstable({ entries: index(5).terms(1, 2, 3), offset: 5, offsetInProgress: 5 });
    expect(u.slice(5, 8)).toEqual(index(5).terms(1, 2, 3));
    expect(u.slice(6, 7)).toEqual(index(6).terms(2));
    expect(u.slice(6, 6)).toEqual([]);
    const got = u.slice(5, 6);
    got.push(newEntry({ index: 6, term: 9 }));
    expect(u.entries).toEqual(index(5).terms(1, 2, 3));

    expect(() => u.slice(7, 6)).toThrow(new RaftPanic('invalid unstable.slice 7 > 6'));
    expect(() => u.slice(4, 6)).toThrow(new RaftPanic('unstable.slice[4,6) out of bound [5,8]'));
    expect(() => u.slice(5, 9)).toThrow(new RaftPanic('unstable.slice[5,9) out of bound [5,8]'));
  });
});

// Everything raft's read side can see of a store, as one plain value: two
// stores that serve equal views are indistinguishable to raft. Crash and
// recovery tests compare a reopened store's view with what it should be.
import type { Storage } from '@raftbus/core';

export interface StorageView {
  snapshot: { metadata: unknown; data: number[] };
  initialState: unknown;
  first: number;
  last: number;
  entries: unknown[];
  /** The term kept for the entry just before the first (the snapshot's, or the dummy entry's). */
  dummyTerm: number;
}

export function storageView(s: Storage): StorageView {
  const snap = s.snapshot();
  const first = s.firstIndex();
  const last = s.lastIndex();
  return {
    snapshot: { metadata: snap.metadata, data: Array.from(snap.data) },
    initialState: s.initialState(),
    first,
    last,
    entries: last >= first ? s.entries(first, last + 1, Infinity) : [],
    dummyTerm: s.term(first - 1),
  };
}

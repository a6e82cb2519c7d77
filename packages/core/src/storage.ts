// The read side of stable storage that raft consults (etcd's Storage
// interface). The application persists what Ready hands out; raft only reads.
import type { ConfState, Entry, HardState, Snapshot } from './raftpb/types.js';

export interface InitialState {
  hardState: HardState;
  confState: ConfState;
}

/**
 * Storage is what raft reads its stable log and state from. Methods throw
 * ErrCompacted / ErrUnavailable / ErrSnapshotTemporarilyUnavailable as etcd's
 * return them; any other error is treated as fatal by raft.
 */
export interface Storage {
  /** The saved HardState and ConfState. */
  initialState(): InitialState;
  /**
   * Entries in [lo, hi). maxSize limits the total encoded size, but at least
   * one entry is returned if any exists. Throws ErrCompacted if lo is below
   * firstIndex(), ErrUnavailable if hi is past lastIndex()+1.
   */
  entries(lo: number, hi: number, maxSize: number): Entry[];
  /** Term of entry i, for i in [firstIndex()-1, lastIndex()]. */
  term(i: number): number;
  lastIndex(): number;
  /** The first index that may be read through entries(); older ones are in the snapshot. */
  firstIndex(): number;
  /** The most recent snapshot. Throws ErrSnapshotTemporarilyUnavailable while one is being made. */
  snapshot(): Snapshot;
}

// The read side of stable storage that raft consults (etcd's Storage
// interface). The application persists what Ready hands out; raft only reads.
import { ErrCompacted, ErrSnapOutOfDate, ErrUnavailable } from './errors.js';
import { getLogger } from './logger.js';
import {
  newEntry,
  newHardState,
  newSnapshot,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
} from './raftpb/types.js';
import { cloneConfState, cloneSnapshot } from './types.js';
import { limitSize } from './util/sizes.js';

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

/** How often each Storage method of a MemoryStorage was called (etcd keeps these for benchmarks). */
export interface MemoryStorageCallStats {
  initialState: number;
  firstIndex: number;
  lastIndex: number;
  entries: number;
  term: number;
  snapshot: number;
}

/**
 * Storage backed by an in-memory array, with etcd's semantics: ents[0] is a
 * dummy entry carrying the index and term of the snapshot (or of the last
 * compaction point), and ents[i] has log position ents[0].index + i.
 *
 * Aliasing: arrays handed out are always fresh copies, and arrays handed in
 * are never kept, so neither side can change the other's array by push or
 * splice (etcd protects its slices with full slice expressions for the same
 * reason). Entry objects themselves are shared, as in etcd: nobody may modify
 * an Entry once it is in the log. Snapshots, HardState and ConfState are
 * copied both ways, since they are small and callers do mutate them.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = newHardState();
  private snap: Snapshot = newSnapshot();
  /**
   * @internal Exposed for tests. ents[i] has log position i + ents[0].index;
   * when starting from scratch ents[0] is a dummy entry at term zero.
   */
  ents: Entry[] = [newEntry()];
  readonly callStats: MemoryStorageCallStats = {
    initialState: 0,
    firstIndex: 0,
    lastIndex: 0,
    entries: 0,
    term: 0,
    snapshot: 0,
  };

  initialState(): InitialState {
    this.callStats.initialState++;
    return { hardState: { ...this.hardState }, confState: cloneConfState(this.snap.metadata.confState) };
  }

  /** Saves the current HardState. */
  setHardState(st: HardState): void {
    this.hardState = { ...st };
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    this.callStats.entries++;
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new ErrCompacted();
    if (hi > this.lastIndexInternal() + 1) {
      getLogger().panic(`entries' hi(${hi}) is out of bound lastindex(${this.lastIndexInternal()})`);
    }
    // Only the dummy entry.
    if (this.ents.length === 1) throw new ErrUnavailable();
    const ents = this.ents.slice(lo - offset, hi - offset);
    // Without a limit there is nothing to measure.
    return maxSize === Number.POSITIVE_INFINITY ? ents : limitSize(ents, maxSize);
  }

  term(i: number): number {
    this.callStats.term++;
    const offset = this.ents[0]!.index;
    if (i < offset) throw new ErrCompacted();
    if (i - offset >= this.ents.length) throw new ErrUnavailable();
    return this.ents[i - offset]!.term;
  }

  lastIndex(): number {
    this.callStats.lastIndex++;
    return this.lastIndexInternal();
  }

  firstIndex(): number {
    this.callStats.firstIndex++;
    return this.firstIndexInternal();
  }

  // Internal variants that do not count as Storage calls (Go's lowercase ones).
  private lastIndexInternal(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  private firstIndexInternal(): number {
    return this.ents[0]!.index + 1;
  }

  snapshot(): Snapshot {
    this.callStats.snapshot++;
    return cloneSnapshot(this.snap);
  }

  /**
   * Replaces the contents of this storage with the snapshot. Throws
   * ErrSnapOutOfDate if it is not newer than the one held.
   */
  applySnapshot(snap: Snapshot): void {
    const msIndex = this.snap.metadata.index;
    const snapIndex = snap.metadata.index;
    // At bootstrap, applications (e.g. etcd) may set only the ConfState, with
    // index and term both 0.
    if (msIndex !== 0 && msIndex >= snapIndex) throw new ErrSnapOutOfDate();
    this.snap = cloneSnapshot(snap);
    this.ents = [newEntry({ term: snap.metadata.term, index: snap.metadata.index })];
  }

  /**
   * Records a snapshot at index i (which must be in the log), retrievable
   * through snapshot(). If the configuration changed since the last
   * compaction, pass the result of the last applyConfChange as cs. Throws
   * ErrSnapOutOfDate if i is not past the current snapshot.
   */
  createSnapshot(i: number, cs: ConfState | undefined, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) throw new ErrSnapOutOfDate();
    const offset = this.ents[0]!.index;
    if (i > this.lastIndexInternal()) {
      getLogger().panic(`snapshot ${i} is out of bound lastindex(${this.lastIndexInternal()})`);
    }
    this.snap = {
      // etcd keeps the caller's data without copying; so do we.
      data,
      metadata: {
        index: i,
        term: this.ents[i - offset]!.term,
        confState: cs !== undefined ? cloneConfState(cs) : this.snap.metadata.confState,
      },
    };
    return cloneSnapshot(this.snap);
  }

  /**
   * Discards the entries before compactIndex. The application must not
   * compact past raftLog.applied. Throws ErrCompacted if compactIndex is
   * already compacted.
   */
  compact(compactIndex: number): void {
    const offset = this.ents[0]!.index;
    if (compactIndex <= offset) throw new ErrCompacted();
    if (compactIndex > this.lastIndexInternal()) {
      getLogger().panic(`compact ${compactIndex} is out of bound lastindex(${this.lastIndexInternal()})`);
    }
    const i = compactIndex - offset;
    const dummy = newEntry({ index: this.ents[i]!.index, term: this.ents[i]!.term });
    this.ents = [dummy, ...this.ents.slice(i + 1)];
  }

  /**
   * Appends entries (contiguous, increasing indexes), first truncating the
   * log at entries[0].index; the part of entries already compacted is skipped.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndexInternal();
    const last = entries[0]!.index + entries.length - 1;
    // Nothing new.
    if (last < first) return;
    // Skip the compacted part.
    if (first > entries[0]!.index) entries = entries.slice(first - entries[0]!.index);

    const offset = entries[0]!.index - this.ents[0]!.index;
    if (this.ents.length > offset) {
      this.ents = this.ents.slice(0, offset).concat(entries);
    } else if (this.ents.length === offset) {
      for (const e of entries) this.ents.push(e);
    } else {
      getLogger().panic(`missing log entry [last: ${this.lastIndexInternal()}, append at: ${entries[0]!.index}]`);
    }
  }
}

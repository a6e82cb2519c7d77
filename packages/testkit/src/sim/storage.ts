// A node's disk: what raft reads (the written view) and what survives a
// crash (the fsynced view). Writes land in the written view at once and in
// the synced view only at fsync(); crash() throws away everything unsynced.
import { MemoryStorage, noLimit, type ConfState, type Entry, type HardState, type InitialState, type Snapshot, type Storage } from '@raftbus/core';

/** One Ready's (or MsgStorageAppend's) worth of persistent state. */
export interface StorageWrite {
  hardState?: HardState;
  entries: readonly Entry[];
  snapshot?: Snapshot;
}

export class SimStorage implements Storage {
  /** What raft reads; includes unsynced writes. */
  private written: MemoryStorage;
  private readonly synced: MemoryStorage;
  private unsynced: StorageWrite[] = [];

  constructor(bootstrap?: Snapshot) {
    this.synced = new MemoryStorage();
    if (bootstrap) this.synced.applySnapshot(bootstrap);
    this.written = copyStorage(this.synced);
  }

  get hasUnsynced(): boolean {
    return this.unsynced.length > 0;
  }

  write(w: StorageWrite): void {
    applyWrite(this.written, w);
    this.unsynced.push(w);
  }

  fsync(): void {
    for (const w of this.unsynced) applyWrite(this.synced, w);
    this.unsynced = [];
  }

  /** Loses unsynced writes: afterwards raft reads only what was fsynced. */
  crash(): void {
    this.unsynced = [];
    this.written = copyStorage(this.synced);
  }

  /** Overrides the hard state a restarted node reads (for the forget-vote planted bug). */
  corruptHardState(f: (hs: HardState) => HardState): void {
    this.written.setHardState(f(this.written.initialState().hardState));
  }

  /**
   * Records a state-machine snapshot at `index` and drops the log before it,
   * atomically and durably (as if the snapshot file were synced before the
   * log is truncated). Only call with no unsynced writes.
   */
  compact(index: number, cs: ConfState, data: Uint8Array): void {
    for (const s of [this.written, this.synced]) {
      s.createSnapshot(index, cs, data);
      s.compact(index);
    }
  }

  initialState(): InitialState {
    return this.written.initialState();
  }
  entries(lo: number, hi: number, maxSize: number): Entry[] {
    return this.written.entries(lo, hi, maxSize);
  }
  term(i: number): number {
    return this.written.term(i);
  }
  lastIndex(): number {
    return this.written.lastIndex();
  }
  firstIndex(): number {
    return this.written.firstIndex();
  }
  /**
   * What raft sends a lagging follower: a fresh state-machine snapshot when
   * the application offers a newer one than the stored (as etcd makes one
   * on demand), so a node added after the last compaction can still join.
   * Making it is a durable write, like compact() without the truncation.
   */
  snapshot(): Snapshot {
    const fresh = this.freshSnapshot?.();
    const stored = this.written.snapshot();
    if (fresh === undefined || this.hasUnsynced || fresh.index <= stored.metadata.index || fresh.index > this.durableCommit) {
      return stored;
    }
    this.synced.createSnapshot(fresh.index, fresh.confState, fresh.data);
    return this.written.createSnapshot(fresh.index, fresh.confState, fresh.data);
  }

  /**
   * The commit index a restart would read. A stored snapshot must not pass
   * it (raft refuses to start with a commit index below its snapshot), and
   * with async storage writes, entries may be applied before the commit
   * index that covers them is durable.
   */
  get durableCommit(): number {
    return this.synced.initialState().hardState.commit;
  }

  /** The snapshot last stored (by a received snapshot, compaction or snapshot()). */
  storedSnapshot(): Snapshot {
    return this.written.snapshot();
  }

  /** Set by the node: its state machine's current state, as snapshot material. */
  freshSnapshot: (() => { index: number; confState: ConfState; data: Uint8Array } | undefined) | undefined;
}

function applyWrite(s: MemoryStorage, w: StorageWrite): void {
  // etcd's order: hard state, then snapshot or entries.
  if (w.hardState) s.setHardState(w.hardState);
  if (w.snapshot) s.applySnapshot(w.snapshot);
  s.append(w.entries);
}

function copyStorage(from: MemoryStorage): MemoryStorage {
  const to = new MemoryStorage();
  const snap = from.snapshot();
  to.applySnapshot(snap);
  to.setHardState(from.initialState().hardState);
  const first = from.firstIndex();
  const last = from.lastIndex();
  if (last >= first) to.append(from.entries(first, last + 1, noLimit));
  return to;
}

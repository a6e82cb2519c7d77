// The storage behind each env node (etcd's rafttest Storage interface and
// snapOverrideStorage): raft's read side plus the writes that Ready handling
// performs, backed by a MemoryStorage whose snapshot() is replaced by the
// node's latest applied state.
import type { Entry, HardState, Snapshot } from '../raftpb/types.js';
import { MemoryStorage, type InitialState, type Storage } from '../storage.js';

export interface EnvStorage extends Storage {
  setHardState(st: HardState): void;
  applySnapshot(snap: Snapshot): void;
  compact(newFirstIndex: number): void;
  append(ents: Entry[]): void;
}

/**
 * Delegates to a MemoryStorage, except that snapshot() returns what the
 * override gives: the env's most recent state-machine snapshot. MemoryStorage
 * alone would hand out a fixed snapshot that changes with compaction, which
 * scenarios cannot reason about.
 */
export class SnapOverrideStorage implements EnvStorage {
  constructor(
    readonly inner: MemoryStorage,
    private readonly snapshotOverride?: () => Snapshot,
  ) {}

  initialState(): InitialState {
    return this.inner.initialState();
  }
  entries(lo: number, hi: number, maxSize: number): Entry[] {
    return this.inner.entries(lo, hi, maxSize);
  }
  term(i: number): number {
    return this.inner.term(i);
  }
  lastIndex(): number {
    return this.inner.lastIndex();
  }
  firstIndex(): number {
    return this.inner.firstIndex();
  }
  snapshot(): Snapshot {
    return this.snapshotOverride ? this.snapshotOverride() : this.inner.snapshot();
  }
  setHardState(st: HardState): void {
    this.inner.setHardState(st);
  }
  applySnapshot(snap: Snapshot): void {
    this.inner.applySnapshot(snap);
  }
  compact(newFirstIndex: number): void {
    this.inner.compact(newFirstIndex);
  }
  append(ents: Entry[]): void {
    this.inner.append(ents);
  }
}

// The contract every durable store implements. It is raft's read-side
// Storage (synchronous: answered from memory) plus the asynchronous writes
// that make a node's state survive a crash.
//
// The ordering rule the host relies on: when save() resolves, the entries,
// hard state and snapshot it was given are durable (fsynced or the store's
// documented equivalent), so messages that depend on them may be sent.
import type { Storage } from '../storage.js';
import type { ConfState, Entry, HardState, Snapshot } from '../raftpb/types.js';

/** What one Ready asks to persist. Applied atomically: all or nothing. */
export interface PersistBatch {
  /** Entries to append; any stored entries at or after entries[0].index are replaced. */
  entries: readonly Entry[];
  hardState?: HardState;
  /** A snapshot from the leader to install; it replaces the log it covers. */
  snapshot?: Snapshot;
}

export interface DurableStorageCapabilities {
  /**
   * Whether an acknowledged save survives a crash of the machine (fsync).
   * False for stores that acknowledge before durability (e.g. Redis without
   * appendfsync always): usable, but a crash may lose acknowledged writes.
   */
  durable: boolean;
}

export interface DurableStorage extends Storage {
  readonly capabilities: DurableStorageCapabilities;
  /**
   * Opens the store, creating it if absent, and recovers its state. Throws a
   * typed error when the stored data is corrupt (never silently drops it).
   * Raft's read methods may be called only after this resolves.
   */
  open(): Promise<void>;
  /** Durably persists one Ready's entries, hard state and snapshot, atomically. */
  save(batch: PersistBatch): Promise<void>;
  /**
   * Records a snapshot of the state machine as of `index` (already applied),
   * then keeps the log from `index` on; older entries may be discarded.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot>;
  /** Discards log entries before `index` (which must be covered by a snapshot). */
  compact(index: number): Promise<void>;
  /** Flushes and releases the store (and its lock). Idempotent. */
  close(): Promise<void>;
}

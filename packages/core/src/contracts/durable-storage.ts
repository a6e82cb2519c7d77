// The contract every durable store implements. It is raft's read-side
// Storage (synchronous: answered from memory) plus the asynchronous writes
// that make a node's state survive a crash.
//
// The ordering rule the host relies on: when save() resolves, the entries,
// hard state and snapshot it was given are durable (fsynced or the store's
// documented equivalent), so messages that depend on them may be sent.
// One exception, etcd's (its WAL syncs only when raft's MustSync says so): a
// save that changes nothing but the commit index may resolve before it is
// durable, since a lost commit index is learned again from the leader. It
// is still ordered, and durable no later than the next save that must sync,
// createSnapshot or close resolves.
//
// Snapshots can be as large as the application's state, so they also move
// as chunks: createSnapshot() takes the state machine's chunks as they come,
// readSnapshotChunks() hands the stored data back in bounded chunks, and a
// store may keep a large snapshot's data on its medium only, loading it
// when raft asks for it to send (see snapshot()).
import type { Storage } from '../storage.js';
import type { ConfState, Entry, HardState, Snapshot, SnapshotMetadata } from '../raftpb/types.js';
import type { SnapshotChunks } from './snapshot-chunks.js';

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
  /**
   * Durably persists one Ready's entries, hard state and snapshot,
   * atomically. A batch with no entries, no snapshot, and a hard state whose
   * term and vote are those last saved need not be durable yet when this
   * resolves (see the ordering rule above).
   */
  save(batch: PersistBatch): Promise<void>;
  /**
   * Records a snapshot of the state machine as of `index` (already applied),
   * then keeps the log from `index` on; older entries may be discarded.
   * Resolves with the snapshot made, once it is durable.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot>;
  /**
   * As above, the data given as chunks (the state machine's
   * snapshotChunks()): the store writes them as they come and, if it keeps
   * snapshots outside memory, never joins them. Resolves with the metadata
   * of the snapshot made. If iterating `chunks` throws, the call rejects
   * with that error, nothing is recorded, and the store stays usable.
   */
  createSnapshot(index: number, confState: ConfState, data: AsyncIterable<Uint8Array>): Promise<SnapshotMetadata>;
  /**
   * The newest durable snapshot's data in chunks of at most
   * SNAPSHOT_CHUNK_BYTES, with its metadata (index 0 and no chunks: none),
   * read from the store as they are iterated: what the host restores the
   * state machine from at startup. A store that checksums snapshots throws
   * its typed corruption error when the check fails, possibly only after the
   * last chunk: use the data only once the iteration has ended.
   */
  readSnapshotChunks(): SnapshotChunks;
  /**
   * The newest snapshot, data included (raft's read side, for MsgSnap). A
   * store that keeps a large snapshot's data on its medium only throws
   * ErrSnapshotTemporarilyUnavailable while it loads it in the background;
   * raft's leader then tries again later, as etcd's does.
   */
  snapshot(): Snapshot;
  /** Discards log entries before `index` (which must be covered by a snapshot). */
  compact(index: number): Promise<void>;
  /**
   * Optional, for a store that retries its writes while its medium is
   * unreachable (RedisStorage while Redis is down): from this call on, a
   * write that would wait for the medium to come back fails instead, the
   * one waiting now included. Writes the medium answers are unaffected. The
   * host calls it when the node stops, so that stop() does not last as long
   * as the outage; a write given up was never acknowledged.
   */
  stopRetrying?(): void;
  /** Flushes and releases the store (and its lock). Idempotent. */
  close(): Promise<void>;
}

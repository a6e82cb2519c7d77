// MemoryBackedStorage: what every durable store built on the core's
// MemoryStorage shares, as etcd's server keeps a MemoryStorage next to its WAL.
//
// Raft's reads are synchronous, so they are answered from memory: `mem` holds
// the newest snapshot and the entries after the compaction point, and changes
// only once what changes it is durable. So a read never returns something a
// crash could take back, and a failed write leaves the reads correct.
// (compact() applies at once: forgetting entries the snapshot holds takes
// nothing back.)
//
// Each write is checked at call time against `proj`, the log as it will be
// once every queued write has landed, so that writes made without waiting are
// refused or accepted exactly as a MemoryStorage would refuse or accept them
// one after another. A subclass only makes an accepted write durable, in call
// order, and then lets it land in memory (the `apply` it is handed).
//
// A snapshot's data stays in memory only up to residentSnapshotBytes (a
// subclass's choice; everything, by default). A larger one is kept on the
// subclass's medium only: `mem` holds its metadata, readSnapshotChunks()
// streams it from the medium (readStoredSnapshot), and raft's synchronous
// snapshot() starts loading it in the background and throws
// ErrSnapshotTemporarilyUnavailable until it is loaded (raft's leader tries
// again later, as etcd's does). The loaded data is cached while raft keeps
// asking for it: it is dropped when a newer snapshot lands, or once
// SNAPSHOT_CACHE_IDLE_SAVES saves have landed without raft asking for it.
import { ErrSnapOutOfDate, ErrSnapshotTemporarilyUnavailable, ErrUnavailable, RaftPanic } from '../errors.js';
import { EMPTY_BYTES, newSnapshot, type ConfState, type Entry, type Snapshot, type SnapshotMetadata } from '../raftpb/types.js';
import { MemoryStorage, type InitialState } from '../storage.js';
import { mustSync } from '../raw-node.js';
import { cloneConfState } from '../types.js';
import type { DurableStorage, DurableStorageCapabilities, PersistBatch } from './durable-storage.js';
import { chunksOf, concatChunks, type SnapshotChunks, type SnapshotData } from './snapshot-chunks.js';

/**
 * A snapshot loaded from the medium is dropped from memory once this many
 * saves have landed without raft asking for it (a leader asks again within
 * a few heartbeats while a follower still needs it). Counted in saves, not
 * time, so that it is deterministic; an idle store keeps it.
 */
export const SNAPSHOT_CACHE_IDLE_SAVES = 1000;

/**
 * Where a store is in its life. Reads are answered while 'open' or
 * 'closing' (close() lets queued writes land); writes only while 'open'.
 */
export type MemoryBackedStorageState = 'new' | 'opening' | 'open' | 'closing' | 'closed';

/** The log as it will be once every queued write has landed. */
interface LogProjection {
  /** Index of the newest snapshot (0: none). */
  snapIndex: number;
  /** The compaction point: entries at or below it are gone (mem's dummy entry). */
  offset: number;
  /** Index of the last entry. */
  last: number;
  /** Term and vote of the last hard state saved: a save that changes only the commit index need not sync. */
  term: number;
  vote: number;
}

/**
 * A DurableStorage that answers raft's reads from a MemoryStorage and writes
 * through a subclass. The subclass supplies the durable writes
 * (persistBatch, persistSnapshot, persistCompaction), what open() and close()
 * do to its medium (openStore, finishWrites, releaseStore) and its own typed
 * errors (closedError, failedError, compactBeyondSnapshotError, panic).
 *
 * open() opens once: after close(), or after a failed open(), a new instance
 * opens the same data again.
 */
export abstract class MemoryBackedStorage implements DurableStorage {
  abstract readonly capabilities: DurableStorageCapabilities;

  /** Set by open() and close(); a store with nothing to open may start 'open'. */
  protected state: MemoryBackedStorageState = 'new';
  private openPromise: Promise<void> | undefined;
  private closePromise: Promise<void> | undefined;
  private failed: Error | undefined;

  private cache = new MemoryStorage();
  /** cache's snapshot metadata, kept aside because cache.snapshot() copies the data. */
  private cacheSnap: SnapshotMetadata = newSnapshot().metadata;
  /** Whether cache holds only the snapshot's metadata, its data being on the medium. */
  private snapOnMedium = false;
  /** The data of cacheSnap's snapshot, loaded from the medium for raft (undefined: not loaded). */
  private loadedSnap: { index: number; data: Uint8Array; idleSaves: number } | undefined;
  private loadingSnap: Promise<void> | undefined;
  private proj: LogProjection = { snapIndex: 0, offset: 0, last: 0, term: 0, vote: 0 };

  /**
   * Snapshot data longer than this is not kept in memory once durable: only
   * on the medium, read back through readStoredSnapshot(). Infinity (the
   * default) keeps every snapshot in memory; a subclass that reads
   * snapshots back from its medium may set a bound in its constructor.
   */
  protected residentSnapshotBytes = Infinity;

  /** What raft reads: only what is durable. Change it through restore() and the writes' `apply`. */
  protected get mem(): MemoryStorage {
    return this.cache;
  }

  /** The metadata of the snapshot `mem` holds. */
  protected get memSnap(): SnapshotMetadata {
    return this.cacheSnap;
  }

  /** The failure that refuses every further write (reads go on), once fail() has been called. */
  protected get failure(): Error | undefined {
    return this.failed;
  }

  // ---- raft's read side, answered from memory ----

  initialState(): InitialState {
    return this.readable().initialState();
  }

  /**
   * As MemoryStorage, but a range past lastIndex()+1 throws ErrUnavailable,
   * as the Storage contract says, where MemoryStorage (like etcd's) panics.
   */
  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const mem = this.readable();
    if (hi > mem.lastIndex() + 1 && lo >= mem.firstIndex()) throw new ErrUnavailable();
    return mem.entries(lo, hi, maxSize);
  }

  term(i: number): number {
    return this.readable().term(i);
  }

  lastIndex(): number {
    return this.readable().lastIndex();
  }

  firstIndex(): number {
    return this.readable().firstIndex();
  }

  /**
   * The newest durable snapshot, data included: a copy of it if it is kept
   * in memory; if its data is on the medium only, the data loaded from there
   * (shared, not copied: do not modify it), or ErrSnapshotTemporarilyUnavailable
   * while it is being loaded. A snapshot replaces the previous one only once
   * it is durable.
   */
  snapshot(): Snapshot {
    const mem = this.readable();
    if (!this.snapOnMedium) return mem.snapshot();
    const loaded = this.loadedSnap;
    if (loaded !== undefined && loaded.index === this.cacheSnap.index) {
      loaded.idleSaves = 0;
      return { data: loaded.data, metadata: copyMetadata(this.cacheSnap) };
    }
    this.loadSnapshot(this.cacheSnap);
    throw new ErrSnapshotTemporarilyUnavailable();
  }

  /**
   * The newest durable snapshot's data in chunks of at most
   * SNAPSHOT_CHUNK_BYTES: from memory if it is there (copied now), or else
   * read from the medium as the chunks are iterated.
   */
  readSnapshotChunks(): SnapshotChunks {
    const mem = this.readable();
    const metadata = copyMetadata(this.cacheSnap);
    let chunks: AsyncIterable<Uint8Array>;
    if (!this.snapOnMedium) chunks = chunksOf(mem.snapshot().data);
    else if (this.loadedSnap !== undefined && this.loadedSnap.index === metadata.index) chunks = chunksOf(this.loadedSnap.data);
    else chunks = this.readStoredSnapshot(metadata);
    return { metadata, [Symbol.asyncIterator]: () => chunks[Symbol.asyncIterator]() };
  }

  /** Loads the data of the snapshot `metadata` from the medium, in the background, for snapshot(). */
  private loadSnapshot(metadata: SnapshotMetadata): void {
    if (this.loadingSnap !== undefined) return;
    const { index } = metadata;
    const current = () => this.snapOnMedium && this.cacheSnap.index === index && this.state === 'open';
    this.loadingSnap = (async () => {
      try {
        const data = await concatChunks(this.readStoredSnapshot(copyMetadata(metadata)));
        if (current()) this.loadedSnap = { index, data, idleSaves: 0 };
      } catch (e) {
        // A newer snapshot may have replaced this one (and its data) meanwhile: nothing lost.
        if (current()) this.snapshotLoadFailed(e);
      } finally {
        this.loadingSnap = undefined;
      }
    })();
  }

  /** Puts a durable snapshot's metadata in place; its data is in `cache` (inMemory) or on the medium. */
  private noteSnapshot(metadata: SnapshotMetadata, inMemory: boolean): void {
    this.cacheSnap = metadata;
    this.snapOnMedium = !inMemory;
    this.loadedSnap = undefined;
  }

  private readable(): MemoryStorage {
    if (this.state !== 'open' && this.state !== 'closing') {
      throw this.closedError(this.state === 'closed' ? 'storage is closed' : 'storage is not open');
    }
    return this.cache;
  }

  private writable(): void {
    if (this.state !== 'open') {
      throw this.closedError(this.state === 'new' || this.state === 'opening' ? 'storage is not open' : 'storage is closed');
    }
    if (this.failed) throw this.failed;
  }

  // ---- writes ----

  async save(batch: PersistBatch): Promise<void> {
    this.writable();
    const sync = mustSyncBatch(batch, this.proj);
    const admitted = this.admit(batch);
    return this.persistBatch(admitted, sync, () => {
      const { snapshot, entries, hardState } = admitted;
      if (snapshot !== undefined) {
        const inMemory = snapshot.data.length <= this.residentSnapshotBytes;
        this.cache.applySnapshot(inMemory ? snapshot : { data: EMPTY_BYTES, metadata: snapshot.metadata });
        this.noteSnapshot(snapshot.metadata, inMemory);
      }
      this.cache.append(entries);
      if (hardState !== undefined) this.cache.setHardState(hardState);
      if (this.loadedSnap !== undefined && ++this.loadedSnap.idleSaves >= SNAPSHOT_CACHE_IDLE_SAVES) this.loadedSnap = undefined;
    });
  }

  /**
   * Checks a whole batch against `proj` before changing anything (a refused
   * save leaves no trace), then advances `proj` past it. The rules are
   * MemoryStorage's, applied as if every queued write had landed:
   *
   * - a snapshot must be newer than the newest one (ErrSnapOutOfDate), and
   *   replaces the whole log;
   * - entries must be contiguous, those already compacted are skipped, and
   *   the rest must not leave a gap after the last entry (both panics).
   *
   * Returns the batch to write and apply: the entries left once the
   * compacted ones are skipped (possibly none), and the store's own copies
   * of the array, hard state and snapshot metadata, which the caller may
   * change before the write lands (entries and snapshot data are shared, as
   * MemoryStorage shares them).
   */
  private admit(batch: PersistBatch): PersistBatch {
    const { snapshot, hardState } = batch;
    let { snapIndex, offset, last, term, vote } = this.proj;
    if (snapshot !== undefined) {
      // MemoryStorage.applySnapshot's rule, index 0 included (a bootstrap ConfState).
      if (snapIndex !== 0 && snapIndex >= snapshot.metadata.index) throw new ErrSnapOutOfDate();
      snapIndex = offset = last = snapshot.metadata.index;
    }
    // A copy: the caller may reuse its array before the save lands in memory.
    let entries = batch.entries.slice();
    for (let k = 1; k < entries.length; k++) {
      if (entries[k]!.index !== entries[0]!.index + k) {
        this.panic(`entries not contiguous: ${entries[k - 1]!.index} then ${entries[k]!.index}`);
      }
    }
    // MemoryStorage.append's rule: skip what is compacted; refuse a gap.
    if (entries.length > 0 && entries[0]!.index + entries.length - 1 > offset) {
      if (entries[0]!.index <= offset) entries = entries.slice(offset + 1 - entries[0]!.index);
      if (entries[0]!.index > last + 1) this.panic(`missing log entry [last: ${last}, append at: ${entries[0]!.index}]`);
      last = entries[entries.length - 1]!.index;
    } else {
      entries = [];
    }
    if (hardState !== undefined) ({ term, vote } = hardState);
    this.proj = { snapIndex, offset, last, term, vote };

    const admitted: PersistBatch = { entries };
    if (hardState !== undefined) admitted.hardState = { ...hardState };
    if (snapshot !== undefined) {
      admitted.snapshot = {
        data: snapshot.data,
        metadata: { ...snapshot.metadata, confState: cloneConfState(snapshot.metadata.confState) },
      };
    }
    return admitted;
  }

  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot>;
  createSnapshot(index: number, confState: ConfState, data: AsyncIterable<Uint8Array>): Promise<SnapshotMetadata>;
  async createSnapshot(index: number, confState: ConfState, data: SnapshotData): Promise<Snapshot | SnapshotMetadata> {
    this.writable();
    if (index <= this.proj.snapIndex) throw new ErrSnapOutOfDate();
    // Only a durable entry may be snapshotted; the host applies nothing else.
    const last = this.cache.lastIndex();
    if (index > last) this.panic(`snapshot ${index} is out of bound lastindex(${last})`);
    const metadata: SnapshotMetadata = { index, term: this.cache.term(index), confState: cloneConfState(confState) };
    const land = (kept: Uint8Array | undefined) => {
      // A snapshot from the leader may have overtaken this one.
      if (index <= this.cacheSnap.index) return;
      this.cache.createSnapshot(index, metadata.confState, kept ?? EMPTY_BYTES);
      this.noteSnapshot(metadata, kept !== undefined);
    };
    const before = this.proj.snapIndex;
    this.proj.snapIndex = index;
    if (data instanceof Uint8Array) {
      await this.persistSnapshot({ data, metadata }, () => land(data.length <= this.residentSnapshotBytes ? data : undefined));
      return { data, metadata: copyMetadata(metadata) };
    }
    try {
      await this.persistSnapshotChunks(metadata, data, land);
    } catch (e) {
      // Unless the medium failed (which fails the store), nothing was
      // recorded: the state machine's chunks failed. The index may be
      // snapshotted again, if no later snapshot was accepted meanwhile.
      if (this.failed === undefined && this.proj.snapIndex === index) this.proj.snapIndex = before;
      throw e;
    }
    return copyMetadata(metadata);
  }

  /** Discards the entries before `index` from memory at once, then has the subclass discard them from its medium. */
  async compact(index: number): Promise<void> {
    this.writable();
    if (index > this.cacheSnap.index) {
      // Where this is refused, the compaction point never passes the snapshot
      // (mem's offset <= memSnap.index), so whatever MemoryStorage refuses as
      // ErrCompacted is not refused here first.
      const refused = this.compactBeyondSnapshotError(index, this.cacheSnap.index);
      if (refused !== undefined) throw refused;
    }
    this.cache.compact(index); // ErrCompacted, or a panic past the last index, as MemoryStorage
    this.proj.offset = Math.max(this.proj.offset, index);
    await this.persistCompaction(index);
  }

  /**
   * Makes an admitted batch durable, after every write called before it,
   * then calls `apply` (which puts it in memory) and resolves. If `apply`
   * throws, memory refused what the medium accepted: a bug, on which the
   * store should fail(). `batch` is the store's own copy, compacted entries
   * already skipped (its entries may be none). `mustSync` false: the batch
   * only moves the commit index, and may resolve once written in order,
   * before it is durable, provided the next write that syncs (a batch whose
   * `mustSync` is true, persistSnapshot, close) makes it durable with itself.
   */
  protected abstract persistBatch(batch: PersistBatch, mustSync: boolean, apply: () => void): Promise<void>;

  /** As persistBatch, for a snapshot made by createSnapshot (its metadata is the store's own). */
  protected abstract persistSnapshot(snapshot: Snapshot, apply: () => void): Promise<void>;

  /**
   * As persistSnapshot, for data given as chunks: `apply(kept)` puts the
   * snapshot in memory, with its whole data (`kept`) or, for data read back
   * from the medium by readStoredSnapshot(), without it (undefined). If
   * iterating `chunks` throws, reject with that error, record nothing, and
   * do not fail the store. The default joins the chunks and calls
   * persistSnapshot, keeping the data in memory; a store that keeps
   * snapshots on its medium writes the chunks as they come instead.
   */
  protected async persistSnapshotChunks(
    metadata: SnapshotMetadata,
    chunks: AsyncIterable<Uint8Array>,
    apply: (kept: Uint8Array | undefined) => void,
  ): Promise<void> {
    const data = await concatChunks(chunks);
    await this.persistSnapshot({ data, metadata }, () => apply(data.length <= this.residentSnapshotBytes ? data : undefined));
  }

  /**
   * The data of the durable snapshot `metadata` (the newest, when called),
   * read from the medium as it is iterated, in chunks of at most
   * SNAPSHOT_CHUNK_BYTES. Called only for snapshots not kept in memory, so
   * a store that keeps every snapshot in memory need not override it.
   */
  protected readStoredSnapshot(metadata: SnapshotMetadata): AsyncIterable<Uint8Array> {
    this.panic(`snapshot ${metadata.index} is not in memory, and this store reads none from a medium`);
  }

  /**
   * The newest snapshot's data could not be loaded for raft (a checksum
   * mismatch, an I/O error). The default fails the store: it can no longer
   * give raft its snapshot, and reopening recovers from what is on the medium.
   */
  protected snapshotLoadFailed(error: unknown): void {
    this.fail(error);
  }

  /** Discards the entries up to `index` from the medium; memory has already let them go. */
  protected abstract persistCompaction(index: number): Promise<void>;

  // ---- open / close ----

  /** Opens the store and recovers its state (openStore). Calling it again returns the same promise. */
  open(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed' || this.closePromise !== undefined) {
      // A store is opened once; a new instance reopens the same data.
      return Promise.reject(this.closedError('storage is closed'));
    }
    if (this.openPromise === undefined) {
      this.state = 'opening';
      this.openPromise = this.openStore().then(
        () => {
          this.state = 'open';
        },
        (e: unknown) => {
          this.state = 'closed';
          throw e;
        },
      );
    }
    return this.openPromise;
  }

  /** Lets queued writes land (finishWrites), then releases the medium (releaseStore). Idempotent. */
  close(): Promise<void> {
    this.closePromise ??= this.shutdown();
    return this.closePromise;
  }

  private async shutdown(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'closed';
      return;
    }
    if (this.state === 'opening') await this.openPromise!.catch(() => {});
    if (this.state === 'closed') return; // open failed and released everything
    this.state = 'closing';
    try {
      await this.finishWrites();
    } finally {
      this.state = 'closed';
      await this.loadingSnap;
      await this.releaseStore();
    }
  }

  /**
   * Opens the medium and recovers the state into memory (restore()). On
   * failure it must release what it took: the store is then closed.
   */
  protected async openStore(): Promise<void> {}

  /** Waits for queued and in-flight writes to settle (reads are still answered meanwhile). */
  protected async finishWrites(): Promise<void> {}

  /** Releases the medium, once the store is closed. */
  protected async releaseStore(): Promise<void> {}

  /**
   * Puts the recovered state in memory: `mem` and the metadata of the
   * snapshot it holds (passed in, since mem.snapshot() copies the data).
   * `dataOnMedium`: mem holds the snapshot without its data, which
   * readStoredSnapshot() reads from the medium when needed.
   */
  protected restore(mem: MemoryStorage, snapshot: SnapshotMetadata, dataOnMedium = false): void {
    this.cache = mem;
    this.noteSnapshot(snapshot, !dataOnMedium);
    const { term, vote } = mem.initialState().hardState;
    this.proj = { snapIndex: snapshot.index, offset: mem.firstIndex() - 1, last: mem.lastIndex(), term, vote };
  }

  // ---- failure and errors ----

  /**
   * Fails the store: from now on every write is refused with the failure
   * (reads keep answering from what landed before). The first call makes the
   * failure (failedError); every call returns it.
   */
  protected fail(cause: unknown): Error {
    this.failed ??= this.failedError(cause);
    return this.failed;
  }

  /** What a read or write outside 'open' throws; message is 'storage is closed' or 'storage is not open'. */
  protected closedError(message: string): Error {
    return new Error(message);
  }

  /** The failure fail() keeps, made once, from what went wrong. */
  protected failedError(cause: unknown): Error {
    return new Error(`storage failed and refuses writes until reopened: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }

  /**
   * What compact(index) throws when `index` is past the newest snapshot, or
   * undefined (the default) to compact anyway, as MemoryStorage does.
   */
  protected compactBeyondSnapshotError(_index: number, _snapshotIndex: number): Error | undefined {
    return undefined;
  }

  /** Stops on a broken invariant (a batch raft cannot have made). Must throw. */
  protected panic(message: string): never {
    throw new RaftPanic(message);
  }
}

function copyMetadata(m: SnapshotMetadata): SnapshotMetadata {
  return { index: m.index, term: m.term, confState: cloneConfState(m.confState) };
}

/**
 * raft's MustSync for a save: entries, a snapshot, or a new term or vote
 * (against the last hard state saved) must be durable before anything that
 * depends on them is sent; a new commit index alone need not be.
 */
function mustSyncBatch(batch: PersistBatch, last: { term: number; vote: number }): boolean {
  const prev = { term: last.term, vote: last.vote, commit: 0 };
  return batch.snapshot !== undefined || mustSync(batch.hardState ?? prev, prev, batch.entries.length);
}

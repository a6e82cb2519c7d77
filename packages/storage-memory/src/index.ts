// @raftbus/storage-memory: the DurableStorage contract held in memory, for
// tests, demos and nodes whose state may be rebuilt from their peers. Nothing
// survives the process, so capabilities.durable is false.
import {
  ErrSnapOutOfDate,
  ErrUnavailable,
  MemoryStorage,
  RaftPanic,
  type ConfState,
  type DurableStorage,
  type DurableStorageCapabilities,
  type Entry,
  type InitialState,
  type PersistBatch,
  type Snapshot,
} from '@raftbus/core';

export class InMemoryStorage implements DurableStorage {
  readonly capabilities: DurableStorageCapabilities = { durable: false };
  private readonly log = new MemoryStorage();

  async open(): Promise<void> {}

  async save(batch: PersistBatch): Promise<void> {
    // Check the whole batch before changing anything, so that a refused batch
    // leaves the store as it was (save is all or nothing).
    const { snapshot, entries } = batch;
    const snapIndex = snapshot?.metadata.index ?? 0;
    const held = this.log.snapshot().metadata.index;
    if (snapIndex !== 0 && snapIndex <= held) throw new ErrSnapOutOfDate();
    const lastBefore = snapIndex !== 0 ? snapIndex : this.log.lastIndex();
    if (entries.length > 0 && entries[0]!.index > lastBefore + 1) {
      throw new RaftPanic(`missing log entry [last: ${lastBefore}, append at: ${entries[0]!.index}]`);
    }

    if (snapshot && snapIndex !== 0) this.log.applySnapshot(snapshot);
    this.log.append(entries);
    if (batch.hardState) this.log.setHardState(batch.hardState);
  }

  async createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    return this.log.createSnapshot(index, confState, data);
  }

  async compact(index: number): Promise<void> {
    this.log.compact(index);
  }

  async close(): Promise<void> {}

  initialState(): InitialState {
    return this.log.initialState();
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    // MemoryStorage panics here, as etcd's does; the Storage contract asks
    // for ErrUnavailable, which a caller can handle.
    if (hi > this.log.lastIndex() + 1) throw new ErrUnavailable();
    return this.log.entries(lo, hi, maxSize);
  }

  term(i: number): number {
    return this.log.term(i);
  }

  lastIndex(): number {
    return this.log.lastIndex();
  }

  firstIndex(): number {
    return this.log.firstIndex();
  }

  snapshot(): Snapshot {
    return this.log.snapshot();
  }
}

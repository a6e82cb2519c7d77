// @raftbus/storage-memory: the DurableStorage contract held in memory, for
// tests, demos and nodes whose state may be rebuilt from their peers. Nothing
// survives the process, so capabilities.durable is false.
//
// MemoryBackedStorage (the core's) does all the work: it answers reads from
// its MemoryStorage and checks every write whole before changing anything.
// Here nothing is durable, so an accepted write lands in memory at once.
import {
  MemoryBackedStorage,
  type DurableStorageCapabilities,
  type MemoryBackedStorageState,
  type PersistBatch,
  type Snapshot,
} from '@raftbus/core';

export class InMemoryStorage extends MemoryBackedStorage {
  readonly capabilities: DurableStorageCapabilities = { durable: false };

  // Nothing to open or release: the store is open from the start, and open()
  // and close() change nothing, so a closed store opens again holding its
  // state (a node restarted within the process).
  protected override state: MemoryBackedStorageState = 'open';

  override async open(): Promise<void> {}

  override async close(): Promise<void> {}

  protected async persistBatch(_batch: PersistBatch, _mustSync: boolean, apply: () => void): Promise<void> {
    apply();
  }

  protected async persistSnapshot(_snapshot: Snapshot, apply: () => void): Promise<void> {
    apply();
  }

  protected async persistCompaction(_index: number): Promise<void> {}
}

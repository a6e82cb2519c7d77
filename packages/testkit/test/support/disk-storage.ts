// A durable store for testing the suites themselves: core's MemoryStorage in
// front, a Disk of encoded bytes behind. A reopened store reads nothing but
// those bytes, so whatever a save did not write is gone, as after a crash.
import {
  MemoryBackedStorage,
  MemoryStorage,
  decodeEntry,
  decodeHardState,
  decodeSnapshot,
  encodeEntry,
  encodeHardState,
  encodeSnapshot,
  newEntry,
  type DurableStorageCapabilities,
  type PersistBatch,
  type Snapshot,
} from '@raftbus/core';
import { sleep } from '../../src/index.js';

/** What survives a restart. */
export class Disk {
  snapshot?: Uint8Array;
  hardState?: Uint8Array;
  /** Index and term of the entry before the first stored one (etcd's dummy entry). */
  offset = { index: 0, term: 0 };
  entries: Uint8Array[] = [];
}

export class DiskStorage extends MemoryBackedStorage {
  // Saves are written one after another, each after a pause, so that a
  // suite calling save() without waiting sees them applied in call order.
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly disk: Disk,
    readonly capabilities: DurableStorageCapabilities = { durable: true },
  ) {
    super();
  }

  protected override async openStore(): Promise<void> {
    const log = new MemoryStorage();
    const snap = this.disk.snapshot ? decodeSnapshot(this.disk.snapshot) : undefined;
    if (snap && snap.metadata.index > 0) log.applySnapshot(snap);
    log.ents = [newEntry(this.disk.offset), ...this.disk.entries.map(decodeEntry)];
    if (this.disk.hardState) log.setHardState(decodeHardState(this.disk.hardState));
    this.restore(log, log.snapshot().metadata);
  }

  protected persistBatch(_batch: PersistBatch, _mustSync: boolean, apply: () => void): Promise<void> {
    return this.write(apply);
  }

  protected persistSnapshot(_snapshot: Snapshot, apply: () => void): Promise<void> {
    return this.write(apply);
  }

  protected persistCompaction(): Promise<void> {
    return this.write(() => {});
  }

  protected override async finishWrites(): Promise<void> {
    await this.writes.catch(() => {});
  }

  private write(change: () => void): Promise<void> {
    const done = this.writes.then(async () => {
      await sleep(1);
      change();
      this.flush();
    });
    this.writes = done.catch(() => {});
    return done;
  }

  private flush(): void {
    const log = this.mem;
    const first = log.firstIndex();
    const last = log.lastIndex();
    this.disk.snapshot = encodeSnapshot(log.snapshot());
    this.disk.hardState = encodeHardState(log.initialState().hardState);
    this.disk.offset = { index: first - 1, term: log.term(first - 1) };
    this.disk.entries = last >= first ? log.entries(first, last + 1, Infinity).map(encodeEntry) : [];
  }
}

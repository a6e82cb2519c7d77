// A durable store for testing the suites themselves: core's MemoryStorage in
// front, a Disk of encoded bytes behind. A reopened store reads nothing but
// those bytes, so whatever a save did not write is gone, as after a crash.
import {
  ErrUnavailable,
  MemoryStorage,
  decodeEntry,
  decodeHardState,
  decodeSnapshot,
  encodeEntry,
  encodeHardState,
  encodeSnapshot,
  newEntry,
  type ConfState,
  type DurableStorage,
  type DurableStorageCapabilities,
  type Entry,
  type InitialState,
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

export class DiskStorage implements DurableStorage {
  private log = new MemoryStorage();
  // Saves are written one after another, each after a pause, so that a
  // suite calling save() without waiting sees them applied in call order.
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly disk: Disk,
    readonly capabilities: DurableStorageCapabilities = { durable: true },
  ) {}

  async open(): Promise<void> {
    const log = new MemoryStorage();
    const snap = this.disk.snapshot ? decodeSnapshot(this.disk.snapshot) : undefined;
    if (snap && snap.metadata.index > 0) log.applySnapshot(snap);
    log.ents = [newEntry(this.disk.offset), ...this.disk.entries.map(decodeEntry)];
    if (this.disk.hardState) log.setHardState(decodeHardState(this.disk.hardState));
    this.log = log;
  }

  save(batch: PersistBatch): Promise<void> {
    return this.write(() => {
      if (batch.snapshot && batch.snapshot.metadata.index > 0) this.log.applySnapshot(batch.snapshot);
      this.log.append(batch.entries);
      if (batch.hardState) this.log.setHardState(batch.hardState);
    });
  }

  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    let made: Snapshot | undefined;
    return this.write(() => {
      made = this.log.createSnapshot(index, confState, data);
    }).then(() => made!);
  }

  compact(index: number): Promise<void> {
    return this.write(() => this.log.compact(index));
  }

  async close(): Promise<void> {
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
    const first = this.log.firstIndex();
    const last = this.log.lastIndex();
    this.disk.snapshot = encodeSnapshot(this.log.snapshot());
    this.disk.hardState = encodeHardState(this.log.initialState().hardState);
    this.disk.offset = { index: first - 1, term: this.log.term(first - 1) };
    this.disk.entries = last >= first ? this.log.entries(first, last + 1, Infinity).map(encodeEntry) : [];
  }

  initialState(): InitialState {
    return this.log.initialState();
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
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

// Replays WAL batches, oldest first, into the state they describe: the hard
// state, the newest snapshot recorded, and the log. Later records win: an
// Entry replaces the entry at its index and drops every one after it (a new
// leader overwriting a conflicting suffix), a SnapshotInstall drops the
// whole log. The log starts wherever the oldest kept segment starts; the
// caller checks that it reaches back to the snapshot it loads.
import {
  decodeEntry,
  decodeHardState,
  newHardState,
  type Entry,
  type HardState,
  type SnapshotMetadata,
} from '@raftbus/core';
import { ErrCorruptWAL } from './errors.js';
import { RecordType, decodeSnapshotMetaPayload } from './wal-format.js';
import type { Batch, WalRecord } from './wal-reader.js';

export class Replay {
  hardState: HardState = newHardState();
  /** Contiguous entries; ents[k] has index base + k. */
  ents: Entry[] = [];
  base = 0;
  /** Index of the last installed snapshot: entries at or below it are covered by it. */
  private floor = 0;
  private installed = false;
  /** The snapshot with the highest index any record names: the newest acknowledged one. */
  latest: SnapshotMetadata | undefined;
  batches = 0;

  lastIndex(): number {
    return this.ents.length === 0 ? this.floor : this.base + this.ents.length - 1;
  }

  /** Applies one complete batch; returns the highest entry index in it (0 if none). */
  apply(file: string, batch: Batch): number {
    let maxIndex = 0;
    for (const r of batch.records) {
      switch (r.type) {
        case RecordType.Entry: {
          const e = decode(file, r, decodeEntry);
          maxIndex = Math.max(maxIndex, e.index);
          this.putEntry(file, r, e);
          break;
        }
        case RecordType.HardState:
          this.hardState = decode(file, r, decodeHardState);
          break;
        case RecordType.SnapshotInstall: {
          const md = decode(file, r, decodeSnapshotMetaPayload);
          this.ents = [];
          this.floor = md.index;
          this.base = md.index + 1;
          this.installed = true;
          this.noteSnapshot(md);
          break;
        }
        case RecordType.SnapshotMark:
          this.noteSnapshot(decode(file, r, decodeSnapshotMetaPayload));
          break;
        case RecordType.Commit:
          throw new ErrCorruptWAL(file, r.offset, 'commit record inside a batch');
      }
    }
    this.batches++;
    return maxIndex;
  }

  private noteSnapshot(md: SnapshotMetadata): void {
    if (this.latest === undefined || md.index >= this.latest.index) this.latest = md;
  }

  private putEntry(file: string, r: WalRecord, e: Entry): void {
    if (this.installed && e.index <= this.floor) return;
    if (this.ents.length === 0) {
      if (this.installed && e.index !== this.floor + 1) {
        throw new ErrCorruptWAL(file, r.offset, `entry ${e.index} follows a snapshot at ${this.floor}`);
      }
      this.base = e.index;
      this.ents = [e];
      return;
    }
    const last = this.base + this.ents.length - 1;
    if (e.index > last + 1) throw new ErrCorruptWAL(file, r.offset, `entry ${e.index} follows entry ${last}`);
    if (e.index < this.base) {
      // Overwrites from below what the kept segments hold: everything goes.
      this.base = e.index;
      this.ents = [e];
      return;
    }
    // Drops a conflicting suffix; the usual next entry leaves the length as
    // it is (setting it anyway cost a few percent of a replay).
    const keep = e.index - this.base;
    if (this.ents.length !== keep) this.ents.length = keep;
    this.ents.push(e);
  }
}

function decode<T>(file: string, r: WalRecord, fn: (b: Uint8Array) => T): T {
  try {
    return fn(r.payload);
  } catch (e) {
    // The checksum matched, so these are the bytes that were written: not
    // damage but a writer bug or a foreign file. Refuse either way.
    throw new ErrCorruptWAL(file, r.offset, `undecodable record: ${(e as Error).message}`);
  }
}

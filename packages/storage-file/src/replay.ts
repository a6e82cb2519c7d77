// Replays WAL batches, oldest first, into the state they describe: the hard
// state, the newest snapshot recorded, and the log. Later records win: an
// Entry replaces the entry at its index and drops every one after it (a new
// leader overwriting a conflicting suffix), a SnapshotInstall drops the
// whole log. The log starts wherever the oldest kept segment starts; the
// caller checks that it reaches back to the snapshot it loads.
//
// Entries below `decodeFrom` are followed (their index, for the checks and
// the overwrites above) but not decoded: a segment is deleted only once a
// snapshot covers all of it, so most of a running node's WAL is entries a
// snapshot already holds, and decoding them was most of a restart. The
// caller picks decodeFrom at or below the snapshot it expects to load, and
// replays again from 0 if it loads an older one (skipped() says whether
// anything was left undecoded).
import {
  decodeEntry,
  decodeEntryTermIndex,
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
  /** The decoded entries, contiguous: ents[k] has index base + k. They end where the log ends. */
  ents: Entry[] = [];
  base = 0;
  /** Whether the log holds an entry, decoded or not (false again after a snapshot install). */
  private hasLog = false;
  /** The index of its last entry, decoded or not. ents is its part from decodeFrom on. */
  private last = 0;
  private skippedAny = false;
  /** Index of the last installed snapshot: entries at or below it are covered by it. */
  private floor = 0;
  private installed = false;
  /** The snapshot with the highest index any record names: the newest acknowledged one. */
  latest: SnapshotMetadata | undefined;
  batches = 0;

  constructor(readonly decodeFrom = 0) {}

  lastIndex(): number {
    return this.hasLog ? this.last : this.floor;
  }

  /** Whether an entry below decodeFrom was left undecoded. */
  skipped(): boolean {
    return this.skippedAny;
  }

  /** Applies one complete batch; returns the highest entry index in it (0 if none). */
  apply(file: string, batch: Batch): number {
    let maxIndex = 0;
    for (const r of batch.records) {
      switch (r.type) {
        case RecordType.Entry: {
          // While the log runs below decodeFrom, read where each entry sits
          // first; from there on, decode outright (the next entry is the
          // next index, but for an overwrite from below).
          let e: Entry | undefined;
          let index: number;
          if (this.last + 1 < this.decodeFrom) {
            index = decode(file, r, decodeEntryTermIndex).index;
            if (index >= this.decodeFrom) e = decode(file, r, decodeEntry);
          } else {
            e = decode(file, r, decodeEntry);
            index = e.index;
          }
          maxIndex = Math.max(maxIndex, index);
          this.putEntry(file, r, index, index >= this.decodeFrom ? e : undefined);
          break;
        }
        case RecordType.HardState:
          this.hardState = decode(file, r, decodeHardState);
          break;
        case RecordType.SnapshotInstall: {
          const md = decode(file, r, decodeSnapshotMetaPayload);
          this.ents = [];
          this.hasLog = false;
          this.last = 0;
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

  /** Puts the entry at `index` into the log; `e` is it decoded, undefined below decodeFrom. */
  private putEntry(file: string, r: WalRecord, index: number, e: Entry | undefined): void {
    if (this.installed && index <= this.floor) return;
    if (!this.hasLog) {
      if (this.installed && index !== this.floor + 1) {
        throw new ErrCorruptWAL(file, r.offset, `entry ${index} follows a snapshot at ${this.floor}`);
      }
      this.hasLog = true;
    } else if (index > this.last + 1) {
      throw new ErrCorruptWAL(file, r.offset, `entry ${index} follows entry ${this.last}`);
    }
    this.last = index;
    if (e === undefined) {
      // Every decoded entry is at decodeFrom or above, so after this one: all go.
      this.skippedAny = true;
      if (this.ents.length > 0) this.ents = [];
      return;
    }
    if (this.ents.length === 0 || index < this.base) {
      // The log's first entry from decodeFrom on (what came before, if
      // anything, is below it), or an overwrite from below the decoded part
      // (with decodeFrom 0, from below what the kept segments hold):
      // everything after it goes.
      this.base = index;
      this.ents = [e];
      return;
    }
    // Drops a conflicting suffix; the usual next entry leaves the length as
    // it is (setting it anyway cost a few percent of a replay).
    const keep = index - this.base;
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

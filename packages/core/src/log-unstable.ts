// The part of the log not yet known to be in Storage (etcd-raft's
// log_unstable.go): new entries and an incoming snapshot, held first until
// they are handed out for persistence and then until the write is confirmed,
// so the log still sees them while they are in flight.
import type { Logger } from './logger.js';
import type { Entry, Snapshot } from './raftpb/types.js';
import { cloneSnapshot, type EntryID } from './types.js';

/**
 * entries[i] has log position i + offset. offset may be below the last index
 * in Storage: the next write must then truncate Storage's log first.
 *
 * Arrays handed out (nextEntries, slice) are always fresh copies, so the
 * internal `entries` array may be mutated in place; the Entry objects are
 * shared and must not be modified by anyone (as in etcd).
 */
export class Unstable {
  /** The incoming snapshot, if any. */
  snapshot: Snapshot | undefined = undefined;
  /** All entries not yet written to storage. */
  entries: Entry[] = [];
  /** entries[i] has log position i + offset. */
  offset: number;
  /** The snapshot is being written to storage. */
  snapshotInProgress = false;
  /**
   * entries[0 .. offsetInProgress-offset) are being written to storage.
   * Exclusive like offset. Invariant: offset <= offsetInProgress.
   */
  offsetInProgress: number;

  constructor(
    offset: number,
    readonly logger: Logger,
  ) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  /** Index of the first possible entry in entries, when there is a snapshot. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot !== undefined ? this.snapshot.metadata.index + 1 : undefined;
  }

  /** The last index, when there is at least one unstable entry or a snapshot. */
  maybeLastIndex(): number | undefined {
    const n = this.entries.length;
    if (n !== 0) return this.offset + n - 1;
    return this.snapshot?.metadata.index;
  }

  /** Term of the entry at index i, if the unstable log knows it. */
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }

  /** The unstable entries not already being written to storage (empty if none). */
  nextEntries(): Entry[] {
    const inProgress = this.offsetInProgress - this.offset;
    if (this.entries.length === inProgress) return [];
    return this.entries.slice(inProgress);
  }

  /** Whether nextEntries() would return any, without copying them. */
  hasNextEntries(): boolean {
    return this.entries.length > this.offsetInProgress - this.offset;
  }

  /** A copy of the unstable snapshot, if there is one not already being written. */
  nextSnapshot(): Snapshot | undefined {
    if (this.snapshot === undefined || this.snapshotInProgress) return undefined;
    return cloneSnapshot(this.snapshot);
  }

  /**
   * Marks all current entries and the snapshot as being written to storage:
   * nextEntries/nextSnapshot stop returning them. What is added later is
   * returned again until the next call.
   */
  acceptInProgress(): void {
    const n = this.entries.length;
    if (n > 0) {
      // +1 because offsetInProgress is exclusive, like offset.
      this.offsetInProgress = this.entries[n - 1]!.index + 1;
    }
    if (this.snapshot !== undefined) this.snapshotInProgress = true;
  }

  /**
   * Marks entries up to id as written to stable storage. Only for callers
   * that know no in-progress append can still overwrite them (see raft's
   * newStorageAppendRespMsg).
   */
  stableTo(id: EntryID): void {
    const gt = this.maybeTerm(id.index);
    if (gt === undefined) {
      this.logger.info(`entry at index ${id.index} missing from unstable log; ignoring`);
      return;
    }
    if (id.index < this.offset) {
      // Matched the unstable snapshot, not an entry.
      this.logger.info(`entry at index ${id.index} matched unstable snapshot; ignoring`);
      return;
    }
    if (gt !== id.term) {
      // Part of the unstable log was replaced between the start and the end
      // of the write to stable storage.
      this.logger.info(
        `entry at (index,term)=(${id.index},${id.term}) mismatched with ` +
          `entry at (${id.index},${gt}) in unstable log; ignoring`,
      );
      return;
    }
    const num = id.index + 1 - this.offset;
    this.entries.splice(0, num);
    this.offset = id.index + 1;
    this.offsetInProgress = Math.max(this.offsetInProgress, this.offset);
  }

  stableSnapTo(i: number): void {
    if (this.snapshot !== undefined && this.snapshot.metadata.index === i) {
      this.snapshot = undefined;
      this.snapshotInProgress = false;
    }
  }

  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.offsetInProgress = this.offset;
    this.entries = [];
    this.snapshot = cloneSnapshot(s);
    this.snapshotInProgress = false;
  }

  /** Appends ents (non-empty, contiguous), first dropping any entries at or after ents[0].index. */
  truncateAndAppend(ents: readonly Entry[]): void {
    const fromIndex = ents[0]!.index;
    if (fromIndex === this.offset + this.entries.length) {
      // The next index: append directly. A loop, since push(...ents) overflows
      // the call stack for very long arrays.
      for (const e of ents) this.entries.push(e);
    } else if (fromIndex <= this.offset) {
      this.logger.info(`replace the unstable entries from index ${fromIndex}`);
      // The log is truncated to before our offset: replace everything. Copy so
      // we never alias the caller's array.
      this.entries = ents.slice();
      this.offset = fromIndex;
      this.offsetInProgress = this.offset;
    } else {
      this.logger.info(`truncate the unstable entries before index ${fromIndex}`);
      this.mustCheckOutOfBounds(this.offset, fromIndex);
      this.entries.length = fromIndex - this.offset;
      for (const e of ents) this.entries.push(e);
      // Only in-progress entries before fromIndex are still in progress.
      this.offsetInProgress = Math.min(this.offsetInProgress, fromIndex);
    }
  }

  /**
   * A copy of the entries in [lo, hi), which must all be in the unstable log
   * (otherwise it panics). The Entry objects are shared: do not modify them.
   */
  slice(lo: number, hi: number): Entry[] {
    this.mustCheckOutOfBounds(lo, hi);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }

  /** Panics unless offset <= lo <= hi <= offset + entries.length. */
  mustCheckOutOfBounds(lo: number, hi: number): void {
    if (lo > hi) this.logger.panic(`invalid unstable.slice ${lo} > ${hi}`);
    const upper = this.offset + this.entries.length;
    if (lo < this.offset || hi > upper) {
      this.logger.panic(`unstable.slice[${lo},${hi}) out of bound [${this.offset},${upper}]`);
    }
  }
}

// The raft log (etcd-raft's log.go): Storage's stable entries joined with
// the unstable tail, and the commit / applying / applied cursors over them.
//
// Go's (value, error) returns become thrown errors: ErrCompacted and
// ErrUnavailable where etcd returns them, logger.panic where etcd panics.
import { noLimit } from './config.js';
import { ErrCompacted, ErrUnavailable } from './errors.js';
import type { Logger } from './logger.js';
import { Unstable } from './log-unstable.js';
import type { Entry, Snapshot } from './raftpb/types.js';
import type { Storage } from './storage.js';
import { cloneSnapshot, type EntryID, type LogSlice } from './types.js';
import { entsSize, limitSize } from './util/sizes.js';

export class RaftLog {
  /** All stable entries since the last snapshot. */
  readonly storage: Storage;
  /** Unstable entries and snapshot, to be saved into storage. */
  readonly unstable: Unstable;
  /** The highest log position known to be in stable storage on a quorum. */
  committed: number;
  /**
   * The highest position the application has been told to apply; some of
   * these may still be applying. Advanced when a Ready is accepted.
   * Invariant: applied <= applying <= committed.
   */
  applying: number;
  /** The highest position the application has applied. Invariant: applied <= committed. */
  applied: number;
  readonly logger: Logger;
  /**
   * Limit on the outstanding encoded bytes of entries returned by
   * nextCommittedEnts and not yet acknowledged through appliedTo.
   */
  maxApplyingEntsSize: number;
  /** Outstanding encoded bytes of entries handed out for applying and not yet acknowledged. */
  applyingEntsSize = 0;
  /** Entry application is paused until enough of it is acknowledged. */
  applyingEntsPaused = false;

  constructor(storage: Storage, logger: Logger, maxApplyingEntsSize: number) {
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    this.storage = storage;
    this.unstable = new Unstable(lastIndex + 1, logger);
    this.maxApplyingEntsSize = maxApplyingEntsSize;
    // Start at the time of the last compaction.
    this.committed = firstIndex - 1;
    this.applying = firstIndex - 1;
    this.applied = firstIndex - 1;
    this.logger = logger;
  }

  toString(): string {
    return (
      `committed=${this.committed}, applied=${this.applied}, applying=${this.applying}, ` +
      `unstable.offset=${this.unstable.offset}, unstable.offsetInProgress=${this.unstable.offsetInProgress}, ` +
      `len(unstable.Entries)=${this.unstable.entries.length}`
    );
  }

  /**
   * Appends the slice if its prev entry matches our log, and commits up to
   * min(committed, its last index). Returns that last index, or undefined if
   * prev does not match (Go's (0, false)).
   */
  maybeAppend(a: LogSlice, committed: number): number | undefined {
    if (!this.matchTerm(a.prev)) return undefined;
    const lastnewi = a.prev.index + a.entries.length;
    const ci = this.findConflict(a.entries);
    if (ci === 0) {
      // Everything is already in the log.
    } else if (ci <= this.committed) {
      this.logger.panic(`entry ${ci} conflict with committed entry [committed(${this.committed})]`);
    } else {
      const offset = a.prev.index + 1;
      if (ci - offset > a.entries.length) {
        this.logger.panic(`index, ${ci - offset}, is out of range [${a.entries.length}]`);
      }
      this.append(a.entries.slice(ci - offset));
    }
    this.commitTo(Math.min(committed, lastnewi));
    return lastnewi;
  }

  /**
   * Appends to the unstable log, truncating it at ents[0].index first.
   * Returns the new last index. (Go's variadic append(ents...); an array here
   * since spreading a long array overflows the call stack.)
   */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    if (after < this.committed) {
      this.logger.panic(`after(${after}) is out of range [committed(${this.committed})]`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first of ents (contiguous, increasing indexes) that is
   * not in our log: either a term conflict at an existing index, or the
   * first new entry. 0 if our log already contains all of them.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      // matchTerm(pbEntryID(e)), without building the ID for every entry.
      if (this.maybeTerm(e.index) !== e.term) {
        if (e.index <= this.lastIndex()) {
          const existing = this.zeroTermOnOutOfBounds(e.index);
          this.logger.info(`found conflict at index ${e.index} [existing term: ${existing}, conflicting term: ${e.term}]`);
        }
        return e.index;
      }
    }
    return 0;
  }

  /**
   * A best guess at where this log stops matching another log of which only
   * the (index, term) of one entry is known: the largest guessIndex <= index
   * with term(guessIndex) <= term or unknown (compacted or not yet stored),
   * together with term(guessIndex), or term 0 when that is unknown. Used to
   * resolve log conflicts after a rejected append. (Go returns the pair.)
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (; index > 0; index--) {
      // Compacted or unavailable: whether it matches is unknown, so assume it
      // may and report the term as unknown.
      const ourTerm = this.maybeTerm(index);
      if (ourTerm === undefined) return { index, term: 0 };
      if (ourTerm <= term) return { index, term: ourTerm };
    }
    return { index: 0, term: 0 };
  }

  /** Entries ready to be written to the local stable log and not already in progress. */
  nextUnstableEnts(): Entry[] {
    return this.unstable.nextEntries();
  }

  hasNextUnstableEnts(): boolean {
    return this.unstable.hasNextEntries();
  }

  /** Whether any entries are waiting to be written to stable storage or being written. */
  hasNextOrInProgressUnstableEnts(): boolean {
    return this.unstable.entries.length > 0;
  }

  /**
   * Committed entries ready to be applied (empty if none), within the
   * applying size budget. Entries can be committed before this node has
   * persisted them; they are returned only if allowUnstable.
   */
  nextCommittedEnts(allowUnstable: boolean): Entry[] {
    // Outstanding size limit reached.
    if (this.applyingEntsPaused) return [];
    // See hasNextCommittedEnts.
    if (this.hasNextOrInProgressSnapshot()) return [];
    const lo = this.applying + 1;
    const hi = this.maxAppliableIndex(allowUnstable) + 1; // [lo, hi)
    if (lo >= hi) return [];
    const maxSize = this.maxApplyingEntsSize - this.applyingEntsSize;
    if (maxSize <= 0) {
      this.logger.panic(
        `applying entry size (${this.maxApplyingEntsSize}-${this.applyingEntsSize})=${maxSize} not positive`,
      );
    }
    try {
      return this.slice(lo, hi, maxSize);
    } catch (e) {
      if (e instanceof ErrCompacted) {
        this.logger.panic(`unexpected error when getting unapplied entries (${e.message})`);
      }
      throw e;
    }
  }

  /** Whether nextCommittedEnts would return anything, without reading the entries. */
  hasNextCommittedEnts(allowUnstable: boolean): boolean {
    if (this.applyingEntsPaused) return false;
    // With a snapshot to apply, handing out committed entries too would leave
    // open which to apply first.
    if (this.hasNextOrInProgressSnapshot()) return false;
    const lo = this.applying + 1;
    const hi = this.maxAppliableIndex(allowUnstable) + 1; // [lo, hi)
    return lo < hi;
  }

  /** The highest committed index that may be applied; without allowUnstable, only stable entries. */
  maxAppliableIndex(allowUnstable: boolean): number {
    let hi = this.committed;
    if (!allowUnstable) hi = Math.min(hi, this.unstable.offset - 1);
    return hi;
  }

  /** A copy of the snapshot waiting to be written to storage and not already in progress. */
  nextUnstableSnapshot(): Snapshot | undefined {
    return this.unstable.nextSnapshot();
  }

  hasNextUnstableSnapshot(): boolean {
    return this.unstable.snapshot !== undefined && !this.unstable.snapshotInProgress;
  }

  /** Whether a snapshot is waiting to be applied or being applied. */
  hasNextOrInProgressSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  /** The latest snapshot (a copy if unstable). Throws ErrSnapshotTemporarilyUnavailable from storage. */
  snapshot(): Snapshot {
    if (this.unstable.snapshot !== undefined) return cloneSnapshot(this.unstable.snapshot);
    return this.storage.snapshot();
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  commitTo(tocommit: number): void {
    // Never decrease commit.
    if (this.committed < tocommit) {
      if (this.lastIndex() < tocommit) {
        this.logger.panic(
          `tocommit(${tocommit}) is out of range [lastIndex(${this.lastIndex()})]. ` +
            'Was the raft log corrupted, truncated, or lost?',
        );
      }
      this.committed = tocommit;
    }
  }

  /** The application applied up to i; size is the encoded size of the entries it acknowledges. */
  appliedTo(i: number, size: number): void {
    if (this.committed < i || i < this.applied) {
      this.logger.panic(`applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    }
    this.applied = i;
    this.applying = Math.max(this.applying, i);
    // Clamp at 0 so bad accounting cannot go negative (Go guards uint64 underflow).
    this.applyingEntsSize = this.applyingEntsSize > size ? this.applyingEntsSize - size : 0;
    this.applyingEntsPaused = this.applyingEntsSize >= this.maxApplyingEntsSize;
  }

  /** Entries up to i, of encoded size `size`, were handed to the application for applying. */
  acceptApplying(i: number, size: number, allowUnstable: boolean): void {
    if (this.committed < i) {
      this.logger.panic(
        `applying(${i}) is out of range [prevApplying(${this.applying}), committed(${this.committed})]`,
      );
    }
    this.applying = i;
    this.applyingEntsSize += size;
    // Pause when the outstanding size reaches the limit, or when the next
    // entry would push it over: nextCommittedEnts then stopped short of the
    // highest appliable index because of the limit.
    this.applyingEntsPaused =
      this.applyingEntsSize >= this.maxApplyingEntsSize || i < this.maxAppliableIndex(allowUnstable);
  }

  stableTo(id: EntryID): void {
    this.unstable.stableTo(id);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  /**
   * The application started persisting the current unstable entries and
   * snapshot: mark them in progress so later Readys do not return them again.
   */
  acceptUnstable(): void {
    this.unstable.acceptInProgress();
  }

  /** The term of the last entry (not in etcd's current log.go; lastEntryID().term). */
  lastTerm(): number {
    return this.lastEntryID().term;
  }

  /** The ID of the last entry in the log. */
  lastEntryID(): EntryID {
    const index = this.lastIndex();
    try {
      return { term: this.term(index), index };
    } catch (e) {
      if (e instanceof ErrCompacted || e instanceof ErrUnavailable) {
        this.logger.panic(`unexpected error when getting the last term at ${index}: ${e.message}`);
      }
      throw e;
    }
  }

  /**
   * The term of entry i, for i in [firstIndex()-1, lastIndex()]: the term of
   * the entry just before firstIndex is kept for matching even though the
   * entry itself is compacted. Throws ErrCompacted below that range and
   * ErrUnavailable above it; any other storage error propagates.
   */
  term(i: number): number {
    // The unstable log first: it needs no Storage call, and a hit there is
    // always in the valid range.
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    if (i + 1 < this.firstIndex()) throw new ErrCompacted();
    if (i > this.lastIndex()) throw new ErrUnavailable();
    return this.storage.term(i);
  }

  /**
   * term(i), or undefined where term(i) would throw ErrCompacted or
   * ErrUnavailable. For hot paths (matching, conflict search) that treat an
   * out-of-range index as a plain miss, without building an Error.
   */
  maybeTerm(i: number): number | undefined {
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    if (i + 1 < this.firstIndex() || i > this.lastIndex()) return undefined;
    try {
      return this.storage.term(i);
    } catch (e) {
      if (e instanceof ErrCompacted || e instanceof ErrUnavailable) return undefined;
      throw e;
    }
  }

  /**
   * Entries from i to the end, up to maxSize encoded bytes (at least one).
   * Empty if i > lastIndex(); throws ErrCompacted if i is compacted.
   */
  entries(i: number, maxSize: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxSize);
  }

  /** All entries in the log. */
  allEntries(): Entry[] {
    for (;;) {
      try {
        return this.entries(this.firstIndex(), noLimit);
      } catch (e) {
        // Retry after a compaction that raced with the read.
        if (!(e instanceof ErrCompacted)) throw e;
      }
    }
  }

  /**
   * Whether a log whose last entry is `their` is at least as up to date as
   * ours: a later last term wins, and on equal terms the longer log.
   */
  isUpToDate(their: EntryID): boolean {
    const our = this.lastEntryID();
    return their.term > our.term || (their.term === our.term && their.index >= our.index);
  }

  matchTerm(id: EntryID): boolean {
    return this.maybeTerm(id.index) === id.term;
  }

  maybeCommit(at: EntryID): boolean {
    // A commit's term is never 0 (a leader campaigned at term >= 1); if it is,
    // do not count it as a match.
    if (at.term !== 0 && at.index > this.committed && this.matchTerm(at)) {
      this.commitTo(at.index);
      return true;
    }
    return false;
  }

  restore(s: Snapshot): void {
    this.logger.info(
      `log [${this.toString()}] starts to restore snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`,
    );
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /**
   * Visits the entries in [lo, hi) in consecutive pages of up to pageSize
   * encoded bytes (more only when one entry alone is larger). The visitor
   * returns true to stop early (etcd's errBreak); scan then returns true.
   * Throws ErrCompacted (possibly after some pages were visited) if part of
   * the range is missing; whatever the visitor throws propagates.
   */
  scan(lo: number, hi: number, pageSize: number, v: (ents: Entry[]) => boolean | void): boolean {
    while (lo < hi) {
      const ents = this.slice(lo, hi, pageSize);
      if (ents.length === 0) throw new Error(`got 0 entries in [${lo}, ${hi})`);
      if (v(ents) === true) return true;
      lo += ents.length;
    }
    return false;
  }

  /**
   * Entries in [lo, hi), up to maxSize encoded bytes but at least one.
   * Throws ErrCompacted if lo is compacted; panics if hi is past the log.
   * The returned array is the caller's; its entries must not be modified.
   */
  slice(lo: number, hi: number, maxSize: number): Entry[] {
    this.mustCheckOutOfBounds(lo, hi);
    if (lo === hi) return [];
    const offset = this.unstable.offset;
    // Without a limit there is nothing to measure (limitSize would return the entries as they are).
    if (lo >= offset) return maxSize === noLimit ? this.unstable.slice(lo, hi) : limitSize(this.unstable.slice(lo, hi), maxSize);

    const cut = Math.min(hi, offset);
    let ents: Entry[];
    try {
      ents = this.storage.entries(lo, cut, maxSize);
    } catch (e) {
      if (e instanceof ErrUnavailable) this.logger.panic(`entries[${lo}:${cut}) is unavailable from storage`);
      throw e;
    }
    if (hi <= offset) return ents;
    if (maxSize === noLimit) return ents.concat(this.unstable.slice(offset, hi));

    // Fast path: storage returned fewer entries than asked, so the next one
    // would exceed the limit (or a single entry already reaches it).
    if (ents.length < cut - lo) return ents;
    // Slow path: the exact size, so the unstable part is cut optimally.
    const size = entsSize(ents);
    if (size >= maxSize) return ents;

    const unstable = limitSize(this.unstable.slice(offset, hi), maxSize - size);
    // limitSize exceeds its budget only with a single entry; leave that one out.
    if (unstable.length === 1 && size + entsSize(unstable) > maxSize) return ents;
    return ents.concat(unstable);
  }

  /**
   * Checks firstIndex() <= lo <= hi <= lastIndex()+1: throws ErrCompacted if
   * lo is below the first index, panics on the other violations.
   */
  mustCheckOutOfBounds(lo: number, hi: number): void {
    if (lo > hi) this.logger.panic(`invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw new ErrCompacted();
    const length = this.lastIndex() + 1 - fi;
    if (hi > fi + length) {
      this.logger.panic(`slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`);
    }
  }

  /**
   * term(i), or 0 if i is compacted or not yet in the log. (Go passes the
   * (term, err) result of term(i); here it takes the index.)
   */
  zeroTermOnOutOfBounds(i: number): number {
    return this.maybeTerm(i) ?? 0;
  }
}

/** A log over storage with no limit on the size of entries being applied. */
export function newLog(storage: Storage, logger: Logger): RaftLog {
  return new RaftLog(storage, logger, noLimit);
}

/**
 * A log over storage, starting committed and applied at the last compaction,
 * limiting the outstanding encoded bytes of entries handed out for applying.
 */
export function newLogWithSize(storage: Storage, logger: Logger, maxApplyingEntsSize: number): RaftLog {
  return new RaftLog(storage, logger, maxApplyingEntsSize);
}

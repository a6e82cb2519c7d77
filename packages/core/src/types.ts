// Log positions and log slices (etcd-raft's types.go), plus the snapshot
// copying that log.ts, log-unstable.ts and storage.ts share in place of Go's
// proto.Clone.
import type { ConfState, Entry, Snapshot } from './raftpb/types.js';

/**
 * Uniquely identifies a raft log entry: a leader never issues two entries
 * with the same index in one term, and there is one leader per term.
 */
export interface EntryID {
  term: number;
  index: number;
}

/** The ID of the given entry. */
export function pbEntryID(entry: Entry): EntryID {
  return { term: entry.term, index: entry.index };
}

// Go's %+v of an entryID, which etcd's error texts print.
function formatEntryID(id: EntryID): string {
  return `{term:${id.term} index:${id.index}}`;
}

/**
 * A correct slice of a raft log, in the context of the leader term `term`
 * (which may be above the entries' own terms: a leader's log holds entries
 * of earlier terms too). Two slices with the same `term` never disagree at an
 * index.
 *
 * A well-formed slice has:
 *  1. entries[i].index === prev.index + 1 + i,
 *  2. prev.term <= entries[0].term,
 *  3. entries[i-1].term <= entries[i].term,
 *  4. entries[len-1].term <= term.
 *
 * Code that builds a slice from outside input (a message, Storage, a test)
 * checks these with valid(); everything downstream assumes them.
 */
export class LogSlice {
  /** The leader term whose log contains these entries. */
  term: number;
  /** The entry immediately before `entries`. */
  prev: EntryID;
  entries: Entry[];

  constructor(term: number, prev: EntryID, entries: Entry[]) {
    this.term = term;
    this.prev = prev;
    this.entries = entries;
  }

  /** Index of the last entry, or prev.index when there are none. */
  lastIndex(): number {
    return this.prev.index + this.entries.length;
  }

  /** ID of the last entry, or prev when there are none. */
  lastEntryID(): EntryID {
    const n = this.entries.length;
    return n !== 0 ? pbEntryID(this.entries[n - 1]!) : this.prev;
  }

  /** Throws an Error (etcd's text) unless the slice is well-formed (see the class comment). */
  valid(): void {
    let prev = this.prev;
    for (const e of this.entries) {
      const id = pbEntryID(e);
      if (id.term < prev.term || id.index !== prev.index + 1) {
        throw new Error(
          `leader term ${this.term}: entries ${formatEntryID(prev)} and ${formatEntryID(id)} not consistent`,
        );
      }
      prev = id;
    }
    if (this.term < prev.term) {
      throw new Error(`leader term ${this.term}: entry ${formatEntryID(prev)} has a newer term`);
    }
  }
}

export function cloneConfState(cs: ConfState): ConfState {
  return {
    voters: cs.voters.slice(),
    learners: cs.learners.slice(),
    votersOutgoing: cs.votersOutgoing.slice(),
    learnersNext: cs.learnersNext.slice(),
    autoLeave: cs.autoLeave,
  };
}

/**
 * A deep copy, as Go's proto.Clone makes: the log and storage hand out and
 * keep snapshots that the caller may otherwise mutate under them.
 */
export function cloneSnapshot(s: Snapshot): Snapshot {
  return {
    data: s.data.length === 0 ? s.data : s.data.slice(),
    metadata: {
      confState: cloneConfState(s.metadata.confState),
      index: s.metadata.index,
      term: s.metadata.term,
    },
  };
}

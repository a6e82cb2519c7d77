// Raft's safety properties, checked incrementally as the simulation runs.
// Each check sees every event of its kind over the whole run (all nodes,
// all incarnations), so a property that is broken even briefly is caught.
import { StateType, type Entry, type RawNode } from '@raftbus/core';
import { entryKey } from './state-machine.js';
import { PropertyError } from './violation.js';

interface CommittedEntry {
  term: number;
  key: string;
  /**
   * The lowest term of a node seen handing this entry out as committed: the
   * entry was committed by a leader of this term or earlier, so every leader
   * of a later term must hold it.
   */
  commitTerm: number;
}

export class SafetyChecker {
  /** The leader of each term. */
  private readonly leaders = new Map<number, number>();
  /** Every entry ever written to a stable log, by index then term: its key and the term before it. */
  private readonly written = new Map<number, Map<number, { key: string; prevTerm: number | undefined }>>();
  private readonly committed = new Map<number, CommittedEntry>();
  private maxCommitted = 0;
  /** The state-machine digest after applying each index. */
  private readonly states = new Map<number, number>();
  /** How far each leader (id/term) was checked against the committed entries. */
  private readonly leaderChecked = new Map<string, number>();

  /** Election safety: at most one leader per term. Cheap; call after anything that steps raft. */
  observeRole(node: RawNode): void {
    const r = node.raft;
    if (r.state !== StateType.StateLeader) return;
    const prev = this.leaders.get(r.term);
    if (prev === undefined) this.leaders.set(r.term, r.id);
    else if (prev !== r.id) throw new PropertyError('election-safety', `nodes ${prev} and ${r.id} both leader in term ${r.term}`);
  }

  /**
   * Log matching: entries with the same index and term are identical and
   * follow the same term, so (by induction) logs agreeing at an index agree
   * on the whole prefix. `termBefore` gives the term of the entry before
   * each written one, in the writer's log after the write.
   */
  observeWrite(id: number, ents: readonly Entry[], termBefore: (index: number) => number | undefined): void {
    for (const e of ents) {
      const key = entryKey(e);
      const prevTerm = termBefore(e.index - 1);
      let byTerm = this.written.get(e.index);
      if (byTerm === undefined) this.written.set(e.index, (byTerm = new Map()));
      const seen = byTerm.get(e.term);
      if (seen === undefined) {
        byTerm.set(e.term, { key, prevTerm });
        continue;
      }
      if (seen.key !== key) {
        throw new PropertyError('log-matching', `node ${id} wrote index ${e.index} term ${e.term} as ${key}, elsewhere ${seen.key}`);
      }
      if (seen.prevTerm !== undefined && prevTerm !== undefined && seen.prevTerm !== prevTerm) {
        throw new PropertyError(
          'log-matching',
          `node ${id} has index ${e.index} term ${e.term} after term ${prevTerm}, elsewhere after term ${seen.prevTerm}`,
        );
      }
      if (seen.prevTerm === undefined) seen.prevTerm = prevTerm;
    }
  }

  /** Entries a node hands out as committed (to apply): no two nodes may commit different entries at an index. */
  observeCommitted(id: number, nodeTerm: number, ents: readonly Entry[]): void {
    for (const e of ents) {
      const key = entryKey(e);
      const seen = this.committed.get(e.index);
      if (seen === undefined) {
        this.committed.set(e.index, { term: e.term, key, commitTerm: nodeTerm });
        if (e.index > this.maxCommitted) this.maxCommitted = e.index;
        continue;
      }
      if (seen.key !== key) {
        throw new PropertyError('state-machine-safety', `node ${id} committed index ${e.index} as ${key}, elsewhere ${seen.key}`);
      }
      if (nodeTerm < seen.commitTerm) seen.commitTerm = nodeTerm;
    }
  }

  /**
   * State machine safety at apply time: a node applies only the entry
   * committed at that index, and reaches the same state as every other.
   */
  observeApplied(id: number, e: Entry, digest: number): void {
    const seen = this.committed.get(e.index);
    const key = entryKey(e);
    if (seen === undefined) throw new PropertyError('state-machine-safety', `node ${id} applied index ${e.index} (${key}) never committed`);
    if (seen.key !== key) throw new PropertyError('state-machine-safety', `node ${id} applied index ${e.index} as ${key}, committed ${seen.key}`);
    const state = this.states.get(e.index);
    if (state === undefined) this.states.set(e.index, digest);
    else if (state !== digest) {
      throw new PropertyError('state-machine-safety', `node ${id} reached state ${digest.toString(16)} at index ${e.index}, elsewhere ${state.toString(16)}`);
    }
  }

  /**
   * Leader completeness: a leader of term T holds every entry committed in
   * an earlier term (those below its first index are in its snapshot).
   */
  checkLeader(node: RawNode): void {
    const r = node.raft;
    if (r.state !== StateType.StateLeader) return;
    const k = `${r.id}/${r.term}`;
    const from = (this.leaderChecked.get(k) ?? 0) + 1;
    const log = r.raftLog;
    const first = log.firstIndex();
    for (let i = Math.max(from, first); i <= this.maxCommitted; i++) {
      const c = this.committed.get(i);
      if (c === undefined || c.commitTerm >= r.term) continue;
      const t = log.maybeTerm(i);
      if (t !== c.term) {
        throw new PropertyError(
          'leader-completeness',
          `leader ${r.id} of term ${r.term} has ${t === undefined ? 'no entry' : `term ${t}`} at index ${i}, committed in term ${c.term}`,
        );
      }
    }
    this.leaderChecked.set(k, this.maxCommitted);
  }

  /**
   * Read safety: a linearizable read (ReadIndex) must be answered at an
   * index no lower than any entry committed before the client asked, or it
   * could miss a write that had already been acknowledged.
   */
  observeRead(id: number, read: string, index: number, committedWhenAsked: number): void {
    if (index < committedWhenAsked) {
      throw new PropertyError('read-safety', `node ${id} answered read ${read} at index ${index}, but index ${committedWhenAsked} was committed before it was asked`);
    }
  }

  get highestCommitted(): number {
    return this.maxCommitted;
  }
}

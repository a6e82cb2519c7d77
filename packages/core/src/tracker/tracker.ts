// The active configuration and what the leader knows about each peer in it
// (etcd's tracker.Config and tracker.ProgressTracker).
import { newConfState, type ConfState } from '../raftpb/types.js';
import { JointConfig } from '../quorum/joint.js';
import { MajorityConfig } from '../quorum/majority.js';
import { type AckedIndexer, type Index, VoteResult } from '../quorum/quorum.js';
import type { Progress, ProgressMap } from './progress.js';

export interface TrackerConfig {
  voters: JointConfig;
  /**
   * The configuration is joint and raft should leave it by itself as soon as
   * possible. Only meaningful (and only allowed) while joint.
   */
  autoLeave: boolean;
  /** Learners; never overlaps with either half of voters. */
  learners: Set<number>;
  /**
   * Voters of the outgoing config being demoted to learners: they cannot be
   * learners while still voting, so they move to learners on leaving joint.
   * Empty unless joint.
   */
  learnersNext: Set<number>;
}

export function newTrackerConfig(): TrackerConfig {
  return { voters: new JointConfig(), autoLeave: false, learners: new Set(), learnersNext: new Set() };
}

/**
 * etcd's Config.String(), e.g. "voters=(1 2)&&(1) learners=(3) autoleave".
 * etcd prints learner sets when non-nil, which its code keeps equivalent to
 * non-empty.
 */
export function trackerConfigToString(c: TrackerConfig): string {
  let buf = `voters=${c.voters.toString()}`;
  if (c.learners.size > 0) buf += ` learners=${new MajorityConfig(c.learners).toString()}`;
  if (c.learnersNext.size > 0) buf += ` learners_next=${new MajorityConfig(c.learnersNext).toString()}`;
  if (c.autoLeave) buf += ' autoleave';
  return buf;
}

/**
 * etcd's Config.Clone(): a copy sharing no memory with `c`, except that, as
 * in etcd, autoLeave is not carried over (it comes back false). The Changer
 * sets it afresh on every operation, and etcd's Status.Config never shows it.
 */
export function cloneTrackerConfig(c: TrackerConfig): TrackerConfig {
  return {
    voters: new JointConfig(new MajorityConfig(c.voters.incoming), new MajorityConfig(c.voters.outgoing)),
    autoLeave: false,
    learners: new Set(c.learners),
    learnersNext: new Set(c.learnersNext),
  };
}

function sortedIds(ids: Iterable<number>): number[] {
  const out: number[] = [];
  let ascending = true;
  for (const id of ids) {
    if (out.length > 0 && out[out.length - 1]! > id) ascending = false;
    out.push(id);
  }
  // Peers are usually added in id order, so the sort is usually skipped.
  return ascending ? out : out.sort((a, b) => a - b);
}

export interface VoteTally {
  granted: number;
  rejected: number;
  result: VoteResult;
}

/** Also the AckedIndexer of the voters' match indexes, so computing the commit index allocates nothing. */
export class ProgressTracker implements AckedIndexer {
  config: TrackerConfig = newTrackerConfig();
  progress: ProgressMap = new Map();
  votes: Map<number, boolean> = new Map();
  /** sortedIds() of `progress` as last computed; checked against the map on every use. */
  private idsCache: { progress: ProgressMap; ids: number[] } | undefined = undefined;

  constructor(
    public maxInflight: number,
    public maxInflightBytes: number,
  ) {}

  // Shorthands for the config's fields (etcd embeds Config in the tracker).
  get voters(): JointConfig {
    return this.config.voters;
  }
  get autoLeave(): boolean {
    return this.config.autoLeave;
  }
  get learners(): Set<number> {
    return this.config.learners;
  }
  get learnersNext(): Set<number> {
    return this.config.learnersNext;
  }

  /** cloneTrackerConfig of the active config (what etcd's Status carries). */
  cloneConfig(): TrackerConfig {
    return cloneTrackerConfig(this.config);
  }

  /** The active configuration as a ConfState (ids sorted). */
  confState(): ConfState {
    return newConfState({
      voters: this.voters.incoming.slice(),
      votersOutgoing: this.voters.outgoing.slice(),
      learners: sortedIds(this.learners),
      learnersNext: sortedIds(this.learnersNext),
      autoLeave: this.autoLeave,
    });
  }

  /** True iff there is exactly one voter (the leader) and the config is not joint. */
  isSingleton(): boolean {
    return this.voters.incoming.size === 1 && this.voters.outgoing.size === 0;
  }

  /** The largest index known to be committed, from the voters' match indexes. */
  committed(): Index {
    return this.voters.committedIndex(this);
  }

  /** A voter's match index (AckedIndexer). */
  ackedIndex(id: number): Index | undefined {
    return this.progress.get(id)?.match;
  }

  /**
   * The ids of the tracked peers, ascending. Shared and reused while the
   * peers stay the same: do not modify it. (The leader walks it once per
   * proposal; tests and conf changes may change the map in place, so the
   * cache is checked each time: same map, same size, every id still there.)
   */
  sortedIds(): readonly number[] {
    const progress = this.progress;
    const c = this.idsCache;
    if (c !== undefined && c.progress === progress && c.ids.length === progress.size) {
      let same = true;
      for (const id of c.ids) {
        if (!progress.has(id)) {
          same = false;
          break;
        }
      }
      if (same) return c.ids;
    }
    const ids = sortedIds(progress.keys());
    this.idsCache = { progress, ids };
    return ids;
  }

  /** Calls fn for every tracked peer in ascending id order. */
  visit(fn: (id: number, pr: Progress) => void): void {
    // sortedIds() is never modified in place, so fn may change the peers.
    for (const id of this.sortedIds()) {
      const pr = this.progress.get(id);
      // fn may have removed a later peer; etcd would hand it a nil Progress.
      if (pr !== undefined) fn(id, pr);
    }
  }

  /** Whether a quorum of voters has been recently active. */
  quorumActive(): boolean {
    const votes = new Map<number, boolean>();
    this.visit((id, pr) => {
      if (!pr.isLearner) votes.set(id, pr.recentActive);
    });
    return this.voters.voteResult(votes) === VoteResult.VoteWon;
  }

  /** The voters of both halves, sorted. */
  voterNodes(): number[] {
    return sortedIds(this.voters.ids());
  }

  /** The learners, sorted. */
  learnerNodes(): number[] {
    return sortedIds(this.learners);
  }

  /** Prepares for a new round of vote counting. */
  resetVotes(): void {
    this.votes = new Map();
  }

  /** Records id's vote; only the first vote of a round counts. */
  recordVote(id: number, v: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, v);
  }

  /**
   * Counts granted and rejected votes of the tracked voters (votes from peers
   * no longer in the config don't count) and the election's outcome.
   */
  tallyVotes(): VoteTally {
    let granted = 0;
    let rejected = 0;
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: this.voters.voteResult(this.votes) };
  }
}

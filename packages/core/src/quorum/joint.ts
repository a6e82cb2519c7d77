// Two majority configs that must both agree (etcd's JointConfig). The
// outgoing half is empty unless a configuration change is in progress.
import { MajorityConfig } from './majority.js';
import { type AckedIndexer, type Index, VoteResult } from './quorum.js';

export class JointConfig {
  constructor(
    public incoming: MajorityConfig = new MajorityConfig(),
    public outgoing: MajorityConfig = new MajorityConfig(),
  ) {}

  /** "(1 2 3)" or, when joint, "(1 2 3)&&(1 2 4)". */
  toString(): string {
    return this.outgoing.size > 0 ? `${this.incoming}&&${this.outgoing}` : this.incoming.toString();
  }

  /** A new set of every voter in either half. */
  ids(): Set<number> {
    return new Set([...this.incoming, ...this.outgoing]);
  }

  describe(l: AckedIndexer): string {
    return new MajorityConfig(this.ids()).describe(l);
  }

  /** The largest index committed in both halves. */
  committedIndex(l: AckedIndexer): Index {
    return Math.min(this.incoming.committedIndex(l), this.outgoing.committedIndex(l));
  }

  /** Both halves must win; either losing loses. */
  voteResult(votes: ReadonlyMap<number, boolean>): VoteResult {
    const r1 = this.incoming.voteResult(votes);
    const r2 = this.outgoing.voteResult(votes);
    if (r1 === r2) return r1;
    if (r1 === VoteResult.VoteLost || r2 === VoteResult.VoteLost) return VoteResult.VoteLost;
    return VoteResult.VotePending;
  }
}

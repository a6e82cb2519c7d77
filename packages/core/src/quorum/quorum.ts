// Shared vocabulary of the quorum package: log positions, the lookup of what
// each voter has acknowledged, and the outcome of a vote.

/** A Raft log position. */
export type Index = number;

/**
 * What an empty majority config "commits" (etcd's math.MaxUint64): larger
 * than any real index, so joining it with another config leaves the other in
 * charge. It stays a safe integer so it never turns arithmetic into NaN or
 * Infinity; `indexToString` prints it as etcd does ("∞").
 */
export const MaxIndex: Index = Number.MAX_SAFE_INTEGER;

/** etcd's Index.String(). */
export function indexToString(i: Index): string {
  return i === MaxIndex ? '∞' : String(i);
}

/** Looks up the index a voter has acknowledged; undefined when unknown. */
export interface AckedIndexer {
  ackedIndex(voterId: number): Index | undefined;
}

/** An AckedIndexer backed by a map (etcd's mapAckIndexer). */
export function mapAckIndexer(m: ReadonlyMap<number, Index>): AckedIndexer {
  return { ackedIndex: (id) => m.get(id) };
}

/** The outcome of a vote; values are etcd's. */
export enum VoteResult {
  /** Neither "yes" nor "no" has reached quorum yet. */
  VotePending = 1,
  /** The quorum has voted "no". */
  VoteLost = 2,
  /** The quorum has voted "yes". */
  VoteWon = 3,
}

/** etcd's stringer output for VoteResult, including the out-of-range form. */
export function voteResultToString(r: VoteResult): string {
  return VoteResult[r] ?? `VoteResult(${r})`;
}

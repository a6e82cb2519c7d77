// etcd-raft's raftpb/confstate.go.
import type { ConfState } from './types.js';

function sorted(ids: readonly number[]): number[] {
  return [...ids].sort((a, b) => a - b);
}

function sortedConfState(cs: ConfState): ConfState {
  return {
    voters: sorted(cs.voters),
    learners: sorted(cs.learners),
    votersOutgoing: sorted(cs.votersOutgoing),
    learnersNext: sorted(cs.learnersNext),
    autoLeave: cs.autoLeave,
  };
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Go's `%#v` of a []uint64: hex elements, and `(nil)` for an empty slice. */
function goIds(ids: readonly number[]): string {
  if (ids.length === 0) return '[]uint64(nil)';
  return `[]uint64{${ids.map((id) => `0x${id.toString(16)}`).join(', ')}}`;
}

/** Go's `%+#v` of a raftpb.ConfState. */
function goConfState(cs: ConfState): string {
  return (
    `raftpb.ConfState{Voters:${goIds(cs.voters)}, Learners:${goIds(cs.learners)}, ` +
    `VotersOutgoing:${goIds(cs.votersOutgoing)}, LearnersNext:${goIds(cs.learnersNext)}, AutoLeave:${cs.autoLeave}}`
  );
}

/**
 * etcd's ConfState.Equivalent: returns if `a` and `b` describe the same
 * configuration (the id lists compared as sets, in any order), and throws an
 * Error with etcd's message otherwise. etcd prints an empty input list as a
 * nil slice, `[]uint64(nil)`, as we do (we cannot tell nil from empty).
 */
export function confStateEquivalent(a: ConfState, b: ConfState): void {
  const sa = sortedConfState(a);
  const sb = sortedConfState(b);
  if (
    sameIds(sa.voters, sb.voters) &&
    sameIds(sa.learners, sb.learners) &&
    sameIds(sa.votersOutgoing, sb.votersOutgoing) &&
    sameIds(sa.learnersNext, sb.learnersNext) &&
    sa.autoLeave === sb.autoLeave
  ) {
    return;
  }
  throw new Error(
    `ConfStates not equivalent after sorting:\n${goConfState(sa)}\n${goConfState(sb)}\n` +
      `Inputs were:\n${goConfState(a)}\n${goConfState(b)}`,
  );
}

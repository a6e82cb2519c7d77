// Rebuilding a configuration from a ConfState (etcd's confchange.Restore).
import { ConfChangeType, type ConfChangeSingle, type ConfState } from '../raftpb/types.js';
import type { ProgressMap } from '../tracker/progress.js';
import { cloneTrackerConfig } from '../tracker/tracker.js';
import { Changer, type ChangeResult } from './confchange.js';

/**
 * Translates a ConfState into changes that rebuild it from an empty config:
 * `outgoing` creates (by simple changes) the config that will become the
 * outgoing half, and `incoming`, applied on top while entering joint,
 * produces the ConfState. For voters=(1 2 3) learners=(5)
 * outgoing=(1 2 4 6) learners_next=(4) that is
 *
 *   outgoing: v1 v2 v4 v6
 *   incoming: r1 r2 r4 r6 v1 v2 v3 l5 l4
 *
 * Whether 5 was a learner before the joint config can't be told; it doesn't
 * matter.
 */
export function toConfChangeSingle(cs: ConfState): { outgoing: ConfChangeSingle[]; incoming: ConfChangeSingle[] } {
  const cc = (type: ConfChangeType, nodeId: number): ConfChangeSingle => ({ type, nodeId });
  const outgoing = cs.votersOutgoing.map((id) => cc(ConfChangeType.ConfChangeAddNode, id));
  const incoming = [
    // Remove the outgoing voters first, then add the incoming config.
    ...cs.votersOutgoing.map((id) => cc(ConfChangeType.ConfChangeRemoveNode, id)),
    ...cs.voters.map((id) => cc(ConfChangeType.ConfChangeAddNode, id)),
    ...cs.learners.map((id) => cc(ConfChangeType.ConfChangeAddLearnerNode, id)),
    // Voters of the outgoing config that are to become learners.
    ...cs.learnersNext.map((id) => cc(ConfChangeType.ConfChangeAddLearnerNode, id)),
  ];
  return { outgoing, incoming };
}

/**
 * Enacts the configuration described by `cs`, starting from `chg`, which must
 * represent an empty configuration. `chg` itself is not modified.
 */
export function restore(chg: Changer, cs: ConfState): ChangeResult {
  const { outgoing, incoming } = toConfChangeSingle(cs);
  type Op = (c: Changer) => ChangeResult;
  const simple = (cc: ConfChangeSingle): Op => (c) => c.simple(cc);
  const ops: Op[] =
    outgoing.length === 0
      ? // Not joint: apply the incoming changes one by one.
        incoming.map(simple)
      : // Joint: first build the outgoing config as if it were the only one,
        // e.g. (2 3 4)&&() for (1 2 3)&&(2 3 4), then enter joint, which turns
        // it into the outgoing half and applies the incoming changes.
        [...outgoing.map(simple), (c) => c.enterJoint(cs.autoLeave, ...incoming)];

  // Chain the steps, each starting from the previous one's result.
  let last: ChangeResult | undefined;
  for (const op of ops) {
    const cur = last ? new Changer(last.config, last.progress, chg.maxInflight, chg.maxInflightBytes, chg.lastIndex) : chg;
    last = op(cur);
  }
  if (last === undefined) {
    // Nothing to do (empty ConfState): still never hand back the inputs.
    const progress: ProgressMap = new Map();
    for (const [id, pr] of chg.progress) progress.set(id, pr.clone());
    return { config: cloneTrackerConfig(chg.config), progress };
  }
  return last;
}

// Checks of RaftNode's public arguments, so that a misuse is refused at the
// call with a typed error, never carried into raft (where an id of 0 or
// 2^53 would fail deep in the codec, or a typo'd removal would be a silent
// no-op).
import { ConfChangeType, type ConfChangeSingle, type TrackerConfig } from '@raftbus/core';
import { ErrInvalidArgument, ErrUnknownPeer } from './errors.js';

function isNodeId(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) > 0;
}

const CHANGE_TYPES = new Set<unknown>([
  ConfChangeType.ConfChangeAddNode,
  ConfChangeType.ConfChangeRemoveNode,
  ConfChangeType.ConfChangeUpdateNode,
  ConfChangeType.ConfChangeAddLearnerNode,
]);

/** Why `id` cannot name a node, or undefined when it can. */
export function badNodeId(caller: string, id: unknown): ErrInvalidArgument | undefined {
  return isNodeId(id) ? undefined : new ErrInvalidArgument(`${caller}: node id must be a positive safe integer, got ${String(id)}`);
}

/**
 * The changes as a fresh array (the caller may reuse theirs), or why they
 * are not a change list raft can take.
 */
export function checkChanges(caller: string, changes: unknown, context: unknown): ConfChangeSingle[] | ErrInvalidArgument {
  if (!Array.isArray(changes) || changes.length === 0) return new ErrInvalidArgument(`${caller}: needs a non-empty array of changes`);
  const out: ConfChangeSingle[] = [];
  for (const c of changes as unknown[]) {
    if (typeof c !== 'object' || c === null) return new ErrInvalidArgument(`${caller}: a change must be { type, nodeId }, got ${String(c)}`);
    const { type, nodeId } = c as Record<string, unknown>;
    if (!CHANGE_TYPES.has(type)) return new ErrInvalidArgument(`${caller}: unknown change type ${String(type)}`);
    const bad = badNodeId(caller, nodeId);
    if (bad !== undefined) return bad;
    out.push({ type: type as ConfChangeType, nodeId: nodeId as number });
  }
  if (!(context instanceof Uint8Array)) return new ErrInvalidArgument(`${caller}: context must be a Uint8Array`);
  return out;
}

/**
 * A change that names a node outside raft's current configuration where it
 * must name a member: a removal, or a promotion (which would otherwise add a
 * stranger as a voter).
 */
export function unknownPeer(config: TrackerConfig, changes: readonly ConfChangeSingle[], promoting: boolean): ErrUnknownPeer | undefined {
  const voters = config.voters.ids();
  for (const { type, nodeId } of changes) {
    const member = voters.has(nodeId) || config.learners.has(nodeId) || config.learnersNext.has(nodeId);
    if (member) continue;
    if (promoting) return new ErrUnknownPeer(nodeId, 'is not a learner here: add it with addLearner first');
    if (type === ConfChangeType.ConfChangeRemoveNode) return new ErrUnknownPeer(nodeId, 'is not a member here: nothing to remove');
  }
  return undefined;
}

/** A transfer target that cannot lead: not a voter in raft's current configuration. */
export function notAVoter(config: TrackerConfig, to: number): ErrUnknownPeer | undefined {
  return config.voters.ids().has(to) ? undefined : new ErrUnknownPeer(to, 'is not a voter here: leadership can only go to a voter');
}

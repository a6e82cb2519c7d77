// etcd-raft's raftpb/confchange.go: the helpers that treat ConfChange (v1)
// and ConfChangeV2 alike. (The text forms live in confchange-string.ts.)
import { RaftPanic } from '../errors.js';
import { encodeConfChange, encodeConfChangeV2 } from './codec.js';
import {
  ConfChangeTransition,
  EMPTY_BYTES,
  EntryType,
  type ConfChange,
  type ConfChangeV2,
} from './types.js';

/** Tells the two conf change versions apart (etcd's ConfChangeI). */
export function isConfChangeV2(cc: ConfChange | ConfChangeV2): cc is ConfChangeV2 {
  return 'changes' in cc;
}

/**
 * etcd's MarshalConfChange: the entry type and data that carry `cc` in the
 * log. A v1 change stays v1. `undefined` (etcd's nil) gives an empty
 * EntryConfChangeV2, which decodes as the zero ConfChangeV2 (leave joint).
 */
export function marshalConfChange(cc: ConfChange | ConfChangeV2 | undefined): { type: EntryType; data: Uint8Array } {
  if (cc === undefined) return { type: EntryType.EntryConfChangeV2, data: EMPTY_BYTES };
  if (isConfChangeV2(cc)) return { type: EntryType.EntryConfChangeV2, data: encodeConfChangeV2(cc) };
  return { type: EntryType.EntryConfChange, data: encodeConfChange(cc) };
}

/**
 * etcd's AsV2: a V2 change carrying out the same operation. A ConfChangeV2
 * is returned as is (not copied); a v1 change becomes a single change with
 * the automatic transition, sharing the v1 context bytes.
 */
export function confChangeAsV2(cc: ConfChange | ConfChangeV2): ConfChangeV2 {
  if (isConfChangeV2(cc)) return cc;
  return {
    transition: ConfChangeTransition.ConfChangeTransitionAuto,
    changes: [{ type: cc.type, nodeId: cc.nodeId }],
    context: cc.context,
  };
}

/** etcd's AsV1: the ConfChange itself, or undefined for a ConfChangeV2. */
export function confChangeAsV1(cc: ConfChange | ConfChangeV2): ConfChange | undefined {
  return isConfChangeV2(cc) ? undefined : cc;
}

/**
 * etcd's EnterJoint: undefined when the change uses the simple protocol (a
 * single change with the automatic transition, or none); otherwise joint
 * consensus is used and `autoLeave` says whether raft leaves the joint
 * configuration by itself (everything but JointExplicit).
 */
export function enterJoint(cc: ConfChangeV2): { autoLeave: boolean } | undefined {
  // As in etcd, more changes could qualify for the simple protocol, but that
  // depends on the configuration they apply to; joint consensus is used
  // liberally instead.
  if (cc.transition === ConfChangeTransition.ConfChangeTransitionAuto && cc.changes.length <= 1) return undefined;
  switch (cc.transition) {
    case ConfChangeTransition.ConfChangeTransitionAuto:
    case ConfChangeTransition.ConfChangeTransitionJointImplicit:
      return { autoLeave: true };
    case ConfChangeTransition.ConfChangeTransitionJointExplicit:
      return { autoLeave: false };
    default:
      throw new RaftPanic(`unknown transition: ${String(cc.transition)}`);
  }
}

/**
 * etcd's LeaveJoint: true when the change is the zero ConfChangeV2 (its
 * context aside), which is what leaves a joint configuration.
 */
export function leaveJoint(cc: ConfChangeV2): boolean {
  return cc.transition === ConfChangeTransition.ConfChangeTransitionAuto && cc.changes.length === 0;
}

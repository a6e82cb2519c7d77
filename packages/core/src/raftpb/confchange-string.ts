// The compact text form of conf changes used by etcd's tests and tools
// (raftpb.ConfChangesFromString / ConfChangesToString): space-separated
// tokens "v<id>" (make voter), "l<id>" (make learner), "r<id>" (remove) and
// "u<id>" (update).
import { ErrConfChange } from '../errors.js';
import { ConfChangeType, type ConfChangeSingle } from './types.js';

const TYPE_BY_LETTER: Readonly<Record<string, ConfChangeType>> = {
  v: ConfChangeType.ConfChangeAddNode,
  l: ConfChangeType.ConfChangeAddLearnerNode,
  r: ConfChangeType.ConfChangeRemoveNode,
  u: ConfChangeType.ConfChangeUpdateNode,
};

const LETTER_BY_TYPE: Readonly<Record<number, string>> = {
  [ConfChangeType.ConfChangeAddNode]: 'v',
  [ConfChangeType.ConfChangeAddLearnerNode]: 'l',
  [ConfChangeType.ConfChangeRemoveNode]: 'r',
  [ConfChangeType.ConfChangeUpdateNode]: 'u',
};

/** Parses e.g. "v1 l2 r3"; throws ErrConfChange with etcd's messages. */
export function confChangesFromString(s: string): ConfChangeSingle[] {
  // Like etcd, split on single spaces: doubled spaces yield empty tokens.
  const trimmed = s.trim();
  if (trimmed === '') return [];
  return trimmed.split(' ').map((tok) => {
    if (tok.length < 2) throw new ErrConfChange(`unknown token ${tok}`);
    const type = TYPE_BY_LETTER[tok[0]!];
    if (type === undefined) throw new ErrConfChange(`unknown input: ${tok}`);
    const digits = tok.slice(1);
    const nodeId = Number(digits);
    if (!/^\d+$/.test(digits) || !Number.isSafeInteger(nodeId)) {
      // strconv.ParseUint's wording ("value out of range" past 2^64 in Go;
      // here past what a number holds exactly).
      const why = /^\d+$/.test(digits) ? 'value out of range' : 'invalid syntax';
      throw new ErrConfChange(`strconv.ParseUint: parsing ${JSON.stringify(digits)}: ${why}`);
    }
    return { type, nodeId };
  });
}

/** The inverse of confChangesFromString. */
export function confChangesToString(ccs: readonly ConfChangeSingle[]): string {
  return ccs.map((cc) => `${LETTER_BY_TYPE[cc.type] ?? 'unknown'}${cc.nodeId}`).join(' ');
}

// The Raft wire types, shaped after etcd's raftpb/raft.proto (proto2).
// Enum values and field meanings are etcd's; the codec (codec.ts) maps them
// to the same field numbers so our bytes are etcd-raft's bytes.
//
// Terms, indexes and ids are plain numbers: safe up to 2^53-1, and the codec
// refuses anything larger rather than rounding it.

export enum EntryType {
  EntryNormal = 0,
  EntryConfChange = 1,
  EntryConfChangeV2 = 2,
}

export enum MessageType {
  MsgHup = 0,
  MsgBeat = 1,
  MsgProp = 2,
  MsgApp = 3,
  MsgAppResp = 4,
  MsgVote = 5,
  MsgVoteResp = 6,
  MsgSnap = 7,
  MsgHeartbeat = 8,
  MsgHeartbeatResp = 9,
  MsgUnreachable = 10,
  MsgSnapStatus = 11,
  MsgCheckQuorum = 12,
  MsgTransferLeader = 13,
  MsgTimeoutNow = 14,
  MsgReadIndex = 15,
  MsgReadIndexResp = 16,
  MsgPreVote = 17,
  MsgPreVoteResp = 18,
  MsgStorageAppend = 19,
  MsgStorageAppendResp = 20,
  MsgStorageApply = 21,
  MsgStorageApplyResp = 22,
  MsgForgetLeader = 23,
}

export enum ConfChangeTransition {
  ConfChangeTransitionAuto = 0,
  ConfChangeTransitionJointImplicit = 1,
  ConfChangeTransitionJointExplicit = 2,
}

export enum ConfChangeType {
  ConfChangeAddNode = 0,
  ConfChangeRemoveNode = 1,
  ConfChangeUpdateNode = 2,
  ConfChangeAddLearnerNode = 3,
}

/** Shared empty payload: entries and messages without data point here. */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  /** Zero length means "no data" (etcd's nil Data). */
  data: Uint8Array;
}

export interface ConfState {
  /** Voters in the incoming config (the only config when not joint). */
  voters: number[];
  learners: number[];
  /** Voters in the outgoing config; non-empty only in a joint config. */
  votersOutgoing: number[];
  /** Voters of the outgoing config that become learners on leaving joint. */
  learnersNext: number[];
  autoLeave: boolean;
}

export interface SnapshotMetadata {
  confState: ConfState;
  index: number;
  term: number;
}

export interface Snapshot {
  data: Uint8Array;
  metadata: SnapshotMetadata;
}

export interface HardState {
  term: number;
  vote: number;
  commit: number;
}

export interface Message {
  type: MessageType;
  to: number;
  from: number;
  term: number;
  /** The term of the entry at `index` (MsgApp), or of the last entry (votes). */
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  /** Used by MsgStorageAppend to carry the HardState's vote. */
  vote: number;
  /** Present only on MsgSnap (and MsgStorageAppend carrying a snapshot). */
  snapshot?: Snapshot;
  reject: boolean;
  rejectHint: number;
  context: Uint8Array;
  /** Used by the local storage messages to bundle their responses. */
  responses: Message[];
}

export interface ConfChange {
  type: ConfChangeType;
  nodeId: number;
  context: Uint8Array;
  /** Deprecated in etcd; kept for wire compatibility. */
  id: number;
}

export interface ConfChangeSingle {
  type: ConfChangeType;
  nodeId: number;
}

export interface ConfChangeV2 {
  transition: ConfChangeTransition;
  changes: ConfChangeSingle[];
  context: Uint8Array;
}

// Constructors that fill etcd's zero values, so call sites name only the
// fields that matter (as Go's composite literals do).

export function newMessage(m: Partial<Message> & Pick<Message, 'type'>): Message {
  return Object.assign(blankMessage(m.type), m);
}

/**
 * A message of `type` with every other field at its zero value, built as one
 * literal (the same fields in the same order as newMessage's), which V8
 * keeps on its fast path; hot paths assign the fields that matter afterwards.
 */
export function blankMessage(type: MessageType): Message {
  return {
    to: 0,
    from: 0,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    vote: 0,
    reject: false,
    rejectHint: 0,
    context: EMPTY_BYTES,
    responses: [],
    type,
  };
}

export function newEntry(e: Partial<Entry> = {}): Entry {
  return { term: 0, index: 0, type: EntryType.EntryNormal, data: EMPTY_BYTES, ...e };
}

export function newConfState(cs: Partial<ConfState> = {}): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false, ...cs };
}

export function newHardState(hs: Partial<HardState> = {}): HardState {
  return { term: 0, vote: 0, commit: 0, ...hs };
}

export function newSnapshot(s: { data?: Uint8Array; metadata?: Partial<SnapshotMetadata> } = {}): Snapshot {
  const md = s.metadata ?? {};
  return {
    data: s.data ?? EMPTY_BYTES,
    metadata: { confState: md.confState ?? newConfState(), index: md.index ?? 0, term: md.term ?? 0 },
  };
}

export function newConfChange(cc: Partial<ConfChange> = {}): ConfChange {
  return { type: ConfChangeType.ConfChangeAddNode, nodeId: 0, context: EMPTY_BYTES, id: 0, ...cc };
}

export function newConfChangeV2(cc: Partial<ConfChangeV2> = {}): ConfChangeV2 {
  return { transition: ConfChangeTransition.ConfChangeTransitionAuto, changes: [], context: EMPTY_BYTES, ...cc };
}

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === 0 && hs.commit === 0;
}

export function isHardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export function isEmptySnap(s: Snapshot | undefined): boolean {
  return s === undefined || s.metadata.index === 0;
}

// @raftbus/core: the public surface. A synchronous, deterministic Raft that
// behaves like etcd-raft; no timers, no I/O, no promises.

export * from './raftpb/types.js';
export {
  encodeMessage,
  encodeMessageWithHeadroom,
  decodeMessage,
  encodeEntry,
  encodeEntryInto,
  decodeEntry,
  decodeEntryTermIndex,
  encodeHardState,
  decodeHardState,
  encodeConfState,
  decodeConfState,
  encodeSnapshot,
  decodeSnapshot,
  encodeConfChange,
  decodeConfChange,
  encodeConfChangeV2,
  decodeConfChangeV2,
} from './raftpb/codec.js';
export { allocBytes } from './raftpb/byte-slab.js';
export { marshalConfChange, confChangeAsV1, confChangeAsV2, enterJoint, leaveJoint, isConfChangeV2 } from './raftpb/confchange.js';
export { confChangesFromString, confChangesToString } from './raftpb/confchange-string.js';
export { confStateEquivalent } from './raftpb/confstate.js';

export * from './errors.js';
export { type Logger, LogLevel, ConsoleLogger, discardLogger, getLogger, setLogger } from './logger.js';
export { type Config, ReadOnlyOption, noLimit } from './config.js';
export { type Storage, type InitialState, MemoryStorage } from './storage.js';
export { None, StateType, type SoftState, type ReadState } from './raft.js';
export { RawNode, type Ready, type Peer, SnapshotStatus, ProgressType, mustSync } from './raw-node.js';
export type { BasicStatus, Status } from './status.js';
export { Progress, type ProgressMap } from './tracker/progress.js';
export { ProgressStateType } from './tracker/state.js';
export { Inflights } from './tracker/inflights.js';
export { type TrackerConfig, trackerConfigToString } from './tracker/tracker.js';
export { MajorityConfig } from './quorum/majority.js';
export { JointConfig } from './quorum/joint.js';
export { VoteResult } from './quorum/quorum.js';
export { LocalAppendThread, LocalApplyThread, isLocalMsg, isResponseMsg, isLocalMsgTarget } from './util/messages.js';
export { entrySize, payloadSize } from './util/sizes.js';
export {
  type EntryFormatter,
  describeEntry,
  describeEntries,
  describeMessage,
  describeReady,
  describeHardState,
  describeSoftState,
  describeConfState,
  describeSnapshot,
  describeConfChange,
} from './util/describe.js';

// Contracts that adapters (transports, durable stores) and applications implement.
export * from './contracts/index.js';

// @raftbus/host: RaftNode, the loop that drives raft with a transport, a
// durable storage and a state machine.
export {
  RaftNode,
  type NodeState,
  type RaftNodeStats,
  type RaftNodeStatus,
} from './raft-node.js';
export { type RaftNodeOptions, type SnapshotPolicy } from './options.js';
export { type RaftNodeEvents, type Role } from './events.js';
export {
  ErrNotLeader,
  ErrBackpressure,
  ErrProposalTimeout,
  ErrStopped,
  ErrNotStarted,
  ErrAlreadyStarted,
  ErrInvalidArgument,
  ErrUnknownPeer,
  type Operation,
} from './errors.js';
export { ENVELOPE_BYTES, ENVELOPE_VERSION, encodeEnvelope, decodeEnvelope, type RequestId } from './envelope.js';

// The contract every bus adapter implements. A transport moves raft
// messages between the nodes of one cluster and knows nothing of Raft
// beyond the message's `to` field: raft tolerates loss, duplication and
// reordering, so delivery is best effort. What a transport must never do is
// corrupt a message, hand it to the wrong node, or let a message cross from
// one cluster to another.
import type { Message } from '../raftpb/types.js';

export interface TransportCapabilities {
  /**
   * Largest encoded message the bus carries in one piece (bytes). Larger
   * messages (snapshots) are split by the adapter or refused with a counted
   * drop; Infinity when unbounded.
   */
  maxPayloadBytes: number;
  /**
   * Largest encoded message the bus carries without splitting it (bytes),
   * when the adapter splits larger ones (less than maxPayloadBytes then).
   * A host sizes its append messages below it by default, so that a busy
   * leader's appends are not each split and reassembled. Absent: no split.
   */
  maxUnsplitBytes?: number;
  /** Whether messages from one node to another arrive in the order sent. */
  orderedPerPeer: boolean;
}

export interface TransportHandlers {
  /** A message addressed to this node, decoded and checked for this cluster. */
  onMessage(message: Message): void;
  /**
   * A peer could not be reached (the host calls RawNode.reportUnreachable).
   * Optional for buses that cannot tell.
   */
  onUnreachable?(peerId: number): void;
}

/** Counters a transport keeps so that drops are visible, never silent. */
export interface TransportStats {
  sent: number;
  received: number;
  /** Frames dropped on receipt: malformed, for another cluster or node, or forged. */
  dropped: number;
  /** Messages that could not be sent (bus error, too large, peer unknown). */
  sendFailures: number;
}

export interface Transport {
  readonly capabilities: TransportCapabilities;
  /**
   * Joins `clusterId` as `nodeId` and starts delivering messages to
   * `handlers`. Resolves once the node can receive.
   */
  start(clusterId: string, nodeId: number, handlers: TransportHandlers): Promise<void>;
  /**
   * Queues messages for delivery and returns at once (fire and forget).
   * Never throws for a delivery problem: it is counted and, where the bus
   * can tell, reported through onUnreachable.
   */
  send(messages: readonly Message[]): void;
  /** Stops sending and receiving. Idempotent. */
  stop(): Promise<void>;
  stats(): TransportStats;
}

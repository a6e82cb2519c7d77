// The host's errors. Two families, on purpose:
//  - ErrProposalDropped and its subclasses (core's ErrConfChangeRefused,
//    ErrNotLeader, ErrBackpressure): the request never entered the log here,
//    so retrying it cannot apply it twice.
//  - ErrProposalTimeout and ErrStopped: the outcome is unknown. A proposal
//    that raft accepted may still be committed and applied by the cluster
//    after its caller was told; only an idempotent request is safe to retry.
import { ErrProposalDropped, RaftError } from '@raftbus/core';

/** Which request an error is about. */
export type Operation = 'propose' | 'read' | 'confChange' | 'transferLeadership';

/**
 * This node cannot take the request: no leader is known (an election is in
 * progress), or proposal forwarding is disabled and another node leads.
 * `leader` names the leader to retry at, when one is known.
 */
export class ErrNotLeader extends ErrProposalDropped {
  constructor(readonly leader: number | undefined) {
    super(leader === undefined ? 'no leader is known' : `not the leader; node ${leader} is`);
  }
}

/** Too many requests are pending on this node (maxPendingProposals / maxPendingBytes). Retry later. */
export class ErrBackpressure extends ErrProposalDropped {
  constructor(readonly pending: number, readonly pendingBytes: number) {
    super(`too many pending requests (${pending} requests, ${pendingBytes} bytes)`);
  }
}

/**
 * The request did not complete within proposalTimeoutMs. For a proposal or
 * a membership change the outcome is unknown: it may still be applied.
 */
export class ErrProposalTimeout extends RaftError {
  constructor(
    readonly operation: Operation,
    readonly timeoutMs: number,
  ) {
    super(`${operation} timed out after ${timeoutMs} ms`);
  }
}

/**
 * The node is stopped, or stopped before the request completed (then, for a
 * proposal, the outcome is unknown). `cause` is set when the node stopped
 * because of a fatal error (a storage or state machine failure).
 */
export class ErrStopped extends RaftError {
  constructor(cause?: Error) {
    super(cause === undefined ? 'raft node is stopped' : `raft node stopped after a fatal error: ${cause.message}`);
    if (cause !== undefined) this.cause = cause;
  }
}

/** A request made before start(): nothing was queued. */
export class ErrNotStarted extends RaftError {
  constructor() {
    super('raft node is not started; call start() first');
  }
}

/** start() on a node that was started or stopped already: a RaftNode starts once. */
export class ErrAlreadyStarted extends RaftError {}

/** An argument no request can be made of (an id that is not a positive safe integer, data that is not bytes, …). */
export class ErrInvalidArgument extends RaftError {}

/**
 * A membership change or transfer names a node that is not in the
 * membership as this node knows it (a follower may not have applied a recent
 * change yet: retry there later, or ask the leader). Nothing entered the log.
 */
export class ErrUnknownPeer extends ErrProposalDropped {
  constructor(
    readonly peer: number,
    what: string,
  ) {
    super(`node ${peer} ${what}`);
  }
}

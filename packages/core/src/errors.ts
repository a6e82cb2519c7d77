// Error classes with stable names, mirroring etcd-raft's sentinel errors.
// Callers match with `instanceof` or on `.name`; messages are etcd's texts.

export class RaftError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Storage: the requested index is older than the first available one. */
export class ErrCompacted extends RaftError {
  constructor() {
    super('requested index is unavailable due to compaction');
  }
}

/** Storage: the snapshot offered is older than the one already held. */
export class ErrSnapOutOfDate extends RaftError {
  constructor() {
    super('requested index is older than the existing snapshot');
  }
}

/** Storage: the requested entry is past the last stored one. */
export class ErrUnavailable extends RaftError {
  constructor() {
    super('requested entry at index is unavailable');
  }
}

/** Storage: a snapshot is being prepared; the leader retries later. */
export class ErrSnapshotTemporarilyUnavailable extends RaftError {
  constructor() {
    super('snapshot is temporarily unavailable');
  }
}

/** A proposal was refused (no leader, leader transfer in progress, size limits, …). */
export class ErrProposalDropped extends RaftError {
  constructor(message = 'raft proposal dropped') {
    super(message);
  }
}

/**
 * The leader refused a proposed conf change (another one is still unapplied,
 * or it does not fit the current joint state). As in etcd, an empty entry
 * took its place in the log; unlike etcd, the proposer is told. `reason` is
 * etcd's log text for the refusal.
 */
export class ErrConfChangeRefused extends ErrProposalDropped {
  constructor(readonly reason: string) {
    super(`conf change refused: ${reason}`);
  }
}

/** RawNode.step was handed a message type that only raft itself may create. */
export class ErrStepLocalMsg extends RaftError {
  constructor() {
    super('raft: cannot step raft local message');
  }
}

/** RawNode.step was handed a response from a peer that is not in the config. */
export class ErrStepPeerNotFound extends RaftError {
  constructor() {
    super('raft: cannot step as peer not found');
  }
}

/** Config validation failed; the message says which field is wrong. */
export class ErrInvalidConfig extends RaftError {}

/** A configuration change could not be applied (confchange.Changer's errors). */
export class ErrConfChange extends RaftError {}

/** Decoding bytes from the wire or from disk failed. */
export class ErrMalformedMessage extends RaftError {}

/**
 * Raised where etcd-raft panics: an invariant of the protocol is broken
 * (usually by storage that lost or invented data). Never caught by raft.
 */
export class RaftPanic extends RaftError {}

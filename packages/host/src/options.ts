// RaftNode's options, their defaults, and the raft Config they make.
import {
  ErrInvalidConfig,
  getLogger,
  ReadOnlyOption,
  type Config,
  type DurableStorage,
  type Logger,
  type Peer,
  type StateMachine,
  type Transport,
} from '@raftbus/core';

/** When to snapshot the state machine and compact the log. */
export interface SnapshotPolicy {
  /** Snapshot once this many entries were applied since the last snapshot. */
  entries?: number;
  /** Snapshot once this many payload bytes were applied since the last snapshot. */
  bytes?: number;
  /**
   * Entries kept in the log behind a snapshot, so that a follower lagging by
   * fewer catches up from the log instead of by a snapshot (etcd's
   * SnapshotCatchUpEntries). Default 5000.
   */
  catchUpEntries?: number;
}

export interface RaftNodeOptions<Result = unknown> {
  /** This node's id: non-zero, and never reused by another node of the cluster. */
  id: number;
  /** Names the cluster on the transport; messages never cross clusters. */
  clusterId: string;
  /**
   * The members of a new cluster (ids, or ids with a context such as an
   * address), used only when the storage is empty. Leave it out for a node
   * that joins an existing cluster (after addVoter/addLearner on it), and on
   * restart, where the membership is in the storage.
   */
  peers?: ReadonlyArray<number | Peer>;
  transport: Transport;
  storage: DurableStorage;
  /** Must be empty when the node starts: it is rebuilt from the storage's snapshot and log. */
  stateMachine: StateMachine<Result>;
  /** Milliseconds per raft tick. Default 100. */
  tickMs?: number;
  /** Ticks without a leader before a follower campaigns. Default 10. */
  electionTick?: number;
  /** Ticks between a leader's heartbeats. Default 1. */
  heartbeatTick?: number;
  /** Default true: a node cut off and rejoining cannot disrupt the cluster. */
  preVote?: boolean;
  /** Default true: a leader cut off from a quorum steps down. Needed by readOnly 'lease'. */
  checkQuorum?: boolean;
  /**
   * Max bytes of entries in one append message. Default 1 MiB, or 3/4 of
   * the transport's maxUnsplitBytes when that is less, so that appends are
   * not split into chunks (the rest is room for the message's own fields).
   */
  maxSizePerMsg?: number;
  /** Max append messages in flight to one follower. Default 256. */
  maxInflightMsgs?: number;
  /** Max payload bytes a leader holds uncommitted before refusing proposals. Default 64 MiB. */
  maxUncommittedEntriesSize?: number;
  /**
   * 'safe' (default): a read confirms leadership with a quorum round trip.
   * 'lease': the leader answers on its lease; faster, but relies on bounded
   * clock drift (and needs checkQuorum).
   */
  readOnly?: 'safe' | 'lease';
  /** Followers refuse proposals (ErrNotLeader naming the leader) instead of forwarding them. */
  disableProposalForwarding?: boolean;
  /** Deadline of every proposal, read, membership change and transfer. Default 10 s. */
  proposalTimeoutMs?: number;
  /** Max requests pending on this node before new ones fail with ErrBackpressure. Default 4096. */
  maxPendingProposals?: number;
  /** Max payload bytes pending on this node before new requests fail with ErrBackpressure. Default 64 MiB. */
  maxPendingBytes?: number;
  /** Automatic snapshots; `false` turns them off. Default { entries: 10000, catchUpEntries: 5000 }. */
  snapshot?: SnapshotPolicy | false;
  /** Receives raft's log lines and the host's. Default: core's getLogger(). */
  logger?: Logger;
  /** Uniform integer in [0, n) for election timeouts; inject a seeded one for reproducible runs. */
  randomInt?: (n: number) => number;
  /**
   * etcd-raft's asynchronous storage writes: the storage's save runs on an
   * append worker while network messages go out at once (a leader sends its
   * appends before its own write is durable), and committed entries are
   * applied on an apply worker. Default false: save, send, apply, advance,
   * one Ready at a time.
   */
  asyncStorageWrites?: boolean;
}

export interface ResolvedOptions<Result> {
  id: number;
  clusterId: string;
  peers: Peer[];
  transport: Transport;
  storage: DurableStorage;
  stateMachine: StateMachine<Result>;
  tickMs: number;
  proposalTimeoutMs: number;
  maxPendingProposals: number;
  maxPendingBytes: number;
  maxSizePerMsg: number;
  asyncStorageWrites: boolean;
  snapshot: Required<SnapshotPolicy> | undefined;
  logger: Logger;
  /** The raft config, less storage and applied (known only at start). */
  raft: Omit<Config, 'storage' | 'applied'>;
}

const MiB = 1024 * 1024;

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!(v > 0)) throw new ErrInvalidConfig(`${name} must be positive, got ${v}`);
  return v;
}

// ---------------------------------------------------------------- validation
// Everything the host or raft would otherwise misread (a string id, a
// fractional count, `readOnly: 'fast'` silently meaning 'safe') or fail on
// only at start() or later (raft's own config checks, a missing transport)
// is refused here, at construction, with a message naming the option.

/** setInterval's largest delay; anything larger fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function invalid(message: string): never {
  throw new ErrInvalidConfig(message);
}

function isNodeId(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) > 0;
}

/** A whole count: a safe integer of at least `min`, or Infinity when `infinite`. */
function isCount(v: unknown, min: number, infinite: boolean): boolean {
  return typeof v === 'number' && ((infinite && v === Number.POSITIVE_INFINITY) || (Number.isSafeInteger(v) && v >= min));
}

function checkCount(name: string, v: unknown, min: number, infinite: boolean): void {
  if (v !== undefined && !isCount(v, min, infinite)) {
    invalid(`${name} must be an integer >= ${min}${infinite ? ' (or Infinity)' : ''}, got ${String(v)}`);
  }
}

function checkMethods(name: string, v: unknown, methods: readonly string[]): void {
  if (typeof v !== 'object' || v === null) invalid(`${name} is required`);
  for (const m of methods) {
    if (typeof (v as Record<string, unknown>)[m] !== 'function') invalid(`${name} has no ${m}() method`);
  }
}

function validateOptions(o: RaftNodeOptions<unknown>): void {
  if (typeof o !== 'object' || o === null) invalid('options are required');
  if (!isNodeId(o.id)) invalid(`id must be a positive safe integer, got ${String(o.id)}`);
  if (o.peers !== undefined) {
    if (!Array.isArray(o.peers)) invalid('peers must be an array of ids or { id, context }');
    const seen = new Set<number>();
    for (const p of o.peers) {
      const id: unknown = typeof p === 'object' && p !== null ? p.id : p;
      if (!isNodeId(id)) invalid(`peers: ${String(id)} is not a positive safe integer id`);
      if (seen.has(id)) invalid(`peers: node ${id} is listed twice`);
      seen.add(id);
      const context: unknown = typeof p === 'object' && p !== null ? p.context : undefined;
      if (context !== undefined && !(context instanceof Uint8Array)) invalid(`peers: the context of node ${id} must be a Uint8Array`);
    }
  }
  checkMethods('transport', o.transport, ['start', 'send', 'stop']);
  checkMethods('storage', o.storage, ['open', 'save', 'close']);
  checkMethods('stateMachine', o.stateMachine, ['apply']);
  if (o.tickMs !== undefined && !(typeof o.tickMs === 'number' && o.tickMs > 0 && o.tickMs <= MAX_TIMER_MS)) {
    invalid(`tickMs must be a positive number of milliseconds up to ${MAX_TIMER_MS}, got ${String(o.tickMs)}`);
  }
  checkCount('heartbeatTick', o.heartbeatTick, 1, false);
  checkCount('electionTick', o.electionTick, 1, false);
  const heartbeatTick = o.heartbeatTick ?? 1;
  const electionTick = o.electionTick ?? 10;
  if (electionTick <= heartbeatTick) invalid(`electionTick (${electionTick}) must be greater than heartbeatTick (${heartbeatTick})`);
  checkCount('maxInflightMsgs', o.maxInflightMsgs, 1, false);
  checkCount('maxSizePerMsg', o.maxSizePerMsg, 0, true);
  checkCount('maxUncommittedEntriesSize', o.maxUncommittedEntriesSize, 0, true);
  checkCount('maxPendingProposals', o.maxPendingProposals, 1, true);
  checkCount('maxPendingBytes', o.maxPendingBytes, 1, true);
  if (o.proposalTimeoutMs !== undefined && !(typeof o.proposalTimeoutMs === 'number' && o.proposalTimeoutMs > 0)) {
    invalid(`proposalTimeoutMs must be positive, got ${String(o.proposalTimeoutMs)}`);
  }
  if (o.readOnly !== undefined && o.readOnly !== 'safe' && o.readOnly !== 'lease') invalid(`readOnly must be 'safe' or 'lease', got ${String(o.readOnly)}`);
  if (o.readOnly === 'lease' && o.checkQuorum === false) invalid("readOnly 'lease' needs checkQuorum (a leader must know when its lease ran out)");
  for (const k of ['preVote', 'checkQuorum', 'disableProposalForwarding', 'asyncStorageWrites'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') invalid(`${k} must be a boolean, got ${String(o[k])}`);
  }
  if (o.snapshot !== undefined && o.snapshot !== false) {
    if (typeof o.snapshot !== 'object' || o.snapshot === null) invalid(`snapshot must be a policy object or false, got ${String(o.snapshot)}`);
    checkCount('snapshot.entries', o.snapshot.entries, 1, true);
    checkCount('snapshot.bytes', o.snapshot.bytes, 1, true);
    checkCount('snapshot.catchUpEntries', o.snapshot.catchUpEntries, 0, false);
  }
  if (o.randomInt !== undefined && typeof o.randomInt !== 'function') invalid('randomInt must be a function');
  if (o.logger !== undefined && (typeof o.logger !== 'object' || o.logger === null || typeof o.logger.error !== 'function')) invalid('logger must be a Logger');
}

/** 1 MiB (etcd's default), or less so that an append with that many bytes of entries still fits the bus unsplit. */
export function defaultMaxSizePerMsg(maxUnsplitBytes: number | undefined): number {
  if (maxUnsplitBytes === undefined || !(maxUnsplitBytes > 0)) return MiB;
  return Math.max(1, Math.min(MiB, Math.floor((maxUnsplitBytes * 3) / 4)));
}

export function resolveOptions<Result>(o: RaftNodeOptions<Result>): ResolvedOptions<Result> {
  validateOptions(o as RaftNodeOptions<unknown>);
  if (typeof o.clusterId !== 'string' || o.clusterId === '') throw new ErrInvalidConfig('clusterId must be a non-empty string');
  const logger = o.logger ?? getLogger();
  const maxSizePerMsg = o.maxSizePerMsg ?? defaultMaxSizePerMsg(o.transport?.capabilities?.maxUnsplitBytes);
  const snapshot =
    o.snapshot === false
      ? undefined
      : {
          entries: positive('snapshot.entries', o.snapshot?.entries, o.snapshot?.bytes === undefined ? 10_000 : Infinity),
          bytes: positive('snapshot.bytes', o.snapshot?.bytes, Infinity),
          catchUpEntries: o.snapshot?.catchUpEntries ?? 5_000,
        };
  if (snapshot !== undefined && !(snapshot.catchUpEntries >= 0)) {
    throw new ErrInvalidConfig(`snapshot.catchUpEntries must be >= 0, got ${snapshot.catchUpEntries}`);
  }
  return {
    id: o.id,
    clusterId: o.clusterId,
    peers: (o.peers ?? []).map((p) => (typeof p === 'number' ? { id: p } : p)),
    transport: o.transport,
    storage: o.storage,
    stateMachine: o.stateMachine,
    tickMs: positive('tickMs', o.tickMs, 100),
    proposalTimeoutMs: positive('proposalTimeoutMs', o.proposalTimeoutMs, 10_000),
    maxPendingProposals: positive('maxPendingProposals', o.maxPendingProposals, 4096),
    maxPendingBytes: positive('maxPendingBytes', o.maxPendingBytes, 64 * MiB),
    maxSizePerMsg,
    asyncStorageWrites: o.asyncStorageWrites ?? false,
    snapshot,
    logger,
    raft: {
      id: o.id,
      electionTick: o.electionTick ?? 10,
      heartbeatTick: o.heartbeatTick ?? 1,
      preVote: o.preVote ?? true,
      checkQuorum: o.checkQuorum ?? true,
      maxSizePerMsg,
      maxInflightMsgs: o.maxInflightMsgs ?? 256,
      maxUncommittedEntriesSize: o.maxUncommittedEntriesSize ?? 64 * MiB,
      readOnlyOption: o.readOnly === 'lease' ? ReadOnlyOption.ReadOnlyLeaseBased : ReadOnlyOption.ReadOnlySafe,
      disableProposalForwarding: o.disableProposalForwarding ?? false,
      // A removed leader should not go on leading a cluster it is not in.
      stepDownOnRemoval: true,
      asyncStorageWrites: o.asyncStorageWrites ?? false,
      logger,
      ...(o.randomInt !== undefined && { randomInt: o.randomInt }),
    },
  };
}

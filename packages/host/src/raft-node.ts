// RaftNode: the loop that drives a RawNode (etcd's doc.go, "the total state
// machine handling loop") with a Transport, a DurableStorage and a
// StateMachine, and the request API built on it.
//
// One rule shapes everything here: RawNode is synchronous and its Ready must
// be handled to the end (persisted, sent, applied, advanced) before the next
// one is taken. The awaits are in that handling (storage, state machine), so
// whatever arrives meanwhile — messages, ticks, proposals, reads — is queued
// and stepped between two Readys. Each turn of the loop is:
//
//   drain the queue into raft → ready() → save (awaited) → send → restore a
//   snapshot, apply committed entries → advance() → answer reads → snapshot
//
// Sending only after the save resolves is etcd's contract in its simplest
// correct form: a vote or an append acknowledgement is never sent for state
// that is not yet durable. (A leader could send its appends before its own
// write, Raft thesis §10.2.1; we keep the simple order by default.)
//
// With `asyncStorageWrites` (etcd's AsyncStorageWrites), the loop takes a
// Ready without awaiting anything: network messages are sent at once, and
// raft's storage work comes as messages to two workers, each run strictly in
// order. The append worker takes every MsgStorageAppend queued while its
// previous save was in flight and makes them durable with one storage.save
// (a group commit: later entries replace or extend earlier ones, the last
// hard state wins; a batch never has a snapshot after its first message),
// restores the batch's snapshot, if any, into the state machine through the
// apply worker, then delivers the messages' responses in order: those to
// peers (votes, append acknowledgements) through the transport, those to
// this node (from LocalAppendThread) stepped through the queue. The apply
// worker applies each MsgStorageApply's entries and steps its response back.
// Raft hands out committed entries only once they are durable here, and none
// after a snapshot until that snapshot is, so restores precede later applies.
// Since the loop never waits, it is woken by a macrotask (setImmediate), not
// a microtask: one Ready then gathers everything a turn of the event loop
// brought (a bus's deliveries, the proposers an apply woke), where a wake per
// microtask would take a Ready, a save and an append message per proposal.
//
// Two hazards come with the workers running while the loop steps messages:
// - raft may restore a leader's snapshot (taking its ConfState) while conf
//   changes it handed out earlier are still being applied; raft's config
//   already holds them, so they are not applied to raft again
//   (configRestoredTo);
// - an entry may be applied before the hard state that commits it is durable;
//   a snapshot at such an index would be ahead of the durable commit (a
//   restart panics), so the snapshot waits for it (durableCommit).
//
// Snapshots move as chunks when the state machine can stream them
// (snapshotChunks/restoreChunks): its chunks go straight into
// storage.createSnapshot, and at startup the storage's chunks go straight
// into restoreChunks, so neither path holds a whole snapshot. A leader's
// snapshot arrives whole inside MsgSnap (raft's design, as etcd's); it is
// saved, then restored from memory.
import {
  ConfChangeTransition,
  ConfChangeType,
  chunksOf,
  concatChunks,
  decodeConfChange,
  decodeConfChangeV2,
  EMPTY_BYTES,
  EntryType,
  ErrCompacted,
  ErrConfChangeRefused,
  ErrProposalDropped,
  ErrSnapOutOfDate,
  confChangeAsV2,
  isEmptyHardState,
  LocalAppendThread,
  LocalApplyThread,
  MessageType,
  newConfChangeV2,
  newEntry,
  newMessage,
  None,
  RaftError,
  RaftPanic,
  RawNode,
  SnapshotStatus,
  StateType,
  type ConfChange,
  type ConfChangeSingle,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type PersistBatch,
  type Ready,
  type ReadState,
  type Snapshot,
  type SoftState,
  type Status,
  type TransportStats,
} from '@raftbus/core';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  checkEnvelope,
  decodeEnvelope,
  encodeEnvelope,
  envelopeIncarnation,
  envelopePayload,
  envelopeProposer,
  envelopeSeq,
  type RequestId,
} from './envelope.js';
import { badNodeId, checkChanges, notAVoter, unknownPeer } from './api-guards.js';
import {
  ErrAlreadyStarted,
  ErrBackpressure,
  ErrInvalidArgument,
  ErrNotLeader,
  ErrNotStarted,
  ErrProposalTimeout,
  ErrStopped,
  type Operation,
} from './errors.js';
import { Emitter, type RaftNodeEvents, type Role } from './events.js';
import { resolveOptions, type RaftNodeOptions, type ResolvedOptions } from './options.js';
import { Requests } from './requests.js';

export type NodeState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Counters that make every drop and retry visible. */
export interface RaftNodeStats {
  ticks: number;
  readies: number;
  /** Messages from peers stepped into raft. */
  messagesStepped: number;
  /** Messages from peers raft refused (unknown peer, local type, a proposal with no leader, ...). */
  messagesDropped: number;
  /** Entries this node proposed that raft accepted (appended here, or forwarded to the leader). */
  proposalsAccepted: number;
  /** Requests refused without entering the log (no leader, backpressure, a refused conf change, ...). */
  requestsRefused: number;
  /** Requests that timed out. */
  timeouts: number;
  entriesApplied: number;
  snapshotsCreated: number;
  snapshotsInstalled: number;
  snapshotsSent: number;
}

export interface RaftNodeStatus {
  id: number;
  clusterId: string;
  state: NodeState;
  role: Role;
  /** The leader this node knows of, if any. */
  leader: number | undefined;
  term: number;
  commit: number;
  applied: number;
  /** Index of the latest snapshot in storage (0: none). */
  snapshotIndex: number;
  /** Membership as of the last applied entry. */
  confState: ConfState;
  pending: { requests: number; bytes: number };
  stats: RaftNodeStats;
  transport: TransportStats;
  /** Raft's own status (with every follower's progress when leader); undefined before start. */
  raft: Status | undefined;
}

/** A normal proposal waiting to be stepped with the others of its turn. */
interface QueuedProposal {
  seq: number;
  data: Uint8Array;
}

/** A read waiting for its ReadState, then for the state machine to catch up. */
interface QueuedRead {
  seq: number;
  fn: () => unknown;
}

const ROLES: Record<StateType, Role> = {
  [StateType.StateFollower]: 'follower',
  [StateType.StateCandidate]: 'candidate',
  [StateType.StateLeader]: 'leader',
  [StateType.StatePreCandidate]: 'preCandidate',
};

/** An append that carries no entries: a leader telling a follower its new commit index. */
function isCommitOnlyAppend(m: Message): boolean {
  return m.type === MessageType.MsgApp && m.entries.length === 0;
}

/**
 * `messages` less each commit-only append that a later one in them covers
 * (a held commit-only append and the next proposal's append, or both made
 * in one Ready): the follower would answer both, and the leader read both
 * answers, for nothing.
 */
function withoutCoveredAppends(messages: Message[]): Message[] {
  let kept: Message[] | undefined;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    let covered = false;
    if (isCommitOnlyAppend(m)) {
      for (let j = i + 1; j < messages.length && !covered; j++) covered = coversAppend(messages[j]!, m);
    }
    if (covered) kept ??= messages.slice(0, i);
    else kept?.push(m);
  }
  return kept ?? messages;
}

/**
 * Whether append `m` does all that the earlier commit-only append `e` would:
 * to the same follower, in the same term, from the same place in the log,
 * with a commit index as high. The follower would check the same (index,
 * logTerm) and answer with the same rejection, or else commit as far and
 * acknowledge at least as much.
 */
function coversAppend(m: Message, e: Message): boolean {
  return m.type === MessageType.MsgApp && m.to === e.to && m.term === e.term && m.index === e.index && m.logTerm === e.logTerm && m.commit >= e.commit;
}

/**
 * A snapshot whose membership leaves its recipient out: raft's restore
 * refuses it (the node was added after the snapshot was taken), so sending
 * it costs its whole size for nothing.
 */
function leavesOutRecipient(m: Message): boolean {
  if (m.type !== MessageType.MsgSnap || m.snapshot === undefined) return false;
  const { voters, learners, votersOutgoing } = m.snapshot.metadata.confState;
  return !voters.includes(m.to) && !learners.includes(m.to) && !votersOutgoing.includes(m.to);
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as PromiseLike<unknown> | null)?.then === 'function';
}

/**
 * Entries of several MsgStorageAppends joined as a log takes them: each
 * append replaces what it overlaps and everything after. Raft's arrays are
 * never changed; one is copied only when a second append joins it.
 */
class LogTail {
  entries: readonly Entry[] = [];
  private owned = false;

  get length(): number {
    return this.entries.length;
  }

  append(more: readonly Entry[]): void {
    if (more.length === 0) return;
    const keep = this.entries.length === 0 ? 0 : more[0]!.index - this.entries[0]!.index;
    if (keep <= 0) {
      this.entries = more;
      this.owned = false;
      return;
    }
    // (A gap, keep > length, is left for the storage to refuse.)
    const out = this.owned ? (this.entries as Entry[]) : this.entries.slice(0, keep);
    out.length = Math.min(out.length, keep);
    for (const e of more) out.push(e);
    this.entries = out;
    this.owned = true;
  }
}

function copyConfState(cs: ConfState): ConfState {
  return { ...cs, voters: [...cs.voters], learners: [...cs.learners], votersOutgoing: [...cs.votersOutgoing], learnersNext: [...cs.learnersNext] };
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** Raft's refusals of a step (as opposed to bugs and broken invariants). */
function isRefusal(e: unknown): e is RaftError {
  return e instanceof RaftError && !(e instanceof RaftPanic);
}

export class RaftNode<Result = unknown> {
  readonly id: number;
  readonly clusterId: string;
  private readonly opts: ResolvedOptions<Result>;
  private readonly emitter: Emitter<RaftNodeEvents>;
  /** Set by start(); raft is only touched from the loop (and start). */
  private raw: RawNode | undefined;
  private state: NodeState = 'new';
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private failure: Error | undefined;
  /** Storage work that stop() cut short (the storage stopped retrying): ends the work in progress, as a failure does, without being one. */
  private cutShort = false;

  // Request identity: see envelope.ts.
  private readonly incarnation = randomBytes(4).readUInt32BE(0);
  private lastSeq = 0;
  private readonly requests = new Requests();

  // Work for the loop, stepped between Readys.
  private inbox: Array<() => void> = [];
  private ticks = 0;
  private proposals: QueuedProposal[] = [];
  private reads: QueuedRead[] = [];
  private running = false;
  private kickScheduled = false;
  /** A proposal was settled by the entries being applied (see wakeAfterCallers). */
  private settledByApply = false;
  private loop: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  // asyncStorageWrites: the append worker's queue and run, the apply worker's chain.
  private appendQueue: Message[] = [];
  private appending = false;
  private appendChain: Promise<void> = Promise.resolve();
  private applyChain: Promise<void> = Promise.resolve();
  /** Work queued on the apply worker and not yet finished. */
  private applyPending = 0;
  /** Commit-only appends held back until the apply they go with has run (see handleReadyAsync). */
  private heldSends: Message[] = [];
  /** MsgStorageAppends of the hard state alone, held back with them (see handleReadyAsync). */
  private heldAppends: Message[] = [];
  /**
   * asyncStorageWrites: raft restored a snapshot at this index (taking its
   * ConfState) while entries before it may still be in the apply worker's
   * hands; their conf changes are in raft's config already.
   */
  private configRestoredTo = 0;
  private restoredConfState: ConfState | undefined;
  /**
   * The commit index of the newest hard state saved: no snapshot goes past it
   * (a restart would panic). A save that only moved it may not be fsynced
   * yet, but createSnapshot is, and covers it (DurableStorage's ordering rule).
   */
  private durableCommit = 0;
  /** A due snapshot waits for durableCommit to reach the applied index. */
  private snapshotDeferred = false;

  // Reads issued to raft, by the seq of their shared context; then by read index.
  private readonly readsByCtx = new Map<number, QueuedRead[]>();
  private readsByIndex: Array<{ index: number; reads: QueuedRead[] }> = [];
  private transfers: Array<{ seq: number; to: number }> = [];

  // What has been applied, as the host tracks it.
  private applied = 0;
  private snapshotIndex = 0;
  private bytesSinceSnapshot = 0;
  /**
   * A node was added at this index while the log was already compacted: a
   * snapshot must reach it soon, policy or not. Raft sends a node that
   * lacks the compacted entries the storage's snapshot, and the node
   * refuses one whose membership leaves it out; the snapshot before the
   * addition does, and the leader would offer it again and again (etcd's
   * server sends a fresh snapshot instead for the same reason).
   */
  private snapshotForMembersAt = 0;
  private confState: ConfState = { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  private leader: number | undefined;
  private role: Role = 'follower';
  private readonly counters: RaftNodeStats = {
    ticks: 0,
    readies: 0,
    messagesStepped: 0,
    messagesDropped: 0,
    proposalsAccepted: 0,
    requestsRefused: 0,
    timeouts: 0,
    entriesApplied: 0,
    snapshotsCreated: 0,
    snapshotsInstalled: 0,
    snapshotsSent: 0,
  };

  constructor(options: RaftNodeOptions<Result>) {
    this.opts = resolveOptions(options);
    this.id = options.id;
    this.clusterId = options.clusterId;
    this.emitter = new Emitter(this.opts.logger);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Opens the storage; bootstraps a new cluster from `peers` if it is empty,
   * or else restores the state machine from its snapshot and lets raft replay
   * the committed log after it; then joins the transport and starts ticking.
   * A node starts once; to restart, make a new RaftNode on the same storage.
   */
  start(): Promise<void> {
    if (this.state !== 'new') return Promise.reject(new ErrAlreadyStarted(`raft node ${this.id} cannot start: it is ${this.state}`));
    this.state = 'starting';
    this.starting = this.open().then(
      () => {
        this.state = 'running';
        this.timer = setInterval(() => this.onTick(), this.opts.tickMs);
        this.kick();
      },
      async (e: unknown) => {
        this.state = 'stopped';
        await this.release();
        this.rejectAll(new ErrStopped(asError(e)));
        throw e;
      },
    );
    return this.starting;
  }

  private async open(): Promise<void> {
    const { storage, stateMachine, transport, peers } = this.opts;
    await storage.open();
    const { hardState, confState } = storage.initialState();
    const fresh = storage.lastIndex() === 0 && isEmptyHardState(hardState);
    this.confState = confState;
    this.durableCommit = hardState.commit;
    if (!fresh) {
      // Streamed from storage (a large snapshot may not be in its memory).
      const stored = storage.readSnapshotChunks();
      if (stored.metadata.index > 0) {
        await this.restoreStateMachine(stored);
        this.applied = this.snapshotIndex = stored.metadata.index;
      }
    }
    // Raft hands out the committed entries after `applied` again: the state
    // machine is rebuilt from the snapshot plus the log.
    const raw = new RawNode({ ...this.opts.raft, storage, applied: this.applied });
    if (fresh && peers.length > 0) {
      // Every node writes the same bootstrap entries, so no proposer is named.
      raw.bootstrap(peers.map((p) => ({ id: p.id, context: this.envelope(0, p.context ?? EMPTY_BYTES, 0) })));
    }
    this.raw = raw;
    const st = raw.basicStatus();
    this.role = ROLES[st.softState.raftState];
    await transport.start(this.clusterId, this.id, {
      onMessage: (m) => this.enqueue(() => this.stepMessage(m)),
      onUnreachable: (peer) => this.enqueue(() => raw.reportUnreachable(peer)),
    });
  }

  /**
   * Stops ticking and taking requests, lets the Ready in progress finish
   * (so everything acknowledged is durable), leaves the transport, closes
   * the storage and rejects whatever is still pending with ErrStopped.
   * A write the storage is retrying while its medium is unreachable
   * (RedisStorage while Redis is down) is not waited for: the storage is
   * told to stop retrying (stopRetrying), the write fails, and the node
   * stops without it; it was never acknowledged. Idempotent: every call
   * returns the same promise.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'stopped';
      return;
    }
    await this.starting?.catch(() => undefined);
    if (this.state === 'stopped') return; // start failed and cleaned up
    this.state = 'stopping';
    clearInterval(this.timer);
    // Without this, stop() would last as long as an outage of the storage's medium.
    this.opts.storage.stopRetrying?.();
    await this.loop;
    // The work already handed to the workers finishes (what was acknowledged
    // is durable); their responses are no longer stepped.
    for (let a, b; a !== this.appendChain || b !== this.applyChain; ) {
      a = this.appendChain;
      b = this.applyChain;
      await Promise.all([a, b]);
    }
    this.inbox = [];
    this.rejectAll(new ErrStopped(this.failure));
    await this.release();
    this.state = 'stopped';
  }

  private async release(): Promise<void> {
    for (const close of [() => this.opts.transport.stop(), () => this.opts.storage.close()]) {
      try {
        await close();
      } catch (e) {
        this.opts.logger.error(`raftbus: node ${this.id}: while stopping: ${asError(e).message}`);
      }
    }
  }

  private rejectAll(err: ErrStopped): void {
    this.proposals = [];
    this.reads = [];
    this.readsByCtx.clear();
    this.readsByIndex = [];
    this.transfers = [];
    for (const req of this.requests.takeAll()) req.reject(err);
  }

  /** A fatal error: report it and stop. Nothing raft was told can be trusted to continue. */
  private fail(e: unknown): void {
    if (this.halted) return;
    if (this.state === 'stopping') {
      // Most likely a write given up at stopRetrying(): the work in progress
      // ends here, as stop() asked; nothing acknowledged depends on it.
      this.cutShort = true;
      this.opts.logger.warning(`raftbus: node ${this.id}: stopped before its storage work finished: ${asError(e).message}`);
      return;
    }
    this.failure = asError(e);
    this.opts.logger.error(`raftbus: node ${this.id} stops after a fatal error: ${this.failure.stack ?? this.failure.message}`);
    this.emitter.emit('error', this.failure);
    void this.stop();
  }

  /** Whether the workers must take no more work: a fatal error, or work that stop() cut short. */
  private get halted(): boolean {
    return this.failure !== undefined || this.cutShort;
  }

  // ---------------------------------------------------------------- requests

  /**
   * Proposes `data` for the log; resolves with the state machine's result of
   * applying it on this node. Proposals made in the same turn of the event
   * loop go to raft together. Rejects with ErrNotLeader, ErrBackpressure or
   * another ErrProposalDropped when it was not accepted (safe to retry), and
   * with ErrProposalTimeout or ErrStopped when its outcome is unknown.
   *
   * Once raft has accepted it, a proposal fails only at its timeout or when
   * the node stops, never on a change of leader or term: the entry may have
   * reached a majority before its leader fell, and the next leader then
   * commits it. Only the applied entry, recognised by its header, settles it.
   */
  propose(data: Uint8Array): Promise<Result> {
    if (!(data instanceof Uint8Array)) return Promise.reject(new ErrInvalidArgument(`propose: data must be a Uint8Array, got ${typeof data}`));
    return this.request<Result>('propose', data.length, (seq) => {
      this.proposals.push({ seq, data: this.envelope(this.id, data, seq) });
    });
  }

  /**
   * Runs `fn` on this node's state machine once it reflects every write
   * committed before the call (a linearizable read, through raft's
   * ReadIndex): no log entry, one leader round trip (none with 'lease').
   * Reads of one turn share one ReadIndex request.
   */
  read<T>(fn: () => T | Promise<T>): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(new ErrInvalidArgument(`read: fn must be a function, got ${typeof fn}`));
    return this.request<T>('read', 0, (seq) => {
      this.reads.push({ seq, fn });
    });
  }

  /** Adds a voter; `context` (e.g. its address) reaches every node's membershipChange event. */
  addVoter(id: number, context: Uint8Array = EMPTY_BYTES): Promise<ConfState> {
    return this.membership('addVoter', [{ type: ConfChangeType.ConfChangeAddNode, nodeId: id }], context);
  }

  /** Adds a learner: it receives the log but does not vote. */
  addLearner(id: number, context: Uint8Array = EMPTY_BYTES): Promise<ConfState> {
    return this.membership('addLearner', [{ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: id }], context);
  }

  /** Makes a learner a voter. Rejects with ErrUnknownPeer for a node that is no member here. */
  promote(id: number): Promise<ConfState> {
    return this.membership('promote', [{ type: ConfChangeType.ConfChangeAddNode, nodeId: id }], EMPTY_BYTES, true);
  }

  /** Rejects with ErrUnknownPeer for a node that is no member here (raft would make it a silent no-op). */
  removeNode(id: number): Promise<ConfState> {
    return this.membership('removeNode', [{ type: ConfChangeType.ConfChangeRemoveNode, nodeId: id }], EMPTY_BYTES);
  }

  /**
   * Proposes a membership change; resolves with the membership once the
   * change is applied here. One change uses the simple protocol; several at
   * once go through joint consensus, which raft leaves by itself afterwards
   * (a further change is refused until it has). Rejects with
   * ErrConfChangeRefused when this node leads and refuses the change (another
   * one is still being applied). A change made on a follower is forwarded;
   * the leader's refusal cannot be seen there and shows as ErrProposalTimeout.
   */
  changeMembership(changes: ConfChangeSingle[], context: Uint8Array = EMPTY_BYTES): Promise<ConfState> {
    return this.membership('changeMembership', changes, context);
  }

  /** Invalid arguments are refused at once (ErrInvalidArgument); unknown members in the loop, against raft's config (ErrUnknownPeer). */
  private membership(caller: string, requested: ConfChangeSingle[], context: Uint8Array, promoting = false): Promise<ConfState> {
    const changes = checkChanges(caller, requested, context);
    if (changes instanceof ErrInvalidArgument) return Promise.reject(changes);
    return this.request<ConfState>('confChange', context.length, (seq) => {
      const cc = newConfChangeV2({
        transition: ConfChangeTransition.ConfChangeTransitionAuto,
        changes,
        context: this.envelope(this.id, context, seq),
      });
      this.inbox.push(() => {
        const unknown = unknownPeer(this.raw!.status().config, changes, promoting);
        if (unknown !== undefined) this.settle(seq, unknown);
        else this.proposeConfChange(seq, cc);
      });
    });
  }

  /**
   * Asks the leader to hand leadership to `to`; resolves when this node sees
   * `to` lead. Rejects with ErrProposalTimeout if that does not happen in
   * time (raft gives up a transfer after an election timeout).
   */
  transferLeadership(to: number): Promise<void> {
    const bad = badNodeId('transferLeadership', to);
    if (bad !== undefined) return Promise.reject(bad);
    return this.request<void>('transferLeadership', 0, (seq) => {
      this.transfers.push({ seq, to });
      this.inbox.push(() => {
        const lead = this.raw!.basicStatus().softState.lead;
        const unknown = notAVoter(this.raw!.status().config, to);
        if (unknown !== undefined) this.settle(seq, unknown);
        else if (lead === None) this.settle(seq, new ErrNotLeader(undefined));
        else if (lead === to) this.settle(seq, undefined);
        else this.raw!.transferLeader(to);
      });
    });
  }

  /**
   * Registers a request (or refuses it), lets `queue` put its work in the
   * loop's queue, and wakes the loop.
   */
  private request<T>(operation: Operation, bytes: number, queue: (seq: number) => void): Promise<T> {
    if (this.state === 'new') return Promise.reject(new ErrNotStarted());
    if (this.state !== 'running' && this.state !== 'starting') return Promise.reject(new ErrStopped(this.failure));
    const { count, bytes: pendingBytes } = this.requests;
    // Like raft's uncommitted-size limit, one request alone may exceed the byte limit.
    if (count >= this.opts.maxPendingProposals || (count > 0 && pendingBytes + bytes > this.opts.maxPendingBytes)) {
      this.counters.requestsRefused++;
      return Promise.reject(new ErrBackpressure(count, pendingBytes));
    }
    const seq = this.nextSeq();
    const promise = new Promise<T>((resolve, reject) => {
      this.requests.add({
        seq,
        operation,
        bytes,
        deadline: performance.now() + this.opts.proposalTimeoutMs,
        resolve: resolve as (v: unknown) => void,
        reject,
      });
    });
    queue(seq);
    this.kick();
    return promise;
  }

  private nextSeq(): number {
    // 32 bits on the wire; 0 is the bootstrap entries'. Wrapping is harmless:
    // a request times out long before its number comes round again.
    this.lastSeq = this.lastSeq === 0xffffffff ? 1 : this.lastSeq + 1;
    return this.lastSeq;
  }

  private envelope(proposer: number, payload: Uint8Array, seq: number): Uint8Array {
    return encodeEnvelope({ proposer, incarnation: proposer === 0 ? 0 : this.incarnation, seq }, payload);
  }

  private isMine(id: RequestId): boolean {
    return id.proposer === this.id && id.incarnation === this.incarnation;
  }

  /** Resolves (or, given an Error, rejects) request `seq` if it is still pending. */
  private settle(seq: number, outcome: unknown): void {
    const req = this.requests.take(seq);
    if (req === undefined) return;
    if (outcome instanceof Error) {
      this.counters.requestsRefused++;
      req.reject(outcome);
    } else {
      req.resolve(outcome);
    }
  }

  // -------------------------------------------------------------- observation

  on<K extends keyof RaftNodeEvents>(event: K, listener: (e: RaftNodeEvents[K]) => void): () => void {
    return this.emitter.on(event, listener);
  }

  off<K extends keyof RaftNodeEvents>(event: K, listener: (e: RaftNodeEvents[K]) => void): void {
    this.emitter.off(event, listener);
  }

  status(): RaftNodeStatus {
    const raft = this.raw?.status();
    return {
      id: this.id,
      clusterId: this.clusterId,
      state: this.state,
      role: raft === undefined ? 'follower' : ROLES[raft.softState.raftState],
      leader: raft === undefined || raft.softState.lead === None ? undefined : raft.softState.lead,
      term: raft?.hardState.term ?? 0,
      commit: raft?.hardState.commit ?? 0,
      applied: this.applied,
      snapshotIndex: this.snapshotIndex,
      confState: copyConfState(this.confState),
      pending: { requests: this.requests.count, bytes: this.requests.bytes },
      stats: { ...this.counters },
      transport: this.opts.transport.stats(),
      raft,
    };
  }

  // --------------------------------------------------------------------- loop

  private onTick(): void {
    this.ticks++;
    const expired = this.requests.takeExpired(performance.now());
    for (const req of expired) {
      this.counters.timeouts++;
      req.reject(new ErrProposalTimeout(req.operation, this.opts.proposalTimeoutMs));
    }
    if (expired.length > 0) this.forgetSettled();
    this.kick();
  }

  /** Drops the bookkeeping of reads and transfers that are no longer pending. */
  private forgetSettled(): void {
    const live = (r: { seq: number }): boolean => this.requests.has(r.seq);
    for (const [seq, reads] of this.readsByCtx) if (!reads.some(live)) this.readsByCtx.delete(seq);
    this.readsByIndex = this.readsByIndex.filter((r) => r.reads.some(live));
    this.transfers = this.transfers.filter(live);
  }

  private enqueue(op: () => void): void {
    if (this.state !== 'running' && this.state !== 'starting') return;
    this.inbox.push(op);
    this.kick();
  }

  /**
   * Wakes the loop in a microtask, so that everything queued in the current
   * turn (a burst of proposals, say) goes into one Ready.
   */
  private kick(): void {
    if (this.state !== 'running' || this.running || this.kickScheduled) return;
    this.kickScheduled = true;
    const wake = (): void => {
      this.kickScheduled = false;
      if (this.state === 'running' && !this.running) this.loop = this.run();
    };
    // Synchronously, the awaits of a Ready let work pile up for the next;
    // asynchronously nothing is awaited, so the turn of the event loop is
    // what gathers it (see the top of this file).
    if (this.opts.asyncStorageWrites) setImmediate(wake);
    else queueMicrotask(wake);
  }

  private async run(): Promise<void> {
    this.running = true;
    const raw = this.raw!;
    try {
      // On stop, the Ready in progress finishes and no new one is taken.
      while (this.state === 'running') {
        this.drain(raw);
        if (!raw.hasReady()) break;
        this.counters.readies++;
        if (this.opts.asyncStorageWrites) this.handleReadyAsync(raw, raw.ready());
        else await this.handleReady(raw, raw.ready());
      }
    } catch (e) {
      this.fail(e);
    } finally {
      this.running = false;
    }
  }

  /** Steps everything queued since the last Ready into raft. */
  private drain(raw: RawNode): void {
    const inbox = this.inbox;
    this.inbox = [];
    for (const op of inbox) op();
    // Ticks after messages: a leader that was slow to get here counts its
    // followers' responses before checkQuorum looks at them.
    for (; this.ticks > 0; this.ticks--) {
      this.counters.ticks++;
      raw.tick();
    }
    if (this.proposals.length > 0) this.flushProposals(raw);
    if (this.reads.length > 0) this.flushReads(raw);
  }

  private stepMessage(m: Message): void {
    try {
      this.raw!.step(m);
      this.counters.messagesStepped++;
    } catch (e) {
      // A peer's message raft refuses (from a removed node, a local type
      // from the network, a proposal while there is no leader) is dropped.
      if (!isRefusal(e)) throw e;
      this.counters.messagesDropped++;
      this.opts.logger.debug(`raftbus: node ${this.id} dropped ${MessageType[m.type]} from ${m.from}: ${e.message}`);
    }
  }

  /**
   * Steps the turn's proposals as few MsgProps (each within maxSizePerMsg),
   * so a leader appends them in one go and a follower forwards them in one
   * message.
   */
  private flushProposals(raw: RawNode): void {
    const queued = this.proposals.filter((p) => this.requests.has(p.seq));
    this.proposals = [];
    let batch: QueuedProposal[] = [];
    let size = 0;
    for (const p of queued) {
      if (batch.length > 0 && size + p.data.length > this.opts.maxSizePerMsg) {
        this.proposeBatch(raw, batch);
        batch = [];
        size = 0;
      }
      batch.push(p);
      size += p.data.length;
    }
    if (batch.length > 0) this.proposeBatch(raw, batch);
  }

  private proposeBatch(raw: RawNode, batch: QueuedProposal[]): void {
    try {
      raw.step(newMessage({ type: MessageType.MsgProp, from: this.id, entries: batch.map((p) => newEntry({ data: p.data })) }));
      this.counters.proposalsAccepted += batch.length;
    } catch (e) {
      if (!(e instanceof ErrProposalDropped)) throw e;
      // A leader refuses a whole batch that would overflow its uncommitted
      // size limit; some of it alone may still fit.
      const st = raw.basicStatus();
      if (batch.length > 1 && st.softState.raftState === StateType.StateLeader && st.leadTransferee === None) {
        for (const p of batch) this.proposeBatch(raw, [p]);
        return;
      }
      const err = this.dropped(raw, e);
      for (const p of batch) this.settle(p.seq, err);
    }
  }

  private proposeConfChange(seq: number, cc: ConfChangeV2): void {
    if (!this.requests.has(seq)) return;
    const raw = this.raw!;
    try {
      raw.proposeConfChange(cc);
      this.counters.proposalsAccepted++;
    } catch (e) {
      if (!(e instanceof ErrProposalDropped)) throw e;
      this.settle(seq, e instanceof ErrConfChangeRefused ? e : this.dropped(raw, e));
    }
  }

  /** Says why raft dropped a proposal, in the most useful terms we can tell. */
  private dropped(raw: RawNode, e: ErrProposalDropped): ErrProposalDropped {
    const { softState, leadTransferee } = raw.basicStatus();
    if (softState.raftState !== StateType.StateLeader) return new ErrNotLeader(softState.lead === None ? undefined : softState.lead);
    if (leadTransferee !== None) return new ErrProposalDropped(`leadership transfer to node ${leadTransferee} in progress`);
    // A leader (which steps down when removed) refuses only for this reason.
    return e.constructor === ErrProposalDropped ? new ErrProposalDropped('the leader holds too many uncommitted entries (maxUncommittedEntriesSize)') : e;
  }

  private flushReads(raw: RawNode): void {
    const reads = this.reads.filter((r) => this.requests.has(r.seq));
    this.reads = [];
    if (reads.length === 0) return;
    const lead = raw.basicStatus().softState.lead;
    if (lead === None) {
      // Raft would drop the request silently; say so now instead of at the timeout.
      const err = new ErrNotLeader(undefined);
      for (const r of reads) this.settle(r.seq, err);
      return;
    }
    const seq = this.nextSeq();
    this.readsByCtx.set(seq, reads);
    raw.readIndex(this.envelope(this.id, EMPTY_BYTES, seq));
  }

  // -------------------------------------------------------------------- Ready

  private async handleReady(raw: RawNode, rd: Ready): Promise<void> {
    // 1. Persist. Nothing of this Ready may be sent before it is durable.
    if (rd.entries.length > 0 || rd.hardState !== undefined || rd.snapshot !== undefined) {
      await this.save({ entries: rd.entries, hardState: rd.hardState, snapshot: rd.snapshot });
    }
    // 2. Send.
    if (rd.messages.length > 0) this.send(raw, rd.messages);
    // 3. Apply: the snapshot first, then the entries committed after it.
    if (rd.snapshot !== undefined) await this.installSnapshot(rd.snapshot);
    for (const rs of rd.readStates) this.onReadState(rs);
    if (rd.committedEntries.length > 0) {
      const applying = this.applyEntries(raw, rd.committedEntries);
      if (applying !== undefined) await applying;
    }
    // 4. Advance.
    raw.advance(rd);
    if (rd.softState !== undefined) this.onSoftState(rd.softState, raw.basicStatus().hardState.term);
    if (this.readsByIndex.length > 0) this.serveReads();
    if (rd.committedEntries.length > 0 || rd.snapshot !== undefined) this.emitter.emit('applied', { index: this.applied });
    await this.maybeSnapshot();
  }

  /**
   * asyncStorageWrites: hands the storage work out to the workers and sends
   * everything else now. Nothing here awaits.
   */
  private handleReadyAsync(raw: RawNode, rd: Ready): void {
    const network: Message[] = [];
    const appends: Message[] = [];
    const applyStarts = this.applyPending === 0 && rd.messages.some((m) => m.to === LocalApplyThread && m.entries.length > 0);
    for (const m of rd.messages) {
      if (m.to === LocalAppendThread) {
        if (m.snapshot !== undefined) {
          // Raft restored this snapshot when the MsgSnap was stepped: its
          // config is the snapshot's from now on.
          this.configRestoredTo = m.snapshot.metadata.index;
          this.restoredConfState = m.snapshot.metadata.confState;
        }
        appends.push(m);
      } else if (m.to === LocalApplyThread) void this.onApplyThread(() => this.applyWork(raw, m));
      else network.push(m);
    }
    if (network.length > 0) {
      // Appends that only carry the new commit index, going out with an
      // apply that starts now: held until the apply has run and the callers
      // it resumed have proposed (wakeAfterCallers), so that they reach each
      // follower together with the appends of those proposals, one delivery
      // instead of two. Anything else goes now.
      if (applyStarts && network.every(isCommitOnlyAppend)) this.heldSends.push(...network);
      else this.send(raw, network);
    }
    // Only then the appends: a save starts in this turn (framing, checksums,
    // a small write), and a leader's appends to its followers, which need not
    // wait for its own (raft thesis 10.2.1), should not wait for that either.
    // One of the hard state alone that nothing waits on (a leader's new
    // commit index) going with an apply that starts now is held like the
    // commit-only appends: the apply and the callers it resumes need not
    // wait for its save, which then joins that of their proposals' entries.
    if (applyStarts && appends.length > 0 && appends.every((m) => this.isOwnHardStateOnly(m))) this.heldAppends.push(...appends);
    else for (const m of appends) this.onAppendThread(raw, m);
    for (const rs of rd.readStates) this.onReadState(rs);
    if (rd.softState !== undefined) this.onSoftState(rd.softState, raw.basicStatus().hardState.term);
    if (this.readsByIndex.length > 0) this.serveReads();
  }

  /**
   * A MsgStorageAppend of the hard state alone (no entries, no snapshot)
   * that nothing waits on but raft's own note that it is stored: no
   * acknowledgement to a peer, no vote (a candidate's for itself included).
   */
  private isOwnHardStateOnly(m: Message): boolean {
    return (
      m.entries.length === 0 &&
      m.snapshot === undefined &&
      m.responses.every((r) => r.to === this.id && r.type === MessageType.MsgStorageAppendResp)
    );
  }

  /** Queues a MsgStorageAppend for the append worker (after any held ones), starting it if idle. */
  private onAppendThread(raw: RawNode, m: Message | undefined): void {
    if (this.heldAppends.length > 0) {
      this.appendQueue.push(...this.heldAppends);
      this.heldAppends = [];
    }
    if (m !== undefined) this.appendQueue.push(m);
    if (this.appendQueue.length === 0) return;
    if (this.appending) return;
    this.appending = true;
    this.appendChain = this.appendWorker(raw);
  }

  /** Queues `work` on the apply worker; the promise settles when it is done (never rejects). */
  private onApplyThread(work: () => Promise<void>): Promise<void> {
    this.applyPending++;
    this.applyChain = this.applyChain
      .then(() => (this.halted ? undefined : work()))
      .catch((e: unknown) => this.fail(e))
      .then(() => {
        this.applyPending--;
      });
    return this.applyChain;
  }

  /** Saves the queued MsgStorageAppends, as many at a time as have queued, until none is left. */
  private async appendWorker(raw: RawNode): Promise<void> {
    try {
      while (this.appendQueue.length > 0 && !this.halted) await this.appendWork(raw, this.takeAppendBatch());
    } catch (e) {
      this.fail(e);
    } finally {
      // Synchronously with the loop's last check: a message queued after it starts a new worker.
      this.appending = false;
    }
  }

  /**
   * The queued MsgStorageAppends up to (not including) the next one after
   * the first that carries a snapshot: a snapshot replaces the whole log, so
   * entries before it must not be written after it.
   */
  private takeAppendBatch(): Message[] {
    const q = this.appendQueue;
    let n = 1;
    while (n < q.length && q[n]!.snapshot === undefined) n++;
    return q.splice(0, n);
  }

  /**
   * MsgStorageAppends, in order: make them durable with one save, then
   * deliver their responses (in order).
   */
  private async appendWork(raw: RawNode, batch: Message[]): Promise<void> {
    const snap = batch[0]!.snapshot;
    const entries = new LogTail();
    let hardState: HardState | undefined;
    for (const m of batch) {
      entries.append(m.entries);
      const hs = { term: m.term, vote: m.vote, commit: m.commit };
      if (!isEmptyHardState(hs)) hardState = hs;
    }
    if (entries.length > 0 || hardState !== undefined || snap !== undefined) {
      await this.save({ entries: entries.entries, hardState, snapshot: snap });
    }
    if (snap !== undefined) {
      // After whatever was applied before it, and before raft (told by the
      // responses below) hands out any entry after it.
      await this.onApplyThread(async () => {
        await this.installSnapshot(snap);
        this.afterApply();
      });
      if (this.halted) return;
    }
    if (this.snapshotDeferred && this.durableCommit >= this.applied) {
      this.snapshotDeferred = false;
      void this.onApplyThread(() => this.maybeSnapshot());
    }
    this.deliver(raw, batch.length === 1 ? batch[0]!.responses : batch.flatMap((m) => m.responses));
  }

  /** storage.save, noting the durable commit index. */
  private async save(batch: PersistBatch): Promise<void> {
    await this.opts.storage.save(batch);
    if (batch.hardState !== undefined && batch.hardState.commit > this.durableCommit) this.durableCommit = batch.hardState.commit;
  }

  /** MsgStorageApply: apply its entries, then step its response back. */
  private async applyWork(raw: RawNode, m: Message): Promise<void> {
    const applying = this.applyEntries(raw, m.entries);
    if (applying !== undefined) {
      // The state machine went asynchronous: held appends do not wait for it.
      this.releaseHeld(raw);
      await applying;
    }
    this.deliver(raw, m.responses);
    this.afterApply();
    this.wakeAfterCallers(raw);
    await this.maybeSnapshot();
  }

  /**
   * Runs the loop once more in this turn, after the code awaiting the
   * requests just settled has run: a caller that proposes again as soon as
   * its proposal is applied (a closed loop, a queue consumer) has its next
   * proposal sent now, before the I/O that arrived meanwhile is read, rather
   * than on the next turn. The resumed callers run first (their microtasks
   * were queued by the settling), so their proposals still go out together.
   */
  private wakeAfterCallers(raw: RawNode): void {
    if (!this.settledByApply && this.heldSends.length === 0 && this.heldAppends.length === 0) return;
    this.settledByApply = false;
    queueMicrotask(() => {
      if (this.state === 'running' && !this.running && this.kickScheduled) this.loop = this.run();
      this.releaseHeld(raw);
    });
  }

  /**
   * Sends the appends handleReadyAsync held back and queues its held
   * storage appends, if any (each before anything sent or queued after it:
   * see send and onAppendThread).
   */
  private releaseHeld(raw: RawNode): void {
    if (this.heldSends.length > 0) this.send(raw, []);
    if (this.heldAppends.length > 0) this.onAppendThread(raw, undefined);
  }

  private afterApply(): void {
    if (this.readsByIndex.length > 0) this.serveReads();
    this.emitter.emit('applied', { index: this.applied });
  }

  /** A storage worker's responses: to peers through the transport, to this node through the queue. */
  private deliver(raw: RawNode, responses: Message[]): void {
    const peers: Message[] = [];
    for (const r of responses) {
      if (r.to === this.id) this.enqueue(() => this.stepLocal(raw, r));
      else peers.push(r);
    }
    if (peers.length > 0) this.send(raw, peers);
    this.kick();
  }

  private stepLocal(raw: RawNode, m: Message): void {
    try {
      raw.step(m);
    } catch (e) {
      // As advance() does in the synchronous mode: raft's refusals of our
      // own responses (say, from a node just removed) have no remedy.
      if (!isRefusal(e)) throw e;
    }
  }

  private send(raw: RawNode, messages: Message[]): void {
    if (this.heldSends.length > 0) {
      // Held messages first: per peer, messages leave in the order raft made them.
      messages = this.heldSends.concat(messages);
      this.heldSends = [];
    }
    if (messages.length === 0) return;
    messages = withoutCoveredAppends(messages);
    if (messages.some(leavesOutRecipient)) {
      // Reported as failed instead: raft tries again after a heartbeat, by
      // when the snapshot taken for the new member (snapshotForMembersAt) is there.
      messages = messages.filter((m) => {
        if (!leavesOutRecipient(m)) return true;
        this.inbox.push(() => raw.reportSnapshot(m.to, SnapshotStatus.SnapshotFailure));
        return false;
      });
      if (messages.length === 0) return;
    }
    try {
      this.opts.transport.send(messages);
    } catch (e) {
      // Transports must not throw; if one does, raft hears of it as it would of a lost peer.
      this.opts.logger.warning(`raftbus: node ${this.id}: transport send threw: ${asError(e).message}`);
      for (const m of messages) {
        this.inbox.push(() =>
          m.type === MessageType.MsgSnap ? raw.reportSnapshot(m.to, SnapshotStatus.SnapshotFailure) : raw.reportUnreachable(m.to),
        );
      }
      return;
    }
    for (const m of messages) {
      if (m.type !== MessageType.MsgSnap) continue;
      this.counters.snapshotsSent++;
      // The transport has it. If it is lost on the way, the follower's next
      // rejection of an append sends the leader back to a snapshot.
      this.inbox.push(() => raw.reportSnapshot(m.to, SnapshotStatus.SnapshotFinish));
    }
  }

  /** Restores the state machine from chunks: streamed into restoreChunks(), or joined for restore(). */
  private async restoreStateMachine(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const { stateMachine } = this.opts;
    if (stateMachine.restoreChunks !== undefined) await stateMachine.restoreChunks(chunks);
    else await stateMachine.restore(await concatChunks(chunks));
  }

  private async installSnapshot(snap: Snapshot): Promise<void> {
    const { stateMachine } = this.opts;
    if (stateMachine.restoreChunks !== undefined) await stateMachine.restoreChunks(chunksOf(snap.data));
    else await stateMachine.restore(snap.data);
    this.applied = this.snapshotIndex = snap.metadata.index;
    this.bytesSinceSnapshot = 0;
    this.confState = snap.metadata.confState;
    this.counters.snapshotsInstalled++;
  }

  /**
   * Applies `entries` from `from` on, in order. Synchronous while the state
   * machine's apply() is (no promise, no microtask per entry); from the
   * first entry whose apply() returns a promise on, the rest waits for it
   * and a promise is returned.
   */
  private applyEntries(raw: RawNode, entries: Entry[], from = 0): Promise<void> | undefined {
    for (let i = from; i < entries.length; i++) {
      const e = entries[i]!;
      switch (e.type) {
        case EntryType.EntryNormal:
          // Empty entries are raft's (a new leader's, a refused conf
          // change's stand-in): the state machine never sees them.
          if (e.data.length > 0) {
            const pending = this.applyNormal(e);
            if (pending !== undefined) {
              return pending.then(() => {
                this.entryApplied(e);
                return this.applyEntries(raw, entries, i + 1);
              });
            }
          }
          break;
        case EntryType.EntryConfChange:
          this.applyConfChange(raw, e, decodeConfChange(e.data));
          break;
        case EntryType.EntryConfChangeV2:
          this.applyConfChange(raw, e, decodeConfChangeV2(e.data));
          break;
      }
      this.entryApplied(e);
    }
    return undefined;
  }

  private entryApplied(e: Entry): void {
    this.applied = e.index;
    this.bytesSinceSnapshot += e.data.length;
    this.counters.entriesApplied++;
  }

  /** Applies a proposal's entry and settles its request here; a promise only if apply() returned one. */
  private applyNormal(e: Entry): Promise<void> | undefined {
    const data = e.data;
    checkEnvelope(data);
    const result: unknown = this.opts.stateMachine.apply(envelopePayload(data), e.index);
    if (isPromiseLike(result)) return Promise.resolve(result).then((r) => this.settleApplied(data, r));
    this.settleApplied(data, result);
    return undefined;
  }

  /**
   * Settles the request whose entry was just applied, if this incarnation
   * of this node proposed it. Matching on the header, never on the term or
   * the leader: an entry proposed under one leader may be committed under
   * the next.
   */
  private settleApplied(data: Uint8Array, result: unknown): void {
    if (envelopeProposer(data) === this.id && envelopeIncarnation(data) === this.incarnation) {
      this.settle(envelopeSeq(data), result);
      this.settledByApply = true;
    }
  }

  private applyConfChange(raw: RawNode, e: Entry, cc: ConfChange | ConfChangeV2): void {
    // Raft's config already holds a change at or before a snapshot it has
    // restored since handing this one out (asyncStorageWrites): applying it
    // again would fail (already joint) or undo a newer config. The
    // snapshot's membership, which includes it, stands for its outcome; the
    // restore, next on the apply worker, makes it the state machine's too.
    const restored = e.index <= this.configRestoredTo;
    const confState = restored ? copyConfState(this.restoredConfState!) : raw.applyConfChange(cc);
    this.confState = confState;
    const change = confChangeAsV2(cc);
    if (!restored && this.snapshotIndex > 0 && change.changes.some((c) => c.type === ConfChangeType.ConfChangeAddNode || c.type === ConfChangeType.ConfChangeAddLearnerNode)) {
      this.snapshotForMembersAt = e.index;
    }
    // Raft's own leave-joint change has no context, hence no header.
    const { id, payload: context } = change.context.length > 0 ? decodeEnvelope(change.context) : { id: undefined, payload: EMPTY_BYTES };
    this.emitter.emit('membershipChange', { index: e.index, change: { ...change, context }, context, confState });
    if (id !== undefined && this.isMine(id)) this.settle(id.seq, confState);
  }

  private onReadState(rs: ReadState): void {
    let id: RequestId;
    try {
      id = decodeEnvelope(rs.requestCtx).id;
    } catch {
      return;
    }
    const reads = this.isMine(id) ? this.readsByCtx.get(id.seq) : undefined;
    if (reads === undefined) return;
    this.readsByCtx.delete(id.seq);
    this.readsByIndex.push({ index: rs.index, reads });
  }

  /** Runs the reads whose read index the state machine has reached. */
  private serveReads(): void {
    const due = this.readsByIndex.filter((r) => r.index <= this.applied);
    if (due.length === 0) return;
    this.readsByIndex = this.readsByIndex.filter((r) => r.index > this.applied);
    for (const { reads } of due) {
      for (const { seq, fn } of reads) {
        const req = this.requests.take(seq);
        if (req === undefined) continue;
        try {
          req.resolve(fn());
        } catch (e) {
          req.reject(asError(e));
        }
      }
    }
  }

  private onSoftState(ss: SoftState, term: number): void {
    const leader = ss.lead === None ? undefined : ss.lead;
    const role = ROLES[ss.raftState];
    if (role !== this.role) {
      const previous = this.role;
      this.role = role;
      this.emitter.emit('roleChange', { role, previous, term });
    }
    if (leader !== this.leader) {
      this.leader = leader;
      for (const t of this.transfers) if (t.to === leader) this.settle(t.seq, undefined);
      this.transfers = this.transfers.filter((t) => this.requests.has(t.seq));
      this.emitter.emit('leaderChange', { leader, term });
    }
  }

  /** Snapshots the state machine and compacts the log when the policy says so. */
  private async maybeSnapshot(): Promise<void> {
    const policy = this.opts.snapshot;
    if (policy === undefined) return;
    const entries = this.applied - this.snapshotIndex;
    const forMembers = this.snapshotIndex < this.snapshotForMembersAt;
    if (entries === 0 || (!forMembers && entries < policy.entries && this.bytesSinceSnapshot < policy.bytes)) return;
    // A restore is coming (asyncStorageWrites): this.confState may not be
    // the membership as of `applied`, and the snapshot would be outdated anyway.
    if (this.applied < this.configRestoredTo) return;
    if (this.applied > this.durableCommit) {
      // Applied before the hard state committing it is durable
      // (asyncStorageWrites): a snapshot here would be ahead of the durable
      // commit index, which a restart refuses. The append worker asks again.
      this.snapshotDeferred = true;
      return;
    }
    const { storage, stateMachine } = this.opts;
    const index = this.applied;
    // Between two Readys (with asyncStorageWrites: between two turns of the
    // apply worker, which runs this) nothing is applied, so the state is
    // exactly as of `index`, while its chunks stream into the storage too.
    try {
      if (stateMachine.snapshotChunks !== undefined) await storage.createSnapshot(index, this.confState, stateMachine.snapshotChunks());
      else await storage.createSnapshot(index, this.confState, await stateMachine.snapshot());
    } catch (e) {
      // With asyncStorageWrites a leader's snapshot, saved by the append
      // worker, may overtake ours (ErrSnapOutOfDate, ErrCompacted): it will
      // be restored next, and ours is not needed. Synchronously, it cannot.
      if (!this.opts.asyncStorageWrites || !(e instanceof ErrSnapOutOfDate || e instanceof ErrCompacted)) throw e;
      return;
    }
    this.snapshotIndex = index;
    this.bytesSinceSnapshot = 0;
    this.counters.snapshotsCreated++;
    const compactTo = index - policy.catchUpEntries;
    if (compactTo >= storage.firstIndex()) await storage.compact(compactTo);
  }
}

// RawNode: the thread-unsafe, synchronous API to raft (etcd's rawnode.go).
// The application ticks it, steps messages in, and drains Ready.
import type { Config } from './config.js';
import { ErrConfChangeRefused, ErrInvalidConfig, ErrStepLocalMsg, ErrStepPeerNotFound, RaftError, RaftPanic } from './errors.js';
import { encodeConfChange } from './raftpb/codec.js';
import { confChangeAsV2 } from './raftpb/confchange.js';
import {
  blankMessage,
  ConfChangeType,
  EMPTY_BYTES,
  EntryType,
  newConfChange,
  newHardState,
  isEmptyHardState,
  isEmptySnap,
  MessageType,
  newEntry,
  newMessage,
  type ConfChange,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
} from './raftpb/types.js';
import { confChangeToMsg, None, Raft, StateType, type ReadState, type SoftState } from './raft.js';
import type { BasicStatus, Status } from './status.js';
import type { Progress } from './tracker/progress.js';
import { isLocalMsg, isLocalMsgTarget, isResponseMsg, LocalApplyThread, LocalAppendThread } from './util/messages.js';
import { entsSize } from './util/sizes.js';

/**
 * Everything raft wants the application to do, in order: persist entries,
 * hard state and snapshot; send messages (those in msgsAfterAppend order
 * only after persisting — RawNode already holds them back until advance);
 * apply committed entries; then call advance().
 */
export interface Ready {
  /** Set only when leader or role changed since the last Ready. */
  softState?: SoftState;
  /** Set only when term, vote or commit changed; persist before sending. */
  hardState?: HardState;
  readStates: ReadState[];
  /** Unstable entries to append to stable storage. */
  entries: Entry[];
  /** A snapshot to install in stable storage. */
  snapshot?: Snapshot;
  /** Committed entries to apply to the state machine. */
  committedEntries: Entry[];
  /** Outbound messages (with asyncStorageWrites, also local storage work). */
  messages: Message[];
  /** Whether entries and hard state must be fsynced before proceeding. */
  mustSync: boolean;
}

/** A member of a cluster being bootstrapped. */
export interface Peer {
  id: number;
  /** Carried in the ConfChange that adds the peer (e.g. its address). */
  context?: Uint8Array;
}

export enum SnapshotStatus {
  SnapshotFinish = 1,
  SnapshotFailure = 2,
}

export enum ProgressType {
  ProgressTypePeer = 0,
  ProgressTypeLearner = 1,
}

/** Whether a Ready's state must be fsynced: new entries, or a changed term or vote. */
export function mustSync(st: HardState, prev: HardState, entsnum: number): boolean {
  // Commit index changes need no sync: a lost commit index is relearned.
  return entsnum !== 0 || st.vote !== prev.vote || st.term !== prev.term;
}

export class RawNode {
  /** @internal The state machine; exposed for tests and the interaction env. */
  readonly raft: Raft;
  private readonly asyncStorageWrites: boolean;
  private prevSoftSt: SoftState;
  private prevHardSt: HardState;
  /** Self-addressed responses to step once the Ready is persisted (sync mode). */
  private stepsOnAdvance: Message[] = [];

  /**
   * Throws ErrInvalidConfig for a bad config. Bootstrap a new cluster with
   * bootstrap() (or give it a Storage that holds the initial ConfState).
   */
  constructor(config: Config) {
    this.raft = new Raft(config);
    this.asyncStorageWrites = config.asyncStorageWrites ?? false;
    this.prevSoftSt = this.raft.softState();
    this.prevHardSt = this.raft.hardState();
  }

  /** Advances the logical clock by one tick. */
  tick(): void {
    this.raft.tick();
  }

  /**
   * Advances only the election timer. For quiesced groups: the leader stops
   * ticking, and so must every follower, or they will campaign.
   */
  tickQuiesced(): void {
    this.raft.electionElapsed++;
  }

  /** Starts an election now (as a candidate or pre-candidate). */
  campaign(): void {
    this.raft.step(newMessage({ type: MessageType.MsgHup }));
  }

  /** Proposes data for the log. Throws ErrProposalDropped if it cannot be accepted here. */
  propose(data: Uint8Array): void {
    const m = blankMessage(MessageType.MsgProp);
    m.from = this.raft.id;
    // newEntry({ data }) as a literal: this is the per-proposal path.
    m.entries = [{ term: 0, index: 0, type: EntryType.EntryNormal, data }];
    this.raft.step(m);
  }

  /**
   * Proposes a membership change. Throws ErrProposalDropped if it cannot be
   * accepted here, and ErrConfChangeRefused when this leader refused it
   * (an empty entry then holds its place in the log, as in etcd). On a
   * follower the proposal is forwarded and a refusal shows only as that
   * empty entry at apply time.
   */
  proposeConfChange(cc: ConfChange | ConfChangeV2): void {
    this.raft.refusedConfChange = undefined;
    this.raft.step(confChangeToMsg(cc));
    const refused = this.raft.refusedConfChange;
    if (refused !== undefined) {
      this.raft.refusedConfChange = undefined;
      throw new ErrConfChangeRefused(refused);
    }
  }

  /**
   * Applies a committed conf change to the node. Call it for every conf
   * change entry when it is applied; returns the resulting ConfState.
   */
  applyConfChange(cc: ConfChange | ConfChangeV2): ConfState {
    return this.raft.applyConfChange(confChangeAsV2(cc));
  }

  /**
   * Steps a message from the network. Throws ErrStepLocalMsg for message
   * types raft only creates itself, ErrStepPeerNotFound for a response from
   * a node not in the config.
   */
  step(m: Message): void {
    if (isLocalMsg(m.type) && !isLocalMsgTarget(m.from)) throw new ErrStepLocalMsg();
    if (isResponseMsg(m.type) && !isLocalMsgTarget(m.from) && !this.raft.trk.progress.has(m.from)) {
      throw new ErrStepPeerNotFound();
    }
    this.raft.step(m);
  }

  /** Returns the current Ready and accepts it: its work is now the caller's. */
  ready(): Ready {
    const rd = this.readyWithoutAccept();
    this.acceptReady(rd);
    return rd;
  }

  private readyWithoutAccept(): Ready {
    const r = this.raft;
    const rd: Ready = {
      entries: r.raftLog.nextUnstableEnts(),
      committedEntries: r.raftLog.nextCommittedEnts(this.applyUnstableEntries()),
      messages: r.msgs,
      readStates: [],
      mustSync: false,
    };
    // Soft and hard state are built only when they changed (compared field
    // by field): most Readys of a busy leader carry neither.
    if (r.lead !== this.prevSoftSt.lead || r.state !== this.prevSoftSt.raftState) rd.softState = r.softState();
    const prevHardSt = this.prevHardSt;
    if (r.term !== prevHardSt.term || r.vote !== prevHardSt.vote || r.raftLog.committed !== prevHardSt.commit) {
      rd.hardState = r.hardState();
    }
    if (r.raftLog.hasNextUnstableSnapshot()) rd.snapshot = r.raftLog.nextUnstableSnapshot();
    if (r.readStates.length !== 0) rd.readStates = r.readStates;
    // mustSync(hardState, prevHardSt, entries), on the fields.
    rd.mustSync = rd.entries.length !== 0 || r.vote !== prevHardSt.vote || r.term !== prevHardSt.term;

    if (this.asyncStorageWrites) {
      // Storage work goes out as messages to the local append and apply
      // threads; their bundled responses come back through step().
      if (this.needStorageAppendMsg(rd)) rd.messages = [...rd.messages, this.newStorageAppendMsg(rd)];
      if (rd.committedEntries.length > 0) rd.messages = [...rd.messages, this.newStorageApplyMsg(rd)];
    } else {
      // Responses to others may go out with this Ready (the caller sends
      // after persisting); our own are stepped on advance().
      let after: Message[] | undefined;
      for (const m of r.msgsAfterAppend) {
        if (m.to !== r.id) (after ??= []).push(m);
      }
      if (after !== undefined) rd.messages = rd.messages.length === 0 ? after : rd.messages.concat(after);
    }
    return rd;
  }

  private needStorageAppendMsg(rd: Ready): boolean {
    return (
      rd.entries.length > 0 ||
      (rd.hardState !== undefined && !isEmptyHardState(rd.hardState)) ||
      !isEmptySnap(rd.snapshot) ||
      this.raft.msgsAfterAppend.length > 0
    );
  }

  private needStorageAppendRespMsg(rd: Ready): boolean {
    // Acknowledge appends even when this Ready has none: entries handed out
    // earlier may still be in progress and need marking stable.
    return this.raft.raftLog.hasNextOrInProgressUnstableEnts() || !isEmptySnap(rd.snapshot);
  }

  private newStorageAppendMsg(rd: Ready): Message {
    const r = this.raft;
    const m = newMessage({ type: MessageType.MsgStorageAppend, to: LocalAppendThread, from: r.id, entries: rd.entries });
    if (rd.hardState !== undefined && !isEmptyHardState(rd.hardState)) {
      m.term = rd.hardState.term;
      m.vote = rd.hardState.vote;
      m.commit = rd.hardState.commit;
    }
    if (!isEmptySnap(rd.snapshot)) m.snapshot = rd.snapshot;
    // The append thread delivers these once the write is durable, which is
    // exactly when they may be sent.
    m.responses = [...r.msgsAfterAppend];
    if (this.needStorageAppendRespMsg(rd)) m.responses.push(this.newStorageAppendRespMsg(rd));
    return m;
  }

  private newStorageAppendRespMsg(rd: Ready): Message {
    const r = this.raft;
    // The term lets raft ignore the ack if the log was overwritten by a
    // newer leader in between.
    const m = blankMessage(MessageType.MsgStorageAppendResp);
    m.to = r.id;
    m.from = LocalAppendThread;
    m.term = r.term;
    if (r.raftLog.hasNextOrInProgressUnstableEnts()) {
      const last = r.raftLog.lastEntryID();
      m.index = last.index;
      m.logTerm = last.term;
    }
    if (!isEmptySnap(rd.snapshot)) m.snapshot = rd.snapshot;
    return m;
  }

  private newStorageApplyMsg(rd: Ready): Message {
    const ents = rd.committedEntries;
    // Committed entries do not apply under a specific term: term 0.
    return newMessage({
      type: MessageType.MsgStorageApply,
      to: LocalApplyThread,
      from: this.raft.id,
      term: 0,
      entries: ents,
      responses: [this.newStorageApplyRespMsg(ents)],
    });
  }

  private newStorageApplyRespMsg(ents: Entry[]): Message {
    const m = blankMessage(MessageType.MsgStorageApplyResp);
    m.to = this.raft.id;
    m.from = LocalApplyThread;
    m.entries = ents;
    return m;
  }

  private acceptReady(rd: Ready): void {
    const r = this.raft;
    if (rd.softState) this.prevSoftSt = rd.softState;
    if (rd.hardState !== undefined && !isEmptyHardState(rd.hardState)) this.prevHardSt = rd.hardState;
    if (rd.readStates.length !== 0) r.readStates = [];
    if (!this.asyncStorageWrites) {
      if (this.stepsOnAdvance.length !== 0) r.logger.panic('two accepted Ready structs without call to Advance');
      for (const m of r.msgsAfterAppend) if (m.to === r.id) this.stepsOnAdvance.push(m);
      if (this.needStorageAppendRespMsg(rd)) this.stepsOnAdvance.push(this.newStorageAppendRespMsg(rd));
      if (rd.committedEntries.length > 0) this.stepsOnAdvance.push(this.newStorageApplyRespMsg(rd.committedEntries));
    }
    r.msgs = [];
    r.msgsAfterAppend = [];
    r.raftLog.acceptUnstable();
    if (rd.committedEntries.length > 0) {
      const ents = rd.committedEntries;
      r.raftLog.acceptApplying(ents[ents.length - 1]!.index, entsSize(ents), this.applyUnstableEntries());
    }
  }

  /** Whether committed entries may be applied before they are durable locally (sync mode only). */
  private applyUnstableEntries(): boolean {
    return !this.asyncStorageWrites;
  }

  hasReady(): boolean {
    const r = this.raft;
    // softState() and hardState() field by field, without building them:
    // applications call this in their loop.
    if (r.lead !== this.prevSoftSt.lead || r.state !== this.prevSoftSt.raftState) return true;
    const prev = this.prevHardSt;
    const commit = r.raftLog.committed;
    const hardStEmpty = r.term === 0 && r.vote === 0 && commit === 0;
    if (!hardStEmpty && (r.term !== prev.term || r.vote !== prev.vote || commit !== prev.commit)) return true;
    if (r.raftLog.hasNextUnstableSnapshot()) return true;
    if (r.msgs.length > 0 || r.msgsAfterAppend.length > 0) return true;
    if (r.raftLog.hasNextUnstableEnts() || r.raftLog.hasNextCommittedEnts(this.applyUnstableEntries())) return true;
    return r.readStates.length !== 0;
  }

  /**
   * Tells raft the last Ready was persisted and applied. Not used with
   * asyncStorageWrites (responses from the storage threads do this).
   */
  advance(_rd?: Ready): void {
    if (this.asyncStorageWrites) this.raft.logger.panic('Advance must not be called when using AsyncStorageWrites');
    const steps = this.stepsOnAdvance;
    this.stepsOnAdvance = [];
    for (const m of steps) {
      // As in etcd, stepping our own responses has no error the caller
      // could act on; invariant violations (RaftPanic) still propagate.
      try {
        this.raft.step(m);
      } catch (e) {
        rethrowUnlessRaftError(e);
      }
    }
  }

  status(): Status {
    const r = this.raft;
    const s: Status = { ...this.basicStatus(), config: r.trk.cloneConfig(), progress: new Map() };
    if (r.state === StateType.StateLeader) {
      r.trk.visit((id, pr) => s.progress.set(id, pr.clone()));
    }
    return s;
  }

  basicStatus(): BasicStatus {
    const r = this.raft;
    return {
      id: r.id,
      hardState: r.hardState(),
      softState: r.softState(),
      applied: r.raftLog.applied,
      leadTransferee: r.leadTransferee,
    };
  }

  /** Visits every peer's progress (a copy, safe to keep) without building a map. */
  withProgress(visitor: (id: number, typ: ProgressType, pr: Progress) => void): void {
    this.raft.trk.visit((id, pr) => {
      visitor(id, pr.isLearner ? ProgressType.ProgressTypeLearner : ProgressType.ProgressTypePeer, pr.clone());
    });
  }

  /** Tells raft the last message to `id` could not be delivered. */
  reportUnreachable(id: number): void {
    this.swallow(newMessage({ type: MessageType.MsgUnreachable, from: id }));
  }

  /** Reports the outcome of sending a snapshot to `id`. */
  reportSnapshot(id: number, status: SnapshotStatus): void {
    this.swallow(newMessage({ type: MessageType.MsgSnapStatus, from: id, reject: status === SnapshotStatus.SnapshotFailure }));
  }

  /** Asks the leader to hand leadership to `transferee`. */
  transferLeader(transferee: number): void {
    this.swallow(newMessage({ type: MessageType.MsgTransferLeader, from: transferee }));
  }

  /**
   * Forgets the current leader (a follower only), so the node can grant
   * votes before its election timeout. Has no effect with lease-based reads.
   */
  forgetLeader(): void {
    this.raft.step(newMessage({ type: MessageType.MsgForgetLeader }));
  }

  /**
   * Requests a read index; the answer arrives as a ReadState carrying
   * `rctx` in a later Ready. Reads are linearizable once applied to it.
   */
  readIndex(rctx: Uint8Array): void {
    this.swallow(newMessage({ type: MessageType.MsgReadIndex, entries: [newEntry({ data: rctx })] }));
  }

  /**
   * Initializes an empty Storage-backed node as a member of a new cluster
   * of `peers` (etcd's RawNode.Bootstrap). The initial conf changes are
   * handed out in the first Ready as committed entries, so the application
   * sees and applies them like any others. Prefer, where you can, a Storage
   * that already holds the initial ConfState.
   */
  bootstrap(peers: Peer[]): void {
    if (peers.length === 0) throw new ErrInvalidConfig('must provide at least one peer to Bootstrap');
    if (this.raft.raftLog.storage.lastIndex() !== 0) throw new ErrInvalidConfig("can't bootstrap a nonempty Storage");
    // The first Ready must carry the bootstrapped HardState, so pretend the
    // previous one was empty.
    this.prevHardSt = newHardState();
    this.raft.becomeFollower(1, None);
    const ents = peers.map((p, i) =>
      newEntry({
        type: EntryType.EntryConfChange,
        term: 1,
        index: i + 1,
        data: encodeConfChange(newConfChange({ type: ConfChangeType.ConfChangeAddNode, nodeId: p.id, context: p.context ?? EMPTY_BYTES })),
      }),
    );
    this.raft.raftLog.append(ents);
    // Mark them committed and apply the membership now, so a caller may
    // campaign right away; applied stays 0 so Ready still delivers them.
    this.raft.raftLog.committed = ents.length;
    for (const p of peers) {
      this.raft.applyConfChange(confChangeAsV2(newConfChange({ type: ConfChangeType.ConfChangeAddNode, nodeId: p.id })));
    }
  }

  /** Test hook (etcd's rafttest plumbs the same): force the next election timeout. */
  setRandomizedElectionTimeout(timeout: number): void {
    this.raft.randomizedElectionTimeout = timeout;
  }

  private swallow(m: Message): void {
    // etcd ignores the error of these steps; the outcome shows in Ready.
    ignoreStepError(() => this.raft.step(m));
  }
}

function ignoreStepError(f: () => void): void {
  try {
    f();
  } catch (e) {
    rethrowUnlessRaftError(e);
  }
}

function rethrowUnlessRaftError(e: unknown): void {
  // Only raft's own refusals are ignorable; bugs and panics are not.
  if (!(e instanceof RaftError) || e instanceof RaftPanic) throw e;
}

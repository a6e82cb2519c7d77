// The Raft protocol's state machine (etcd-raft's raft.go): roles, elections,
// replication, commit, reads and leader transfer. Driven only through step()
// and tick(); it never does I/O and never reads a clock.

/** Placeholder node id used when there is no leader. */
export const None = 0;

export enum StateType {
  StateFollower = 0,
  StateCandidate = 1,
  StateLeader = 2,
  StatePreCandidate = 3,
}

/** Volatile state worth reporting when it changes (leader and role). */
export interface SoftState {
  lead: number;
  raftState: StateType;
}

/**
 * The answer to a ReadIndex request: reads at `index` or later are
 * linearizable once the state machine has applied `index`.
 */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

export enum CampaignType {
  PreElection = 'CampaignPreElection',
  Election = 'CampaignElection',
  Transfer = 'CampaignTransfer',
}

import { ReadOnlyOption, validateConfig, type Config } from './config.js';
import { confChangeAsV2, enterJoint, leaveJoint, marshalConfChange } from './raftpb/confchange.js';
import { decodeConfChange, decodeConfChangeV2 } from './raftpb/codec.js';
import { confStateEquivalent } from './raftpb/confstate.js';
import {
  blankMessage,
  EMPTY_BYTES,
  EntryType,
  MessageType,
  newEntry,
  newMessage,
  newSnapshot,
  type ConfChange,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
} from './raftpb/types.js';
import { Changer } from './confchange/confchange.js';
import { restore as restoreConfig } from './confchange/restore.js';
import { ErrCompacted, ErrProposalDropped, ErrSnapshotTemporarilyUnavailable, ErrUnavailable } from './errors.js';
import { newLogWithSize, type RaftLog } from './log.js';
import type { Logger } from './logger.js';
import { VoteResult } from './quorum/quorum.js';
import { ReadOnly } from './read-only.js';
import { ProgressStateType } from './tracker/state.js';
import type { Progress, ProgressMap } from './tracker/progress.js';
import { ProgressTracker, trackerConfigToString, type TrackerConfig } from './tracker/tracker.js';
import { LogSlice, type EntryID } from './types.js';
import { describeConfChange } from './util/describe.js';
import { voteRespMsgType } from './util/messages.js';
import { entsSize, payloadsSize } from './util/sizes.js';

/** Go's %x for node ids, which raft's log lines use throughout. */
export function hex(id: number): string {
  return id.toString(16);
}

const TRANSFER_CTX = new TextEncoder().encode(CampaignType.Transfer);

/** An accepting MsgAppResp (from and term are filled in by send). */
function appResp(to: number, index: number): Message {
  const m = blankMessage(MessageType.MsgAppResp);
  m.to = to;
  m.index = index;
  return m;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

type StepFn = (r: Raft, m: Message) => void;

/**
 * The raft state machine. Internal to the core: applications use RawNode.
 * Fields keep etcd's names so that raft.go and this file read side by side.
 */
export class Raft {
  readonly id: number;
  term = 0;
  vote = 0;
  readStates: ReadState[] = [];
  raftLog: RaftLog;
  readonly maxMsgSize: number;
  readonly maxUncommittedSize: number;
  trk: ProgressTracker;
  state: StateType = StateType.StateFollower;
  /** Whether this node is a learner in the current config. */
  isLearner = false;
  /** Messages to send now. */
  msgs: Message[] = [];
  /**
   * Messages to send only after the unstable log (and hard state) this Ready
   * hands out is durable: votes and append acknowledgements.
   */
  msgsAfterAppend: Message[] = [];
  lead = None;
  /** Target of an ongoing leader transfer, or None. */
  leadTransferee = None;
  /** Index of the last conf change in the log that may still be unapplied. */
  pendingConfIndex = 0;
  readonly disableConfChangeValidation: boolean;
  /** Payload bytes of uncommitted entries, held under maxUncommittedSize. */
  uncommittedSize = 0;
  readOnly: ReadOnly;
  electionElapsed = 0;
  heartbeatElapsed = 0;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  /** In [electionTimeout, 2*electionTimeout); reset on every term change. */
  randomizedElectionTimeout = 0;
  readonly disableProposalForwarding: boolean;
  readonly stepDownOnRemoval: boolean;
  readonly logger: Logger;
  private readonly randomInt: (n: number) => number;
  tickFn: () => void;
  private stepFn: StepFn;
  /**
   * Why the leader last refused a proposed conf change (etcd only logs it).
   * RawNode clears it before a proposal and reports it after.
   */
  refusedConfChange: string | undefined = undefined;
  /** ReadIndex requests held until this leader commits an entry in its term. */
  pendingReadIndexMessages: Message[] = [];

  constructor(config: Config) {
    const c = validateConfig(config);
    this.id = c.id;
    this.logger = c.logger;
    this.raftLog = newLogWithSize(c.storage, c.logger, c.maxCommittedSizePerReady);
    const { hardState: hs, confState: cs } = c.storage.initialState();
    this.maxMsgSize = c.maxSizePerMsg;
    this.maxUncommittedSize = c.maxUncommittedEntriesSize;
    this.trk = new ProgressTracker(c.maxInflightMsgs, c.maxInflightBytes);
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.checkQuorum = c.checkQuorum;
    this.preVote = c.preVote;
    this.readOnly = new ReadOnly(c.readOnlyOption);
    this.disableProposalForwarding = c.disableProposalForwarding;
    this.disableConfChangeValidation = c.disableConfChangeValidation;
    this.stepDownOnRemoval = c.stepDownOnRemoval;
    this.randomInt = c.randomInt;
    this.tickFn = () => this.tickElection();
    this.stepFn = stepFollower;

    const lastID = this.raftLog.lastEntryID();
    const { config: cfg, progress } = restoreConfig(
      new Changer(this.trk.config, this.trk.progress, this.trk.maxInflight, this.trk.maxInflightBytes, lastID.index),
      cs,
    );
    this.assertConfStatesEquivalent(cs, this.switchToConfig(cfg, progress));

    if (!(hs.term === 0 && hs.vote === 0 && hs.commit === 0)) this.loadState(hs);
    if (c.applied > 0) this.raftLog.appliedTo(c.applied, 0);
    this.becomeFollower(this.term, None);

    const peers = this.trk.voterNodes().map(hex).join(',');
    this.logger.info(
      `newRaft ${hex(this.id)} [peers: [${peers}], term: ${this.term}, commit: ${this.raftLog.committed}, applied: ${this.raftLog.applied}, lastindex: ${lastID.index}, lastterm: ${lastID.term}]`,
    );
  }

  private assertConfStatesEquivalent(a: ConfState, b: ConfState): void {
    try {
      confStateEquivalent(a, b);
    } catch (e) {
      this.logger.panic(e instanceof Error ? e.message : String(e));
    }
  }

  hasLeader(): boolean {
    return this.lead !== None;
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  /** The term of entry i, or 0 if it is compacted or not yet in the log. */
  private termOrZero(i: number): number {
    // maybeTerm: no Error built for an index out of range (a rejected
    // MsgApp's index often is, and this runs for its log line).
    return this.raftLog.maybeTerm(i) ?? 0;
  }

  /** Queues a message; fills in from and (for most types) the term. */
  send(m: Message): void {
    if (m.from === None) m.from = this.id;
    const t = m.type;
    if (t === MessageType.MsgVote || t === MessageType.MsgVoteResp || t === MessageType.MsgPreVote || t === MessageType.MsgPreVoteResp) {
      // Votes carry the term they are for, which is not always ours (a
      // pre-vote campaigns for term+1).
      if (m.term === 0) this.logger.panic(`term should be set when sending ${MessageType[t]}`);
    } else {
      if (m.term !== 0) this.logger.panic(`term should not be set when sending ${MessageType[t]} (was ${m.term})`);
      // Proposals and read requests are forwarded as local messages and
      // keep term 0.
      if (t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex) m.term = this.term;
    }
    if (t === MessageType.MsgAppResp || t === MessageType.MsgVoteResp || t === MessageType.MsgPreVoteResp) {
      // These acknowledge state that must be durable first (appended entries,
      // a cast vote); they leave only after the next Ready is persisted.
      this.msgsAfterAppend.push(m);
    } else {
      if (m.to === this.id) this.logger.panic(`message should not be self-addressed when sending ${MessageType[t]}`);
      this.msgs.push(m);
    }
  }

  sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends entries (or a snapshot, when they are compacted) to `to`, unless
   * its flow is paused or, with sendIfEmpty false, there is nothing new.
   */
  maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to)!;
    if (pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    let prevTerm: number;
    try {
      prevTerm = this.raftLog.term(prevIndex);
    } catch (e) {
      if (e instanceof ErrCompacted || e instanceof ErrUnavailable) return this.maybeSendSnapshot(to, pr);
      throw e;
    }
    let ents: Entry[] = [];
    let failed = false;
    if (pr.state !== ProgressStateType.StateReplicate || !pr.inflights.full()) {
      try {
        ents = this.raftLog.entries(pr.next, this.maxMsgSize);
      } catch (e) {
        if (!(e instanceof ErrCompacted || e instanceof ErrUnavailable)) throw e;
        failed = true;
      }
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    if (failed) return this.maybeSendSnapshot(to, pr);
    const m = blankMessage(MessageType.MsgApp);
    m.to = to;
    m.index = prevIndex;
    m.logTerm = prevTerm;
    m.entries = ents;
    m.commit = this.raftLog.committed;
    this.send(m);
    pr.sentEntries(ents.length, payloadsSize(ents));
    pr.sentCommit(this.raftLog.committed);
    return true;
  }

  maybeSendSnapshot(to: number, pr: Progress): boolean {
    if (!pr.recentActive) {
      this.logger.debug(`ignore sending snapshot to ${hex(to)} since it is not recently active`);
      return false;
    }
    let snapshot: Snapshot;
    try {
      snapshot = this.raftLog.snapshot();
    } catch (e) {
      if (e instanceof ErrSnapshotTemporarilyUnavailable) {
        this.logger.debug(`${hex(this.id)} failed to send snapshot to ${hex(to)} because snapshot is temporarily unavailable`);
        return false;
      }
      throw e;
    }
    if (snapshot.metadata.index === 0) this.logger.panic('need non-empty snapshot');
    const { index: sindex, term: sterm } = snapshot.metadata;
    this.logger.debug(
      `${hex(this.id)} [firstindex: ${this.raftLog.firstIndex()}, commit: ${this.raftLog.committed}] sent snapshot[index: ${sindex}, term: ${sterm}] to ${hex(to)} [${pr.toString()}]`,
    );
    pr.becomeSnapshot(sindex);
    this.logger.debug(`${hex(this.id)} paused sending replication messages to ${hex(to)} [${pr.toString()}]`);
    this.send(newMessage({ to, type: MessageType.MsgSnap, snapshot }));
    return true;
  }

  sendHeartbeat(to: number, ctx: Uint8Array): void {
    const pr = this.trk.progress.get(to)!;
    // A follower may not have the leader's whole log; committing past its
    // match could commit entries it does not hold.
    const commit = Math.min(pr.match, this.raftLog.committed);
    const m = blankMessage(MessageType.MsgHeartbeat);
    m.to = to;
    m.commit = commit;
    m.context = ctx;
    this.send(m);
    pr.sentCommit(commit);
  }

  bcastAppend(): void {
    // Once per proposal: walk the sorted ids directly rather than through
    // visit() and a closure.
    for (const id of this.trk.sortedIds()) {
      if (id !== this.id && this.trk.progress.has(id)) this.sendAppend(id);
    }
  }

  bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.heartbeatCtx());
  }

  private bcastHeartbeatWithCtx(ctx: Uint8Array): void {
    this.trk.visit((id) => {
      if (id !== this.id) this.sendHeartbeat(id, ctx);
    });
  }

  appliedTo(index: number, size: number): void {
    const oldApplied = this.raftLog.applied;
    const newApplied = Math.max(index, oldApplied);
    this.raftLog.appliedTo(newApplied, size);
    if (this.trk.config.autoLeave && newApplied >= this.pendingConfIndex && this.state === StateType.StateLeader) {
      // The joint config was entered with autoLeave and is now applied:
      // propose the empty conf change that leaves it. pendingConfIndex
      // guards against proposing it twice.
      const m = confChangeToMsg(undefined);
      const cfg = trackerConfigToString(this.trk.config);
      try {
        this.step(m);
        this.logger.info(`initiating automatic transition out of joint configuration ${cfg}`);
      } catch (e) {
        this.logger.debug(`not initiating automatic transition out of joint configuration ${cfg}: ${errText(e)}`);
      }
    }
  }

  appliedSnap(snap: Snapshot): void {
    const index = snap.metadata.index;
    this.raftLog.stableSnapTo(index);
    this.appliedTo(index, 0);
  }

  /** Advances the commit index to the quorum's; true if it moved. */
  maybeCommit(): boolean {
    return this.raftLog.maybeCommit({ term: this.term, index: this.trk.committed() });
  }

  reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = None;
    }
    this.lead = None;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    const last = this.raftLog.lastIndex();
    this.trk.visit((id, pr) => {
      pr.resetForNewTerm(last + 1, id === this.id ? last : 0);
    });
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly(this.readOnly.option);
  }

  /** Appends entries at the end of the leader's log; false if they exceed the uncommitted size limit. */
  appendEntry(...es: Entry[]): boolean {
    return this.appendEntries(es);
  }

  /** appendEntry for an array: entries are copied, never kept. */
  appendEntries(es: readonly Entry[]): boolean {
    const li = this.raftLog.lastIndex();
    const cloned = new Array<Entry>(es.length);
    for (let i = 0; i < es.length; i++) {
      const e = es[i]!;
      // The same fields, in the same order, as newEntry; a literal is much
      // cheaper than a spread.
      cloned[i] = { term: this.term, index: li + 1 + i, type: e.type, data: e.data };
    }
    if (!this.increaseUncommittedSize(cloned)) {
      this.logger.warning(`${hex(this.id)} appending new entries to log would exceed uncommitted entry size limit; dropping proposal`);
      return false;
    }
    const last = this.raftLog.append(cloned);
    // The leader acknowledges its own entries like a follower would, once
    // they are durable, so commit counts only persisted copies.
    const resp = blankMessage(MessageType.MsgAppResp);
    resp.to = this.id;
    resp.index = last;
    this.send(resp);
    return true;
  }

  tick(): void {
    this.tickFn();
  }

  /** Followers and candidates: campaign when the election timeout passes. */
  tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      try {
        this.step(newMessage({ from: this.id, type: MessageType.MsgHup }));
      } catch (e) {
        this.logger.debug(`error occurred during election: ${errText(e)}`);
      }
    }
  }

  /** Leaders: send heartbeats, and check quorum once per election timeout. */
  tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) {
        try {
          this.step(newMessage({ from: this.id, type: MessageType.MsgCheckQuorum }));
        } catch (e) {
          this.logger.debug(`error occurred during checking sending heartbeat: ${errText(e)}`);
        }
      }
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.state === StateType.StateLeader && this.leadTransferee !== None) this.abortLeaderTransfer();
    }
    if (this.state !== StateType.StateLeader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      try {
        this.step(newMessage({ from: this.id, type: MessageType.MsgBeat }));
      } catch (e) {
        this.logger.debug(`error occurred during checking sending heartbeat: ${errText(e)}`);
      }
    }
  }

  becomeFollower(term: number, lead: number): void {
    this.stepFn = stepFollower;
    this.reset(term);
    this.tickFn = () => this.tickElection();
    this.lead = lead;
    this.state = StateType.StateFollower;
    this.logger.info(`${hex(this.id)} became follower at term ${this.term}`);
  }

  becomeCandidate(): void {
    if (this.state === StateType.StateLeader) this.logger.panic('invalid transition [leader -> candidate]');
    this.stepFn = stepCandidate;
    this.reset(this.term + 1);
    this.tickFn = () => this.tickElection();
    this.vote = this.id;
    this.state = StateType.StateCandidate;
    this.logger.info(`${hex(this.id)} became candidate at term ${this.term}`);
  }

  becomePreCandidate(): void {
    if (this.state === StateType.StateLeader) this.logger.panic('invalid transition [leader -> pre-candidate]');
    // A pre-candidate keeps its term and vote: the pre-election must not
    // disturb anything if it fails.
    this.stepFn = stepCandidate;
    this.trk.resetVotes();
    this.tickFn = () => this.tickElection();
    this.lead = None;
    this.state = StateType.StatePreCandidate;
    this.logger.info(`${hex(this.id)} became pre-candidate at term ${this.term}`);
  }

  becomeLeader(): void {
    if (this.state === StateType.StateFollower) this.logger.panic('invalid transition [follower -> leader]');
    this.stepFn = stepLeader;
    this.reset(this.term);
    this.tickFn = () => this.tickHeartbeat();
    this.lead = this.id;
    this.state = StateType.StateLeader;
    // The leader's own progress is always replicating and active.
    const pr = this.trk.progress.get(this.id)!;
    pr.becomeReplicate();
    pr.recentActive = true;
    // Conservatively assume the tail of the log may hold an unapplied conf
    // change; no new one is accepted until it is applied.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // An empty entry in the new term lets the leader commit everything
    // before it (Raft §5.4.2).
    if (!this.appendEntry(newEntry())) this.logger.panic('empty entry was dropped');
    this.logger.info(`${hex(this.id)} became leader at term ${this.term}`);
  }

  hup(t: CampaignType): void {
    if (this.state === StateType.StateLeader) {
      this.logger.debug(`${hex(this.id)} ignoring MsgHup because already leader`);
      return;
    }
    if (!this.promotable()) {
      this.logger.warning(`${hex(this.id)} is unpromotable and can not campaign`);
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      this.logger.warning(
        `${hex(this.id)} cannot campaign at term ${this.term} since there are still pending configuration changes to apply`,
      );
      return;
    }
    this.logger.info(`${hex(this.id)} is starting a new election at term ${this.term}`);
    this.campaign(t);
  }

  /** Whether a committed but unapplied entry is a conf change. */
  private hasUnappliedConfChanges(): boolean {
    const { applied, committed } = this.raftLog;
    if (applied >= committed) return false;
    let found = false;
    this.raftLog.scan(applied + 1, committed + 1, this.raftLog.maxApplyingEntsSize, (ents) => {
      found = ents.some((e) => e.type === EntryType.EntryConfChange || e.type === EntryType.EntryConfChangeV2);
      return found; // true stops the scan
    });
    return found;
  }

  campaign(t: CampaignType): void {
    if (!this.promotable()) {
      // Callers check; this guards against a bug, as etcd does.
      this.logger.warning(`${hex(this.id)} is unpromotable; campaign() should have been called`);
    }
    let term: number;
    let voteMsg: MessageType;
    if (t === CampaignType.PreElection) {
      this.becomePreCandidate();
      voteMsg = MessageType.MsgPreVote;
      // Pre-votes ask for the next term without moving to it.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.MsgVote;
      term = this.term;
    }
    // Sorted, so that the messages (and the log) come out in a stable order.
    const ids = [...this.trk.config.voters.ids()].sort((a, b) => a - b);
    for (const id of ids) {
      if (id === this.id) {
        // Our own vote, delivered after the vote is durable.
        this.send(newMessage({ to: id, term, type: voteRespMsgType(voteMsg) }));
        continue;
      }
      const last = this.raftLog.lastEntryID();
      this.logger.info(
        `${hex(this.id)} [logterm: ${last.term}, index: ${last.index}] sent ${MessageType[voteMsg]} request to ${hex(id)} at term ${this.term}`,
      );
      const context = t === CampaignType.Transfer ? TRANSFER_CTX : EMPTY_BYTES;
      this.send(newMessage({ to: id, term, type: voteMsg, index: last.index, logTerm: last.term, context }));
    }
  }

  poll(id: number, t: MessageType, v: boolean): { granted: number; rejected: number; result: VoteResult } {
    if (v) this.logger.info(`${hex(this.id)} received ${MessageType[t]} from ${hex(id)} at term ${this.term}`);
    else this.logger.info(`${hex(this.id)} received ${MessageType[t]} rejection from ${hex(id)} at term ${this.term}`);
    this.trk.recordVote(id, v);
    return this.trk.tallyVotes();
  }

  /** Steps a message through raft. Throws ErrProposalDropped for refused proposals. */
  step(m: Message): void {
    if (m.term === 0) {
      // Local message.
    } else if (m.term > this.term) {
      if (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote) {
        const force = bytesEqual(m.context, TRANSFER_CTX);
        const inLease = this.checkQuorum && this.lead !== None && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          // We heard from a leader within the election timeout: a candidate
          // with a higher term is probably partitioned; don't let it
          // disrupt us (Raft thesis §4.2.3).
          const last = this.raftLog.lastEntryID();
          this.logger.info(
            `${hex(this.id)} [logterm: ${last.term}, index: ${last.index}, vote: ${hex(this.vote)}] ignored ${MessageType[m.type]} from ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}: lease is not expired (remaining ticks: ${this.electionTimeout - this.electionElapsed})`,
          );
          return;
        }
      }
      if (m.type === MessageType.MsgPreVote) {
        // Never change our term in response to a PreVote.
      } else if (m.type === MessageType.MsgPreVoteResp && !m.reject) {
        // A granted pre-vote carries the future term; we move to it only if
        // the pre-election wins.
      } else {
        this.logger.info(
          `${hex(this.id)} [term: ${this.term}] received a ${MessageType[m.type]} message with higher term from ${hex(m.from)} [term: ${m.term}]`,
        );
        if (m.type === MessageType.MsgApp || m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgSnap) {
          this.becomeFollower(m.term, m.from);
        } else {
          this.becomeFollower(m.term, None);
        }
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp)) {
        // A stale leader (e.g. after a partition) would otherwise never learn
        // of the new term: with checkQuorum or preVote our higher-term
        // campaigns cannot reach it. This response makes it step down.
        this.send(newMessage({ to: m.from, type: MessageType.MsgAppResp }));
      } else if (m.type === MessageType.MsgPreVote) {
        // Rejecting with our term lets a stuck pre-candidate learn it.
        const last = this.raftLog.lastEntryID();
        this.logger.info(
          `${hex(this.id)} [logterm: ${last.term}, index: ${last.index}, vote: ${hex(this.vote)}] rejected ${MessageType[m.type]} from ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
        );
        this.send(newMessage({ to: m.from, term: this.term, type: MessageType.MsgPreVoteResp, reject: true }));
      } else if (m.type === MessageType.MsgStorageAppendResp) {
        if (m.index !== 0) {
          // Entries written under an older term may have been overwritten
          // since; they cannot be marked stable. A snapshot still is.
          this.logger.info(
            `${hex(this.id)} [term: ${this.term}] ignored entry appends from a ${MessageType[m.type]} message with lower term [term: ${m.term}]`,
          );
        }
        if (m.snapshot) this.appliedSnap(m.snapshot);
      } else {
        this.logger.info(
          `${hex(this.id)} [term: ${this.term}] ignored a ${MessageType[m.type]} message with lower term from ${hex(m.from)} [term: ${m.term}]`,
        );
      }
      return;
    }

    switch (m.type) {
      case MessageType.MsgHup:
        this.hup(this.preVote ? CampaignType.PreElection : CampaignType.Election);
        break;
      case MessageType.MsgStorageAppendResp:
        if (m.index !== 0) this.raftLog.stableTo({ term: m.logTerm, index: m.index });
        if (m.snapshot) this.appliedSnap(m.snapshot);
        break;
      case MessageType.MsgStorageApplyResp:
        if (m.entries.length > 0) {
          const index = m.entries[m.entries.length - 1]!.index;
          this.appliedTo(index, entsSize(m.entries));
          this.reduceUncommittedSize(payloadsSize(m.entries));
        }
        break;
      case MessageType.MsgVote:
      case MessageType.MsgPreVote: {
        // We can vote if this is a repeat of a vote we cast, or we have not
        // voted and know no leader this term, or it is a pre-vote for a
        // future term.
        const canVote =
          this.vote === m.from ||
          (this.vote === None && this.lead === None) ||
          (m.type === MessageType.MsgPreVote && m.term > this.term);
        const lastID = this.raftLog.lastEntryID();
        const candLastID: EntryID = { term: m.logTerm, index: m.index };
        const tag = `${hex(this.id)} [logterm: ${lastID.term}, index: ${lastID.index}, vote: ${hex(this.vote)}]`;
        const cand = `${hex(m.from)} [logterm: ${candLastID.term}, index: ${candLastID.index}] at term ${this.term}`;
        if (canVote && this.raftLog.isUpToDate(candLastID)) {
          this.logger.info(`${tag} cast ${MessageType[m.type]} for ${cand}`);
          // The response carries the message's term, not ours: for a
          // pre-vote ours is lower, and the candidate ignores stale terms.
          this.send(newMessage({ to: m.from, term: m.term, type: voteRespMsgType(m.type) }));
          if (m.type === MessageType.MsgVote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.logger.info(`${tag} rejected ${MessageType[m.type]} from ${cand}`);
          this.send(newMessage({ to: m.from, term: this.term, type: voteRespMsgType(m.type), reject: true }));
        }
        break;
      }
      default:
        this.stepFn(this, m);
    }
  }

  handleAppendEntries(m: Message): void {
    const a = new LogSlice(m.term, { term: m.logTerm, index: m.index }, m.entries);
    if (a.prev.index < this.raftLog.committed) {
      // Everything up to our commit index is already in our log.
      this.send(appResp(m.from, this.raftLog.committed));
      return;
    }
    const mlastIndex = this.raftLog.maybeAppend(a, m.commit);
    if (mlastIndex !== undefined) {
      this.send(appResp(m.from, mlastIndex));
      return;
    }
    this.logger.debug(
      `${hex(this.id)} [logterm: ${this.termOrZero(m.index)}, index: ${m.index}] rejected MsgApp [logterm: ${m.logTerm}, index: ${m.index}] from ${hex(m.from)}`,
    );
    // Hint the leader at the last index where our log may match its: the
    // largest index <= min(m.index, lastIndex) whose term is <= m.logTerm.
    // This skips a whole term of divergent entries per round trip.
    const hint = this.raftLog.findConflictByTerm(Math.min(m.index, this.raftLog.lastIndex()), m.logTerm);
    this.send(
      newMessage({
        to: m.from,
        type: MessageType.MsgAppResp,
        index: m.index,
        reject: true,
        rejectHint: hint.index,
        logTerm: hint.term,
      }),
    );
  }

  handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    const resp = blankMessage(MessageType.MsgHeartbeatResp);
    resp.to = m.from;
    resp.context = m.context;
    this.send(resp);
  }

  handleSnapshot(m: Message): void {
    const s = m.snapshot ?? newSnapshot();
    const { index: sindex, term: sterm } = s.metadata;
    if (this.restore(s)) {
      this.logger.info(`${hex(this.id)} [commit: ${this.raftLog.committed}] restored snapshot [index: ${sindex}, term: ${sterm}]`);
      this.send(newMessage({ to: m.from, type: MessageType.MsgAppResp, index: this.raftLog.lastIndex() }));
    } else {
      this.logger.info(`${hex(this.id)} [commit: ${this.raftLog.committed}] ignored snapshot [index: ${sindex}, term: ${sterm}]`);
      this.send(newMessage({ to: m.from, type: MessageType.MsgAppResp, index: this.raftLog.committed }));
    }
  }

  /** Installs a snapshot from the leader; false if it is stale or not for us. */
  restore(s: Snapshot): boolean {
    if (s.metadata.index <= this.raftLog.committed) return false;
    if (this.state !== StateType.StateFollower) {
      // Only followers receive snapshots (from the leader of their term).
      // Defensively step down at a higher term so nothing else goes wrong.
      this.logger.warning(`${hex(this.id)} attempted to restore snapshot as leader; should never happen`);
      this.becomeFollower(this.term + 1, None);
      return false;
    }
    const cs = s.metadata.confState;
    const found = [cs.voters, cs.learners, cs.votersOutgoing].some((set) => set.includes(this.id));
    if (!found) {
      this.logger.warning(
        `${hex(this.id)} attempted to restore snapshot but it is not in the ConfState ${goConfState(cs)}; should never happen`,
      );
      return false;
    }
    const id: EntryID = { term: s.metadata.term, index: s.metadata.index };
    if (this.raftLog.matchTerm(id)) {
      // We already hold the snapshot's last entry: just commit up to it.
      const last = this.raftLog.lastEntryID();
      this.logger.info(
        `${hex(this.id)} [commit: ${this.raftLog.committed}, lastindex: ${last.index}, lastterm: ${last.term}] fast-forwarded commit to snapshot [index: ${id.index}, term: ${id.term}]`,
      );
      this.raftLog.commitTo(s.metadata.index);
      return false;
    }
    this.raftLog.restore(s);
    // Rebuild the config from the snapshot's ConfState, from scratch.
    this.trk = new ProgressTracker(this.trk.maxInflight, this.trk.maxInflightBytes);
    let next: { config: TrackerConfig; progress: ProgressMap };
    try {
      next = restoreConfig(
        new Changer(this.trk.config, this.trk.progress, this.trk.maxInflight, this.trk.maxInflightBytes, this.raftLog.lastIndex()),
        cs,
      );
    } catch (e) {
      this.logger.panic(`unable to restore config ${goConfState(cs)}: ${errText(e)}`);
    }
    this.assertConfStatesEquivalent(cs, this.switchToConfig(next.config, next.progress));
    const last = this.raftLog.lastEntryID();
    this.logger.info(
      `${hex(this.id)} [commit: ${this.raftLog.committed}, lastindex: ${last.index}, lastterm: ${last.term}] restored snapshot [index: ${id.index}, term: ${id.term}]`,
    );
    return true;
  }

  /** Whether this node may become leader: a voter with no snapshot pending. */
  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasNextOrInProgressSnapshot();
  }

  applyConfChange(cc: ConfChangeV2): ConfState {
    const changer = new Changer(
      this.trk.config,
      this.trk.progress,
      this.trk.maxInflight,
      this.trk.maxInflightBytes,
      this.raftLog.lastIndex(),
    );
    let next: { config: TrackerConfig; progress: ProgressMap };
    if (leaveJoint(cc)) {
      next = changer.leaveJoint();
    } else {
      const joint = enterJoint(cc);
      next = joint ? changer.enterJoint(joint.autoLeave, ...cc.changes) : changer.simple(...cc.changes);
    }
    return this.switchToConfig(next.config, next.progress);
  }

  /**
   * Makes cfg and progress current and reacts to the change: a removed or
   * demoted leader may step down; a leader commits what the new quorum
   * allows and probes new members.
   */
  switchToConfig(cfg: TrackerConfig, progress: ProgressMap): ConfState {
    this.trk.config = cfg;
    this.trk.progress = progress;
    this.logger.info(`${hex(this.id)} switched to configuration ${trackerConfigToString(this.trk.config)}`);
    const cs = this.trk.confState();
    const pr = this.trk.progress.get(this.id);
    this.isLearner = pr !== undefined && pr.isLearner;
    if ((pr === undefined || this.isLearner) && this.state === StateType.StateLeader) {
      // A leader removed or demoted keeps leading until it steps down or
      // transfers, unless configured to step down right away.
      if (this.stepDownOnRemoval) this.becomeFollower(this.term, None);
      return cs;
    }
    if (this.state !== StateType.StateLeader || cs.voters.length === 0) return cs;
    if (this.maybeCommit()) {
      // The commit index moved with the config (e.g. a voter removed):
      // tell everyone.
      this.bcastAppend();
    } else {
      // Otherwise probe any new followers.
      this.trk.visit((id) => {
        if (id !== this.id) this.maybeSendAppend(id, false);
      });
    }
    // A transfer to a node that is no longer a voter cannot finish.
    if (this.leadTransferee !== None && !this.trk.config.voters.ids().has(this.leadTransferee)) {
      this.abortLeaderTransfer();
    }
    return cs;
  }

  loadState(state: HardState): void {
    if (state.commit < this.raftLog.committed || state.commit > this.raftLog.lastIndex()) {
      this.logger.panic(
        `${hex(this.id)} state.commit ${state.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
      );
    }
    this.raftLog.committed = state.commit;
    this.term = state.term;
    this.vote = state.vote;
  }

  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + this.randomInt(this.electionTimeout);
  }

  sendTimeoutNow(to: number): void {
    this.send(newMessage({ to, type: MessageType.MsgTimeoutNow }));
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = None;
  }

  /** Whether the leader has committed an entry of its own term (needed to serve reads). */
  committedEntryInCurrentTerm(): boolean {
    return this.termOrZero(this.raftLog.committed) === this.term;
  }

  /**
   * Answers a read request at readIndex: locally as a ReadState, or with a
   * MsgReadIndexResp to the follower that forwarded it (undefined then for
   * local requests).
   */
  responseToReadIndexReq(req: Message, readIndex: number): Message | undefined {
    if (req.from === None || req.from === this.id) {
      this.readStates.push({ index: readIndex, requestCtx: req.entries[0]!.data });
      return undefined;
    }
    return newMessage({ type: MessageType.MsgReadIndexResp, to: req.from, index: readIndex, entries: req.entries });
  }

  increaseUncommittedSize(ents: Entry[]): boolean {
    const s = payloadsSize(ents);
    // The first proposal is always accepted, however large, so that a single
    // oversized entry cannot wedge the log; empty entries always are.
    if (this.uncommittedSize > 0 && s > 0 && this.uncommittedSize + s > this.maxUncommittedSize) return false;
    this.uncommittedSize += s;
    return true;
  }

  reduceUncommittedSize(s: number): void {
    // The leader may have changed since these entries were proposed, so the
    // count may be lower than what is being released.
    this.uncommittedSize = s > this.uncommittedSize ? 0 : this.uncommittedSize - s;
  }

  releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0) return;
    if (!this.committedEntryInCurrentTerm()) {
      this.logger.error('pending MsgReadIndex should be released only after first commit in current term');
      return;
    }
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.sendMsgReadIndexResponse(m);
  }

  sendMsgReadIndexResponse(m: Message): void {
    if (this.readOnly.option === ReadOnlyOption.ReadOnlySafe) {
      this.readOnly.addRequest(this.raftLog.committed, m);
      // The leader acknowledges its own heartbeat.
      this.readOnly.recvAck(this.id, this.readOnly.heartbeatCtx());
      this.bcastHeartbeat();
    } else {
      const resp = this.responseToReadIndexReq(m, this.raftLog.committed);
      if (resp) this.send(resp);
    }
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A ConfState as Go's %v prints a protobuf message (only set fields). */
function goConfState(cs: ConfState): string {
  const parts: string[] = [];
  for (const v of cs.voters) parts.push(`voters:${v}`);
  for (const v of cs.learners) parts.push(`learners:${v}`);
  for (const v of cs.votersOutgoing) parts.push(`voters_outgoing:${v}`);
  for (const v of cs.learnersNext) parts.push(`learners_next:${v}`);
  if (cs.autoLeave) parts.push('auto_leave:true');
  return `{${parts.join(' ')}}`;
}

/** A MsgProp carrying a conf change; undefined means "leave the joint config". */
export function confChangeToMsg(cc: ConfChange | ConfChangeV2 | undefined): Message {
  const { type, data } = marshalConfChange(cc);
  return newMessage({ type: MessageType.MsgProp, entries: [newEntry({ type, data })] });
}

function stepLeader(r: Raft, m: Message): void {
  // Messages that need no progress of the sender.
  switch (m.type) {
    case MessageType.MsgBeat:
      r.bcastHeartbeat();
      return;
    case MessageType.MsgCheckQuorum:
      if (!r.trk.quorumActive()) {
        r.logger.warning(`${hex(r.id)} stepped down to follower since quorum is not active`);
        r.becomeFollower(r.term, None);
      }
      // Activity is measured per election timeout: start the next window.
      r.trk.visit((id, pr) => {
        if (id !== r.id) pr.recentActive = false;
      });
      return;
    case MessageType.MsgProp:
      stepLeaderProposal(r, m);
      return;
    case MessageType.MsgReadIndex:
      if (r.trk.isSingleton()) {
        // A single voter needs no quorum round.
        const resp = r.responseToReadIndexReq(m, r.raftLog.committed);
        if (resp) r.send(resp);
        return;
      }
      // Until this leader commits an entry of its term it does not know the
      // latest commit index (Raft thesis §6.4): hold the read.
      if (!r.committedEntryInCurrentTerm()) {
        r.pendingReadIndexMessages.push(m);
        return;
      }
      r.sendMsgReadIndexResponse(m);
      return;
    case MessageType.MsgForgetLeader:
      return; // a leader has nothing to forget
  }

  const pr = r.trk.progress.get(m.from);
  if (pr === undefined) {
    r.logger.debug(`${hex(r.id)} no progress available for ${hex(m.from)}`);
    return;
  }
  switch (m.type) {
    case MessageType.MsgAppResp:
      stepLeaderAppResp(r, m, pr);
      return;
    case MessageType.MsgHeartbeatResp: {
      pr.recentActive = true;
      pr.msgAppFlowPaused = false;
      // The follower may be behind (or probing): use this round trip.
      if (pr.match < r.raftLog.lastIndex() || pr.state === ProgressStateType.StateProbe) r.sendAppend(m.from);
      if (r.readOnly.option !== ReadOnlyOption.ReadOnlySafe || m.context.length === 0) return;
      r.readOnly.recvAck(m.from, m.context);
      for (const rs of r.readOnly.maybeAdvance(r.trk.config.voters)) {
        const resp = r.responseToReadIndexReq(rs.req, rs.index);
        if (resp) r.send(resp);
      }
      return;
    }
    case MessageType.MsgSnapStatus:
      if (pr.state !== ProgressStateType.StateSnapshot) return;
      if (!m.reject) {
        pr.becomeProbe();
        r.logger.debug(`${hex(r.id)} snapshot succeeded, resumed sending replication messages to ${hex(m.from)} [${pr.toString()}]`);
      } else {
        // The snapshot failed: forget it so the next probe may send another.
        pr.pendingSnapshot = 0;
        pr.becomeProbe();
        r.logger.debug(`${hex(r.id)} snapshot failed, resumed sending replication messages to ${hex(m.from)} [${pr.toString()}]`);
      }
      // Wait for a heartbeat response (or MsgAppResp) before probing: the
      // follower may still be applying the snapshot.
      pr.msgAppFlowPaused = true;
      return;
    case MessageType.MsgUnreachable:
      // Optimistic replication assumes delivery; an unreachable peer is
      // probed instead until it answers.
      if (pr.state === ProgressStateType.StateReplicate) pr.becomeProbe();
      r.logger.debug(`${hex(r.id)} failed to send message to ${hex(m.from)} because it is unreachable [${pr.toString()}]`);
      return;
    case MessageType.MsgTransferLeader: {
      if (pr.isLearner) {
        r.logger.debug(`${hex(r.id)} is learner. Ignored transferring leadership`);
        return;
      }
      const leadTransferee = m.from;
      const lastLeadTransferee = r.leadTransferee;
      if (lastLeadTransferee !== None) {
        if (lastLeadTransferee === leadTransferee) {
          r.logger.info(
            `${hex(r.id)} [term ${r.term}] transfer leadership to ${hex(leadTransferee)} is in progress, ignores request to same node ${hex(leadTransferee)}`,
          );
          return;
        }
        r.abortLeaderTransfer();
        r.logger.info(`${hex(r.id)} [term ${r.term}] abort previous transferring leadership to ${hex(lastLeadTransferee)}`);
      }
      if (leadTransferee === r.id) {
        r.logger.debug(`${hex(r.id)} is already leader. Ignored transferring leadership to self`);
        return;
      }
      r.logger.info(`${hex(r.id)} [term ${r.term}] starts to transfer leadership to ${hex(leadTransferee)}`);
      // The transfer must finish within an election timeout.
      r.electionElapsed = 0;
      r.leadTransferee = leadTransferee;
      if (pr.match === r.raftLog.lastIndex()) {
        r.sendTimeoutNow(leadTransferee);
        r.logger.info(
          `${hex(r.id)} sends MsgTimeoutNow to ${hex(leadTransferee)} immediately as ${hex(leadTransferee)} already has up-to-date log`,
        );
      } else {
        r.sendAppend(leadTransferee);
      }
      return;
    }
  }
}

function stepLeaderProposal(r: Raft, m: Message): void {
  if (m.entries.length === 0) r.logger.panic(`${hex(r.id)} stepped empty MsgProp`);
  if (!r.trk.progress.has(r.id)) {
    // Removed from the config while leader (stepDownOnRemoval off): we may
    // not append, but must not crash either.
    throw new ErrProposalDropped();
  }
  if (r.leadTransferee !== None) {
    r.logger.debug(`${hex(r.id)} [term ${r.term}] transfer leadership to ${hex(r.leadTransferee)} is in progress; dropping proposal`);
    throw new ErrProposalDropped();
  }
  // Copied only if a refused conf change must be replaced (rare).
  let entries = m.entries;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    let cc: ConfChange | ConfChangeV2 | undefined;
    if (e.type === EntryType.EntryConfChange) cc = decodeConfChange(e.data);
    else if (e.type === EntryType.EntryConfChangeV2) cc = decodeConfChangeV2(e.data);
    if (cc === undefined) continue;
    const alreadyPending = r.pendingConfIndex > r.raftLog.applied;
    const alreadyJoint = r.trk.config.voters.outgoing.size > 0;
    const wantsLeaveJoint = confChangeAsV2(cc).changes.length === 0;
    let failedCheck = '';
    if (alreadyPending) {
      failedCheck = `possible unapplied conf change at index ${r.pendingConfIndex} (applied to ${r.raftLog.applied})`;
    } else if (alreadyJoint && !wantsLeaveJoint) {
      failedCheck = 'must transition out of joint config first';
    } else if (!alreadyJoint && wantsLeaveJoint) {
      failedCheck = 'not in joint state; refusing empty conf change';
    }
    if (failedCheck !== '' && !r.disableConfChangeValidation) {
      // etcd replaces the refused change with an empty entry so the
      // proposal's indexes stay as the proposer expects.
      r.logger.info(
        `${hex(r.id)} ignoring conf change ${describeConfChange(cc)} at config ${trackerConfigToString(r.trk.config)}: ${failedCheck}`,
      );
      if (entries === m.entries) entries = entries.slice();
      entries[i] = newEntry({ type: EntryType.EntryNormal });
      r.refusedConfChange = failedCheck;
    } else {
      r.pendingConfIndex = r.raftLog.lastIndex() + i + 1;
    }
  }
  if (!r.appendEntries(entries)) throw new ErrProposalDropped();
  r.bcastAppend();
}

function stepLeaderAppResp(r: Raft, m: Message, pr: Progress): void {
  // Any response proves the follower is alive.
  pr.recentActive = true;
  if (m.reject) {
    // The follower's log does not match at m.index. m.rejectHint and
    // m.logTerm point at its last entry that may still match; with the
    // term, skip past every entry of ours with a higher term.
    r.logger.debug(
      `${hex(r.id)} received MsgAppResp(rejected, hint: (index ${m.rejectHint}, term ${m.logTerm})) from ${hex(m.from)} for index ${m.index}`,
    );
    let nextProbeIdx = m.rejectHint;
    if (m.logTerm > 0) nextProbeIdx = r.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
    if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
      r.logger.debug(`${hex(r.id)} decreased progress of ${hex(m.from)} to [${pr.toString()}]`);
      if (pr.state === ProgressStateType.StateReplicate) pr.becomeProbe();
      r.sendAppend(m.from);
    }
    return;
  }
  // A probe that confirms the current match also lets us start replicating.
  if (!(pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressStateType.StateProbe))) return;
  if (pr.state === ProgressStateType.StateProbe) {
    pr.becomeReplicate();
  } else if (pr.state === ProgressStateType.StateSnapshot && pr.match + 1 >= r.raftLog.firstIndex()) {
    // The follower caught up past our first index (from the snapshot, or
    // otherwise): replicate from the log again.
    r.logger.debug(`${hex(r.id)} recovered from needing snapshot, resumed sending replication messages to ${hex(m.from)} [${pr.toString()}]`);
    pr.becomeProbe();
    pr.becomeReplicate();
  } else if (pr.state === ProgressStateType.StateReplicate) {
    pr.inflights.freeLE(m.index);
  }
  if (r.maybeCommit()) {
    // Reads held for a commit in this term may now be answered.
    r.releasePendingReadIndexMessages();
    r.bcastAppend();
  } else if (r.id !== m.from && pr.canBumpCommit(r.raftLog.committed)) {
    // The follower lacks the latest commit index: send it (possibly empty).
    r.sendAppend(m.from);
  }
  // The response may have freed inflight slots: fill them.
  if (r.id !== m.from) {
    while (r.maybeSendAppend(m.from, false)) {
      // keep sending while there is room and something to send
    }
  }
  if (m.from === r.leadTransferee && pr.match === r.raftLog.lastIndex()) {
    r.logger.info(`${hex(r.id)} sent MsgTimeoutNow to ${hex(m.from)} after received MsgAppResp`);
    r.sendTimeoutNow(m.from);
  }
}

/** Candidates and pre-candidates. */
function stepCandidate(r: Raft, m: Message): void {
  // Only the response type of the current campaign counts: a stale
  // MsgVoteResp must not be tallied as a pre-vote, nor the reverse.
  const myVoteRespType = r.state === StateType.StatePreCandidate ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
  switch (m.type) {
    case MessageType.MsgProp:
      r.logger.info(`${hex(r.id)} no leader at term ${r.term}; dropping proposal`);
      throw new ErrProposalDropped();
    case MessageType.MsgApp:
      r.becomeFollower(m.term, m.from); // always m.term == r.term
      r.handleAppendEntries(m);
      return;
    case MessageType.MsgHeartbeat:
      r.becomeFollower(m.term, m.from);
      r.handleHeartbeat(m);
      return;
    case MessageType.MsgSnap:
      r.becomeFollower(m.term, m.from);
      r.handleSnapshot(m);
      return;
    case myVoteRespType: {
      const { granted, rejected, result } = r.poll(m.from, m.type, !m.reject);
      r.logger.info(`${hex(r.id)} has received ${granted} ${MessageType[m.type]} votes and ${rejected} vote rejections`);
      if (result === VoteResult.VoteWon) {
        if (r.state === StateType.StatePreCandidate) {
          r.campaign(CampaignType.Election);
        } else {
          r.becomeLeader();
          r.bcastAppend();
        }
      } else if (result === VoteResult.VoteLost) {
        // A lost pre-election or election: back to follower in the current
        // term (a pre-candidate never left it).
        r.becomeFollower(r.term, None);
      }
      return;
    }
    case MessageType.MsgTimeoutNow:
      r.logger.debug(`${hex(r.id)} [term ${r.term} state ${StateType[r.state]}] ignored MsgTimeoutNow from ${hex(m.from)}`);
      return;
  }
}

function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.MsgProp:
      if (r.lead === None) {
        r.logger.info(`${hex(r.id)} no leader at term ${r.term}; dropping proposal`);
        throw new ErrProposalDropped();
      } else if (r.disableProposalForwarding) {
        r.logger.info(`${hex(r.id)} not forwarding to leader ${hex(r.lead)} at term ${r.term}; dropping proposal`);
        throw new ErrProposalDropped();
      }
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.MsgApp:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleAppendEntries(m);
      return;
    case MessageType.MsgHeartbeat:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleHeartbeat(m);
      return;
    case MessageType.MsgSnap:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleSnapshot(m);
      return;
    case MessageType.MsgTransferLeader:
      if (r.lead === None) {
        r.logger.info(`${hex(r.id)} no leader at term ${r.term}; dropping leader transfer msg`);
        return;
      }
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.MsgForgetLeader:
      if (r.readOnly.option === ReadOnlyOption.ReadOnlyLeaseBased) {
        // Forgetting the leader would break the lease guarantee that no
        // other leader is elected while the lease holds.
        r.logger.error('ignoring MsgForgetLeader due to ReadOnlyLeaseBased');
        return;
      }
      if (r.lead !== None) {
        r.logger.info(`${hex(r.id)} forgetting leader ${hex(r.lead)} at term ${r.term}`);
        r.lead = None;
      }
      return;
    case MessageType.MsgTimeoutNow:
      // Leadership transfers are never refused: no pre-vote, no lease check.
      r.logger.info(`${hex(r.id)} [term ${r.term}] received MsgTimeoutNow from ${hex(m.from)} and starts an election to get leadership.`);
      r.hup(CampaignType.Transfer);
      return;
    case MessageType.MsgReadIndex:
      if (r.lead === None) {
        r.logger.info(`${hex(r.id)} no leader at term ${r.term}; dropping index reading msg`);
        return;
      }
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.MsgReadIndexResp:
      if (m.entries.length !== 1) {
        r.logger.error(`${hex(r.id)} invalid format of MsgReadIndexResp from ${hex(m.from)}, entries count: ${m.entries.length}`);
        return;
      }
      r.readStates.push({ index: m.index, requestCtx: m.entries[0]!.data });
      return;
  }
}

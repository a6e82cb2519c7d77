// One simulated node: a RawNode over a SimStorage and a SimStateMachine,
// with its storage pipeline made explicit so the simulator can crash it at
// any point: a Ready (or MsgStorageAppend) is first written, then fsynced in
// a later action, and only then are the messages that depend on it sent
// (etcd's contract: persist before you send).
import {
  decodeConfChange,
  decodeConfChangeV2,
  describeConfState,
  discardLogger,
  EntryType,
  isLocalMsgTarget,
  MessageType,
  RaftError,
  RaftPanic,
  RawNode,
  SnapshotStatus,
  type Config,
  type ConfState,
  type Entry,
  type Message,
  type Ready,
  type ReadState,
} from '@raftbus/core';
import type { SafetyChecker } from './checker.js';
import type { PlantedBug } from './options.js';
import { proposalId, SimStateMachine } from './state-machine.js';
import type { SimStorage, StorageWrite } from './storage.js';

/** Config knobs every incarnation of every node shares. */
export type NodeConfig = Omit<Config, 'id' | 'storage' | 'applied' | 'logger'>;

export interface NodeEnv {
  checker: SafetyChecker;
  send(m: Message): void;
  /** Called for each proposal id this node applies (a client waiting on this node sees it). */
  onApplied(node: SimNode, proposal: number): void;
  /** Called for each ReadState raft hands this node (the answer to a ReadIndex request). */
  onReadState(node: SimNode, rs: ReadState): void;
  bug: PlantedBug | undefined;
  /** Apply a snapshot of the state machine after this many entries past the log's first index. */
  compactEvery: number;
  trace(line: string): void;
}

export class SimNode {
  readonly rawNode: RawNode;
  readonly sm = new SimStateMachine();
  readonly async: boolean;
  /** Sync mode: a Ready written but not yet fsynced (its messages wait). */
  private unsyncedReady: Ready | undefined;
  /** Async mode: MsgStorageAppend not yet written, written but unsynced, and MsgStorageApply pending. */
  private appendQueue: Message[] = [];
  private writtenAppends: Message[] = [];
  private applyQueue: Message[] = [];
  /** Entries handed to apply() by this incarnation (the skip-apply bug picks one). */
  private handedOut = 0;
  /**
   * Raft's configuration already reflects every entry up to here: it
   * restored a snapshot, possibly while conf changes before it were still
   * being applied from an earlier Ready. Applying those to raft again would
   * fail ("config is already joint"; etcd would panic), so they are skipped.
   */
  private configRestoredTo = 0;
  private restoredConfState: ConfState | undefined;

  constructor(
    readonly id: number,
    readonly incarnation: number,
    readonly storage: SimStorage,
    cfg: NodeConfig,
    private readonly env: NodeEnv,
  ) {
    // Rebuild the state machine from the durable snapshot; raft then hands
    // out the committed entries after it again.
    const snap = storage.storedSnapshot();
    this.sm.restore(snap.data, snap.metadata.index, snap.metadata.confState);
    env.trace(`node ${id} starts from snapshot at ${snap.metadata.index}: ${describeConfState(snap.metadata.confState)}`);
    storage.freshSnapshot = () =>
      this.confStateKnown ? { index: this.sm.appliedIndex, confState: this.sm.confState!, data: this.sm.snapshot() } : undefined;
    this.async = cfg.asyncStorageWrites ?? false;
    this.rawNode = new RawNode({ ...cfg, id, storage, applied: snap.metadata.index, logger: discardLogger });
  }

  tick(): void {
    this.rawNode.tick();
    this.env.checker.observeRole(this.rawNode);
  }

  /** Steps a message from the network; raft's refusals (not panics) are what a real node would log and drop. */
  deliver(m: Message): void {
    const committed = this.rawNode.raft.raftLog.committed;
    // The forget-vote bug: the vote is not kept, as if every vote request found a freshly restarted node.
    if (this.env.bug === 'forget-vote' && m.type === MessageType.MsgVote) this.rawNode.raft.vote = 0;
    try {
      this.rawNode.step(m);
    } catch (e) {
      if (!(e instanceof RaftError) || e instanceof RaftPanic) throw e;
    }
    this.env.checker.observeRole(this.rawNode);
    const snapIndex = m.snapshot?.metadata.index ?? 0;
    const log = this.rawNode.raft.raftLog;
    if (m.type === MessageType.MsgSnap && snapIndex > committed && log.committed === snapIndex && log.firstIndex() === snapIndex + 1) {
      // Raft restored the snapshot and its configuration (rather than just
      // fast-forwarding its commit index to a snapshot its log covers).
      this.configRestoredTo = snapIndex;
      this.restoredConfState = m.snapshot!.metadata.confState;
    }
  }

  /** Whether the state machine's confState is known to match its applied index. */
  private get confStateKnown(): boolean {
    return this.sm.confState !== undefined && this.sm.appliedIndex >= this.configRestoredTo;
  }

  /**
   * Some storage work, each part happening by `chance`: take a Ready and
   * write it, fsync and send what waited on it, apply. Returns false when idle.
   */
  work(chance: (p: number) => boolean, fsyncChance: number): boolean {
    return this.async ? this.workAsync(chance, fsyncChance) : this.workSync(chance, fsyncChance);
  }

  private workSync(chance: (p: number) => boolean, fsyncChance: number): boolean {
    const rd = this.unsyncedReady;
    if (rd !== undefined) {
      if (!chance(fsyncChance)) return true;
      this.storage.fsync();
      this.unsyncedReady = undefined;
      if (this.env.bug !== 'send-before-fsync') for (const m of rd.messages) this.env.send(m);
      if (rd.snapshot) this.restoreSnapshot(rd);
      this.apply(rd.committedEntries);
      this.rawNode.advance(rd);
      this.env.checker.observeRole(this.rawNode);
      this.maybeCompact();
      return true;
    }
    if (!this.rawNode.hasReady()) return false;
    const ready = this.rawNode.ready();
    // A read's answer needs no fsync: the client waits for the apply instead.
    for (const rs of ready.readStates) this.env.onReadState(this, rs);
    this.env.checker.observeCommitted(this.id, this.rawNode.raft.term, ready.committedEntries);
    this.write({ hardState: ready.hardState, entries: ready.entries, snapshot: ready.snapshot });
    if (this.env.bug === 'send-before-fsync') for (const m of ready.messages) this.env.send(m);
    this.unsyncedReady = ready;
    return true;
  }

  private workAsync(chance: (p: number) => boolean, fsyncChance: number): boolean {
    let did = false;
    if (this.rawNode.hasReady()) {
      did = true;
      const rd = this.rawNode.ready();
      for (const rs of rd.readStates) this.env.onReadState(this, rs);
      for (const m of rd.messages) {
        if (m.type === MessageType.MsgStorageAppend) this.appendQueue.push(m);
        else if (m.type === MessageType.MsgStorageApply) {
          this.env.checker.observeCommitted(this.id, this.rawNode.raft.term, m.entries);
          this.applyQueue.push(m);
        } else this.env.send(m);
      }
    }
    // The append thread: write the oldest append, or fsync what is written.
    if (this.writtenAppends.length > 0 && chance(fsyncChance)) {
      did = true;
      this.storage.fsync();
      const synced = this.writtenAppends;
      this.writtenAppends = [];
      for (const m of synced) {
        if (m.snapshot) this.restoreSnapshotFrom(m.snapshot.data, m.snapshot.metadata.index, m.snapshot.metadata.confState);
        if (this.env.bug !== 'send-before-fsync') this.respond(m.responses);
      }
    } else if (this.appendQueue.length > 0) {
      did = true;
      const m = this.appendQueue.shift()!;
      const hasHardState = m.term !== 0 || m.vote !== 0 || m.commit !== 0;
      this.write({
        hardState: hasHardState ? { term: m.term, vote: m.vote, commit: m.commit } : undefined,
        entries: m.entries,
        snapshot: m.snapshot,
      });
      if (this.env.bug === 'send-before-fsync') this.respond(m.responses);
      this.writtenAppends.push(m);
    }
    // The apply thread runs independently of the append thread.
    if (this.applyQueue.length > 0 && chance(0.7)) {
      did = true;
      const m = this.applyQueue.shift()!;
      this.apply(m.entries);
      this.respond(m.responses);
      this.maybeCompact();
    }
    return did;
  }

  private respond(msgs: readonly Message[]): void {
    for (const r of msgs) {
      if (r.to === this.id || isLocalMsgTarget(r.to)) this.deliver(r);
      else this.env.send(r);
    }
  }

  private write(w: StorageWrite): void {
    this.storage.write(w);
    const log = this.storage;
    this.env.checker.observeWrite(this.id, w.entries, (i) => {
      try {
        return log.term(i);
      } catch {
        return undefined;
      }
    });
  }

  private restoreSnapshot(rd: Ready): void {
    const s = rd.snapshot!;
    this.restoreSnapshotFrom(s.data, s.metadata.index, s.metadata.confState);
  }

  private restoreSnapshotFrom(data: Uint8Array, index: number, cs: ConfState): void {
    if (index <= this.sm.appliedIndex) return;
    this.sm.restore(data, index, cs);
    this.env.trace(`node ${this.id} restored snapshot at ${index}: ${describeConfState(cs)}`);
  }

  private apply(ents: readonly Entry[]): void {
    for (const e of ents) {
      this.handedOut++;
      if (this.env.bug === 'skip-apply' && this.handedOut === 4 && this.id === 1 && this.incarnation === 0) {
        // The planted bug: pretend this entry was applied without applying it.
        this.sm.appliedIndex = e.index;
        continue;
      }
      if (this.sm.apply(e) === 'skipped') continue;
      if (e.index === this.configRestoredTo) this.sm.confState = this.restoredConfState;
      this.env.checker.observeApplied(this.id, e, this.sm.digest);
      if (e.type === EntryType.EntryConfChange || e.type === EntryType.EntryConfChangeV2) {
        if (e.index <= this.configRestoredTo) {
          this.env.trace(`node ${this.id} skips conf change at ${e.index}: raft restored a snapshot at ${this.configRestoredTo}`);
        } else {
          const cc = e.type === EntryType.EntryConfChange ? decodeConfChange(e.data) : decodeConfChangeV2(e.data);
          try {
            this.sm.confState = this.rawNode.applyConfChange(cc);
          } catch (err) {
            const was = describeConfState(this.rawNode.raft.trk.confState());
            throw new Error(`node ${this.id} applying conf change at ${e.index} to ${was}: ${(err as Error).message}`, { cause: err });
          }
          this.env.trace(`node ${this.id} applied conf change at ${e.index}: ${describeConfState(this.sm.confState)}`);
        }
      }
      const id = proposalId(e);
      if (id !== undefined) this.env.onApplied(this, id);
    }
  }

  /** Snapshots the state machine and truncates the log once enough entries were applied. */
  private maybeCompact(): void {
    const applied = this.sm.appliedIndex;
    if (this.storage.hasUnsynced || !this.confStateKnown) return;
    if (applied - this.storage.firstIndex() + 1 < this.env.compactEvery) return;
    if (applied > this.storage.durableCommit || applied <= this.storage.storedSnapshot().metadata.index) return;
    const cs = this.sm.confState!;
    this.storage.compact(applied, cs, this.sm.snapshot());
    this.env.trace(`node ${this.id} compacted to ${applied}: ${describeConfState(cs)}`);
  }

  /** Reports a snapshot that will never arrive, so the leader retries (the transport's job in a real host). */
  snapshotLost(to: number): void {
    this.rawNode.reportSnapshot(to, SnapshotStatus.SnapshotFailure);
  }

  snapshotDelivered(to: number): void {
    this.rawNode.reportSnapshot(to, SnapshotStatus.SnapshotFinish);
  }
}

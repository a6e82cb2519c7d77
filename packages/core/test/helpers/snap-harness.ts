// Helpers for the snapshot, flow-control and RawNode tests: snapshots in the
// shape etcd's tests use, storages that misbehave on purpose, a logger that
// records what raft says, and a small cluster of RawNodes driven through
// Ready/advance the way an application drives them (persisting to a
// MemoryStorage, applying to a toy state machine, taking snapshots).
//
// It builds on raft-harness.ts (newTestConfig, utf8, ...) and adds nothing to
// the core.
import type { Config } from '../../src/config.js';
import { ErrSnapshotTemporarilyUnavailable, RaftError, RaftPanic } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { Raft } from '../../src/raft.js';
import { decodeConfChange, decodeConfChangeV2 } from '../../src/raftpb/codec.js';
import {
  EntryType,
  MessageType,
  isEmptySnap,
  newConfState,
  newSnapshot,
  type ConfChange,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type Message,
  type Snapshot,
} from '../../src/raftpb/types.js';
import { RawNode, SnapshotStatus, type Ready } from '../../src/raw-node.js';
import { MemoryStorage } from '../../src/storage.js';
import { fromUtf8, newTestConfig, newTestMemoryStorage, newTestRaft, utf8, withLearners, withPeers } from './raft-harness.js';

// ---------------------------------------------------------------------------
// Snapshots

/** A snapshot at (index, term) with the given ConfState fields (etcd's &pb.Snapshot{Metadata: ...}). */
export function snapshotAt(index: number, term: number, cs: Partial<ConfState>, data?: Uint8Array): Snapshot {
  return newSnapshot({ data, metadata: { index, term, confState: newConfState(cs) } });
}

/** etcd's testingSnap: index 11, term 11 (magic numbers), voters 1 and 2. A fresh copy each call. */
export function testingSnap(): Snapshot {
  return snapshotAt(11, 11, { voters: [1, 2] });
}

/**
 * Node 1 over a storage with `peers` as voters, restored from testingSnap
 * and then elected leader of term 12 (the setup of etcd's raft_snap_test.go).
 * Its log is [11 (snapshot), 12 (the leader's empty entry)].
 */
export function leaderRestoredFromTestingSnap(peers: number[], opts: Partial<Config> = {}): Raft {
  const sm = newTestRaft(1, 10, 1, newTestMemoryStorage(withPeers(...peers)), opts);
  if (!sm.restore(testingSnap())) throw new Error('testingSnap was not restored');
  sm.becomeCandidate();
  sm.becomeLeader();
  return sm;
}

/** A raft whose storage has the given voters and learners (etcd's newTestLearnerRaft). */
export function newTestLearnerRaft(id: number, election: number, heartbeat: number, voters: number[], learners: number[]): Raft {
  return newTestRaft(id, election, heartbeat, newTestMemoryStorage(withPeers(...voters), withLearners(...learners)));
}

// ---------------------------------------------------------------------------
// Storages that misbehave on purpose

/**
 * A MemoryStorage whose snapshot() throws ErrSnapshotTemporarilyUnavailable
 * while `unavailable` is set, as a storage does while it is still producing
 * a snapshot. Counts the attempts.
 */
export class SnapshotUnavailableStorage extends MemoryStorage {
  unavailable = true;
  attempts = 0;

  override snapshot(): Snapshot {
    this.attempts++;
    if (this.unavailable) throw new ErrSnapshotTemporarilyUnavailable();
    return super.snapshot();
  }
}

/** A MemoryStorage that ignores the size hint of entries() (etcd's ignoreSizeHintMemStorage). */
export class IgnoreSizeHintStorage extends MemoryStorage {
  override entries(lo: number, hi: number, _maxSize: number): Entry[] {
    return super.entries(lo, hi, Number.POSITIVE_INFINITY);
  }
}

// ---------------------------------------------------------------------------
// Logging

export interface LogLine {
  level: 'debug' | 'info' | 'warning' | 'error' | 'fatal' | 'panic';
  msg: string;
}

/** A Logger that keeps every line; fatal and panic still throw RaftPanic. */
export class RecordingLogger implements Logger {
  readonly lines: LogLine[] = [];
  debug(msg: string): void {
    this.lines.push({ level: 'debug', msg });
  }
  info(msg: string): void {
    this.lines.push({ level: 'info', msg });
  }
  warning(msg: string): void {
    this.lines.push({ level: 'warning', msg });
  }
  error(msg: string): void {
    this.lines.push({ level: 'error', msg });
  }
  fatal(msg: string): never {
    this.lines.push({ level: 'fatal', msg });
    throw new RaftPanic(msg);
  }
  panic(msg: string): never {
    this.lines.push({ level: 'panic', msg });
    throw new RaftPanic(msg);
  }
  /** The messages logged at `level` that contain `needle`. */
  find(level: LogLine['level'], needle: string): string[] {
    return this.lines.filter((l) => l.level === level && l.msg.includes(needle)).map((l) => l.msg);
  }
}

// ---------------------------------------------------------------------------
// RawNode odds and ends

/** The conf change an entry carries, or undefined for a normal entry. */
export function confChangeOf(e: Entry): ConfChange | ConfChangeV2 | undefined {
  if (e.type === EntryType.EntryConfChange) return decodeConfChange(e.data);
  if (e.type === EntryType.EntryConfChangeV2) return decodeConfChangeV2(e.data);
  return undefined;
}

/**
 * The Ready the node would hand out, without accepting it (etcd's
 * readyWithoutAccept, which its tests call directly; private in RawNode).
 */
export function peekReady(rn: RawNode): Ready {
  return (rn as unknown as { readyWithoutAccept(): Ready }).readyWithoutAccept();
}

/** Runs f and returns what it threw (undefined if nothing). */
export function thrown(f: () => void): unknown {
  try {
    f();
    return undefined;
  } catch (e) {
    return e;
  }
}

// ---------------------------------------------------------------------------
// A cluster of RawNodes, driven like an application drives them

/** The toy state machine's snapshot format: the applied payloads, as JSON. */
export function encodeState(state: readonly string[]): Uint8Array {
  return utf8(JSON.stringify(state));
}

export function decodeState(data: Uint8Array): string[] {
  return data.length === 0 ? [] : (JSON.parse(fromUtf8(data)) as string[]);
}

export interface AppNode {
  readonly id: number;
  readonly rn: RawNode;
  readonly storage: MemoryStorage;
  /** The state machine: the payloads of the applied normal entries, in order. */
  state: string[];
  /** The index of the last entry (or snapshot) applied to `state`. */
  appliedIndex: number;
  /** The ConfState as of appliedIndex (from applyConfChange or a snapshot). */
  confState: ConfState;
  /** Every Ready this node handed out, in order. */
  readies: Ready[];
  /** Snapshots installed from a Ready. */
  installed: Snapshot[];
}

export interface ClusterOptions {
  learners?: number[];
  /** Adjusts each node's config (e.g. to set limits). */
  config?: (c: Config) => void;
  /** Makes the storage of a node (default: a MemoryStorage with the cluster's ConfState). */
  storage?: (id: number) => MemoryStorage;
}

/**
 * RawNodes exchanging messages through an in-memory queue. Every node's
 * Ready is handled the canonical way: install the snapshot and persist hard
 * state and entries to its MemoryStorage, queue the messages, apply the
 * committed entries (calling applyConfChange for conf changes), advance.
 */
export class RawNodeCluster {
  readonly nodes = new Map<number, AppNode>();
  /** Messages sent and not delivered yet. */
  queue: Message[] = [];
  /** Every message delivered, in order. */
  readonly delivered: Message[] = [];
  /** Every message the filter dropped. */
  readonly dropped: Message[] = [];
  /** Return false to drop a message instead of delivering it. */
  filter: (m: Message) => boolean = () => true;
  /** Called after a MsgSnap was stepped into its recipient (e.g. to report it). */
  onSnapshotDelivered: ((m: Message) => void) | undefined;

  constructor(voters: number[], opts: ClusterOptions = {}) {
    const learners = opts.learners ?? [];
    for (const id of [...voters, ...learners]) {
      const storage = opts.storage?.(id) ?? newTestMemoryStorage(withPeers(...voters), withLearners(...learners));
      const cfg = newTestConfig(id, 10, 1, storage);
      opts.config?.(cfg);
      this.nodes.set(id, {
        id,
        rn: new RawNode(cfg),
        storage,
        state: [],
        appliedIndex: 0,
        confState: storage.initialState().confState,
        readies: [],
        installed: [],
      });
    }
  }

  node(id: number): AppNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  raft(id: number): Raft {
    return this.node(id).rn.raft;
  }

  /** Drops every message to or from these nodes until heal(). */
  isolate(...ids: number[]): void {
    const cut = new Set(ids);
    this.filter = (m) => !cut.has(m.from) && !cut.has(m.to);
  }

  heal(): void {
    this.filter = () => true;
  }

  /** Handles one Ready of node id, if it has one; returns whether it did. */
  handleReady(id: number): boolean {
    const n = this.node(id);
    if (!n.rn.hasReady()) return false;
    const rd = n.rn.ready();
    n.readies.push(rd);
    if (!isEmptySnap(rd.snapshot)) {
      const snap = rd.snapshot!;
      n.storage.applySnapshot(snap);
      n.state = decodeState(snap.data);
      n.appliedIndex = snap.metadata.index;
      n.confState = snap.metadata.confState;
      n.installed.push(snap);
    }
    if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
    n.storage.append(rd.entries);
    this.queue.push(...rd.messages);
    for (const e of rd.committedEntries) {
      const cc = confChangeOf(e);
      if (cc !== undefined) n.confState = n.rn.applyConfChange(cc);
      else if (e.data.length > 0) n.state.push(fromUtf8(e.data));
      n.appliedIndex = e.index;
    }
    n.rn.advance(rd);
    return true;
  }

  /** Delivers what is queued now (messages it causes are queued, not delivered). */
  deliver(): number {
    const msgs = this.queue;
    this.queue = [];
    for (const m of msgs) {
      const to = this.nodes.get(m.to);
      if (to === undefined || !this.filter(m)) {
        this.dropped.push(m);
        continue;
      }
      this.delivered.push(m);
      try {
        to.rn.step(m);
      } catch (e) {
        // Refusals (e.g. a response from a removed peer) are the network's
        // business; broken invariants are not.
        if (!(e instanceof RaftError) || e instanceof RaftPanic) throw e;
      }
      if (m.type === MessageType.MsgSnap) this.onSnapshotDelivered?.(m);
    }
    return msgs.length;
  }

  /** Handles Readies and delivers messages until nothing is left to do. */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let busy = false;
      for (const id of [...this.nodes.keys()].sort((a, b) => a - b)) {
        while (this.handleReady(id)) busy = true;
      }
      if (this.queue.length > 0) {
        this.deliver();
        busy = true;
      }
      if (!busy) return;
    }
    throw new Error('cluster did not stabilize');
  }

  /** Ticks these nodes (default: all) once each, then stabilizes. */
  tick(...ids: number[]): void {
    for (const id of ids.length > 0 ? ids : [...this.nodes.keys()]) this.node(id).rn.tick();
    this.stabilize();
  }

  /** Node id campaigns; stabilizes. */
  elect(id: number): void {
    this.node(id).rn.campaign();
    this.stabilize();
  }

  /** Proposes a payload at node id (throws what propose throws); stabilizes. */
  propose(id: number, data: string): void {
    this.node(id).rn.propose(utf8(data));
    this.stabilize();
  }

  /**
   * What an application does to bound its log: snapshots the state machine
   * at the applied index and compacts the storage up to it.
   */
  snapshotAndCompact(id: number): Snapshot {
    const n = this.node(id);
    const snap = n.storage.createSnapshot(n.appliedIndex, n.confState, encodeState(n.state));
    n.storage.compact(n.appliedIndex);
    return snap;
  }

  /** Reports the outcome of a snapshot sent by `leader` to `to`. */
  reportSnapshot(leader: number, to: number, status: SnapshotStatus): void {
    this.node(leader).rn.reportSnapshot(to, status);
  }
}

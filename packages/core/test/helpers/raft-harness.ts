// Test helpers for driving a Raft state machine directly, ported from the
// helpers at the bottom of etcd-raft's raft_test.go (newTestRaft,
// newTestMemoryStorage, network, nextEnts, readMessages, ...).
//
// Everything here works over Raft's public fields (msgs, msgsAfterAppend,
// raftLog, trk, ...); nothing is added to Raft itself. Randomness is
// injected through Config.randomInt from a seeded PRNG, so runs repeat.
import { noLimit, type Config } from '../../src/config.js';
import { RaftError, RaftPanic } from '../../src/errors.js';
import { discardLogger } from '../../src/logger.js';
import { Raft, StateType } from '../../src/raft.js';
import {
  MessageType,
  newConfState,
  newEntry,
  newHardState,
  newMessage,
  newSnapshot,
  type ConfState,
  type Entry,
  type Message,
} from '../../src/raftpb/types.js';
import { MemoryStorage } from '../../src/storage.js';
import { Inflights } from '../../src/tracker/inflights.js';
import { Progress } from '../../src/tracker/progress.js';
import { ProgressTracker } from '../../src/tracker/tracker.js';
import { seededRandom, seededRandomInt } from './random.js';

// ---------------------------------------------------------------------------
// Construction

export type StorageOption = (cs: ConfState) => void;

/** The storage's initial ConfState has these voters (etcd's withPeers). */
export function withPeers(...peers: number[]): StorageOption {
  return (cs) => {
    cs.voters = peers.slice();
  };
}

/** The storage's initial ConfState has these learners (etcd's withLearners). */
export function withLearners(...learners: number[]): StorageOption {
  return (cs) => {
    cs.learners = learners.slice();
  };
}

/**
 * A MemoryStorage whose snapshot carries the ConfState built by opts (at
 * index 0, term 0: the way etcd's tests set ms.snapshot.Metadata.ConfState).
 */
export function newTestMemoryStorage(...opts: StorageOption[]): MemoryStorage {
  const ms = new MemoryStorage();
  if (opts.length > 0) {
    const cs = newConfState();
    for (const o of opts) o(cs);
    ms.applySnapshot(newSnapshot({ metadata: { confState: cs } }));
  }
  return ms;
}

/** A MemoryStorage holding exactly ents (ents[0] is the dummy entry): etcd's &MemoryStorage{ents: ents}. */
export function storageWithEnts(ents: Entry[]): MemoryStorage {
  const s = new MemoryStorage();
  s.ents = ents.slice();
  return s;
}

/** etcd's newTestConfig: no message size limit, 256 in-flight messages; quiet and seeded. */
export function newTestConfig(id: number, election: number, heartbeat: number, storage: Config['storage']): Config {
  return {
    id,
    electionTick: election,
    heartbeatTick: heartbeat,
    storage,
    maxSizePerMsg: noLimit,
    maxInflightMsgs: 256,
    logger: discardLogger,
    randomInt: seededRandomInt(id * 7919 + 17),
  };
}

/** etcd's newTestRaft; opts override fields of the test config (checkQuorum, preVote, ...). */
export function newTestRaft(
  id: number,
  election: number,
  heartbeat: number,
  storage: Config['storage'],
  opts: Partial<Config> = {},
): Raft {
  return new Raft({ ...newTestConfig(id, election, heartbeat, storage), ...opts });
}

/**
 * Puts r into state the direct way: a follower of lead at term, a
 * (pre-)candidate, or a leader by way of candidate.
 */
export function enterState(r: Raft, state: StateType, term: number, lead: number): void {
  switch (state) {
    case StateType.StateFollower:
      r.becomeFollower(term, lead);
      break;
    case StateType.StatePreCandidate:
      r.becomePreCandidate();
      break;
    case StateType.StateCandidate:
      r.becomeCandidate();
      break;
    case StateType.StateLeader:
      r.becomeCandidate();
      r.becomeLeader();
      break;
  }
}

/** etcd's preVoteConfig. */
export function preVoteConfig(c: Config): void {
  c.preVote = true;
}

/** Entries index, index+1, ... with the given terms (etcd's index(i).terms(...)). */
export function index(i: number) {
  return {
    terms: (...terms: number[]): Entry[] => terms.map((term, k) => newEntry({ term, index: i + k })),
  };
}

/** A raft (id 1) whose log holds one entry per term given, at the last term (etcd's entsWithConfig). */
export function entsWithConfig(configFunc: ((c: Config) => void) | undefined, ...terms: number[]): Raft {
  const storage = new MemoryStorage();
  terms.forEach((term, i) => storage.append([newEntry({ index: i + 1, term })]));
  const cfg = newTestConfig(1, 5, 1, storage);
  configFunc?.(cfg);
  const sm = new Raft(cfg);
  sm.reset(terms[terms.length - 1]!);
  return sm;
}

/** A raft (id 1) that voted for `vote` in `term` and has no log (etcd's votedWithConfig). */
export function votedWithConfig(configFunc: ((c: Config) => void) | undefined, vote: number, term: number): Raft {
  const storage = new MemoryStorage();
  storage.setHardState(newHardState({ vote, term }));
  const cfg = newTestConfig(1, 5, 1, storage);
  configFunc?.(cfg);
  const sm = new Raft(cfg);
  sm.reset(term);
  return sm;
}

// ---------------------------------------------------------------------------
// Driving a raft by hand

/**
 * Steps the messages raft queued for after the current append (self-acks of
 * appended entries, self-votes) into it, as if the append were durable, and
 * moves those addressed to peers to msgs. Repeats until none are left
 * (etcd's (*raft).advanceMessagesAfterAppend).
 */
export function advanceMessagesAfterAppend(r: Raft): void {
  for (;;) {
    const msgs = takeMessagesAfterAppend(r);
    if (msgs.length === 0) break;
    stepOrSend(r, msgs);
  }
}

/** Removes and returns r.msgsAfterAppend (etcd's takeMessagesAfterAppend). */
export function takeMessagesAfterAppend(r: Raft): Message[] {
  const msgs = r.msgsAfterAppend;
  r.msgsAfterAppend = [];
  return msgs;
}

/** Steps the messages addressed to r into it and queues the others in r.msgs (etcd's stepOrSend). */
export function stepOrSend(r: Raft, msgs: Message[]): void {
  for (const m of msgs) {
    if (m.to === r.id) r.step(m);
    else r.msgs.push(m);
  }
}

/** Advances the after-append messages, then drains and returns r.msgs (etcd's (*raft).readMessages). */
export function readMessages(r: Raft): Message[] {
  advanceMessagesAfterAppend(r);
  const msgs = r.msgs;
  r.msgs = [];
  return msgs;
}

/**
 * Persists the unstable entries into s, runs the post-append steps, and
 * returns the entries now appliable, marking them applied (etcd's nextEnts).
 */
export function nextEnts(r: Raft, s: MemoryStorage): Entry[] {
  s.append(r.raftLog.nextUnstableEnts());
  r.raftLog.stableTo(r.raftLog.lastEntryID());
  advanceMessagesAfterAppend(r);
  const ents = r.raftLog.nextCommittedEnts(true);
  r.raftLog.appliedTo(r.raftLog.committed, 0);
  return ents;
}

/** Appends entries on a leader; fails the test if they are dropped (etcd's mustAppendEntry). */
export function mustAppendEntry(r: Raft, ...ents: Entry[]): void {
  if (!r.appendEntry(...ents)) throw new Error('entry unexpectedly dropped');
}

/** Forces the election timeout (etcd's setRandomizedElectionTimeout). */
export function setRandomizedElectionTimeout(r: Raft, v: number): void {
  r.randomizedElectionTimeout = v;
}

/**
 * Flips a readonly option on a live raft, as etcd's tests do with
 * `r.preVote = true` / `r.checkQuorum = true`. (The fields are readonly in
 * TypeScript only; prefer passing them in the config where the test allows.)
 */
export function setOption(r: Raft, key: 'preVote' | 'checkQuorum', value: boolean): void {
  (r as unknown as Record<string, boolean>)[key] = value;
}

/**
 * Replaces raft's private role step function (etcd's `r.step = fakeStep`),
 * returning a handle counting the calls. Used only where the test is about
 * whether the message reached the role's step at all.
 */
export function interceptStepFn(r: Raft, fn: (r: Raft, m: Message) => void = () => {}): { calls: Message[] } {
  const handle = { calls: [] as Message[] };
  (r as unknown as { stepFn: (r: Raft, m: Message) => void }).stepFn = (rr, m) => {
    handle.calls.push(m);
    fn(rr, m);
  };
  return handle;
}

/** Orders messages by to, then type, then from (etcd's messageSlice). */
export function sortMessages(msgs: Message[]): Message[] {
  return msgs.slice().sort((a, b) => a.to - b.to || a.type - b.type || a.from - b.from);
}

/** The MsgAppResp a follower would send accepting m (etcd's acceptAndReply). */
export function acceptAndReply(m: Message): Message {
  if (m.type !== MessageType.MsgApp) throw new Error('type should be MsgApp');
  return newMessage({ from: m.to, to: m.from, term: m.term, type: MessageType.MsgAppResp, index: m.index + m.entries.length });
}

/**
 * Commits a new leader's empty entry: broadcasts it, acks every MsgApp, and
 * persists and applies the log (etcd's commitNoopEntry).
 */
export function commitNoopEntry(r: Raft, s: MemoryStorage): void {
  if (r.state !== StateType.StateLeader) throw new Error('it should only be used when it is the leader');
  r.bcastAppend();
  for (const m of readMessages(r)) {
    if (m.type !== MessageType.MsgApp || m.entries.length !== 1 || m.entries[0]!.data.length !== 0) {
      throw new Error('not a message to append noop entry');
    }
    r.step(acceptAndReply(m));
  }
  // Ignore further messages that refresh the followers' commit index.
  readMessages(r);
  s.append(r.raftLog.nextUnstableEnts());
  r.raftLog.appliedTo(r.raftLog.committed, 0);
  r.raftLog.stableTo(r.raftLog.lastEntryID());
}

/** Ids 1..size (etcd's idsBySize). */
export function idsBySize(size: number): number[] {
  return Array.from({ length: size }, (_, i) => i + 1);
}

/** Shorthand: a message from `from` to `to` of type `type`. */
export function msg(type: MessageType, from: number, to: number, fields: Partial<Message> = {}): Message {
  return newMessage({ ...fields, type, from, to });
}

/** A MsgProp carrying one entry with `data` (empty when omitted). */
export function propMsg(from: number, to: number, data?: string | Uint8Array): Message {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return msg(MessageType.MsgProp, from, to, { entries: [newEntry(bytes ? { data: bytes } : {})] });
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
export const fromUtf8 = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Steps m into r, returning the error raft threw (etcd's Step return value), or undefined. */
export function stepErr(r: { step(m: Message): void }, m: Message): Error | undefined {
  try {
    r.step(m);
    return undefined;
  } catch (e) {
    if (e instanceof Error) return e;
    throw e;
  }
}

/**
 * A comparable picture of a raft log, standing in for etcd's ltoa: last
 * index, applied and applying, and every entry as (index, term, type, data).
 */
export function logSnapshot(l: Raft['raftLog']): {
  lastIndex: number;
  applied: number;
  applying: number;
  entries: Array<{ index: number; term: number; type: number; data: string }>;
} {
  return {
    lastIndex: l.lastIndex(),
    applied: l.applied,
    applying: l.applying,
    entries: l.allEntries().map((e) => ({ index: e.index, term: e.term, type: e.type, data: fromUtf8(e.data) })),
  };
}

// ---------------------------------------------------------------------------
// The network simulator (etcd's network)

/** A peer that swallows everything (etcd's blackHole / nopStepper). */
export class BlackHole {
  step(_m: Message): void {}
}

export const nopStepper = new BlackHole();

export type StateMachine = Raft | BlackHole;

/**
 * Connects rafts and delivers their messages synchronously: send() steps a
 * message into its target, runs the target's post-append steps, and queues
 * what it sent, until no message is left. Messages can be dropped per
 * connection, ignored per type, or filtered by msgHook.
 */
export class Network {
  readonly peers = new Map<number, StateMachine>();
  readonly storage = new Map<number, MemoryStorage>();
  private dropm = new Map<string, number>();
  private ignorem = new Set<MessageType>();
  /** Called for each message sent; return false to drop it. */
  msgHook: ((m: Message) => boolean) | undefined;
  private readonly rand = seededRandom(424242);

  /**
   * Ids are 1..n in the order given. `undefined` (etcd's nil) makes a fresh
   * raft over a storage with every peer as voter; a Raft passed in gets the
   * id of its position and a fresh tracker of all peers (keeping its
   * learners); a BlackHole drops everything sent to it.
   */
  constructor(configFunc: ((c: Config) => void) | undefined, peers: Array<StateMachine | undefined>) {
    const peerAddrs = idsBySize(peers.length);
    peers.forEach((p, j) => {
      const id = peerAddrs[j]!;
      if (p === undefined) {
        const st = newTestMemoryStorage(withPeers(...peerAddrs));
        this.storage.set(id, st);
        const cfg = newTestConfig(id, 10, 1, st);
        configFunc?.(cfg);
        this.peers.set(id, new Raft(cfg));
      } else if (p instanceof Raft) {
        const learners = new Set(p.trk.learners);
        (p as unknown as { id: number }).id = id;
        const trk = new ProgressTracker(p.trk.maxInflight, p.trk.maxInflightBytes);
        for (const addr of peerAddrs) {
          const isLearner = learners.has(addr);
          if (isLearner) trk.config.learners.add(addr);
          else trk.config.voters.incoming.add(addr);
          trk.progress.set(addr, new Progress({ inflights: new Inflights(trk.maxInflight, trk.maxInflightBytes), isLearner }));
        }
        p.trk = trk;
        p.reset(p.term);
        this.peers.set(id, p);
      } else {
        this.peers.set(id, p);
      }
    });
  }

  /** The raft with this id (throws for a black hole). */
  raft(id: number): Raft {
    const p = this.peers.get(id);
    if (!(p instanceof Raft)) throw new Error(`peer ${id} is not a raft`);
    return p;
  }

  send(...msgs: Message[]): void {
    const queue = msgs.slice();
    while (queue.length > 0) {
      const m = queue.shift()!;
      const p = this.peers.get(m.to);
      if (p === undefined) throw new Error(`message to unknown peer ${m.to}: ${MessageType[m.type]}`);
      // etcd ignores the error Step returns (e.g. a dropped proposal);
      // panics still propagate.
      try {
        p.step(m);
      } catch (e) {
        if (!(e instanceof RaftError) || e instanceof RaftPanic) throw e;
      }
      if (p instanceof Raft) {
        advanceMessagesAfterAppend(p);
        const out = p.msgs;
        p.msgs = [];
        queue.push(...this.filter(out));
      }
    }
  }

  /** Drops messages from → to with probability perc (>= 1 always). */
  drop(from: number, to: number, perc: number): void {
    this.dropm.set(`${from}->${to}`, perc);
  }

  /** Drops everything between one and other, both ways. */
  cut(one: number, other: number): void {
    this.drop(one, other, 2.0);
    this.drop(other, one, 2.0);
  }

  /** Drops everything to and from id. */
  isolate(id: number): void {
    for (let i = 0; i < this.peers.size; i++) {
      const nid = i + 1;
      if (nid !== id) {
        this.drop(id, nid, 1.0);
        this.drop(nid, id, 1.0);
      }
    }
  }

  /** Drops every message of type t. */
  ignore(t: MessageType): void {
    this.ignorem.add(t);
  }

  /** Undoes drop, cut, isolate and ignore. */
  recover(): void {
    this.dropm = new Map();
    this.ignorem = new Set();
  }

  private filter(msgs: Message[]): Message[] {
    const mm: Message[] = [];
    for (const m of msgs) {
      if (this.ignorem.has(m.type)) continue;
      if (m.type === MessageType.MsgHup) throw new Error('unexpected msgHup');
      const perc = this.dropm.get(`${m.from}->${m.to}`) ?? 0;
      if (this.rand() < perc) continue;
      if (this.msgHook && !this.msgHook(m)) continue;
      mm.push(m);
    }
    return mm;
  }
}

/** etcd's newNetwork: undefined entries become fresh rafts. */
export function newNetwork(...peers: Array<StateMachine | undefined>): Network {
  return new Network(undefined, peers);
}

/** etcd's newNetworkWithConfig. */
export function newNetworkWithConfig(configFunc: ((c: Config) => void) | undefined, ...peers: Array<StateMachine | undefined>): Network {
  return new Network(configFunc, peers);
}

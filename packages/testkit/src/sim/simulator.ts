// The seeded simulator: N RawNodes on a simulated clock and network, with
// crashes (losing unsynced writes), restarts, partitions, message drops,
// duplicates and delays, membership changes and log compaction. Raft's
// safety properties are checked as it runs; after the fault phase, faults
// stop and the cluster must elect a leader and commit new proposals within
// a bound (liveness). Every choice comes from one SeededRandom, so a seed
// replays exactly.
import {
  ConfChangeTransition,
  ConfChangeType,
  ErrProposalDropped,
  MessageType,
  newConfChange,
  newConfChangeV2,
  newSnapshot,
  noLimit,
  RaftPanic,
  StateType,
  type ConfChange,
  type ConfChangeSingle,
  type ConfChangeV2,
  type Message,
  type TrackerConfig,
} from '@raftbus/core';
import { SeededRandom } from '../random.js';
import { SafetyChecker } from './checker.js';
import { NO_FAULTS, shuffle, SimNetwork, type NetworkFaults } from './network.js';
import { SimNode, type NodeConfig, type NodeEnv } from './node.js';
import { DEFAULT_STEPS, replayCommand, type SimOptions } from './options.js';
import { proposalPayload } from './state-machine.js';
import { SimStorage } from './storage.js';
import { PropertyError, SimViolation } from './violation.js';

/** What a run did, for summaries and for checking that the simulator exercised something. */
export interface SimStats {
  steps: number;
  proposals: number;
  accepted: number;
  acknowledged: number;
  crashes: number;
  /** Crashes that hit a node with written but unsynced state. */
  crashesWithUnsynced: number;
  partitions: number;
  confChanges: number;
  snapshotsSent: number;
  /** Highest term any node reached. */
  maxTerm: number;
  /** Highest index handed out as committed. */
  committed: number;
  /** ReadIndex requests clients made, and how many of them were answered. */
  reads: number;
  readsServed: number;
}

export interface SimResult {
  seed: number;
  stats: SimStats;
  /** Each node's final term, commit, applied index and state digest: equal runs have equal fingerprints. */
  fingerprint: string;
}

export function emptyStats(): SimStats {
  return {
    steps: 0,
    proposals: 0,
    accepted: 0,
    acknowledged: 0,
    crashes: 0,
    crashesWithUnsynced: 0,
    partitions: 0,
    confChanges: 0,
    snapshotsSent: 0,
    maxTerm: 0,
    committed: 0,
    reads: 0,
    readsServed: 0,
  };
}

/** Read ids travel as the ReadIndex request context. */
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Knobs drawn from the seed, so runs differ in shape as well as in luck. */
interface Params {
  nodeCount: number;
  initialVoters: number;
  node: NodeConfig;
  faults: NetworkFaults;
  crashRate: number;
  restartRate: number;
  partitionRate: number;
  healRate: number;
  proposeRate: number;
  confChangeRate: number;
  compactEvery: number;
  fsyncChance: number;
  /** Chance that a node's clock ticks in a step: clocks drift apart. */
  tickChance: number;
  /** Chance that a client asks a random node for a linearizable read in a fault-phase step. */
  readRate: number;
}

function drawParams(rng: SeededRandom, asyncStorageWrites: boolean, reads: boolean): Params {
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  const nodeCount = 3 + rng.int(3);
  return {
    nodeCount,
    initialVoters: 3 + rng.int(nodeCount - 2),
    node: {
      electionTick: pick([5, 8, 10]),
      heartbeatTick: pick([1, 2]),
      asyncStorageWrites,
      preVote: rng.next() < 0.5,
      checkQuorum: rng.next() < 0.5,
      maxSizePerMsg: pick([0, 64, noLimit]),
      maxInflightMsgs: pick([1, 4, 256]),
      randomInt: rng.randomInt,
    },
    faults: { drop: pick([0, 0.02, 0.1]), duplicate: pick([0, 0.02, 0.1]), maxDelay: pick([1, 3, 8]) },
    crashRate: pick([0.003, 0.01, 0.03]),
    restartRate: pick([0.05, 0.2]),
    partitionRate: pick([0, 0.01, 0.03]),
    healRate: pick([0.03, 0.1]),
    proposeRate: pick([0.2, 0.5, 1]),
    confChangeRate: pick([0, 0.02, 0.06]),
    compactEvery: pick([4, 16, Number.POSITIVE_INFINITY]),
    fsyncChance: pick([0.3, 0.7, 1]),
    tickChance: pick([0.7, 1]),
    // Drawn last, and only with reads on, so runs without reads draw as before.
    readRate: reads ? pick([0.1, 0.3, 1]) : 0,
  };
}

/** Runs one seed; throws SimViolation when a property breaks. */
export function runSimulation(opts: SimOptions): SimResult {
  return new Simulation(opts).run();
}

class Simulation {
  private readonly rng: SeededRandom;
  private readonly p: Params;
  private readonly network: SimNetwork;
  private readonly checker = new SafetyChecker();
  private readonly env: NodeEnv;
  private readonly ids: number[];
  private readonly storages = new Map<number, SimStorage>();
  /** Live nodes; a crashed or stopped node has none. */
  private readonly live = new Map<number, SimNode>();
  private readonly incarnations = new Map<number, number>();
  /** Nodes shut down for good (removed from the cluster before the liveness phase). */
  private readonly stopped = new Set<number>();
  private step = 0;
  private nextProposal = 1;
  /** Accepted proposals whose client still waits: proposal id → node and incarnation it was proposed to. */
  private readonly waiting = new Map<number, { node: number; incarnation: number }>();
  private readonly acknowledged = new Set<number>();
  private nextRead = 1;
  /** Reads asked: read id → the highest index committed anywhere when it was asked, and whether it was answered yet. */
  private readonly reads = new Map<string, { committed: number; answered: boolean }>();
  private readonly stats = emptyStats();

  constructor(private readonly opts: SimOptions) {
    this.rng = new SeededRandom(opts.seed);
    this.p = drawParams(this.rng, opts.asyncStorageWrites ?? false, opts.reads ?? true);
    this.network = new SimNetwork(this.rng, (m) => this.lost(m));
    this.env = {
      checker: this.checker,
      send: (m) => this.send(m),
      onApplied: (node, id) => {
        const w = this.waiting.get(id);
        if (w === undefined || w.node !== node.id || w.incarnation !== node.incarnation) return;
        this.waiting.delete(id);
        this.acknowledged.add(id);
      },
      onReadState: (node, rs) => {
        if (opts.bug !== 'lost-read') this.answered(node, utf8Decoder.decode(rs.requestCtx), rs.index);
      },
      bug: opts.bug,
      compactEvery: this.p.compactEvery,
      trace: (line) => this.trace(line),
    };
    this.ids = Array.from({ length: this.p.nodeCount }, (_, i) => i + 1);
    // The initial voters start from a snapshot holding the configuration
    // (index 2: MemoryStorage needs the snapshot past index 1); the other
    // ids start empty and join when a conf change adds them.
    const voters = this.ids.slice(0, this.p.initialVoters);
    for (const id of this.ids) {
      const boot = id <= this.p.initialVoters ? newSnapshot({ metadata: { index: 2, term: 1, confState: { voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } } }) : undefined;
      this.storages.set(id, new SimStorage(boot));
      this.startNode(id);
    }
    this.trace(`params ${JSON.stringify({ ...this.p, node: { ...this.p.node, randomInt: undefined } })}`);
  }

  run(): SimResult {
    const steps = this.opts.steps ?? DEFAULT_STEPS;
    try {
      this.network.faults = this.p.faults;
      for (let i = 0; i < steps; i++) this.runStep(true);
      this.livenessPhase();
    } catch (e) {
      throw this.violation(e);
    }
    this.stats.steps = this.step;
    this.stats.acknowledged = this.acknowledged.size;
    this.stats.committed = this.checker.highestCommitted;
    for (const n of this.live.values()) this.stats.maxTerm = Math.max(this.stats.maxTerm, n.rawNode.raft.term);
    return { seed: this.opts.seed, stats: this.stats, fingerprint: this.fingerprint() };
  }

  private violation(e: unknown): SimViolation {
    if (e instanceof SimViolation) return e;
    const replay = replayCommand(this.opts);
    if (e instanceof PropertyError) return new SimViolation(this.opts.seed, this.step, e.property, e.detail, replay);
    const detail = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    const v = new SimViolation(this.opts.seed, this.step, e instanceof RaftPanic ? 'raft-panic' : 'exception', detail, replay);
    if (e instanceof Error) v.cause = e;
    return v;
  }

  private trace(line: string): void {
    this.opts.trace?.(`${this.step} ${line}`);
  }

  private chance(p: number): boolean {
    return this.rng.next() < p;
  }

  private startNode(id: number): void {
    const inc = this.incarnations.has(id) ? this.incarnations.get(id)! + 1 : 0;
    this.incarnations.set(id, inc);
    this.live.set(id, new SimNode(id, inc, this.storages.get(id)!, this.p.node, this.env));
  }

  // One step: faults, client proposals, clock ticks, message delivery, then
  // a few rounds of storage work on every node; leader checks at the end.
  private runStep(faults: boolean): void {
    this.step++;
    if (faults) {
      this.injectFaults();
      if (this.chance(this.p.proposeRate)) this.propose();
      if (this.chance(this.p.confChangeRate)) this.changeMembership();
      if (this.p.readRate > 0 && this.chance(this.p.readRate)) this.read();
    }
    for (const n of this.live.values()) if (this.chance(this.p.tickChance)) n.tick();
    for (const m of this.network.due(this.step)) this.deliver(m);
    for (let round = 0; round < 3; round++) {
      for (const n of shuffle(this.rng, [...this.live.values()])) n.work((p) => this.chance(p), this.p.fsyncChance);
    }
    for (const n of this.live.values()) this.checker.checkLeader(n.rawNode);
  }

  private injectFaults(): void {
    const p = this.p;
    // At most a minority of the ids down at once, so the cluster can usually make progress.
    const down = this.ids.length - this.live.size;
    if (down < Math.floor((this.ids.length - 1) / 2) + 1 && this.chance(p.crashRate)) {
      const live = [...this.live.keys()];
      this.crash(live[this.rng.int(live.length)]!);
    }
    for (const id of this.ids) {
      if (!this.live.has(id) && !this.stopped.has(id) && this.chance(p.restartRate)) this.restart(id);
    }
    if (!this.network.partitioned && this.chance(p.partitionRate)) {
      const sides = this.network.partition(this.ids);
      this.stats.partitions++;
      this.trace(`partition ${JSON.stringify(sides)}`);
    } else if (this.network.partitioned && this.chance(p.healRate)) {
      this.network.heal();
      this.trace('heal');
    }
  }

  private crash(id: number): void {
    const n = this.live.get(id)!;
    this.stats.crashes++;
    if (n.storage.hasUnsynced) this.stats.crashesWithUnsynced++;
    this.trace(`crash ${id}${n.storage.hasUnsynced ? ' (unsynced writes lost)' : ''}`);
    n.storage.crash();
    this.live.delete(id);
  }

  private restart(id: number): void {
    const s = this.storages.get(id)!;
    if (this.opts.bug === 'forget-vote') s.corruptHardState((hs) => ({ ...hs, vote: 0 }));
    this.startNode(id);
    this.trace(`restart ${id}`);
  }

  private send(m: Message): void {
    if (m.type === MessageType.MsgSnap) this.stats.snapshotsSent++;
    if (this.opts.trace) this.trace(`send ${MessageType[m.type]} ${m.from}->${m.to} term ${m.term} index ${m.index} commit ${m.commit} n ${m.entries.length}`);
    this.network.send(m, this.step);
  }

  private deliver(m: Message): void {
    const to = this.live.get(m.to);
    if (to === undefined) return this.lost(m);
    to.deliver(m);
    if (m.type === MessageType.MsgSnap) this.live.get(m.from)?.snapshotDelivered(m.to);
  }

  private lost(m: Message): void {
    if (m.type === MessageType.MsgSnap) this.live.get(m.from)?.snapshotLost(m.to);
  }

  /** A client sends a new proposal to a random live node. */
  private propose(at?: SimNode): number | undefined {
    const live = [...this.live.values()];
    if (live.length === 0) return undefined;
    const n = at ?? live[this.rng.int(live.length)]!;
    const id = this.nextProposal++;
    this.stats.proposals++;
    try {
      n.rawNode.propose(proposalPayload(id));
    } catch (e) {
      if (!(e instanceof ErrProposalDropped)) throw e;
      this.trace(`propose p${id} at ${n.id}: dropped`);
      return undefined;
    }
    this.stats.accepted++;
    this.waiting.set(id, { node: n.id, incarnation: n.incarnation });
    this.trace(`propose p${id} at ${n.id}`);
    return id;
  }

  /**
   * A client asks a random live node for a linearizable read. Whatever
   * any node knows to be committed now must be covered by the index the
   * answer comes back with (every node's commit index is a lower bound of
   * the cluster's, so this asks no more than linearizability does).
   */
  private read(at?: SimNode): string | undefined {
    const live = [...this.live.values()];
    if (live.length === 0) return undefined;
    const n = at ?? live[this.rng.int(live.length)]!;
    let committed = this.checker.highestCommitted;
    for (const m of live) committed = Math.max(committed, m.rawNode.raft.raftLog.committed);
    const read = `r${this.nextRead++}`;
    this.stats.reads++;
    this.reads.set(read, { committed, answered: false });
    this.trace(`read ${read} at ${n.id} (committed ${committed})`);
    // The planted bug: the node answers from its own commit index, without confirming with the leader.
    if (this.opts.bug === 'local-read') this.answered(n, read, n.rawNode.raft.raftLog.committed);
    else n.rawNode.readIndex(utf8Encoder.encode(read));
    return read;
  }

  /** A node's answer to a read (a duplicated message may answer one twice: each answer is checked). */
  private answered(node: SimNode, read: string, index: number): void {
    const asked = this.reads.get(read);
    if (asked === undefined) throw new Error(`node ${node.id} answered read ${read}, which no client asked`);
    this.trace(`read ${read} answered at ${node.id}: index ${index}`);
    this.checker.observeRead(node.id, read, index, asked.committed);
    if (!asked.answered) this.stats.readsServed++;
    asked.answered = true;
  }

  /** The live leader with the highest term, if any. */
  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.live.values()) {
      const r = n.rawNode.raft;
      if (r.state === StateType.StateLeader && (best === undefined || r.term > best.rawNode.raft.term)) best = n;
    }
    return best;
  }

  /**
   * Proposes a random membership change at the leader: add or remove a
   * learner or voter, promote or demote, or replace a voter through a joint
   * configuration (ConfChangeV2, auto or explicit transition). Keeps at
   * least three voters, and never removes the leader itself.
   */
  private changeMembership(): void {
    const l = this.leader();
    if (l === undefined) return;
    const cfg = l.rawNode.raft.trk.config;
    const proposeCc = (cc: ConfChange | ConfChangeV2, what: string): void => {
      this.stats.confChanges++;
      try {
        l.rawNode.proposeConfChange(cc);
        this.trace(`conf change at ${l.id}: ${what}`);
      } catch (e) {
        if (!(e instanceof ErrProposalDropped)) throw e;
        this.trace(`conf change at ${l.id}: ${what}: ${e.message}`);
      }
    };
    if (cfg.voters.outgoing.size > 0) {
      if (!cfg.autoLeave) proposeCc(newConfChangeV2(), 'leave joint');
      return;
    }
    const voters = [...cfg.voters.incoming];
    const learners = [...cfg.learners];
    const others = this.ids.filter((id) => !cfg.voters.incoming.has(id) && !cfg.learners.has(id));
    const removable = voters.filter((id) => id !== l.id);
    const pick = (xs: number[]): number => xs[this.rng.int(xs.length)]!;
    const single = (type: ConfChangeType, nodeId: number, what: string): void => {
      if (this.chance(0.5)) proposeCc(newConfChange({ type, nodeId }), `${what} (v1)`);
      else proposeCc(newConfChangeV2({ changes: [{ type, nodeId }] }), what);
    };
    const options: (() => void)[] = [];
    if (others.length > 0) {
      options.push(() => {
        const id = pick(others);
        single(ConfChangeType.ConfChangeAddLearnerNode, id, `add learner ${id}`);
      });
      options.push(() => {
        const id = pick(others);
        single(ConfChangeType.ConfChangeAddNode, id, `add voter ${id}`);
      });
    }
    if (learners.length > 0) {
      options.push(() => {
        const id = pick(learners);
        single(ConfChangeType.ConfChangeAddNode, id, `promote ${id}`);
      });
      options.push(() => {
        const id = pick(learners);
        single(ConfChangeType.ConfChangeRemoveNode, id, `remove learner ${id}`);
      });
    }
    if (voters.length > 3 && removable.length > 0) {
      options.push(() => {
        const id = pick(removable);
        single(ConfChangeType.ConfChangeRemoveNode, id, `remove voter ${id}`);
      });
    }
    if (removable.length > 0 && others.length + learners.length > 0) {
      options.push(() => {
        // Replace a voter (or demote it to learner) through a joint configuration.
        const out = pick(removable);
        const inn = pick([...others, ...learners]);
        const demote = this.chance(0.3);
        const changes: ConfChangeSingle[] = [
          { type: ConfChangeType.ConfChangeAddNode, nodeId: inn },
          { type: demote ? ConfChangeType.ConfChangeAddLearnerNode : ConfChangeType.ConfChangeRemoveNode, nodeId: out },
        ];
        const explicit = this.chance(0.5);
        const transition = explicit ? ConfChangeTransition.ConfChangeTransitionJointExplicit : ConfChangeTransition.ConfChangeTransitionJointImplicit;
        proposeCc(newConfChangeV2({ transition, changes }), `joint: add ${inn}, ${demote ? 'demote' : 'remove'} ${out}${explicit ? ' (explicit)' : ''}`);
      });
    }
    if (options.length > 0) options[this.rng.int(options.length)]!();
  }

  /**
   * Faults stop: the network heals and delivers everything in one step,
   * crashed nodes restart. Then a leader must emerge, the configuration
   * settle, and fresh proposals (retried by the client if a leader change
   * loses them) commit and apply on every member, within the bound below.
   * Proposals accepted during the fault phase but never acknowledged may be
   * lost: Raft drops uncommitted entries on leader change, and so may we.
   */
  private livenessPhase(): void {
    this.network.faults = NO_FAULTS;
    this.network.heal();
    // The disk speeds up as the network does. At the slowest fsync an
    // election's three hops (vote, grant, first append), each waiting for
    // an fsync, take about as long as the shortest election timeout, so
    // timeouts keep firing before a new leader is heard from (Raft needs
    // its broadcast time well under the election timeout), and without
    // PreVote each one deposes the leader: seed 1039414024 at 400 steps
    // went 53 terms without a settled leader.
    this.p.fsyncChance = Math.max(this.p.fsyncChance, 0.7);
    for (const id of this.ids) if (!this.live.has(id) && !this.stopped.has(id)) this.restart(id);
    this.trace('liveness phase');
    let backlog = 0;
    for (const s of this.storages.values()) backlog = Math.max(backlog, s.lastIndex());
    // The bound: an election needs at most about two election timeouts
    // (2 * electionTick ticks, i.e. 2 * electionTick / tickChance <= 3 *
    // electionTick steps) plus a few steps of messages; randomized timeouts
    // make a split vote repeat with probability well under 1/2, so 20 rounds
    // make a miss vanishingly rare for a correct raft. Catching a node up
    // can take a round trip (each way up to maxDelay steps, and a step to
    // answer) per entry when messages hold one entry and only one is in
    // flight; and a node the backlog's conf changes add back starts only
    // once they apply, after the others caught up: twice that per entry.
    const roundTrip = 2 * (this.p.faults.maxDelay + 1);
    const bound = 20 * 3 * this.p.node.electionTick + 2 * roundTrip * backlog + 50;
    let probes: number[] = [];
    let probesBy = '';
    // With reads on, each member must also answer a read; one not answered
    // within two round trips (asked before the node heard of the leader, say:
    // raft then drops it, as a real client's read would time out) is asked again.
    const reads = this.p.readRate > 0;
    let probeReads = new Map<number, { read: string; at: number }>();
    const askProbeRead = (id: number): void => {
      const n = this.live.get(id);
      const read = n === undefined ? undefined : this.read(n);
      if (read !== undefined) probeReads.set(id, { read, at: this.step });
    };
    let members: number[] = [];
    for (let i = 0; i < bound; i++) {
      this.runStep(false);
      const l = this.leader();
      if (l === undefined) continue;
      const r = l.rawNode.raft;
      const cfg = r.trk.config;
      if (cfg.voters.outgoing.size > 0) {
        if (!cfg.autoLeave && l.sm.appliedIndex >= r.pendingConfIndex) this.proposeLeaveJoint(l);
        continue;
      }
      // A leader of an older term (cut off, or removed and leading on, as
      // etcd-raft's does without StepDownOnRemoval) may not know of a change
      // a newer leader committed, and a node stopped on its word stays
      // stopped. Whoever elected a newer leader includes a node of this
      // leader's configuration, which has moved past its term.
      if (this.someTermAfter(cfg, r.term)) continue;
      if (!r.committedEntryInCurrentTerm() || l.sm.appliedIndex < r.pendingConfIndex) continue;
      // The configuration is settled: no conf change is left unapplied in
      // any log that can still win. Removed nodes shut down, as etcd's do.
      members = [...cfg.voters.incoming, ...cfg.learners].sort((a, b) => a - b);
      for (const id of this.ids) {
        if (members.includes(id) || this.stopped.has(id)) continue;
        this.stopped.add(id);
        this.live.delete(id);
        this.trace(`stop ${id} (not a member)`);
      }
      const by = `${l.id}/${r.term}`;
      if (probesBy !== by) {
        probesBy = by;
        probes = [];
        for (let k = 0; k < 3; k++) {
          const id = this.propose(l);
          if (id !== undefined) probes.push(id);
        }
        probeReads = new Map();
        if (reads) for (const id of members) askProbeRead(id);
      }
      let readsAnswered = true;
      for (const id of reads ? members : []) {
        const pr = probeReads.get(id);
        if (pr !== undefined && this.reads.get(pr.read)!.answered) continue;
        readsAnswered = false;
        if (pr === undefined || this.step - pr.at > 2 * roundTrip) askProbeRead(id);
      }
      // Done once every member applied the probes and all that the leader
      // committed (which, with an entry of its term committed, covers every
      // entry committed before).
      if (probes.length > 0 && readsAnswered && members.every((id) => this.hasApplied(id, probes, r.raftLog.committed))) {
        this.checkAcknowledged(members);
        return;
      }
    }
    throw new PropertyError(
      'liveness',
      `no leader committed new proposals${reads ? ' and answered reads' : ''} on all members within ${bound} steps after faults stopped (leader ${this.leader()?.id ?? 'none'}, members ${members.join(',')})`,
    );
  }

  /** Whether a live node of `cfg` is in a term after `term`. */
  private someTermAfter(cfg: TrackerConfig, term: number): boolean {
    for (const id of [...cfg.voters.incoming, ...cfg.voters.outgoing, ...cfg.learners, ...cfg.learnersNext]) {
      const n = this.live.get(id);
      if (n !== undefined && n.rawNode.raft.term > term) return true;
    }
    return false;
  }

  private proposeLeaveJoint(l: SimNode): void {
    try {
      l.rawNode.proposeConfChange(newConfChangeV2());
    } catch (e) {
      if (!(e instanceof ErrProposalDropped)) throw e;
    }
  }

  private hasApplied(id: number, proposals: number[], index: number): boolean {
    const n = this.live.get(id);
    if (n === undefined || n.sm.appliedIndex < index) return false;
    const have = new Set(n.sm.proposals);
    return proposals.every((p) => have.has(p));
  }

  /** Every acknowledged proposal is in every member's state machine. */
  private checkAcknowledged(members: number[]): void {
    for (const id of members) {
      const have = new Set(this.live.get(id)!.sm.proposals);
      for (const p of this.acknowledged) {
        if (!have.has(p)) throw new PropertyError('acknowledged-lost', `node ${id} never applied acknowledged proposal p${p}`);
      }
    }
  }

  private fingerprint(): string {
    return this.ids
      .map((id) => {
        const n = this.live.get(id);
        if (n === undefined) return `${id}:down`;
        const r = n.rawNode.raft;
        return `${id}:t${r.term}c${r.raftLog.committed}a${n.sm.appliedIndex}d${n.sm.digest.toString(16)}`;
      })
      .join(' ');
  }
}

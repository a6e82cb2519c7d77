// Real raft clusters, driven by @raftbus/host's RaftNode, on the transport
// and storage under test. Where the transport and storage suites check each
// contract alone, this one checks that together they carry raft through
// elections, failures, restarts, snapshots and membership changes.
//
// Besides each test's own assertions, every test checks raft's safety
// properties on everything it saw: at most one leader per term (election
// safety), one command per log index on every node (state machine safety),
// and each node's entries applied in log order, once per incarnation.
import { ConsoleLogger, ErrProposalDropped, LogLevel, type DurableStorage, type Logger, type Transport } from '@raftbus/core';
import { RaftNode, type RaftNodeOptions } from '@raftbus/host';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppliedCommands } from './applied-commands.js';
import { KvStateMachine } from './kv-state-machine.js';
import { SeededRandom } from './random.js';
import { sleep, waitFor } from './wait.js';

/** What one incarnation of a node runs on. */
export interface ClusterNodeParts {
  transport: Transport;
  storage: DurableStorage;
}

/** Network faults, applied to node ids on the whole bus (a MemoryBus has these). */
export interface NetworkFaults {
  /** Nodes talk only within their group; nodes in no group form one more group. Replaces any earlier partition. */
  partition(groups: ReadonlyArray<readonly number[]>): void;
  /** Ends every partition. */
  heal(): void;
}

export interface ClusterHarness {
  /**
   * The parts of one incarnation of node `id`: a new transport each time,
   * and a store holding what the node's previous incarnation saved (a new,
   * empty one the first time). The suite stops a node (which closes its
   * store) before asking for its next incarnation.
   */
  node(id: number, clusterId: string): ClusterNodeParts | Promise<ClusterNodeParts>;
  /**
   * The bus's own fault hooks. Without them the suite cuts the network
   * itself, by filtering what each node's transport sends and delivers.
   */
  faults?: NetworkFaults;
  /** Releases the bus and the stores. Every node is stopped first. */
  cleanup?: () => Promise<void>;
}

export interface ClusterConformanceOptions {
  /** Milliseconds per raft tick. Default 10. */
  tickMs?: number;
  /** Ticks before a follower campaigns. Default 10. */
  electionTick?: number;
  /** Deadline of each proposal and read (RaftNode's proposalTimeoutMs). Default 3000. */
  requestTimeoutMs?: number;
  /** Longest wait for the cluster to reach a state (a leader, convergence), in ms. Default 10 000. */
  timeoutMs?: number;
  /** Seeds the nodes' election timeouts. Default 1. */
  seed?: number;
  /** Raft's and the host's log lines. Default: errors only, to stderr. */
  logger?: Logger;
  /** Further RaftNode options for every node (e.g. asyncStorageWrites), applied before a test's own. */
  nodeOptions?: Partial<RaftNodeOptions<string | undefined>>;
}

type Kv = RaftNode<string | undefined>;

interface Member {
  id: number;
  node: Kv;
  kv: KvStateMachine;
  incarnation: number;
}

/** Cuts the network inside the suite, for harnesses without fault hooks. */
class Switchboard implements NetworkFaults {
  private groups: Map<number, number> | undefined;

  partition(groups: ReadonlyArray<readonly number[]>): void {
    this.groups = new Map();
    groups.forEach((g, i) => g.forEach((id) => this.groups!.set(id, i)));
  }

  heal(): void {
    this.groups = undefined;
  }

  cut(a: number, b: number): boolean {
    return this.groups !== undefined && (this.groups.get(a) ?? -1) !== (this.groups.get(b) ?? -1);
  }

  /** `t`, for node `id`, behind this switchboard. */
  wrap(t: Transport, id: number): Transport {
    return {
      capabilities: t.capabilities,
      start: (clusterId, nodeId, handlers) =>
        t.start(clusterId, nodeId, {
          onMessage: (m) => {
            if (!this.cut(m.from, id)) handlers.onMessage(m);
          },
          ...(handlers.onUnreachable && { onUnreachable: (peer: number) => handlers.onUnreachable!(peer) }),
        }),
      send: (messages) => t.send(messages.filter((m) => !this.cut(id, m.to))),
      stop: () => t.stop(),
      stats: () => t.stats(),
    };
  }
}

/** A map as JSON with its keys sorted, for comparing replicas. */
function canonical(map: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

export function clusterConformance(
  name: string,
  factory: () => Promise<ClusterHarness>,
  options: ClusterConformanceOptions = {},
): void {
  const tickMs = options.tickMs ?? 10;
  const electionTick = options.electionTick ?? 10;
  const requestTimeoutMs = options.requestTimeoutMs ?? 3_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const seed = options.seed ?? 1;
  const logger = options.logger ?? new ConsoleLogger(LogLevel.Error);
  const testTimeout = 6 * timeoutMs;

  describe(`${name}: cluster conformance (RaftNode)`, () => {
    let harness: ClusterHarness;
    let faults: NetworkFaults;
    let switchboard: Switchboard | undefined;
    let clusterId: string;
    let members: Map<number, Member>;
    let incarnations: number;
    /** Breaches of raft's safety properties, found by any test. */
    let violations: string[];
    const leaders = new Map<number, number>();
    const commands = new AppliedCommands((why) => violations.push(why));
    const rng = new SeededRandom(seed);

    beforeEach(async () => {
      harness = await factory();
      switchboard = harness.faults === undefined ? new Switchboard() : undefined;
      faults = harness.faults ?? switchboard!;
      clusterId = `raftbus-cluster-${Date.now().toString(36)}-${rng.int(1 << 30).toString(36)}`;
      members = new Map();
      incarnations = 0;
      violations = [];
      leaders.clear();
      commands.clear();
    }, timeoutMs);

    afterEach(async () => {
      faults.heal();
      await Promise.all([...members.values()].map((m) => m.node.stop()));
      await harness.cleanup?.();
      for (const m of members.values()) violations.push(...m.kv.violations.map((v) => `node ${m.id}: ${v}`));
      expect(violations, 'breaches of raft safety').toEqual([]);
    }, timeoutMs);

    /** Starts (or restarts, on its stored state) node `id`; `peers` bootstraps a new cluster. */
    async function start(id: number, peers?: number[], extra: Partial<RaftNodeOptions<string | undefined>> = {}): Promise<Member> {
      const parts = await harness.node(id, clusterId);
      const incarnation = ++incarnations;
      const kv = new KvStateMachine();
      const node: Kv = new RaftNode<string | undefined>({
        id,
        clusterId,
        ...(peers && { peers }),
        transport: switchboard ? switchboard.wrap(parts.transport, id) : parts.transport,
        storage: parts.storage,
        // Streamed snapshot calls, which the host prefers: every cluster run also proves those paths.
        stateMachine: commands.stateMachine(id, kv, true),
        tickMs,
        electionTick,
        heartbeatTick: 1,
        proposalTimeoutMs: requestTimeoutMs,
        logger,
        randomInt: new SeededRandom(seed * 7919 + incarnation).randomInt,
        ...options.nodeOptions,
        ...extra,
      });
      node.on('roleChange', ({ role, term }) => {
        if (role !== 'leader') return;
        const other = leaders.get(term);
        if (other !== undefined && other !== id) violations.push(`term ${term}: nodes ${other} and ${id} both led`);
        leaders.set(term, id);
      });
      const member = { id, node, kv, incarnation };
      members.set(id, member);
      await node.start();
      return member;
    }

    async function startCluster(ids: number[], extra?: Partial<RaftNodeOptions<string | undefined>>): Promise<Member[]> {
      return Promise.all(ids.map((id) => start(id, ids, extra)));
    }

    function get(id: number): Member {
      const m = members.get(id);
      if (m === undefined) throw new Error(`no node ${id}`);
      return m;
    }

    const running = (ids?: number[]): Member[] =>
      (ids ?? [...members.keys()]).map(get).filter((m) => m.node.status().state === 'running');

    /** The leader that every running node in `ids` follows, in the highest term among them. */
    function agreedLeader(ids?: number[]): Member | undefined {
      const nodes = running(ids);
      if (nodes.length === 0) return undefined;
      const term = Math.max(...nodes.map((m) => m.node.status().term));
      const leader = nodes.find((m) => m.node.status().role === 'leader' && m.node.status().term === term);
      return leader && nodes.every((m) => m.node.status().leader === leader.id) ? leader : undefined;
    }

    async function waitForLeader(ids?: number[], exclude?: number): Promise<Member> {
      let leader: Member | undefined;
      await waitFor(
        () => (leader = agreedLeader(ids)) !== undefined && leader.id !== exclude,
        timeoutMs,
        `a leader followed by nodes ${ids ?? [...members.keys()]}${exclude ? `, other than ${exclude}` : ''}`,
      );
      return leader!;
    }

    /** Proposes through `via`, retrying only refusals (which never reach the log, so a retry cannot apply twice). */
    async function put(via: Member, key: string, value: string): Promise<string | undefined> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          return await via.node.propose(KvStateMachine.put(key, value));
        } catch (e) {
          if (!(e instanceof ErrProposalDropped) || Date.now() > deadline) throw e;
          await sleep(tickMs);
        }
      }
    }

    /** Waits until the nodes in `ids` hold the same map (`want`, if given), having applied the same index. */
    async function converge(ids: number[], want?: Record<string, string>): Promise<void> {
      const held = () => ids.map((id) => canonical(get(id).kv.toJSON()));
      await waitFor(
        () => {
          const maps = held();
          const applied = ids.map((id) => get(id).node.status().applied);
          return maps.every((m) => m === (want ? canonical(want) : maps[0])) && applied.every((a) => a === applied[0]);
        },
        timeoutMs,
        `nodes ${ids} to apply the same entries${want ? ` and hold ${canonical(want)}` : ''}`,
      ).catch((e: Error) => {
        const detail = ids.map((id) => `node ${id} applied ${get(id).node.status().applied}: ${canonical(get(id).kv.toJSON())}`);
        throw new Error(`${e.message}\n${detail.join('\n')}`);
      });
    }

    it(
      'elects a single leader that every node follows',
      async () => {
        await startCluster([1, 2, 3]);
        const leader = await waitForLeader();
        for (const m of members.values()) expect(m.node.status().leader).toBe(leader.id);
        expect(running().filter((m) => m.node.status().role === 'leader')).toHaveLength(1);
      },
      testTimeout,
    );

    it(
      'replicates proposals, from the leader and forwarded by followers, to every node in one order',
      async () => {
        await startCluster([1, 2, 3]);
        const leader = await waitForLeader();
        const follower = running().find((m) => m !== leader)!;
        expect(await put(leader, 'k', 'v1')).toBeUndefined();
        expect(await put(follower, 'k', 'v2')).toBe('v1');
        // A burst, proposed without waiting, through every node.
        const burst = Array.from({ length: 30 }, (_, i) => put(get(1 + (i % 3)), `key${i}`, `value${i}`));
        expect(await Promise.all(burst)).toEqual(burst.map(() => undefined));
        const want = { k: 'v2', ...Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`key${i}`, `value${i}`])) };
        await converge([1, 2, 3], want);
        for (const m of members.values()) {
          expect(m.kv.appliedIndexes.length, `entries applied on node ${m.id}`).toBe(32);
        }
      },
      testTimeout,
    );

    it(
      'replaces a stopped leader: the others elect a new one and go on committing',
      async () => {
        await startCluster([1, 2, 3]);
        const first = await waitForLeader();
        await put(first, 'before', '1');
        const term = first.node.status().term;
        await first.node.stop();
        const rest = [1, 2, 3].filter((id) => id !== first.id);
        const second = await waitForLeader(rest);
        expect(second.id).not.toBe(first.id);
        expect(second.node.status().term).toBeGreaterThan(term);
        await put(second, 'after', '2');
        await converge(rest, { before: '1', after: '2' });
      },
      testTimeout,
    );

    it(
      'a leader cut off in a minority commits nothing and serves no stale read; the majority goes on; all agree after the heal',
      async () => {
        await startCluster([1, 2, 3]);
        const old = await waitForLeader();
        await put(old, 'x', 'before');
        await converge([1, 2, 3]);
        const rest = [1, 2, 3].filter((id) => id !== old.id);
        faults.partition([[old.id], rest]);
        // Proposed on the cut-off leader: it cannot commit while the partition lasts.
        const stranded = old.node.propose(KvStateMachine.put('stranded', 'yes')).then(
          () => 'applied',
          (e: Error) => e.name,
        );
        const next = await waitForLeader(rest, old.id);
        await put(next, 'x', 'after');
        // A linearizable read on the old leader must not answer 'before' now.
        const read = await old.node.read(() => old.kv.get('x')).then(
          (v) => `read ${v}`,
          (e: Error) => e.name,
        );
        expect(read).not.toBe('read before');
        expect(await stranded).not.toBe('applied');
        expect(old.kv.get('x')).toBe('before');
        faults.heal();
        await converge([1, 2, 3]);
        expect(get(old.id).kv.get('x')).toBe('after');
        for (const m of members.values()) expect(m.kv.get('stranded'), `the stranded proposal on node ${m.id}`).toBeUndefined();
      },
      testTimeout,
    );

    it(
      'restarts nodes from their storage (snapshot and log): a follower, then the whole cluster',
      async () => {
        // Frequent snapshots, so that a restart restores one and replays the log after it.
        await startCluster([1, 2, 3], { snapshot: { entries: 4, catchUpEntries: 1 } });
        const leader = await waitForLeader();
        for (let i = 0; i < 10; i++) await put(leader, `k${i}`, `v${i}`);
        await converge([1, 2, 3]);
        const follower = running().find((m) => m !== leader)!;
        const lastApplied = follower.node.status().applied;
        await follower.node.stop();
        await put(leader, 'while-down', 'yes');
        const back = await start(follower.id, undefined, { snapshot: { entries: 4, catchUpEntries: 1 } });
        // The state machine starts empty and is rebuilt from the store, then catches up.
        await converge([1, 2, 3]);
        expect(back.kv.get('k9')).toBe('v9');
        expect(back.kv.get('while-down')).toBe('yes');
        expect(back.node.status().applied).toBeGreaterThan(lastApplied);

        const before = get(1).kv.toJSON();
        const term = Math.max(...running().map((m) => m.node.status().term));
        await Promise.all(running().map((m) => m.node.stop()));
        for (const id of [1, 2, 3]) await start(id, undefined, { snapshot: { entries: 4, catchUpEntries: 1 } });
        expect(get(1).kv.restores, 'node 1 restored its snapshot on restart').toBe(1);
        const again = await waitForLeader();
        expect(again.node.status().term).toBeGreaterThan(term);
        await converge([1, 2, 3], before);
        await put(again, 'after-restart', 'yes');
        await converge([1, 2, 3], { ...before, 'after-restart': 'yes' });
      },
      testTimeout,
    );

    it(
      'catches a lagging node up with a snapshot once the leader has compacted its log',
      async () => {
        await startCluster([1, 2, 3], { snapshot: { entries: 10, catchUpEntries: 2 } });
        const leader = await waitForLeader();
        const lagging = running().find((m) => m !== leader)!;
        const others = [1, 2, 3].filter((id) => id !== lagging.id);
        faults.partition([[lagging.id], others]);
        const want: Record<string, string> = {};
        for (let i = 0; i < 40; i++) {
          want[`k${i}`] = `v${i}`;
          await put(leader, `k${i}`, `v${i}`);
        }
        await waitFor(() => leader.node.status().snapshotIndex > lagging.node.status().applied + 2, timeoutMs, 'the leader to compact past the lagging node');
        faults.heal();
        await converge([1, 2, 3], want);
        expect(lagging.kv.restores, 'snapshots installed on the lagging node').toBeGreaterThanOrEqual(1);
        expect(lagging.node.status().stats.snapshotsInstalled).toBeGreaterThanOrEqual(1);
        // It goes on from the snapshot with the log.
        await put(leader, 'after', 'snapshot');
        await converge([1, 2, 3], { ...want, after: 'snapshot' });
      },
      testTimeout,
    );

    it(
      'changes membership: adds a learner, promotes it, removes a follower, then the leader',
      async () => {
        await startCluster([1, 2, 3]);
        let leader = await waitForLeader();
        await put(leader, 'a', '1');
        // Node 4 joins an existing cluster: no peers, empty storage.
        const learner = await start(4);
        const withLearner = await leader.node.addLearner(4);
        expect(withLearner.learners).toEqual([4]);
        expect([...withLearner.voters].sort()).toEqual([1, 2, 3]);
        await converge([1, 2, 3, 4], { a: '1' });
        expect(learner.node.status().role).toBe('follower');

        const promoted = await leader.node.promote(4);
        expect([...promoted.voters].sort()).toEqual([1, 2, 3, 4]);
        expect(promoted.learners).toEqual([]);
        await put(leader, 'b', '2');
        await converge([1, 2, 3, 4], { a: '1', b: '2' });

        const gone = running([1, 2, 3]).find((m) => m !== leader)!;
        const without = await leader.node.removeNode(gone.id);
        expect(without.voters).not.toContain(gone.id);
        await gone.node.stop();
        const rest = [1, 2, 3, 4].filter((id) => id !== gone.id);
        await put(leader, 'c', '3');
        await converge(rest, { a: '1', b: '2', c: '3' });

        // A removed leader steps down; the remaining two elect one of themselves.
        const old = leader;
        expect((await old.node.removeNode(old.id)).voters).not.toContain(old.id);
        const remaining = rest.filter((id) => id !== old.id);
        leader = await waitForLeader(remaining, old.id);
        expect([...leader.node.status().confState.voters].sort()).toEqual(remaining);
        await put(leader, 'd', '4');
        await converge(remaining, { a: '1', b: '2', c: '3', d: '4' });
      },
      testTimeout,
    );

    it(
      'serves linearizable reads on every node: a read sees every write acknowledged before it',
      async () => {
        await startCluster([1, 2, 3]);
        await waitForLeader();
        for (let i = 0; i < 15; i++) {
          const writer = get(1 + (i % 3));
          const reader = get(1 + ((i + 1 + rng.int(2)) % 3));
          await put(writer, 'x', String(i));
          expect(await reader.node.read(() => reader.kv.get('x')), `read on node ${reader.id} after write ${i} on ${writer.id}`).toBe(String(i));
        }
      },
      testTimeout,
    );
  });
}

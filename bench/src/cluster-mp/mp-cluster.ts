// A 3-node cluster with each node in its own process (NodeHandle), on a
// redis or nats server: the multi-process twin of BenchCluster, so the
// followers' work no longer shares the leader's event loop.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bus } from '../baselines/buses.js';
import { NODE_IDS, type StorageKind } from '../cluster/bench-cluster.js';
import type { ClosedLoopOptions, ClosedLoopResult } from '../cluster/closed-loop.js';
import { NodeHandle } from './node-handle.js';
import type { NetworkBus, NodeState, StartRequest } from './protocol.js';

export interface MpClusterOptions {
  bus: Bus & { name: NetworkBus };
  /** The server's address, as the bus's transports connect to it. */
  url: string;
  storage: StorageKind;
  tmpDir?: string;
  /** Seeds the election timeouts. Default 1. */
  seed?: number;
  /** Longest wait for the first leader. Default 30 s. */
  leaderTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class MpCluster {
  private constructor(
    readonly nodes: NodeHandle[],
    private readonly cleanups: (() => Promise<void>)[],
  ) {}

  static async start(o: MpClusterOptions): Promise<MpCluster> {
    const clusterId = `bench-mp-${o.bus.name}-${o.storage}-${process.pid}-${Date.now().toString(36)}`;
    const transports = o.bus.cluster(clusterId);
    const cleanups: (() => Promise<void>)[] = [() => transports.cleanup([...NODE_IDS])];
    const nodes: NodeHandle[] = [];
    const cluster = new MpCluster(nodes, cleanups);
    try {
      const starts: Promise<unknown>[] = [];
      for (const id of NODE_IDS) {
        let dir: string | undefined;
        if (o.storage === 'file') {
          const made = await mkdtemp(join(o.tmpDir ?? tmpdir(), `raftbus-bench-mp-${id}-`));
          cleanups.push(() => rm(made, { recursive: true, force: true }));
          dir = made;
        }
        const node = new NodeHandle(id);
        nodes.push(node);
        const start: StartRequest = { type: 'start', id, clusterId, peers: [...NODE_IDS], bus: o.bus.name, url: o.url, storage: o.storage, seed: o.seed ?? 1 };
        starts.push(node.request(dir === undefined ? start : { ...start, dir }, 'started'));
      }
      await Promise.all(starts);
      await cluster.waitForLeader(o.leaderTimeoutMs ?? 30_000);
      return cluster;
    } catch (e) {
      await cluster.stop();
      throw e;
    }
  }

  states(): Promise<NodeState[]> {
    return Promise.all(this.nodes.map(async (n) => (await n.request({ type: 'status' }, 'status')).state));
  }

  /** The node that leads now, if one does. */
  async leader(): Promise<NodeHandle | undefined> {
    const states = await this.states();
    return this.nodes[states.findIndex((s) => s.role === 'leader')];
  }

  async waitForLeader(timeoutMs: number): Promise<NodeHandle> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leader = await this.leader();
      if (leader !== undefined) return leader;
      if (Date.now() > deadline) throw new Error(`no leader within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  /** As BenchCluster.settle: resolves once every node has applied all that is committed (false after `timeoutMs`). */
  async settle(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await this.states();
      const commit = Math.max(...states.map((s) => s.commit));
      if (states.every((s) => s.applied >= commit)) return true;
      if (Date.now() > deadline) return false;
      await sleep(10);
    }
  }

  /** The highest term any node has seen. */
  async term(): Promise<number> {
    return Math.max(...(await this.states()).map((s) => s.term));
  }

  /** Runs the closed loop inside the leader's process (the proposers are local to it, as in the one-process suite). */
  async closedLoopOnLeader(o: ClosedLoopOptions, leaderTimeoutMs: number): Promise<ClosedLoopResult> {
    const leader = await this.waitForLeader(leaderTimeoutMs);
    return (await leader.request({ type: 'load', ...o }, 'loaded')).result;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    for (const cleanup of this.cleanups) await cleanup().catch(() => undefined);
  }
}

// A cluster of RaftNodes in one process, on a MemoryBus, for the host's
// tests. Short ticks keep elections quick; every wait is bounded.
//
// The memory transport and storage are imported from their sources by path:
// they are not dependencies of @raftbus/host (adding them as
// devDependencies needs a lockfile change).
import { discardLogger, type StateMachine } from '@raftbus/core';
import { InMemoryStorage } from '@raftbus/storage-memory';
import { MemoryBus, MemoryTransport, seededRandom } from '@raftbus/transport-memory';
import { RaftNode, type RaftNodeOptions } from '../../src/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const utf8 = (s: string): Uint8Array => encoder.encode(s);

/**
 * The state machine of the tests: the strings applied, in order, and the
 * index each was applied at. apply returns "<string>@<index>", so a proposer
 * can tell where it landed.
 */
export class LogMachine implements StateMachine<string> {
  entries: string[] = [];
  indexes: number[] = [];

  apply(data: Uint8Array, index: number): string {
    const s = decoder.decode(data);
    this.entries.push(s);
    this.indexes.push(index);
    return `${s}@${index}`;
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify({ entries: this.entries, indexes: this.indexes }));
  }

  restore(data: Uint8Array): void {
    ({ entries: this.entries, indexes: this.indexes } = JSON.parse(decoder.decode(data)) as LogMachine);
  }
}

/** A state machine that records what it applied, as LogMachine does (whose subclasses may apply asynchronously). */
export type RecordingMachine = StateMachine<string> & Pick<LogMachine, 'entries' | 'indexes'>;

/** Polls `cond` until it holds; throws naming `what` (evaluated then) if it does not within `timeoutMs`. */
export async function waitFor(cond: () => boolean, timeoutMs = 5_000, what: string | (() => string) = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) {
      throw new Error(`waitFor: ${typeof what === 'string' ? what : what()} did not hold within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export interface Member {
  id: number;
  node: RaftNode<string>;
  storage: InMemoryStorage;
  sm: RecordingMachine;
  transport: MemoryTransport;
}

/**
 * The storage modes every cluster test runs in (describe.each): the
 * synchronous Ready/advance loop, and etcd's asynchronous storage writes.
 */
export const STORAGE_MODES = [
  { name: 'synchronous storage writes', asyncStorageWrites: false },
  { name: 'asyncStorageWrites', asyncStorageWrites: true },
] as const;

export type NodeOverrides = Partial<Omit<RaftNodeOptions<string>, 'id' | 'clusterId' | 'transport' | 'storage' | 'stateMachine'>>;

export class TestCluster {
  readonly bus = new MemoryBus({ seed: 42 });
  readonly members = new Map<number, Member>();
  readonly clusterId = `test-${Math.random().toString(36).slice(2)}`;

  constructor(
    readonly peers: number[],
    readonly overrides: NodeOverrides = {},
  ) {}

  /** Starts every peer as a member of a new cluster. */
  async start(): Promise<this> {
    await Promise.all(this.peers.map((id) => this.startNode(id, { peers: this.peers })));
    return this;
  }

  /**
   * Starts node `id` on its storage (a new one the first time): a restart
   * when the storage holds state, with a fresh, empty state machine.
   */
  async startNode(id: number, { stateMachine, ...overrides }: NodeOverrides & { stateMachine?: RecordingMachine } = {}): Promise<Member> {
    const storage = this.members.get(id)?.storage ?? new InMemoryStorage();
    const sm = stateMachine ?? new LogMachine();
    const transport = new MemoryTransport(this.bus);
    const node = new RaftNode<string>({
      id,
      clusterId: this.clusterId,
      transport,
      storage,
      stateMachine: sm,
      tickMs: 10,
      proposalTimeoutMs: 3_000,
      logger: discardLogger,
      randomInt: ((rand) => (n: number) => Math.floor(rand() * n))(seededRandom(id * 7919)),
      ...this.overrides,
      ...overrides,
    });
    const member = { id, node, storage, sm, transport };
    this.members.set(id, member);
    await node.start();
    return member;
  }

  get(id: number): Member {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no node ${id}`);
    return m;
  }

  running(): Member[] {
    return [...this.members.values()].filter((m) => m.node.status().state === 'running');
  }

  /**
   * The leader everybody running agrees on: a node that leads, in the
   * highest term any running node has seen, followed by `quorum` running
   * nodes (itself included) that name it.
   */
  agreedLeader(among: number[] = this.running().map((m) => m.id)): Member | undefined {
    const nodes = among.map((id) => this.get(id));
    const term = Math.max(...nodes.map((m) => m.node.status().term));
    const leader = nodes.find((m) => m.node.status().role === 'leader' && m.node.status().term === term);
    if (leader === undefined) return undefined;
    return nodes.every((m) => m.node.status().leader === leader.id) ? leader : undefined;
  }

  async waitForLeader(among?: number[], timeoutMs = 5_000): Promise<Member> {
    let leader: Member | undefined;
    await waitFor(() => (leader = this.agreedLeader(among)) !== undefined, timeoutMs, `a leader among ${among ?? 'the running nodes'}`);
    return leader!;
  }

  followers(leader: Member): Member[] {
    return this.running().filter((m) => m !== leader);
  }

  /** Waits until the given nodes' state machines hold `entries`. */
  async waitForEntries(ids: number[], entries: string[], timeoutMs = 5_000): Promise<void> {
    const want = JSON.stringify(entries);
    await waitFor(
      () => ids.every((id) => JSON.stringify(this.get(id).sm.entries) === want),
      timeoutMs,
      () => `nodes ${ids} to hold ${want} (they hold ${ids.map((id) => JSON.stringify(this.get(id).sm.entries)).join(' / ')})`,
    );
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.members.values()].map((m) => m.node.stop()));
  }
}

// A kv cluster in this process for the tests: nodes on one MemoryBus, each
// with a FileStorage in its own directory under one temp dir.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discardLogger } from '@raftbus/core';
import { FileStorage } from '@raftbus/storage-file';
import { waitFor } from '@raftbus/testkit';
import { MemoryBus, MemoryTransport } from '@raftbus/transport-memory';
import { startKvNode, type KvNode, type KvNodeOptions } from '../../src/kv-node.js';

export type NodeOverrides = Partial<Omit<KvNodeOptions, 'id' | 'storage' | 'transport' | 'http'>>;

export class TestCluster {
  readonly bus = new MemoryBus();
  readonly nodes = new Map<number, KvNode>();
  readonly urls = new Map<number, string>();

  private constructor(
    readonly ids: number[],
    readonly dir: string,
  ) {}

  static async create(ids: number[]): Promise<TestCluster> {
    return new TestCluster(ids, await mkdtemp(join(tmpdir(), 'raftbus-kv-test-')));
  }

  /** Starts node `id` on its data dir; `bootstrap` for a node of a new cluster. */
  async start(id: number, bootstrap: boolean, overrides: NodeOverrides = {}): Promise<KvNode> {
    const node = await startKvNode({
      id,
      clusterId: 'kv-test',
      ...(bootstrap && { peers: this.ids }),
      transport: new MemoryTransport(this.bus),
      // A process crash loses nothing without fsync; the tests do not crash machines.
      storage: new FileStorage({ dir: join(this.dir, `node-${id}`), unsafeNoSync: true, logger: discardLogger }),
      http: { host: '127.0.0.1', port: 0 },
      peerUrls: this.urls,
      tickMs: 20,
      logger: discardLogger,
      ...overrides,
    });
    this.nodes.set(id, node);
    this.urls.set(id, node.url);
    return node;
  }

  async startAll(bootstrap: boolean, overrides: (id: number) => NodeOverrides = () => ({})): Promise<void> {
    await Promise.all(this.ids.map((id) => this.start(id, bootstrap, overrides(id))));
  }

  node(id: number): KvNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`node ${id} is not running`);
    return n;
  }

  /** Waits until every running node names the same running leader; returns it. */
  async leader(): Promise<number> {
    let leader: number | undefined;
    await waitFor(
      () => {
        const views = [...this.nodes.values()].map((n) => n.raft.status().leader);
        leader = views[0];
        return leader !== undefined && this.nodes.has(leader) && views.every((l) => l === leader);
      },
      10_000,
      'a leader all nodes agree on',
    );
    return leader!;
  }

  async followers(): Promise<number[]> {
    const leader = await this.leader();
    return [...this.nodes.keys()].filter((id) => id !== leader);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.stop()));
    this.nodes.clear();
    this.urls.clear();
  }

  async destroy(): Promise<void> {
    await this.stopAll();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

export async function http(method: string, url: string, body?: string): Promise<Reply> {
  const res = await fetch(url, { method, signal: AbortSignal.timeout(10_000), ...(body !== undefined && { body }) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

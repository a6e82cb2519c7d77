// The kv service end to end, in one process and without a broker: three
// nodes on an in-memory bus, each with a write-ahead log on disk and an HTTP
// API on 127.0.0.1. Every write and read below goes through HTTP. The story:
//
//   elect a leader → write through every node → read linearizably
//   → crash the leader → a new one is elected → write on, until the leader
//     has compacted its log past everything the crashed node holds
//   → restart the crashed node from its data dir: it can only catch up from
//     a snapshot, and the demo checks that it did
//   → every node holds the same data (stale reads on each)
//
// Exits 0 if every check passes, 1 with the reason otherwise.
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RaftPanic, type Logger } from '@raftbus/core';
import { FileStorage } from '@raftbus/storage-file';
import { MemoryBus, MemoryTransport } from '@raftbus/transport-memory';
import { startKvNode, type KvNode } from './kv-node.js';

const IDS = [1, 2, 3];
const CLUSTER_ID = 'raftbus-kv-demo';
const TICK_MS = 25;
// Small enough that the leader snapshots and compacts several times while a
// node is down: snapshot every 20 applied entries, keep 5 behind it.
const SNAPSHOT = { entries: 20, catchUpEntries: 5 };
const TOTAL_DEADLINE_MS = 45_000;
const STEP_TIMEOUT_MS = 10_000;
const HTTP_TIMEOUT_MS = 5_000;

class DemoFailure extends Error {}

const started = performance.now();

function say(line: string): void {
  const t = ((performance.now() - started) / 1000).toFixed(1).padStart(5);
  console.log(`${t}s  ${line}`);
}

// Raft's own log lines would drown the story; only errors get through.
const quietLogger: Logger = {
  debug() {},
  info() {},
  warning() {},
  error: (msg) => console.error(`raft error: ${msg}`),
  fatal(msg): never {
    throw new RaftPanic(msg);
  },
  panic(msg): never {
    throw new RaftPanic(msg);
  },
};

/** Polls `cond` every 10 ms; fails the demo naming `what` if it does not hold in time. */
async function waitUntil<T>(what: string, cond: () => T | undefined | false, timeoutMs = STEP_TIMEOUT_MS): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = cond();
    if (v !== undefined && v !== false) return v;
    if (performance.now() > deadline) throw new DemoFailure(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface HttpReply {
  status: number;
  text: string;
}

async function request(method: string, url: string, body?: string): Promise<HttpReply> {
  const res = await fetch(url, { method, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS), ...(body !== undefined && { body }) });
  return { status: res.status, text: await res.text() };
}

class Cluster {
  readonly bus = new MemoryBus();
  readonly nodes = new Map<number, KvNode>();
  readonly storages = new Map<number, FileStorage>();
  /** Shared with every server, so a 503 can name the leader's current URL. */
  readonly urls = new Map<number, string>();

  constructor(private readonly dataDir: string) {}

  async start(id: number, bootstrap: boolean): Promise<KvNode> {
    const storage = new FileStorage({ dir: join(this.dataDir, `node-${id}`), logger: quietLogger });
    const node = await startKvNode({
      id,
      clusterId: CLUSTER_ID,
      // Only a new cluster is bootstrapped; a restarted node reads its membership from its WAL.
      ...(bootstrap && { peers: IDS }),
      transport: new MemoryTransport(this.bus),
      storage,
      tickMs: TICK_MS,
      snapshot: SNAPSHOT,
      logger: quietLogger,
      http: { host: '127.0.0.1', port: 0 },
      peerUrls: this.urls,
    });
    this.nodes.set(id, node);
    this.storages.set(id, storage);
    this.urls.set(id, node.url);
    return node;
  }

  /**
   * Kills a node as a crash would: first it falls silent on the bus (no
   * last message, no handing over leadership), then its raft loop and HTTP
   * server stop and its files are closed. It stays cut off until reconnect().
   */
  async crash(id: number): Promise<void> {
    const node = this.nodes.get(id)!;
    this.bus.isolate(id);
    this.nodes.delete(id);
    this.urls.delete(id);
    await node.stop();
  }

  reconnect(id: number): void {
    this.bus.restore(id);
  }

  node(id: number): KvNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new DemoFailure(`node ${id} is not running`);
    return n;
  }

  /** The leader every running node agrees on, if they do. */
  agreedLeader(): { leader: number; term: number } | undefined {
    const views = [...this.nodes.values()].map((n) => n.raft.status());
    const leader = views[0]?.leader;
    if (leader === undefined || !this.nodes.has(leader) || views.some((s) => s.leader !== leader)) return undefined;
    return { leader, term: this.node(leader).raft.status().term };
  }

  async put(via: number, key: string, value: string): Promise<{ index: number; node: number; leader: number }> {
    const reply = await request('PUT', `${this.node(via).url}/kv/${encodeURIComponent(key)}`, value);
    if (reply.status !== 200) throw new DemoFailure(`PUT ${key} via node ${via} answered ${reply.status}: ${reply.text.trim()}`);
    return JSON.parse(reply.text) as { index: number; node: number; leader: number };
  }

  async delete(via: number, key: string): Promise<{ index: number; existed: boolean }> {
    const reply = await request('DELETE', `${this.node(via).url}/kv/${encodeURIComponent(key)}`);
    if (reply.status !== 200) throw new DemoFailure(`DELETE ${key} via node ${via} answered ${reply.status}: ${reply.text.trim()}`);
    return JSON.parse(reply.text) as { index: number; existed: boolean };
  }

  /** The value, or undefined on a 404. */
  async get(via: number, key: string, stale = false): Promise<string | undefined> {
    const reply = await request('GET', `${this.node(via).url}/kv/${encodeURIComponent(key)}${stale ? '?stale=true' : ''}`);
    if (reply.status === 404) return undefined;
    if (reply.status !== 200) throw new DemoFailure(`GET ${key} via node ${via} answered ${reply.status}: ${reply.text.trim()}`);
    return reply.text;
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.nodes.values()].map((n) => n.stop()));
    this.nodes.clear();
  }
}

function roleOf(cluster: Cluster, id: number): string {
  return cluster.node(id).raft.status().role;
}

async function story(cluster: Cluster): Promise<void> {
  /** What every acknowledged write says the data must be. */
  const expected = new Map<string, string | undefined>();

  for (const id of IDS) {
    const n = await cluster.start(id, true);
    say(`node ${id} started, HTTP API at ${n.url}`);
  }
  const first = await waitUntil('the first leader', () => cluster.agreedLeader());
  say(`node ${first.leader} is elected leader (term ${first.term})`);

  // Writes through every node: a follower's write is forwarded to the leader by raft.
  const writes: Array<[string, string]> = [
    ['color', 'blue'],
    ['fruit', 'apple'],
    ['city', 'Lisbon'],
    ['planet', 'Mars'],
    ['color', 'green'],
  ];
  for (const [i, [key, value]] of writes.entries()) {
    const via = IDS[i % IDS.length]!;
    const role = roleOf(cluster, via);
    const r = await cluster.put(via, key, value);
    expected.set(key, value);
    const path = r.node === r.leader ? 'the leader itself' : `forwarded to leader ${r.leader}`;
    say(`PUT ${key}=${value} via node ${via} (${role}): committed at index ${r.index}, ${path}`);
  }
  const followers = IDS.filter((id) => id !== first.leader);
  const del = await cluster.delete(followers[0]!, 'fruit');
  expected.set('fruit', undefined);
  say(`DELETE fruit via node ${followers[0]} (follower): committed at index ${del.index}`);

  const color = await cluster.get(followers[1]!, 'color');
  if (color !== 'green') throw new DemoFailure(`linearizable GET color on node ${followers[1]} returned ${color}, expected green`);
  say(`GET color via node ${followers[1]} (follower, linearizable: confirmed with the leader): ${color}`);

  // Crash the leader.
  const old = first.leader;
  const oldStorage = cluster.storages.get(old)!;
  const oldLast = oldStorage.lastIndex();
  await cluster.crash(old);
  const crashedAt = performance.now();
  say(`node ${old} (the leader) crashes; its log ends at index ${oldLast}`);

  const second = await waitUntil('a new leader among the survivors', () => cluster.agreedLeader());
  say(`node ${second.leader} is elected leader (term ${second.term}) ${Math.round(performance.now() - crashedAt)} ms after the crash`);
  const survivors = [...cluster.nodes.keys()];

  const other = survivors.find((id) => id !== second.leader)!;
  const r = await cluster.put(other, 'color', 'red');
  expected.set('color', 'red');
  say(`PUT color=red via node ${other} (follower): committed at index ${r.index} by the 2 nodes left`);

  // Write on until the leader has compacted away every entry after the old
  // leader's last one: then only a snapshot can bring that node up to date.
  const leaderStorage = cluster.storages.get(second.leader)!;
  let written = 0;
  while (leaderStorage.firstIndex() <= oldLast + 1) {
    if (written >= 400) throw new DemoFailure(`the leader's log still starts at ${leaderStorage.firstIndex()} after ${written} writes`);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const key = `item-${String(written + i).padStart(3, '0')}`;
        const value = `v${written + i}`;
        expected.set(key, value);
        return cluster.put(survivors[i % survivors.length]!, key, value);
      }),
    );
    written += 20;
  }
  const lead = cluster.node(second.leader).raft.status();
  say(`wrote ${written} more keys (item-000..item-${String(written - 1).padStart(3, '0')}) through both survivors, 20 at a time`);
  say(
    `node ${second.leader} snapshotted at index ${lead.snapshotIndex} and compacted its log, which now starts at ` +
      `${leaderStorage.firstIndex()}: past node ${old}'s last entry (${oldLast})`,
  );

  // Restart the old leader from its data dir, still cut off, so that what
  // it recovers from its own files shows before the leader sends it anything.
  const sentBefore = lead.stats.snapshotsSent;
  const back = await cluster.start(old, false);
  const ownCommit = back.raft.status().commit;
  const recovered = await waitUntil(`node ${old} to replay its own log to index ${ownCommit}`, () => {
    const st = back.raft.status();
    return st.applied >= ownCommit ? st : undefined;
  });
  say(
    `node ${old} restarts from its data dir (HTTP API now at ${back.url}): replayed its log to index ` +
      `${recovered.applied}, ${back.store.size} keys; it rejoins the network`,
  );
  cluster.reconnect(old);
  const target = cluster.node(second.leader).raft.status().commit;
  const caughtUp = await waitUntil(`node ${old} to catch up to index ${target}`, () => {
    const st = back.raft.status();
    return st.applied >= target ? st : undefined;
  });
  if (caughtUp.stats.snapshotsInstalled === 0) {
    throw new DemoFailure(`node ${old} caught up without installing a snapshot, though the leader's log starts after its own`);
  }
  const sent = cluster.node(second.leader).raft.status().stats.snapshotsSent - sentBefore;
  const snapIndex = cluster.storages.get(old)!.readSnapshotChunks().metadata.index;
  if (snapIndex <= oldLast) throw new DemoFailure(`node ${old}'s stored snapshot is at ${snapIndex}, not past its old log (${oldLast})`);
  say(
    `node ${old} caught up via a snapshot: it installed ${caughtUp.stats.snapshotsInstalled} snapshot(s) ` +
      `(leader sent ${sent}); its storage now holds a snapshot at index ${snapIndex} > ${oldLast}; applied index ${caughtUp.applied}`,
  );

  const last = await cluster.put(old, 'color', 'purple');
  expected.set('color', 'purple');
  say(`PUT color=purple via node ${old} (${roleOf(cluster, old)}, back in the cluster): committed at index ${last.index}`);

  // Every node applies the last write, then answers the same for every key.
  await waitUntil('every node to apply the last write', () => IDS.every((id) => cluster.node(id).raft.status().applied >= last.index));
  for (const id of IDS) {
    for (const [key, want] of expected) {
      const got = await cluster.get(id, key, true);
      if (got !== want) throw new DemoFailure(`node ${id} has ${key}=${got ?? '(none)'}, expected ${want ?? '(none)'}`);
    }
  }
  const dumps = IDS.map((id) => JSON.stringify(cluster.node(id).store.toJSON()));
  if (dumps.some((d) => d !== dumps[0])) throw new DemoFailure('the nodes hold different data');
  const present = [...expected.values()].filter((v) => v !== undefined).length;
  say(`stale reads of all ${expected.size} keys on each of the 3 nodes agree: ${present} present, ${expected.size - present} deleted`);
}

async function main(): Promise<number> {
  const dataDir = await mkdtemp(join(tmpdir(), 'raftbus-kv-demo-'));
  const cluster = new Cluster(dataDir);
  const deadline = setTimeout(() => {
    console.error(`demo FAILED: not finished within ${TOTAL_DEADLINE_MS / 1000} s`);
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(1);
  }, TOTAL_DEADLINE_MS);
  deadline.unref();
  say(`raftbus kv demo: 3 nodes in one process, in-memory bus, data in ${dataDir}`);
  try {
    await story(cluster);
    say('demo OK');
    return 0;
  } catch (e) {
    console.error(`demo FAILED: ${e instanceof DemoFailure ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return 1;
  } finally {
    clearTimeout(deadline);
    await cluster.stopAll();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// fetch's pooled connections would keep the process alive for a while.
process.exit(await main());

// What the linearizability runs share: a 3-node kv cluster whose nodes can be
// killed and brought back (same data dir or Redis keys, same HTTP port),
// clients that drive it through the HTTP API and record every operation, and
// the history file each run leaves in integration/.histories for a person to
// read.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DurableStorage, Logger, Transport } from '@raftbus/core';
import { createTransport, startKvNode, type KvNode, type KvNodeOptions } from '@raftbus/example-kv';
import { FileStorage } from '@raftbus/storage-file';
import { RedisStorage } from '@raftbus/storage-redis';
import { SeededRandom, sleep, waitFor } from '@raftbus/testkit';
import { CrashFs, skipDirectoryLock, type Survival } from '@raftbus/testkit/crash-fs';
import {
  checkLinearizability,
  HistoryRecorder,
  kvModel,
  writeHistoryFile,
  type CheckResult,
  type HeaderFields,
  type KvInput,
  type KvOperation,
  type KvOutput,
} from '@raftbus/testkit/linearizability';
import { MemoryBus, MemoryTransport } from '@raftbus/transport-memory';
import { expect, onTestFailed } from 'vitest';
import { LogTail } from './buses.js';
import { brokersOf, type Bus, type Service } from './services.js';

/** Where the runs' histories go (git ignores it). */
export const HISTORY_DIR = fileURLToPath(new URL('../.histories/', import.meta.url));

export type KvRecorder = HistoryRecorder<KvInput, KvOutput>;

/** The bus under a cluster: the in-process one (which can partition), or a real server. */
export type ClusterBus = { kind: 'memory'; bus: MemoryBus } | { kind: Bus; service: Service };

/**
 * Where the nodes keep their logs: a FileStorage in each node's data dir, or
 * a RedisStorage in the Redis at `url` (which must be durable: appendonly
 * yes + appendfsync always), under the cluster's and the node's keys.
 */
export type ClusterStorage = { kind: 'file' } | { kind: 'redis'; url: string };

export interface KvClusterOptions {
  bus: ClusterBus;
  clusterId: string;
  /** Each node's data dir is <dir>/node-<id>. */
  dir: string;
  /** HTTP port of each node, in id order; kept across restarts so clients keep their URLs. */
  ports: number[];
  tickMs: number;
  /** The nodes' deadline for a proposal or read (a client's timeout should be a little longer). */
  proposalTimeoutMs: number;
  logger: Logger;
  /** The nodes' snapshot policy; the kv node's default when absent. */
  snapshot?: KvNodeOptions['snapshot'];
  /** Default file. */
  storage?: ClusterStorage;
  /**
   * Each node's FileStorage on a file system that can lose power
   * (testkit's CrashFs), so that powerLoss() can strike: its fsyncs are
   * modelled, not made. 'disks-ignore-fsync': disks that lie, whose fsyncs
   * make nothing durable (for checking that a power loss is noticed).
   */
  powerLoss?: boolean | 'disks-ignore-fsync';
  /** The nodes' asyncStorageWrites (the host's default, false, when absent). */
  asyncStorageWrites?: boolean;
}

/**
 * WAL segments under powerLoss: small, so that the model's copy of a file
 * on each write stays cheap, and so that segments roll over and compaction
 * removes them under the faults.
 */
const POWER_LOSS_SEGMENT_BYTES = 64 * 1024;

/** Three kv nodes (ids 1..3) on one bus, each of which a test may stop and start again. */
export class KvCluster {
  readonly ids: number[];
  private readonly running = new Map<number, KvNode>();
  /** Each running node's transport: a power loss unplugs it. */
  private readonly transports = new Map<number, Transport>();
  /** Each running node's file system (option powerLoss). */
  private readonly disks = new Map<number, CrashFs>();
  /** Each node's data dir, once a power loss has moved it onto the image of what survived. */
  private readonly dirs = new Map<number, string>();
  private powerLosses = 0;

  constructor(private readonly o: KvClusterOptions) {
    this.ids = o.ports.map((_, i) => i + 1);
    if (o.powerLoss && o.storage?.kind === 'redis') throw new Error('powerLoss strikes file storage: a node keeping its log in Redis has no disk of its own to lose');
  }

  /** Whether powerLoss() and slowDisk() can strike: the nodes' FileStorage runs on disks that can lose power. */
  get canLosePower(): boolean {
    return Boolean(this.o.powerLoss);
  }

  /** Base URL of each node's HTTP API, whether it runs or not. */
  get urls(): string[] {
    return this.o.ports.map((port) => `http://127.0.0.1:${port}`);
  }

  async startAll(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.start(id)));
  }

  /** Starts node `id` (again): from its data dir, on its port. */
  async start(id: number): Promise<void> {
    if (this.running.has(id)) throw new Error(`node ${id} is already running`);
    const dir = this.dirOf(id);
    let disk: CrashFs | undefined;
    if (this.o.powerLoss) {
      await mkdir(dir, { recursive: true });
      disk = await CrashFs.over(dir, { durableWrites: true, ...(this.o.powerLoss === 'disks-ignore-fsync' && { ignoreSync: () => true }) });
    }
    const transport = this.transport();
    const node = await startKvNode({
      id,
      clusterId: this.o.clusterId,
      peers: this.ids,
      transport,
      storage: this.storage(id, dir, disk),
      http: { host: '127.0.0.1', port: this.o.ports[id - 1]! },
      peerUrls: new Map(this.ids.map((i) => [i, this.urls[i - 1]!])),
      tickMs: this.o.tickMs,
      electionTick: 10,
      proposalTimeoutMs: this.o.proposalTimeoutMs,
      logger: this.o.logger,
      ...(this.o.snapshot !== undefined && { snapshot: this.o.snapshot }),
      ...(this.o.asyncStorageWrites !== undefined && { asyncStorageWrites: this.o.asyncStorageWrites }),
    });
    this.running.set(id, node);
    this.transports.set(id, transport);
    if (disk !== undefined) this.disks.set(id, disk);
  }

  /** Snapshots made and installed by every node so far, over all its restarts (counted as each stops). */
  readonly snapshots = { created: 0, installed: 0 };

  /** Stops node `id` at once: requests in flight to it lose their connection. */
  async stop(id: number): Promise<void> {
    const node = this.running.get(id);
    if (node === undefined) throw new Error(`node ${id} is not running`);
    this.running.delete(id);
    this.transports.delete(id);
    this.disks.delete(id);
    const { stats } = node.raft.status();
    this.snapshots.created += stats.snapshotsCreated;
    this.snapshots.installed += stats.snapshotsInstalled;
    await node.stop();
  }

  /**
   * Nodes `ids` lose power at one instant (option powerLoss): their
   * transports stopped (a stopped transport sends nothing more) and their
   * disks crashed, so that nothing more reaches either; then their
   * processes are gone. Each data dir is replaced by what its disk kept:
   * what was fsynced and, with a torn survival, a seeded part of what was
   * not. The nodes stay down until
   * start(). Returns, for each node, the paths (in its data dir) whose
   * unsynced changes the crash could lose.
   */
  async powerLoss(ids: readonly number[], survival: (id: number) => Survival): Promise<Map<number, string[]>> {
    const disks = ids.map((id) => this.disk(id));
    const volatile = new Map<number, string[]>();
    for (const [i, id] of ids.entries()) {
      // Not awaited: the transport refuses sends from this call on (node.stop() below awaits its disconnect).
      this.transports.get(id)!.stop().catch(() => {});
      disks[i]!.crashNow();
      volatile.set(id, disks[i]!.volatilePaths());
    }
    // Their processes end: stop() must succeed on a node whose disk has failed under it.
    await Promise.all(ids.map((id) => this.stop(id)));
    for (const [i, id] of ids.entries()) {
      const disk = disks[i]!;
      await disk.release();
      const image = join(this.o.dir, `node-${id}.power-loss-${++this.powerLosses}`);
      await mkdir(image);
      await disk.image(image, survival(id), skipDirectoryLock);
      await rm(this.dirOf(id), { recursive: true, force: true });
      this.dirs.set(id, image);
    }
    return volatile;
  }

  /** Node `id`'s disk takes `ms` before each fsync from now on (0: its own speed again); option powerLoss. */
  slowDisk(id: number, ms: number): void {
    this.disk(id).syncDelayMs = ms;
  }

  private dirOf(id: number): string {
    return this.dirs.get(id) ?? join(this.o.dir, `node-${id}`);
  }

  private disk(id: number): CrashFs {
    const disk = this.disks.get(id);
    if (disk === undefined) throw new Error(`node ${id} is not running on a disk that can lose power`);
    return disk;
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.running.keys()].map((id) => this.stop(id)));
  }

  /** Ids of the nodes running now, ascending. */
  runningIds(): number[] {
    return [...this.running.keys()].sort((a, b) => a - b);
  }

  node(id: number): KvNode {
    const node = this.running.get(id);
    if (node === undefined) throw new Error(`node ${id} is not running`);
    return node;
  }

  /** Waits until every running node (or those of `among`) follows one leader, and returns its id. */
  async leader(waitMs: number, among: readonly number[] = [...this.running.keys()]): Promise<number> {
    let leader: number | undefined;
    await waitFor(
      () => {
        const views = among.map((id) => this.running.get(id)?.raft.status().leader);
        leader = views[0];
        return leader !== undefined && among.includes(leader) && views.every((l) => l === leader);
      },
      waitMs,
      `a leader that nodes ${among.join(', ')} follow`,
    );
    return leader!;
  }

  private storage(id: number, dir: string, disk: CrashFs | undefined): DurableStorage {
    const storage = this.o.storage ?? { kind: 'file' };
    if (storage.kind === 'redis') {
      // The same keys on every start: a restarted node reads back what Redis acknowledged.
      return new RedisStorage({ url: storage.url, clusterId: this.o.clusterId, nodeId: id, logger: this.o.logger });
    }
    return new FileStorage({
      dir,
      logger: this.o.logger,
      ...(disk !== undefined && { fs: disk.fs, segmentBytes: POWER_LOSS_SEGMENT_BYTES }),
    });
  }

  private transport(): Transport {
    const bus = this.o.bus;
    switch (bus.kind) {
      case 'memory':
        return new MemoryTransport(bus.bus);
      case 'redis':
        return createTransport({ transport: 'redis', url: bus.service.url }, this.o.logger);
      case 'nats':
        return createTransport({ transport: 'nats', servers: [bus.service.url] }, this.o.logger);
      case 'kafka':
        return createTransport({ transport: 'kafka', brokers: brokersOf(bus.service) }, this.o.logger);
    }
  }
}

export interface ClientsOptions {
  /** How many clients run at once. */
  clients: number;
  keys: readonly string[];
  /** A client gives up on a request after this long (the operation is then indeterminate). */
  timeoutMs: number;
  seed: number;
}

/**
 * Clients that each issue one request at a time (get 45%, put 40%, delete
 * 15%, on a random key through a random node) until stopped, recording each.
 * An answer the service documents as "never applied" (503 no leader / not
 * leader / dropped, 429, a refused connection) is a fail; a timeout, a lost
 * connection, a 504 or a 503 stopped is indeterminate. A client whose request
 * is indeterminate carries on under a new client id (its old request may
 * still be in flight), as Jepsen does.
 */
export class KvClients {
  private stopped = false;
  private failure: unknown;
  private readonly loops: Promise<void>[];

  constructor(
    private readonly recorder: KvRecorder,
    private readonly urls: readonly string[],
    private readonly o: ClientsOptions,
  ) {
    this.loops = Array.from({ length: o.clients }, (_, i) =>
      this.run(i + 1, new SeededRandom(o.seed * 1000 + i)).catch((e: unknown) => {
        this.failure ??= e;
      }),
    );
  }

  /** Stops issuing requests and waits for those in flight; throws what a client did not expect. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    if (this.failure !== undefined) throw this.failure;
  }

  /** Throws what a client did not expect (a 400, a 405…), so a waiting test ends early. */
  check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private async run(first: number, rng: SeededRandom): Promise<void> {
    let client = first;
    let refused = 0;
    for (let seq = 1; !this.stopped; seq++) {
      const key = this.o.keys[rng.int(this.o.keys.length)]!;
      const roll = rng.int(20);
      const input: KvInput = roll < 9 ? { f: 'get', key } : roll < 17 ? { f: 'put', key, value: `${client}.${seq}` } : { f: 'delete', key };
      const url = `${this.urls[rng.int(this.urls.length)]!}/kv/${encodeURIComponent(key)}`;
      const outcome = await this.request(client, url, input);
      if (outcome === 'info') client += this.o.clients;
      // Refused or lost: back off (up to 400 ms) rather than fill the history while there is no leader.
      refused = outcome === 'ok' ? 0 : refused + 1;
      await sleep(refused === 0 ? 2 + rng.int(8) : Math.min(400, 25 * 2 ** (refused - 1)));
    }
  }

  private async request(client: number, url: string, input: KvInput): Promise<'ok' | 'fail' | 'info'> {
    const op = this.recorder.invoke(client, input);
    const method = input.f === 'get' ? 'GET' : input.f === 'put' ? 'PUT' : 'DELETE';
    let status: number;
    let text: string;
    try {
      const res = await fetch(url, {
        method,
        signal: AbortSignal.timeout(this.o.timeoutMs),
        ...(input.f === 'put' && { body: input.value }),
      });
      status = res.status;
      text = await res.text();
    } catch (e) {
      const code = (e as { cause?: { code?: string } }).cause?.code;
      if (code === 'ECONNREFUSED') {
        op.fail('connection refused (node down)');
        return 'fail';
      }
      op.info(e instanceof Error ? `${e.name}: ${e.message}${code === undefined ? '' : ` (${code})`}` : String(e));
      return 'info';
    }
    const error = status === 200 ? undefined : (JSON.parse(text) as { error?: string }).error;
    if (status === 200) {
      if (input.f === 'get') op.ok({ value: text });
      else if (input.f === 'put') op.ok({});
      else op.ok({ existed: (JSON.parse(text) as { existed: boolean }).existed });
      return 'ok';
    }
    if (status === 404 && error === 'key_not_found') {
      op.ok({ value: null });
      return 'ok';
    }
    const why = `${status} ${error ?? text}`;
    if (status === 429 || (status === 503 && error !== 'stopped')) {
      op.fail(why);
      return 'fail';
    }
    if (status === 504 || status === 503 || status === 500) {
      op.info(why);
      return 'info';
    }
    op.fail(why);
    throw new Error(`${method} ${url}: unexpected ${why}`);
  }
}

/** Completed (ok) operations called after `since` (a recorder time). */
export function completedSince(recorder: KvRecorder, since: number): number {
  return recorder.history().operations.filter((op) => op.status === 'ok' && op.call >= since).length;
}

/**
 * Checks the run's history and writes it, with the verdict in its header, to
 * integration/.histories/<name>.jsonl; prints the path. Returns the verdict.
 */
export async function checkAndSave(name: string, recorder: KvRecorder, fields: Omit<HeaderFields, 'model'>): Promise<CheckResult<KvInput, KvOutput>> {
  const history = recorder.history();
  const path = join(HISTORY_DIR, `${name}.jsonl`);
  let result: CheckResult<KvInput, KvOutput> | undefined;
  try {
    result = checkLinearizability(kvModel, history.operations, { timeoutMs: 60_000 });
    return result;
  } finally {
    const counts = { ok: 0, fail: 0, info: 0 };
    for (const op of history.operations) counts[op.status]++;
    await writeHistoryFile(
      path,
      {
        model: kvModel.name,
        ...fields,
        operations: counts,
        ...(result !== undefined && { verdict: result.verdict, explanation: result.explanation }),
      },
      history,
    );
    console.log(`${name}: ${history.operations.length} operations (${counts.ok} ok, ${counts.fail} fail, ${counts.info} indeterminate), ${result?.verdict ?? 'not checked'}; history in ${path}`);
  }
}

export interface RunOptions {
  /** Names the history file: <name>.jsonl. */
  name: string;
  /** What the run does, for the history's header. */
  description: string;
  bus: ClusterBus;
  /** Parent of the nodes' data dirs (the caller removes it). */
  dir: string;
  ports: number[];
  tickMs: number;
  logger: Logger;
  seed: number;
  /** Longest wait for the cluster to reach a state (a leader, operations completing). */
  waitMs: number;
  /** The nodes' snapshot policy; the kv node's default when absent. */
  snapshot?: KvNodeOptions['snapshot'];
  /** Where the nodes keep their logs; default file storage in their data dirs. */
  storage?: ClusterStorage;
  /** Nodes on disks that can lose power (KvClusterOptions.powerLoss). */
  powerLoss?: KvClusterOptions['powerLoss'];
  asyncStorageWrites?: boolean;
  /**
   * Injects the faults while the clients run, noting each in the recorder,
   * and returns once the cluster is whole again.
   */
  faults(cluster: KvCluster, recorder: KvRecorder): Promise<void>;
}

export interface RunOutcome {
  result: CheckResult<KvInput, KvOutput>;
  operations: KvOperation[];
  /** Operations that completed (ok) before the faults, and after them. */
  completedBeforeFaults: number;
  completedAfterFaults: number;
  /** Snapshots the nodes made and installed during the run. */
  snapshots: { created: number; installed: number };
}

const PROPOSAL_TIMEOUT_MS = 1_000;
const CLIENT_TIMEOUT_MS = 1_500;
/** Load before the faults, and after them: at least this long, and until MIN_COMPLETED operations completed. */
const LOAD_MS = 1_000;
export const MIN_COMPLETED = 40;
const CLIENTS = 6;
const KEYS = ['a', 'b', 'c', 'd'];

/** Starts the cluster, runs clients through the faults, checks and saves the history. The caller stops nothing: this does. */
export async function runWithFaults(o: RunOptions): Promise<RunOutcome> {
  const clusterId = `lin-${o.name}-${Date.now().toString(36)}-${process.pid}`;
  const cluster = new KvCluster({
    bus: o.bus,
    clusterId,
    dir: o.dir,
    ports: o.ports,
    tickMs: o.tickMs,
    proposalTimeoutMs: PROPOSAL_TIMEOUT_MS,
    logger: o.logger,
    ...(o.snapshot !== undefined && { snapshot: o.snapshot }),
    ...(o.storage !== undefined && { storage: o.storage }),
    ...(o.powerLoss !== undefined && { powerLoss: o.powerLoss }),
    ...(o.asyncStorageWrites !== undefined && { asyncStorageWrites: o.asyncStorageWrites }),
  });
  const startedAt = new Date().toISOString();
  let outcome: Omit<RunOutcome, 'snapshots'>;
  try {
    await cluster.startAll();
    await cluster.leader(o.waitMs);
    const recorder: KvRecorder = new HistoryRecorder();
    recorder.note(`cluster ${clusterId} up: nodes ${cluster.ids.join(', ')} at ${cluster.urls.join(', ')}`);
    const clients = new KvClients(recorder, cluster.urls, { clients: CLIENTS, keys: KEYS, timeoutMs: CLIENT_TIMEOUT_MS, seed: o.seed });
    let faultsAt: number;
    let healedAt: number;
    const load = async (since: number, what: string): Promise<void> => {
      await sleep(LOAD_MS);
      await waitFor(
        () => {
          clients.check();
          return completedSince(recorder, since) >= MIN_COMPLETED;
        },
        o.waitMs,
        `${MIN_COMPLETED} operations to complete ${what}`,
      );
    };
    try {
      await load(0, 'before the faults');
      faultsAt = recorder.now();
      await o.faults(cluster, recorder);
      healedAt = recorder.now();
      recorder.note('faults over');
      await load(healedAt, 'after the faults');
    } finally {
      await clients.stop();
    }
    recorder.note('clients stopped');
    const result = await checkAndSave(o.name, recorder, {
      description: o.description,
      startedAt,
      clusterId,
      nodes: cluster.ids.length,
      clients: CLIENTS,
      keys: KEYS,
      seed: o.seed,
      tickMs: o.tickMs,
      proposalTimeoutMs: PROPOSAL_TIMEOUT_MS,
      clientTimeoutMs: CLIENT_TIMEOUT_MS,
      note: `a client whose request is indeterminate carries on as client id+${CLIENTS}`,
    });
    const completedBeforeFaults = recorder.history().operations.filter((op) => op.status === 'ok' && op.return! < faultsAt).length;
    outcome = { result, operations: recorder.history().operations, completedBeforeFaults, completedAfterFaults: completedSince(recorder, healedAt) };
  } finally {
    await cluster.stopAll();
  }
  // Counted as each node stopped.
  return { ...outcome, snapshots: { ...cluster.snapshots } };
}

/**
 * runWithFaults in a temp dir of its own (removed after), with the warnings
 * of the nodes, transports and storages kept (a broker outage makes them by
 * the hundred) and printed if the test fails; then expectSoundRun.
 */
export async function runAndCheck(o: Omit<RunOptions, 'dir' | 'logger'>): Promise<RunOutcome> {
  const log = new LogTail();
  onTestFailed(() => {
    process.stderr.write(`${o.name}: the last log lines of the nodes, transports and storages:\n${log.text()}\n`);
  });
  const dir = await mkdtemp(join(tmpdir(), `raftbus-it-lin-${o.name}-`));
  try {
    const outcome = await runWithFaults({ ...o, dir, logger: log });
    expectSoundRun(outcome);
    return outcome;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A real history made wrong: the first read that can be turned into a
 * stale one answers the value of a put that an acknowledged later put had
 * already overwritten before the read was called. Values are unique, so no
 * order can explain it. Undefined when the history has no such read.
 */
export function withStaleRead(operations: readonly KvOperation[]): { operations: KvOperation[]; read: KvOperation } | undefined {
  const ok = operations.filter((op) => op.status === 'ok');
  const puts = ok.flatMap((op) => (op.input.f === 'put' ? [{ op, key: op.input.key, value: op.input.value }] : []));
  for (const read of ok) {
    if (read.input.f !== 'get') continue;
    const key = read.input.key;
    for (const overwrite of puts) {
      if (overwrite.key !== key || overwrite.op.return! >= read.call) continue;
      const old = puts.find((p) => p.key === key && p.op.return! < overwrite.op.call && p.value !== read.output?.value);
      if (old === undefined) continue;
      const stale = { ...read, output: { value: old.value } };
      return { operations: operations.map((op) => (op.id === read.id ? stale : op)), read: stale };
    }
  }
  return undefined;
}

/** What every run must show: a linearizable history with enough completed operations before and after the faults, whose stale-read mutation is caught. */
export function expectSoundRun(outcome: RunOutcome): void {
  expect(outcome.result.verdict, outcome.result.explanation).toBe('linearizable');
  expect(outcome.completedBeforeFaults, 'operations completed before the faults').toBeGreaterThanOrEqual(MIN_COMPLETED);
  expect(outcome.completedAfterFaults, 'operations completed after the faults').toBeGreaterThanOrEqual(MIN_COMPLETED);
  // The same history with one read made stale is caught: the verdict above is not the checker saying yes to anything.
  const broken = withStaleRead(outcome.operations);
  expect(broken, 'a read in the history that can be made stale').toBeDefined();
  const result = checkLinearizability(kvModel, broken!.operations, { timeoutMs: 60_000 });
  expect(result.verdict, result.explanation).toBe('not-linearizable');
  expect(result.violation?.partition).toBe(`key ${JSON.stringify(broken!.read.input.key)}`);
}

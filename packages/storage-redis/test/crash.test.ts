// A crash of the client host in the middle of one write (a save, as one
// Ready hands it over, or a createSnapshot): a TCP proxy between RedisStorage
// and Redis passes the first N bytes of the write's commands and then cuts
// both directions (Redis gets a graceful end of stream after those bytes, as
// when the kernel closes the sockets of a dead process; the client never
// sees a reply). Cut before, inside and around the end of every command of
// the write, a new RedisStorage on the same keys must find the write either
// entirely there or not at all: there exactly when its EXEC reached Redis.
// Acknowledged saves before it are always there, also after Redis itself is
// then killed and restarted on its append-only file.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discardLogger, newConfState, newEntry, newHardState, type Entry, type PersistBatch, type Storage } from '@raftbus/core';
import { redisServerBinary, startPrivateRedis, storageView as view, type PrivateServer } from '@raftbus/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStorage } from '../src/index.js';

const canSpawn = redisServerBinary() !== undefined;
const note = canSpawn ? '' : ' (skipped: needs a redis-server binary the test can start and kill; install redis-server)';

/**
 * Forwards connections to Redis. Once armed with N, it forwards N more bytes
 * from client to server, then ends the server side after them, destroys the
 * client side without passing on any reply, and refuses connections until
 * healed. It also records what clients send, to find the save's commands.
 */
class CuttingProxy {
  private budget: number | undefined;
  private cut = false;
  private readonly sockets = new Set<Socket>();
  recorded: Buffer[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(targetPort: number): Promise<CuttingProxy> {
    const server = createServer();
    const proxy: CuttingProxy = await new Promise((resolve) => {
      server.listen(0, '127.0.0.1', () => {
        resolve(new CuttingProxy(server, `redis://127.0.0.1:${(server.address() as AddressInfo).port}`));
      });
    });
    server.on('connection', (client) => proxy.accept(client, targetPort));
    return proxy;
  }

  /** Forwards `bytes` more bytes from clients, then cuts. */
  arm(bytes: number): void {
    this.budget = bytes;
    this.recorded = [];
  }

  heal(): void {
    this.budget = undefined;
    this.cut = false;
  }

  get isCut(): boolean {
    return this.cut;
  }

  private accept(client: Socket, targetPort: number): void {
    if (this.cut) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {});
    }
    upstream.on('data', (reply) => {
      if (!this.cut) client.write(reply);
    });
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.on('data', (chunk: Buffer) => {
      if (this.cut) return;
      this.recorded.push(Buffer.from(chunk));
      if (this.budget === undefined) {
        upstream.write(chunk);
        return;
      }
      const pass = chunk.subarray(0, this.budget);
      this.budget -= pass.length;
      if (this.budget > 0) {
        upstream.write(pass);
        return;
      }
      // The host dies: what was sent reaches Redis, then the end of the stream.
      this.cut = true;
      upstream.end(pass);
      client.destroy();
    });
    // A cut armed with 0 bytes strikes before anything is sent.
    if (this.budget === 0) {
      this.cut = true;
      upstream.end();
      client.destroy();
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Each command of a RESP request stream: its name and where it ends (the offset after its last byte). */
function commands(stream: Buffer): { name: string; end: number }[] {
  const out: { name: string; end: number }[] = [];
  let at = 0;
  const line = () => {
    const nl = stream.indexOf('\r\n', at);
    if (nl < 0) throw new Error(`unterminated RESP line at ${at}`);
    const text = stream.toString('latin1', at, nl);
    at = nl + 2;
    return text;
  };
  while (at < stream.length) {
    const head = line();
    if (!head.startsWith('*')) throw new Error(`not a RESP array at ${at}: ${head}`);
    let name = '';
    for (let k = Number(head.slice(1)); k > 0; k--) {
      const len = Number(line().slice(1));
      if (name === '') name = stream.toString('latin1', at, at + len).toUpperCase();
      at += len + 2;
    }
    out.push({ name, end: at });
  }
  return out;
}


const text = new TextEncoder();
const entry = (index: number, term: number): Entry => newEntry({ index, term, data: text.encode(`entry ${index} of term ${term}`) });
const cs = newConfState({ voters: [1, 2, 3] });

/** Saves acknowledged before the crash. */
const BEFORE: PersistBatch[] = [
  { entries: [1, 2, 3, 4, 5].map((i) => entry(i, 1)), hardState: newHardState({ term: 1, vote: 1, commit: 3 }) },
  { entries: [entry(6, 1)], hardState: newHardState({ term: 1, vote: 1, commit: 4 }) },
];

const save = (batch: PersistBatch) => (s: RedisStorage) => s.save(batch);

/** The write the crash strikes: each a different set of commands. */
const CRASHED: [string, (s: RedisStorage) => Promise<unknown>][] = [
  [
    'a save of entries replacing a conflicting suffix, and a hard state',
    save({ entries: [entry(5, 2), entry(6, 2), entry(7, 2)], hardState: newHardState({ term: 2, vote: 2, commit: 5 }) }),
  ],
  [
    'a save of a snapshot from the leader, entries after it, and a hard state',
    save({
      snapshot: { data: text.encode('leader state at 20 '.repeat(10)), metadata: { index: 20, term: 3, confState: cs } },
      entries: [entry(21, 3), entry(22, 3)],
      hardState: newHardState({ term: 3, vote: 0, commit: 20 }),
    }),
  ],
  ['createSnapshot', (s) => s.createSnapshot(4, cs, text.encode('state machine at 4 '.repeat(10)))],
];

describe.skipIf(!canSpawn)(`a crash between the commands of one save${note}`, () => {
  let redis: PrivateServer;
  let dir: string;
  let proxy: CuttingProxy;
  const stores: RedisStorage[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftbus-storage-redis-crash-'));
    redis = await startPrivateRedis(['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]);
    proxy = await CuttingProxy.start(redis.port);
  });

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close().catch(() => {})));
    await proxy?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const store = (url: string, nodeId: number) => {
    const s = new RedisStorage({ url, clusterId: 'crash', nodeId, logger: discardLogger });
    stores.push(s);
    return s;
  };

  /** What a new store on node `nodeId`'s keys reads, straight from Redis. */
  async function reopened(nodeId: number): Promise<unknown> {
    const s = store(redis.url, nodeId);
    await s.open();
    const v = view(s);
    await s.close();
    return v;
  }

  it.each(CRASHED.map(([name, write], k) => [name, write, k] as const))(
    '%s: all or nothing, and nothing acknowledged is lost',
    async (_name, crashed, k) => {
      let nodeId = 100 * (k + 1);
      // The reference: the states before and after the save, with no crash.
      const ref = store(redis.url, nodeId);
      await ref.open();
      for (const b of BEFORE) await ref.save(b);
      await ref.close();
      const before = await reopened(nodeId);
      const r2 = store(redis.url, nodeId);
      await r2.open();
      await crashed(r2);
      await r2.close();
      const after = await reopened(nodeId);
      expect(after).not.toEqual(before);

      // The bytes of the save as sent, with no cut, and where its commands end.
      nodeId++;
      const probe = store(proxy.url, nodeId);
      await probe.open();
      for (const b of BEFORE) await probe.save(b);
      proxy.arm(Number.MAX_SAFE_INTEGER);
      await crashed(probe);
      const stream = Buffer.concat(proxy.recorded);
      proxy.heal();
      await probe.close();
      const cmds = commands(stream);
      expect(cmds.at(-1)!.end).toBe(stream.length);
      const total = stream.length;
      const ends = cmds.map((c) => c.end);
      // The write lands with its (last) EXEC: what comes after is cleanup, if anything.
      const execs = cmds.filter((c) => c.name === 'EXEC');
      expect(execs.length).toBeGreaterThan(0);
      const landsAt = execs.at(-1)!.end;

      // Cuts: before anything, around the end of every command, inside each one.
      const cuts = new Set<number>([0, 1]);
      let start = 0;
      for (const end of ends) {
        for (const c of [end - 1, end, end + 1, (start + end) >> 1]) if (c >= 0 && c <= total) cuts.add(c);
        start = end;
      }
      const outcomes = new Map<number, { nodeId: number; applied: boolean }>();
      for (const cut of [...cuts].sort((a, b) => a - b)) {
        nodeId++;
        const s = store(proxy.url, nodeId);
        await s.open();
        for (const b of BEFORE) await s.save(b);
        proxy.arm(cut);
        const pending = crashed(s).then(
          () => 'acknowledged',
          () => 'rejected',
        );
        // The store retries a lost connection; the proxy refuses it: the host is dead.
        while (!proxy.isCut) await new Promise((r) => setTimeout(r, 5));
        await s.close();
        const settled = await pending;
        proxy.heal();
        const applied = cut >= landsAt;
        const got = await reopened(nodeId);
        expect(got, `cut after ${cut} of ${total} bytes`).toEqual(applied ? after : before);
        // The reply was lost with the connection: never acknowledged, even when it landed.
        expect(settled, `cut after ${cut} of ${total} bytes`).toBe('rejected');
        outcomes.set(cut, { nodeId, applied });
      }
      expect(outcomes.size).toBeGreaterThan(10);
      expect([...outcomes.values()].some((o) => o.applied)).toBe(true);

      // Redis itself crashes now: what it acknowledged to anyone is on disk.
      await redis.kill();
      await redis.restart();
      for (const [cut, o] of outcomes) {
        expect(await reopened(o.nodeId), `after a Redis restart, cut after ${cut}`).toEqual(o.applied ? after : before);
      }
    },
    60_000,
  );
});

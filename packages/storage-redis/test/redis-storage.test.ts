// What RedisStorage promises beyond the conformance suite: it refuses a
// Redis that does not fsync, writes each save as one MULTI/EXEC, keeps every
// acknowledged write across a crash of Redis, waits out an outage, and
// refuses corrupt data. Each test starts its own redis-server.
import { discardLogger, newConfState, newEntry, newHardState, type Entry } from '@raftbus/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { redisServerBinary, startPrivateRedis, type PrivateServer } from '@raftbus/testkit';
import { ErrCorruptStorage, ErrNotDurable, ErrStorageFailed, RedisStorage, storageKeys, type RedisStorageOptions } from '../src/index.js';

const canSpawn = (redisServerBinary() !== undefined);
const note = canSpawn ? '' : ' (skipped: needs a redis-server binary the test can start and kill; install redis-server)';

const DURABLE = ['--appendonly', 'yes', '--appendfsync', 'always'];

let servers: PrivateServer[] = [];
let dirs: string[] = [];
let stores: RedisStorage[] = [];
let clients: Redis[] = [];

afterEach(async () => {
  await Promise.all(stores.map((s) => s.close()));
  for (const c of clients) c.disconnect();
  await Promise.all(servers.map((s) => s.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  servers = [];
  dirs = [];
  stores = [];
  clients = [];
});

async function server(args: string[] = []): Promise<PrivateServer> {
  const dir = mkdtempSync(join(tmpdir(), 'raftbus-storage-redis-'));
  dirs.push(dir);
  const s = await startPrivateRedis([...args, '--dir', dir]);
  servers.push(s);
  return s;
}

function storage(options: RedisStorageOptions): RedisStorage {
  const s = new RedisStorage({ logger: discardLogger, ...options } as RedisStorageOptions);
  stores.push(s);
  return s;
}

function client(url: string): Redis {
  const c = new Redis(url);
  c.on('error', () => {});
  clients.push(c);
  return c;
}

const bytes = (s: string) => new TextEncoder().encode(s);
const entry = (index: number, term: number): Entry => newEntry({ index, term, data: bytes(`entry ${index}`) });

describe.skipIf(!canSpawn)(`RedisStorage${note}`, () => {
  it('refuses a Redis without appendonly yes + appendfsync always (ErrNotDurable), unless told to accept it', async () => {
    const s = await server();
    const admin = client(s.url);
    const refused = storage({ url: s.url, clusterId: 'c', nodeId: 1 });
    const error = await refused.open().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ErrNotDurable);
    expect(error).toMatchObject({ name: 'ErrNotDurable', appendonly: 'no' });

    await admin.config('SET', 'appendonly', 'yes');
    await admin.config('SET', 'appendfsync', 'everysec');
    const everysec = await storage({ url: s.url, clusterId: 'c', nodeId: 1 })
      .open()
      .catch((e: unknown) => e);
    expect(everysec).toMatchObject({ name: 'ErrNotDurable', appendonly: 'yes', appendfsync: 'everysec' });

    const weak = storage({ url: s.url, clusterId: 'c', nodeId: 1, acceptWeakDurability: true });
    await weak.open();
    expect(weak.capabilities.durable).toBe(false);
    await weak.save({ entries: [entry(1, 1)] });
    expect(weak.lastIndex()).toBe(1);

    await admin.config('SET', 'appendfsync', 'always');
    const durable = storage({ url: s.url, clusterId: 'c', nodeId: 2 });
    await durable.open();
    expect(durable.capabilities.durable).toBe(true);
  });

  it('refuses a Redis that will not say how it persists (CONFIG not permitted), unless told to accept it', async () => {
    const s = await server([...DURABLE, '--user', 'app', 'on', '>apppw', '~*', '+@all', '-config']);
    const options = { url: s.url, redis: { username: 'app', password: 'apppw' }, clusterId: 'c', nodeId: 1 };
    const error = await storage(options)
      .open()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ErrNotDurable);
    expect(String(error)).toMatch(/CONFIG GET was refused/);
    const weak = storage({ ...options, acceptWeakDurability: true });
    await weak.open();
    expect(weak.capabilities.durable).toBe(false);
  });

  it('open() rejects with the connection error when Redis cannot be reached', async () => {
    const s = await server();
    await s.stop();
    await expect(storage({ url: s.url, clusterId: 'c', nodeId: 1 }).open()).rejects.toThrow(/ECONNREFUSED/);
  });

  it('writes each save as one MULTI/EXEC under the node keys', async () => {
    const s = await server(DURABLE);
    const st = storage({ url: s.url, clusterId: 'payments', nodeId: 3 });
    await st.open();
    const monitor = await client(s.url).monitor();
    const seen: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => seen.push(args));
    await st.save({ entries: [entry(1, 1), entry(2, 1)], hardState: newHardState({ term: 1, vote: 3, commit: 1 }) });
    await new Promise((r) => setTimeout(r, 50));
    monitor.disconnect();
    const keys = storageKeys('payments', 3);
    expect(keys).toEqual({
      log: 'raftbus:{payments}:node:3:log',
      hardState: 'raftbus:{payments}:node:3:hardstate',
      snapshot: 'raftbus:{payments}:node:3:snapshot',
    });
    expect(seen.map((args) => args.slice(0, 2).join(' ').toLowerCase())).toEqual([
      'multi',
      `zremrangebyscore ${keys.log}`,
      `zadd ${keys.log}`,
      `set ${keys.hardState}`,
      'exec',
    ]);
  });

  it('keeps every acknowledged save across a crash of Redis (SIGKILL, restart on the same AOF)', async () => {
    const s = await server(DURABLE);
    const options = { url: s.url, clusterId: 'crash', nodeId: 1 };
    const st = storage(options);
    await st.open();
    // Saves issued without waiting, as a busy host would; Redis is killed mid-stream.
    const acked: number[] = [];
    const saves: Promise<void>[] = [];
    let index = 0;
    const writer = setInterval(() => {
      for (let k = 0; k < 5; k++) {
        const i = ++index;
        saves.push(
          st.save({ entries: [entry(i, 1)], hardState: newHardState({ term: 1, vote: 1, commit: i }) }).then(
            () => void acked.push(i),
            () => {},
          ),
        );
      }
    }, 1);
    await new Promise((r) => setTimeout(r, 300));
    await s.kill();
    clearInterval(writer);
    const ackedAtCrash = [...acked];
    expect(ackedAtCrash.length).toBeGreaterThan(10);
    // The old store gives up its queued writes (close() does not wait out an outage).
    await st.close();
    await Promise.all(saves);

    await s.restart();
    const reopened = storage(options);
    await reopened.open();
    const last = Math.max(...ackedAtCrash);
    expect(reopened.lastIndex()).toBeGreaterThanOrEqual(last);
    expect(reopened.entries(1, last + 1, Infinity)).toEqual(Array.from({ length: last }, (_, k) => entry(k + 1, 1)));
    expect(reopened.initialState().hardState.commit).toBeGreaterThanOrEqual(last);
  });

  it('a save made while Redis is down waits, and lands once Redis is back', async () => {
    const s = await server(DURABLE);
    const options = { url: s.url, clusterId: 'outage', nodeId: 1 };
    const st = storage(options);
    await st.open();
    await st.save({ entries: [entry(1, 1)] });
    await s.kill();
    let done = false;
    const pending = st.save({ entries: [entry(2, 1)], hardState: newHardState({ term: 1, commit: 2 }) }).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false);
    expect(st.lastIndex()).toBe(1); // not acknowledged, not readable
    await s.restart();
    await pending;
    expect(st.lastIndex()).toBe(2);
    await st.close();
    const reopened = storage(options);
    await reopened.open();
    expect(reopened.entries(1, 3, Infinity)).toEqual([entry(1, 1), entry(2, 1)]);
  });

  it('stopRetrying() ends a save waiting for Redis: it rejects at once, later saves too, and close() does not wait for Redis', async () => {
    const s = await server(DURABLE);
    const options = { url: s.url, clusterId: 'outage-stop', nodeId: 1 };
    const st = storage(options);
    await st.open();
    await st.save({ entries: [entry(1, 1)] });
    await s.kill();
    const waiting = st.save({ entries: [entry(2, 1)] });
    const outcome = waiting.then(
      () => 'saved',
      (e: unknown) => e,
    );
    // Long enough to be in its back-off between retries (50 ms, then 100).
    await new Promise((r) => setTimeout(r, 120));
    st.stopRetrying();
    // Redis stays down until after close(): without stopRetrying() this would wait for it.
    const error = await outcome;
    expect(error).toBeInstanceOf(ErrStorageFailed);
    expect(st.lastIndex()).toBe(1); // the given-up save was never acknowledged, and is not readable
    await expect(st.save({ entries: [entry(2, 1)] })).rejects.toBeInstanceOf(ErrStorageFailed);
    await st.close();
    // What Redis acknowledged before the outage is all there is.
    await s.restart();
    const reopened = storage(options);
    await reopened.open();
    expect(reopened.lastIndex()).toBe(1);
    expect(reopened.entries(1, 2, Infinity)).toEqual([entry(1, 1)]);
  });

  it('after stopRetrying(), saves that Redis answers still land', async () => {
    const s = await server(DURABLE);
    const options = { url: s.url, clusterId: 'stop-retrying-healthy', nodeId: 1 };
    const st = storage(options);
    await st.open();
    st.stopRetrying();
    await st.save({ entries: [entry(1, 1), entry(2, 1)], hardState: newHardState({ term: 1, commit: 2 }) });
    await st.close();
    const reopened = storage(options);
    await reopened.open();
    expect(reopened.entries(1, 3, Infinity)).toEqual([entry(1, 1), entry(2, 1)]);
  });

  it("uses the caller's client and never closes it", async () => {
    const s = await server(DURABLE);
    const mine = client(s.url);
    const st = storage({ client: mine, clusterId: 'own', nodeId: 1 });
    await st.open();
    await st.save({ entries: [entry(1, 1)] });
    await st.createSnapshot(1, newConfState({ voters: [1] }), bytes('state'));
    await st.close();
    expect(await mine.ping()).toBe('PONG');
  });

  it('refuses corrupt or incomplete data with ErrCorruptStorage', async () => {
    const s = await server(DURABLE);
    const admin = client(s.url);
    const keys = storageKeys('bad', 1);
    await admin.set(keys.snapshot, Buffer.from([0xff, 0xff, 0xff]));
    await expect(storage({ url: s.url, clusterId: 'bad', nodeId: 1 }).open()).rejects.toBeInstanceOf(ErrCorruptStorage);

    // A hole in the log: entries 1 and 3, no 2.
    const st = storage({ url: s.url, clusterId: 'holes', nodeId: 1 });
    await st.open();
    await st.save({ entries: [entry(1, 1), entry(2, 1), entry(3, 1)] });
    await st.close();
    await admin.zremrangebyscore(storageKeys('holes', 1).log, 2, 2);
    const error = await storage({ url: s.url, clusterId: 'holes', nodeId: 1 })
      .open()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ErrCorruptStorage);
    expect(String(error)).toMatch(/entry 2 is missing/);
  });
});

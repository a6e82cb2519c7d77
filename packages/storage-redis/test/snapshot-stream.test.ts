// RedisStorage's snapshots in pieces: a streamed snapshot's data is written
// piece by piece into its own hash and made the newest atomically with its
// metadata; what an interrupted or failed stream leaves is cleaned up; a
// large snapshot stays in Redis only, loaded for raft on demand; a snapshot
// stored inline by an older version is still read. One redis-server for the
// file, each test under its own cluster id.
import {
  ErrSnapshotTemporarilyUnavailable,
  SNAPSHOT_CHUNK_BYTES,
  discardLogger,
  encodeSnapshot,
  newConfState,
  newEntry,
  newHardState,
  type Snapshot,
} from '@raftbus/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisServerBinary, startPrivateRedis, type PrivateServer } from '@raftbus/testkit';
import { RedisStorage, storageKeys, type RedisStorage as Store } from '../src/index.js';

const canSpawn = redisServerBinary() !== undefined;
const note = canSpawn ? '' : ' (skipped: needs a redis-server binary; install redis-server)';

let server: PrivateServer;
let dir: string;
let admin: Redis;
let stores: Store[] = [];
let seq = 0;

describe.skipIf(!canSpawn)(`RedisStorage snapshots in pieces${note}`, () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftbus-storage-redis-snap-'));
    server = await startPrivateRedis(['--dir', dir]);
    admin = new Redis(server.url);
    admin.on('error', () => {});
  });
  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await Promise.all(stores.map((s) => s.close()));
    stores = [];
  });

  const cs = newConfState({ voters: [1, 2, 3] });
  const newCluster = () => `snap-${process.pid}-${++seq}`;

  async function open(clusterId: string, residentSnapshotBytes?: number): Promise<Store> {
    const s = new RedisStorage({
      url: server.url,
      clusterId,
      nodeId: 1,
      acceptWeakDurability: true,
      logger: discardLogger,
      ...(residentSnapshotBytes !== undefined && { residentSnapshotBytes }),
    });
    stores.push(s);
    await s.open();
    return s;
  }

  async function withLog(clusterId: string, residentSnapshotBytes?: number): Promise<Store> {
    const s = await open(clusterId, residentSnapshotBytes);
    await s.save({
      entries: [1, 2, 3, 4, 5].map((index) => newEntry({ index, term: 1 })),
      hardState: newHardState({ term: 1, vote: 1, commit: 5 }),
    });
    return s;
  }

  function pattern(length: number, seed: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = (i * 17 + seed + (i >>> 9)) % 241;
    return out;
  }

  async function* chunks(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
    for (let at = 0; at < data.length; at += size) yield data.subarray(at, Math.min(at + size, data.length));
  }

  async function readAll(s: Store): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for await (const c of s.readSnapshotChunks()) parts.push(new Uint8Array(c));
    return new Uint8Array(Buffer.concat(parts));
  }

  const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
  const dataKey = (clusterId: string, index: number) => `${storageKeys(clusterId, 1).snapshot}:${index}`;
  const stagedKey = (clusterId: string) => `${storageKeys(clusterId, 1).snapshot}:staged`;

  it('stores a streamed snapshot as 1 MiB pieces in its own hash, and drops the previous one', async () => {
    const id = newCluster();
    const s = await withLog(id);
    const first = pattern(1000, 1);
    await s.createSnapshot(2, cs, chunks(first, 64));
    const data = pattern(2 * SNAPSHOT_CHUNK_BYTES + 5, 2);
    await s.createSnapshot(4, cs, chunks(data, 30_000));

    const hash = await admin.hgetallBuffer(dataKey(id, 4));
    expect(String(hash.pieces)).toBe('3');
    expect(String(hash.bytes)).toBe(String(data.length));
    expect([0, 1, 2].map((k) => hash[String(k)]!.length)).toEqual([SNAPSHOT_CHUNK_BYTES, SNAPSHOT_CHUNK_BYTES, 5]);
    expect(same(Buffer.concat([0, 1, 2].map((k) => hash[String(k)]!)), data)).toBe(true);
    expect(await admin.exists(dataKey(id, 2))).toBe(0);
    expect(await admin.scard(stagedKey(id))).toBe(0);
    expect(same(await readAll(s), data)).toBe(true);
  });

  it('a failing producer leaves no pieces; an interrupted write is cleaned up on open', async () => {
    const id = newCluster();
    const s = await withLog(id);
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield pattern(SNAPSHOT_CHUNK_BYTES + 1, 3);
      throw new Error('producer broke');
    }
    await expect(s.createSnapshot(3, cs, failing())).rejects.toThrow('producer broke');
    expect(await admin.exists(dataKey(id, 3))).toBe(0);
    expect(await admin.scard(stagedKey(id))).toBe(0);
    await s.createSnapshot(3, cs, chunks(pattern(10, 4), 3));
    await s.close();

    // As a crash mid-stream leaves it: the hash of a snapshot never made the newest, listed as staged.
    await admin.sadd(stagedKey(id), '5');
    await admin.hset(dataKey(id, 5), '0', Buffer.from('half a snapshot'));
    const again = await open(id);
    expect(await admin.exists(dataKey(id, 5))).toBe(0);
    expect(await admin.scard(stagedKey(id))).toBe(0);
    expect(same(await readAll(again), pattern(10, 4))).toBe(true);
  });

  it('a snapshot larger than residentSnapshotBytes stays in Redis: snapshot() loads it when asked, also after a reopen', async () => {
    const id = newCluster();
    const s = await withLog(id, 100);
    const data = pattern(SNAPSHOT_CHUNK_BYTES + 77, 5);
    await s.createSnapshot(3, cs, chunks(data, 50_000));
    expect(() => s.snapshot()).toThrow(ErrSnapshotTemporarilyUnavailable);
    const loaded = await askUntilLoaded(s);
    expect(loaded.metadata).toEqual({ index: 3, term: 1, confState: cs });
    expect(same(loaded.data, data)).toBe(true);
    await s.close();

    const again = await open(id, 100);
    expect(() => again.snapshot()).toThrow(ErrSnapshotTemporarilyUnavailable);
    expect(same(await readAll(again), data)).toBe(true);
    expect(same((await askUntilLoaded(again)).data, data)).toBe(true);
    // A small one is kept in memory.
    await again.createSnapshot(4, cs, chunks(pattern(100, 6), 7));
    expect(same(again.snapshot().data, pattern(100, 6))).toBe(true);
  });

  it('reads a snapshot stored inline by an older version, and replaces it with pieces', async () => {
    const id = newCluster();
    const keys = storageKeys(id, 1);
    const inline: Snapshot = { data: pattern(3000, 7), metadata: { index: 9, term: 2, confState: cs } };
    await admin.set(keys.snapshot, Buffer.from(encodeSnapshot(inline)));
    await admin.set(keys.hardState, Buffer.from([]));
    const s = await open(id);
    expect(s.snapshot().metadata).toEqual(inline.metadata);
    expect(same(s.snapshot().data, inline.data)).toBe(true);
    expect(same(await readAll(s), inline.data)).toBe(true);
    await s.save({ entries: [newEntry({ index: 10, term: 2 })], hardState: newHardState({ term: 2, commit: 10 }) });
    await s.createSnapshot(10, cs, chunks(pattern(500, 8), 100));
    await s.close();
    const again = await open(id);
    expect(same(await readAll(again), pattern(500, 8))).toBe(true);
    expect(await admin.hget(dataKey(id, 10), 'pieces')).toBe('1');
  });
});

async function askUntilLoaded(s: Store): Promise<Snapshot> {
  for (let tries = 0; tries < 1000; tries++) {
    try {
      return s.snapshot();
    } catch (e) {
      if (!(e instanceof ErrSnapshotTemporarilyUnavailable)) throw e;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  throw new Error('snapshot() never became available');
}

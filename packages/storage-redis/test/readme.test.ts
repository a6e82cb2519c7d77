// The README's snippet, as a test, on a redis-server started with appendfsync always.
import { newEntry, newHardState } from '@raftbus/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { redisServerBinary, startPrivateRedis } from '@raftbus/testkit';
import { RedisStorage } from '../src/index.js';

it.skipIf(!(redisServerBinary() !== undefined))('runs the README example', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raftbus-storage-redis-'));
  const server = await startPrivateRedis(['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]);
  const process = { env: { REDIS_URL: server.url } };
  const log: unknown[] = [];
  const console = { log: (v: unknown) => log.push(v) };
  try {
    const storage = new RedisStorage({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', clusterId: 'payments', nodeId: 1 });
    await storage.open(); // ErrNotDurable unless Redis runs with appendonly yes + appendfsync always
    await storage.save({
      entries: [newEntry({ index: 1, term: 1, data: new TextEncoder().encode('x=1') })],
      hardState: newHardState({ term: 1, vote: 1, commit: 1 }),
    });
    console.log(storage.lastIndex()); // 1
    await storage.close();
    expect(log).toEqual([1]);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

// The storage suite twice: against a Redis that fsyncs every write (durable),
// and against one that does not, opened with acceptWeakDurability (state
// survives close and reopen, not a crash of Redis).
import { deleteClusterKeys, findRedis, redisServerBinary, startPrivateRedis, storageConformance, whyNo, type PrivateServer, type ServerHandle } from '@raftbus/testkit';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe } from 'vitest';
import { RedisStorage, isDurable, readDurabilityConfig } from '../src/index.js';

let seq = 0;
const clusterId = () => `st-${Date.now().toString(36)}-${process.pid}-${++seq}`;

// A durable Redis: one this test starts with the append-only file fsynced on every write.
describe.skipIf(!(redisServerBinary() !== undefined))(
  `RedisStorage on appendfsync always${(redisServerBinary() !== undefined) ? '' : ' (skipped: needs a redis-server binary to start with --appendonly yes --appendfsync always; install redis-server)'}`,
  () => {
    let server: PrivateServer;
    let dir: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'raftbus-storage-redis-'));
      server = await startPrivateRedis(['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]);
    });
    afterAll(async () => {
      await server?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });
    storageConformance(
      'RedisStorage (appendfsync always)',
      async () => {
        const id = clusterId();
        const make = () => new RedisStorage({ url: server.url, clusterId: id, nodeId: 1 });
        return { storage: make(), reopen: async () => make() };
      },
      { durable: true },
    );
  },
);

// The Redis the tests are given (RAFTBUS_REDIS_URL), or a plain local one
// (not durable: no append-only file), opened with acceptWeakDurability.
// A given Redis is asked here whether it is durable; the suite asserts what
// it says.
const noRedis = whyNo('redis');
const givenUrl = process.env.RAFTBUS_REDIS_URL;
const givenIsDurable = givenUrl ? await probeDurable(givenUrl) : false;

describe.skipIf(noRedis !== undefined)(`RedisStorage on the test Redis${noRedis ? ` (skipped: ${noRedis})` : ''}`, () => {
  let service: ServerHandle;
  const used: string[] = [];
  beforeAll(async () => {
    service = await findRedis();
  });
  afterAll(async () => {
    if (service === undefined) return;
    await deleteClusterKeys(() => new Redis(service.url), used);
    await service.stop();
  });
  storageConformance(
    `RedisStorage (acceptWeakDurability, ${givenIsDurable ? 'durable' : 'not durable'} Redis)`,
    async () => {
      const id = clusterId();
      used.push(id);
      const make = () => new RedisStorage({ url: service.url, clusterId: id, nodeId: 1, acceptWeakDurability: true });
      return { storage: make(), reopen: async () => make() };
    },
    { durable: givenIsDurable, persistent: true },
  );
});

async function probeDurable(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return isDurable(await readDurabilityConfig(probe));
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

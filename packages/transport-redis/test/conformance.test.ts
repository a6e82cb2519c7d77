import { deleteClusterKeys, findRedis, transportConformance, whyNo, type ServerHandle } from '@raftbus/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe } from 'vitest';
import { RedisTransport } from '../src/index.js';

const noRedis = whyNo('redis');

describe.skipIf(noRedis !== undefined)(`RedisTransport${noRedis ? ` (skipped: ${noRedis})` : ''}`, () => {
  let redis: ServerHandle;
  beforeAll(async () => {
    redis = await findRedis();
  });
  afterAll(() => redis?.stop());

  transportConformance(
    'RedisTransport',
    async () => {
      const clusters = new Set<string>();
      return {
        transport(_nodeId, clusterId) {
          clusters.add(clusterId);
          return new RedisTransport({ url: redis.url });
        },
        cleanup: () => deleteClusterKeys(() => new Redis(redis.url), clusters),
      };
    },
    { oversized: 'split' },
  );
});

import { transportConformance } from '@raftbus/testkit';
import { afterAll, beforeAll, describe } from 'vitest';
import { RedisTransport } from '../src/index.js';
import { deleteClusterKeys, findRedis, whyNoRedis, type RedisService } from './redis-server.js';

const noRedis = whyNoRedis();

describe.skipIf(noRedis !== undefined)(`RedisTransport${noRedis ? ` (skipped: ${noRedis})` : ''}`, () => {
  let redis: RedisService;
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
        cleanup: () => deleteClusterKeys(redis.url, clusters),
      };
    },
    { oversized: 'split' },
  );
});

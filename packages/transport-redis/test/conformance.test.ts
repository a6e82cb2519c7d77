import { findRedis, transportConformance, whyNo, type ServerHandle } from '@raftbus/testkit';
import { afterAll, beforeAll, describe } from 'vitest';
import { RedisTransport } from '../src/index.js';
import { deleteClusterKeys } from './redis-server.js';

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
        cleanup: () => deleteClusterKeys(redis.url, clusters),
      };
    },
    { oversized: 'split' },
  );
});

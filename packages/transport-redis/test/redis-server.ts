// Cleanup for tests that share a Redis (RAFTBUS_REDIS_URL): finding or
// starting the server is @raftbus/testkit's findRedis()/startPrivateRedis();
// this needs a Redis client, which testkit does not depend on.
import { Redis } from 'ioredis';

/** Deletes the keys of the given raft clusters (raftbus:{<id>}:*), so tests leave a shared Redis as they found it. */
export async function deleteClusterKeys(url: string, clusterIds: Iterable<string>): Promise<void> {
  const admin = new Redis(url);
  try {
    for (const id of clusterIds) {
      let cursor = '0';
      do {
        const [next, keys] = await admin.scan(cursor, 'MATCH', `raftbus:{${id}}:*`, 'COUNT', 1000);
        if (keys.length > 0) await admin.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
  } finally {
    admin.disconnect();
  }
}

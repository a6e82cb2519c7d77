// Cleanup for tests that share a Redis (RAFTBUS_REDIS_URL). Everything the
// Redis transport and the Redis storage write for a raft cluster is under
// raftbus:{<cluster id>}:. testkit depends on no Redis client: the caller
// hands it a way to open one (ioredis's `new Redis(url)` fits).

/** What deleteClusterKeys needs of a Redis client. */
export interface RedisKeyClient {
  scan(cursor: string, match: 'MATCH', pattern: string, count: 'COUNT', n: number): Promise<[string, string[]]>;
  del(...keys: string[]): Promise<number>;
  disconnect(): void;
}

/** Deletes the keys of the given raft clusters, so tests leave a shared Redis as they found it. */
export async function deleteClusterKeys(connect: () => RedisKeyClient, clusterIds: Iterable<string>): Promise<void> {
  const client = connect();
  try {
    for (const id of clusterIds) {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `raftbus:{${id}}:*`, 'COUNT', 1000);
        if (keys.length > 0) await client.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
  } finally {
    client.disconnect();
  }
}

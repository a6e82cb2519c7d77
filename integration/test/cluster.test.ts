// The cluster conformance suite (elections, replication, failover,
// partitions, restarts from storage, snapshots, membership, linearizable
// reads) over every transport and every storage: real raft clusters of
// RaftNodes on the memory bus, Redis, NATS and Kafka, each with
// InMemoryStorage and with FileStorage in a temp dir, and on Redis also with
// RedisStorage in the same Redis.
//
// Faults: the memory bus has its own (partition/heal); on the real buses
// the suite cuts the network itself, by filtering what each node's
// transport sends and delivers.
//
// Every combination runs (9 suites of 8 tests, about a minute in all with
// the servers running). Kafka is the slow one: every node start creates a
// topic and joins a consumer group, so a Kafka suite takes about twice as
// long as a Redis one; should that grow, drop Kafka + InMemoryStorage first
// (the storage half of the matrix is covered on the other buses).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discardLogger, type DurableStorage } from '@raftbus/core';
import { FileStorage } from '@raftbus/storage-file';
import { InMemoryStorage } from '@raftbus/storage-memory';
import { RedisStorage } from '@raftbus/storage-redis';
import { clusterConformance, deleteClusterKeys, type ClusterConformanceOptions, type ClusterHarness } from '@raftbus/testkit';
import { MemoryBus, MemoryTransport } from '@raftbus/transport-memory';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe } from 'vitest';
import { busTransport, Footprint } from './buses.js';
import { findService, SERVICE_TIMEOUT_MS, type Bus, type Service } from './services.js';

const STORAGES = ['InMemoryStorage', 'FileStorage'] as const;
type StorageKind = (typeof STORAGES)[number];

/** One incarnation's store for each node: the same InMemoryStorage again, or a new FileStorage on the node's directory. */
async function storageFactory(kind: StorageKind): Promise<{ storage(id: number): DurableStorage; cleanup(): Promise<void> }> {
  if (kind === 'InMemoryStorage') {
    const stores = new Map<number, InMemoryStorage>();
    return {
      storage(id) {
        let store = stores.get(id);
        if (store === undefined) stores.set(id, (store = new InMemoryStorage()));
        return store;
      },
      cleanup: async () => {},
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'raftbus-it-cluster-'));
  return {
    storage: (id) => new FileStorage({ dir: join(dir, `node-${id}`), logger: discardLogger }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The suite's pace on each bus. Kafka's round trips are slower, so its ticks are longer. */
const OPTIONS: Record<'memory' | Bus, ClusterConformanceOptions> = {
  memory: {},
  redis: {},
  nats: {},
  kafka: { tickMs: 25, timeoutMs: 30_000 },
};

describe('memory bus', () => {
  for (const storage of STORAGES) {
    clusterConformance(
      `MemoryTransport + ${storage}`,
      async (): Promise<ClusterHarness> => {
        const bus = new MemoryBus();
        const stores = await storageFactory(storage);
        return {
          node: (id) => ({ transport: new MemoryTransport(bus), storage: stores.storage(id) }),
          faults: bus,
          cleanup: () => stores.cleanup(),
        };
      },
      OPTIONS.memory,
    );
  }
});

const TRANSPORT_NAMES: Record<Bus, string> = { redis: 'RedisTransport', nats: 'NatsTransport', kafka: 'KafkaTransport' };

for (const bus of ['redis', 'nats', 'kafka'] as const) {
  describe(bus, () => {
    let service: Service | undefined;
    beforeAll(async () => {
      service = await findService(bus);
    }, SERVICE_TIMEOUT_MS);
    afterAll(() => service?.stop(), SERVICE_TIMEOUT_MS);

    for (const storage of STORAGES) {
      clusterConformance(
        `${TRANSPORT_NAMES[bus]} + ${storage}`,
        async (): Promise<ClusterHarness> => {
          if (service === undefined) throw new Error(`no ${bus} server (its beforeAll failed)`);
          const on = service;
          const stores = await storageFactory(storage);
          const footprint = new Footprint();
          return {
            node: (id, clusterId) => {
              footprint.add(clusterId, id);
              return { transport: busTransport(on), storage: stores.storage(id) };
            },
            cleanup: async () => {
              await footprint.remove(on);
              await stores.cleanup();
            },
          };
        },
        OPTIONS[bus],
      );
    }

    if (bus === 'redis') {
      // The log in the Redis that carries the messages: a new RedisStorage on
      // the node's keys at each start, so a restart reads back what it saved.
      // The suite restarts nodes, never Redis, so the server need not be
      // durable (CI's is not); a crash of Redis under the logs is
      // linearizability-redis-storage.test.ts's.
      clusterConformance(
        'RedisTransport + RedisStorage',
        async (): Promise<ClusterHarness> => {
          if (service === undefined) throw new Error('no redis server (its beforeAll failed)');
          const on = service;
          const clusters = new Set<string>();
          return {
            node: (id, clusterId) => {
              clusters.add(clusterId);
              const storage = new RedisStorage({ url: on.url, clusterId, nodeId: id, logger: discardLogger, acceptWeakDurability: true });
              return { transport: busTransport(on), storage };
            },
            // Inbox streams and storage keys alike are under raftbus:{<cluster>}:.
            cleanup: () => deleteClusterKeys(() => new Redis(on.url), clusters),
          };
        },
        OPTIONS.redis,
      );
    }
  });
}

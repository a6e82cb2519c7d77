// From a parsed command line to a running kv node: the transport --transport
// and --url name, a FileStorage in --data-dir, and startKvNode. main.ts runs
// this; the integration tests run it too, so they start nodes the way the
// binary does.
import type { Logger, Transport } from '@raftbus/core';
import { FileStorage } from '@raftbus/storage-file';
import { KafkaTransport } from '@raftbus/transport-kafka';
import { MemoryBus, MemoryTransport } from '@raftbus/transport-memory';
import { NatsTransport } from '@raftbus/transport-nats';
import { RedisTransport } from '@raftbus/transport-redis';
import type { BusConfig, KvConfig } from './cli.js';
import { startKvNode, type KvNode, type KvNodeOptions } from './kv-node.js';

/**
 * A new transport on the bus `bus` names, for one node. `logger` takes the
 * transport's lines (connection loss, its client library's errors); by
 * default the core's logger (getLogger()).
 */
export function createTransport(bus: BusConfig, logger?: Logger): Transport {
  const logging = logger === undefined ? {} : { logger };
  switch (bus.transport) {
    case 'memory':
      // A bus of this process alone: a 1-node cluster (the CLI refuses more).
      return new MemoryTransport(new MemoryBus());
    case 'redis':
      return new RedisTransport({ url: bus.url, ...logging });
    case 'nats':
      return new NatsTransport({ servers: bus.servers, ...logging });
    case 'kafka':
      return new KafkaTransport({ brokers: bus.brokers, clientId: 'raftbus-kv', ...logging });
  }
}

/** RaftNode settings the command line does not choose (tick, timeouts…); `logger` also takes the transport's and the storage's lines. */
export type LaunchOptions = Partial<
  Omit<KvNodeOptions, 'id' | 'clusterId' | 'peers' | 'transport' | 'storage' | 'http' | 'peerUrls'>
>;

/** Starts the node `config` describes: raft on its data dir and bus, then the HTTP API. */
export function launchKvNode(config: KvConfig, options: LaunchOptions = {}): Promise<KvNode> {
  return startKvNode({
    ...options,
    id: config.id,
    clusterId: config.clusterId,
    // Used only when the data dir is empty; afterwards the membership is in the WAL.
    peers: [...config.peers.keys()],
    transport: createTransport(config.bus, options.logger),
    storage: new FileStorage({ dir: config.dataDir, ...(options.logger !== undefined && { logger: options.logger }) }),
    http: config.http,
    peerUrls: config.peers,
  });
}

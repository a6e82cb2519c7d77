// The buses the benchmarks run on, each found (or started) once per run
// with testkit's finders: the environment's server (RAFTBUS_REDIS_URL,
// RAFTBUS_NATS_URL, RAFTBUS_KAFKA_BROKERS) or a private one. A bus that
// cannot be had is a reason, which the suites record as a skipped result.
import { ConsoleLogger, LogLevel, type Logger, type Transport } from '@raftbus/core';
import { findServer, type ServerHandle } from '@raftbus/testkit';
import { DEFAULT_TOPIC_PREFIX, KafkaTransport, topicName } from '@raftbus/transport-kafka';
import { MemoryBus, MemoryTransport } from '@raftbus/transport-memory';
import { NatsTransport } from '@raftbus/transport-nats';
import { inboxKey, RedisTransport } from '@raftbus/transport-redis';
import { connect } from 'node:net';
import type { BusLink } from './bus-link.js';
import { ioredis, kafkajs } from './clients.js';
import { KafkaLink } from './kafka-link.js';
import { MemoryLink } from './memory-link.js';
import { NatsLink } from './nats-link.js';
import { RedisLink } from './redis-link.js';

export type BusName = 'memory' | 'redis' | 'nats' | 'kafka';
export const ALL_BUSES: readonly BusName[] = ['memory', 'redis', 'nats', 'kafka'];

/** The transports' own log lines: errors only. */
const transportLogger: Logger = new ConsoleLogger(LogLevel.Error);

/** One bus, ready for baselines and clusters. */
export interface Bus {
  readonly name: BusName;
  /** Where it runs, for the notes: "in-process", or the server's URL and origin. */
  readonly where: string;
  /** The server's URL (a Kafka broker list for Kafka); undefined for the in-process bus. */
  readonly url?: string;
  /** A new pair of raw inboxes' bus (the client library, no raftbus). */
  link(): BusLink;
  /** The transports of one cluster: a factory of one per node. */
  cluster(clusterId: string): { transport(nodeId: number): Transport; cleanup(nodeIds: number[]): Promise<void> };
  /** Stops the server if this run started it. */
  stop(): Promise<void>;
}

/** The bus, or why it cannot be had. Kafka may take 20 s or more to start. */
export async function openBus(name: BusName): Promise<Bus | { skipped: string }> {
  if (name === 'memory') return memoryBus();
  let server: ServerHandle;
  try {
    server = await findServer(name);
  } catch (e) {
    return { skipped: e instanceof Error ? e.message : String(e) };
  }
  const stop = () => server.stop();
  const unreachable = await tcpUnreachable(server.url);
  if (unreachable !== undefined) {
    await stop().catch(() => undefined);
    return { skipped: `${name} at ${server.url} cannot be reached: ${unreachable}` };
  }
  const where = `${server.url} (${server.origin === 'env' ? 'from the environment' : 'started by the benchmark'})`;
  switch (name) {
    case 'redis':
      return {
        name,
        where,
        url: server.url,
        link: () => new RedisLink(server.url),
        cluster: (clusterId) => ({
          transport: () => new RedisTransport({ url: server.url, logger: transportLogger }),
          cleanup: (ids) => deleteRedisKeys(server.url, ids.map((id) => inboxKey(clusterId, id))),
        }),
        stop,
      };
    case 'nats':
      return {
        name,
        where,
        url: server.url,
        link: () => new NatsLink(server.url),
        cluster: () => ({ transport: () => new NatsTransport({ servers: server.url, logger: transportLogger }), cleanup: async () => {} }),
        stop,
      };
    case 'kafka': {
      const brokers = server.url.split(',').map((s) => s.trim());
      return {
        name,
        where,
        url: server.url,
        link: () => new KafkaLink(brokers),
        cluster: (clusterId) => ({
          transport: () => new KafkaTransport({ brokers, clientId: 'raftbus-bench', logger: transportLogger }),
          cleanup: (ids) => deleteKafkaTopics(brokers, ids.map((id) => topicName(DEFAULT_TOPIC_PREFIX, clusterId, id))),
        }),
        stop,
      };
    }
  }
}

/** The in-process bus: always there. */
export function memoryBus(): Bus {
  return {
    name: 'memory',
    where: 'in-process (MemoryBus: delivery on a later turn of the event loop)',
    link: () => new MemoryLink(),
    cluster: () => {
      const bus = new MemoryBus();
      return { transport: () => new MemoryTransport(bus), cleanup: async () => {} };
    },
    stop: async () => {},
  };
}

/** Removes the inbox streams a stopped cluster left on Redis. */
async function deleteRedisKeys(url: string, keys: string[]): Promise<void> {
  const { Redis } = ioredis();
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

/** Removes the node topics a stopped cluster left on Kafka. */
async function deleteKafkaTopics(brokers: string[], topics: string[]): Promise<void> {
  const { Kafka, logLevel } = kafkajs();
  const admin = new Kafka({ brokers, clientId: 'raftbus-bench-cleanup', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const doomed = topics.filter((t) => existing.has(t));
    if (doomed.length > 0) await admin.deleteTopics({ topics: doomed, timeout: 10_000 });
  } finally {
    await admin.disconnect();
  }
}

/** Why nothing accepts a TCP connection at the first host:port of `url` (redis://h:p, nats://h:p, or h:p[,h:p…]), or undefined when something does. */
function tcpUnreachable(url: string, timeoutMs = 5_000): Promise<string | undefined> {
  const first = url.split(',')[0]!.trim().replace(/^[a-z]+:\/\/(?:[^@/]*@)?/i, '');
  const colon = first.lastIndexOf(':');
  const host = colon > 0 ? first.slice(0, colon) : first;
  const port = colon > 0 ? Number.parseInt(first.slice(colon + 1), 10) : Number.NaN;
  if (!Number.isInteger(port)) return Promise.resolve(undefined); // no port to try: let the client say
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (why: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => done(`no answer within ${timeoutMs} ms`), timeoutMs);
    socket.once('connect', () => done(undefined));
    socket.once('error', (e) => done(e.message));
  });
}

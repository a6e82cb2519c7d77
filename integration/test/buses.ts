// The transports under test, one per bus, and the cleanup of what raft
// clusters leave on a bus: Redis keeps each node's inbox stream and Kafka
// each node's topic after the nodes stop; core NATS keeps nothing (subjects
// exist only while subscribed).
import { ConsoleLogger, LogLevel, RaftPanic, type Logger, type Transport } from '@raftbus/core';
import { KafkaTransport, topicName, DEFAULT_TOPIC_PREFIX } from '@raftbus/transport-kafka';
import { NatsTransport } from '@raftbus/transport-nats';
import { inboxKey, RedisTransport } from '@raftbus/transport-redis';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { brokersOf, type Service } from './services.js';

/** The transports' own log lines: errors only (a broker restart makes warnings by design). */
export const transportLogger: Logger = new ConsoleLogger(LogLevel.Error);

/**
 * Keeps the last log lines (warnings and worse) instead of printing them,
 * for tests in which errors are expected (a broker outage makes many);
 * print text() when the test fails.
 */
export class LogTail implements Logger {
  private readonly lines: string[] = [];

  constructor(private readonly keep = 200) {}

  debug(): void {}
  info(): void {}
  warning(msg: string): void {
    this.add('WARN', msg);
  }
  error(msg: string): void {
    this.add('ERROR', msg);
  }
  fatal(msg: string): never {
    this.add('FATAL', msg);
    throw new RaftPanic(msg);
  }
  panic(msg: string): never {
    this.add('PANIC', msg);
    throw new RaftPanic(msg);
  }

  text(): string {
    return this.lines.join('\n');
  }

  private add(level: string, msg: string): void {
    this.lines.push(`${new Date().toISOString()} ${level} ${msg}`);
    if (this.lines.length > this.keep) this.lines.shift();
  }
}

/** A new transport for one node on `service`'s bus; `logger` takes the lines of the transport and its client library. */
export function busTransport(service: Service, logger: Logger = transportLogger): Transport {
  switch (service.bus) {
    case 'redis':
      return new RedisTransport({ url: service.url, logger });
    case 'nats':
      return new NatsTransport({ servers: service.url, logger });
    case 'kafka':
      return new KafkaTransport({ brokers: brokersOf(service), clientId: 'raftbus-integration', logger });
  }
}

/** The (cluster, node) pairs a test ran on a bus, so that what they left there can be removed. */
export class Footprint {
  private readonly nodes = new Map<string, Set<number>>();

  add(clusterId: string, nodeId: number): void {
    let ids = this.nodes.get(clusterId);
    if (ids === undefined) this.nodes.set(clusterId, (ids = new Set()));
    ids.add(nodeId);
  }

  /** Removes the Redis streams or Kafka topics of every node added (their nodes must be stopped), and forgets them. */
  async remove(service: Service): Promise<void> {
    const pairs = [...this.nodes].flatMap(([clusterId, ids]) => [...ids].map((id) => [clusterId, id] as const));
    this.nodes.clear();
    if (pairs.length === 0) return;
    switch (service.bus) {
      case 'redis':
        return deleteRedisKeys(service.url, pairs.map(([c, id]) => inboxKey(c, id)));
      case 'kafka':
        return deleteKafkaTopics(brokersOf(service), pairs.map(([c, id]) => topicName(DEFAULT_TOPIC_PREFIX, c, id)));
      case 'nats':
        return;
    }
  }
}

async function deleteRedisKeys(url: string, keys: string[]): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

async function deleteKafkaTopics(brokers: string[], topics: string[]): Promise<void> {
  const admin = new Kafka({ brokers, clientId: 'raftbus-integration-cleanup', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    // A node whose start failed may not have made its topic.
    const existing = new Set(await admin.listTopics());
    const doomed = [...new Set(topics)].filter((t) => existing.has(t));
    if (doomed.length > 0) await admin.deleteTopics({ topics: doomed, timeout: 10_000 });
  } finally {
    await admin.disconnect();
  }
}

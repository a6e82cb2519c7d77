// What a KafkaTransport is built from: a way to reach the brokers (their
// addresses, or a kafkajs client the application already has), how the
// node topics are made, and the framing options every bus shares.
import { ErrInvalidConfig, type Logger } from '@raftbus/core';
import type { FramingOptions } from '@raftbus/framing';
import type { Kafka, KafkaConfig, RetryOptions } from 'kafkajs';
import { DEFAULT_TOPIC_PREFIX, checkTopicPrefix } from './topic-name.js';

/** The brokers to connect to; the transport makes (and owns) its kafkajs client. */
export interface KafkaBrokerOptions {
  brokers: KafkaConfig['brokers'];
  /** Default 'raftbus'. */
  clientId?: string;
  ssl?: KafkaConfig['ssl'];
  sasl?: KafkaConfig['sasl'];
  /** The client's retries (connecting, metadata, admin, produce), over DEFAULT_CLIENT_RETRY. */
  retry?: RetryOptions;
}

/** A kafkajs client the application made; its logging and retry settings apply as they are. */
export interface KafkaClientOption {
  kafka: Kafka;
}

export interface KafkaTopicOptions {
  /** First part of every topic name (ACLs can grant it as a prefix). Default 'raftbus'. */
  topicPrefix?: string;
  /** Replication factor of the topics this transport creates. Default: the broker's default.replication.factor. */
  replicationFactor?: number;
  /**
   * Topic configs for the topics this transport creates, over the defaults
   * `retention.ms` 3600000 and `segment.ms` 600000 (raft messages are stale
   * within seconds; nothing reads a topic from its beginning). Topics that
   * exist already are left as they are.
   */
  topicConfig?: Record<string, string>;
}

/**
 * The settings of the node's consumer (see README, "Receiving"), over
 * DEFAULT_CONSUMER_OPTIONS; they apply with a client of the application's too.
 */
export interface KafkaConsumerOptions {
  /** Milliseconds; within the broker's group.min/max.session.timeout.ms (6 s to 30 min by default). */
  sessionTimeout?: number;
  /** Milliseconds; below sessionTimeout (a third of it is usual). */
  heartbeatInterval?: number;
  /** Milliseconds. */
  rebalanceTimeout?: number;
  /** Retries of the consumer's fetches and group requests before the consumer is replaced. */
  retry?: Omit<RetryOptions, 'restartOnFailure'>;
}

export type KafkaTransportOptions = (KafkaBrokerOptions | KafkaClientOption) &
  KafkaTopicOptions &
  Partial<FramingOptions> & {
    consumer?: KafkaConsumerOptions;
    /**
     * Receives kafkajs's warnings and errors (when the transport makes the
     * client) and the transport's own. Default: @raftbus/core's getLogger().
     */
    logger?: Logger;
  };

/**
 * Default frame size: below the broker's default message.max.bytes
 * (1 MiB, which bounds a whole record batch) with room for batch and record
 * headers, so that any message, snapshots included, is carried in chunks.
 */
export const DEFAULT_MAX_FRAME_BYTES = 900 * 1024;

export const DEFAULT_TOPIC_CONFIG: Readonly<Record<string, string>> = {
  'retention.ms': '3600000',
  'segment.ms': '600000',
};

/**
 * Retries of the client the transport makes: a broker that is back is
 * found within a second (kafkajs's own defaults back off to several
 * seconds, and differ when NODE_ENV is 'test'), and a call gives up after
 * about 7 s. Raft resends what fails.
 */
export const DEFAULT_CLIENT_RETRY: Readonly<RetryOptions> = { initialRetryTime: 100, maxRetryTime: 1_000, retries: 10 };

/**
 * The consumer's defaults. Its group has one member and is never rejoined
 * after a crash, so nothing waits for a session to time out; a shorter one
 * than kafkajs's 30 s still bounds any wait for a member that is gone, and
 * lets the broker forget abandoned groups sooner. Its retries give up after
 * about 2.5 s, and the transport replaces the consumer (README, "When the
 * broker is away").
 */
export const DEFAULT_CONSUMER_OPTIONS: Readonly<Required<KafkaConsumerOptions>> = {
  sessionTimeout: 10_000,
  heartbeatInterval: 3_000,
  rebalanceTimeout: 10_000,
  retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 5 },
};

export function resolveConsumerOptions(options: KafkaConsumerOptions = {}): Required<KafkaConsumerOptions> {
  const resolved = { ...DEFAULT_CONSUMER_OPTIONS, ...options, retry: { ...DEFAULT_CONSUMER_OPTIONS.retry, ...options.retry } };
  for (const name of ['sessionTimeout', 'heartbeatInterval', 'rebalanceTimeout'] as const) {
    const value = resolved[name];
    if (!(Number.isSafeInteger(value) && value > 0)) {
      throw new ErrInvalidConfig(`kafka: consumer.${name} must be a positive integer (milliseconds), got ${String(value)}`);
    }
  }
  if (resolved.heartbeatInterval >= resolved.sessionTimeout) {
    throw new ErrInvalidConfig(
      `kafka: consumer.heartbeatInterval (${resolved.heartbeatInterval}) must be below consumer.sessionTimeout (${resolved.sessionTimeout})`,
    );
  }
  return resolved;
}

export interface ResolvedTopicOptions {
  prefix: string;
  replicationFactor: number | undefined;
  configEntries: { name: string; value: string }[];
}

export function resolveTopicOptions(options: KafkaTopicOptions): ResolvedTopicOptions {
  const prefix = options.topicPrefix ?? DEFAULT_TOPIC_PREFIX;
  checkTopicPrefix(prefix);
  const rf = options.replicationFactor;
  if (rf !== undefined && !(Number.isSafeInteger(rf) && rf >= 1)) {
    throw new ErrInvalidConfig(`kafka: replicationFactor must be a positive integer, got ${String(rf)}`);
  }
  const config = { ...DEFAULT_TOPIC_CONFIG, ...options.topicConfig };
  return { prefix, replicationFactor: rf, configEntries: Object.entries(config).map(([name, value]) => ({ name, value })) };
}

export function checkConnectionOptions(options: KafkaTransportOptions): void {
  if (typeof options !== 'object' || options === null) throw new ErrInvalidConfig('kafka: options are required');
  const hasKafka = 'kafka' in options && options.kafka !== undefined;
  const hasBrokers = 'brokers' in options && options.brokers !== undefined;
  if (hasKafka === hasBrokers) {
    throw new ErrInvalidConfig('kafka: pass either `brokers` (and clientId/ssl/sasl) or an existing kafkajs client as `kafka`, not both');
  }
  if (hasBrokers && Array.isArray(options.brokers) && options.brokers.length === 0) {
    throw new ErrInvalidConfig('kafka: brokers must not be empty');
  }
}

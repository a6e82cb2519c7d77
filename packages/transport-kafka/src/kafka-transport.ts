// Raft over Kafka. Each node reads one single-partition topic of its own,
// `<prefix>.<cluster>.<node>`, which it creates on start, and writes to its
// peers' topics. The FramedTransport base turns messages into frames
// (chunking snapshots) and back; this class wires the kafkajs clients to it:
// a TopicReceiver for the node's own topic, a PeerSender per peer.
import { ErrInvalidConfig, getLogger, type Logger } from '@raftbus/core';
import { FramedTransport } from '@raftbus/framing';
import { Kafka, Partitioners, logLevel, type Admin, type Producer } from 'kafkajs';
import { kafkajsLogCreator } from './log.js';
import {
  DEFAULT_CLIENT_RETRY,
  DEFAULT_MAX_FRAME_BYTES,
  checkConnectionOptions,
  resolveConsumerOptions,
  resolveTopicOptions,
  type KafkaConsumerOptions,
  type KafkaTransportOptions,
  type ResolvedTopicOptions,
} from './options.js';
import { PeerSender, STALL_MS } from './peer-sender.js';
import { PARTITION, topicName } from './topic-name.js';
import { TopicReceiver } from './topic-receiver.js';
import { bounded, errorText } from './util.js';

/** What one start() made; stop() (or a failed start) releases it. */
interface Session {
  readonly clusterId: string;
  readonly topic: string;
  readonly admin: Admin;
  readonly producer: Producer;
  readonly peers: Map<number, PeerSender>;
  receiver: TopicReceiver | undefined;
}

/**
 * A raftbus Transport over Kafka (kafkajs). One single-partition topic per
 * node, created by that node on start(); messages to a node whose topic
 * does not exist are counted as send failures and reported unreachable.
 */
export class KafkaTransport extends FramedTransport {
  private readonly kafka: Kafka;
  private readonly topics: ResolvedTopicOptions;
  private readonly consumerOptions: Required<KafkaConsumerOptions>;
  private readonly logger: Logger | undefined;
  /** Set once stop() has released the clients: kafkajs's log lines are no longer passed on. */
  private stopped = false;
  private readonly maxBatchBytes: number;
  private session: Session | undefined;

  constructor(options: KafkaTransportOptions) {
    checkConnectionOptions(options);
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isSafeInteger(maxFrameBytes) || maxFrameBytes < 1) {
      throw new ErrInvalidConfig(`kafka: maxFrameBytes must be a positive integer, got ${String(maxFrameBytes)}`);
    }
    super({
      maxFrameBytes,
      orderedPerPeer: true,
      key: options.key,
      maxMessageBytes: options.maxMessageBytes,
      reassemblyTimeoutMs: options.reassemblyTimeoutMs,
      maxReassemblyBytes: options.maxReassemblyBytes,
    });
    this.topics = resolveTopicOptions(options);
    this.consumerOptions = resolveConsumerOptions(options.consumer);
    this.logger = options.logger;
    // A produce request carries at most one frame's worth per partition:
    // maxFrameBytes is what is chosen to fit the broker's record-batch limit.
    this.maxBatchBytes = maxFrameBytes;
    this.kafka =
      'kafka' in options
        ? options.kafka
        : new Kafka({
            brokers: options.brokers,
            clientId: options.clientId ?? 'raftbus',
            ssl: options.ssl,
            sasl: options.sasl,
            retry: { ...DEFAULT_CLIENT_RETRY, ...options.retry },
            logLevel: logLevel.WARN,
            logCreator: kafkajsLogCreator({
              warning: (m) => this.stopped || this.log().warning(m),
              error: (m) => this.stopped || this.log().error(m),
            }),
          });
  }

  /** Looked up when used, so that a logger set with core's setLogger() after construction applies. */
  private log(): Logger {
    return this.logger ?? getLogger();
  }

  protected async connect(clusterId: string, nodeId: number, deliver: (frame: Uint8Array) => void): Promise<void> {
    const session: Session = {
      clusterId,
      topic: topicName(this.topics.prefix, clusterId, nodeId),
      admin: this.kafka.admin(),
      producer: this.kafka.producer({
        // Named explicitly, which also keeps kafkajs from warning that its v2
        // default changed; every record names its partition anyway.
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
        idempotent: false,
        // Past a few retries a raft message is stale: fail, and raft resends.
        retry: { retries: 3 },
      }),
      peers: new Map(),
      receiver: undefined,
    };
    this.session = session;
    try {
      await session.admin.connect();
      await session.producer.connect();
      await this.createTopic(session.admin, session.topic);
      const offsets = await session.admin.fetchTopicOffsets(session.topic);
      const end = offsets.find((o) => o.partition === PARTITION)?.high;
      if (end === undefined) throw new Error(`kafka: topic ${session.topic} has no partition ${PARTITION}`);
      session.receiver = new TopicReceiver(this.kafka, session.topic, BigInt(end), deliver, () => this.log(), this.consumerOptions);
      await session.receiver.start();
    } catch (e) {
      await this.release(session);
      throw e;
    }
  }

  protected publish(to: number, frames: Uint8Array[]): Promise<void> {
    const session = this.session;
    if (session === undefined) return Promise.reject(new Error('kafka: transport is not running'));
    let peer = session.peers.get(to);
    if (peer === undefined) {
      peer = new PeerSender(to, topicName(this.topics.prefix, session.clusterId, to), {
        producer: session.producer,
        admin: session.admin,
        log: () => this.log(),
        maxBatchBytes: this.maxBatchBytes,
      });
      session.peers.set(to, peer);
    }
    return peer.publish(frames);
  }

  protected async disconnect(): Promise<void> {
    if (this.session !== undefined) await this.release(this.session);
    // What kafkajs still says after this (a connect it cannot be stopped in
    // retrying on until its retries run out) is about connections nothing
    // needs any more: not passed on.
    this.stopped = true;
  }

  private async createTopic(admin: Admin, topic: string): Promise<void> {
    const request = {
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: 1,
          ...(this.topics.replicationFactor !== undefined && { replicationFactor: this.topics.replicationFactor }),
          configEntries: this.topics.configEntries,
        },
      ],
    };
    // Resolves false (no error) when the topic exists: this node ran before.
    // After creating the topic, kafkajs waits for its leader but retries only
    // LEADER_NOT_AVAILABLE; a broker whose metadata has not caught up answers
    // UNKNOWN_TOPIC_OR_PARTITION instead and kafkajs gives up (kafkajs#815).
    // The topic exists by then, so asking again succeeds.
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.createTopics(request);
        return;
      } catch (e) {
        if (!isUnknownTopic(e) || attempt >= TOPIC_CREATE_ATTEMPTS) throw e;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }

  /** Disconnects the clients this session made (never the Kafka the application passed in). */
  private async release(session: Session): Promise<void> {
    if (this.session === session) this.session = undefined;
    const stopped = new Error('kafka: transport stopped');
    for (const peer of session.peers.values()) peer.close(stopped);
    // Requests in flight finish first: kafkajs retries a request that a
    // disconnect cut off, and the retry connects again, a socket that
    // nothing closes (it keeps the process alive). A broker that does not
    // answer is not waited for past STALL_MS.
    const idle = Promise.all([...session.peers.values()].map((peer) => peer.idle()));
    await bounded(idle.then(() => undefined), STALL_MS).catch(() => undefined);
    const clients: [string, () => Promise<void>][] = [
      ['consumer', () => session.receiver?.stop() ?? Promise.resolve()],
      ['producer', () => bounded(session.producer.disconnect())],
      ['admin', () => bounded(session.admin.disconnect())],
    ];
    await Promise.all(
      clients.map(([name, disconnect]) =>
        disconnect().catch((e: unknown) => this.log().warning(`kafka: disconnecting the ${name} of ${session.topic}: ${errorText(e)}`)),
      ),
    );
  }
}

const TOPIC_CREATE_ATTEMPTS = 10;

function isUnknownTopic(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { type?: unknown }).type === 'UNKNOWN_TOPIC_OR_PARTITION';
}

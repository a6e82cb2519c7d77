// Kafka as KafkaTransport uses it: each inbox a single-partition topic read
// by a consumer of its own (fetches answered as soon as one record is
// there: minBytes 1, maxWaitTimeInMs 50), positioned at the topic's end;
// sending to a peer keeps one produce request (acks=1) in flight and
// coalesces what is sent meanwhile into the next request, as its
// PeerSender does.
import { DEFAULT_TOPIC_CONFIG, DEFAULT_TOPIC_PREFIX, topicName } from '@raftbus/transport-kafka';
import { randomUUID } from 'node:crypto';
import type { BusEndpoint, BusLink } from './bus-link.js';
import { kafkajs, type KafkaClient } from './clients.js';

type Producer = ReturnType<KafkaClient['producer']>;

/** One produce request carries at most this many bytes, as the transport's default frame size bounds it. */
const MAX_BATCH_BYTES = 900 * 1024;
const RECORD_OVERHEAD_BYTES = 64;

/** Sends to one topic: one request in flight, the rest queued for the next. */
class Coalescer {
  private queue: { frame: Uint8Array; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
  ) {}

  send(frame: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ frame, resolve, reject });
      if (this.flushing) return;
      this.flushing = true;
      queueMicrotask(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        let bytes = 0;
        let n = 0;
        while (n < this.queue.length && (n === 0 || bytes + this.queue[n]!.frame.byteLength + RECORD_OVERHEAD_BYTES <= MAX_BATCH_BYTES)) {
          bytes += this.queue[n]!.frame.byteLength + RECORD_OVERHEAD_BYTES;
          n++;
        }
        const batch = this.queue.splice(0, n);
        try {
          await this.producer.send({
            topic: this.topic,
            acks: 1,
            messages: batch.map(({ frame }) => ({ partition: 0, value: Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength) })),
          });
          for (const q of batch) q.resolve();
        } catch (e) {
          for (const q of batch) q.reject(e);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}

export class KafkaLink implements BusLink {
  readonly bus = 'kafka';
  private readonly clusterId = `bench-${process.pid}-${Date.now().toString(36)}`;
  private readonly kafka: KafkaClient;
  private readonly topics = new Set<string>();

  constructor(brokers: string[]) {
    const { Kafka, logLevel } = kafkajs();
    this.kafka = new Kafka({ brokers, clientId: 'raftbus-bench', logLevel: logLevel.NOTHING });
  }

  async endpoint(id: number, deliver: (frame: Uint8Array) => void): Promise<BusEndpoint> {
    const { Partitioners } = kafkajs();
    const topic = this.topicOf(id);
    this.topics.add(topic);
    const admin = this.kafka.admin();
    await admin.connect();
    let end: string;
    try {
      await createTopic(admin, topic);
      end = (await admin.fetchTopicOffsets(topic)).find((o) => o.partition === 0)!.high;
    } finally {
      await admin.disconnect();
    }
    const producer = this.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false, idempotent: false });
    const consumer = this.kafka.consumer({ groupId: `${topic}.${randomUUID()}`, allowAutoTopicCreation: false, minBytes: 1, maxWaitTimeInMs: 50 });
    await producer.connect();
    await consumer.connect();
    const joined = new Promise<void>((resolve) =>
      consumer.on(consumer.events.GROUP_JOIN, () => {
        consumer.seek({ topic, partition: 0, offset: end });
        resolve();
      }),
    );
    await consumer.subscribe({ topics: [topic], fromBeginning: false });
    // A rejoin or a retried fetch may hand back records already delivered.
    let next = BigInt(end);
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const record of batch.messages) {
          const offset = BigInt(record.offset);
          if (offset < next) continue;
          next = offset + 1n;
          if (record.value !== null) deliver(record.value);
        }
      },
    });
    await joined;
    const senders = new Map<number, Coalescer>();
    return {
      send: (to, frame) => {
        let sender = senders.get(to);
        if (sender === undefined) senders.set(to, (sender = new Coalescer(producer, this.topicOf(to))));
        return sender.send(frame);
      },
      async close() {
        await Promise.all([consumer.disconnect(), producer.disconnect()]);
      },
    };
  }

  async close(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      if (this.topics.size > 0) await admin.deleteTopics({ topics: [...this.topics], timeout: 10_000 });
    } finally {
      await admin.disconnect();
    }
  }

  private topicOf(id: number): string {
    return topicName(DEFAULT_TOPIC_PREFIX, this.clusterId, id);
  }
}

/** Creates the topic; a broker whose metadata lags answers UNKNOWN_TOPIC_OR_PARTITION at first, so ask again. */
async function createTopic(admin: ReturnType<KafkaClient['admin']>, topic: string): Promise<void> {
  const configEntries = Object.entries(DEFAULT_TOPIC_CONFIG).map(([name, value]) => ({ name, value }));
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, configEntries }] });
      return;
    } catch (e) {
      if ((e as { type?: unknown }).type !== 'UNKNOWN_TOPIC_OR_PARTITION' || attempt >= 10) throw e;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

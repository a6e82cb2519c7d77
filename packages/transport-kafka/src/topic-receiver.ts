// Receiving: a consumer of the node's own topic, in a consumer group of its
// own (a fresh id per consumer), positioned by hand. kafkajs has no manual
// partition assignment, so the group is only a vehicle: with one member it
// is handed the one partition at once, with no rebalance to wait for and no
// older member to wait out. Every (re)join seeks to the offset after the
// last frame delivered (at first: the topic's end when the node started),
// so nothing sent after start() resolves is skipped and nothing is
// delivered twice. No offsets are committed: the empty group disappears
// when the consumer leaves.
import { randomUUID } from 'node:crypto';
import type { Logger } from '@raftbus/core';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { PARTITION } from './topic-name.js';
import { bounded, errorText } from './util.js';

/** start() gives up when the consumer has not joined its group by then (kafkajs retries meanwhile). */
const JOIN_TIMEOUT_MS = 30_000;
/** Delays before replacing a consumer that kafkajs gave up on. */
const RESTART_DELAYS_MS = [500, 1_000, 2_000, 5_000, 10_000] as const;

export class TopicReceiver {
  private consumer: Consumer | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private restarts = 0;
  private stopped = false;

  /** `next`: the offset of the first frame to deliver. */
  constructor(
    private readonly kafka: Kafka,
    readonly topic: string,
    private next: bigint,
    private readonly deliver: (frame: Uint8Array) => void,
    private readonly log: () => Logger,
  ) {}

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    const consumer = this.consumer;
    this.consumer = undefined;
    if (consumer !== undefined) await bounded(consumer.disconnect());
  }

  /**
   * Starts a consumer; resolves once it has joined its group and will fetch
   * from `next` (kafkajs restarts it meanwhile after retriable errors, e.g. a
   * coordinator still loading), rejects when it cannot.
   */
  async start(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: `${this.topic}.${randomUUID()}`,
      allowAutoTopicCreation: false,
      // Raft's round trips are milliseconds: answer a fetch as soon as one frame is there.
      minBytes: 1,
      maxWaitTimeInMs: 50,
    });
    this.consumer = consumer;
    let starting = true;
    let joined!: () => void;
    let failed!: (error: unknown) => void;
    const join = new Promise<void>((resolve, reject) => {
      joined = resolve;
      failed = reject;
    });
    // It may fail before it is awaited (while connecting): not an unhandled rejection.
    join.catch(() => undefined);
    const timer = setTimeout(
      () => failed(new Error(`kafka: the consumer of ${this.topic} did not join its group within ${JOIN_TIMEOUT_MS} ms`)),
      JOIN_TIMEOUT_MS,
    );
    consumer.on(consumer.events.GROUP_JOIN, () => {
      try {
        consumer.seek({ topic: this.topic, partition: PARTITION, offset: this.next.toString() });
        joined();
      } catch (e) {
        failed(e);
      }
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (starting) {
        if (!payload.restart) failed(payload.error);
        return;
      }
      if (this.stopped || this.consumer !== consumer) return;
      // kafkajs restarts a consumer after a retriable error itself (its
      // rejoin seeks back to `next`); after any other, we replace it.
      this.log().warning(
        `kafka: consumer of ${this.topic} crashed: ${errorText(payload.error)}; ${payload.restart ? 'kafkajs restarts it' : 'replacing it'}`,
      );
      if (!payload.restart) this.scheduleRestart();
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [this.topic], fromBeginning: false });
      await consumer.run({ autoCommit: false, eachBatch: (payload) => this.eachBatch(payload) });
      await join;
      starting = false;
    } catch (e) {
      if (this.consumer === consumer) this.consumer = undefined;
      await bounded(consumer.disconnect()).catch(() => undefined);
      throw e;
    } finally {
      clearTimeout(timer);
    }
    // stop() came while this one was starting.
    if (this.stopped) await bounded(consumer.disconnect()).catch(() => undefined);
  }

  private async eachBatch({ batch, isRunning, isStale }: EachBatchPayload): Promise<void> {
    for (const record of batch.messages) {
      if (!isRunning() || isStale()) return;
      const offset = BigInt(record.offset);
      // A rejoin or a retried fetch may hand back frames already delivered.
      if (offset < this.next) continue;
      this.next = offset + 1n;
      if (record.value === null || this.stopped) continue;
      try {
        this.deliver(record.value);
      } catch (e) {
        // The application's handler threw: its problem, not the consumer's.
        this.log().error(`kafka: onMessage threw: ${errorText(e)}`);
      }
    }
  }

  private scheduleRestart(): void {
    if (this.stopped || this.restartTimer !== undefined) return;
    const delay = RESTART_DELAYS_MS[Math.min(this.restarts, RESTART_DELAYS_MS.length - 1)];
    this.restarts++;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restart();
    }, delay);
  }

  /** Never rejects. */
  private async restart(): Promise<void> {
    const old = this.consumer;
    this.consumer = undefined;
    if (old !== undefined) await bounded(old.disconnect()).catch(() => undefined);
    if (this.stopped) return;
    try {
      await this.start();
      this.restarts = 0;
      this.log().warning(`kafka: consumer of ${this.topic} replaced, reading from offset ${this.next}`);
    } catch (e) {
      this.log().warning(`kafka: replacing the consumer of ${this.topic} failed: ${errorText(e)}`);
      this.scheduleRestart();
    }
  }
}

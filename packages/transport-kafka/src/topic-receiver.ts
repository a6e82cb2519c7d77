// Receiving: a consumer of the node's own topic, in a consumer group of its
// own, positioned by hand. kafkajs has no manual partition assignment, so
// the group is only a vehicle: with one member it is handed the one
// partition at once.
//
// Every consumer gets a group id never used before. A group the broker
// remembers a member of (a consumer that crashed without leaving, because
// the broker went away; a restarted broker reloads its groups, members
// included) makes a newcomer wait until that member's session times out.
// kafkajs restarts a crashed consumer in its group, as a new member: after
// a broker restart it waited out the old member (30 s by default). So a
// consumer kafkajs gives up on is not restarted but replaced, in a new group.
//
// Every join seeks to the offset after the last frame delivered (at first:
// the topic's end when the node started), so nothing sent after start()
// resolves is skipped and nothing is delivered twice. No offsets are
// committed: an empty group disappears when the broker expires it.
import { randomUUID } from 'node:crypto';
import type { Logger } from '@raftbus/core';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { KafkaConsumerOptions } from './options.js';
import { PARTITION } from './topic-name.js';
import { bounded, errorText } from './util.js';

/** start() gives up when no consumer has joined its group by then (consumers that fail meanwhile are replaced). */
const JOIN_TIMEOUT_MS = 30_000;
/** Delays before replacing a consumer that failed, by consecutive failure: a broker that is back is found within seconds. */
const RESTART_DELAYS_MS = [100, 500, 1_000, 2_000] as const;

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
    private readonly settings: Required<KafkaConsumerOptions>,
  ) {}

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    const consumer = this.consumer;
    this.consumer = undefined;
    if (consumer !== undefined) await bounded(consumer.disconnect());
  }

  /**
   * Resolves once a consumer has joined its group and will fetch from
   * `next`. A consumer that fails with a retriable error first (a
   * coordinator still loading, a broker not answering yet) is replaced;
   * rejects on any other error, or when none has joined within JOIN_TIMEOUT_MS.
   */
  async start(): Promise<void> {
    const deadline = Date.now() + JOIN_TIMEOUT_MS;
    for (let failures = 0; ; failures++) {
      try {
        await this.launch(deadline);
        return;
      } catch (e) {
        const delay = restartDelay(failures);
        if (this.stopped || !isRetriable(e) || Date.now() + delay >= deadline) throw e;
        await new Promise((resolve) => setTimeout(resolve, delay));
        // stop() came meanwhile: nothing to start.
        if (this.stopped) return;
      }
    }
  }

  /** Starts a consumer in a new group; resolves once it has joined, rejects if it fails first. */
  private async launch(joinBy: number): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: `${this.topic}.${randomUUID()}`,
      allowAutoTopicCreation: false,
      // Raft's round trips are milliseconds: answer a fetch as soon as one frame is there.
      minBytes: 1,
      maxWaitTimeInMs: 50,
      sessionTimeout: this.settings.sessionTimeout,
      heartbeatInterval: this.settings.heartbeatInterval,
      rebalanceTimeout: this.settings.rebalanceTimeout,
      // A consumer kafkajs gives up on is replaced, never restarted in its group.
      retry: { ...this.settings.retry, restartOnFailure: () => Promise.resolve(false) },
    });
    this.consumer = consumer;
    let joinedOnce = false;
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
      Math.max(0, joinBy - Date.now()),
    );
    // Also on kafkajs's rejoins within the group (a rebalance): seek again.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      try {
        consumer.seek({ topic: this.topic, partition: PARTITION, offset: this.next.toString() });
        joinedOnce = true;
        joined();
      } catch (e) {
        failed(e);
      }
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!joinedOnce) {
        failed(payload.error);
        return;
      }
      if (this.stopped || this.consumer !== consumer) return;
      this.log().warning(`kafka: consumer of ${this.topic} crashed: ${errorText(payload.error)}; replacing it`);
      this.scheduleRestart();
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [this.topic], fromBeginning: false });
      await consumer.run({ autoCommit: false, eachBatch: (payload) => this.eachBatch(payload) });
      await join;
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
    // The partition ends below what was delivered: its log was truncated
    // (a leader failover lost frames acked by one replica only) or the
    // topic made anew, and offsets are used again. Deliver from here.
    const first = batch.messages[0];
    if (first !== undefined && BigInt(batch.highWatermark) < this.next) this.next = BigInt(first.offset);
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
    const delay = restartDelay(this.restarts);
    this.restarts++;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restart();
    }, delay);
  }

  /** Replaces the consumer with one in a new group. Never rejects. */
  private async restart(): Promise<void> {
    const old = this.consumer;
    this.consumer = undefined;
    if (old !== undefined) await bounded(old.disconnect()).catch(() => undefined);
    if (this.stopped) return;
    try {
      await this.launch(Date.now() + JOIN_TIMEOUT_MS);
      this.restarts = 0;
      if (!this.stopped) this.log().warning(`kafka: consumer of ${this.topic} replaced, reading from offset ${this.next}`);
    } catch (e) {
      // A replacement under way when stop() came runs on (kafkajs cannot be
      // interrupted while it connects) and ends here: nothing to report.
      if (this.stopped) return;
      this.log().warning(`kafka: replacing the consumer of ${this.topic} failed: ${errorText(e)}`);
      this.scheduleRestart();
    }
  }
}

function restartDelay(failures: number): number {
  return RESTART_DELAYS_MS[Math.min(failures, RESTART_DELAYS_MS.length - 1)]!;
}

/** kafkajs's own rule for restarting a crashed consumer: its retries ran out, or the root cause is retriable. */
function isRetriable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (e.name === 'KafkaJSNumberOfRetriesExceeded') return true;
  let cause: unknown = e;
  for (let depth = 0; cause instanceof Error && cause.cause instanceof Error && depth < 8; depth++) cause = cause.cause;
  return (cause as { retriable?: unknown }).retriable === true;
}

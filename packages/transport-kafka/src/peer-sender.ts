// Sending to one peer: its node's topic, one produce request in flight at a
// time, and what is published meanwhile coalesced into the next request.
// That keeps the peer's frames in order (a chunked message's chunks
// together) without the idempotent producer, and batches a busy leader's
// traffic. acks=1: the partition leader has the frame; raft retransmits what
// a broker failover loses, and waiting for every replica would add a
// replication round trip to each raft round trip.
import type { Logger } from '@raftbus/core';
import type { Admin, Message as KafkaRecord, Producer } from 'kafkajs';
import { PARTITION } from './topic-name.js';

/** An upper bound on what a record adds to its value inside a record batch (no key, no headers). */
const RECORD_OVERHEAD_BYTES = 64;
/** A missing topic is looked up again at most this often; sends in between fail at once. */
const MISSING_TOPIC_RECHECK_MS = 1_000;
/** Past this backlog (broker down or slow), new messages are refused, not queued. */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
/**
 * A broker that has answered nothing for this long while messages wait
 * makes the peer unreachable: what waits fails now, and so does what is
 * sent until the broker answers (kafkajs's own retries can take a minute).
 */
export const STALL_MS = 5_000;

export interface PeerSenderContext {
  readonly producer: Producer;
  readonly admin: Admin;
  readonly log: () => Logger;
  /** Bytes one produce request may carry to one partition (the broker's record-batch limit, less headroom). */
  readonly maxBatchBytes: number;
}

/** The frames of one publish() call, settled once: sent, failed, or given up on. */
class Queued {
  private settled = false;
  constructor(
    readonly frames: Uint8Array[],
    readonly bytes: number,
    private readonly onResolve: () => void,
    private readonly onReject: (error: unknown) => void,
  ) {}
  get done(): boolean {
    return this.settled;
  }
  resolve(): void {
    if (this.settled) return;
    this.settled = true;
    this.onResolve();
  }
  reject(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.onReject(error);
  }
}

export class PeerSender {
  private queue: Queued[] = [];
  private queuedBytes = 0;
  /** Taken from the queue, being sent. */
  private inFlight: Queued[] = [];
  /** The flush under way, if any: it sends until the queue is empty. */
  private flushing: Promise<void> | undefined;
  /** The broker has not answered a call within STALL_MS; cleared by its answer. */
  private stalled = false;
  /** The topic is known to exist: its node has started at least once. */
  private exists = false;
  /** When the topic was last looked up and not found. */
  private missingAt = Number.NEGATIVE_INFINITY;
  private closed: Error | undefined;

  constructor(
    readonly nodeId: number,
    readonly topic: string,
    private readonly ctx: PeerSenderContext,
  ) {}

  /** Resolves once every frame is acknowledged; rejects when they could not all be sent. */
  publish(frames: Uint8Array[]): Promise<void> {
    if (this.closed !== undefined) return Promise.reject(this.closed);
    if (this.stalled) return Promise.reject(new Error(`kafka: the broker of ${this.topic} is not answering`));
    if (this.queuedBytes >= MAX_QUEUED_BYTES) {
      return Promise.reject(new Error(`kafka: ${this.queuedBytes} bytes already queued for node ${this.nodeId}`));
    }
    return new Promise<void>((resolve, reject) => {
      const bytes = frames.reduce((n, f) => n + f.byteLength, 0);
      this.queue.push(new Queued(frames, bytes, resolve, reject));
      this.queuedBytes += bytes;
      // After the caller's synchronous burst of sends, so that it goes out as one request.
      this.flushing ??= Promise.resolve().then(() => this.flush());
    });
  }

  /** Fails what waits and refuses what comes; a request in flight finishes on its own (see idle()). */
  close(error: Error): void {
    this.closed = error;
    this.rejectQueued(error);
  }

  /** Resolves once no request of this sender is in flight; never rejects. */
  idle(): Promise<void> {
    return this.flushing ?? Promise.resolve();
  }

  private async flush(): Promise<void> {
    try {
      while (this.closed === undefined) {
        const entries = this.queue.splice(0).filter((e) => !e.done);
        this.queuedBytes = 0;
        if (entries.length === 0) break;
        this.inFlight = entries;
        if (!(await this.watch(this.topicExists()))) {
          const error = new Error(`kafka: node ${this.nodeId} has no topic ${this.topic} (never started?)`);
          for (const entry of entries) entry.reject(error);
          continue;
        }
        await this.produce(entries);
      }
    } finally {
      this.inFlight = [];
      this.flushing = undefined;
    }
  }

  /** `call`, a request to the broker; past STALL_MS, the peer's messages fail without waiting for it. */
  private async watch<T>(call: Promise<T>): Promise<T> {
    const timer = setTimeout(() => {
      if (this.stalled) return;
      this.stalled = true;
      this.ctx.log().warning(`kafka: no answer from the broker within ${STALL_MS} ms; failing messages to node ${this.nodeId} until it answers`);
      const error = new Error(`kafka: the broker of ${this.topic} is not answering`);
      for (const entry of this.inFlight) entry.reject(error);
      this.rejectQueued(error);
    }, STALL_MS);
    let answered = false;
    try {
      const result = await call;
      answered = true;
      return result;
    } finally {
      clearTimeout(timer);
      if (this.stalled) {
        // A call kafkajs gave up on (its retries ran out, the broker still
        // away) ends the stall too, so that the next message tries again;
        // only an answer says the broker is back.
        this.stalled = false;
        if (answered && this.closed === undefined) this.ctx.log().warning(`kafka: the broker answers again for node ${this.nodeId}`);
      }
    }
  }

  /** Never rejects: a topic that cannot be looked up counts as missing for now. */
  private async topicExists(): Promise<boolean> {
    if (this.exists) return true;
    if (Date.now() - this.missingAt < MISSING_TOPIC_RECHECK_MS) return false;
    try {
      await this.ctx.admin.fetchTopicMetadata({ topics: [this.topic] });
      this.exists = true;
    } catch {
      this.missingAt = Date.now();
    }
    return this.exists;
  }

  /**
   * Produces the entries' frames in order, in requests that each stay under
   * maxBatchBytes. An entry settles when its last frame is acknowledged; at
   * the first failure it and all after it are rejected. Never rejects.
   */
  private async produce(entries: Queued[]): Promise<void> {
    let settled = 0;
    let complete = 0;
    let records: KafkaRecord[] = [];
    let bytes = 0;
    const send = async (): Promise<void> => {
      await this.watch(this.ctx.producer.send({ topic: this.topic, acks: 1, messages: records }));
      records = [];
      bytes = 0;
      while (settled < complete) entries[settled++]!.resolve();
    };
    try {
      for (const entry of entries) {
        // Given up on (the broker stalled) with nothing of it sent: skip it.
        if (entry.done && records.length === 0) {
          settled = ++complete;
          continue;
        }
        for (const frame of entry.frames) {
          const cost = frame.byteLength + RECORD_OVERHEAD_BYTES;
          if (records.length > 0 && bytes + cost > this.ctx.maxBatchBytes) await send();
          records.push({ partition: PARTITION, value: Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength) });
          bytes += cost;
        }
        complete++;
      }
      if (records.length > 0) await send();
    } catch (e) {
      if (hasErrorType(e, 'UNKNOWN_TOPIC_OR_PARTITION')) {
        this.exists = false;
        this.missingAt = Date.now();
      }
      while (settled < entries.length) entries[settled++]!.reject(e);
    }
  }

  private rejectQueued(error: Error): void {
    for (const entry of this.queue.splice(0)) entry.reject(error);
    this.queuedBytes = 0;
  }
}

/** Whether a kafkajs error, or any error in its chain of causes, has this protocol error type. */
function hasErrorType(e: unknown, type: string): boolean {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 8; cur = cur.cause, depth++) {
    if ((cur as { type?: unknown }).type === type) return true;
  }
  return false;
}

// The broker goes away and comes back mid-run: sends fail and are counted
// meanwhile, nothing throws or crashes the process, and delivery resumes
// both ways without restarting the transports. Runs on a private broker
// (scripts/kafka) so that other test files keep theirs.
import { MessageType, newMessage, type Message } from '@raftbus/core';
import { privateServerUnavailable, startPrivateKafka, waitFor, type PrivateKafka } from '@raftbus/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaTransport } from '../src/index.js';
import { collectingLogger } from './collecting-logger.js';
import { skipReason } from './kafka-server.js';

const unavailable = skipReason ?? privateServerUnavailable('kafka');

describe.skipIf(unavailable !== undefined)(`KafkaTransport across a broker restart${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let broker: PrivateKafka | undefined;
  const logged: string[] = [];
  const logger = collectingLogger(logged);

  beforeAll(async () => {
    broker = await startPrivateKafka();
  }, 180_000);

  afterAll(async () => {
    await broker?.stop();
  }, 60_000);

  it('fails and counts sends while the broker is down, then delivers again both ways', async () => {
    const { brokers } = broker!;
    const inbox = new Map<number, Message[]>([
      [1, []],
      [2, []],
    ]);
    const unreachable: number[] = [];
    const [a, b] = [new KafkaTransport({ brokers, logger }), new KafkaTransport({ brokers, logger })];
    await a.start('restart', 1, { onMessage: (m) => inbox.get(1)!.push(m), onUnreachable: (p) => unreachable.push(p) });
    await b.start('restart', 2, { onMessage: (m) => inbox.get(2)!.push(m), onUnreachable: (p) => unreachable.push(p) });
    // A heartbeat each way every 50 ms, numbered, as a leader and follower would exchange.
    let n = 0;
    const beat = setInterval(() => {
      n++;
      a.send([newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1, commit: n })]);
      b.send([newMessage({ type: MessageType.MsgHeartbeatResp, from: 2, to: 1, term: 1, commit: n })]);
    }, 50);
    try {
      await waitFor(() => inbox.get(1)!.length > 0 && inbox.get(2)!.length > 0, 10_000, 'heartbeats before the restart');

      await broker!.kill();
      const down = n;
      // Within the transport's stall limit (5 s), not kafkajs's minute of retries.
      await waitFor(() => a.stats().sendFailures > 0 && b.stats().sendFailures > 0, 15_000, 'sends failing while the broker is down');
      expect(new Set(unreachable)).toEqual(new Set([1, 2]));

      await broker!.restart();
      const up = n;
      const heardAfter = (id: number) => inbox.get(id)!.some((m) => m.commit > up);
      await waitFor(() => heardAfter(1) && heardAfter(2), 60_000, 'heartbeats sent after the restart, both ways');

      expect(n).toBeGreaterThan(down);
      // Each side's stream stays in order, gaps (lost while down) aside.
      for (const id of [1, 2]) {
        const commits = inbox.get(id)!.map((m) => m.commit);
        expect(commits).toEqual([...commits].sort((x, y) => x - y));
      }
      expect(a.stats().dropped + b.stats().dropped).toBe(0);
    } finally {
      clearInterval(beat);
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 150_000);
});

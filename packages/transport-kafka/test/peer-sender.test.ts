// PeerSender's stall reporting, against a fake producer on fake timers: a
// request the broker has not answered within STALL_MS makes the peer
// unreachable ("no answer from the broker"); only an answer is reported as
// the broker being back. A request kafkajs gives up on (its retries ran out
// with the broker still away) ends the stall without saying so, and a
// sender closed by stop() reports nothing more.
import type { Admin, Producer } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PeerSender, STALL_MS } from '../src/peer-sender.js';
import { collectingLogger } from './collecting-logger.js';

/** A producer whose sends settle when the test says. */
class FakeProducer {
  readonly pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  send(): Promise<unknown> {
    return new Promise((resolve, reject) => this.pending.push({ resolve: () => resolve([]), reject }));
  }
}

function sender(): { peer: PeerSender; producer: FakeProducer; warnings: string[] } {
  const warnings: string[] = [];
  const log = collectingLogger(warnings);
  const producer = new FakeProducer();
  const admin = { fetchTopicMetadata: () => Promise.resolve({ topics: [] }) };
  const peer = new PeerSender(2, 'raftbus.c.2', {
    producer: producer as unknown as Producer,
    admin: admin as unknown as Admin,
    log: () => log,
    maxBatchBytes: 1024 * 1024,
  });
  return { peer, producer, warnings };
}

const frame = () => [new Uint8Array([1, 2, 3])];
const stalledLine = 'kafka: no answer from the broker within 5000 ms; failing messages to node 2 until it answers';
const backLine = 'kafka: the broker answers again for node 2';

/** A publish's outcome, without an unhandled rejection meanwhile. */
const outcome = (p: Promise<void>): Promise<string> =>
  p.then(
    () => 'sent',
    (e: unknown) => (e as Error).message,
  );

describe('PeerSender stall reporting', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports the broker back when a stalled request is answered', async () => {
    const { peer, producer, warnings } = sender();
    const first = outcome(peer.publish(frame()));
    await vi.advanceTimersByTimeAsync(STALL_MS);
    expect(warnings).toEqual([stalledLine]);
    await expect(first).resolves.toBe('kafka: the broker of raftbus.c.2 is not answering');
    producer.pending[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(warnings).toEqual([stalledLine, backLine]);
    // And sends go through again.
    const second = outcome(peer.publish(frame()));
    await vi.advanceTimersByTimeAsync(0);
    producer.pending[1]!.resolve();
    await expect(second).resolves.toBe('sent');
  });

  it('does not report the broker back when kafkajs gives the stalled request up, and stalls again on the next message', async () => {
    const { peer, producer, warnings } = sender();
    void outcome(peer.publish(frame()));
    await vi.advanceTimersByTimeAsync(STALL_MS);
    producer.pending[0]!.reject(new Error('Connection error: connect ECONNREFUSED'));
    await vi.advanceTimersByTimeAsync(0);
    expect(warnings).toEqual([stalledLine]);
    // The stall is over: the next message is tried (and stalls in its turn), not refused at once.
    const next = outcome(peer.publish(frame()));
    await vi.advanceTimersByTimeAsync(0);
    expect(producer.pending).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(STALL_MS);
    await expect(next).resolves.toBe('kafka: the broker of raftbus.c.2 is not answering');
    expect(warnings).toEqual([stalledLine, stalledLine]);
  });

  it('reports nothing once closed, when a stalled request is answered after stop()', async () => {
    const { peer, producer, warnings } = sender();
    void outcome(peer.publish(frame()));
    await vi.advanceTimersByTimeAsync(STALL_MS);
    peer.close(new Error('kafka: transport stopped'));
    producer.pending[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    await peer.idle();
    expect(warnings).toEqual([stalledLine]);
  });
});

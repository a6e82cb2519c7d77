// The reader's handling of an XREAD that is never answered (a half-open
// connection reports no error and returns nothing), against a stand-in for
// the ioredis client whose replies the test gives by hand, on fake clocks.
import { discardLogger } from '@raftbus/core';
import type { Command, Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InboxReader, XREAD_GRACE_MS } from '../src/inbox-reader.js';

const KEY = 'raftbus:{c}:inbox:2';
const BLOCK_MS = 2_000;

/** Just what InboxReader uses of an ioredis client; commands wait for the test to answer them. */
class ScriptedRedis {
  readonly options = {};
  status = 'ready';
  readonly sent: Command[] = [];
  on(): this {
    return this;
  }
  off(): this {
    return this;
  }
  async connect(): Promise<void> {}
  async xrevrange(): Promise<[string, string[]][]> {
    return [['5-0', ['f', 'x']]];
  }
  sendCommand(command: Command): Promise<unknown> {
    this.sent.push(command);
    return command.promise;
  }
  disconnect(): void {
    this.status = 'end';
    for (const command of this.sent) if (!command.isSettled) command.reject(new Error('Connection is closed.'));
  }
  /** The stream id an XREAD reads after (its last argument). */
  readsAfter(command: Command): string {
    const bytes = (command.toWritable({}) as Buffer).toString('latin1');
    return bytes.split('\r\n').at(-2)!;
  }
}

/** XREAD's RESP2-shaped reply: one entry per frame. */
function entries(...list: [id: string, frame: string][]): unknown {
  return [[Buffer.from(KEY), list.map(([id, frame]) => [Buffer.from(id), [Buffer.from('f'), Buffer.from(frame)]])]];
}

/** Lets the reader's loop run what the last reply woke (it re-reads after the setImmediate queue). */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('InboxReader', () => {
  let redis: ScriptedRedis;
  let reader: InboxReader;
  let delivered: string[];

  beforeEach(async () => {
    // setImmediate stays real: the reader's loop needs it; time is the interval's and Date's.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    redis = new ScriptedRedis();
    delivered = [];
    reader = new InboxReader(redis as unknown as Redis, KEY, (frame) => delivered.push(Buffer.from(frame).toString()), {
      blockMs: BLOCK_MS,
      count: 100,
      log: discardLogger,
      logPrefix: 'test',
    });
    await reader.start();
  });

  afterEach(async () => {
    await reader.stop();
    vi.useRealTimers();
  });

  it('reads from the stream end it found at start, then after each entry it delivers', async () => {
    expect(redis.sent).toHaveLength(1);
    expect(redis.readsAfter(redis.sent[0]!)).toBe('5-0');
    redis.sent[0]!.resolve(entries(['6-0', 'a'], ['6-1', 'b']));
    await settle();
    expect(delivered).toEqual(['a', 'b']);
    expect(redis.sent).toHaveLength(2);
    expect(redis.readsAfter(redis.sent[1]!)).toBe('6-1');
  });

  it('gives up on an XREAD unanswered for BLOCK plus the grace, reads again from the same id, and ignores its late reply', async () => {
    await vi.advanceTimersByTimeAsync(BLOCK_MS + XREAD_GRACE_MS);
    await settle();
    expect(redis.sent).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(XREAD_GRACE_MS);
    await settle();
    expect(redis.sent).toHaveLength(2);
    expect(redis.readsAfter(redis.sent[1]!)).toBe('5-0');

    // The abandoned XREAD's reply, should it come, delivers nothing: the
    // entries are read (once) by the XREAD that replaced it.
    redis.sent[0]!.resolve(entries(['6-0', 'late']));
    await settle();
    expect(delivered).toEqual([]);
    redis.sent[1]!.resolve(entries(['6-0', 'late']));
    await settle();
    expect(delivered).toEqual(['late']);
    expect(redis.readsAfter(redis.sent[2]!)).toBe('6-0');
  });

  it('leaves an answered XREAD alone however long the reader then waits, and stops its check on stop()', async () => {
    redis.sent[0]!.resolve(null);
    await settle();
    expect(redis.sent).toHaveLength(2);
    redis.sent[1]!.resolve(entries(['7-0', 'x']));
    await settle();
    await vi.advanceTimersByTimeAsync(BLOCK_MS / 2);
    await settle();
    expect(redis.sent).toHaveLength(3);
    expect(delivered).toEqual(['x']);
    await reader.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});

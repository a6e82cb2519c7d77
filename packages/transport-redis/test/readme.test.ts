// The README's snippet, as a test (the URL from the test's Redis; the wait
// for delivery made a bounded poll).
import { MessageType, newMessage } from '@raftbus/core';
import { deleteClusterKeys, findRedis, waitFor, whyNo } from '@raftbus/testkit';
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { RedisTransport } from '../src/index.js';

const noRedis = whyNo('redis');

it.skipIf(noRedis !== undefined)(`runs the README example${noRedis ? ` (skipped: ${noRedis})` : ''}`, async () => {
  const redis = await findRedis();
  const log: string[] = [];
  const console = { log: (line: string) => log.push(line) };
  const process = { env: { REDIS_URL: redis.url } };
  try {
    const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const a = new RedisTransport({ url });
    const b = new RedisTransport({ url });
    await a.start('payments', 1, { onMessage: () => {} });
    await b.start('payments', 2, {
      onMessage: (m) => console.log(`node 2 got ${MessageType[m.type]} from node ${m.from}`),
    });

    a.send([newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1 })]);
    await waitFor(() => log.length > 0, 10_000, 'the heartbeat at node 2');
    // → node 2 got MsgHeartbeat from node 1

    await Promise.all([a.stop(), b.stop()]);
    expect(log).toEqual(['node 2 got MsgHeartbeat from node 1']);
  } finally {
    await deleteClusterKeys(() => new Redis(redis.url), ['payments']);
    await redis.stop();
  }
});

// emitRepliesOnArrival: replies reach ioredis's parser as the socket emits
// them, not through the Readable's buffer (stream.read() on a later tick),
// on the first connection and on every reconnection. withoutQueryOptions:
// the reader's URL keeps everything but the options it must not take.
import { findRedis, waitFor, whyNo, type ServerHandle } from '@raftbus/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { emitRepliesOnArrival, withoutQueryOptions } from '../src/connection.js';

const noRedis = whyNo('redis');

/**
 * How many times data was taken from the socket's buffer with read() while
 * `pings` PINGs were answered. (Node also calls read(0) to top the buffer
 * up; that takes no data and is not counted.)
 */
async function bufferedReadsDuring(redis: Redis, pings: number): Promise<number> {
  const stream = redis.stream;
  const read = stream.read;
  let calls = 0;
  stream.read = function (this: typeof stream, ...args: Parameters<typeof read>) {
    if (args[0] !== 0) calls++;
    return read.apply(this, args);
  };
  try {
    for (let i = 0; i < pings; i++) expect(await redis.ping()).toBe('PONG');
  } finally {
    stream.read = read;
  }
  return calls;
}

describe.skipIf(noRedis !== undefined)(`emitRepliesOnArrival${noRedis ? ` (skipped: ${noRedis})` : ''}`, () => {
  let service: ServerHandle;
  const clients: Redis[] = [];
  beforeAll(async () => {
    service = await findRedis();
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect();
  });
  afterAll(() => service?.stop());

  function client(): Redis {
    const c = new Redis(service.url, { lazyConnect: true });
    c.on('error', () => {});
    clients.push(c);
    return c;
  }

  it('without it, ioredis takes every reply through the buffered read path (the control)', async () => {
    const plain = client();
    await plain.connect();
    expect(await bufferedReadsDuring(plain, 20)).toBeGreaterThan(0);
  });

  it('with it, replies are handed over as they arrive, also after a reconnection', async () => {
    const redis = client();
    emitRepliesOnArrival(redis);
    await redis.connect();
    await waitFor(() => redis.stream.listenerCount('data') === 2, 5_000, 'the listener on the first socket');
    expect(await bufferedReadsDuring(redis, 20)).toBe(0);

    const first = redis.stream;
    const id = await redis.client('ID');
    await client().client('KILL', 'ID', String(id));
    await waitFor(() => redis.stream !== first && redis.status === 'ready', 10_000, 'the reconnection');
    await waitFor(() => redis.stream.listenerCount('data') === 2, 5_000, 'the listener on the new socket');
    expect(await bufferedReadsDuring(redis, 20)).toBe(0);
  });
});

describe('withoutQueryOptions', () => {
  const drop = ['commandTimeout', 'socketTimeout'];
  it.each([
    ['redis://h:6379', 'redis://h:6379'],
    ['redis://u:p@h:6379/2?socketTimeout=50', 'redis://u:p@h:6379/2'],
    ['rediss://h:6380/0?commandTimeout=5&family=6&socketTimeout=9', 'rediss://h:6380/0?family=6'],
    ['h:6379?db=3&commandTimeout=5', 'h:6379?db=3'],
    ['/tmp/redis.sock?socketTimeout=1&db=2', '/tmp/redis.sock?db=2'],
  ])('%s -> %s', (url, want) => {
    expect(withoutQueryOptions(url, drop)).toBe(want);
  });
});

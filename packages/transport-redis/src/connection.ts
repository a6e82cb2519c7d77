// Opening the connections the transport owns.
import { Redis, type RedisOptions } from 'ioredis';

export function createRedis(url: string | undefined, options: RedisOptions): Redis {
  return url === undefined ? new Redis(options) : new Redis(url, options);
}

/**
 * `url` without the query parameters `names`. ioredis takes a URL's query
 * parameters as options ahead of the options object, so an option the
 * object leaves unset on purpose must also leave the URL.
 */
export function withoutQueryOptions(url: string, names: readonly string[]): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const name of names) params.delete(name);
  const rest = params.toString();
  return url.slice(0, q) + (rest === '' ? '' : `?${rest}`);
}

/**
 * Connects a lazyConnect client. On failure, stops its reconnecting and
 * rejects with what went wrong (WRONGPASS, ECONNREFUSED…) rather than
 * ioredis's bare "Connection is closed."
 */
export async function connectOrClose(redis: Redis): Promise<void> {
  let cause: unknown;
  const remember = (error: unknown): void => {
    cause ??= error;
  };
  redis.on('error', remember);
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw cause ?? error;
  } finally {
    redis.off('error', remember);
  }
}

/**
 * Waits (at most `timeoutMs`) for a client the caller owns to be ready,
 * connecting it if it was created with lazyConnect. Never throws: a client
 * that does not become ready makes sends fail (and count) until it does.
 */
export async function untilReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  if (redis.status === 'wait') {
    await redis.connect().catch(() => {});
    return;
  }
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      redis.off('ready', done);
      redis.off('end', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    redis.once('ready', done);
    redis.once('end', done);
  });
}

/**
 * Makes the client's socket hand each chunk of replies to ioredis as it
 * arrives. ioredis attaches its reply parser with prependListener('data'),
 * which a Readable does not count as a 'data' listener, so every chunk is
 * buffered and handed over a tick later (emitReadable, flow, read): a few
 * microseconds per reply, on every message. A listener added with on()
 * lets the socket emit chunks directly. Each connection gets a new socket,
 * hence on every 'connect'. For connections the transport owns.
 */
export function emitRepliesOnArrival(redis: Redis): void {
  redis.on('connect', () => {
    const stream = redis.stream;
    if (stream !== undefined && !stream.listeners('data').includes(ignoreData)) stream.on('data', ignoreData);
  });
}

function ignoreData(): void {}

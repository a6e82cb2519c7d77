// Redis Streams as RedisTransport uses them: each inbox a stream read by a
// connection of its own with XREAD COUNT 100 BLOCK 2000 from the last id
// seen; each frame one XADD MAXLEN ~ 10000 on a separate publishing
// connection, issued without waiting for the previous one (ioredis
// pipelines them on the socket).
import { DEFAULT_BLOCK_MS, DEFAULT_MAXLEN, DEFAULT_READ_COUNT, inboxKey } from '@raftbus/transport-redis';
import type { BusEndpoint, BusLink } from './bus-link.js';
import { ioredis, type RedisClient } from './clients.js';

type XReadReply = [key: Buffer, entries: [id: Buffer, fields: Buffer[]][]][] | null;

const FIELD = 'f';

export class RedisLink implements BusLink {
  readonly bus = 'redis';
  private readonly keys = new Set<string>();

  /**
   * @param namespace the inboxes' streams are this link's own; another
   *   process reaches the same inboxes through a link with the same one.
   */
  constructor(
    private readonly url: string,
    readonly namespace = `bench-${process.pid}-${Date.now().toString(36)}`,
  ) {}

  async endpoint(id: number, deliver: (frame: Uint8Array) => void): Promise<BusEndpoint> {
    const { Redis } = ioredis();
    const key = inboxKey(this.namespace, id);
    this.keys.add(key);
    const reader = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, replyMapping: 'legacy' });
    const publisher = new Redis(this.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    reader.on('error', () => undefined);
    publisher.on('error', () => undefined);
    await Promise.all([reader.connect(), publisher.connect()]);
    const last = await reader.xrevrange(key, '+', '-', 'COUNT', 1);
    let lastId = last[0]?.[0] ?? '0-0';
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        let reply: XReadReply;
        try {
          reply = (await reader.xreadBuffer('COUNT', DEFAULT_READ_COUNT, 'BLOCK', DEFAULT_BLOCK_MS, 'STREAMS', key, lastId)) as XReadReply;
        } catch {
          return; // closed by close()
        }
        for (const [, entries] of reply ?? []) {
          for (const [entryId, fields] of entries) {
            lastId = entryId.toString('latin1');
            if (fields[1] !== undefined) deliver(fields[1]);
          }
        }
      }
    })();
    const namespace = this.namespace;
    const maxlen = String(DEFAULT_MAXLEN);
    return {
      send: async (to, frame) => {
        await publisher.xadd(inboxKey(namespace, to), 'MAXLEN', '~', maxlen, '*', FIELD, Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
      },
      async close() {
        stopped = true;
        reader.disconnect();
        publisher.disconnect();
        await loop;
      },
    };
  }

  async close(): Promise<void> {
    const { Redis } = ioredis();
    const redis = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      if (this.keys.size > 0) await redis.del(...this.keys);
    } finally {
      redis.disconnect();
    }
  }
}

// Raft over Redis Streams. Each node reads one inbox stream,
// raftbus:{<clusterId>}:inbox:<nodeId>; sending is an XADD of the frames to
// the addressee's inbox, trimmed approximately to `maxlen` entries. The
// framing base class turns messages into frames (chunks, HMAC) and back.
import { ErrInvalidConfig, getLogger, type Logger, type Message } from '@raftbus/core';
import { FramedTransport, type FramingOptions } from '@raftbus/framing';
import type { Pipeline, Redis, RedisOptions } from 'ioredis';
import { connectOrClose, createRedis, emitRepliesOnArrival, untilReady, withoutQueryOptions } from './connection.js';
import { ErrPublishAborted, ErrRedisUnavailable } from './errors.js';
import { inboxKey } from './inbox-key.js';
import { InboxReader } from './inbox-reader.js';
import { XaddEncoder } from './stream-commands.js';

/** Where the transport's connections come from. */
export type RedisConnectionOptions =
  | {
      /**
       * An ioredis client to publish with. The transport never closes it and
       * reads through a duplicate() of it, which it owns.
       */
      client: Redis;
      url?: never;
      redis?: never;
    }
  | {
      client?: never;
      /** A redis:// or rediss:// (TLS) URL; default localhost:6379. */
      url?: string;
      /** ioredis options (username, password, tls, retryStrategy…), merged over the URL's. */
      redis?: RedisOptions;
    };

export type RedisTransportOptions = RedisConnectionOptions &
  Partial<FramingOptions> & {
    /** Entries an inbox stream is trimmed to, approximately (XADD MAXLEN ~). Default 10 000. */
    maxlen?: number;
    /** How long one XREAD blocks (ms). Default 2000. */
    blockMs?: number;
    /** Most entries one XREAD returns. Default 100. */
    readCount?: number;
    /** Where log lines about the connection go; any core Logger fits. Default: the core's logger (getLogger()). */
    logger?: RedisTransportLogger;
  };

/** Where log lines about the connection go; any core Logger fits. */
export type RedisTransportLogger = Pick<Logger, 'debug' | 'info' | 'warning' | 'error'>;

export const DEFAULT_MAX_FRAME_BYTES = 512 * 1024;
export const DEFAULT_MAXLEN = 10_000;
export const DEFAULT_BLOCK_MS = 2_000;
export const DEFAULT_READ_COUNT = 100;
/** How long start() waits for the caller's client to be ready (it is not the transport's to fail on). */
const CLIENT_READY_TIMEOUT_MS = 10_000;

interface Joined {
  clusterId: string;
  publisher: Redis;
  ownsPublisher: boolean;
  reader: InboxReader;
  /** Per peer, its inbox's XADD, encoded once. */
  xadds: Map<number, XaddEncoder>;
}

export class RedisTransport extends FramedTransport {
  private readonly connection: RedisConnectionOptions;
  private readonly maxlen: string;
  private readonly blockMs: number;
  private readonly readCount: number;
  /** The most frame bytes one stream entry carries (maxFrameBytes). */
  private readonly maxEntryBytes: number;
  private readonly log: RedisTransportLogger;
  private joined: Joined | undefined;
  /** The publishing connection, when this send() corked it (and so uncorks it). */
  private corked: Redis['stream'] | undefined;

  constructor(options: RedisTransportOptions = {}) {
    const { client, url, redis, maxlen, blockMs, readCount, logger, ...framing } = options;
    const maxFrameBytes = framing.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    super({ ...framing, maxFrameBytes, orderedPerPeer: true });
    this.maxEntryBytes = maxFrameBytes;
    if (client !== undefined && (url !== undefined || redis !== undefined)) {
      throw new ErrInvalidConfig('redis transport: pass either client or url/redis options, not both');
    }
    this.connection = client !== undefined ? { client } : { url, redis };
    this.maxlen = String(positiveInteger('maxlen', maxlen ?? DEFAULT_MAXLEN));
    this.blockMs = positiveInteger('blockMs', blockMs ?? DEFAULT_BLOCK_MS);
    this.readCount = positiveInteger('readCount', readCount ?? DEFAULT_READ_COUNT);
    this.log = logger ?? getLogger();
  }

  protected async connect(clusterId: string, nodeId: number, deliver: (frame: Uint8Array) => void): Promise<void> {
    const { client, url, redis } = this.connection;
    // The blocking reader fails fast while disconnected (no offline queue,
    // no retried or resent requests) so that its loop, not ioredis, decides
    // when to read again and from which id. The reader itself ends an
    // XREAD stuck on a half-open connection (see InboxReader). So the
    // caller's timeouts stay off this connection: an idle XREAD waits blockMs
    // for its reply, which a shorter commandTimeout would reject and a
    // shorter socketTimeout would answer by closing the connection. ioredis
    // arms either only when set: undefined turns it off (0 would not), once
    // the URL's query does not set it either.
    const readerOptions: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      replyMapping: 'legacy',
      commandTimeout: undefined,
      socketTimeout: undefined,
    };
    const logPrefix = `transport-redis ${clusterId}/${nodeId}`;
    const readerUrl = url === undefined ? undefined : withoutQueryOptions(url, ['commandTimeout', 'socketTimeout']);
    const readerRedis = client !== undefined ? client.duplicate(readerOptions) : createRedis(readerUrl, { ...redis, ...readerOptions });
    // ioredis reports every failed reconnection attempt; the reader's loop
    // and the send failures say what matters.
    readerRedis.on('error', (e: Error) => this.log.debug(`${logPrefix}: inbox connection: ${e.message}`));
    emitRepliesOnArrival(readerRedis);
    const reader = new InboxReader(readerRedis, inboxKey(clusterId, nodeId), deliver, {
      blockMs: this.blockMs,
      count: this.readCount,
      log: this.log,
      logPrefix,
    });
    await reader.start();

    let publisher: Redis;
    if (client !== undefined) {
      publisher = client;
      // Sends fail while it is not ready: let start() resolve when they can go out.
      await untilReady(publisher, CLIENT_READY_TIMEOUT_MS);
    } else {
      // Raft messages go stale in milliseconds: a send that cannot go out
      // now fails now (and is reported unreachable) rather than queueing.
      publisher = createRedis(url, { ...redis, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
      publisher.on('error', (e: Error) => this.log.debug(`${logPrefix}: publishing connection: ${e.message}`));
      emitRepliesOnArrival(publisher);
      try {
        await connectOrClose(publisher);
      } catch (error) {
        await reader.stop();
        throw error;
      }
    }
    this.joined = { clusterId, publisher, ownsPublisher: client === undefined, reader, xadds: new Map() };
  }

  /**
   * The XADDs of one send() (a leader's appends to each follower) leave in
   * one write as soon as all are issued, not when the caller's turn ends:
   * a node sends first and then starts its save (framing, checksums, a
   * small write) and its applies, which would otherwise hold them back.
   */
  override send(messages: readonly Message[]): void {
    super.send(messages);
    const stream = this.corked;
    this.corked = undefined;
    if (stream !== undefined && stream.writableCorked > 0) stream.uncork();
  }

  // Not async: a message of one frame (nearly all) costs one command and the
  // promise ioredis settles, nothing more. The XADDs are issued before
  // anything is awaited, so frames leave in the order publish() is called:
  // per peer, the order of send().
  protected publish(to: number, frames: Uint8Array[], chunked: boolean): Promise<void> {
    const joined = this.joined;
    if (joined === undefined) return Promise.reject(new ErrRedisUnavailable('not started'));
    const { publisher } = joined;
    if (publisher.status !== 'ready') {
      if (joined.ownsPublisher && publisher.status === 'end') publisher.connect().catch(() => {});
      return Promise.reject(new ErrRedisUnavailable(publisher.status));
    }
    if (corkUntilNextTick(publisher)) this.corked = publisher.stream;
    if (frames.length === 1) {
      const command = this.xaddTo(joined, to).command(frames[0]!);
      publisher.sendCommand(command);
      return command.promise as Promise<unknown> as Promise<void>;
    }
    // A chunked message goes in one MULTI/EXEC: all its chunks or none.
    // Whole messages need no transaction: pipelined, they keep their order.
    if (chunked) return publishAll(publisher, this.xaddTo(joined, to), frames);
    return publishEntries(publisher, this.xaddTo(joined, to), frames, this.maxEntryBytes);
  }

  private xaddTo(joined: Joined, to: number): XaddEncoder {
    let xadd = joined.xadds.get(to);
    if (xadd === undefined) {
      // ioredis prefixes the keys of the commands it builds; this one is built here.
      const prefix = joined.publisher.options.keyPrefix;
      const key = inboxKey(joined.clusterId, to);
      xadd = new XaddEncoder(prefix ? prefix + key : key, this.maxlen);
      joined.xadds.set(to, xadd);
    }
    return xadd;
  }

  protected async disconnect(): Promise<void> {
    const joined = this.joined;
    this.joined = undefined;
    if (joined === undefined) return;
    // disconnect() ends the socket after what was written, so XADDs already
    // issued still reach the server.
    if (joined.ownsPublisher) joined.publisher.disconnect();
    await joined.reader.stop();
  }
}

/**
 * Whole messages to one peer: as few entries as hold them within
 * `maxEntryBytes` of frames, one XADD each, pipelined. One XADD per frame
 * would wake the peer's blocked XREAD with the first frame alone: Redis
 * answers a blocked reader as soon as the command that fed it has run. The
 * peer would then read again for the rest, a round trip later (a leader's
 * commit-only append and the next proposal's append, say).
 */
function publishEntries(publisher: Redis, xadd: XaddEncoder, frames: Uint8Array[], maxEntryBytes: number): Promise<void> {
  const sent: Promise<unknown>[] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i <= frames.length; i++) {
    if (i < frames.length && (i === start || bytes + frames[i]!.length <= maxEntryBytes)) {
      bytes += frames[i]!.length;
      continue;
    }
    const command = i - start === 1 ? xadd.command(frames[start]!) : xadd.commandMany(frames.slice(start, i));
    publisher.sendCommand(command);
    sent.push(command.promise as Promise<unknown>);
    start = i;
    bytes = i < frames.length ? frames[i]!.length : 0;
  }
  return Promise.all(sent).then(() => undefined);
}

/** A chunked message's frames (and any sent with it): one MULTI/EXEC, all of them or none. */
async function publishAll(publisher: Redis, xadd: XaddEncoder, frames: Uint8Array[]): Promise<void> {
  const tx = publisher.multi();
  // ioredis's typings leave sendCommand off what multi() returns; it is a Pipeline.
  for (const frame of frames) (tx as unknown as Pipeline).sendCommand(xadd.command(frame));
  const results = await tx.exec();
  if (results === null) throw new ErrPublishAborted('redis transport: MULTI/EXEC aborted');
  for (const [error] of results) if (error) throw error;
}

/**
 * Holds the connection's writes until send() has issued all of its XADDs
 * (it uncorks), or else until the current synchronous stretch ends: the
 * XADDs of one send() cost one syscall, not one each. False when the
 * connection was corked already (by an earlier call, or by its owner).
 */
function corkUntilNextTick(publisher: Redis): boolean {
  const stream = publisher.stream;
  if (stream.writableCorked > 0) return false;
  stream.cork();
  process.nextTick(() => stream.uncork());
  return true;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new ErrInvalidConfig(`redis transport: ${name} must be a positive integer, got ${String(value)}`);
  return value;
}

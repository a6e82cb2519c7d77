// The receiving half: one blocking connection that reads a node's inbox
// stream with XREAD BLOCK and hands each frame on. It owns its connection,
// outlives connection loss (ioredis reconnects; the loop backs off and
// resumes from the last id it saw) and stops promptly: stop() closes the
// connection, which fails the XREAD it is blocked in.
import type { Logger } from '@raftbus/core';
import type { Command, Redis } from 'ioredis';
import { connectOrClose } from './connection.js';
import { FRAME_FIELD } from './inbox-key.js';
import { XreadEncoder } from './stream-commands.js';

export interface InboxReaderOptions {
  /** How long one XREAD blocks waiting for frames (ms). */
  blockMs: number;
  /** Most entries one XREAD returns. */
  count: number;
  log: Pick<Logger, 'info' | 'warning' | 'error'>;
  /** Starts the reader's log lines, e.g. "transport-redis payments/1". */
  logPrefix: string;
}

/** XREAD's reply in ioredis's legacy (RESP2-shaped) mapping, with Buffers. */
type XReadReply = [key: Buffer, entries: [id: Buffer, fields: Buffer[]][]][] | null;

const FIELD = Buffer.from(FRAME_FIELD);
const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 1_000;
/**
 * How much longer than BLOCK an XREAD may go unanswered before the reader
 * gives up on it (a half-open connection answers nothing and reports no
 * error); also how often it checks.
 */
export const XREAD_GRACE_MS = 1_000;

export class InboxReader {
  private lastId = '0-0';
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly xread: XreadEncoder;
  /** The XREAD awaiting its reply, and when it was sent. */
  private pending: Command | undefined;
  private pendingSince = 0;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly deliver: (frame: Uint8Array) => void,
    private readonly options: InboxReaderOptions,
  ) {
    // ioredis prefixes the keys of the commands it builds; this one is built here.
    const prefix = redis.options.keyPrefix;
    this.xread = new XreadEncoder(prefix ? prefix + key : key, options.count, options.blockMs);
  }

  /**
   * Connects and starts reading what is added to the inbox from now on.
   * Rejects (and closes the connection) if Redis cannot be reached.
   */
  async start(): Promise<void> {
    await connectOrClose(this.redis);
    try {
      // Read from the stream's current end, as XREAD's `$` would, but pinned
      // to a concrete id: `$` re-evaluated on every call would skip what
      // arrives between two calls, and resolving it here means everything
      // added once start() resolves is read.
      const last = await this.redis.xrevrange(this.key, '+', '-', 'COUNT', 1);
      this.lastId = last[0]?.[0] ?? '0-0';
    } catch (error) {
      this.redis.disconnect();
      throw error;
    }
    this.watchdog = setInterval(() => this.expireStuckRead(), XREAD_GRACE_MS).unref();
    this.loop = this.run();
  }

  /** Stops reading and closes the connection. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watchdog);
    this.wake?.();
    this.redis.disconnect();
    await this.loop;
  }

  /**
   * Ends an XREAD unanswered for BLOCK plus the grace as if BLOCK had
   * expired (null), so the loop reads again; a reply that comes later
   * resolves nothing. One check a second per reader, rather than a timer
   * per XREAD (ioredis's blockingTimeout), which every message would pay for.
   */
  private expireStuckRead(): void {
    const pending = this.pending;
    if (pending !== undefined && !pending.isSettled && Date.now() - this.pendingSince > this.options.blockMs + XREAD_GRACE_MS) pending.resolve(null);
  }

  /** Sends one XREAD BLOCK from lastId; resolves with its reply. */
  private read(): Promise<XReadReply> {
    const command = this.xread.command(this.lastId);
    this.pending = command;
    this.pendingSince = Date.now();
    this.redis.sendCommand(command);
    return command.promise as Promise<XReadReply>;
  }

  private async run(): Promise<void> {
    let backoff = 0;
    while (!this.stopped) {
      let reply: XReadReply;
      try {
        reply = await this.read();
      } catch (error) {
        if (this.stopped) return;
        if (backoff === 0) {
          this.options.log.warning(
            `${this.options.logPrefix}: reading ${this.key} failed (${message(error)}); retrying, from entry ${this.lastId}, until Redis is back`,
          );
        }
        backoff = Math.min(MAX_BACKOFF_MS, Math.max(MIN_BACKOFF_MS, backoff * 2));
        await this.pause(backoff);
        // A retryStrategy that gave up leaves the connection ended; this
        // connection is ours, so start it again rather than read nothing.
        if (!this.stopped && this.redis.status === 'end') this.redis.connect().catch(() => {});
        continue;
      }
      if (backoff > 0) this.options.log.info(`${this.options.logPrefix}: reading ${this.key} again, from entry ${this.lastId}`);
      backoff = 0;
      if (reply === null || this.stopped) continue;
      try {
        this.consume(reply);
      } catch (error) {
        // A reply of an unexpected shape: report it and go on (slowly, in
        // case it comes back), rather than end the loop.
        this.options.log.error(`${this.options.logPrefix}: unexpected XREAD reply from ${this.key}: ${message(error)}`);
        await this.pause(MAX_BACKOFF_MS);
        continue;
      }
      // Read again only once what this reply woke has run (a node's loop
      // wakes by setImmediate): its answer, an XADD, then goes out before
      // this XREAD, rather than waiting for another write to the socket.
      // What arrives meanwhile waits in the stream for the next XREAD.
      await afterImmediates();
    }
  }

  private consume(reply: NonNullable<XReadReply>): void {
    for (const [, entries] of reply) {
      for (const [id, fields] of entries) {
        this.lastId = id.toString('latin1');
        for (let i = 0; i + 1 < fields.length; i += 2) {
          if (!fields[i]!.equals(FIELD)) continue;
          try {
            this.deliver(fields[i + 1]!);
          } catch (error) {
            // A throwing handler must not stall the inbox or replay the frame.
            this.options.log.error(`${this.options.logPrefix}: message handler threw: ${message(error)}`);
          }
        }
      }
    }
  }

  /** Sleeps `ms`, or less if stop() is called meanwhile. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

/** Resolves after the setImmediate callbacks queued before it have run. */
function afterImmediates(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

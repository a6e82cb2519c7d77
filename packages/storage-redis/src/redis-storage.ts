// RedisStorage: raft's durable storage in Redis, under three keys per node
// (keys.ts): the log as a sorted set scored by index, the hard state, and
// the newest snapshot.
//
// Reads are answered from memory, as FileStorage does: MemoryBackedStorage
// (the core's) holds the newest snapshot and the log after the compaction
// point, checks every write at call time, and changes memory only once Redis
// has acknowledged the write. So a read never returns something Redis does
// not hold, and a failed write leaves the reads correct.
//
// Writes go through one queue in call order. Queued writes are committed
// together in one MULTI/EXEC (all of them or none), one transaction at a
// time. Each write's commands are idempotent (SET, DEL, ZREMRANGEBYSCORE +
// ZADD), so a transaction whose reply was lost with the connection is simply
// run again.
import {
  MemoryBackedStorage,
  MemoryStorage,
  decodeEntry,
  decodeHardState,
  decodeSnapshot,
  encodeEntry,
  encodeHardState,
  encodeSnapshot,
  getLogger,
  newHardState,
  newSnapshot,
  type DurableStorageCapabilities,
  type Logger,
  type PersistBatch,
  type Snapshot,
} from '@raftbus/core';
import { Redis, type ChainableCommander, type RedisOptions } from 'ioredis';
import { isDurable, notDurable, readDurabilityConfig } from './durability.js';
import { ErrCompactBeyondSnapshot, ErrCorruptStorage, ErrStorageClosed, ErrStorageFailed } from './errors.js';
import { storageKeys, type StorageKeys } from './keys.js';

/** Where the storage's connection comes from. */
export type RedisStorageConnectionOptions =
  | {
      /** An ioredis client to use. The storage never closes it. */
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

export type RedisStorageOptions = RedisStorageConnectionOptions & {
  /** The raft cluster and node whose state this is: keys raftbus:{<clusterId>}:node:<nodeId>:*. */
  clusterId: string;
  nodeId: number;
  /**
   * Use a Redis that acknowledges writes before they are on disk (anything
   * but appendonly yes + appendfsync always): a crash of Redis may then lose
   * acknowledged writes, and capabilities.durable is false. Default false:
   * open() refuses such a Redis with ErrNotDurable.
   */
  acceptWeakDurability?: boolean;
  /** Where retried writes and recovery notes are reported. Default: the core's getLogger(). */
  logger?: Logger;
};

interface Write {
  /** Adds the write's commands to the transaction. Must be idempotent. */
  commands(tx: ChainableCommander): void;
  /** Updates `mem` once Redis has acknowledged the write. */
  apply(): void;
  resolve(): void;
  reject(error: unknown): void;
}

const MIN_RETRY_MS = 50;
const MAX_RETRY_MS = 1_000;
/** Server replies that say "not now" rather than "no". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|CLUSTERDOWN|READONLY)\b/;

export class RedisStorage extends MemoryBackedStorage {
  private readonly options: RedisStorageOptions;
  private readonly keys: StorageKeys;
  private durable = false;
  private redis: Redis | undefined;
  private queue: Write[] = [];
  private draining: Promise<void> | undefined;

  constructor(options: RedisStorageOptions) {
    super();
    this.options = options;
    this.keys = storageKeys(options.clusterId, options.nodeId);
  }

  /** Whether acknowledged saves survive a crash of Redis: known once open() has resolved (false before). */
  get capabilities(): DurableStorageCapabilities {
    return { durable: this.durable };
  }

  private get logger(): Logger {
    return this.options.logger ?? getLogger();
  }

  // ---- durable writes (MemoryBackedStorage checks them and applies them to memory) ----

  protected persistBatch(batch: PersistBatch, apply: () => void): Promise<void> {
    const { snapshot, entries, hardState } = batch;
    const keys = this.keys;
    const snapBytes = snapshot && asBuffer(encodeSnapshot(snapshot));
    const hardStateBytes = hardState && asBuffer(encodeHardState(hardState));
    const members: (string | Buffer)[] = [];
    for (const e of entries) members.push(String(e.index), asBuffer(encodeEntry(e)));

    return this.enqueue({
      commands(tx) {
        // A snapshot from the leader replaces the whole log.
        if (snapBytes !== undefined) tx.del(keys.log).set(keys.snapshot, snapBytes);
        if (members.length > 0) tx.zremrangebyscore(keys.log, entries[0]!.index, '+inf').zadd(keys.log, ...members);
        if (hardStateBytes !== undefined) tx.set(keys.hardState, hardStateBytes);
      },
      apply,
    });
  }

  protected persistSnapshot(snapshot: Snapshot, apply: () => void): Promise<void> {
    const bytes = asBuffer(encodeSnapshot(snapshot));
    const key = this.keys.snapshot;
    return this.enqueue({ commands: (tx) => tx.set(key, bytes), apply });
  }

  /** compact() discards the log before `index` (which the latest snapshot must cover) in memory; this, in Redis. */
  protected persistCompaction(index: number): Promise<void> {
    // Entry `index` goes too: after a reopen the snapshot (at or past it) stands in for it.
    const key = this.keys.log;
    return this.enqueue({ commands: (tx) => tx.zremrangebyscore(key, '-inf', index), apply: () => {} });
  }

  private enqueue(write: Omit<Write, 'resolve' | 'reject'>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ...write, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue.splice(0);
      try {
        await this.commit(group);
      } catch (error) {
        // What Redis holds is now unknown: refuse everything until reopened.
        const failure = this.fail(error);
        for (const w of [...group, ...this.queue.splice(0)]) w.reject(failure);
        break;
      }
      for (const w of group) {
        try {
          w.apply();
          w.resolve();
        } catch (error) {
          // Memory refused what Redis accepted (a bug): stop writing rather than diverge further.
          this.fail(error);
          w.reject(error);
        }
      }
    }
    this.draining = undefined;
  }

  /** Runs the group's commands in one MULTI/EXEC; retries while Redis is unreachable (the commands are idempotent). */
  private async commit(group: readonly Write[]): Promise<void> {
    const redis = this.redis!;
    let retryMs = 0;
    for (;;) {
      const tx = redis.multi();
      for (const w of group) w.commands(tx);
      let error: unknown;
      try {
        const results = await tx.exec();
        if (results === null) throw new Error('MULTI/EXEC aborted');
        const failed = results.find(([e]) => e);
        if (failed === undefined) {
          if (retryMs > 0) this.logger.info(`storage-redis: ${this.keys.log}: write went through after retrying`);
          return;
        }
        error = failed[0];
      } catch (e) {
        error = e;
      }
      if (!isTransient(error) || this.state !== 'open') throw error;
      if (retryMs === 0) {
        this.logger.warning(`storage-redis: ${this.keys.log}: write failed (${errorMessage(error)}); retrying until Redis is back`);
      }
      retryMs = Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, retryMs * 2));
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  }

  // ---- open / close ----

  // open() connects, checks that Redis makes writes durable (ErrNotDurable if
  // not, unless acceptWeakDurability), and reads the node's state into memory
  // (ErrCorruptStorage if it is not a valid log); a new RedisStorage reopens
  // the keys. close() waits for queued writes (while Redis answers), then
  // releases the connection it made.

  protected override async finishWrites(): Promise<void> {
    while (this.draining !== undefined) await this.draining;
  }

  protected override async releaseStore(): Promise<void> {
    if (this.options.client === undefined) this.redis?.disconnect();
  }

  protected override async openStore(): Promise<void> {
    const { client, url, redis: redisOptions } = this.options;
    let redis: Redis;
    if (client !== undefined) {
      redis = client;
      if (redis.status === 'wait') await redis.connect();
    } else {
      // Fail fast while disconnected: the write queue, not ioredis, retries.
      const options: RedisOptions = {
        ...redisOptions,
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        replyMapping: 'legacy',
      };
      redis = url === undefined ? new Redis(options) : new Redis(url, options);
      redis.on('error', () => {}); // connection errors surface as failed (and retried) writes
      await connectOrClose(redis);
    }
    try {
      const config = await readDurabilityConfig(redis).catch((e: unknown) => {
        if (this.options.acceptWeakDurability) return undefined;
        throw e;
      });
      this.durable = config !== undefined && isDurable(config);
      if (!this.durable && !this.options.acceptWeakDurability) throw notDurable(config!);
      await this.load(redis);
    } catch (error) {
      if (client === undefined) redis.disconnect();
      throw error;
    }
    this.redis = redis;
  }

  /** Reads the node's keys (in one MULTI/EXEC, a consistent view) and rebuilds `mem`. */
  private async load(redis: Redis): Promise<void> {
    const { keys } = this;
    const results = await redis.multi().zrangeBuffer(keys.log, '0', '-1').getBuffer(keys.snapshot).getBuffer(keys.hardState).exec();
    if (results === null) throw new Error('MULTI/EXEC aborted');
    for (const [error] of results) if (error) throw error;
    const [logReply, snapReply, hardStateReply] = results.map(([, value]) => value) as [Buffer[], Buffer | null, Buffer | null];

    const snap = snapReply === null ? newSnapshot() : decodeOr(keys.snapshot, () => decodeSnapshot(snapReply));
    const F = snap.metadata;
    const log = logReply.map((member, k) => decodeOr(keys.log, () => decodeEntry(member), `member ${k}`));
    for (let k = 1; k < log.length; k++) {
      if (log[k]!.index <= log[k - 1]!.index) {
        throw new ErrCorruptStorage(keys.log, `entry ${log[k]!.index} is scored after entry ${log[k - 1]!.index}`);
      }
    }
    const atSnap = log.find((e) => e.index === F.index);
    if (F.index > 0 && atSnap !== undefined && atSnap.term !== F.term) {
      throw new ErrCorruptStorage(keys.log, `term ${atSnap.term} at index ${F.index}, but the snapshot has term ${F.term} there`);
    }
    const after = log.filter((e) => e.index > F.index);
    for (let k = 0; k < after.length; k++) {
      if (after[k]!.index !== F.index + 1 + k) {
        throw new ErrCorruptStorage(keys.log, `entry ${F.index + 1 + k} is missing (the snapshot ends at ${F.index}, the next entry held is ${after[k]!.index})`);
      }
    }

    const mem = new MemoryStorage();
    if (snapReply !== null) mem.applySnapshot(snap);
    mem.append(after);
    const hs = hardStateReply === null ? newHardState() : decodeOr(keys.hardState, () => decodeHardState(hardStateReply));
    if (hs.commit < F.index) {
      // A snapshot holds only committed entries.
      this.logger.warning(`storage-redis: ${keys.hardState}: commit ${hs.commit} is below the snapshot at ${F.index}; raising it`);
      hs.commit = F.index;
    }
    mem.setHardState(hs);

    this.restore(mem, F);
  }

  // ---- errors ----

  protected override failedError(cause: unknown): ErrStorageFailed {
    return new ErrStorageFailed(cause);
  }

  protected override closedError(message: string): ErrStorageClosed {
    return new ErrStorageClosed(message);
  }

  protected override compactBeyondSnapshotError(index: number, snapshotIndex: number): ErrCompactBeyondSnapshot {
    return new ErrCompactBeyondSnapshot(index, snapshotIndex);
  }
}

/**
 * Connects a lazyConnect client. On failure, stops its reconnecting and
 * rejects with what went wrong (WRONGPASS, ECONNREFUSED…) rather than
 * ioredis's bare "Connection is closed."
 */
async function connectOrClose(redis: Redis): Promise<void> {
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

/** Connection trouble and "not now" replies; anything else Redis says is a refusal. */
function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name !== 'ReplyError') return true;
  return TRANSIENT_REPLY.test(error.message);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function decodeOr<T>(key: string, decode: () => T, what = 'value'): T {
  try {
    return decode();
  } catch (e) {
    throw new ErrCorruptStorage(key, `${what} does not decode: ${errorMessage(e)}`);
  }
}

/** The bytes as a Buffer (no copy): ioredis sends a Uint8Array that is not a Buffer as text. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

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
// time. Each write's commands are idempotent (SET, DEL, HSET, ZREMRANGEBYSCORE
// + ZADD), so a transaction whose reply was lost with the connection is
// simply run again.
//
// A snapshot's data is stored in pieces of at most 1 MiB, in a hash of its
// own (keys.ts). Given whole (a leader's snapshot), the pieces are written
// in the same transaction as the metadata. Given as chunks, each piece is
// written (HSET: idempotent, retried) as it comes into the new snapshot's
// hash, which the queued transaction that sets the metadata then makes the
// newest (the old hash goes in the same transaction). Data longer than
// residentSnapshotBytes is not kept in memory: it is read back piece by
// piece when needed.
import {
  EMPTY_BYTES,
  ErrInvalidConfig,
  MemoryBackedStorage,
  MemoryStorage,
  SNAPSHOT_CHUNK_BYTES,
  concatChunks,
  copyBytes,
  joinBytes,
  rechunk,
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
  type SnapshotMetadata,
} from '@raftbus/core';
import { Redis, type ChainableCommander, type RedisOptions } from 'ioredis';
import { isDurable, notDurable, readDurabilityConfig } from './durability.js';
import { ErrCompactBeyondSnapshot, ErrCorruptStorage, ErrStorageClosed, ErrStorageFailed } from './errors.js';
import { snapshotDataKey, snapshotsStagedKey, storageKeys, type StorageKeys } from './keys.js';

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
  /**
   * Snapshots whose data is at most this many bytes are also kept in memory,
   * so raft's snapshot() answers at once. A larger one is kept only in Redis:
   * readSnapshotChunks() streams it from there, and snapshot() loads it in
   * the background, throwing ErrSnapshotTemporarilyUnavailable meanwhile
   * (raft's leader retries later). 0 keeps none in memory. Default 1 MiB.
   */
  residentSnapshotBytes?: number;
};

interface Write {
  /** Adds the write's commands to the transaction. Must be idempotent. */
  commands(tx: ChainableCommander): void;
  /** Updates `mem` once Redis has acknowledged the write. */
  apply(): void;
  resolve(): void;
  reject(error: unknown): void;
}

const DEFAULT_RESIDENT_SNAPSHOT_BYTES = 1024 * 1024;
/** Snapshot data is stored in pieces of this size (the last one shorter). */
const PIECE_BYTES = SNAPSHOT_CHUNK_BYTES;
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
  /** Index of the newest snapshot written or queued: the one whose data hash a newer snapshot's write deletes. */
  private newestSnapIndex = 0;
  /** Snapshots being streamed into Redis by createSnapshot; close() waits for them. */
  private streams = new Set<Promise<void>>();
  /** Set by stopRetrying(): a write Redis does not answer fails instead of waiting for it. */
  private retriesStopped = false;
  /** Each retry waiting out its back-off: stopRetrying() and close() end the wait at once. */
  private readonly backOffs = new Set<() => void>();

  constructor(options: RedisStorageOptions) {
    super();
    this.options = options;
    this.keys = storageKeys(options.clusterId, options.nodeId);
    this.residentSnapshotBytes = options.residentSnapshotBytes ?? DEFAULT_RESIDENT_SNAPSHOT_BYTES;
    if (!(typeof this.residentSnapshotBytes === 'number' && this.residentSnapshotBytes >= 0)) throw new ErrInvalidConfig(`RedisStorage: residentSnapshotBytes must be a number >= 0, got ${String(this.residentSnapshotBytes)}`);
  }

  /** Whether acknowledged saves survive a crash of Redis: known once open() has resolved (false before). */
  get capabilities(): DurableStorageCapabilities {
    return { durable: this.durable };
  }

  private get logger(): Logger {
    return this.options.logger ?? getLogger();
  }

  // ---- durable writes (MemoryBackedStorage checks them and applies them to memory) ----

  // Every batch is written the same way: whether Redis fsyncs is its own
  // appendfsync policy, so a batch that need not sync saves nothing here.
  protected persistBatch(batch: PersistBatch, _mustSync: boolean, apply: () => void): Promise<void> {
    const { snapshot, entries, hardState } = batch;
    const keys = this.keys;
    const snapWrite = snapshot && this.snapshotWrite(snapshot.metadata, { whole: snapshot.data });
    const hardStateBytes = hardState && asBuffer(encodeHardState(hardState));
    const members: (string | Buffer)[] = [];
    for (const e of entries) members.push(String(e.index), asBuffer(encodeEntry(e)));

    return this.enqueue({
      commands(tx) {
        // A snapshot from the leader replaces the whole log.
        if (snapWrite !== undefined) {
          tx.del(keys.log);
          snapWrite(tx);
        }
        if (members.length > 0) tx.zremrangebyscore(keys.log, entries[0]!.index, '+inf').zadd(keys.log, ...members);
        if (hardStateBytes !== undefined) tx.set(keys.hardState, hardStateBytes);
      },
      apply,
    });
  }

  protected persistSnapshot(snapshot: Snapshot, apply: () => void): Promise<void> {
    return this.enqueue({ commands: this.snapshotWrite(snapshot.metadata, { whole: snapshot.data }), apply });
  }

  /**
   * As persistSnapshot, the data written piece by piece as it comes, into
   * the snapshot's own hash (listed as staged until the metadata names it).
   */
  protected override persistSnapshotChunks(
    metadata: SnapshotMetadata,
    chunks: AsyncIterable<Uint8Array>,
    apply: (kept: Uint8Array | undefined) => void,
  ): Promise<void> {
    const stream = this.streamSnapshot(metadata, chunks, apply);
    const tracked = stream.catch(() => {});
    this.streams.add(tracked);
    void tracked.then(() => this.streams.delete(tracked));
    return stream;
  }

  private async streamSnapshot(
    metadata: SnapshotMetadata,
    chunks: AsyncIterable<Uint8Array>,
    apply: (kept: Uint8Array | undefined) => void,
  ): Promise<void> {
    const { index } = metadata;
    const dataKey = snapshotDataKey(this.keys, index);
    const staged = snapshotsStagedKey(this.keys);
    const redis = this.redis!;
    const medium = <T>(attempt: () => Promise<T>): Promise<T> =>
      this.retrying(attempt).catch((e: unknown) => {
        throw this.fail(e);
      });
    // A failed earlier attempt at this index may have left pieces.
    await medium(() => redis.sadd(staged, String(index)));
    await medium(() => redis.del(dataKey));
    let count = 0;
    let bytes = 0;
    let kept: Uint8Array[] | undefined = [];
    const pieces = rechunk(chunks, PIECE_BYTES)[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await pieces.next();
      } catch (e) {
        // The state machine failed: nothing recorded; its pieces go (or on the next open).
        await this.retrying(() => redis.multi().del(dataKey).srem(staged, String(index)).exec()).catch(() => {});
        throw e;
      }
      if (next.done) break;
      const piece = next.value;
      await medium(() => redis.hset(dataKey, String(count), asBuffer(piece)));
      count++;
      bytes += piece.length;
      if (kept !== undefined && bytes <= this.residentSnapshotBytes) kept.push(copyBytes(piece));
      else kept = undefined;
    }
    if (this.failure) throw this.failure;
    const data = kept && joinBytes(kept, bytes);
    return this.enqueue({ commands: this.snapshotWrite(metadata, { staged: { count, bytes } }), apply: () => apply(data) });
  }

  /**
   * The commands that make `metadata` the stored snapshot: its data's
   * pieces (whole data: written here; staged: already written), the
   * metadata, and the deletion of the previous snapshot's data. Called when
   * the write is queued; a snapshot queued after a newer one (a stream that
   * a leader's snapshot overtook) only deletes its own data.
   */
  private snapshotWrite(
    metadata: SnapshotMetadata,
    data: { whole: Uint8Array } | { staged: { count: number; bytes: number } },
  ): (tx: ChainableCommander) => void {
    const { index } = metadata;
    const dataKey = snapshotDataKey(this.keys, index);
    const staged = snapshotsStagedKey(this.keys);
    if (index < this.newestSnapIndex) return (tx) => void tx.del(dataKey).srem(staged, String(index));
    const previous = this.newestSnapIndex;
    this.newestSnapIndex = index;
    const meta = asBuffer(encodeSnapshot({ data: EMPTY_BYTES, metadata }));
    const snapshotKey = this.keys.snapshot;
    const previousKey = snapshotDataKey(this.keys, previous);
    const fields: (string | Buffer)[] = [];
    let count: number;
    let bytes: number;
    if ('whole' in data) {
      const { whole } = data;
      for (let at = 0; at < whole.length; at += PIECE_BYTES) {
        fields.push(String(fields.length / 2), asBuffer(whole.subarray(at, Math.min(at + PIECE_BYTES, whole.length))));
      }
      count = fields.length / 2;
      bytes = whole.length;
    } else {
      ({ count, bytes } = data.staged);
    }
    return (tx) => {
      if ('whole' in data) tx.del(dataKey);
      tx.hset(dataKey, ...fields, 'pieces', String(count), 'bytes', String(bytes));
      if ('staged' in data) tx.srem(staged, String(index));
      tx.set(snapshotKey, meta);
      if (previous !== index) tx.del(previousKey);
    };
  }

  /** The data of the stored snapshot `metadata`, piece by piece from its hash. */
  protected override readStoredSnapshot(metadata: SnapshotMetadata): AsyncIterable<Uint8Array> {
    return readPieces(this.redis!, snapshotDataKey(this.keys, metadata.index));
  }

  /** A connection error while loading a snapshot for raft is tried again when raft asks again; anything else fails the store. */
  protected override snapshotLoadFailed(error: unknown): void {
    if (isTransient(error)) {
      this.logger.warning(`storage-redis: ${this.keys.snapshot}: could not load the snapshot (${errorMessage(error)}); retrying when raft asks again`);
      return;
    }
    super.snapshotLoadFailed(error);
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
    await this.retrying(async () => {
      const tx = redis.multi();
      for (const w of group) w.commands(tx);
      await execOrThrow(tx);
    });
  }

  /**
   * Runs an idempotent `attempt` until it succeeds, retrying while Redis is
   * unreachable, the store is open and stopRetrying() has not been called.
   */
  private async retrying<T>(attempt: () => Promise<T>): Promise<T> {
    let retryMs = 0;
    for (;;) {
      try {
        const result = await attempt();
        if (retryMs > 0) this.logger.info(`storage-redis: ${this.keys.log}: write went through after retrying`);
        return result;
      } catch (error) {
        if (!isTransient(error) || !this.mayRetry()) throw error;
        if (retryMs === 0) {
          this.logger.warning(`storage-redis: ${this.keys.log}: write failed (${errorMessage(error)}); retrying until Redis is back`);
        }
        retryMs = Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, retryMs * 2));
        await this.backOff(retryMs);
        // Not another attempt: with a client of the caller's that queues commands while offline, it would wait for Redis.
        if (!this.mayRetry()) throw error;
      }
    }
  }

  private mayRetry(): boolean {
    return this.state === 'open' && !this.retriesStopped;
  }

  /** Waits `ms`, or less if stopRetrying() or close() ends the wait. */
  private backOff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.backOffs.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.backOffs.add(done);
    });
  }

  /**
   * From now on a write that Redis does not answer fails (the store then
   * refuses further writes) instead of being retried until Redis is back,
   * the one being retried now included. RaftNode calls it when it stops.
   */
  stopRetrying(): void {
    this.retriesStopped = true;
    this.endBackOffs();
  }

  /** Ends every retry's back-off now; each then gives up if it may no longer retry. */
  private endBackOffs(): void {
    for (const done of [...this.backOffs]) done();
  }

  // ---- open / close ----

  // open() connects, checks that Redis makes writes durable (ErrNotDurable if
  // not, unless acceptWeakDurability), and reads the node's state into memory
  // (ErrCorruptStorage if it is not a valid log); a new RedisStorage reopens
  // the keys. close() waits for queued writes (while Redis answers: one
  // being retried gives up), then releases the connection it made.

  protected override async finishWrites(): Promise<void> {
    // The store is closing: a write being retried gives up now rather than after its back-off.
    this.endBackOffs();
    while (this.streams.size > 0) await Promise.all([...this.streams]);
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
    // The data: inline (an older version's), or in its hash, loaded now if it is small enough.
    let dataInRedis = false;
    const dataKey = snapshotDataKey(keys, F.index);
    if (snapReply !== null && snap.data.length === 0) {
      const [pieces, bytes] = await redis.hmget(dataKey, 'pieces', 'bytes');
      if (pieces !== null) {
        if (Number(bytes) <= this.residentSnapshotBytes) snap.data = await concatChunks(readPieces(redis, dataKey));
        else dataInRedis = true;
      }
    }
    // Data of snapshots whose write never completed (or was overtaken).
    const staged = (await redis.smembers(snapshotsStagedKey(keys))).filter((m) => m !== String(F.index));
    if (staged.length > 0) {
      this.logger.warning(`storage-redis: ${keys.snapshot}: removing the data of unfinished snapshot writes at ${staged.join(', ')}`);
      const tx = redis.multi();
      for (const m of staged) tx.del(snapshotDataKey(keys, Number(m))).srem(snapshotsStagedKey(keys), m);
      await execOrThrow(tx);
    }
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

    this.newestSnapIndex = F.index;
    this.restore(mem, F, dataInRedis);
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

/** Runs a MULTI/EXEC; throws if it was aborted or any of its commands failed. */
async function execOrThrow(tx: ChainableCommander): Promise<void> {
  const results = await tx.exec();
  if (results === null) throw new Error('MULTI/EXEC aborted');
  const failed = results.find(([e]) => e);
  if (failed !== undefined) throw failed[0];
}

/** A snapshot's data, read from its hash piece by piece as it is iterated. */
async function* readPieces(redis: Redis, key: string): AsyncGenerator<Uint8Array, void, undefined> {
  const [pieces, bytes] = await redis.hmget(key, 'pieces', 'bytes');
  if (pieces === null || bytes === null) throw new ErrCorruptStorage(key, 'the snapshot data is missing');
  const count = Number(pieces);
  let read = 0;
  for (let k = 0; k < count; k++) {
    const piece = await redis.hgetBuffer(key, String(k));
    if (piece === null) throw new ErrCorruptStorage(key, `piece ${k} of ${count} of the snapshot data is missing`);
    read += piece.length;
    yield new Uint8Array(piece.buffer, piece.byteOffset, piece.byteLength);
  }
  if (read !== Number(bytes)) throw new ErrCorruptStorage(key, `the snapshot data holds ${read} bytes, not ${bytes}`);
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


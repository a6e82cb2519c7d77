// RedisStorage: raft's durable storage in Redis, under three keys per node
// (keys.ts): the log as a sorted set scored by index, the hard state, and
// the newest snapshot.
//
// Reads are answered from memory, as FileStorage does: `mem` holds the
// newest snapshot and the log after the compaction point, and changes only
// once Redis has acknowledged what changes it. So a read never returns
// something Redis does not hold, and a failed write leaves the reads correct.
//
// Writes go through one queue in call order. Each call is checked at once
// against `proj`, the state once every queued write has landed, so saves
// made without waiting are accepted or refused exactly as a MemoryStorage
// would, one after another. Queued writes are committed together in one
// MULTI/EXEC (all of them or none), one transaction at a time. Each write's
// commands are idempotent (SET, DEL, ZREMRANGEBYSCORE + ZADD), so a
// transaction whose reply was lost with the connection is simply run again.
import {
  ErrSnapOutOfDate,
  ErrUnavailable,
  MemoryStorage,
  RaftPanic,
  decodeEntry,
  decodeHardState,
  decodeSnapshot,
  encodeEntry,
  encodeHardState,
  encodeSnapshot,
  getLogger,
  newHardState,
  newSnapshot,
  type ConfState,
  type DurableStorage,
  type DurableStorageCapabilities,
  type Entry,
  type HardState,
  type InitialState,
  type Logger,
  type PersistBatch,
  type Snapshot,
  type SnapshotMetadata,
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

type State = 'new' | 'opening' | 'open' | 'closing' | 'closed';

const MIN_RETRY_MS = 50;
const MAX_RETRY_MS = 1_000;
/** Server replies that say "not now" rather than "no". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|CLUSTERDOWN|READONLY)\b/;

export class RedisStorage implements DurableStorage {
  private readonly options: RedisStorageOptions;
  private readonly keys: StorageKeys;
  private durable = false;
  private redis: Redis | undefined;
  private state: State = 'new';
  private openPromise: Promise<void> | undefined;
  private closePromise: Promise<void> | undefined;
  private failure: ErrStorageFailed | undefined;

  private mem = new MemoryStorage();
  /** The snapshot `mem` holds (its metadata). */
  private memSnap: SnapshotMetadata = newSnapshot().metadata;
  /** The log once every queued write has landed: snapshot index, compaction point, last index. */
  private proj = { snapIndex: 0, offset: 0, last: 0 };
  private queue: Write[] = [];
  private draining: Promise<void> | undefined;

  constructor(options: RedisStorageOptions) {
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

  // ---- raft's read side, answered from memory ----

  initialState(): InitialState {
    return this.readable().initialState();
  }

  /**
   * As MemoryStorage, but a range past lastIndex()+1 throws ErrUnavailable,
   * as the Storage contract says, where MemoryStorage (like etcd's) panics.
   */
  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const mem = this.readable();
    if (hi > mem.lastIndex() + 1 && lo >= mem.firstIndex()) throw new ErrUnavailable();
    return mem.entries(lo, hi, maxSize);
  }

  term(i: number): number {
    return this.readable().term(i);
  }

  lastIndex(): number {
    return this.readable().lastIndex();
  }

  firstIndex(): number {
    return this.readable().firstIndex();
  }

  /** The newest snapshot, data included (it is kept in memory). */
  snapshot(): Snapshot {
    return this.readable().snapshot();
  }

  private readable(): MemoryStorage {
    if (this.state !== 'open' && this.state !== 'closing') {
      throw new ErrStorageClosed(this.state === 'closed' ? 'storage is closed' : 'storage is not open');
    }
    return this.mem;
  }

  private writable(): void {
    if (this.state !== 'open') {
      throw new ErrStorageClosed(this.state === 'new' || this.state === 'opening' ? 'storage is not open' : 'storage is closed');
    }
    if (this.failure) throw this.failure;
  }

  // ---- writes ----

  async save(batch: PersistBatch): Promise<void> {
    this.writable();
    const { snapshot, hardState } = batch;

    // Check everything before changing anything: a refused save leaves no trace.
    let { snapIndex, offset, last } = this.proj;
    if (snapshot !== undefined) {
      // MemoryStorage.applySnapshot's rule, index 0 included (a bootstrap ConfState).
      if (snapIndex !== 0 && snapIndex >= snapshot.metadata.index) throw new ErrSnapOutOfDate();
      snapIndex = offset = last = snapshot.metadata.index;
    }
    // A copy: the caller may reuse its array before the save lands in memory.
    let entries = batch.entries.slice();
    for (let k = 1; k < entries.length; k++) {
      if (entries[k]!.index !== entries[0]!.index + k) {
        throw new RaftPanic(`entries not contiguous: ${entries[k - 1]!.index} then ${entries[k]!.index}`);
      }
    }
    // MemoryStorage.append's rule: skip what is compacted; refuse a gap.
    if (entries.length > 0 && entries[0]!.index + entries.length - 1 > offset) {
      if (entries[0]!.index <= offset) entries = entries.slice(offset + 1 - entries[0]!.index);
      if (entries[0]!.index > last + 1) throw new RaftPanic(`missing log entry [last: ${last}, append at: ${entries[0]!.index}]`);
      last = entries[entries.length - 1]!.index;
    } else {
      entries = [];
    }
    this.proj = { snapIndex, offset, last };

    const keys = this.keys;
    const snapBytes = snapshot && asBuffer(encodeSnapshot(snapshot));
    const hardStateBytes = hardState && asBuffer(encodeHardState(hardState));
    const members: (string | Buffer)[] = [];
    for (const e of entries) members.push(String(e.index), asBuffer(encodeEntry(e)));
    const hs: HardState | undefined = hardState && { ...hardState };
    const snap: Snapshot | undefined = snapshot && {
      data: snapshot.data,
      metadata: { ...snapshot.metadata, confState: cloneConfState(snapshot.metadata.confState) },
    };

    return this.enqueue({
      commands(tx) {
        // A snapshot from the leader replaces the whole log.
        if (snapBytes !== undefined) tx.del(keys.log).set(keys.snapshot, snapBytes);
        if (members.length > 0) tx.zremrangebyscore(keys.log, entries[0]!.index, '+inf').zadd(keys.log, ...members);
        if (hardStateBytes !== undefined) tx.set(keys.hardState, hardStateBytes);
      },
      apply: () => {
        if (snap !== undefined) {
          this.mem.applySnapshot(snap);
          this.memSnap = snap.metadata;
        }
        this.mem.append(entries);
        if (hs !== undefined) this.mem.setHardState(hs);
      },
    });
  }

  async createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    this.writable();
    if (index <= this.proj.snapIndex) throw new ErrSnapOutOfDate();
    // Only an acknowledged entry may be snapshotted; the host applies nothing else.
    const last = this.mem.lastIndex();
    if (index > last) throw new RaftPanic(`snapshot ${index} is out of bound lastindex(${last})`);
    const metadata: SnapshotMetadata = { index, term: this.mem.term(index), confState: cloneConfState(confState) };
    this.proj.snapIndex = index;
    const bytes = asBuffer(encodeSnapshot({ data, metadata }));
    const key = this.keys.snapshot;
    await this.enqueue({
      commands: (tx) => tx.set(key, bytes),
      apply: () => {
        // A snapshot from the leader may have overtaken this one.
        if (index <= this.memSnap.index) return;
        this.mem.createSnapshot(index, metadata.confState, data);
        this.memSnap = metadata;
      },
    });
    return { data, metadata: { ...metadata, confState: cloneConfState(metadata.confState) } };
  }

  /** Discards the log before `index` (which the latest snapshot must cover), in memory and in Redis. */
  async compact(index: number): Promise<void> {
    this.writable();
    if (index > this.memSnap.index) throw new ErrCompactBeyondSnapshot(index, this.memSnap.index);
    this.mem.compact(index); // ErrCompacted, as MemoryStorage
    this.proj.offset = Math.max(this.proj.offset, index);
    // Entry `index` goes too: after a reopen the snapshot (at or past it) stands in for it.
    const key = this.keys.log;
    await this.enqueue({ commands: (tx) => tx.zremrangebyscore(key, '-inf', index), apply: () => {} });
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
        this.failure ??= new ErrStorageFailed(error);
        for (const w of [...group, ...this.queue.splice(0)]) w.reject(this.failure);
        break;
      }
      for (const w of group) {
        try {
          w.apply();
          w.resolve();
        } catch (error) {
          // Memory refused what Redis accepted (a bug): stop writing rather than diverge further.
          this.failure ??= new ErrStorageFailed(error);
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

  /**
   * Connects, checks that Redis makes writes durable (ErrNotDurable if not,
   * unless acceptWeakDurability), and reads the node's state into memory
   * (ErrCorruptStorage if it is not a valid log). Calling it again returns
   * the same promise.
   */
  open(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed' || this.closePromise !== undefined) {
      // A store is opened once; a new RedisStorage reopens the keys.
      return Promise.reject(new ErrStorageClosed());
    }
    if (this.openPromise === undefined) {
      this.state = 'opening';
      this.openPromise = this.doOpen().then(
        () => {
          this.state = 'open';
        },
        (e: unknown) => {
          this.state = 'closed';
          throw e;
        },
      );
    }
    return this.openPromise;
  }

  /** Waits for queued writes (while Redis answers), then releases the connection it made. Idempotent. */
  close(): Promise<void> {
    this.closePromise ??= this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'closed';
      return;
    }
    if (this.state === 'opening') await this.openPromise!.catch(() => {});
    if (this.state === 'closed') return; // open failed and released everything
    this.state = 'closing';
    while (this.draining !== undefined) await this.draining;
    this.state = 'closed';
    if (this.options.client === undefined) this.redis?.disconnect();
  }

  private async doOpen(): Promise<void> {
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

    this.mem = mem;
    this.memSnap = F;
    this.proj = { snapIndex: F.index, offset: F.index, last: mem.lastIndex() };
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

function cloneConfState(cs: ConfState): ConfState {
  return {
    voters: [...cs.voters],
    learners: [...cs.learners],
    votersOutgoing: [...cs.votersOutgoing],
    learnersNext: [...cs.learnersNext],
    autoLeave: cs.autoLeave,
  };
}

/** The bytes as a Buffer (no copy): ioredis sends a Uint8Array that is not a Buffer as text. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// Error classes with stable names (the class name is `.name`), thrown or
// rejected, never returned. Match with `instanceof` or on `.name`.

/** Base class of every error this package throws itself. */
export class RedisStorageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The Redis server does not persist an acknowledged write before replying
 * (it needs `appendonly yes` and `appendfsync always`), or its configuration
 * could not be read. Pass `acceptWeakDurability: true` to use it anyway
 * (capabilities.durable is then false).
 */
export class ErrNotDurable extends RedisStorageError {
  constructor(
    /** What CONFIG GET said; undefined when it could not be asked. */
    readonly appendonly: string | undefined,
    readonly appendfsync: string | undefined,
    reason: string,
  ) {
    super(`Redis does not make writes durable before acknowledging them: ${reason}. Configure appendonly yes and appendfsync always, or pass acceptWeakDurability: true`);
  }
}

/** What is stored under the node's keys cannot be a raft log: it does not decode, or entries are missing or out of place. Nothing is dropped or repaired. */
export class ErrCorruptStorage extends RedisStorageError {
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`corrupt raft storage at ${key}: ${reason}`);
  }
}

/** The storage was closed (or never opened). */
export class ErrStorageClosed extends RedisStorageError {
  constructor(what = 'storage is closed') {
    super(what);
  }
}

/**
 * Redis refused a write (e.g. NOPERM, WRONGTYPE, OOM). What Redis holds is
 * then unknown to this store, so it refuses every further write; reopening
 * (a new RedisStorage) reads back what Redis really has. Reads keep
 * answering from what was acknowledged before.
 */
export class ErrStorageFailed extends RedisStorageError {
  constructor(cause: unknown) {
    super(`storage failed and refuses writes until reopened: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** compact(index) was asked to discard entries the latest snapshot does not cover. */
export class ErrCompactBeyondSnapshot extends RedisStorageError {
  constructor(
    readonly index: number,
    readonly snapshotIndex: number,
  ) {
    super(`cannot compact to ${index}: the latest snapshot is at ${snapshotIndex}`);
  }
}

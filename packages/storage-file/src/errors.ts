// Error classes with stable names (the class name is `.name`), thrown or
// rejected, never returned. Match with `instanceof` or on `.name`.

/** Base class of every error this package throws itself. */
export class FileStorageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Another FileStorage (in this process or another one) holds the directory. */
export class ErrStorageLocked extends FileStorageError {
  constructor(
    readonly dir: string,
    /** What the lock file says about its holder, for the operator. */
    readonly holder: string,
  ) {
    super(`storage directory ${dir} is locked by ${holder}`);
  }
}

/**
 * The WAL is damaged in a way a crash cannot explain: a checksum mismatch in
 * a record that was completely written, a segment missing from the sequence,
 * records or batches out of order. Nothing is dropped or repaired; the
 * operator decides (restore from a peer, or remove the node's data and
 * rejoin).
 */
export class ErrCorruptWAL extends FileStorageError {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`corrupt WAL ${file} at offset ${offset}: ${reason}`);
  }
}

/**
 * A snapshot the node needs cannot be used: its file is missing or fails its
 * checksum, and the WAL no longer holds the entries to rebuild from an older
 * snapshot.
 */
export class ErrCorruptSnapshot extends FileStorageError {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`corrupt snapshot ${file}: ${reason}`);
  }
}

/** The storage was closed (or never opened). */
export class ErrStorageClosed extends FileStorageError {
  constructor(what = 'storage is closed') {
    super(what);
  }
}

/**
 * A write, fsync, rename or file creation failed. After a failed fsync the
 * kernel may have dropped the dirty pages, so what is on disk is unknown: the
 * storage refuses every further write, and only reopening (which recovers
 * from what is really on disk) clears this. Reads keep answering from what
 * was acknowledged before the failure.
 */
export class ErrStorageFailed extends FileStorageError {
  constructor(cause: unknown) {
    super(`storage failed and refuses writes until reopened: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

/**
 * compact(index) was asked to discard entries the latest snapshot does not
 * cover; raft could then neither send those entries nor a snapshot with them.
 */
export class ErrCompactBeyondSnapshot extends FileStorageError {
  constructor(
    readonly index: number,
    readonly snapshotIndex: number,
  ) {
    super(`cannot compact to ${index}: the latest snapshot is at ${snapshotIndex}`);
  }
}

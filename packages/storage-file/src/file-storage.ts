// FileStorage: raft's durable storage in one local directory, after etcd's
// wal and snap packages.
//
//   <dir>/LOCK                       owner of the directory (lock.ts)
//   <dir>/wal/<seq>-<firstIndex>.wal log segments (wal-format.ts)
//   <dir>/snap/<term>-<index>.snap   snapshots, newest two kept (snap.ts)
//
// Reads are answered from memory, as etcd's server keeps a MemoryStorage
// next to its WAL: MemoryBackedStorage (the core's) holds it, checks every
// write at call time, and puts a write in memory only once it is durable.
// This class makes writes durable: one queue in call order, written to the
// WAL and fsynced in batches. As etcd's WAL, a batch that only moves the
// commit index is written but not fsynced: the next fsync (of a save that
// must sync, a snapshot record, a segment rollover or close) covers it.
//
// A snapshot's data is written to its file as it comes, and kept in memory
// only up to residentSnapshotBytes; a larger one is read back from its file
// when needed (MemoryBackedStorage loads it when raft asks for it to send).
import { dirname, join, resolve } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import {
  MemoryBackedStorage,
  MemoryStorage,
  getLogger,
  newSnapshot,
  EMPTY_BYTES,
  ErrInvalidConfig,
  type DurableStorageCapabilities,
  type Logger,
  type PersistBatch,
  type Snapshot,
  type SnapshotMetadata,
  encodeHardState,
} from '@raftbus/core';
import {
  ErrCompactBeyondSnapshot,
  ErrCorruptSnapshot,
  ErrCorruptWAL,
  ErrStorageClosed,
  ErrStorageFailed,
} from './errors.js';
import { isErrno, nodeFs, syncDir, writeFully, writesNow, type FileStorageFs } from './fs.js';
import { DirLock } from './lock.js';
import { checkFileStorageOptions } from './options.js';
import { Replay } from './replay.js';
import {
  BROKEN_SUFFIX,
  SNAP_DIR,
  SnapshotSourceError,
  TMP_SUFFIX,
  checkSnapshotFile,
  newestFirst,
  parseSnapName,
  snapName,
  snapshotFileChunks,
  writeSnapshotFile,
  writeSnapshotStream,
  type SnapName,
} from './snap.js';
import {
  COMMIT_RECORD_SIZE,
  RecordType,
  WAL_DIR,
  commitPayload,
  encodeRecords,
  encodeSegmentHeader,
  frameRecords,
  parseSegmentName,
  recordsSize,
  segmentName,
  snapshotMetaPayload,
  unzeroedBytes,
  type FramedRecords,
  type RecordOut,
} from './wal-format.js';
import { scanSegment, type TornTail } from './wal-reader.js';

/** At most this many bytes of commit-index-only saves are held (FileStorage.held); past it they are written and fsynced at once. */
const HELD_MAX_BYTES = 64 * 1024;

/**
 * 'batch' (default): saves that arrive while a write is being fsynced are
 * written together and share the next fsync (group commit). 'always': one
 * write and one fsync per save. Both resolve a save only after its fsync,
 * except a save that changes only the commit index, which is not fsynced,
 * as etcd's WAL does (raft's MustSync): it is held in memory and written,
 * in order, with the next save that is (or at close()).
 */
export type SyncMode = 'always' | 'batch';

export interface FileStorageOptions {
  /** The storage directory; created if absent. One FileStorage per directory (see LOCK). */
  dir: string;
  /**
   * A segment is closed and a new one started once it reaches this size
   * (a soft limit: one batch may go past it). Default 64 MiB.
   */
  segmentBytes?: number;
  sync?: SyncMode;
  /**
   * Skips every fsync: an acknowledged save can be lost in a machine crash
   * (a process crash loses nothing). For tests; capabilities.durable is then false.
   */
  unsafeNoSync?: boolean;
  /** Where recovery reports torn tails, fallbacks and removed files. Default: the core's getLogger(). */
  logger?: Logger;
  /** The file-system calls to use (tests count or fail fsyncs through it). Default node:fs/promises. */
  fs?: FileStorageFs;
  /**
   * Snapshots whose data is at most this many bytes are also kept in memory,
   * so raft's snapshot() answers at once. A larger one is kept only in its
   * file: readSnapshotChunks() streams it from there, and snapshot() loads it
   * in the background, throwing ErrSnapshotTemporarilyUnavailable meanwhile
   * (raft's leader retries later), and caches it while raft keeps asking.
   * 0 keeps none in memory. Default 1 MiB.
   */
  residentSnapshotBytes?: number;
}

/** What open() found and did, for logs and tests. */
export interface RecoveryReport {
  /** The snapshot loaded (index 0: none). */
  snapshot: { term: number; index: number };
  /** Set when the newest snapshot file was unusable and an older one was loaded, the WAL covering the gap. */
  fellBackFrom?: { file: string; reason: string };
  /** WAL segments read, and complete batches replayed from them. */
  segments: number;
  batches: number;
  /** The unfinished batch cut off the end of the last segment, if any. */
  tornTail?: { file: string; offset: number; bytes: number; reason: string };
  /** Files removed: temp files of interrupted snapshot writes, snapshot files no WAL record acknowledges. */
  removed: string[];
}

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const DEFAULT_RESIDENT_SNAPSHOT_BYTES = 1024 * 1024;
/** Snapshot files kept: the newest, and one to fall back to if it is damaged. */
const SNAPSHOTS_KEPT = 2;

interface SegmentInfo {
  seq: number;
  name: string;
  /** Highest entry index written into the segment (0 if none): below the compaction point, it can go. */
  maxIndex: number;
}

interface ActiveSegment {
  fh: FileHandle;
  /** The segment's handle for writes durable on return (FileStorageFs.openDurable), opened at its first such write. */
  durableFh?: FileHandle;
  size: number;
  info: SegmentInfo;
}

/** Closes a segment's handles. */
async function closeSegment(seg: ActiveSegment): Promise<void> {
  try {
    await seg.durableFh?.close();
  } finally {
    await seg.fh.close();
  }
}

interface WriteItem {
  records: FramedRecords;
  maxIndex: number;
  /** Whether the item must be durable when it resolves (false: only a new commit index). */
  sync: boolean;
  /** Settles when the item may be written (a snapshot file it refers to is durable). */
  blocker?: Promise<void>;
  /** Updates `mem` once the records are durable. */
  apply(): void;
  resolve(): void;
  reject(e: unknown): void;
}

export class FileStorage extends MemoryBackedStorage {
  readonly capabilities: DurableStorageCapabilities;
  private recoveryReport: RecoveryReport | undefined;

  private readonly dir: string;
  private readonly walDir: string;
  private readonly snapDir: string;
  private readonly fs: FileStorageFs;
  private readonly segmentBytes: number;
  private readonly syncMode: SyncMode;
  private readonly noSync: boolean;
  /** Set when a segment could not be opened for durable writes: every write is then followed by a datasync. */
  private noDurableWrites = false;

  private lock: DirLock | undefined;

  private segments: SegmentInfo[] = [];
  /** The segment being written. */
  private active: ActiveSegment | undefined;
  private nextBatchSeq = 1;
  private queue: WriteItem[] = [];
  /**
   * Saves that need no fsync (a new commit index only), resolved but not
   * yet written: they go into the next batch that is fsynced (or close()).
   * Written on their own, unsynced, a later batch could be written after
   * them before either was durable, and a crash could then tear them while
   * that later one reached the disk whole: a damaged batch followed by an
   * intact one, which recovery must refuse as corruption (wal-reader.ts).
   * Held, only the batch being fsynced is ever at risk, as etcd's WAL
   * keeps them in its write buffer until the next fsync.
   */
  private held: WriteItem[] = [];
  private heldBytes = 0;
  private drainPromise: Promise<void> | undefined;
  private deletions: Promise<void> = Promise.resolve();
  /** createSnapshot and compact work still running; close() waits for it. */
  private inflight = new Set<Promise<unknown>>();

  constructor(options: FileStorageOptions) {
    super();
    checkFileStorageOptions(options);
    this.dir = resolve(options.dir);
    this.walDir = join(this.dir, WAL_DIR);
    this.snapDir = join(this.dir, SNAP_DIR);
    this.fs = options.fs ?? nodeFs;
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    if (!(this.segmentBytes > 0)) throw new RangeError(`segmentBytes must be positive, got ${this.segmentBytes}`);
    this.syncMode = options.sync ?? 'batch';
    if (this.syncMode !== 'always' && this.syncMode !== 'batch') throw new RangeError(`unknown sync mode ${String(this.syncMode)}`);
    this.noSync = options.unsafeNoSync === true;
    this.capabilities = { durable: !this.noSync };
    this.residentSnapshotBytes = options.residentSnapshotBytes ?? DEFAULT_RESIDENT_SNAPSHOT_BYTES;
    if (!(typeof this.residentSnapshotBytes === 'number' && this.residentSnapshotBytes >= 0)) throw new ErrInvalidConfig(`FileStorage: residentSnapshotBytes must be a number >= 0, got ${String(this.residentSnapshotBytes)}`);
    this.loggerOption = options.logger;
  }

  /** What open() found and did; undefined until it resolves. */
  get recovery(): RecoveryReport | undefined {
    return this.recoveryReport;
  }

  private readonly loggerOption: Logger | undefined;
  private get logger(): Logger {
    return this.loggerOption ?? getLogger();
  }

  // ---- durable writes (MemoryBackedStorage checks them and applies them to memory) ----

  protected persistBatch(batch: PersistBatch, mustSync: boolean, apply: () => void): Promise<void> {
    const { snapshot, entries, hardState } = batch;
    const records = frameRecords(
      snapshot === undefined ? [] : [{ type: RecordType.SnapshotInstall, payload: snapshotMetaPayload(snapshot.metadata) }],
      entries,
      hardState === undefined ? [] : [{ type: RecordType.HardState, payload: encodeHardState(hardState) }],
    );

    const written = this.enqueue({
      records,
      maxIndex: entries.length > 0 ? entries[entries.length - 1]!.index : 0,
      sync: mustSync,
      // The snapshot's file must be durable before the record naming it is.
      blocker: snapshot && this.writeSnapshot(snapshot),
      apply,
    });
    if (snapshot === undefined) return written;
    return this.track(async () => {
      await written;
      await this.purgeSnapshots();
    });
  }

  protected persistSnapshot(snapshot: Snapshot, apply: () => void): Promise<void> {
    return this.track(async () => {
      // The file first, then the record: a record never names a file that may
      // not exist. Saves keep flowing meanwhile; this record does not change
      // the log, so where it lands among them does not matter.
      await this.writeSnapshot(snapshot);
      if (this.failure) throw this.failure;
      await this.enqueue({
        records: frameRecords([{ type: RecordType.SnapshotMark, payload: snapshotMetaPayload(snapshot.metadata) }], [], []),
        maxIndex: 0,
        sync: true,
        apply,
      });
      await this.purgeSnapshots();
    });
  }

  /**
   * As persistSnapshot, the data streamed into the file as it comes. An
   * error of the chunks' producer removes the temp file and rejects with
   * that error; the storage stays usable.
   */
  protected override persistSnapshotChunks(
    metadata: SnapshotMetadata,
    chunks: AsyncIterable<Uint8Array>,
    apply: (kept: Uint8Array | undefined) => void,
  ): Promise<void> {
    return this.track(async () => {
      let kept: Uint8Array | undefined;
      try {
        ({ kept } = await writeSnapshotStream(this.fs, this.snapDir, metadata, chunks, !this.noSync, this.residentSnapshotBytes));
      } catch (e) {
        if (e instanceof SnapshotSourceError) throw e.cause;
        throw this.fail(e);
      }
      if (this.failure) throw this.failure;
      await this.enqueue({
        records: frameRecords([{ type: RecordType.SnapshotMark, payload: snapshotMetaPayload(metadata) }], [], []),
        maxIndex: 0,
        sync: true,
        apply: () => apply(kept),
      });
      await this.purgeSnapshots();
    });
  }

  /** The data of the snapshot `metadata`, from its file, checked against its checksum as it streams. */
  protected override readStoredSnapshot(metadata: SnapshotMetadata): AsyncIterable<Uint8Array> {
    const name = snapName(metadata.term, metadata.index);
    return snapshotFileChunks(this.fs, join(this.snapDir, name), { name, term: metadata.term, index: metadata.index });
  }

  /**
   * compact() discards the in-memory entries before `index` (which the
   * latest snapshot must cover); this deletes the WAL segments that hold
   * nothing after it.
   */
  protected async persistCompaction(index: number): Promise<void> {
    await this.track(async () => {
      await this.purgeSnapshots();
      // One deletion run at a time, each from the front of the sequence.
      this.deletions = this.deletions.then(() => this.deleteSegmentsThrough(index));
      await this.deletions;
    });
  }

  /**
   * Deletes the oldest segments while every entry they hold is at or below
   * `index`: never the active one, and always from the front, so what stays
   * is contiguous. A failure stops the run (logged, not thrown: nothing is
   * lost, the file just stays until a later compaction).
   */
  private async deleteSegmentsThrough(index: number): Promise<void> {
    while (this.segments.length > 1 && this.segments[0]!.maxIndex <= index) {
      const seg = this.segments[0]!;
      try {
        await this.fs.unlink(join(this.walDir, seg.name));
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) {
          this.logger.error(`storage-file: could not delete WAL segment ${seg.name}: ${(e as Error).message}`);
          return;
        }
      }
      try {
        // One directory fsync per file: were a later removal durable before
        // an earlier one, recovery would see a hole in the sequence.
        if (!this.noSync) await syncDir(this.fs, this.walDir);
      } catch (e) {
        this.logger.error(`storage-file: could not fsync ${this.walDir} after deleting ${seg.name}: ${(e as Error).message}`);
        return; // the next run finds the file gone and fsyncs again
      }
      this.segments.shift();
    }
  }

  // ---- open / close ----

  // open() opens (creating if needed) and recovers the directory; a new
  // FileStorage reopens it. close() waits for in-flight writes, then
  // releases the directory.

  protected override async finishWrites(): Promise<void> {
    for (;;) {
      if (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
      else if (this.drainPromise !== undefined) await this.drainPromise;
      else break;
    }
    try {
      // A clean close leaves every resolved save durable, commit indexes too.
      if (this.active !== undefined && this.failure === undefined) await this.writeBatch(this.takeHeld([]));
      if (this.active !== undefined) await closeSegment(this.active);
    } finally {
      this.active = undefined;
    }
  }

  protected override async releaseStore(): Promise<void> {
    await this.lock?.release(this.logger);
    this.lock = undefined;
  }

  protected override async openStore(): Promise<void> {
    const fs = this.fs;
    await this.mkdirDurable(this.dir);
    this.lock = await DirLock.acquire(fs, this.dir, this.logger);
    try {
      await this.mkdirDurable(this.walDir);
      await this.mkdirDurable(this.snapDir);
      await this.recover();
    } catch (e) {
      if (this.active !== undefined) await closeSegment(this.active).catch(() => {});
      this.active = undefined;
      await this.lock.release(this.logger).catch(() => {});
      this.lock = undefined;
      throw e;
    }
  }

  private async mkdirDurable(dir: string): Promise<void> {
    const made = await this.fs.mkdir(dir, { recursive: true });
    if (made === undefined || this.noSync) return;
    // mkdir -p returns the first directory it created; each one it created
    // is durable only once its parent is fsynced.
    for (let d = dir; ; d = dirname(d)) {
      await syncDir(this.fs, dirname(d));
      if (d === made || d === dirname(d)) break;
    }
  }

  /**
   * Reads everything, decides, and only then changes the directory: an open
   * that refuses leaves the files exactly as it found them.
   */
  private async recover(): Promise<void> {
    const fs = this.fs;
    const log = this.logger;

    // 1. The WAL, segment by segment, in sequence (replayed once the
    // snapshot files are listed: see decodeFrom).
    const segs: { seq: number; firstIndex: number; name: string }[] = [];
    for (const name of await fs.readdir(this.walDir)) {
      const parsed = parseSegmentName(name);
      if (parsed) segs.push({ ...parsed, name });
      else log.warning(`storage-file: ignoring ${join(this.walDir, name)}: not a WAL segment name`);
    }
    segs.sort((a, b) => a.seq - b.seq);
    for (let i = 1; i < segs.length; i++) {
      if (segs[i]!.seq !== segs[i - 1]!.seq + 1) {
        throw new ErrCorruptWAL(
          join(this.walDir, segs[i]!.name),
          0,
          segs[i]!.seq === segs[i - 1]!.seq ? 'two segments share a sequence number' : `segment ${segs[i - 1]!.seq + 1} is missing before it`,
        );
      }
    }
    const removed: string[] = [];
    const snaps: SnapName[] = [];
    for (const name of await fs.readdir(this.snapDir)) {
      const parsed = parseSnapName(name);
      if (parsed) snaps.push(parsed);
      else if (name.endsWith(TMP_SUFFIX)) removed.push(join(this.snapDir, name));
      else if (!name.endsWith(BROKEN_SUFFIX)) log.warning(`storage-file: ignoring ${join(this.snapDir, name)}: not a snapshot name`);
    }
    snaps.sort(newestFirst);
    // The snapshot loaded below is one of these files (or none): entries
    // below the oldest of them need not be decoded unless none is usable,
    // and then the WAL is replayed again, decoding all (see Replay).
    const decodeFrom = snaps.length > 0 ? snaps[snaps.length - 1]!.index : 0;
    let { replay, kept, torn, nextSeq, lastBytes } = await this.replayWal(segs, decodeFrom);

    // 2. The snapshot: the newest file the WAL acknowledges that passes its checksum.
    // Every segment opens with a batch naming the current snapshot, so a WAL
    // without a single complete batch next to snapshot files has been lost;
    // going on would delete those files as never acknowledged.
    if (replay.batches === 0 && snaps.length > 0) {
      throw new ErrCorruptWAL(this.walDir, 0, `no complete batch in the WAL, yet ${snaps.length} snapshot file(s): the WAL is lost`);
    }
    const acked = replay.latest ?? newSnapshot().metadata;
    const isAcked = (s: SnapName) => s.index < acked.index || (s.index === acked.index && s.term === acked.term);
    // A file newer than every snapshot record was written by a save or
    // createSnapshot that never completed (the record is written after the
    // file): it was never acknowledged.
    for (const s of snaps) if (!isAcked(s)) removed.push(join(this.snapDir, s.name));
    // Each file is read through to check its checksum; only a small one's
    // data is kept (residentSnapshotBytes), a larger one is read again when needed.
    let chosen: Snapshot = newSnapshot();
    let chosenName: string | undefined;
    let dataInFile = false;
    const broken: { name: string; reason: string }[] = [];
    for (const s of snaps.filter(isAcked)) {
      const read = await checkSnapshotFile(fs, join(this.snapDir, s.name), s, this.residentSnapshotBytes);
      if (read.ok) {
        chosen = { data: read.data ?? EMPTY_BYTES, metadata: read.metadata };
        chosenName = s.name;
        dataInFile = read.data === undefined;
        break;
      }
      broken.push({ name: s.name, reason: read.reason });
    }
    const F = chosen.metadata;
    if (replay.skipped() && F.index < replay.decodeFrom) {
      // An older snapshot than every file's (or none) after all: the
      // entries between it and decodeFrom are needed.
      ({ replay, kept, torn, nextSeq, lastBytes } = await this.replayWal(segs, 0));
    }

    // 3. Does the WAL reach back to the snapshot, and forward to the acknowledged one?
    const last = replay.lastIndex();
    const gapFrom = F.index + 1;
    const covers = replay.ents.length === 0 ? last <= F.index : replay.base <= gapFrom || last <= F.index;
    let fellBack: RecoveryReport['fellBackFrom'];
    if (F.index < acked.index) {
      const wanted = snapName(acked.term, acked.index);
      const why = broken.find((b) => b.name === wanted)?.reason ?? 'missing';
      fellBack = { file: join(this.snapDir, wanted), reason: why };
      const reaches = replay.ents.length > 0 && replay.base <= gapFrom && last >= acked.index;
      if (!reaches) {
        throw new ErrCorruptSnapshot(
          join(this.snapDir, wanted),
          `${why}, and the WAL no longer holds entries ${gapFrom}..${acked.index} to rebuild from ${chosenName ?? 'an empty log'}`,
        );
      }
      log.warning(`storage-file: snapshot ${wanted} is ${why}; falling back to ${chosenName ?? 'an empty log'} and the WAL after it`);
    } else if (!covers) {
      throw new ErrCorruptWAL(
        join(this.walDir, kept[0]?.name ?? ''),
        0,
        `the WAL starts at entry ${replay.base}, but the snapshot ends at ${F.index}: entries ${gapFrom}..${replay.base - 1} are missing`,
      );
    }
    if (F.index > 0 && replay.ents.length > 0 && replay.base <= F.index && F.index <= last) {
      const t = replay.ents[F.index - replay.base]!.term;
      if (t !== F.term) {
        throw new ErrCorruptSnapshot(join(this.snapDir, chosenName!), `term ${F.term} at index ${F.index}, but the WAL has term ${t} there`);
      }
    }

    // 4. Memory.
    const mem = new MemoryStorage();
    if (chosenName !== undefined) mem.applySnapshot(chosen);
    // The entries after the snapshot: ents[k] has index base + k.
    mem.append(replay.ents.slice(Math.max(0, F.index + 1 - replay.base)));
    const hs = { ...replay.hardState };
    if (hs.commit < F.index) {
      // A snapshot holds only committed entries; the hard state that said so
      // may not have reached the disk before the snapshot did.
      log.warning(`storage-file: commit ${hs.commit} is below the snapshot at ${F.index}; raising it`);
      hs.commit = F.index;
    }
    mem.setHardState(hs);

    // 5. Only now change the directory.
    if (torn) {
      const { file, tail } = torn;
      log.warning(`storage-file: cutting ${tail.bytes} bytes of an unfinished batch off ${file} at offset ${tail.offset} (${tail.reason})`);
      if (tail.offset === 0) {
        await fs.unlink(file);
        if (!this.noSync) await syncDir(fs, this.walDir);
      } else {
        const fh = await fs.open(file, 'r+');
        try {
          await fh.truncate(tail.offset);
          if (!this.noSync) await fh.sync();
        } finally {
          await fh.close();
        }
      }
    }
    for (const b of broken) {
      // Only files newer than the one loaded were read; keep them for the operator.
      await fs.rename(join(this.snapDir, b.name), join(this.snapDir, b.name + BROKEN_SUFFIX));
      log.warning(`storage-file: snapshot ${b.name} is unusable (${b.reason}); kept as ${b.name}${BROKEN_SUFFIX}`);
    }
    for (const path of removed) {
      await fs.unlink(path);
      log.warning(`storage-file: removed ${path}, left by an interrupted write`);
    }
    if ((broken.length > 0 || removed.length > 0) && !this.noSync) await syncDir(fs, this.snapDir);

    this.restore(mem, F, dataInFile);
    this.segments = kept;
    this.nextBatchSeq = nextSeq ?? 1;
    // The state just recovered is restated, so that it is what the WAL
    // says from here on (a snapshot fallen back to, a commit raised). Into
    // the last segment when it ended whole and has room, as etcd's WAL goes
    // on in its last file: a node restarting in a loop otherwise leaves a
    // file per start until compaction passes them. A file cut back above
    // is never appended to again: that restatement starts a fresh segment.
    const lastSeg = kept[kept.length - 1];
    if (lastSeg !== undefined && torn === undefined && lastBytes < this.segmentBytes) await this.resumeSegment(lastSeg, lastBytes);
    else await this.startSegment((lastSeg?.seq ?? 0) + 1);
    await this.purgeSnapshots();

    this.recoveryReport = {
      snapshot: { term: F.term, index: F.index },
      segments: kept.length,
      batches: replay.batches,
      removed,
    };
    if (fellBack) this.recoveryReport.fellBackFrom = fellBack;
    if (torn) this.recoveryReport.tornTail = { file: torn.file, ...torn.tail };
    log.info(
      `storage-file: opened ${this.dir}: snapshot at index ${F.index} (term ${F.term}), ` +
        (mem.lastIndex() >= mem.firstIndex() ? `entries ${mem.firstIndex()}..${mem.lastIndex()}` : 'no entries after it') +
        `, ${kept.length} segment(s), ${replay.batches} batch(es) replayed`,
    );
  }

  /** Step 1 of recover(): the WAL's segments, in sequence, replayed (entries below `decodeFrom` followed, not decoded). */
  private async replayWal(
    segs: readonly { seq: number; firstIndex: number; name: string }[],
    decodeFrom: number,
  ): Promise<{
    replay: Replay;
    kept: SegmentInfo[];
    torn: { file: string; tail: TornTail } | undefined;
    nextSeq: number | undefined;
    /** The size of the last kept segment's file. */
    lastBytes: number;
  }> {
    const replay = new Replay(decodeFrom);
    const kept: SegmentInfo[] = [];
    let nextSeq: number | undefined;
    let torn: { file: string; tail: TornTail } | undefined;
    let lastBytes = 0;
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i]!;
      const path = join(this.walDir, seg.name);
      const raw = await this.fs.readFile(path);
      const buf = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
      let maxIndex = 0;
      const scan = scanSegment(path, buf, seg, i === segs.length - 1, nextSeq, (b) => {
        maxIndex = Math.max(maxIndex, replay.apply(path, b));
        nextSeq = b.seq + 1;
      });
      if (scan.torn?.offset === 0) {
        torn = { file: path, tail: scan.torn };
        break; // the last file, with not even a header: it goes
      }
      kept.push({ seq: seg.seq, name: seg.name, maxIndex });
      lastBytes = buf.length;
      if (scan.torn) torn = { file: path, tail: scan.torn };
    }
    return { replay, kept, torn, nextSeq, lastBytes };
  }

  // ---- the write queue ----

  private enqueue(item: Omit<WriteItem, 'resolve' | 'reject'>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ...item, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.drainPromise !== undefined) return;
    this.drainPromise = this.drain()
      .catch((e: unknown) => {
        // drain handles its errors; this is a bug, and it must not lose items.
        const failure = this.fail(e);
        for (const item of this.queue.splice(0)) item.reject(failure);
      })
      .finally(() => {
        this.drainPromise = undefined;
        // An item queued after the loop's last look but before this line.
        if (this.queue.length > 0) this.kick();
      });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      if (this.failure) {
        for (const item of this.queue.splice(0)) item.reject(this.failure);
        return;
      }
      const head = this.queue[0]!;
      if (head.blocker) {
        await head.blocker; // never rejects: a failed snapshot write fails the storage
        head.blocker = undefined;
        continue;
      }
      let n = 1;
      if (this.syncMode === 'batch') while (n < this.queue.length && !this.queue[n]!.blocker) n++;
      const group = this.queue.splice(0, n);
      try {
        await this.appendBatch(group);
      } catch (e) {
        const failure = this.fail(e);
        for (const item of group) item.reject(failure);
        continue;
      }
      for (const item of group) {
        try {
          item.apply();
        } catch (e) {
          item.reject(this.fail(e));
          continue;
        }
        item.resolve();
      }
    }
  }

  /**
   * Writes the group's records as one batch, after any held ones, and
   * fsyncs it; unless no item in it must sync: then it is held (see held).
   */
  private async appendBatch(group: readonly WriteItem[]): Promise<void> {
    if (!group.some((item) => item.sync)) {
      for (const item of group) {
        if (item.records.count === 0) continue;
        this.held.push(item);
        this.heldBytes += item.records.body;
      }
      // Bounded: a long run of them (no save that syncs) is written out.
      if (this.heldBytes >= HELD_MAX_BYTES) await this.writeBatch(this.takeHeld([]));
      return;
    }
    await this.writeBatch(this.takeHeld(group));
  }

  /** The held items, then `group`; none held afterwards. */
  private takeHeld(group: readonly WriteItem[]): readonly WriteItem[] {
    if (this.held.length === 0) return group;
    const items = [...this.held, ...group];
    this.held = [];
    this.heldBytes = 0;
    return items;
  }

  /** Writes the items' records as one batch and makes it durable. */
  private async writeBatch(group: readonly WriteItem[]): Promise<void> {
    let count = 0;
    let body = 0;
    for (const item of group) {
      count += item.records.count;
      body += item.records.body;
    }
    // Nothing to write; every batch written before is durable already.
    if (count === 0) return;
    // Roll over before writing rather than after: no file work runs in
    // the background once a save has resolved.
    if (this.active!.size >= this.segmentBytes) await this.startSegment(this.active!.info.seq + 1);
    const seg = this.active!;
    // One save alone (the usual batch) is written from the array it was
    // framed into; several are copied into one.
    let buf: Uint8Array;
    if (group.length === 1) buf = group[0]!.records.bytes;
    else {
      buf = unzeroedBytes(body + COMMIT_RECORD_SIZE);
      let at = 0;
      for (const { records } of group) {
        buf.set(records.bytes.subarray(0, records.body), at);
        at += records.body;
      }
    }
    const seq = this.nextBatchSeq;
    encodeRecords([{ type: RecordType.Commit, payload: commitPayload({ batchSeq: seq, records: count, bytes: body }) }], buf, body);
    // A write bound for the thread pool anyway (nothing before it awaits
    // an fsync: every batch is made durable as it is written): written and
    // made durable in one trip there (O_DSYNC) rather than two, a write and
    // then its datasync. Each trip also waits for the event loop to take up
    // its completion, which under load costs more than the disk does.
    const durable = this.durableWrites(buf.length) ? await this.durableHandle(seg) : undefined;
    if (durable !== undefined) await writeFully(this.fs, durable, buf, seg.size);
    else {
      await writeFully(this.fs, seg.fh, buf, seg.size);
      // datasync: appending changes the size, which fdatasync does flush.
      if (!this.noSync) await seg.fh.datasync();
    }
    seg.size += buf.length;
    this.nextBatchSeq = seq + 1;
    for (const item of group) seg.info.maxIndex = Math.max(seg.info.maxIndex, item.maxIndex);
  }

  /** Whether a batch of `bytes` that must be durable is written through the segment's durable handle. */
  private durableWrites(bytes: number): boolean {
    return !this.noSync && !this.noDurableWrites && this.fs.openDurable !== undefined && !writesNow(this.fs, bytes);
  }

  /** The segment's durable handle, opened at its first use; undefined (and no more tries) if it cannot be opened. */
  private async durableHandle(seg: ActiveSegment): Promise<FileHandle | undefined> {
    if (seg.durableFh !== undefined) return seg.durableFh;
    const path = join(this.walDir, seg.info.name);
    try {
      seg.durableFh = await this.fs.openDurable!(path);
      return seg.durableFh;
    } catch (e) {
      this.noDurableWrites = true;
      this.logger.warning(`storage-file: cannot open ${path} for durable writes (${e instanceof Error ? e.message : String(e)}); writing, then fsyncing, from now on`);
      return undefined;
    }
  }

  /**
   * Creates segment `seq` and makes it the active one. Its head batch
   * restates the durable snapshot and hard state, so that every older
   * segment may later be deleted without losing them.
   */
  private async startSegment(seq: number): Promise<void> {
    const name = segmentName(seq, this.mem.lastIndex() + 1);
    const path = join(this.walDir, name);
    // No new segment outlives the tail of the one before it: every batch of that one is durable already.
    const header = encodeSegmentHeader(seq, this.mem.lastIndex() + 1);
    const buf = this.restatement(header.length);
    buf.set(header, 0);
    // 'wx': never overwrite a segment, whatever a bug elsewhere may think.
    const fh = await this.fs.open(path, 'wx');
    try {
      await writeFully(this.fs, fh, buf, 0);
      if (!this.noSync) {
        await fh.sync();
        await syncDir(this.fs, this.walDir);
      }
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
    this.nextBatchSeq++;
    const previous = this.active;
    const info: SegmentInfo = { seq, name, maxIndex: 0 };
    this.segments.push(info);
    this.active = { fh, size: buf.length, info };
    if (previous !== undefined) await closeSegment(previous);
  }

  /**
   * At open: makes the last segment (`bytes` long, ending with a whole
   * batch) the active one again, and appends the restatement to it.
   */
  private async resumeSegment(info: SegmentInfo, bytes: number): Promise<void> {
    const buf = this.restatement(0);
    const fh = await this.fs.open(join(this.walDir, info.name), 'r+');
    try {
      await writeFully(this.fs, fh, buf, bytes);
      if (!this.noSync) await fh.datasync();
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
    this.nextBatchSeq++;
    this.active = { fh, size: bytes + buf.length, info };
  }

  /**
   * `room` bytes left free, then one batch restating the durable snapshot
   * and hard state (its Commit numbered nextBatchSeq).
   */
  private restatement(room: number): Uint8Array {
    const records: RecordOut[] = [
      { type: RecordType.SnapshotMark, payload: snapshotMetaPayload(this.memSnap) },
      { type: RecordType.HardState, payload: encodeHardState(this.mem.initialState().hardState) },
    ];
    const body = recordsSize(records);
    const buf = new Uint8Array(room + body + COMMIT_RECORD_SIZE);
    const end = encodeRecords(records, buf, room);
    encodeRecords(
      [{ type: RecordType.Commit, payload: commitPayload({ batchSeq: this.nextBatchSeq, records: records.length, bytes: body }) }],
      buf,
      end,
    );
    return buf;
  }

  // ---- snapshots ----

  /** Writes a snapshot file; a failure fails the storage (and this never rejects). */
  private async writeSnapshot(snap: Snapshot): Promise<void> {
    try {
      await writeSnapshotFile(this.fs, this.snapDir, snap, !this.noSync);
    } catch (e) {
      this.fail(e);
    }
  }

  /**
   * Deletes acknowledged snapshot files beyond the newest SNAPSHOTS_KEPT
   * (files of snapshots still being made are newer than memSnap: untouched).
   * A failure here threatens no data, so it is logged, not thrown.
   */
  private async purgeSnapshots(): Promise<void> {
    try {
      const names = (await this.fs.readdir(this.snapDir))
        .map(parseSnapName)
        .filter((s): s is SnapName => s !== undefined && s.index <= this.memSnap.index)
        .sort(newestFirst);
      const doomed = names.slice(SNAPSHOTS_KEPT);
      if (doomed.length === 0) return;
      for (const s of doomed) {
        try {
          await this.fs.unlink(join(this.snapDir, s.name));
        } catch (e) {
          if (!isErrno(e, 'ENOENT')) throw e;
        }
      }
      if (!this.noSync) await syncDir(this.fs, this.snapDir);
    } catch (e) {
      this.logger.error(`storage-file: could not delete old snapshot files: ${(e as Error).message}`);
    }
  }

  // ---- failure, errors and bookkeeping ----

  protected override failedError(cause: unknown): ErrStorageFailed {
    const failure = cause instanceof ErrStorageFailed ? cause : new ErrStorageFailed(cause);
    this.logger.error(`storage-file: ${failure.message}`);
    return failure;
  }

  protected override closedError(message: string): ErrStorageClosed {
    return new ErrStorageClosed(message);
  }

  protected override compactBeyondSnapshotError(index: number, snapshotIndex: number): ErrCompactBeyondSnapshot {
    return new ErrCompactBeyondSnapshot(index, snapshotIndex);
  }

  protected override panic(message: string): never {
    return this.logger.panic(message);
  }

  private track<T>(fn: () => Promise<T>): Promise<T> {
    const p = fn();
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }
}

// Snapshot files: snap/<term:16 hex>-<index:16 hex>.snap, written to a temp
// file, fsynced, renamed into place and the directory fsynced, so a reader
// sees a whole snapshot or none.
//
//   header (28 bytes)
//     0  8  magic "RBUSSNP\n"
//     8  4  format version (2; version 1 files are read too)
//    12  4  metadata length
//    16  8  data length
//    24  4  CRC-32C. Version 2: of the metadata, the data, then bytes 0..24,
//           so that it is computed as the data streams in and the header is
//           written last. Version 1: of bytes 0..24, the metadata, the data.
//   metadata  raftpb Snapshot carrying only its metadata (term, index, ConfState)
//   data      the state machine's bytes, as given
//
// The data is written and read in pieces of SNAPSHOT_CHUNK_BYTES, never
// held whole unless the caller asks to keep a small snapshot in memory.
import { join } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { EMPTY_BYTES, SNAPSHOT_CHUNK_BYTES, chunksOf, copyBytes, joinBytes, rechunk, type Snapshot, type SnapshotMetadata } from '@raftbus/core';
import { crc32c } from './crc32c.js';
import { ErrCorruptSnapshot } from './errors.js';
import { syncDir, writeFully, type FileStorageFs } from './fs.js';
import { decodeSnapshotMetaPayload, putU32, putU64, snapshotMetaPayload, u32At, u64At } from './wal-format.js';

export const SNAP_DIR = 'snap';
export const SNAP_MAGIC = Uint8Array.from(Buffer.from('RBUSSNP\n', 'latin1'));
export const SNAP_VERSION = 2;
const HEADER_SIZE = 28;
export const TMP_SUFFIX = '.tmp';
/** A snapshot file that failed its checksum is renamed with this suffix and kept for the operator. */
export const BROKEN_SUFFIX = '.broken';

const hex16 = (n: number) => n.toString(16).padStart(16, '0');

export interface SnapName {
  name: string;
  term: number;
  index: number;
}

export function snapName(term: number, index: number): string {
  return `${hex16(term)}-${hex16(index)}.snap`;
}

export function parseSnapName(name: string): SnapName | undefined {
  const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/.exec(name);
  if (!m) return undefined;
  const term = Number.parseInt(m[1]!, 16);
  const index = Number.parseInt(m[2]!, 16);
  if (!Number.isSafeInteger(term) || !Number.isSafeInteger(index)) return undefined;
  return { name, term, index };
}

/** Newest first: by index, then term. */
export function newestFirst(a: SnapName, b: SnapName): number {
  return b.index - a.index || b.term - a.term;
}

/** Iterating the snapshot's chunks threw `cause`: the producer failed, not the disk. */
export class SnapshotSourceError extends Error {
  constructor(cause: unknown) {
    super(`snapshot data source failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'SnapshotSourceError';
  }
}

export interface SnapshotWritten {
  name: string;
  /** The whole data, when it was at most `keepBytes` long (a copy: the chunks may be reused). */
  kept?: Uint8Array;
}

/** Writes `snap` atomically into `dir`; returns the file name. */
export async function writeSnapshotFile(fs: FileStorageFs, dir: string, snap: Snapshot, sync: boolean): Promise<string> {
  return (await writeSnapshotStream(fs, dir, snap.metadata, chunksOf(snap.data), sync)).name;
}

/**
 * Writes a snapshot atomically into `dir` from its data's chunks, as they
 * come: each piece is written and checksummed, then let go; the header,
 * which holds the length and checksum, is written last, before the fsync.
 * An error from `chunks` rejects with SnapshotSourceError (the temp file is
 * removed); any other error is the file system's.
 */
export async function writeSnapshotStream(
  fs: FileStorageFs,
  dir: string,
  metadata: SnapshotMetadata,
  chunks: AsyncIterable<Uint8Array>,
  sync: boolean,
  keepBytes = 0,
): Promise<SnapshotWritten> {
  const name = snapName(metadata.term, metadata.index);
  const meta = snapshotMetaPayload(metadata);
  const tmp = join(dir, name + TMP_SUFFIX);
  // 'w' truncates a leftover temp file of the same name from a crash.
  const fh = await fs.open(tmp, 'w');
  let kept: Uint8Array[] | undefined = [];
  let length = 0;
  let crc = crc32c(meta);
  try {
    await writeFully(fs, fh, meta, HEADER_SIZE);
    const pieces = rechunk(chunks, SNAPSHOT_CHUNK_BYTES)[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await pieces.next();
      } catch (e) {
        throw new SnapshotSourceError(e);
      }
      if (next.done) break;
      const piece = next.value;
      try {
        await writeFully(fs, fh, piece, HEADER_SIZE + meta.length + length);
      } catch (e) {
        await pieces.return?.(undefined).catch(() => {});
        throw e;
      }
      crc = crc32c(piece, crc);
      length += piece.length;
      if (kept !== undefined && length <= keepBytes) kept.push(copyBytes(piece));
      else kept = undefined;
    }
    const header = new Uint8Array(HEADER_SIZE);
    header.set(SNAP_MAGIC, 0);
    putU32(header, 8, SNAP_VERSION);
    putU32(header, 12, meta.length);
    putU64(header, 16, length);
    putU32(header, 24, crc32c(header.subarray(0, 24), crc));
    await writeFully(fs, fh, header, 0);
    if (sync) await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    if (e instanceof SnapshotSourceError) await fs.unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  await fs.rename(tmp, join(dir, name));
  if (sync) await syncDir(fs, dir);
  const written: SnapshotWritten = { name };
  if (kept !== undefined) written.kept = joinBytes(kept, length);
  return written;
}


/** A snapshot file's header and metadata, read and checked for shape (the checksum comes with the data). */
interface SnapshotHead {
  version: number;
  head: Uint8Array;
  meta: Uint8Array;
  dataStart: number;
  dataLength: number;
  storedCrc: number;
}

type HeadRead = { ok: true; head: SnapshotHead } | { ok: false; reason: string };

async function readHead(fh: FileHandle): Promise<HeadRead> {
  const size = (await fh.stat()).size;
  if (size < HEADER_SIZE) return { ok: false, reason: 'shorter than its header' };
  const head = await readAt(fh, 0, HEADER_SIZE);
  for (let i = 0; i < SNAP_MAGIC.length; i++) {
    if (head[i] !== SNAP_MAGIC[i]) return { ok: false, reason: 'not a raftbus snapshot (bad magic)' };
  }
  const version = u32At(head, 8);
  if (version !== 1 && version !== SNAP_VERSION) return { ok: false, reason: `unsupported snapshot format version ${version}` };
  const metaLength = u32At(head, 12);
  const dataLength = u64At(head, 16);
  if (dataLength === undefined || HEADER_SIZE + metaLength + dataLength !== size) {
    return { ok: false, reason: `length ${size} does not match its header` };
  }
  const meta = await readAt(fh, HEADER_SIZE, metaLength);
  return { ok: true, head: { version, head, meta, dataStart: HEADER_SIZE + metaLength, dataLength, storedCrc: u32At(head, 24) } };
}

/** The checksum before the data, and the one the data's checksum ends in. */
function crcStart(h: SnapshotHead): number {
  return h.version === 1 ? crc32c(h.meta, crc32c(h.head.subarray(0, 24))) : crc32c(h.meta);
}

function crcEnd(h: SnapshotHead, crc: number): number {
  return h.version === 1 ? crc : crc32c(h.head.subarray(0, 24), crc);
}

function checkMetadata(h: SnapshotHead, expect: SnapName): { ok: true; metadata: SnapshotMetadata } | { ok: false; reason: string } {
  let metadata: SnapshotMetadata;
  try {
    metadata = decodeSnapshotMetaPayload(h.meta);
  } catch (e) {
    return { ok: false, reason: `undecodable metadata: ${(e as Error).message}` };
  }
  if (metadata.term !== expect.term || metadata.index !== expect.index) {
    return { ok: false, reason: `holds term ${metadata.term} index ${metadata.index}, not what its name says` };
  }
  return { ok: true, metadata };
}

export type SnapshotCheck = { ok: true; metadata: SnapshotMetadata; data?: Uint8Array } | { ok: false; reason: string };

/**
 * Reads a snapshot file through, piece by piece, and checks it; `expect` is
 * what its name says. The data is returned when it is at most `keepBytes`
 * long; a longer one is only checksummed.
 */
export async function checkSnapshotFile(fs: FileStorageFs, path: string, expect: SnapName, keepBytes: number): Promise<SnapshotCheck> {
  const fh = await fs.open(path, 'r');
  try {
    const read = await readHead(fh);
    if (!read.ok) return read;
    const h = read.head;
    const keep = h.dataLength <= keepBytes;
    const data = keep ? (h.dataLength === 0 ? EMPTY_BYTES : await readAt(fh, h.dataStart, h.dataLength)) : undefined;
    let crc = crcStart(h);
    if (data !== undefined) crc = crc32c(data, crc);
    else for await (const piece of readPieces(fh, h)) crc = crc32c(piece, crc);
    if (crcEnd(h, crc) !== h.storedCrc) return { ok: false, reason: 'checksum mismatch' };
    const meta = checkMetadata(h, expect);
    if (!meta.ok) return meta;
    return data === undefined ? { ok: true, metadata: meta.metadata } : { ok: true, metadata: meta.metadata, data };
  } finally {
    await fh.close();
  }
}

/**
 * The data of a snapshot file, read piece by piece as it is iterated (each
 * piece a fresh array), checksummed as it goes. Damage throws
 * ErrCorruptSnapshot: a bad header before the first piece, a checksum
 * mismatch only after the last one.
 */
export async function* snapshotFileChunks(fs: FileStorageFs, path: string, expect: SnapName): AsyncGenerator<Uint8Array, void, undefined> {
  const fh = await fs.open(path, 'r');
  try {
    const read = await readHead(fh);
    if (!read.ok) throw new ErrCorruptSnapshot(path, read.reason);
    const h = read.head;
    const meta = checkMetadata(h, expect);
    if (!meta.ok) throw new ErrCorruptSnapshot(path, meta.reason);
    let crc = crcStart(h);
    for await (const piece of readPieces(fh, h)) {
      crc = crc32c(piece, crc);
      yield piece;
    }
    if (crcEnd(h, crc) !== h.storedCrc) throw new ErrCorruptSnapshot(path, 'checksum mismatch');
  } finally {
    await fh.close();
  }
}

async function* readPieces(fh: FileHandle, h: SnapshotHead): AsyncGenerator<Uint8Array, void, undefined> {
  for (let at = 0; at < h.dataLength; at += SNAPSHOT_CHUNK_BYTES) {
    yield await readAt(fh, h.dataStart + at, Math.min(SNAPSHOT_CHUNK_BYTES, h.dataLength - at));
  }
}

/** Reads exactly `length` bytes at `position` into a fresh array; a single read() may read less. */
async function readAt(fh: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead <= 0) throw new Error(`unexpected end of file at ${position + done}`);
    done += bytesRead;
  }
  return buf;
}

// The WAL's on-disk format, version 1. All integers are little-endian; 64-bit
// fields hold values below 2^53 (terms and indexes are JS numbers).
//
// Segment file wal/<seq:16 hex>-<firstIndex:16 hex>.wal. seq counts up from
// 1 without gaps; firstIndex is the index the next entry had when the
// segment was created (informational; an overwrite may later rewrite lower
// indexes into it).
//
//   segment header (36 bytes)
//     0  8  magic "RBUSWAL\n"
//     8  4  format version (1)
//    12  4  reserved, zero
//    16  8  seq (equals the file name's)
//    24  8  firstIndex (equals the file name's)
//    32  4  CRC-32C of bytes 0..32
//   then records, each:
//     0  4  payload length
//     4  1  record type
//     5  3  reserved, zero
//     8  4  CRC-32C of the payload
//    12  4  CRC-32C of header bytes 0..12 (so a damaged length is caught
//           before it is trusted)
//    16  …  payload
//
// Records come in batches: one write, one fsync, ended by a Commit record.
// Records after the last Commit of a file are an unfinished batch. Every
// segment opens with a head batch restating the current snapshot (a
// SnapshotMark) and hard state, so that older segments can be deleted
// without losing either.
import {
  EMPTY_BYTES,
  decodeSnapshot,
  encodeEntryInto,
  encodeSnapshot,
  entrySize,
  type Entry,
  type SnapshotMetadata,
} from '@raftbus/core';
import { crc32c, crc32cAt, crc32cRanges } from './crc32c.js';

export const WAL_DIR = 'wal';
export const WAL_MAGIC = Uint8Array.from(Buffer.from('RBUSWAL\n', 'latin1'));
export const WAL_VERSION = 1;
export const SEGMENT_HEADER_SIZE = 36;
export const RECORD_HEADER_SIZE = 16;

export enum RecordType {
  /** One raft Entry (raftpb encoding). Replaces the entry at its index and every one after it. */
  Entry = 1,
  /** The HardState (raftpb encoding). */
  HardState = 2,
  /**
   * A snapshot from the leader was installed (raftpb Snapshot with metadata
   * only; the data is in snap/). The log before and after it is discarded.
   */
  SnapshotInstall = 3,
  /**
   * A snapshot exists at this (term, index) (raftpb Snapshot, metadata
   * only): one made by createSnapshot, or the current one restated at the
   * head of a segment. The log is kept.
   */
  SnapshotMark = 4,
  /**
   * Ends a batch. Payload: 8 bytes batch sequence number (one more than the
   * previous batch's, across segments), 4 bytes number of records before it
   * in the batch, 8 bytes length of those records, 4 bytes COMMIT_CHECK.
   */
  Commit = 5,
}

export const COMMIT_PAYLOAD_SIZE = 24;
/**
 * The last word of every Commit. A complete batch thus never ends in zero
 * bytes, which keeps a damaged final Commit from passing for blocks that
 * never reached the disk (see wal-reader.ts).
 */
export const COMMIT_CHECK = 0x53554252; // "RBUS"
export const COMMIT_RECORD_SIZE = RECORD_HEADER_SIZE + COMMIT_PAYLOAD_SIZE;

const TWO_32 = 2 ** 32;

/**
 * Writes `v` (a u32) little-endian at `at`. Fields are read and written a
 * byte at a time, not through a DataView: making one per record or per save
 * cost more than the reads and writes themselves.
 */
export function putU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}

/** The little-endian u32 at `at`. */
export function u32At(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** Writes a safe integer as a little-endian u64 at `at`. */
export function putU64(b: Uint8Array, at: number, v: number): void {
  putU32(b, at, v % TWO_32);
  putU32(b, at + 4, Math.floor(v / TWO_32));
}

/** Reads a little-endian u64 at `at`; undefined if it does not fit a safe integer. */
export function u64At(b: Uint8Array, at: number): number | undefined {
  const hi = u32At(b, at + 4);
  if (hi >= 2 ** 21) return undefined;
  return hi * TWO_32 + u32At(b, at);
}

const hex16 = (n: number) => n.toString(16).padStart(16, '0');

export function segmentName(seq: number, firstIndex: number): string {
  return `${hex16(seq)}-${hex16(firstIndex)}.wal`;
}

export function parseSegmentName(name: string): { seq: number; firstIndex: number } | undefined {
  const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/.exec(name);
  if (!m) return undefined;
  const seq = Number.parseInt(m[1]!, 16);
  const firstIndex = Number.parseInt(m[2]!, 16);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(firstIndex)) return undefined;
  return { seq, firstIndex };
}

export function encodeSegmentHeader(seq: number, firstIndex: number): Uint8Array {
  const b = new Uint8Array(SEGMENT_HEADER_SIZE);
  b.set(WAL_MAGIC, 0);
  putU32(b, 8, WAL_VERSION);
  putU64(b, 16, seq);
  putU64(b, 24, firstIndex);
  putU32(b, 32, crc32c(b.subarray(0, 32)));
  return b;
}

export type SegmentHeaderResult =
  | { ok: true; seq: number; firstIndex: number }
  | { ok: false; reason: string };

export function decodeSegmentHeader(b: Uint8Array): SegmentHeaderResult {
  if (b.length < SEGMENT_HEADER_SIZE) return { ok: false, reason: 'segment header cut short' };
  if (u32At(b, 32) !== crc32c(b.subarray(0, 32))) return { ok: false, reason: 'segment header checksum mismatch' };
  for (let i = 0; i < WAL_MAGIC.length; i++) {
    if (b[i] !== WAL_MAGIC[i]) return { ok: false, reason: 'not a raftbus WAL segment (bad magic)' };
  }
  const version = u32At(b, 8);
  if (version !== WAL_VERSION) return { ok: false, reason: `unsupported WAL format version ${version}` };
  const seq = u64At(b, 16);
  const firstIndex = u64At(b, 24);
  if (seq === undefined || firstIndex === undefined) return { ok: false, reason: 'segment header field out of range' };
  return { ok: true, seq, firstIndex };
}

/** One record to write: its type and payload. */
export interface RecordOut {
  type: RecordType;
  payload: Uint8Array;
}

export function snapshotMetaPayload(metadata: SnapshotMetadata): Uint8Array {
  return encodeSnapshot({ data: EMPTY_BYTES, metadata });
}

export function decodeSnapshotMetaPayload(payload: Uint8Array): SnapshotMetadata {
  return decodeSnapshot(payload).metadata;
}

export interface CommitInfo {
  batchSeq: number;
  /** Records in the batch before the Commit. */
  records: number;
  /** Bytes of those records: the batch starts that far before the Commit. */
  bytes: number;
}

export function commitPayload(c: CommitInfo): Uint8Array {
  const b = new Uint8Array(COMMIT_PAYLOAD_SIZE);
  putU64(b, 0, c.batchSeq);
  putU32(b, 8, c.records);
  putU64(b, 12, c.bytes);
  putU32(b, 20, COMMIT_CHECK);
  return b;
}

export function decodeCommitPayload(p: Uint8Array): CommitInfo | undefined {
  if (p.length !== COMMIT_PAYLOAD_SIZE) return undefined;
  const batchSeq = u64At(p, 0);
  const bytes = u64At(p, 12);
  if (batchSeq === undefined || bytes === undefined || u32At(p, 20) !== COMMIT_CHECK) return undefined;
  return { batchSeq, records: u32At(p, 8), bytes };
}

export function recordsSize(records: readonly RecordOut[]): number {
  let n = 0;
  for (const r of records) n += RECORD_HEADER_SIZE + r.payload.length;
  return n;
}

/** Writes the header of a record of `length` payload bytes whose checksum is `payloadCrc`. */
function encodeHeader(out: Uint8Array, at: number, type: RecordType, length: number, payloadCrc: number): void {
  putU32(out, at, length);
  out[at + 4] = type;
  out[at + 5] = 0;
  out[at + 6] = 0;
  out[at + 7] = 0;
  putU32(out, at + 8, payloadCrc);
  putU32(out, at + 12, crc32cAt(out, at, at + 12));
}

/** Frames `records` into `out` at `at`; returns the offset after them. */
export function encodeRecords(records: readonly RecordOut[], out: Uint8Array, at: number): number {
  for (const r of records) {
    out.set(r.payload, at + RECORD_HEADER_SIZE);
    encodeHeader(out, at, r.type, r.payload.length, crc32c(r.payload));
    at += RECORD_HEADER_SIZE + r.payload.length;
  }
  return at;
}

/**
 * A save's records, framed when it is made (so a bad entry fails that save
 * alone, and no array is made per entry), with COMMIT_RECORD_SIZE bytes
 * left after them: a batch of this save alone is written from this array,
 * its commit record in that room.
 */
export interface FramedRecords {
  /** `body` bytes of records, then the room for a commit record (not yet written). */
  bytes: Uint8Array;
  body: number;
  count: number;
}

/**
 * `n` bytes whose contents are garbage, for arrays written in full: no
 * zeroing. A plain Uint8Array over Buffer's memory, whose subarray() (one
 * per record for its checksum) is cheaper than a Buffer's.
 */
export function unzeroedBytes(n: number): Uint8Array {
  const b = Buffer.allocUnsafe(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

/** Frames `before`, an Entry record per entry, then `after`. Refuses a bad entry as core's encoder does. */
export function frameRecords(before: readonly RecordOut[], entries: readonly Entry[], after: readonly RecordOut[]): FramedRecords {
  let body = recordsSize(before) + recordsSize(after);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    // An entry without bytes for data cannot be sized: counted as none
    // here, it is refused below with the codec's own error.
    body += RECORD_HEADER_SIZE + (e.data instanceof Uint8Array ? entrySize(e) : 0);
  }
  const bytes = unzeroedBytes(body + COMMIT_RECORD_SIZE);
  let at = encodeRecords(before, bytes, 0);
  // The entries first, each after room for its header; then their
  // checksums, all in one pass over the batch (crc32cRanges); then the headers.
  const n = entries.length;
  const bounds = new Array<number>(2 * n);
  for (let i = 0; i < n; i++) {
    const start = at + RECORD_HEADER_SIZE;
    at = encodeEntryInto(entries[i]!, bytes, start);
    bounds[2 * i] = start;
    bounds[2 * i + 1] = at;
  }
  const crcs = new Uint32Array(n);
  crc32cRanges(bytes, bounds, n, crcs);
  for (let i = 0; i < n; i++) {
    const start = bounds[2 * i]!;
    encodeHeader(bytes, start - RECORD_HEADER_SIZE, RecordType.Entry, bounds[2 * i + 1]! - start, crcs[i]!);
  }
  at = encodeRecords(after, bytes, at);
  return { bytes, body: at, count: before.length + entries.length + after.length };
}

export type RecordRead =
  | { kind: 'ok'; type: RecordType; payload: Uint8Array; end: number }
  /** Fewer bytes than a header, or than the payload the (valid) header announces: the file ends inside it. */
  | { kind: 'cut'; reason: string }
  /** A complete header that fails its checksum. */
  | { kind: 'bad-header'; reason: string }
  /** Checksums match but the record makes no sense to this reader: never a torn write. */
  | { kind: 'invalid'; reason: string }
  /** Header valid, payload complete, payload checksum wrong. */
  | { kind: 'bad-payload'; reason: string; end: number };

const KNOWN_TYPES = new Set<number>([
  RecordType.Entry,
  RecordType.HardState,
  RecordType.SnapshotInstall,
  RecordType.SnapshotMark,
  RecordType.Commit,
]);

/** Whether the record header at `at` (all of it in `buf`) matches its own checksum. */
function headerIntact(buf: Uint8Array, at: number): boolean {
  return u32At(buf, at + 12) === crc32cAt(buf, at, at + 12);
}

/**
 * Reads the record at `at` in `buf` (which ends where the file ends).
 * `payloadCrc`, when given, is the CRC-32C of the bytes the record's header
 * says are its payload, computed beforehand (payloadChecksums); it is used
 * only once that header has passed its own checksum.
 */
export function readRecord(buf: Uint8Array, at: number, payloadCrc?: number): RecordRead {
  if (buf.length - at < RECORD_HEADER_SIZE) return { kind: 'cut', reason: 'record header cut short' };
  if (!headerIntact(buf, at)) {
    return { kind: 'bad-header', reason: 'record header checksum mismatch' };
  }
  const type = buf[at + 4]!;
  if (!KNOWN_TYPES.has(type) || buf[at + 5] !== 0 || buf[at + 6] !== 0 || buf[at + 7] !== 0) {
    // A valid header checksum over an unknown type is not damage but a
    // writer we do not understand (a newer format): never guess.
    return { kind: 'invalid', reason: `unknown record type ${type}` };
  }
  const len = u32At(buf, at);
  const start = at + RECORD_HEADER_SIZE;
  if (buf.length - start < len) return { kind: 'cut', reason: 'record payload cut short' };
  const payload = buf.subarray(start, start + len);
  if (u32At(buf, at + 8) !== (payloadCrc ?? crc32c(payload))) {
    return { kind: 'bad-payload', reason: 'record checksum mismatch', end: start + len };
  }
  return { kind: 'ok', type: type as RecordType, payload, end: start + len };
}

/**
 * The payload checksums of the chain of records from `at` on, in one pass
 * over `buf` (crc32cRanges), for readRecord: the k-th is that of the k-th
 * record reached by following each header's length from `at`. The chain
 * ends at a header that fails its checksum (a scan stops there: nothing
 * past it is checksummed, so a zeroed or damaged tail costs nothing) or
 * whose length runs past the end of `buf`.
 */
export function payloadChecksums(buf: Uint8Array, at: number): Uint32Array {
  let count = 0;
  for (let p = at; buf.length - p >= RECORD_HEADER_SIZE; count++) {
    const end = p + RECORD_HEADER_SIZE + u32At(buf, p);
    if (end > buf.length || !headerIntact(buf, p)) break;
    p = end;
  }
  const bounds = new Float64Array(2 * count);
  for (let k = 0, p = at; k < count; k++) {
    const start = p + RECORD_HEADER_SIZE;
    p = start + u32At(buf, p);
    bounds[2 * k] = start;
    bounds[2 * k + 1] = p;
  }
  const crcs = new Uint32Array(count);
  crc32cRanges(buf, bounds, count, crcs);
  return crcs;
}

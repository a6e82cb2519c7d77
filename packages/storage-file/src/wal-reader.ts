// Reads one WAL segment into complete batches and decides what its end is.
//
// The rule that keeps acknowledged data: a crash can only damage the batch
// being written when it struck (save() resolves after that batch's fsync,
// the next batch is written only after it, and a save that needs no fsync
// is held until one that does: file-storage.ts). So only the end of the last
// segment may be cut short, and only its final batch may be damaged, and
// then only in a way a crash explains. Anything else is corruption and is
// refused, never repaired:
//
// - a segment other than the last that does not end exactly after a Commit;
// - records whose checksums match but whose content makes no sense;
// - a damaged record followed by an intact Commit of a *later* batch (the
//   damaged batch had been fsynced before that one was written);
// - a damaged record (bad checksum, file not cut short) in the final batch
//   with no all-zero 512-byte sector in the damaged bytes, nor a header
//   zeroed through its type byte, nor one whose only damage is its first
//   1–4 bytes reading as zeros up to a sector boundary (shown by rebuilding
//   them from the checksums). Blocks that never reached the disk read
//   back as zeros (ext4, xfs) or are simply absent; bit rot reads back as
//   anything else. etcd's WAL decides torn writes the same way.
import { CRC32C_TABLES } from './crc32c.js';
import { ErrCorruptWAL } from './errors.js';
import {
  COMMIT_PAYLOAD_SIZE,
  RECORD_HEADER_SIZE,
  RecordType,
  SEGMENT_HEADER_SIZE,
  decodeCommitPayload,
  decodeSegmentHeader,
  payloadChecksums,
  putU32,
  readRecord,
  u32At,
  type RecordRead,
} from './wal-format.js';

export interface WalRecord {
  type: RecordType;
  payload: Uint8Array;
  /** Offset of the record in its file, for error messages. */
  offset: number;
}

export interface Batch {
  seq: number;
  records: WalRecord[];
  offset: number;
}

export interface TornTail {
  /** Where the file is cut back to: the end of its last complete batch (0: the whole file goes). */
  offset: number;
  /** Bytes dropped. */
  bytes: number;
  reason: string;
}

export interface SegmentScan {
  seq: number;
  firstIndex: number;
  /** Set only for the last segment, when it ends in an unfinished batch. */
  torn?: TornTail;
}

const SECTOR = 512;
/** A zero run shorter than this inside a sector is ordinary data (the high bytes of a small integer), not evidence. */
const MIN_ZERO_RUN = 16;
/** A record header's length and type bytes: all zero, they are no header of ours (no type is 0). */
const ZEROED_HEADER_EVIDENCE = 5;
/** A record header's length bytes: zeroed alone, headerRebuiltOverLostSector looks for the evidence. */
const LENGTH_BYTES = 4;

function allZero(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * Whether a 512-byte sector of the file that overlaps the damaged bytes
 * [from, damageEnd) reads as zeros: all of it that lies in [from, limit), and
 * at least MIN_ZERO_RUN bytes of it, or fewer when they run to the end of the
 * file (the last sector of a batch may hold only a few of its bytes, and a
 * complete batch never ends in a zero byte: see COMMIT_CHECK). Sectors are
 * counted from the start of the file, as the disk writes them.
 */
function zeroSectorIn(b: Uint8Array, from: number, damageEnd: number, limit: number): boolean {
  for (let s = Math.floor(from / SECTOR) * SECTOR; s < damageEnd; s += SECTOR) {
    const start = Math.max(s, from);
    const end = Math.min(s + SECTOR, limit);
    const evidence = end - start >= MIN_ZERO_RUN || (end === b.length && end > start);
    if (evidence && allZero(b, start, end)) return true;
  }
  return false;
}

/**
 * Whether the damaged record header at `p` is whole but for its first k ≤ 4
 * bytes (the low bytes of its length), which read as zeros and end at a
 * sector boundary: the sector where the last durable batch ended never got
 * this write, and the next one did. Too few zeros to be evidence alone (a
 * length's low byte is often zero), so the proof is the lost bytes rebuilt:
 * a length whose known high bytes match, whose payload (the bytes after the
 * header, up to `limit`) has the header's payload checksum, and which makes
 * the header pass its own checksum. Bit rot anywhere else in the header or
 * in that payload fails one of them.
 */
function headerRebuiltOverLostSector(buf: Uint8Array, p: number, limit: number): boolean {
  const k = SECTOR - (p % SECTOR);
  if (k > LENGTH_BYTES || p + RECORD_HEADER_SIZE > limit || !allZero(buf, p, p + k)) return false;
  const wantCrc = u32At(buf, p + 8);
  const start = p + RECORD_HEADER_SIZE;
  // The payload's CRC-32C over [start, q), extended one byte at a time: one
  // pass finds every length whose payload checksum matches.
  let state = 0xffffffff;
  for (let q = start; ; q++) {
    const len = q - start;
    if ((~state >>> 0) === wantCrc && highBytesMatch(buf, p, k, len)) {
      const record = buf.slice(p, q);
      putU32(record, 0, len);
      if (readRecord(record, 0).kind === 'ok') return true;
    }
    if (q >= limit) return false;
    state = CRC32C_TABLES[(state ^ buf[q]!) & 0xff]! ^ (state >>> 8);
  }
}

/** Whether `len`'s little-endian bytes k…3 are those of the header at `p`. */
function highBytesMatch(buf: Uint8Array, p: number, k: number, len: number): boolean {
  for (let j = k; j < LENGTH_BYTES; j++) if (buf[p + j] !== Math.floor(len / 2 ** (8 * j)) % 256) return false;
  return true;
}

/** Intact Commit records at any byte offset in [from, buf.length), cheapest checks first. */
function* intactCommitsAfter(buf: Uint8Array, from: number): Generator<{ offset: number; end: number; batchStart: number; seq: number }> {
  const last = buf.length - RECORD_HEADER_SIZE - COMMIT_PAYLOAD_SIZE;
  for (let at = from; at <= last; at++) {
    if (buf[at + 4] !== RecordType.Commit || buf[at] !== COMMIT_PAYLOAD_SIZE || buf[at + 1] !== 0) continue;
    const r = readRecord(buf, at);
    if (r.kind !== 'ok' || r.type !== RecordType.Commit) continue;
    const c = decodeCommitPayload(r.payload);
    if (c === undefined) continue;
    yield { offset: at, end: r.end, batchStart: at - c.bytes, seq: c.batchSeq };
  }
}

/**
 * Scans `buf`, the whole content of segment `file`, whose name says
 * `expect`, handing each complete batch to `onBatch` as soon as its Commit
 * is read (so a segment's records are not all alive at once: for a 64 MiB
 * segment of small entries, collecting them first made the collector copy
 * hundreds of thousands of them into the old generation). `nextSeq` is the
 * batch sequence number the segment must continue with (undefined for the
 * first segment on disk). Throws ErrCorruptWAL for corruption, possibly
 * after some batches were handed over (the caller then discards them with
 * everything else it read); reports a torn tail only when `isLast`.
 */
export function scanSegment(
  file: string,
  buf: Uint8Array,
  expect: { seq: number; firstIndex: number },
  isLast: boolean,
  nextSeq: number | undefined,
  onBatch: (b: Batch) => void,
): SegmentScan {
  const corrupt = (offset: number, reason: string) => new ErrCorruptWAL(file, offset, reason);

  const header = decodeSegmentHeader(buf);
  if (!header.ok) {
    // The header and head batch are the first write to a new file; a crash
    // before it reached the disk leaves the file empty, short or zeroed.
    const headerBytes = Math.min(buf.length, SEGMENT_HEADER_SIZE);
    if (isLast && (buf.length < SEGMENT_HEADER_SIZE || allZero(buf, 0, headerBytes))) {
      return { seq: -1, firstIndex: -1, torn: { offset: 0, bytes: buf.length, reason: header.reason } };
    }
    throw corrupt(0, header.reason);
  }
  if (header.seq !== expect.seq || header.firstIndex !== expect.firstIndex) {
    throw corrupt(0, `header says segment ${header.seq} from index ${header.firstIndex}, the file name says segment ${expect.seq} from index ${expect.firstIndex}`);
  }

  let pending: WalRecord[] = [];
  let batchStart = SEGMENT_HEADER_SIZE;
  let at = SEGMENT_HEADER_SIZE;
  let expected = nextSeq;

  const tail = (p: number, r: Exclude<RecordRead, { kind: 'ok' }>): SegmentScan => {
    if (r.kind === 'invalid') throw corrupt(p, r.reason);
    if (!isLast) throw corrupt(p, `${r.reason} (not at the end of the log)`);
    const cut = (reason: string) => ({ seq: header.seq, firstIndex: header.firstIndex, torn: { offset: batchStart, bytes: buf.length - batchStart, reason } });
    if (r.kind === 'cut') return cut(r.reason);

    // Damaged. Find out whether the damaged batch was finished (its Commit is
    // intact) and whether anything was written after it.
    let ownCommitAt: number | undefined;
    for (const c of intactCommitsAfter(buf, p + 1)) {
      if (c.batchStart > batchStart) {
        throw corrupt(p, `${r.reason}; batch ${c.seq} at offset ${c.batchStart} was written after it`);
      }
      if (c.batchStart === batchStart) ownCommitAt = c.offset;
    }
    // The damage: the record, or its header when the header is what fails.
    const damageEnd = r.kind === 'bad-payload' ? r.end : p + RECORD_HEADER_SIZE;
    if (zeroSectorIn(buf, p, damageEnd, ownCommitAt ?? buf.length)) {
      return cut(`${r.reason}, over zeroed sectors: a write the crash interrupted`);
    }
    // A header that reads as zeros through its type byte was never written
    // there (no record has type 0): the sector holding its start did not
    // reach the disk though a later one did. That sector's share of the
    // header may be too short for zeroSectorIn's evidence (it began within
    // the sector where the last durable batch ended).
    if (r.kind === 'bad-header' && allZero(buf, p, p + ZEROED_HEADER_EVIDENCE)) {
      return cut(`${r.reason}, over a zeroed header: a write the crash interrupted`);
    }
    if (r.kind === 'bad-header' && headerRebuiltOverLostSector(buf, p, ownCommitAt ?? buf.length)) {
      return cut(`${r.reason}, its first bytes zeroed up to a sector boundary and rebuilt from its checksums: a write the crash interrupted`);
    }
    throw corrupt(p, `${r.reason} in the final batch, and no zeroed sector to show a torn write`);
  };

  // Checksummed in one pass (a view and a call per record cost more than
  // the checksum of a small one); the k-th is the k-th record's below.
  const crcs = payloadChecksums(buf, at);
  for (let k = 0; at < buf.length; k++) {
    const r = readRecord(buf, at, crcs[k]);
    if (r.kind !== 'ok') return tail(at, r);
    if (r.type === RecordType.Commit) {
      const c = decodeCommitPayload(r.payload);
      if (c === undefined) throw corrupt(at, 'malformed commit record');
      if (c.records !== pending.length || c.bytes !== at - batchStart) {
        throw corrupt(at, `commit record counts ${c.records} records in ${c.bytes} bytes, the batch has ${pending.length} in ${at - batchStart}`);
      }
      if (expected !== undefined && c.batchSeq !== expected) {
        throw corrupt(batchStart, `batch ${c.batchSeq} out of order: expected batch ${expected}`);
      }
      onBatch({ seq: c.batchSeq, records: pending, offset: batchStart });
      expected = c.batchSeq + 1;
      pending = [];
      batchStart = r.end;
    } else {
      pending.push({ type: r.type, payload: r.payload, offset: at });
    }
    at = r.end;
  }
  if (pending.length > 0) return tail(at, { kind: 'cut', reason: 'batch without its commit record' });
  return { seq: header.seq, firstIndex: header.firstIndex };
}

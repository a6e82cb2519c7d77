// Snapshot files: snap/<term:16 hex>-<index:16 hex>.snap, written to a temp
// file, fsynced, renamed into place and the directory fsynced, so a reader
// sees a whole snapshot or none.
//
//   header (28 bytes)
//     0  8  magic "RBUSSNP\n"
//     8  4  format version (1)
//    12  4  metadata length
//    16  8  data length
//    24  4  CRC-32C of bytes 0..24, the metadata and the data
//   metadata  raftpb Snapshot carrying only its metadata (term, index, ConfState)
//   data      the state machine's bytes, as given
import { join } from 'node:path';
import { EMPTY_BYTES, type Snapshot } from '@raftbus/core';
import { crc32c } from './crc32c.js';
import { syncDir, writeFully, type FileStorageFs } from './fs.js';
import { decodeSnapshotMetaPayload, getU64, putU64, snapshotMetaPayload } from './wal-format.js';

export const SNAP_DIR = 'snap';
export const SNAP_MAGIC = Uint8Array.from(Buffer.from('RBUSSNP\n', 'latin1'));
export const SNAP_VERSION = 1;
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

/** Writes `snap` atomically into `dir`; returns the file name. */
export async function writeSnapshotFile(fs: FileStorageFs, dir: string, snap: Snapshot, sync: boolean): Promise<string> {
  const { term, index } = snap.metadata;
  const name = snapName(term, index);
  const meta = snapshotMetaPayload(snap.metadata);
  const header = new Uint8Array(HEADER_SIZE);
  const v = new DataView(header.buffer);
  header.set(SNAP_MAGIC, 0);
  v.setUint32(8, SNAP_VERSION, true);
  v.setUint32(12, meta.length, true);
  putU64(v, 16, snap.data.length);
  v.setUint32(24, crc32c(snap.data, crc32c(meta, crc32c(header.subarray(0, 24)))), true);

  const tmp = join(dir, name + TMP_SUFFIX);
  // 'w' truncates a leftover temp file of the same name from a crash.
  const fh = await fs.open(tmp, 'w');
  try {
    await writeFully(fh, header, 0);
    await writeFully(fh, meta, HEADER_SIZE);
    await writeFully(fh, snap.data, HEADER_SIZE + meta.length);
    if (sync) await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, join(dir, name));
  if (sync) await syncDir(fs, dir);
  return name;
}

export type SnapshotRead = { ok: true; snapshot: Snapshot } | { ok: false; reason: string };

/** Reads and checks a snapshot file; `expect` is what its name says. */
export async function readSnapshotFile(fs: FileStorageFs, path: string, expect: SnapName): Promise<SnapshotRead> {
  const buf: Uint8Array = await fs.readFile(path);
  if (buf.length < HEADER_SIZE) return { ok: false, reason: 'shorter than its header' };
  for (let i = 0; i < SNAP_MAGIC.length; i++) {
    if (buf[i] !== SNAP_MAGIC[i]) return { ok: false, reason: 'not a raftbus snapshot (bad magic)' };
  }
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const version = v.getUint32(8, true);
  if (version !== SNAP_VERSION) return { ok: false, reason: `unsupported snapshot format version ${version}` };
  const metaLen = v.getUint32(12, true);
  const dataLen = getU64(v, 16);
  if (dataLen === undefined || HEADER_SIZE + metaLen + dataLen !== buf.length) {
    return { ok: false, reason: `length ${buf.length} does not match its header` };
  }
  const meta = buf.subarray(HEADER_SIZE, HEADER_SIZE + metaLen);
  const data = buf.subarray(HEADER_SIZE + metaLen);
  if (v.getUint32(24, true) !== crc32c(data, crc32c(meta, crc32c(buf.subarray(0, 24))))) {
    return { ok: false, reason: 'checksum mismatch' };
  }
  let metadata;
  try {
    metadata = decodeSnapshotMetaPayload(meta);
  } catch (e) {
    return { ok: false, reason: `undecodable metadata: ${(e as Error).message}` };
  }
  if (metadata.term !== expect.term || metadata.index !== expect.index) {
    return { ok: false, reason: `holds term ${metadata.term} index ${metadata.index}, not what its name says` };
  }
  // A plain Uint8Array copy (readFile gives a Buffer, and a Buffer is not
  // what was saved: deep equality and subclass-aware code tell them apart).
  return { ok: true, snapshot: { data: data.length === 0 ? EMPTY_BYTES : new Uint8Array(data), metadata } };
}

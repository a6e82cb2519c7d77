// Snapshots written and read as streams: the data goes to the temp file
// piece by piece with the header (length, checksum) written last; a large
// snapshot stays on disk only, loaded for raft on demand and cached while
// asked for; a checksum mismatch found at the end of a stream is a typed
// error, never data handed out as good.
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import {
  ErrInvalidConfig,
  ErrSnapshotTemporarilyUnavailable,
  SNAPSHOT_CACHE_IDLE_SAVES,
  SNAPSHOT_CHUNK_BYTES,
  newConfState,
  type Snapshot,
  type SnapshotMetadata,
} from '@raftbus/core';
import { afterEach, describe, expect, it } from 'vitest';
import { crc32c } from '../src/crc32c.js';
import { ErrCorruptSnapshot, ErrStorageFailed, type FileStorage } from '../src/index.js';
import { SNAP_MAGIC, checkSnapshotFile, snapName, snapshotFileChunks } from '../src/snap.js';
import { snapshotMetaPayload } from '../src/wal-format.js';
import { ents, fileStorage, hs, opened, recordingFs, rejection, removeTempDirs, tempDir } from './helpers.js';

afterEach(removeTempDirs);

const cs = newConfState({ voters: [1, 2, 3] });

/** Data of `length` bytes in a pattern a misplaced piece breaks. */
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 13 + seed + (i >>> 10)) % 253;
  return out;
}

/** `data` in chunks of varied sizes (up to `max`), copied one at a time into one reused buffer. */
async function* chunks(data: Uint8Array, max: number): AsyncGenerator<Uint8Array> {
  const buf = new Uint8Array(max);
  for (let at = 0, k = 0; at < data.length; k++) {
    const n = Math.min(1 + ((k * 7919) % max), data.length - at);
    buf.set(data.subarray(at, at + n));
    at += n;
    yield buf.subarray(0, n);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

async function readAll(s: FileStorage): Promise<{ metadata: SnapshotMetadata; sizes: number[]; data: Uint8Array }> {
  const stored = s.readSnapshotChunks();
  const parts: Uint8Array[] = [];
  for await (const c of stored) parts.push(new Uint8Array(c));
  return { metadata: stored.metadata, sizes: parts.map((p) => p.length), data: new Uint8Array(Buffer.concat(parts)) };
}

/** Asks raft's snapshot() until it stops throwing ErrSnapshotTemporarilyUnavailable (a bounded wait); counts the refusals. */
async function raftSnapshot(s: FileStorage): Promise<{ snapshot: Snapshot; refused: number }> {
  let refused = 0;
  for (let tries = 0; tries < 2000; tries++) {
    try {
      return { snapshot: s.snapshot(), refused };
    } catch (e) {
      if (!(e instanceof ErrSnapshotTemporarilyUnavailable)) throw e;
      refused++;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  throw new Error('snapshot() never became available');
}

/** A store holding entries 1..5 at term 1. */
async function withLog(dir: string, options: Parameters<typeof opened>[1] = {}): Promise<FileStorage> {
  const s = await opened(dir, { unsafeNoSync: true, ...options });
  await s.save({ entries: ents(1, [1, 1, 1, 1, 1]), hardState: hs(1, 1, 5) });
  return s;
}

describe('snapshot files written from chunks', () => {
  it('writes the data piece by piece, never whole; the header (length, checksum) last, then fsync, rename', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    const s = await opened(dir, { fs, residentSnapshotBytes: 0 });
    await s.save({ entries: ents(1, [1, 1, 1]), hardState: hs(1, 1, 3) });
    const data = pattern(3 * SNAPSHOT_CHUNK_BYTES + 12345, 1);
    fs.events.length = 0;
    await s.createSnapshot(2, cs, chunks(data, 40_000));

    const tmp = join(dir, 'snap', snapName(1, 2) + '.tmp');
    const onTmp = fs.events.filter((e) => e.path === tmp || (e.op === 'rename' && e.detail === tmp));
    const writes = onTmp.filter((e) => e.op === 'write');
    const header = writes[writes.length - 1]!;
    expect(header).toMatchObject({ position: 0, length: 28 });
    const [meta, ...pieces] = writes.slice(0, -1);
    expect(meta!.position).toBe(28);
    // Contiguous pieces, none longer than a chunk: the data was never held whole.
    expect(pieces.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...pieces.map((w) => w.length!))).toBeLessThanOrEqual(SNAPSHOT_CHUNK_BYTES);
    let at = 28 + meta!.length!;
    for (const w of pieces) {
      expect(w.position).toBe(at);
      at += w.length!;
    }
    expect(at - 28 - meta!.length!).toBe(data.length);
    // Header, then fsync, then rename.
    expect(onTmp.slice(-3).map((e) => e.op)).toEqual(['write', 'sync', 'rename']);

    const back = await readAll(s);
    expect(back.metadata).toEqual({ index: 2, term: 1, confState: cs });
    expect(sameBytes(back.data, data)).toBe(true);
    expect(back.sizes.length).toBe(4);
    await s.close();
  });

  it('a failing producer leaves no temp file; the storage goes on', async () => {
    const dir = await tempDir();
    const s = await withLog(dir);
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield pattern(SNAPSHOT_CHUNK_BYTES + 1, 2);
      throw new Error('producer broke');
    }
    await expect(s.createSnapshot(3, cs, failing())).rejects.toThrow('producer broke');
    expect(await fsp.readdir(join(dir, 'snap'))).toEqual([]);
    await s.save({ entries: ents(6, [1]), hardState: hs(1, 1, 6) });
    await s.createSnapshot(3, cs, chunks(pattern(10, 3), 4));
    expect(await fsp.readdir(join(dir, 'snap'))).toEqual([snapName(1, 3)]);
    await s.close();
  });
});

describe('a snapshot larger than residentSnapshotBytes stays on disk', () => {
  it('snapshot() loads it in the background (ErrSnapshotTemporarilyUnavailable meanwhile) and caches it while asked for', async () => {
    const dir = await tempDir();
    const s = await withLog(dir, { residentSnapshotBytes: 1000 });
    const data = pattern(2 * SNAPSHOT_CHUNK_BYTES + 7, 4);
    await s.createSnapshot(3, cs, chunks(data, 70_000));
    const first = await raftSnapshot(s);
    expect(first.refused).toBeGreaterThanOrEqual(1);
    expect(first.snapshot.metadata).toEqual({ index: 3, term: 1, confState: cs });
    expect(sameBytes(first.snapshot.data, data)).toBe(true);
    // Cached: answered at once, the same data.
    expect(s.snapshot().data).toBe(first.snapshot.data);

    // Kept while raft asks at least once every SNAPSHOT_CACHE_IDLE_SAVES saves…
    for (let i = 1; i < SNAPSHOT_CACHE_IDLE_SAVES; i++) await s.save({ entries: [], hardState: hs(1, 1, 5) });
    expect(s.snapshot().data).toBe(first.snapshot.data);
    // …and dropped once that many go by without an ask.
    for (let i = 0; i < SNAPSHOT_CACHE_IDLE_SAVES; i++) await s.save({ entries: [], hardState: hs(1, 1, 5) });
    expect(() => s.snapshot()).toThrow(ErrSnapshotTemporarilyUnavailable);
    const again = await raftSnapshot(s);
    expect(sameBytes(again.snapshot.data, data)).toBe(true);

    // A newer snapshot replaces the cached one: the old data is not handed out for it.
    const newer = pattern(SNAPSHOT_CHUNK_BYTES + 3, 5);
    await s.createSnapshot(4, cs, chunks(newer, 50_000));
    expect(() => s.snapshot()).toThrow(ErrSnapshotTemporarilyUnavailable);
    const fresh = await raftSnapshot(s);
    expect(fresh.snapshot.metadata.index).toBe(4);
    expect(sameBytes(fresh.snapshot.data, newer)).toBe(true);
    await s.close();
  });

  it('a small one is kept in memory: snapshot() answers at once, also after a reopen', async () => {
    const dir = await tempDir();
    const s = await withLog(dir, { residentSnapshotBytes: 1000 });
    const small = pattern(1000, 6);
    await s.createSnapshot(3, cs, chunks(small, 90));
    expect(sameBytes(s.snapshot().data, small)).toBe(true);
    await s.close();
    const again = await opened(dir, { unsafeNoSync: true, residentSnapshotBytes: 1000 });
    expect(sameBytes(again.snapshot().data, small)).toBe(true);
    await again.close();
  });

  it('after a reopen only its metadata is in memory; the data streams from the file', async () => {
    const dir = await tempDir();
    const s = await withLog(dir, { residentSnapshotBytes: 0 });
    const data = pattern(SNAPSHOT_CHUNK_BYTES * 2 + 1, 7);
    await s.save({ entries: [], snapshot: { data, metadata: { index: 9, term: 2, confState: cs } }, hardState: hs(2, 0, 9) });
    await s.close();
    const again = await opened(dir, { unsafeNoSync: true, residentSnapshotBytes: 0 });
    expect(again.initialState().confState).toEqual(cs);
    expect(() => again.snapshot()).toThrow(ErrSnapshotTemporarilyUnavailable);
    const back = await readAll(again);
    expect(back.metadata).toEqual({ index: 9, term: 2, confState: cs });
    expect(back.sizes).toEqual([SNAPSHOT_CHUNK_BYTES, SNAPSHOT_CHUNK_BYTES, 1]);
    expect(sameBytes(back.data, data)).toBe(true);
    expect(sameBytes((await raftSnapshot(again)).snapshot.data, data)).toBe(true);
    await again.close();
  });
});

describe('a snapshot file damaged after it was checked', () => {
  /** A storage whose on-disk-only snapshot at 3 then has one byte flipped near the end of its data. */
  async function damaged(): Promise<{ s: FileStorage; file: string; data: Uint8Array }> {
    const dir = await tempDir();
    const s = await withLog(dir, { residentSnapshotBytes: 0 });
    const data = pattern(2 * SNAPSHOT_CHUNK_BYTES + 100, 8);
    await s.createSnapshot(3, cs, chunks(data, 100_000));
    const file = join(dir, 'snap', snapName(1, 3));
    const fh = await fsp.open(file, 'r+');
    const size = (await fh.stat()).size;
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, size - 50);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, size - 50);
    await fh.close();
    return { s, file, data };
  }

  it('readSnapshotChunks throws ErrCorruptSnapshot once the stream ends, after its last chunk', async () => {
    const { s, file } = await damaged();
    const seen: number[] = [];
    const err = await rejection(
      (async () => {
        for await (const c of s.readSnapshotChunks()) seen.push(c.length);
      })(),
    );
    expect(seen).toEqual([SNAPSHOT_CHUNK_BYTES, SNAPSHOT_CHUNK_BYTES, 100]);
    expect(err).toBeInstanceOf(ErrCorruptSnapshot);
    expect(err).toMatchObject({ file, reason: 'checksum mismatch' });
    await s.close();
  });

  it('raft never gets the damaged data: loading it fails the storage', async () => {
    const { s } = await damaged();
    expect(() => s.snapshot()).toThrow(ErrSnapshotTemporarilyUnavailable);
    let failure: unknown;
    for (let i = 0; i < 400 && failure === undefined; i++) {
      await new Promise((r) => setTimeout(r, 5));
      failure = await rejection(s.save({ entries: [], hardState: hs(1, 1, 5) })).then((e) => (e === 'none' ? undefined : e));
    }
    expect(failure).toBeInstanceOf(ErrStorageFailed);
    expect((failure as ErrStorageFailed).cause).toBeInstanceOf(ErrCorruptSnapshot);
    expect(() => s.snapshot()).toThrow(ErrSnapshotTemporarilyUnavailable);
    await s.close();
  });
});

describe('residentSnapshotBytes', () => {
  it('must be a number >= 0 (ErrInvalidConfig)', async () => {
    const dir = await tempDir();
    for (const bad of [-1, Number.NaN, '1024' as unknown as number]) {
      expect(() => fileStorage(dir, { residentSnapshotBytes: bad })).toThrow(ErrInvalidConfig);
    }
    expect(() => fileStorage(dir, { residentSnapshotBytes: 0 })).not.toThrow();
  });
});

describe('snapshot file format', () => {
  it('version 1 files (checksum over header, metadata, data) are still read', async () => {
    const dir = await tempDir();
    const metadata: SnapshotMetadata = { index: 7, term: 3, confState: cs };
    const data = pattern(SNAPSHOT_CHUNK_BYTES + 10, 9);
    const meta = snapshotMetaPayload(metadata);
    const header = new Uint8Array(28);
    const v = new DataView(header.buffer);
    header.set(SNAP_MAGIC, 0);
    v.setUint32(8, 1, true);
    v.setUint32(12, meta.length, true);
    v.setUint32(16, data.length, true); // a u64: its high word 0
    v.setUint32(24, crc32c(data, crc32c(meta, crc32c(header.subarray(0, 24)))), true);
    const name = snapName(3, 7);
    const path = join(dir, name);
    await fsp.writeFile(path, Buffer.concat([header, meta, data]));

    const expectName = { name, term: 3, index: 7 };
    const checked = await checkSnapshotFile(fsp, path, expectName, Infinity);
    expect(checked).toMatchObject({ ok: true, metadata });
    expect(sameBytes((checked as { data: Uint8Array }).data, data)).toBe(true);
    const parts: Uint8Array[] = [];
    for await (const c of snapshotFileChunks(fsp, path, expectName)) parts.push(new Uint8Array(c));
    expect(sameBytes(new Uint8Array(Buffer.concat(parts)), data)).toBe(true);

    // A damaged version 1 file is refused the same way.
    data[5] = data[5]! ^ 1;
    await fsp.writeFile(path, Buffer.concat([header, meta, data]));
    expect(await checkSnapshotFile(fsp, path, expectName, 0)).toEqual({ ok: false, reason: 'checksum mismatch' });
  });
});

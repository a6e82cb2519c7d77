// Recovery: an unfinished final batch is cut off; anything else that is
// damaged is refused with ErrCorruptWAL / ErrCorruptSnapshot, naming the
// file (and offset), and the directory is left as it was found.
import { cp, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { discardLogger, getLogger, newConfState, newEntry, setLogger } from '@raftbus/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { storageView } from '@raftbus/testkit';
import { ErrCorruptSnapshot, ErrCorruptWAL } from '../src/index.js';
import { crc32c } from '../src/crc32c.js';
import { writeSnapshotFile } from '../src/snap.js';
import {
  RecordType,
  commitPayload,
  encodeRecords,
  encodeSegmentHeader,
  recordsSize,
  segmentName,
  COMMIT_RECORD_SIZE,
  type RecordOut,
} from '../src/wal-format.js';
import { ents, hs, opened, recordingLogger, rejection, removeTempDirs, tempDir } from './helpers.js';
import { nodeFs } from '../src/fs.js';

const saved = getLogger();
beforeAll(() => setLogger(discardLogger));
afterAll(() => setLogger(saved));
afterEach(removeTempDirs);

const walFiles = async (dir: string) => (await readdir(join(dir, 'wal'))).sort();
const snapFiles = async (dir: string) => (await readdir(join(dir, 'snap'))).sort();
const lastSegment = async (dir: string) => join(dir, 'wal', (await walFiles(dir)).at(-1)!);

async function flipByte(path: string, offset: number): Promise<void> {
  const b = await readFile(path);
  b[offset] = b[offset]! ^ 0x5a;
  await writeFile(path, b);
}

/** Entries whose payload has no zero bytes, so only real zeroing looks like a torn write. */
function dense(first: number, n: number, term: number, size = 200) {
  return Array.from({ length: n }, (_, k) => newEntry({ index: first + k, term, data: new Uint8Array(size).fill(0xab - k) }));
}

/** A store with three batches; returns where the last one starts and ends in the last segment. */
async function threeBatches(lastPayload = 300) {
  const dir = await tempDir();
  const s = await opened(dir);
  await s.save({ entries: dense(1, 2, 1), hardState: hs(1, 1, 1) });
  await s.save({ entries: dense(3, 1, 1), hardState: hs(1, 1, 2) });
  const want = storageView(s);
  const seg = await lastSegment(dir);
  const start = (await stat(seg)).size;
  await s.save({ entries: dense(4, 3, 2, lastPayload), hardState: hs(2, 2, 3) });
  const end = (await stat(seg)).size;
  const wantAll = storageView(s);
  await s.close();
  return { dir, seg, start, end, want, wantAll };
}

describe('torn tail', () => {
  it('cut at every byte offset of the last batch: recovers exactly the batches before it', async () => {
    const { dir, seg, start, end, want } = await threeBatches(40);
    expect(end - start).toBeGreaterThan(200);
    const name = seg.slice(seg.lastIndexOf('/') + 1);
    const whole = await readFile(seg);
    for (let cut = start; cut < end; cut++) {
      const copy = await tempDir();
      await cp(dir, copy, { recursive: true });
      await writeFile(join(copy, 'wal', name), whole.subarray(0, cut));
      const s = await opened(copy, { unsafeNoSync: true });
      expect(storageView(s), `cut at ${cut}`).toEqual(want);
      if (cut === start) expect(s.recovery!.tornTail).toBeUndefined();
      else expect(s.recovery!.tornTail, `cut at ${cut}`).toMatchObject({ offset: start, bytes: cut - start });
      await s.close();
      // A cut segment is cut back and never appended to again; one that
      // ends whole takes the open's restatement batch instead of a new file.
      const after = await readFile(join(copy, 'wal', name));
      expect(Buffer.compare(after.subarray(0, start), whole.subarray(0, start)), `cut at ${cut}`).toBe(0);
      if (cut === start) expect(after.length).toBeGreaterThan(start);
      else expect(after.length, `cut at ${cut}`).toBe(start);
      expect((await walFiles(copy)).length, `cut at ${cut}`).toBe(cut === start ? 1 : 2);
      await rm(copy, { recursive: true });
    }
  }, 120_000);

  it('the store goes on after a cut, and the cut segment is then checked like any other', async () => {
    const { dir, seg, start, want } = await threeBatches();
    await truncate(seg, start + 7);
    const log = recordingLogger();
    let s = await opened(dir, { logger: log });
    expect(log.lines.some((l) => l.includes('cutting 7 bytes'))).toBe(true);
    expect(storageView(s)).toEqual(want);
    await s.save({ entries: ents(4, [3]), hardState: hs(3, 1, 4) });
    await s.close();
    s = await opened(dir);
    expect(s.lastIndex()).toBe(4);
    expect(s.term(4)).toBe(3);
    await s.close();
  });

  it('zeroed blocks at the end (an extended file whose data never landed): cut', async () => {
    const { dir, seg, start, end, want } = await threeBatches();
    const b = await readFile(seg);
    // Disks write whole sectors: what never landed is zero from a sector boundary on.
    b.fill(0, Math.ceil((start + 300) / 512) * 512, end);
    await writeFile(seg, b);
    const s = await opened(dir);
    expect(storageView(s)).toEqual(want);
    expect(s.recovery!.tornTail).toMatchObject({ offset: start, bytes: end - start });
    await s.close();
  });

  it('zeroed blocks in the middle of a final batch whose end did land: cut', async () => {
    const { dir, seg, start, end, want } = await threeBatches();
    const b = await readFile(seg);
    // A whole sector of the batch, as when pages reach the disk out of order.
    const sector = Math.ceil((start + 100) / 512) * 512;
    expect(sector + 512).toBeLessThan(end - 40);
    b.fill(0, sector, sector + 512);
    await writeFile(seg, b);
    const s = await opened(dir);
    expect(storageView(s)).toEqual(want);
    await s.close();
  });

  it('a segment created but never written (crash right after create): removed', async () => {
    const { dir, wantAll } = await threeBatches();
    const files = await walFiles(dir);
    const next = segmentName(files.length + 1, 99);
    await writeFile(join(dir, 'wal', next), new Uint8Array(0));
    const s = await opened(dir);
    expect(storageView(s)).toEqual(wantAll);
    expect(s.recovery!.tornTail).toMatchObject({ offset: 0, bytes: 0 });
    expect(await walFiles(dir)).not.toContain(next);
    await s.close();
  });
});

describe('corruption is refused, never dropped', () => {
  async function expectRefused(dir: string, file: string, check?: (e: ErrCorruptWAL) => void) {
    const before = await snapshotOfDir(dir);
    const err = await rejection(opened(dir));
    expect(err).toBeInstanceOf(ErrCorruptWAL);
    const e = err as ErrCorruptWAL;
    expect(e.name).toBe('ErrCorruptWAL');
    expect(e.file).toBe(file);
    check?.(e);
    // Refusing changes nothing on disk, and releases the lock.
    expect(await snapshotOfDir(dir)).toEqual(before);
  }

  it('a damaged final batch with no sign of a torn write (its commit landed, no zeroed sector)', async () => {
    const { dir, seg, start } = await threeBatches();
    await flipByte(seg, start + 500);
    await expectRefused(dir, seg, (e) => expect(e.offset).toBeGreaterThanOrEqual(start));
  });

  it('a damaged final commit record (bit rot, not a torn write)', async () => {
    const { dir, seg, end } = await threeBatches();
    await flipByte(seg, end - 10);
    await expectRefused(dir, seg, (e) => expect(e.offset).toBe(end - COMMIT_RECORD_SIZE));
  });

  it('a byte flipped in an earlier batch of the last segment', async () => {
    const { dir, seg, start } = await threeBatches();
    await flipByte(seg, start - 100);
    await expectRefused(dir, seg, (e) => {
      expect(e.offset).toBeLessThan(start);
      expect(e.reason).toMatch(/was written after it/);
    });
  });

  it('a byte flipped in an earlier segment', async () => {
    const dir = await tempDir();
    const s = await opened(dir, { segmentBytes: 1024 });
    for (let i = 1; i <= 20; i++) await s.save({ entries: dense(i, 1, 1), hardState: hs(1, 1, i) });
    await s.close();
    const files = await walFiles(dir);
    expect(files.length).toBeGreaterThan(3);
    const victim = join(dir, 'wal', files[1]!);
    await flipByte(victim, 200);
    await expectRefused(dir, victim, (e) => expect(e.offset).toBeLessThanOrEqual(200));
  });

  it('a segment cut short that is not the last', async () => {
    const dir = await tempDir();
    const s = await opened(dir, { segmentBytes: 1024 });
    for (let i = 1; i <= 20; i++) await s.save({ entries: dense(i, 1, 1) });
    await s.close();
    const victim = join(dir, 'wal', (await walFiles(dir))[1]!);
    await truncate(victim, (await stat(victim)).size - 5);
    await expectRefused(dir, victim);
  });

  it('a missing segment in the middle of the sequence', async () => {
    const dir = await tempDir();
    const s = await opened(dir, { segmentBytes: 1024 });
    for (let i = 1; i <= 20; i++) await s.save({ entries: dense(i, 1, 1) });
    await s.close();
    const files = await walFiles(dir);
    await rmFile(join(dir, 'wal', files[2]!));
    await expectRefused(dir, join(dir, 'wal', files[3]!), (e) => expect(e.reason).toMatch(/segment 3 is missing/));
  });

  it('a missing first segment whose entries no snapshot covers', async () => {
    const dir = await tempDir();
    const s = await opened(dir, { segmentBytes: 1024 });
    for (let i = 1; i <= 20; i++) await s.save({ entries: dense(i, 1, 1) });
    await s.close();
    const files = await walFiles(dir);
    // The first segment is the empty one made at open; the second holds entry 1.
    await rmFile(join(dir, 'wal', files[0]!));
    await rmFile(join(dir, 'wal', files[1]!));
    await expectRefused(dir, join(dir, 'wal', files[2]!), (e) => expect(e.reason).toMatch(/entries 1\.\.\d+ are missing/));
  });

  it('segments out of order (swapped names)', async () => {
    const dir = await tempDir();
    const s = await opened(dir, { segmentBytes: 1024 });
    for (let i = 1; i <= 20; i++) await s.save({ entries: dense(i, 1, 1) });
    await s.close();
    const files = await walFiles(dir);
    const [a, b] = [join(dir, 'wal', files[1]!), join(dir, 'wal', files[2]!)];
    const [ba, bb] = [await readFile(a), await readFile(b)];
    await writeFile(a, bb);
    await writeFile(b, ba);
    await expectRefused(dir, a, (e) => expect(e.reason).toMatch(/header says segment/));
  });

  /** A hand-made segment: header, then batches of the given records and sequence numbers. */
  function segment(seq: number, batches: { seq: number; records: RecordOut[] }[]): Uint8Array {
    const header = encodeSegmentHeader(seq, 1);
    const size = batches.reduce((n, b) => n + recordsSize(b.records) + COMMIT_RECORD_SIZE, header.length);
    const buf = new Uint8Array(size);
    buf.set(header);
    let at = header.length;
    for (const b of batches) {
      const body = recordsSize(b.records);
      at = encodeRecords(b.records, buf, at);
      at = encodeRecords([{ type: RecordType.Commit, payload: commitPayload({ batchSeq: b.seq, records: b.records.length, bytes: body }) }], buf, at);
    }
    return buf;
  }

  it('batches out of order', async () => {
    const dir = await tempDir();
    await (await opened(dir)).close(); // lays out the directory
    for (const f of await walFiles(dir)) await rmFile(join(dir, 'wal', f));
    const { encodeEntry } = await import('@raftbus/core');
    const entry = (i: number): RecordOut => ({ type: RecordType.Entry, payload: encodeEntry(newEntry({ index: i, term: 1 })) });
    const path = join(dir, 'wal', segmentName(1, 1));
    await writeFile(path, segment(1, [{ seq: 1, records: [entry(1)] }, { seq: 3, records: [entry(2)] }]));
    await expectRefused(dir, path, (e) => expect(e.reason).toMatch(/batch 3 out of order: expected batch 2/));
  });

  it('entries out of order (a gap inside the log)', async () => {
    const dir = await tempDir();
    await (await opened(dir)).close();
    for (const f of await walFiles(dir)) await rmFile(join(dir, 'wal', f));
    const { encodeEntry } = await import('@raftbus/core');
    const entry = (i: number): RecordOut => ({ type: RecordType.Entry, payload: encodeEntry(newEntry({ index: i, term: 1 })) });
    const path = join(dir, 'wal', segmentName(1, 1));
    await writeFile(path, segment(1, [{ seq: 1, records: [entry(1), entry(2)] }, { seq: 2, records: [entry(4)] }]));
    await expectRefused(dir, path, (e) => expect(e.reason).toMatch(/entry 4 follows entry 2/));
  });

  it('a record with sound checksums and an unknown type, even at the very end', async () => {
    const dir = await tempDir();
    await (await opened(dir)).close();
    const path = await lastSegment(dir);
    const b = await readFile(path);
    // Append a record of type 42 with correct checksums.
    const rec = new Uint8Array(16);
    const v = new DataView(rec.buffer);
    rec[4] = 42;
    v.setUint32(8, crc32c(new Uint8Array(0)), true);
    v.setUint32(12, crc32c(rec.subarray(0, 12)), true);
    await writeFile(path, Buffer.concat([b, rec]));
    await expectRefused(dir, path, (e) => {
      expect(e.offset).toBe(b.length);
      expect(e.reason).toMatch(/unknown record type 42/);
    });
  });
});

describe('snapshot files', () => {
  const cs = newConfState({ voters: [1, 2, 3] });
  const enc = (s: string) => new TextEncoder().encode(s);

  /** Snapshots at 10 and 20 over a 30-entry log, compacted to `compactTo` (0: not compacted). */
  async function twoSnapshots(compactTo: number, segmentBytes = 1024) {
    const dir = await tempDir();
    const s = await opened(dir, { segmentBytes });
    for (let i = 1; i <= 30; i++) await s.save({ entries: dense(i, 1, 1, 50), hardState: hs(1, 1, i) });
    await s.createSnapshot(10, cs, enc('state at 10'));
    await s.createSnapshot(20, cs, enc('state at 20'));
    if (compactTo > 0) await s.compact(compactTo);
    await s.close();
    return dir;
  }

  it('keeps the newest two', async () => {
    const dir = await tempDir();
    const s = await opened(dir);
    await s.save({ entries: ents(1, [1, 1, 1, 1, 1]) });
    for (const i of [1, 2, 3, 4]) await s.createSnapshot(i, cs, enc(`at ${i}`));
    expect(await snapFiles(dir)).toEqual(['0000000000000001-0000000000000003.snap', '0000000000000001-0000000000000004.snap']);
    await s.close();
  });

  it('a damaged newest snapshot: falls back to the previous one when the WAL covers the gap', async () => {
    const dir = await twoSnapshots(5);
    const newest = join(dir, 'snap', '0000000000000001-0000000000000014.snap');
    await flipByte(newest, 40);
    const s = await opened(dir);
    expect(s.snapshot().metadata.index).toBe(10);
    expect(new TextDecoder().decode(s.snapshot().data)).toBe('state at 10');
    expect(s.firstIndex()).toBe(11);
    expect(s.lastIndex()).toBe(30);
    expect(s.entries(11, 31, Infinity)).toEqual(Array.from({ length: 20 }, (_, k) => dense(11 + k, 1, 1, 50)[0]));
    expect(s.recovery!.fellBackFrom).toMatchObject({ file: newest, reason: 'checksum mismatch' });
    // The damaged file is kept for the operator, out of the way.
    expect(await snapFiles(dir)).toContain('0000000000000001-0000000000000014.snap.broken');
    await s.close();
  });

  it('every snapshot damaged and a WAL from the first entry: rebuilt from the WAL alone', async () => {
    // The replay skips decoding entries below the oldest snapshot file; with
    // none usable it must replay again, decoding all.
    const dir = await twoSnapshots(0);
    for (const name of ['0000000000000001-000000000000000a.snap', '0000000000000001-0000000000000014.snap']) {
      await flipByte(join(dir, 'snap', name), 40);
    }
    const s = await opened(dir);
    expect(s.snapshot().metadata.index).toBe(0);
    expect(s.firstIndex()).toBe(1);
    expect(s.lastIndex()).toBe(30);
    expect(s.entries(1, 31, Infinity)).toEqual(Array.from({ length: 30 }, (_, k) => dense(1 + k, 1, 1, 50)[0]));
    expect(s.recovery!.fellBackFrom).toMatchObject({ file: join(dir, 'snap', '0000000000000001-0000000000000014.snap'), reason: 'checksum mismatch' });
    await s.close();
  });

  it('a damaged newest snapshot and a WAL that no longer reaches back: refused, nothing changed', async () => {
    const dir = await twoSnapshots(20, 600);
    const newest = join(dir, 'snap', '0000000000000001-0000000000000014.snap');
    await flipByte(newest, 40);
    const before = await snapshotOfDir(dir);
    const err = await rejection(opened(dir));
    expect(err).toBeInstanceOf(ErrCorruptSnapshot);
    expect((err as ErrCorruptSnapshot).file).toBe(newest);
    expect((err as ErrCorruptSnapshot).reason).toMatch(/checksum mismatch, and the WAL no longer holds entries 11\.\.20/);
    expect(await snapshotOfDir(dir)).toEqual(before);
  });

  it('a missing newest snapshot is refused the same way', async () => {
    const dir = await twoSnapshots(20, 600);
    await rmFile(join(dir, 'snap', '0000000000000001-0000000000000014.snap'));
    const err = await rejection(opened(dir));
    expect(err).toBeInstanceOf(ErrCorruptSnapshot);
    expect((err as ErrCorruptSnapshot).reason).toMatch(/^missing/);
  });

  it('a leftover temp file of an interrupted write is ignored and removed', async () => {
    const dir = await twoSnapshots(5);
    const tmp = join(dir, 'snap', '0000000000000001-000000000000001e.snap.tmp');
    await writeFile(tmp, 'half a snapshot');
    const s = await opened(dir);
    expect(s.snapshot().metadata.index).toBe(20);
    expect(s.recovery!.removed).toEqual([tmp]);
    expect(await snapFiles(dir)).not.toContain('0000000000000001-000000000000001e.snap.tmp');
    await s.close();
  });

  it('a complete snapshot file no WAL record acknowledges (crash between file and record) is removed', async () => {
    const dir = await twoSnapshots(5);
    const name = await writeSnapshotFile(nodeFs, join(dir, 'snap'), { data: enc('never acknowledged'), metadata: { index: 25, term: 1, confState: cs } }, false);
    const s = await opened(dir);
    expect(s.snapshot().metadata.index).toBe(20);
    expect(s.recovery!.removed).toEqual([join(dir, 'snap', name)]);
    await s.close();
  });

  it('snapshot files with no WAL at all: refused (the WAL is lost), not deleted', async () => {
    const dir = await twoSnapshots(5);
    for (const f of await walFiles(dir)) await rmFile(join(dir, 'wal', f));
    const err = await rejection(opened(dir));
    expect(err).toBeInstanceOf(ErrCorruptWAL);
    expect((err as ErrCorruptWAL).reason).toMatch(/the WAL is lost/);
    expect((err as ErrCorruptWAL).file).toBe(join(dir, 'wal'));
    expect((await snapFiles(dir)).length).toBe(2);
  });
});

async function rmFile(path: string): Promise<void> {
  const { unlink } = await import('node:fs/promises');
  await unlink(path);
}

/** Names, sizes and checksums of every file under dir. */
async function snapshotOfDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const sub of ['', 'wal', 'snap']) {
    for (const e of await readdir(join(dir, sub), { withFileTypes: true })) {
      if (!e.isFile()) continue;
      const b = await readFile(join(dir, sub, e.name));
      out[join(sub, e.name)] = `${b.length}:${crc32c(b)}`;
    }
  }
  return out;
}

// What a crash can do to the end of the WAL is cut off; what it cannot do is
// refused. Extends recovery.test.ts (which cuts the last batch of a
// one-segment log at every offset, and flips single bytes at a few places)
// to the whole last segment of a log with several segments and snapshot
// records, to every record before the tail, and to every region of the
// snapshot files.
import { cp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  MemoryStorage,
  discardLogger,
  encodeEntry,
  getLogger,
  newConfState,
  newEntry,
  setLogger,
  type Entry,
  type Snapshot,
  type Storage,
} from '@raftbus/core';
import { storageView as view } from '@raftbus/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrCorruptSnapshot, ErrCorruptWAL, FileStorage } from '../src/index.js';
import { RECORD_HEADER_SIZE, RecordType, SEGMENT_HEADER_SIZE, readRecord } from '../src/wal-format.js';
import { hs, opened, rejection } from './helpers.js';
import { removeScratchDirs, scratchDir } from '@raftbus/testkit/crash-fs';

/** RAFTBUS_CRASH_LONG=1: every byte offset, not a sample around each record's fields. */
const LONG = process.env.RAFTBUS_CRASH_LONG === '1';
const TIMEOUT = LONG ? 1_800_000 : 60_000;

const saved = getLogger();
beforeAll(() => setLogger(discardLogger));
afterAll(() => setLogger(saved));
afterEach(removeScratchDirs);

const cs = newConfState({ voters: [1, 2, 3] });
const text = new TextEncoder();
const entry = (index: number, term: number): Entry =>
  newEntry({ index, term, data: text.encode(`entry ${index}/${term} `.padEnd(60, '~')) });
const run = (from: number, to: number, term: number) => Array.from({ length: to - from + 1 }, (_, k) => entry(from + k, term));


/** The same for a model store, as a reopen leaves it (commit raised to the snapshot). */
function modelView(m: MemoryStorage): unknown {
  const snap = m.snapshot();
  const r = new MemoryStorage();
  r.applySnapshot(snap);
  if (m.lastIndex() > snap.metadata.index) r.append(m.entries(snap.metadata.index + 1, m.lastIndex() + 1, Infinity));
  const hardState = { ...m.initialState().hardState };
  hardState.commit = Math.max(hardState.commit, snap.metadata.index);
  r.setHardState(hardState);
  return view(r);
}

const walDir = (dir: string) => join(dir, 'wal');
const walFiles = async (dir: string) => (await readdir(walDir(dir))).sort();

interface Step {
  /** The last segment's name and size once the step is durable. */
  segment: string;
  size: number;
  /** What a reopen then serves. */
  view: unknown;
  /** A copy of the directory then (without LOCK). */
  copy: string;
}

/**
 * A log over several segments whose last segment holds, after its head
 * batch, a snapshot install, entries, a conflicting suffix and a snapshot
 * mark. Returns the state and a copy of the directory after each step.
 */
async function history(): Promise<{ dir: string; steps: Step[] }> {
  const dir = await scratchDir();
  const segmentBytes = 1200;
  const s = await opened(dir, { segmentBytes });
  const m = new MemoryStorage();
  const steps: Step[] = [];
  const step = async (fn: () => Promise<unknown>, model: () => void) => {
    await fn();
    model();
    const segment = (await walFiles(dir)).at(-1)!;
    const copy = await scratchDir();
    await cp(dir, copy, { recursive: true, filter: (src) => !src.slice(dir.length).includes('LOCK') });
    steps.push({ segment, size: (await stat(join(walDir(dir), segment))).size, view: modelView(m), copy });
  };
  await step(async () => {}, () => {});
  for (let i = 1; i <= 24; i += 3) {
    const batch = run(i, i + 2, 1);
    const state = hs(1, 1, i);
    await step(() => s.save({ entries: batch, hardState: state }), () => (m.append(batch), m.setHardState(state)));
  }
  const data = text.encode('state at 20');
  await step(() => s.createSnapshot(20, cs, data), () => void m.createSnapshot(20, cs, data));
  await step(() => s.compact(20), () => m.compact(20));
  // Fill the active segment so that the next save starts a new one.
  while (steps.at(-1)!.size < segmentBytes) {
    const i = m.lastIndex() + 1;
    const batch = [entry(i, 1)];
    await step(() => s.save({ entries: batch }), () => m.append(batch));
  }
  const leader: Snapshot = { data: text.encode('leader state at 40 '.repeat(10)), metadata: { index: 40, term: 2, confState: cs } };
  const installed = run(41, 43, 2);
  await step(
    () => s.save({ snapshot: leader, entries: installed, hardState: hs(2, 0, 40) }),
    () => (m.applySnapshot(leader), m.append(installed), m.setHardState(hs(2, 0, 40))),
  );
  const more = run(44, 46, 2);
  await step(() => s.save({ entries: more, hardState: hs(2, 0, 42) }), () => (m.append(more), m.setHardState(hs(2, 0, 42))));
  const overwrite = run(44, 45, 3);
  await step(() => s.save({ entries: overwrite, hardState: hs(3, 1, 43) }), () => (m.append(overwrite), m.setHardState(hs(3, 1, 43))));
  const data42 = text.encode('state at 42');
  await step(() => s.createSnapshot(42, cs, data42), () => void m.createSnapshot(42, cs, data42));
  await step(() => s.save({ entries: [entry(46, 3)], hardState: hs(3, 1, 45) }), () => (m.append([entry(46, 3)]), m.setHardState(hs(3, 1, 45))));
  await s.close();
  return { dir, steps };
}

describe('the last segment cut at every byte offset a crash can leave', () => {
  it('in the batch being written, or in a segment being started: recovers the state before it, without error', async () => {
    const { steps } = await history();
    const lastSegment = steps.at(-1)!.segment;
    const from = steps.findIndex((st) => st.segment === lastSegment) - 1;
    let cuts = 0;
    let tornTails = 0;
    // Each step from the one before the last segment: the crash struck while
    // it was written, so the files are as after it, its own bytes cut short.
    for (let i = from; i < steps.length; i++) {
      const [prev, cur] = [steps[i - 1]!, steps[i]!];
      const start = prev.segment === cur.segment ? prev.size : 0;
      const path = join(walDir(cur.copy), cur.segment);
      const whole = await readFile(path);
      for (const cut of cutsIn(whole, start)) {
        const copy = await scratchDir();
        await cp(cur.copy, copy, { recursive: true });
        await writeFile(join(walDir(copy), cur.segment), whole.subarray(0, cut));
        const s = await opened(copy, { unsafeNoSync: true });
        expect(view(s), `step ${i}, ${cur.segment} cut at ${cut} of ${cur.size}`).toEqual(prev.view);
        if (s.recovery!.tornTail) tornTails++;
        await s.close();
        await rm(copy, { recursive: true });
        cuts++;
      }
    }
    expect(cuts).toBeGreaterThan(LONG ? 1000 : 100);
    // All but the cuts that fall exactly on a batch's end leave a torn tail.
    expect(tornTails).toBeGreaterThan(cuts - 10);
  }, TIMEOUT);
});

/**
 * Where to cut a segment that ends at `whole.length`, from `start` on: every
 * offset in the long mode; otherwise, for each record, its start, inside its
 * header (after the length, after the checksums), the start, middle and last
 * byte of its payload, and (for a new segment) every fourth byte of the
 * segment header.
 */
function cutsIn(whole: Uint8Array, start: number): number[] {
  if (LONG) return Array.from({ length: whole.length - start }, (_, k) => start + k);
  const out = new Set<number>();
  if (start === 0) for (let k = 0; k < SEGMENT_HEADER_SIZE; k += 4) out.add(k);
  for (const r of records(whole)) {
    if (r.offset < start) continue;
    for (const d of [0, 4, 12, 16]) out.add(r.offset + d);
    out.add(r.offset + RECORD_HEADER_SIZE + (r.payload >> 1));
    out.add(r.end - 1);
  }
  return [...out].filter((c) => c >= start && c < whole.length).sort((a, b) => a - b);
}

/** Every record of a segment: its offset and end, and whether it is a Commit. */
function records(buf: Uint8Array): { offset: number; end: number; commit: boolean; payload: number }[] {
  const out = [];
  for (let at = SEGMENT_HEADER_SIZE; at < buf.length; ) {
    const r = readRecord(buf, at);
    if (r.kind !== 'ok') throw new Error(`unreadable record at ${at}: ${r.kind}`);
    out.push({ offset: at, end: r.end, commit: r.type === RecordType.Commit, payload: r.end - at - RECORD_HEADER_SIZE });
    at = r.end;
  }
  return out;
}

describe('a flipped bit in any record before the tail', () => {
  it('is refused with ErrCorruptWAL naming the file and the offset of that record, and the directory is left as it was', async () => {
    const { dir } = await history();
    const files = await walFiles(dir);
    expect(files.length).toBeGreaterThan(2);
    let tried = 0;
    for (const [n, name] of files.entries()) {
      const path = join(walDir(dir), name);
      const original = await readFile(path);
      const recs = records(original);
      // The tail: the final batch of the last segment, which a crash may have torn.
      let keep = recs.length;
      if (n === files.length - 1) {
        // Up to and with the Commit before the last one.
        keep = 0;
        for (let k = 0; k < recs.length - 1; k++) if (recs[k]!.commit) keep = k + 1;
      }
      // The segment header (offset 0), then every record before the tail:
      // one bit in its header, one in its payload.
      const targets: { offset: number; bits: number[] }[] = [{ offset: 0, bits: [3 * 8 + 1, 20 * 8 + 6] }];
      for (const r of recs.slice(0, keep)) {
        const bits = [(r.offset + 0) * 8 + 2, (r.offset + 9) * 8 + 7];
        if (r.payload > 0) bits.push((r.offset + RECORD_HEADER_SIZE + Math.floor(r.payload / 2)) * 8 + 4);
        targets.push({ offset: r.offset, bits: bits.map((b) => b - r.offset * 8) });
      }
      for (const { offset, bits } of targets) {
        for (const bit of bits) {
          const at = offset + (bit >> 3);
          const damaged = Buffer.from(original);
          damaged[at] = damaged[at]! ^ (1 << (bit & 7));
          await writeFile(path, damaged);
          const err = await rejection(opened(dir));
          const label = `${name}: bit ${bit & 7} of byte ${at} (record at ${offset})`;
          expect(err, label).toBeInstanceOf(ErrCorruptWAL);
          const e = err as ErrCorruptWAL;
          expect({ file: e.file, offset: e.offset }, label).toEqual({ file: path, offset });
          expect(e.message, label).toContain(`${path} at offset ${offset}`);
          // Refused, not repaired: the damaged file is as it was, nothing else was written.
          expect(Buffer.compare(await readFile(path), damaged), label).toBe(0);
          expect(await walFiles(dir), label).toEqual(files);
          tried++;
        }
      }
      await writeFile(path, original);
    }
    expect(tried).toBeGreaterThan(100);
    // Undamaged, the log opens.
    const s = await opened(dir);
    expect(s.lastIndex()).toBe(46);
    await s.close();
  }, TIMEOUT);
});

describe('a flipped bit in a snapshot file', () => {
  /**
   * A log of 30 entries with snapshots at 10 and 20 made by createSnapshot,
   * compacted to `compactTo`; or, with `install`, the snapshot at 20 comes
   * from the leader (the log before it is gone).
   */
  async function twoSnapshots(compactTo: number, install = false) {
    const dir = await scratchDir();
    const s = await opened(dir, { segmentBytes: 800 });
    const last = install ? 15 : 30;
    for (let i = 1; i <= last; i++) await s.save({ entries: [entry(i, 1)], hardState: hs(1, 1, i) });
    const older = await s.createSnapshot(10, cs, text.encode('state at 10 '.repeat(20)));
    let newer: Snapshot;
    if (install) {
      newer = { data: text.encode('leader state at 20 '.repeat(20)), metadata: { index: 20, term: 1, confState: cs } };
      await s.save({ snapshot: newer, entries: run(21, 30, 1), hardState: hs(1, 0, 20) });
    } else {
      newer = await s.createSnapshot(20, cs, text.encode('state at 20 '.repeat(20)));
    }
    if (compactTo > 0) await s.compact(compactTo);
    await s.close();
    return { dir, older, newer };
  }

  /** Offsets to damage in a file of `size` bytes: every one in the long mode; else the first 32 (the header), then a spread. */
  const offsetsIn = (size: number) =>
    Array.from({ length: size }, (_, k) => k).filter((k) => LONG || k < 32 || k % 41 === 0 || k === size - 1);

  /** Flips one bit at each offset of every file in snap/ in turn, each time in a fresh copy, and opens it. */
  async function eachFlip(dir: string, check: (s: FileStorage | undefined, err: unknown, where: { copy: string; name: string; at: number }) => void) {
    const snapDir = join(dir, 'snap');
    let tried = 0;
    for (const name of (await readdir(snapDir)).sort()) {
      const original = await readFile(join(snapDir, name));
      for (const at of offsetsIn(original.length)) {
        const copy = await scratchDir();
        await cp(dir, copy, { recursive: true });
        const damaged = Buffer.from(original);
        damaged[at] = damaged[at]! ^ (1 << (at % 8));
        await writeFile(join(copy, 'snap', name), damaged);
        const s = new FileStorage({ dir: copy, logger: discardLogger, unsafeNoSync: true });
        const err = await rejection(s.open());
        check(err === 'none' ? s : undefined, err, { copy, name, at });
        if (err === 'none') await s.close();
        await rm(copy, { recursive: true });
        tried++;
      }
    }
    return tried;
  }

  const entriesOf = (s: Storage) => s.entries(s.firstIndex(), s.lastIndex() + 1, Infinity);

  it('the WAL covering the gap: the damaged file is never served; open falls back to the intact one', async () => {
    const { dir, older, newer } = await twoSnapshots(5);
    let fellBack = 0;
    const tried = await eachFlip(dir, (s, err, { name, at }) => {
      const label = `${name} byte ${at}`;
      expect(err, label).toBe('none');
      const snap = s!.snapshot();
      // Byte for byte one of the snapshots really saved: never the damaged one.
      expect([older, newer], label).toContainEqual(snap);
      if (snap.metadata.index === older.metadata.index) {
        fellBack++;
        expect(s!.recovery!.fellBackFrom, label).toBeDefined();
      }
      expect(entriesOf(s!), label).toEqual(run(snap.metadata.index + 1, 30, 1));
    });
    expect(tried).toBeGreaterThan(70);
    // Flips in the newer file all made open fall back.
    expect(fellBack).toBeGreaterThan(35);
  }, TIMEOUT);

  for (const [what, compactTo, install] of [
    ['the WAL compacted past the older snapshot', 20, false],
    ['the newest snapshot installed from the leader', 0, true],
  ] as const) {
    it(`${what}: a damaged newest file is refused with ErrCorruptSnapshot naming it`, async () => {
      const { dir, newer } = await twoSnapshots(compactTo, install);
      let refused = 0;
      await eachFlip(dir, (s, err, { copy, name, at }) => {
        const label = `${name} byte ${at}`;
        if (err === 'none') {
          // Only a flip in the older file, which is not needed (nor read).
          expect(s!.snapshot(), label).toEqual(newer);
          expect(s!.recovery!.fellBackFrom, label).toBeUndefined();
          return;
        }
        expect(err, label).toBeInstanceOf(ErrCorruptSnapshot);
        const e = err as ErrCorruptSnapshot;
        expect(e.file.startsWith(join(copy, 'snap')), label).toBe(true);
        expect(e.message, label).toContain(e.file);
        refused++;
      });
      expect(refused).toBeGreaterThan(35);
    }, TIMEOUT);
  }
});

describe('a final batch whose last sector never reached the disk', () => {
  // The file's new size landed, the last 512-byte sector of the batch did
  // not and reads as zeros: a torn write, however few bytes of the batch
  // fall in that sector.
  /** A store whose final batch (one entry) ends `r` bytes into a sector; returns the state before that batch. */
  async function endingInSector(r: number) {
    const dir = await scratchDir();
    const s = await opened(dir);
    await s.save({ entries: run(1, 3, 1), hardState: hs(1, 1, 2) });
    const want = view(s);
    const seg = join(walDir(dir), (await walFiles(dir)).at(-1)!);
    const size = (await stat(seg)).size;
    const batchBytes = (len: number) => RECORD_HEADER_SIZE + encodeEntry(newEntry({ index: 4, term: 1, data: new Uint8Array(len) })).length + 40;
    let len = 600;
    while ((size + batchBytes(len)) % 512 !== r % 512) len++;
    await s.save({ entries: [newEntry({ index: 4, term: 1, data: new Uint8Array(len).fill(0xa5) })] });
    await s.close();
    const end = (await stat(seg)).size;
    expect(end % 512).toBe(r % 512);
    return { dir, seg, size, end, want };
  }

  it.each([1, 4, 8, 15, 16, 17, 40, 100])('with %i bytes of the batch in that sector: cut, not refused', async (r) => {
    const { dir, seg, size, end, want } = await endingInSector(r);
    const b = await readFile(seg);
    b.fill(0, end - r, end);
    await writeFile(seg, b);
    const st = await opened(dir);
    expect(view(st)).toEqual(want);
    expect(st.recovery!.tornTail).toMatchObject({ offset: size });
    await st.close();
  });

  it('zeros at the end that do not start at a sector boundary: bit rot, refused', async () => {
    const { dir, seg, end } = await endingInSector(100);
    const b = await readFile(seg);
    b.fill(0, end - 8, end);
    await writeFile(seg, b);
    const err = await rejection(opened(dir));
    expect(err).toBeInstanceOf(ErrCorruptWAL);
    expect((err as ErrCorruptWAL).offset).toBe(end - 40);
  });
});

// Segment rollover, deletion after compaction, and the fsync order of files
// and directories.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { discardLogger, getLogger, newConfState, newEntry, setLogger } from '@raftbus/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseSegmentName } from '../src/wal-format.js';
import { hs, opened, recordingFs, removeTempDirs, tempDir } from './helpers.js';

const saved = getLogger();
beforeAll(() => setLogger(discardLogger));
afterAll(() => setLogger(saved));
afterEach(removeTempDirs);

const walFiles = async (dir: string) => (await readdir(join(dir, 'wal'))).sort();
const entry = (i: number, term = 1) => newEntry({ index: i, term, data: new Uint8Array(100).fill(i & 0xff) });
const cs = newConfState({ voters: [1] });

describe('segments', () => {
  it('roll over at segmentBytes, each new file made durable in its directory before use', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    const s = await opened(dir, { segmentBytes: 1024, fs });
    for (let i = 1; i <= 40; i++) await s.save({ entries: [entry(i)], hardState: hs(1, 1, i) });
    await s.close();
    const files = await walFiles(dir);
    expect(files.length).toBeGreaterThan(4);
    // Names: consecutive sequence numbers, and the index the next entry had.
    const parsed = files.map((f) => parseSegmentName(f)!);
    expect(parsed.map((p) => p.seq)).toEqual(parsed.map((_, k) => k + 1));
    for (let k = 1; k < parsed.length; k++) expect(parsed[k]!.firstIndex).toBeGreaterThan(parsed[k - 1]!.firstIndex);

    // For every segment: created exclusively, fsynced, its directory fsynced,
    // and only then written to by a save.
    const walDir = join(dir, 'wal');
    for (const f of files) {
      const path = join(walDir, f);
      const ev = fs.events;
      const created = ev.findIndex((e) => e.op === 'open' && e.path === path);
      expect(ev[created]!.detail).toBe('wx');
      const synced = ev.findIndex((e, k) => k > created && e.op === 'sync' && e.path === path);
      const dirSynced = ev.findIndex((e, k) => k > synced && e.op === 'sync' && e.path === walDir);
      expect(synced).toBeGreaterThan(created);
      expect(dirSynced).toBeGreaterThan(synced);
      const writes = ev.map((e, k) => ({ e, k })).filter(({ e }) => e.op === 'write' && e.path === path);
      // The first write is the header and head batch; saves come after the directory fsync.
      for (const { k } of writes.slice(1)) expect(k).toBeGreaterThan(dirSynced);
    }
  });

  it('compaction deletes only whole segments at or below the compaction point, never the active one', async () => {
    const dir = await tempDir();
    let s = await opened(dir, { segmentBytes: 1024 });
    for (let i = 1; i <= 40; i++) await s.save({ entries: [entry(i)], hardState: hs(1, 1, i) });
    const before = await walFiles(dir);
    await s.createSnapshot(25, cs, new Uint8Array([25]));
    await s.compact(25);
    const after = await walFiles(dir);
    // A prefix went (the snapshot's record may have started a new segment).
    const deleted = before.filter((f) => !after.includes(f));
    expect(deleted.length).toBeGreaterThan(1);
    expect(deleted).toEqual(before.slice(0, deleted.length));
    // The oldest kept segment holds entry 26 (or the deletion went too far,
    // and the reopen below would be refused).
    await s.close();
    s = await opened(dir, { segmentBytes: 1024 });
    expect(s.snapshot().metadata.index).toBe(25);
    expect(s.entries(26, 41, Infinity)).toEqual(Array.from({ length: 15 }, (_, k) => entry(26 + k)));
    expect(s.initialState().hardState).toEqual(hs(1, 1, 40));

    // Everything is in the snapshot: all but the active segment go, and the
    // hard state survives through the active segment's head.
    await s.save({ entries: [], hardState: hs(2, 1, 40) });
    await s.createSnapshot(40, cs, new Uint8Array([40]));
    await s.compact(40);
    expect((await walFiles(dir)).length).toBe(1);
    await s.close();
    s = await opened(dir);
    expect(s.snapshot().metadata.index).toBe(40);
    expect(s.firstIndex()).toBe(41);
    expect(s.lastIndex()).toBe(40);
    expect(s.initialState().hardState).toEqual(hs(2, 1, 40));
    await s.close();
  });

  it('an open goes on in the last segment when it ends whole: restarts in a loop leave no file per start', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    let s = await opened(dir, { fs });
    await s.save({ entries: [entry(1), entry(2)], hardState: hs(1, 1, 2) });
    await s.close();
    const [only] = await walFiles(dir);
    for (let k = 0; k < 30; k++) {
      s = await opened(dir, { fs });
      // The state each start restates (here a vote) is what the next start reads.
      if (k === 10) await s.save({ entries: [], hardState: hs(2, 3, 2) });
      await s.close();
    }
    expect(await walFiles(dir)).toEqual([only]);
    s = await opened(dir, { fs });
    expect(s.entries(1, 3, Infinity)).toEqual([entry(1), entry(2)]);
    expect(s.initialState().hardState).toEqual(hs(2, 3, 2));
    // The first start's head batch, a save, the 30 restarts' restatements, a save: all in one file.
    expect(s.recovery!.batches).toBe(1 + 1 + 30 + 1);
    await s.close();
    // Reopened for writing, never created again: only the first open made it.
    const path = join(dir, 'wal', only!);
    expect(fs.events.filter((e) => e.op === 'open' && e.path === path).map((e) => e.detail)).toEqual(['wx', ...Array(31).fill('r+')]);
  });

  it('an open starts the next segment when the last one is full', async () => {
    const dir = await tempDir();
    let s = await opened(dir, { segmentBytes: 1024 });
    for (let i = 1; i <= 9; i++) await s.save({ entries: [entry(i)], hardState: hs(1, 1, i) });
    await s.close();
    const before = await walFiles(dir);
    s = await opened(dir, { segmentBytes: 100_000 });
    await s.close();
    // Under a larger limit the last file has room: no new one.
    expect(await walFiles(dir)).toEqual(before);
    s = await opened(dir, { segmentBytes: 64 });
    expect(s.entries(1, 10, Infinity)).toEqual(Array.from({ length: 9 }, (_, k) => entry(k + 1)));
    await s.close();
    const after = await walFiles(dir);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.length).toBe(before.length + 1);
  });

  it('a compaction behind the snapshot keeps the segments after it (they let recovery fall back)', async () => {
    const dir = await tempDir();
    const s = await opened(dir, { segmentBytes: 1024 });
    for (let i = 1; i <= 40; i++) await s.save({ entries: [entry(i)] });
    await s.createSnapshot(35, cs, new Uint8Array([35]));
    const all = await walFiles(dir);
    await s.compact(10);
    const kept = await walFiles(dir);
    expect(kept.length).toBeGreaterThan(all.length - 3);
    await s.close();
  });
});

describe('snapshot writes', () => {
  it('temp file, fsync, rename, directory fsync, then the WAL record, then resolve', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    const s = await opened(dir, { fs });
    await s.save({ entries: [entry(1), entry(2)] });
    const from = fs.events.length;
    await s.createSnapshot(2, cs, new Uint8Array([1, 2, 3]));
    const ev = fs.events.slice(from).map((e) => `${e.op} ${e.path.slice(dir.length + 1)}${e.detail ? ` ${e.detail.replace(dir + '/', '')}` : ''}`);
    const name = '0000000000000001-0000000000000002.snap';
    const seq = [`open snap/${name}.tmp w`, `sync snap/${name}.tmp`, `rename snap/${name} snap/${name}.tmp`, 'sync snap'];
    let at = -1;
    for (const want of seq) {
      const k = ev.indexOf(want, at + 1);
      expect(k, `${want} in ${JSON.stringify(ev)}`).toBeGreaterThan(at);
      at = k;
    }
    const walWrite = ev.findIndex((e, k) => k > at && e.startsWith('write wal/'));
    const walSync = ev.findIndex((e, k) => k > walWrite && e.startsWith('datasync wal/'));
    expect(walWrite).toBeGreaterThan(at);
    expect(walSync).toBeGreaterThan(walWrite);
    await s.close();
  });
});

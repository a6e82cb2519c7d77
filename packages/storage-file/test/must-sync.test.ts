// raft's MustSync, as etcd's WAL applies it: a save that only moves the
// commit index is not fsynced. It is held in memory (etcd keeps it in its
// write buffer) and written, in order, in the batch of the next save that
// must sync (a snapshot record too), or at close: written on its own, a
// later batch could reach the disk whole while a crash tore it, which
// recovery cannot tell from corruption.
// Counted through an injected file system, not timed; what a crash keeps of
// it is checked in crash.test.ts.
import { newConfState } from '@raftbus/core';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ents, hs, opened, recordingFs, recovered, removeTempDirs, tempDir, type FsEvent } from './helpers.js';

afterEach(removeTempDirs);

/** The file-system calls made while `fn` runs, as 'op name' (name: the file's base name). */
async function callsDuring(fs: ReturnType<typeof recordingFs>, fn: () => Promise<unknown>): Promise<string[]> {
  const from = fs.events.length;
  await fn();
  return fs.events.slice(from).map((e: FsEvent) => `${e.op} ${e.path.split('/').pop()}`);
}

/** How many fdatasyncs `fn` makes. */
async function fsyncsDuring(fs: ReturnType<typeof recordingFs>, fn: () => Promise<unknown>): Promise<number> {
  return (await callsDuring(fs, fn)).filter((c) => c.startsWith('datasync')).length;
}

describe('saves that need no fsync (MustSync)', () => {
  it('a save that changes only the commit index is held: neither written nor fsynced', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    const s = await opened(dir, { fs });
    await s.save({ entries: ents(1, [1, 1, 1]), hardState: hs(1, 1, 0) });
    expect(await callsDuring(fs, () => s.save({ entries: [], hardState: hs(1, 1, 2) }))).toEqual([]);
    // Still answered from memory at once, as any resolved save.
    expect(s.initialState().hardState).toEqual(hs(1, 1, 2));
    await s.close();
  });

  it('a new term, a new vote, entries or a snapshot each fsync', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    const s = await opened(dir, { fs });
    const synced = (fn: () => Promise<unknown>) => fsyncsDuring(fs, fn);
    expect(await synced(() => s.save({ entries: [], hardState: hs(1, 0, 0) }))).toBe(1); // term
    expect(await synced(() => s.save({ entries: [], hardState: hs(1, 2, 0) }))).toBe(1); // vote
    expect(await synced(() => s.save({ entries: ents(1, [1]) }))).toBe(1); // entries, no hard state
    expect(await synced(() => s.save({ entries: ents(2, [1]), hardState: hs(1, 2, 1) }))).toBe(1);
    expect(await synced(() => s.save({ entries: [], hardState: hs(1, 2, 2) }))).toBe(0); // commit only
    const snapshot = { data: new Uint8Array([9]), metadata: { index: 5, term: 1, confState: newConfState({ voters: [1] }) } };
    expect(await synced(() => s.save({ entries: [], snapshot }))).toBeGreaterThanOrEqual(1);
    // The term and vote compared against are the last saved, also after a reopen.
    await s.close();
    const fs2 = recordingFs();
    const again = await opened(dir, { fs: fs2 });
    const synced2 = (fn: () => Promise<unknown>) => fsyncsDuring(fs2, fn);
    expect(await synced2(() => again.save({ entries: [], hardState: hs(1, 2, 5) }))).toBe(0);
    expect(await synced2(() => again.save({ entries: [], hardState: hs(2, 2, 5) }))).toBe(1);
    await again.close();
  });

  it('the next save that must sync writes it in its own batch: one write, one fsync for both', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    const s = await opened(dir, { fs });
    await s.save({ entries: ents(1, [1, 1]), hardState: hs(1, 1, 0) });
    const calls = await callsDuring(fs, async () => {
      await s.save({ entries: [], hardState: hs(1, 1, 1) });
      await s.save({ entries: ents(3, [1]), hardState: hs(1, 1, 2) });
    });
    expect(calls.map((c) => c.split(' ')[0])).toEqual(['write', 'datasync']);
    await s.close();
    expect(await recovered(dir)).toEqual({ lastIndex: 3, hardState: hs(1, 1, 2) });
  });

  it('saves that must sync and saves that need not, in one group, share one fsync', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    const s = await opened(dir, { fs });
    await s.save({ entries: ents(1, [1]), hardState: hs(1, 1, 0) });
    // Made together, the four are written as one batch.
    const calls = await callsDuring(fs, () =>
      Promise.all([
        s.save({ entries: ents(2, [1]) }),
        s.save({ entries: [], hardState: hs(1, 1, 1) }),
        s.save({ entries: ents(3, [1]) }),
        s.save({ entries: [], hardState: hs(1, 1, 2) }),
      ]),
    );
    expect(calls.map((c) => c.split(' ')[0])).toEqual(['write', 'datasync']);
    expect(s.initialState().hardState).toEqual(hs(1, 1, 2));
    await s.close();
  });

  it('a group that only moves the commit index is held too', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    const s = await opened(dir, { fs });
    await s.save({ entries: ents(1, [1, 1, 1]), hardState: hs(1, 1, 0) });
    const calls = await callsDuring(fs, () => Promise.all([1, 2, 3].map((c) => s.save({ entries: [], hardState: hs(1, 1, c) }))));
    expect(calls).toEqual([]);
    expect(s.initialState().hardState).toEqual(hs(1, 1, 3));
    await s.close();
  });

  it('a long run of them, with no save that must sync, is written and fsynced once 64 KiB are held', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    const s = await opened(dir, { fs });
    await s.save({ entries: ents(1, [1]), hardState: hs(1, 1, 0) });
    const calls = await callsDuring(fs, async () => {
      for (let c = 1; c <= 4000; c++) await s.save({ entries: [], hardState: hs(1, 1, c) });
    });
    const ops = calls.map((c) => c.split(' ')[0]);
    // A HardState record is some 25 bytes: a few thousand of them fill 64 KiB, once or twice.
    expect(ops.filter((o) => o === 'write').length).toBeGreaterThanOrEqual(1);
    expect(ops.filter((o) => o === 'write').length).toBeLessThanOrEqual(2);
    expect(ops.filter((o) => o === 'datasync')).toHaveLength(ops.filter((o) => o === 'write').length);
    await s.close();
  });

  it('close() writes and fsyncs what is held, and a reopen finds it', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    const s = await opened(dir, { fs });
    await s.save({ entries: ents(1, [1, 1]), hardState: hs(1, 1, 0) });
    await s.save({ entries: [], hardState: hs(1, 1, 2) });
    const wal = fs.events.filter((e) => e.op === 'write').pop()!.path.split('/').pop()!;
    const calls = await callsDuring(fs, () => s.close());
    expect(calls.filter((c) => c.startsWith('write') || c.startsWith('datasync'))).toEqual([`write ${wal}`, `datasync ${wal}`]);
    expect((await recovered(dir)).hardState).toEqual(hs(1, 1, 2));
  });

  it('close() after a save that synced adds no fsync', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    const s = await opened(dir, { fs });
    await s.save({ entries: ents(1, [1]), hardState: hs(1, 1, 0) });
    expect(await fsyncsDuring(fs, () => s.close())).toBe(0);
  });

  it('a held commit index goes into the next segment when the next save rolls over', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    // The segment's size once its header and first save are written, measured on a twin.
    const twinDir = await tempDir();
    const twin = await opened(twinDir);
    await twin.save({ entries: ents(1, [1, 1, 1]), hardState: hs(1, 1, 0) });
    await twin.close();
    const [twinWal] = await readdir(join(twinDir, 'wal'));
    const full = (await stat(join(twinDir, 'wal', twinWal!))).size;

    // Full after the first save: the next write rolls over. The commit-only save writes nothing.
    const s = await opened(dir, { fs, segmentBytes: full });
    await s.save({ entries: ents(1, [1, 1, 1]), hardState: hs(1, 1, 0) });
    const first = fs.events.filter((e) => e.op === 'write').pop()!.path.split('/').pop()!;
    expect(await callsDuring(fs, () => s.save({ entries: [], hardState: hs(1, 1, 3) }))).toEqual([]);
    const calls = await callsDuring(fs, () => s.save({ entries: ents(4, [1]) }));
    const opening = calls.findIndex((c) => c.startsWith('open ') && c !== `open ${first}`);
    expect(opening, calls.join(', ')).toBeGreaterThanOrEqual(0);
    const second = calls[opening]!.split(' ')[1];
    // Nothing more goes to the full segment; the held save and the new one are one batch of the new one.
    expect(calls.filter((c) => c === `write ${first}`)).toEqual([]);
    expect(calls.slice(opening).filter((c) => c === `write ${second}`)).toHaveLength(2); // its head batch, then the save's
    await s.close();
    const again = await opened(dir, { segmentBytes: full });
    expect(again.lastIndex()).toBe(4);
    expect(again.initialState().hardState).toEqual(hs(1, 1, 3));
    await again.close();
  });

  it('a snapshot record is written with the commit indexes held before it, and fsyncs both', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    const s = await opened(dir, { fs });
    await s.save({ entries: ents(1, [1, 1, 1]), hardState: hs(1, 1, 0) });
    await s.save({ entries: [], hardState: hs(1, 1, 3) });
    const walWrites = () => fs.events.filter((e) => e.path.includes('/wal/'));
    const from = walWrites().length;
    await s.createSnapshot(3, newConfState({ voters: [1] }), new Uint8Array([1, 2, 3]));
    const after = walWrites().slice(from).map((e) => e.op);
    // The held commit and the snapshot mark are one write, then one fsync covers both.
    expect(after.slice(0, 2)).toEqual(['write', 'datasync']);
    await s.close();
    expect((await recovered(dir)).hardState).toEqual(hs(1, 1, 3));
  });
});

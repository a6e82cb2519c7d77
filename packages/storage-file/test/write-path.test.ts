// How a WAL batch reaches the file: a small one is written in the calling
// turn (writeSync), so that a save costs one trip to the thread pool (its
// fdatasync) rather than two; a large one is written through the pool,
// through a handle opened O_DSYNC where there is one, which makes it
// durable in that one trip. A write
// that fails any way fails the storage the same. Crash safety of every path
// is crash.test.ts's (its file system models them).
import { newEntry } from '@raftbus/core';
import { afterEach, describe, expect, it } from 'vitest';
import { storageView } from '@raftbus/testkit';
import { ErrStorageFailed } from '../src/index.js';
import { SYNC_WRITE_MAX_BYTES } from '../src/fs.js';
import { ents, hs, opened, recordingFs, recordingLogger, recovered, rejection, removeTempDirs, tempDir } from './helpers.js';

afterEach(removeTempDirs);

/**
 * The WAL writes and datasyncs `fn` makes, each write as 'now' (writeSync),
 * 'pool' (the handle's write) or 'durable' (through openDurable's handle).
 */
async function walWritesDuring(fs: ReturnType<typeof recordingFs>, fn: () => Promise<unknown>): Promise<string[]> {
  const from = fs.events.length;
  await fn();
  return fs.events
    .slice(from)
    .filter((e) => (e.op === 'write' || e.op === 'datasync') && e.path.includes('/wal/'))
    .map((e) => (e.op === 'datasync' ? 'datasync' : e.detail === 'now' || e.detail === 'durable' ? e.detail : 'pool'));
}

const big = (index: number) => newEntry({ index, term: 1, data: new Uint8Array(SYNC_WRITE_MAX_BYTES).fill(7) });

describe('WAL writes', () => {
  it('a small batch is written in the calling turn, one past SYNC_WRITE_MAX_BYTES through the thread pool; both recover', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    const s = await opened(dir, { fs });
    expect(await walWritesDuring(fs, () => s.save({ entries: ents(1, [1, 1]), hardState: hs(1, 1, 0) }))).toEqual(['now', 'datasync']);
    expect(await walWritesDuring(fs, () => s.save({ entries: [], hardState: hs(1, 1, 2) }))).toEqual([]); // commit only: held for the next
    expect(await walWritesDuring(fs, () => s.save({ entries: [big(3)] }))).toEqual(['pool', 'datasync']);
    const before = storageView(s);
    await s.close();
    const again = await opened(dir);
    expect(storageView(again)).toEqual(before);
    expect(again.entries(3, 4, Infinity)[0]!.data).toEqual(big(3).data);
    await again.close();
  });

  it('a file system without writeSync writes every batch through the handle', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    delete fs.writeSync;
    const s = await opened(dir, { fs });
    expect(await walWritesDuring(fs, () => s.save({ entries: ents(1, [1, 1]), hardState: hs(1, 1, 1) }))).toEqual(['pool', 'datasync']);
    await s.close();
    expect(await recovered(dir)).toEqual({ lastIndex: 2, hardState: hs(1, 1, 1) });
  });

  it.each([
    ['in the calling turn', () => ents(3, [1]), false],
    ['through the thread pool', () => [big(3)], false],
    ['through a durable handle', () => [big(3)], true],
  ])('a write that fails %s fails the storage; the acknowledged state stays, on disk too', async (_, entries, durable) => {
    const dir = await tempDir();
    // writes: 1 = the segment's head batch, 2 = the first save, 3 = the one that fails.
    const fs = recordingFs({ failWrite: 3, durable });
    const s = await opened(dir, { fs });
    await s.save({ entries: ents(1, [1, 1]), hardState: hs(1, 1, 1) });
    const acknowledged = storageView(s);
    const err = await rejection(s.save({ entries: entries(), hardState: hs(1, 1, 2) }));
    expect(err).toBeInstanceOf(ErrStorageFailed);
    expect((err as ErrStorageFailed).cause).toMatchObject({ code: 'ENOSPC' });
    expect(storageView(s)).toEqual(acknowledged);
    expect(await rejection(s.save({ entries: ents(3, [1]) }))).toBeInstanceOf(ErrStorageFailed);
    await s.close();
    expect(await recovered(dir)).toEqual({ lastIndex: 2, hardState: hs(1, 1, 1) });
  });
});

describe('durable WAL writes (O_DSYNC)', () => {
  const opens = (fs: ReturnType<typeof recordingFs>) => fs.events.filter((e) => e.op === 'open' && e.detail === 'durable').map((e) => e.path);

  it('a large batch that must be durable is written through a durable handle, with no datasync after it; a small one as before; both recover', async () => {
    const dir = await tempDir();
    const fs = recordingFs({ durable: true });
    const s = await opened(dir, { fs });
    expect(await walWritesDuring(fs, () => s.save({ entries: ents(1, [1, 1]), hardState: hs(1, 1, 0) }))).toEqual(['now', 'datasync']);
    expect(await walWritesDuring(fs, () => s.save({ entries: [big(3)], hardState: hs(1, 1, 2) }))).toEqual(['durable']);
    expect(await walWritesDuring(fs, () => s.save({ entries: [big(4)] }))).toEqual(['durable']);
    // One handle for the segment, opened at its first durable write.
    expect(opens(fs)).toHaveLength(1);
    expect(opens(fs)[0]).toMatch(/\/wal\/[^/]+\.wal$/);
    const before = storageView(s);
    await s.close();
    const again = await opened(dir);
    expect(storageView(again)).toEqual(before);
    expect(again.entries(3, 5, Infinity).map((e) => e.data)).toEqual([big(3).data, big(4).data]);
    await again.close();
  });

  it('a commit index held (not fsynced) goes into the next large batch, still one durable write', async () => {
    const dir = await tempDir();
    const fs = recordingFs({ durable: true });
    const s = await opened(dir, { fs });
    await s.save({ entries: ents(1, [1, 1]), hardState: hs(1, 1, 0) });
    expect(await walWritesDuring(fs, () => s.save({ entries: [], hardState: hs(1, 1, 2) }))).toEqual([]);
    expect(await walWritesDuring(fs, () => s.save({ entries: [big(3)] }))).toEqual(['durable']);
    expect(await walWritesDuring(fs, () => s.save({ entries: [big(4)] }))).toEqual(['durable']);
    await s.close();
    expect(await recovered(dir)).toEqual({ lastIndex: 4, hardState: hs(1, 1, 2) });
  });

  it('each new segment gets a durable handle of its own, and the old one is closed with its segment', async () => {
    const dir = await tempDir();
    const fs = recordingFs({ durable: true });
    // Two large entries fill a segment.
    const s = await opened(dir, { fs, segmentBytes: 2 * SYNC_WRITE_MAX_BYTES });
    for (let i = 1; i <= 6; i++) {
      // A save that rolls over first writes the new segment's head batch (and fsyncs it).
      expect(await walWritesDuring(fs, () => s.save({ entries: [big(i)] }))).toEqual(expect.arrayContaining(['durable']));
    }
    const paths = opens(fs);
    expect(paths.length).toBeGreaterThanOrEqual(3);
    expect(new Set(paths).size).toBe(paths.length);
    expect(fs.count('datasync')).toBe(0);
    // Each durable write went to the segment whose handle was opened last
    // before it, and that handle was closed before the next was opened.
    let current: string | undefined;
    for (const e of fs.events) {
      if (e.detail !== 'durable') continue;
      if (e.op === 'open') {
        expect(current).toBeUndefined();
        current = e.path;
      }
      if (e.op === 'write') expect(e.path).toBe(current);
      if (e.op === 'close') {
        expect(e.path).toBe(current);
        current = undefined;
      }
    }
    expect(current).toBe(paths.at(-1));
    await s.close();
    expect(fs.events.filter((e) => e.op === 'close' && e.detail === 'durable').map((e) => e.path)).toEqual(paths);
    expect(await recovered(dir)).toEqual({ lastIndex: 6, hardState: hs(0, 0, 0) });
  });

  it('a segment that cannot be opened for durable writes: one warning, then writes and datasyncs as without', async () => {
    const dir = await tempDir();
    const fs = recordingFs({ durable: true, failOpenDurable: true });
    const logger = recordingLogger();
    const s = await opened(dir, { fs, logger });
    expect(await walWritesDuring(fs, () => s.save({ entries: [big(1)] }))).toEqual(['pool', 'datasync']);
    expect(await walWritesDuring(fs, () => s.save({ entries: [big(2)] }))).toEqual(['pool', 'datasync']);
    expect(logger.lines.filter((l) => l.includes('for durable writes'))).toEqual([
      expect.stringMatching(/^WARN storage-file: cannot open .+\.wal for durable writes \(EMFILE: too many open files, open\); writing, then fsyncing, from now on$/),
    ]);
    await s.close();
    expect(await recovered(dir)).toEqual({ lastIndex: 2, hardState: hs(0, 0, 0) });
  });
});

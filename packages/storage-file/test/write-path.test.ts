// How a WAL batch reaches the file: a small one is written in the calling
// turn (writeSync), so that a save costs one trip to the thread pool (its
// fdatasync) rather than two; a large one is written through the pool. A
// write that fails either way fails the storage the same. Crash safety of
// both paths is crash.test.ts's (its file system models both).
import { newEntry } from '@raftbus/core';
import { afterEach, describe, expect, it } from 'vitest';
import { storageView } from '@raftbus/testkit';
import { ErrStorageFailed } from '../src/index.js';
import { SYNC_WRITE_MAX_BYTES } from '../src/fs.js';
import { ents, hs, opened, recordingFs, recovered, rejection, removeTempDirs, tempDir } from './helpers.js';

afterEach(removeTempDirs);

/** The WAL writes `fn` makes, each as 'now' (writeSync) or 'pool' (the handle's write). */
async function walWritesDuring(fs: ReturnType<typeof recordingFs>, fn: () => Promise<unknown>): Promise<string[]> {
  const from = fs.events.length;
  await fn();
  return fs.events
    .slice(from)
    .filter((e) => e.op === 'write' && e.path.includes('/wal/'))
    .map((e) => (e.detail === 'now' ? 'now' : 'pool'));
}

const big = (index: number) => newEntry({ index, term: 1, data: new Uint8Array(SYNC_WRITE_MAX_BYTES).fill(7) });

describe('WAL writes', () => {
  it('a small batch is written in the calling turn, one past SYNC_WRITE_MAX_BYTES through the thread pool; both recover', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    const s = await opened(dir, { fs });
    expect(await walWritesDuring(fs, () => s.save({ entries: ents(1, [1, 1]), hardState: hs(1, 1, 0) }))).toEqual(['now']);
    expect(await walWritesDuring(fs, () => s.save({ entries: [], hardState: hs(1, 1, 2) }))).toEqual(['now']); // commit only, not fsynced
    expect(await walWritesDuring(fs, () => s.save({ entries: [big(3)] }))).toEqual(['pool']);
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
    expect(await walWritesDuring(fs, () => s.save({ entries: ents(1, [1, 1]), hardState: hs(1, 1, 1) }))).toEqual(['pool']);
    await s.close();
    expect(await recovered(dir)).toEqual({ lastIndex: 2, hardState: hs(1, 1, 1) });
  });

  it.each([
    ['in the calling turn', () => ents(3, [1])],
    ['through the thread pool', () => [big(3)]],
  ])('a write that fails %s fails the storage; the acknowledged state stays, on disk too', async (_, entries) => {
    const dir = await tempDir();
    // writes: 1 = the segment's head batch, 2 = the first save, 3 = the one that fails.
    const fs = recordingFs({ failWrite: 3 });
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

// open / close, calls at the wrong time, and a failed fsync.
import { readdir } from 'node:fs/promises';
import { newConfState, newEntry } from '@raftbus/core';
import { afterEach, describe, expect, it } from 'vitest';
import { storageView } from '@raftbus/testkit';
import { ErrStorageClosed, ErrStorageFailed } from '../src/index.js';
import { ents, fileStorage, hs, opened, recordingFs, recordingLogger, rejection, removeTempDirs, tempDir } from './helpers.js';

afterEach(removeTempDirs);

describe('lifecycle', () => {
  it('nothing works before open', async () => {
    const s = fileStorage(await tempDir());
    expect(() => s.lastIndex()).toThrow(ErrStorageClosed);
    expect(() => s.snapshot()).toThrow(/not open/);
    expect(await rejection(s.save({ entries: ents(1, [1]) }))).toBeInstanceOf(ErrStorageClosed);
    await s.close(); // closing a store never opened is fine
  });

  it('open() twice is one open', async () => {
    const s = fileStorage(await tempDir());
    const p = s.open();
    expect(s.open()).toBe(p);
    await p;
    await s.close();
  });

  it('close() waits for saves in flight, and they are durable', async () => {
    const dir = await tempDir();
    const s = await opened(dir);
    const saves = Array.from({ length: 10 }, (_, k) => s.save({ entries: ents(k + 1, [1]), hardState: hs(1, 1, k) }));
    const settled: string[] = [];
    for (const p of saves) void p.then(() => settled.push('ok'), (e: Error) => settled.push(e.name));
    await s.close();
    expect(settled).toEqual(Array(10).fill('ok'));
    const again = await opened(dir);
    expect(again.lastIndex()).toBe(10);
    await again.close();
  });

  it('after close every call is refused with ErrStorageClosed; close stays idempotent', async () => {
    const dir = await tempDir();
    const s = await opened(dir);
    await s.save({ entries: ents(1, [1, 1]) });
    await Promise.all([s.close(), s.close()]);
    await s.close();
    expect(await rejection(s.save({ entries: ents(3, [1]) }))).toBeInstanceOf(ErrStorageClosed);
    expect(await rejection(s.createSnapshot(1, newConfState(), new Uint8Array()))).toBeInstanceOf(ErrStorageClosed);
    expect(await rejection(s.compact(1))).toBeInstanceOf(ErrStorageClosed);
    expect(await rejection(s.open())).toBeInstanceOf(ErrStorageClosed);
    for (const read of [() => s.firstIndex(), () => s.lastIndex(), () => s.term(1), () => s.entries(1, 2, 10), () => s.initialState(), () => s.snapshot()]) {
      expect(read).toThrow(ErrStorageClosed);
    }
    // The lock is gone.
    expect(await readdir(dir)).not.toContain('LOCK');
  });

  it('a failed fsync fails the storage: writes refused until reopened, reads keep the acknowledged state', async () => {
    const dir = await tempDir();
    // datasyncs: 1 = first save; 2 = the one that fails.
    const log = recordingLogger();
    const s = await opened(dir, { fs: recordingFs({ failDatasync: 2 }), logger: log });
    await s.save({ entries: ents(1, [1, 1]), hardState: hs(1, 1, 1) });
    const acknowledged = storageView(s);
    const err = await rejection(s.save({ entries: ents(3, [1]), hardState: hs(1, 1, 2) }));
    expect(err).toBeInstanceOf(ErrStorageFailed);
    expect((err as ErrStorageFailed).cause).toMatchObject({ code: 'EIO' });
    expect(log.lines.some((l) => l.startsWith('ERROR') && l.includes('EIO'))).toBe(true);
    expect(storageView(s)).toEqual(acknowledged);
    expect(await rejection(s.save({ entries: ents(3, [1]) }))).toBeInstanceOf(ErrStorageFailed);
    expect(await rejection(s.createSnapshot(1, newConfState(), new Uint8Array()))).toBeInstanceOf(ErrStorageFailed);
    await s.close();
    // Reopening recovers what is on disk. The failed batch may or may not be
    // there (its write reached the page cache): it was never acknowledged, so either is correct.
    const again = await opened(dir);
    expect(again.entries(1, 3, Infinity)).toEqual(ents(1, [1, 1]));
    expect([2, 3]).toContain(again.lastIndex());
    await again.save({ entries: [newEntry({ index: 3, term: 2 })] });
    await again.close();
  });
});

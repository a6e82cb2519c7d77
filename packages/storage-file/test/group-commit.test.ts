// Group commit: saves made while a batch is being fsynced share the next
// fsync. Counted through an injected file system, not timed.
import { newEntry } from '@raftbus/core';
import { afterEach, describe, expect, it } from 'vitest';
import { hs, opened, recordingFs, recovered, removeTempDirs, tempDir } from './helpers.js';

afterEach(removeTempDirs);

const entry = (i: number) => newEntry({ index: i, term: 1, data: new Uint8Array([i]) });

async function concurrentSaves(options: Parameters<typeof opened>[1]) {
  const dir = await tempDir();
  const fs = recordingFs();
  const s = await opened(dir, { ...options, fs });
  const before = { datasync: fs.count('datasync'), write: fs.count('write') };
  await Promise.all(Array.from({ length: 20 }, (_, k) => s.save({ entries: [entry(k + 1)], hardState: hs(1, 1, k) })));
  const used = { datasync: fs.count('datasync') - before.datasync, write: fs.count('write') - before.write };
  expect(s.lastIndex()).toBe(20);
  await s.close();
  expect(await recovered(dir)).toEqual({ lastIndex: 20, hardState: hs(1, 1, 19) });
  return { used, durable: s.capabilities.durable };
}

describe('group commit', () => {
  it("sync: 'batch' (the default) coalesces concurrent saves into few fsyncs", async () => {
    const { used, durable } = await concurrentSaves({});
    expect(durable).toBe(true);
    // The first save is written at once; the 19 that arrive meanwhile share one batch.
    expect(used.datasync).toBe(2);
    expect(used.write).toBe(2);
  });

  it("sync: 'always' fsyncs every save", async () => {
    const { used } = await concurrentSaves({ sync: 'always' });
    expect(used.datasync).toBe(20);
  });

  it('unsafeNoSync skips every fsync, and says it is not durable', async () => {
    const { used, durable } = await concurrentSaves({ unsafeNoSync: true });
    expect(used.datasync).toBe(0);
    expect(durable).toBe(false);
  });

  it('a save resolves only after the fsync of its batch', async () => {
    const dir = await tempDir();
    const fs = recordingFs();
    const s = await opened(dir, { fs });
    const order: string[] = [];
    const p = s.save({ entries: [entry(1)] }).then(() => order.push(`resolved after ${fs.count('datasync')} datasyncs`));
    const synced = fs.count('datasync');
    await p;
    expect(order).toEqual([`resolved after ${synced + 1} datasyncs`]);
    await s.close();
  });
});

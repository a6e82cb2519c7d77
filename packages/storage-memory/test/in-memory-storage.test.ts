// What InMemoryStorage promises beyond the conformance suite.
import { newEntry, newHardState } from '@raftbus/core';
import { describe, expect, it } from 'vitest';
import { InMemoryStorage } from '../src/index.js';

describe('InMemoryStorage', () => {
  it('keeps its state when closed and opened again (a node restarted within the process)', async () => {
    // README snippet: start
    const storage = new InMemoryStorage();
    await storage.open();
    await storage.save({
      entries: [newEntry({ index: 1, term: 1, data: new TextEncoder().encode('x=1') })],
      hardState: newHardState({ term: 1, vote: 1, commit: 1 }),
    });
    await storage.close();
    await storage.open();
    expect(storage.lastIndex()).toBe(1);
    expect(storage.initialState().hardState).toEqual({ term: 1, vote: 1, commit: 1 });
    // README snippet: end
  });

  it('refuses a batch that would leave a gap in the log, and changes nothing', async () => {
    const storage = new InMemoryStorage();
    await storage.open();
    await storage.save({ entries: [newEntry({ index: 1, term: 1 })], hardState: newHardState({ term: 1 }) });
    await expect(
      storage.save({ entries: [newEntry({ index: 3, term: 2 })], hardState: newHardState({ term: 2, commit: 1 }) }),
    ).rejects.toThrow(/missing log entry/);
    expect(storage.lastIndex()).toBe(1);
    expect(storage.initialState().hardState).toEqual(newHardState({ term: 1 }));
    // Also a gap after a snapshot in the same batch: the snapshot is not installed either.
    const snapshot = { data: new Uint8Array([1]), metadata: { index: 10, term: 2, confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } } };
    await expect(storage.save({ entries: [newEntry({ index: 12, term: 2 })], snapshot })).rejects.toThrow(/missing log entry/);
    expect(storage.snapshot().metadata.index).toBe(0);
    expect(storage.lastIndex()).toBe(1);
  });

  it('refuses a snapshot from the leader that is not newer than the one held, and changes nothing', async () => {
    const storage = new InMemoryStorage();
    await storage.open();
    const snap = (index: number) => ({ data: new Uint8Array([index]), metadata: { index, term: 1, confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } } });
    await storage.save({ entries: [], snapshot: snap(5) });
    await expect(storage.save({ entries: [newEntry({ index: 4, term: 1 })], snapshot: snap(4) })).rejects.toMatchObject({ name: 'ErrSnapOutOfDate' });
    expect(storage.snapshot().metadata.index).toBe(5);
    expect(storage.lastIndex()).toBe(5);
  });
});

// The shared body of etcd's TestRawNodeStart, which raft.test.ts and
// raw-node.test.ts both port (each with its own bootstrap of the storage).
import { expect } from 'vitest';
import { newEntry, newHardState } from '../../src/raftpb/types.js';
import type { RawNode } from '../../src/raw-node.js';
import type { MemoryStorage } from '../../src/storage.js';
import { utf8 } from './raft-harness.js';

/**
 * Given a fresh single-voter RawNode over storage bootstrapped at index 1:
 * campaign, propose, and get the entries back committed, checking the Ready
 * contents of each step.
 */
export function expectStartRoundTrip(rn: RawNode, storage: MemoryStorage): void {
  expect(rn.hasReady()).toBe(false);

  rn.campaign();
  let rd = rn.ready();
  storage.append(rd.entries);
  rn.advance(rd);
  rn.propose(utf8('foo'));
  expect(rn.hasReady()).toBe(true);

  const entries = [newEntry({ term: 1, index: 2 }), newEntry({ term: 1, index: 3, data: utf8('foo') })];
  rd = rn.ready();
  expect(rd.entries).toEqual(entries);
  storage.append(rd.entries);
  rn.advance(rd);

  expect(rn.hasReady()).toBe(true);
  rd = rn.ready();
  expect(rd.entries).toEqual([]);
  expect(rd.mustSync).toBe(false);
  rn.advance(rd);

  expect({ ...rd, softState: undefined }).toEqual({
    softState: undefined,
    hardState: newHardState({ term: 1, commit: 3, vote: 1 }),
    readStates: [],
    entries: [],
    committedEntries: entries,
    messages: [],
    mustSync: false,
  });
  expect(rn.hasReady()).toBe(false);
}

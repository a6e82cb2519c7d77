// Every acknowledged save survives a restart: entries, hard state,
// snapshots, overwritten suffixes and compactions, across segment rollovers
// and segment deletion. A restarted store serves what etcd's server would
// rebuild: the newest snapshot, and the entries after it.
import {
  MemoryStorage,
  discardLogger,
  getLogger,
  newConfState,
  newEntry,
  setLogger,
  type HardState,
} from '@raftbus/core';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { storageView } from '@raftbus/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ents, hs, opened, recordingLogger, removeTempDirs, reopened, tempDir } from './helpers.js';
import type { FileStorage } from '../src/index.js';

const saved = getLogger();
beforeAll(() => setLogger(discardLogger));
afterAll(() => setLogger(saved));
afterEach(removeTempDirs);

/** A small deterministic generator (xorshift32). */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

describe('restart keeps every acknowledged save', () => {
  it('entries, hard state, an overwritten suffix, a created snapshot and a compaction', async () => {
    const dir = await tempDir();
    let s = await opened(dir);
    await s.save({ entries: ents(1, [1, 1, 1, 1, 1, 1]), hardState: hs(1, 1, 2) });
    await s.save({ entries: ents(4, [2, 2]), hardState: hs(2, 2, 4) }); // replaces 4..6 by 4..5
    await s.save({ entries: ents(6, [2, 2, 2, 2]), hardState: hs(2, 2, 8) });
    const cs = newConfState({ voters: [1, 2, 3] });
    await s.createSnapshot(7, cs, new TextEncoder().encode('state at 7'));
    await s.compact(6);
    await s.close();

    s = await opened(dir);
    expect(s.snapshot().metadata).toEqual({ index: 7, term: 2, confState: cs });
    expect(new TextDecoder().decode(s.snapshot().data)).toBe('state at 7');
    expect(s.initialState()).toEqual({ hardState: hs(2, 2, 8), confState: cs });
    expect(s.firstIndex()).toBe(8);
    expect(s.lastIndex()).toBe(9);
    expect(s.entries(8, 10, Infinity)).toEqual(ents(6, [2, 2, 2, 2]).slice(2));
    expect(s.term(7)).toBe(2);
    await s.close();
  });

  it('a snapshot past the stored commit index raises it on restart (a snapshot holds only committed entries)', async () => {
    const dir = await tempDir();
    let s = await opened(dir);
    await s.save({ entries: ents(1, [1, 1, 1, 1, 1]), hardState: hs(1, 1, 2) });
    await s.createSnapshot(4, newConfState({ voters: [1] }), new Uint8Array([4]));
    await s.close();
    const log = recordingLogger();
    s = await opened(dir, { logger: log });
    expect(s.initialState().hardState).toEqual(hs(1, 1, 4));
    expect(log.lines.some((l) => l.includes('commit 2 is below the snapshot at 4'))).toBe(true);
    await s.close();
  });

  it('a snapshot from the leader, and what follows it', async () => {
    const dir = await tempDir();
    let s = await opened(dir);
    await s.save({ entries: ents(1, [1, 1, 1]), hardState: hs(1, 0, 1) });
    const leader = { data: new Uint8Array(10_000).map((_, i) => i & 0xff), metadata: { index: 50, term: 3, confState: newConfState({ voters: [1, 2] }) } };
    await s.save({ snapshot: leader, entries: ents(51, [3]), hardState: hs(3, 0, 50) });
    await s.close();
    s = await opened(dir);
    expect(s.snapshot()).toEqual(leader);
    expect(s.firstIndex()).toBe(51);
    expect(s.entries(51, 52, Infinity)).toEqual(ents(51, [3]));
    expect(s.initialState().hardState).toEqual(hs(3, 0, 50));
    await s.close();
  });

  it('a snapshot from the leader overtaking a createSnapshot in flight wins, before and after a restart', async () => {
    const dir = await tempDir();
    let s = await opened(dir);
    await s.save({ entries: ents(1, [1, 1, 1, 1, 1]), hardState: hs(1, 1, 5) });
    const cs = newConfState({ voters: [1, 2, 3] });
    const leader = { data: new TextEncoder().encode('leader at 20'), metadata: { index: 20, term: 2, confState: cs } };
    const [made] = await Promise.all([
      s.createSnapshot(4, cs, new TextEncoder().encode('local at 4')),
      s.save({ snapshot: leader, entries: ents(21, [2]), hardState: hs(2, 0, 20) }),
    ]);
    expect(made.metadata.index).toBe(4);
    expect(s.snapshot()).toEqual(leader);
    expect(s.firstIndex()).toBe(21);
    await s.close();
    s = await opened(dir);
    expect(s.snapshot()).toEqual(leader);
    expect(s.entries(21, 22, Infinity)).toEqual(ents(21, [2]));
    // Both files are there (the newest two are kept); the leader's is the one in use.
    expect((await readdir(join(dir, 'snap'))).sort()).toEqual(['0000000000000001-0000000000000004.snap', '0000000000000002-0000000000000014.snap']);
    await s.close();
  });

  it.each([1, 2, 3, 4])('random raft-like histories, restarting often (seed %i)', async (seed) => {
    const rand = rng(seed * 7919);
    const dir = await tempDir();
    // Tiny segments: rollovers and segment deletion happen all the time.
    const options = { segmentBytes: 700 };
    let s: FileStorage = await opened(dir, options);
    let m = new MemoryStorage();
    const seen = { restarts: 0, snapshots: 0, compactions: 0, installs: 0, maxSegments: 0 };
    let term = 1;
    let commit = 0;
    let snapIndex = 0;
    let state: HardState = hs(0, 0, 0);
    for (let step = 0; step < 150; step++) {
      const last = m.lastIndex();
      const roll = rand(100);
      if (roll < 55) {
        // Append, sometimes overwriting an uncommitted suffix as a new leader does.
        if (rand(4) === 0) term++;
        const from = Math.max(commit + 1, m.firstIndex(), last + 1 - rand(3));
        const batch = Array.from({ length: 1 + rand(4) }, (_, k) =>
          newEntry({ index: from + k, term, data: new TextEncoder().encode(`s${seed} step ${step} #${k}`) }),
        );
        const newLast = from + batch.length - 1;
        commit = Math.min(newLast, commit + rand(3));
        state = hs(term, 1 + rand(3), commit);
        await s.save({ entries: batch, hardState: state });
        m.append(batch);
        m.setHardState(state);
      } else if (roll < 70 && commit > snapIndex) {
        const at = snapIndex + 1 + rand(commit - snapIndex);
        const cs = newConfState({ voters: [1, 2, 3].slice(0, 1 + rand(3)) });
        const data = new TextEncoder().encode(`state at ${at}`);
        await s.createSnapshot(at, cs, data);
        m.createSnapshot(at, cs, data);
        snapIndex = at;
        seen.snapshots++;
      } else if (roll < 82 && snapIndex >= m.firstIndex()) {
        const at = m.firstIndex() + rand(snapIndex - m.firstIndex() + 1);
        await s.compact(at);
        m.compact(at);
        seen.compactions++;
      } else if (roll < 87) {
        // A snapshot from the leader, ahead of everything we have.
        term++;
        const at = last + 1 + rand(5);
        const leader = {
          data: new TextEncoder().encode(`leader state at ${at}`),
          metadata: { index: at, term, confState: newConfState({ voters: [1, 2, 3] }) },
        };
        commit = at;
        state = hs(term, 0, commit);
        await s.save({ snapshot: leader, entries: [], hardState: state });
        m.applySnapshot(leader);
        m.setHardState(state);
        snapIndex = at;
        seen.installs++;
      } else {
        seen.maxSegments = Math.max(seen.maxSegments, (await readdir(join(dir, 'wal'))).length);
        seen.restarts++;
        await s.close();
        s = await opened(dir, options);
        // From here on the model is the restarted one, as the store is.
        m = reopened(m);
        expect(storageView(s), `restart at step ${step}`).toEqual(storageView(m));
      }
    }
    // The history did exercise what it is meant to.
    expect(seen.restarts).toBeGreaterThan(5);
    expect(seen.snapshots + seen.installs).toBeGreaterThan(3);
    expect(seen.compactions).toBeGreaterThan(2);
    expect(seen.maxSegments).toBeGreaterThan(2);
    await s.close();
    s = await opened(dir, options);
    expect(storageView(s)).toEqual(storageView(reopened(m)));
    await s.close();
  });
});

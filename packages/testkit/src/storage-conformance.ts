// The DurableStorage contract as tests. Every store runs this suite; a store
// states its honest differences through options (durable, persistent), and
// the suite then asserts the stronger or the weaker promise, never nothing.
//
// The expected behaviour is etcd-raft's MemoryStorage plus the durable
// writes of the contract: after compact(i), entry i survives as the log's
// dummy entry (term(i) answers, entries() starts at i + 1); a snapshot from
// the leader replaces the whole log; errors are the core's typed errors.
import {
  entrySize,
  EntryType,
  encodeConfChange,
  newConfChange,
  newConfState,
  newEntry,
  newHardState,
  ConfChangeType,
  SNAPSHOT_CHUNK_BYTES,
  type ConfState,
  type DurableStorage,
  type Entry,
  type HardState,
  type Snapshot,
} from '@raftbus/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from './wait.js';

export interface StorageHarness {
  /** A store over empty state, not yet opened (the suite opens it). */
  storage: DurableStorage;
  /**
   * A new, not yet opened store over the same underlying data (same file,
   * same Redis keys). The suite closes the previous store first. Required
   * when the store is durable or persistent.
   */
  reopen?: () => Promise<DurableStorage>;
  /** Releases what the harness made (temporary directories, keys). */
  cleanup?: () => Promise<void>;
}

export interface StorageConformanceOptions {
  /**
   * What `capabilities.durable` must say. When true, every acknowledged save
   * must survive close() and reopen(). Default false.
   */
  durable?: boolean;
  /**
   * State survives close() and reopen() even though a crash may lose
   * acknowledged writes (Redis without appendfsync always). Implied by
   * `durable`. Default false.
   */
  persistent?: boolean;
  /** Per-test timeout for slow stores, in ms. Default 10 000. */
  timeoutMs?: number;
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Entries first, first+1, … with the given terms; each carries a distinct payload. */
function ents(first: number, terms: number[]): Entry[] {
  return terms.map((term, k) => newEntry({ index: first + k, term, data: bytes(`entry ${first + k} of term ${term}`) }));
}

function hs(term: number, vote: number, commit: number): HardState {
  return newHardState({ term, vote, commit });
}

function snap(index: number, term: number, confState: ConfState, data: Uint8Array): Snapshot {
  return { data, metadata: { index, term, confState } };
}

/** Every byte value, twice, so that no encoding of the payload can lose one unnoticed. */
const allBytes = new Uint8Array(512).map((_, i) => i % 256);

/** Byte `i` of the test snapshots streamed in chunks: a pattern that a dropped, doubled or reordered chunk breaks. */
const patternByte = (i: number): number => (i * 31 + (i >>> 8) * 7) % 251;

/** A snapshot's data as `count` chunks of varied sizes (`seed` varies them), and its concatenation. */
function chunkedData(count: number, maxChunk: number, seed: number): { sizes: number[]; whole: Uint8Array } {
  const sizes = Array.from({ length: count }, (_, k) => 1 + ((k * 7919 + seed * 104729) % maxChunk));
  const whole = new Uint8Array(sizes.reduce((n, x) => n + x, 0));
  for (let i = 0; i < whole.length; i++) whole[i] = patternByte(i);
  return { sizes, whole };
}

/**
 * Yields `whole` cut at `sizes`, reusing one buffer for every chunk (as a
 * producer may): a store that kept a chunk instead of writing or copying it
 * ends up with the wrong bytes. `yielded` counts the chunks handed out.
 */
function producer(whole: Uint8Array, sizes: number[], failAfter?: number): AsyncGenerator<Uint8Array> & { yielded: number } {
  const state = { yielded: 0 };
  async function* run(): AsyncGenerator<Uint8Array> {
    const buf = new Uint8Array(Math.max(1, ...sizes));
    let at = 0;
    for (const size of sizes) {
      if (failAfter !== undefined && state.yielded === failAfter) throw new Error('state machine failed mid-snapshot');
      buf.set(whole.subarray(at, at + size));
      at += size;
      state.yielded++;
      yield buf.subarray(0, size);
    }
  }
  return Object.defineProperty(run(), 'yielded', { get: () => state.yielded }) as AsyncGenerator<Uint8Array> & { yielded: number };
}

/**
 * Asserts two byte arrays are equal, naming the first difference (deep
 * equality of megabytes, and its diff, would take minutes).
 */
function expectBytes(actual: Uint8Array, expected: Uint8Array, what = 'snapshot data'): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  const at = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).compare(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength));
  if (at === 0) return;
  let k = 0;
  while (actual[k] === expected[k]) k++;
  expect.fail(`${what}: byte ${k} is ${actual[k]}, expected ${expected[k]}`);
}

async function* noChunks(): AsyncGenerator<Uint8Array> {}

async function* emptyChunks(): AsyncGenerator<Uint8Array> {
  yield new Uint8Array(0);
  yield new Uint8Array(0);
}

/** What readSnapshotChunks() gives: the metadata, every chunk's length, and the data joined (for comparison). */
async function readBack(s: DurableStorage): Promise<{ metadata: Snapshot['metadata']; chunkSizes: number[]; data: Uint8Array }> {
  const stored = s.readSnapshotChunks();
  const parts: Uint8Array[] = [];
  for await (const chunk of stored) parts.push(new Uint8Array(chunk));
  const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  return { metadata: stored.metadata, chunkSizes: parts.map((p) => p.length), data };
}

/**
 * raft's snapshot(), which a store keeping large snapshots on its medium
 * answers with ErrSnapshotTemporarilyUnavailable until it has loaded it:
 * asked again until it answers, as raft's leader does.
 */
async function raftSnapshot(s: DurableStorage, timeoutMs: number): Promise<Snapshot> {
  let got: Snapshot | undefined;
  await waitFor(
    () => {
      try {
        got = s.snapshot();
        return true;
      } catch (e) {
        if (e instanceof Error && e.name === 'ErrSnapshotTemporarilyUnavailable') return false;
        throw e;
      }
    },
    timeoutMs,
    'snapshot() to stop throwing ErrSnapshotTemporarilyUnavailable',
  );
  return got!;
}

/** The name of what `fn` throws (or resolves/returns to: "none"), matched by name across package copies. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof Error ? e.name : String(e);
  }
  return 'none';
}

async function rejectionOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return e instanceof Error ? e.name : String(e);
  }
  return 'none';
}

export function storageConformance(
  name: string,
  factory: () => Promise<StorageHarness>,
  options: StorageConformanceOptions = {},
): void {
  const durable = options.durable ?? false;
  const persistent = durable || (options.persistent ?? false);
  const timeout = options.timeoutMs ?? 10_000;

  describe(`${name}: DurableStorage conformance`, () => {
    let harness: StorageHarness;
    let s: DurableStorage;
    let opened: DurableStorage[] = [];

    beforeEach(async () => {
      harness = await factory();
      s = harness.storage;
      await s.open();
      opened = [s];
    }, timeout);

    afterEach(async () => {
      for (const store of opened) await store.close();
      await harness.cleanup?.();
    }, timeout);

    /** Closes the store and opens a new one over the same data. */
    async function reopen(): Promise<DurableStorage> {
      expect(harness.reopen, 'a durable or persistent store gives the suite reopen()').toBeTypeOf('function');
      await s.close();
      s = await harness.reopen!();
      await s.open();
      opened.push(s);
      return s;
    }

    function expectLog(first: number, want: Entry[]): void {
      const last = first + want.length - 1;
      expect(s.firstIndex(), 'firstIndex').toBe(first);
      expect(s.lastIndex(), 'lastIndex').toBe(last);
      if (want.length > 0) expect(s.entries(first, last + 1, Infinity)).toEqual(want);
      for (const e of want) expect(s.term(e.index), `term(${e.index})`).toBe(e.term);
    }

    it(
      `states its capabilities (durable: ${durable})`,
      () => {
        expect(s.capabilities.durable).toBe(durable);
      },
      timeout,
    );

    it(
      'opens empty with the initial state of a new etcd-raft log',
      () => {
        expect(s.firstIndex()).toBe(1);
        expect(s.lastIndex()).toBe(0);
        expect(s.term(0)).toBe(0);
        expect(errorOf(() => s.term(1))).toBe('ErrUnavailable');
        expect(s.initialState()).toEqual({ hardState: newHardState(), confState: newConfState() });
        expect(s.snapshot().metadata).toEqual({ index: 0, term: 0, confState: newConfState() });
        expect(s.snapshot().data).toHaveLength(0);
      },
      timeout,
    );

    it(
      'reads back saved entries and hard state',
      async () => {
        const log = ents(1, [1, 1, 2, 3, 3]);
        await s.save({ entries: log, hardState: hs(3, 2, 4) });
        expectLog(1, log);
        expect(s.term(0)).toBe(0);
        expect(s.entries(2, 4, Infinity)).toEqual(log.slice(1, 3));
        expect(s.initialState()).toEqual({ hardState: hs(3, 2, 4), confState: newConfState() });
      },
      timeout,
    );

    it(
      'keeps entry types and binary payloads byte for byte',
      async () => {
        const log = [
          newEntry({ index: 1, term: 1 }),
          newEntry({ index: 2, term: 1, data: allBytes }),
          newEntry({
            index: 3,
            term: 2,
            type: EntryType.EntryConfChange,
            data: encodeConfChange(newConfChange({ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 4 })),
          }),
          newEntry({ index: 4, term: 2, data: new Uint8Array(64 * 1024).fill(0xff) }),
        ];
        await s.save({ entries: log, hardState: hs(2, 1, 3) });
        expectLog(1, log);
      },
      timeout,
    );

    it(
      'limits entries() by maxSize, yet returns at least one entry',
      async () => {
        const log = ents(1, [1, 1, 1, 1, 1]);
        await s.save({ entries: log });
        const size = (es: Entry[]) => es.reduce((n, e) => n + entrySize(e), 0);
        expect(s.entries(1, 6, 0)).toEqual(log.slice(0, 1));
        expect(s.entries(2, 6, 1)).toEqual(log.slice(1, 2));
        expect(s.entries(1, 6, size(log.slice(0, 2)))).toEqual(log.slice(0, 2));
        expect(s.entries(1, 6, size(log.slice(0, 3)) - 1)).toEqual(log.slice(0, 2));
        expect(s.entries(1, 6, size(log))).toEqual(log);
        expect(s.entries(3, 5, Infinity)).toEqual(log.slice(2, 4));
      },
      timeout,
    );

    it(
      'throws ErrCompacted below firstIndex and ErrUnavailable past lastIndex',
      async () => {
        await s.save({ entries: ents(1, [1, 1, 1]) });
        expect(errorOf(() => s.entries(0, 2, Infinity))).toBe('ErrCompacted');
        expect(errorOf(() => s.term(4))).toBe('ErrUnavailable');
        expect(errorOf(() => s.entries(2, 5, Infinity))).toBe('ErrUnavailable');
      },
      timeout,
    );

    it(
      'replaces the stored suffix from the first entry of a save',
      async () => {
        await s.save({ entries: ents(1, [1, 1, 1, 1, 1]), hardState: hs(1, 1, 2) });
        // A new leader overwrites the uncommitted tail 3..5 with a shorter one.
        await s.save({ entries: ents(3, [2, 2]), hardState: hs(2, 2, 2) });
        expectLog(1, [...ents(1, [1, 1]), ...ents(3, [2, 2])]);
        expect(errorOf(() => s.term(5))).toBe('ErrUnavailable');
        // Then appends contiguously.
        await s.save({ entries: ents(5, [2, 2]) });
        expectLog(1, [...ents(1, [1, 1]), ...ents(3, [2, 2, 2, 2])]);
        // And overwrites a single entry in the middle, dropping what followed.
        await s.save({ entries: ents(4, [3]) });
        expectLog(1, [...ents(1, [1, 1]), ...ents(3, [2]), ...ents(4, [3])]);
      },
      timeout,
    );

    it(
      'keeps the hard state when a batch carries none',
      async () => {
        await s.save({ entries: [], hardState: hs(1, 3, 0) });
        expect(s.initialState().hardState).toEqual(hs(1, 3, 0));
        expect(s.lastIndex()).toBe(0);
        await s.save({ entries: ents(1, [1, 1]) });
        expect(s.initialState().hardState).toEqual(hs(1, 3, 0));
        await s.save({ entries: [], hardState: hs(2, 0, 2) });
        expect(s.initialState().hardState).toEqual(hs(2, 0, 2));
        expectLog(1, ents(1, [1, 1]));
      },
      timeout,
    );

    it(
      'keeps its own copies: changing what was saved or read back changes nothing',
      async () => {
        const batch = ents(1, [1, 1, 1]);
        const state = hs(1, 1, 1);
        await s.save({ entries: batch, hardState: state });
        batch.pop();
        batch.push(newEntry({ index: 3, term: 9 }));
        state.commit = 3;
        const read = s.entries(1, 4, Infinity);
        read.pop();
        s.initialState().hardState.term = 7;
        s.initialState().confState.voters.push(1);
        expectLog(1, ents(1, [1, 1, 1]));
        expect(s.initialState()).toEqual({ hardState: hs(1, 1, 1), confState: newConfState() });
      },
      timeout,
    );

    it(
      'installs a snapshot from the leader in place of the log it covers',
      async () => {
        await s.save({ entries: ents(1, [1, 1, 1, 1, 1]), hardState: hs(1, 1, 5) });
        const cs = newConfState({ voters: [1, 2, 3], learners: [4] });
        const leaderSnap = snap(10, 3, cs, allBytes);
        await s.save({ entries: [], snapshot: leaderSnap, hardState: hs(3, 0, 10) });
        expect(s.firstIndex()).toBe(11);
        expect(s.lastIndex()).toBe(10);
        expect(s.term(10)).toBe(3);
        expect(errorOf(() => s.term(9))).toBe('ErrCompacted');
        expect(errorOf(() => s.entries(5, 6, Infinity))).toBe('ErrCompacted');
        expect(s.snapshot()).toEqual(leaderSnap);
        expect(s.initialState()).toEqual({ hardState: hs(3, 0, 10), confState: cs });
        // The log goes on after the snapshot.
        await s.save({ entries: ents(11, [3, 3]) });
        expectLog(11, ents(11, [3, 3]));
      },
      timeout,
    );

    it(
      'a snapshot from the leader replaces the whole log, entries past it too (as etcd-raft)',
      async () => {
        await s.save({ entries: ents(1, [1, 1, 1, 1, 1, 1, 1, 1]) });
        const cs = newConfState({ voters: [1, 2, 3] });
        await s.save({ entries: [], snapshot: snap(6, 2, cs, bytes('state at 6')) });
        expectLog(7, []);
        expect(s.term(6)).toBe(2);
        expect(errorOf(() => s.term(7))).toBe('ErrUnavailable');
      },
      timeout,
    );

    it(
      'installs a snapshot and the entries after it from one batch',
      async () => {
        await s.save({ entries: ents(1, [1, 1]) });
        const cs = newConfState({ voters: [1, 2, 3] });
        const leaderSnap = snap(20, 4, cs, bytes('state at 20'));
        await s.save({ snapshot: leaderSnap, entries: ents(21, [4, 5]), hardState: hs(5, 2, 21) });
        expectLog(21, ents(21, [4, 5]));
        expect(s.term(20)).toBe(4);
        expect(s.snapshot()).toEqual(leaderSnap);
        expect(s.initialState()).toEqual({ hardState: hs(5, 2, 21), confState: cs });
      },
      timeout,
    );

    it(
      'createSnapshot records the state machine at an index and keeps the log after it',
      async () => {
        const log = ents(1, [1, 1, 1, 2, 2, 2, 3, 3, 3, 3]);
        await s.save({ entries: log, hardState: hs(3, 1, 10) });
        const cs = newConfState({ voters: [1, 2], learners: [3] });
        const made = await s.createSnapshot(6, cs, allBytes);
        expect(made).toEqual(snap(6, 2, cs, allBytes));
        expect(s.snapshot()).toEqual(made);
        expect(s.initialState()).toEqual({ hardState: hs(3, 1, 10), confState: cs });
        // Older entries may be discarded now; entry 6 and those after it stay.
        expect(s.firstIndex()).toBeGreaterThanOrEqual(1);
        expect(s.firstIndex()).toBeLessThanOrEqual(7);
        expect(s.term(6)).toBe(2);
        expect(s.entries(s.firstIndex(), 11, Infinity)).toEqual(log.slice(s.firstIndex() - 1));
        expect(s.lastIndex()).toBe(10);
      },
      timeout,
    );

    it(
      'createSnapshot refuses an index not past the held snapshot (ErrSnapOutOfDate)',
      async () => {
        await s.save({ entries: ents(1, [1, 1, 1, 1, 1, 1, 1, 1]) });
        const cs = newConfState({ voters: [1] });
        await s.createSnapshot(6, cs, bytes('at 6'));
        expect(await rejectionOf(s.createSnapshot(6, cs, bytes('again at 6')))).toBe('ErrSnapOutOfDate');
        expect(await rejectionOf(s.createSnapshot(4, cs, bytes('at 4')))).toBe('ErrSnapOutOfDate');
        expect(s.snapshot().data).toEqual(bytes('at 6'));
        await s.createSnapshot(8, cs, bytes('at 8'));
        expect(s.snapshot().metadata.index).toBe(8);
      },
      timeout,
    );

    it(
      'compact discards the log before an index; reads and compactions below it throw ErrCompacted',
      async () => {
        const log = ents(1, [1, 1, 1, 2, 2, 2, 3, 3, 3, 3]);
        await s.save({ entries: log, hardState: hs(3, 1, 10) });
        await s.createSnapshot(6, newConfState({ voters: [1] }), bytes('at 6'));
        // createSnapshot may have compacted already, in which case compact(6) has nothing to do.
        if (s.firstIndex() <= 6) await s.compact(6);
        else expect(await rejectionOf(s.compact(6))).toBe('ErrCompacted');
        expectLog(7, log.slice(6));
        expect(s.term(6)).toBe(2);
        expect(errorOf(() => s.term(5))).toBe('ErrCompacted');
        expect(errorOf(() => s.entries(6, 8, Infinity))).toBe('ErrCompacted');
        expect(errorOf(() => s.entries(2, 8, Infinity))).toBe('ErrCompacted');
        expect(await rejectionOf(s.compact(6))).toBe('ErrCompacted');
        expect(await rejectionOf(s.compact(3))).toBe('ErrCompacted');
        // The log goes on after a compaction.
        await s.save({ entries: ents(11, [3, 4]) });
        expectLog(7, [...log.slice(6), ...ents(11, [3, 4])]);
      },
      timeout,
    );

    it(
      'initialState().confState follows the latest snapshot, made here or sent by the leader',
      async () => {
        await s.save({ entries: ents(1, [1, 1, 1, 1]) });
        const cs1 = newConfState({ voters: [1, 2, 3] });
        await s.createSnapshot(2, cs1, bytes('at 2'));
        expect(s.initialState().confState).toEqual(cs1);
        const cs2 = newConfState({ voters: [1, 2, 3], votersOutgoing: [1, 2], learnersNext: [4], autoLeave: true });
        await s.save({ entries: [], snapshot: snap(9, 2, cs2, bytes('at 9')) });
        expect(s.initialState().confState).toEqual(cs2);
        await s.save({ entries: ents(10, [2, 2]) });
        const cs3 = newConfState({ voters: [2, 3] });
        await s.createSnapshot(11, cs3, bytes('at 11'));
        expect(s.initialState().confState).toEqual(cs3);
      },
      timeout,
    );

    it(
      'applies saves made without waiting in the order they were called',
      async () => {
        await Promise.all([
          s.save({ entries: ents(1, [1, 1, 1]), hardState: hs(1, 1, 0) }),
          s.save({ entries: ents(2, [2, 2, 2]), hardState: hs(2, 2, 1) }),
          s.save({ entries: ents(5, [2, 2]), hardState: hs(2, 2, 3) }),
          s.save({ entries: ents(4, [3]), hardState: hs(3, 3, 4) }),
        ]);
        expectLog(1, [...ents(1, [1]), ...ents(2, [2, 2]), ...ents(4, [3])]);
        expect(s.initialState().hardState).toEqual(hs(3, 3, 4));
      },
      timeout,
    );

    describe('snapshots as chunks', () => {
      const cs = newConfState({ voters: [1, 2, 3], learners: [4] });
      /** Several times the chunk size, in hundreds of small chunks of varied sizes. */
      const large = chunkedData(400, Math.floor((3 * SNAPSHOT_CHUNK_BYTES) / 200), 1);

      it(
        'createSnapshot takes the data as chunks; readSnapshotChunks gives it back in bounded chunks',
        async () => {
          await s.save({ entries: ents(1, [1, 1, 2, 2, 2]), hardState: hs(2, 1, 5) });
          const chunks = producer(large.whole, large.sizes);
          const made = await s.createSnapshot(4, cs, chunks);
          expect(chunks.yielded, 'every chunk was taken').toBe(large.sizes.length);
          expect(made).toEqual({ index: 4, term: 2, confState: cs });
          expect(s.initialState()).toEqual({ hardState: hs(2, 1, 5), confState: cs });
          expect(s.term(4)).toBe(2);
          expect(s.lastIndex()).toBe(5);
          const back = await readBack(s);
          expect(back.metadata).toEqual(made);
          expect(back.data.length).toBe(large.whole.length);
          expectBytes(back.data, large.whole);
          expect(Math.max(...back.chunkSizes), 'chunks are bounded').toBeLessThanOrEqual(SNAPSHOT_CHUNK_BYTES);
          expect(back.chunkSizes.every((n) => n > 0)).toBe(true);
          // raft's snapshot() hands it out whole, for MsgSnap.
          const forRaft = await raftSnapshot(s, timeout / 2);
          expect(forRaft.metadata).toEqual(made);
          expectBytes(forRaft.data, large.whole);
        },
        timeout,
      );

      it(
        'an empty snapshot, as no chunks or as empty ones',
        async () => {
          await s.save({ entries: ents(1, [1, 1, 1]) });
          expect(await s.createSnapshot(1, cs, noChunks())).toEqual({ index: 1, term: 1, confState: cs });
          let back = await readBack(s);
          expect(back.metadata.index).toBe(1);
          expect(back.data).toHaveLength(0);
          await s.createSnapshot(2, cs, emptyChunks());
          back = await readBack(s);
          expect(back.metadata.index).toBe(2);
          expect(back.chunkSizes).toEqual([]);
          expect((await raftSnapshot(s, timeout / 2)).data).toHaveLength(0);
        },
        timeout,
      );

      it(
        'readSnapshotChunks: no snapshot yet, one made whole, one from the leader',
        async () => {
          let back = await readBack(s);
          expect(back.metadata).toEqual({ index: 0, term: 0, confState: newConfState() });
          expect(back.data).toHaveLength(0);
          await s.save({ entries: ents(1, [1, 1, 1]) });
          await s.createSnapshot(2, cs, allBytes);
          back = await readBack(s);
          expect(back.metadata).toEqual({ index: 2, term: 1, confState: cs });
          expectBytes(back.data, allBytes);
          await s.save({ entries: [], snapshot: snap(9, 3, cs, large.whole), hardState: hs(3, 0, 9) });
          back = await readBack(s);
          expect(back.metadata).toEqual({ index: 9, term: 3, confState: cs });
          expectBytes(back.data, large.whole);
          expect(Math.max(...back.chunkSizes)).toBeLessThanOrEqual(SNAPSHOT_CHUNK_BYTES);
        },
        timeout,
      );

      it(
        'a chunk stream that fails: createSnapshot rejects with its error, records nothing, and the store goes on',
        async () => {
          await s.save({ entries: ents(1, [1, 1, 1, 1]), hardState: hs(1, 1, 4) });
          await s.createSnapshot(1, cs, bytes('at 1'));
          const failing = producer(large.whole, large.sizes, 50);
          await expect(s.createSnapshot(3, newConfState({ voters: [9] }), failing)).rejects.toThrow('state machine failed mid-snapshot');
          expect(failing.yielded).toBe(50);
          expect((await readBack(s)).metadata.index).toBe(1);
          expect(s.initialState().confState).toEqual(cs);
          // The same index may be snapshotted again, and writes go on.
          await s.save({ entries: ents(5, [1]), hardState: hs(1, 1, 5) });
          const small = chunkedData(20, 100, 2);
          expect((await s.createSnapshot(3, cs, producer(small.whole, small.sizes))).index).toBe(3);
          expect((await readBack(s)).data).toEqual(small.whole);
          expectLog(s.firstIndex(), ents(1, [1, 1, 1, 1, 1]).slice(s.firstIndex() - 1));
        },
        timeout,
      );

      it(
        'createSnapshot with chunks refuses an index not past the held snapshot, without taking a chunk',
        async () => {
          await s.save({ entries: ents(1, [1, 1, 1]) });
          await s.createSnapshot(2, cs, noChunks());
          const chunks = producer(large.whole, large.sizes);
          expect(await rejectionOf(s.createSnapshot(2, cs, chunks))).toBe('ErrSnapOutOfDate');
          expect(chunks.yielded).toBe(0);
        },
        timeout,
      );
    });

    it(
      'close() is idempotent',
      async () => {
        await s.save({ entries: ents(1, [1]) });
        await s.close();
        await s.close();
        await Promise.all([s.close(), s.close()]);
      },
      timeout,
    );

    if (!persistent) {
      it(
        'declares that it keeps nothing across a restart (durable: false)',
        () => {
          expect(s.capabilities.durable).toBe(false);
        },
        timeout,
      );
      return;
    }

    describe(durable ? 'durability: every acknowledged save survives close and reopen' : 'persistence across close and reopen', () => {
      it(
        'an empty store reopens empty',
        async () => {
          await reopen();
          expectLog(1, []);
          expect(s.term(0)).toBe(0);
          expect(s.initialState()).toEqual({ hardState: newHardState(), confState: newConfState() });
          expect(s.snapshot().metadata.index).toBe(0);
        },
        timeout,
      );

      it(
        'entries and hard state survive',
        async () => {
          const log = [...ents(1, [1, 1, 2]), newEntry({ index: 4, term: 2, data: allBytes })];
          await s.save({ entries: log.slice(0, 2), hardState: hs(1, 1, 1) });
          await s.save({ entries: log.slice(2), hardState: hs(2, 3, 3) });
          await reopen();
          expectLog(1, log);
          expect(s.initialState()).toEqual({ hardState: hs(2, 3, 3), confState: newConfState() });
          // The reopened store goes on from there, and that survives too.
          await s.save({ entries: ents(5, [2]), hardState: hs(2, 3, 4) });
          await reopen();
          expectLog(1, [...log, ...ents(5, [2])]);
          expect(s.initialState().hardState).toEqual(hs(2, 3, 4));
        },
        timeout,
      );

      it(
        'saves that only move the commit index keep their order and survive a clean close',
        async () => {
          // A store may leave these unsynced until a later fsync (etcd's
          // MustSync), never reorder them: the last one wins, and close covers it.
          await s.save({ entries: ents(1, [1, 1, 1]), hardState: hs(1, 1, 0) });
          const pending = [1, 2, 3].map((commit) => s.save({ entries: [], hardState: hs(1, 1, commit) }));
          await Promise.all(pending);
          expect(s.initialState().hardState).toEqual(hs(1, 1, 3));
          await reopen();
          expectLog(1, ents(1, [1, 1, 1]));
          expect(s.initialState().hardState).toEqual(hs(1, 1, 3));
          // A save that must sync after one that need not: both survive, in order.
          await s.save({ entries: ents(4, [1]) });
          await s.save({ entries: [], hardState: hs(1, 1, 4) });
          await s.save({ entries: ents(5, [2]), hardState: hs(2, 0, 4) });
          await reopen();
          expectLog(1, [...ents(1, [1, 1, 1, 1]), ...ents(5, [2])]);
          expect(s.initialState().hardState).toEqual(hs(2, 0, 4));
        },
        timeout,
      );

      it(
        'a replaced suffix stays replaced',
        async () => {
          await s.save({ entries: ents(1, [1, 1, 1, 1, 1]) });
          await s.save({ entries: ents(3, [2]), hardState: hs(2, 2, 2) });
          await reopen();
          expectLog(1, [...ents(1, [1, 1]), ...ents(3, [2])]);
          expect(errorOf(() => s.term(4))).toBe('ErrUnavailable');
        },
        timeout,
      );

      it(
        'a snapshot from the leader survives, with the entries after it',
        async () => {
          await s.save({ entries: ents(1, [1, 1, 1]) });
          const cs = newConfState({ voters: [1, 2, 3], learners: [5] });
          const leaderSnap = snap(30, 4, cs, allBytes);
          await s.save({ snapshot: leaderSnap, entries: ents(31, [4, 4]), hardState: hs(4, 0, 31) });
          await reopen();
          expectLog(31, ents(31, [4, 4]));
          expect(s.term(30)).toBe(4);
          expect(errorOf(() => s.term(29))).toBe('ErrCompacted');
          expect(s.snapshot()).toEqual(leaderSnap);
          expect(s.initialState()).toEqual({ hardState: hs(4, 0, 31), confState: cs });
        },
        timeout,
      );

      it(
        'a created snapshot and the compaction point survive',
        async () => {
          const log = ents(1, [1, 1, 1, 2, 2, 2, 3, 3]);
          await s.save({ entries: log, hardState: hs(3, 1, 8) });
          const cs = newConfState({ voters: [1, 2, 3] });
          const made = await s.createSnapshot(5, cs, bytes('kv state at 5'));
          if (s.firstIndex() <= 4) await s.compact(4);
          await reopen();
          expect(s.snapshot()).toEqual(made);
          expect(s.initialState()).toEqual({ hardState: hs(3, 1, 8), confState: cs });
          // At least the compaction point holds; a store may have compacted up to the snapshot.
          expect([5, 6]).toContain(s.firstIndex());
          expect(s.lastIndex()).toBe(8);
          expect(s.term(s.firstIndex() - 1)).toBe(log[s.firstIndex() - 2]!.term);
          expect(s.entries(s.firstIndex(), 9, Infinity)).toEqual(log.slice(s.firstIndex() - 1));
          expect(errorOf(() => s.term(s.firstIndex() - 2))).toBe('ErrCompacted');
          expect(await rejectionOf(s.createSnapshot(5, cs, bytes('again')))).toBe('ErrSnapOutOfDate');
        },
        timeout,
      );

      it(
        'a snapshot made from chunks survives, and reads back in bounded chunks',
        async () => {
          await s.save({ entries: ents(1, [1, 1, 2, 2]), hardState: hs(2, 1, 4) });
          const cs = newConfState({ voters: [1, 2, 3] });
          const data = chunkedData(300, Math.floor((3 * SNAPSHOT_CHUNK_BYTES) / 150), 3);
          const made = await s.createSnapshot(3, cs, producer(data.whole, data.sizes));
          await reopen();
          expect(s.initialState()).toEqual({ hardState: hs(2, 1, 4), confState: cs });
          const back = await readBack(s);
          expect(back.metadata).toEqual(made);
          expectBytes(back.data, data.whole);
          expect(Math.max(...back.chunkSizes)).toBeLessThanOrEqual(SNAPSHOT_CHUNK_BYTES);
          const forRaft = await raftSnapshot(s, timeout / 2);
          expect(forRaft.metadata).toEqual(made);
          expectBytes(forRaft.data, data.whole);
          // An empty one survives too.
          await s.createSnapshot(4, cs, noChunks());
          await reopen();
          const empty = await readBack(s);
          expect(empty.metadata.index).toBe(4);
          expect(empty.data).toHaveLength(0);
        },
        timeout,
      );

      it(
        'saves made without waiting survive in call order',
        async () => {
          await Promise.all([
            s.save({ entries: ents(1, [1, 1, 1, 1]), hardState: hs(1, 1, 0) }),
            s.save({ entries: ents(3, [2, 2]), hardState: hs(2, 2, 2) }),
            s.save({ entries: ents(2, [3]), hardState: hs(3, 3, 1) }),
          ]);
          await reopen();
          expectLog(1, [...ents(1, [1]), ...ents(2, [3])]);
          expect(s.initialState().hardState).toEqual(hs(3, 3, 1));
        },
        timeout,
      );
    });
  });
}

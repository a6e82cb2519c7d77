// Machine crashes at every file-system boundary of a scripted workload (see
// @raftbus/testkit's crash-fs): each write, fsync, create, rename, link, unlink and
// mkdir, in the first open, in saves, snapshots, compaction, segment
// rollover, a reopen and close. After each crash a fresh FileStorage opens
// what the disk holds (only what was fsynced, or that plus a seeded torn
// part of what was not) and must come back, without error, to a state the
// store really passed through that holds every acknowledged write (a save
// that only moved the commit index is not fsynced, as in etcd's WAL: it may
// be lost until a later fsync covers it, but never out of order); where
// recovery repaired something, it must then take a save and reopen cleanly.
// Recoveries are crashed in turn, at every boundary of their own. And the
// tests are checked to notice a missing fsync (a disk that ignores some).
//
// RAFTBUS_CRASH_LONG=1 tries more torn images per boundary, crashes every
// recovery, and checks every recovered store with a save and a reopen.
import {
  MemoryStorage,
  discardLogger,
  getLogger,
  newConfState,
  newEntry,
  setLogger,
  type Entry,
  type Snapshot,
} from '@raftbus/core';
import { cp, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep, storageView as view } from '@raftbus/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileStorage } from '../src/index.js';
import { hs, recordingLogger, reopened } from './helpers.js';
import { CrashError, CrashFs, removeScratchDirs, scratchDir, skipDirectoryLock, type CrashFsOptions, type Survival } from '@raftbus/testkit/crash-fs';

const saved = getLogger();
beforeAll(() => setLogger(discardLogger));
afterAll(() => setLogger(saved));
afterEach(removeScratchDirs);

const LONG = process.env.RAFTBUS_CRASH_LONG === '1';
const TORN_SEEDS = LONG ? 24 : 2;
const TIMEOUT = LONG ? 1_800_000 : 120_000;
const SEGMENT_BYTES = 700;
const cs = newConfState({ voters: [1, 2, 3] });
const text = new TextEncoder();

function entry(index: number, term: number): Entry {
  // ~100 bytes, so that a few saves fill a segment.
  return newEntry({ index, term, data: text.encode(`entry ${index} of term ${term} `.padEnd(100, '.')) });
}
const run = (from: number, to: number, term: number) => Array.from({ length: to - from + 1 }, (_, k) => entry(from + k, term));
const leaderSnapshot = (index: number, term: number): Snapshot => ({
  data: text.encode(`leader state at ${index} `.repeat(40)),
  metadata: { index, term, confState: cs },
});

/** One call on the store, and what it does to a MemoryStorage that stands for it. */
interface Op {
  name: string;
  run(s: FileStorage): Promise<unknown>;
  model(m: MemoryStorage): void;
  /**
   * False: acknowledging it fsyncs nothing that came before (a save that
   * only moves the commit index, which a later fsync covers; a compaction,
   * which changes no state a reopen shows). Default true.
   */
  fsyncs?: boolean;
  /** It touches no file: a save of a commit index alone is held until a save that fsyncs. */
  held?: boolean;
}

const save = (name: string, b: { entries?: Entry[]; hardState?: ReturnType<typeof hs>; snapshot?: Snapshot }): Op => ({
  name,
  run: (s) => s.save({ entries: b.entries ?? [], ...(b.hardState && { hardState: b.hardState }), ...(b.snapshot && { snapshot: b.snapshot }) }),
  model: (m) => {
    if (b.snapshot) m.applySnapshot(b.snapshot);
    if (b.entries?.length) m.append(b.entries);
    if (b.hardState) m.setHardState(b.hardState);
  },
});
/** A save of a new commit index alone (term and vote as last saved). */
const commitTo = (term: number, vote: number, commit: number): Op => ({
  ...save(`commit ${commit}`, { hardState: hs(term, vote, commit) }),
  fsyncs: false,
  held: true,
});
const snapshotAt = (index: number): Op => {
  const data = text.encode(`state machine at ${index} `.repeat(30));
  return { name: `createSnapshot(${index})`, run: (s) => s.createSnapshot(index, cs, data), model: (m) => void m.createSnapshot(index, cs, data) };
};
const compact = (index: number): Op => ({ name: `compact(${index})`, run: (s) => s.compact(index), model: (m) => m.compact(index), fsyncs: false });
const REOPEN = 'reopen';

/** Steps run one after another; the ops of one step are issued together, without waiting. */
const WORKLOAD: (Op[] | typeof REOPEN)[] = [
  [save('1..3', { entries: run(1, 3, 1), hardState: hs(1, 1, 1) })],
  [commitTo(1, 1, 2)],
  [save('4..5', { entries: run(4, 5, 1), hardState: hs(1, 1, 3) })],
  [commitTo(1, 1, 3)],
  // Saves in flight at once: they may share a batch (group commit), one of
  // them with nothing to fsync.
  [save('6', { entries: run(6, 6, 1) }), commitTo(1, 1, 4), save('7', { entries: run(7, 7, 1), hardState: hs(1, 1, 5) })],
  // A new leader overwrites the uncommitted suffix 6..7.
  [save('6..8 term 2', { entries: run(6, 8, 2), hardState: hs(2, 2, 8) })],
  [commitTo(2, 2, 8)],
  [snapshotAt(7)],
  [save('9..11', { entries: run(9, 11, 2), hardState: hs(2, 2, 9) })],
  // Held; the next save writes it, rolling the segment over first.
  [commitTo(2, 2, 10)],
  [save('12', { entries: run(12, 12, 2) })],
  // Two commit-only saves in a row, then a compaction and a close.
  [commitTo(2, 2, 11)],
  [commitTo(2, 2, 12)],
  // Deletes the first segment (entries 1..5).
  [compact(7)],
  REOPEN,
  // A snapshot from the leader, ahead of the log, and what follows it.
  [save('install 20', { snapshot: leaderSnapshot(20, 3), entries: run(21, 22, 3), hardState: hs(3, 0, 20) })],
  [save('23..25', { entries: run(23, 25, 3), hardState: hs(3, 0, 22) })],
  // Covered by the snapshot record's fsync.
  [commitTo(3, 0, 25)],
  [snapshotAt(22)],
  [compact(22)],
  [save('26', { entries: run(26, 26, 3), hardState: hs(3, 0, 25) })],
  [save('26..28 term 4', { entries: run(26, 28, 4), hardState: hs(4, 1, 26) })],
  // Covered by close's fsync.
  [commitTo(4, 1, 28)],
];
const OPS = WORKLOAD.flatMap((s) => (s === REOPEN ? [] : s));

/** The model as a reopen would leave it. */
const restartedModel = (m: MemoryStorage): unknown => view(reopened(m));

/** views[j]: the state after the first j ops. */
const VIEWS: unknown[] = (() => {
  const m = new MemoryStorage();
  const out = [restartedModel(m)];
  for (const op of OPS) {
    op.model(m);
    out.push(restartedModel(m));
  }
  return out;
})();

interface Outcome {
  crash: CrashError | undefined;
  /** Ops issued (numbered from 1 in OPS order). */
  issued: number;
  /** The highest-numbered op whose promise resolved. */
  acked: number;
  /**
   * The highest-numbered op that must be durable: acknowledged and
   * `fsyncs`, or acknowledged before a close that completed. A crash may
   * lose the commit-only saves acknowledged after it.
   */
  durable: number;
  /** Ops issued when the crash struck (a compaction logs a failed deletion and resolves). */
  struckAfter: number | undefined;
  boundaries: number;
}

/** Runs the workload in `root/data` over a file system that crashes at `crashAt`. */
async function runWorkload(cfs: CrashFs, root: string): Promise<Outcome> {
  const out: Outcome = { crash: undefined, issued: 0, acked: 0, durable: 0, struckAfter: undefined, boundaries: 0 };
  const options = { dir: join(root, 'data'), fs: cfs.fs, segmentBytes: SEGMENT_BYTES, logger: discardLogger };
  let s = new FileStorage(options);
  const opened: FileStorage[] = [s];
  try {
    await s.open();
    for (const step of WORKLOAD) {
      if (step === REOPEN) {
        await s.close();
        out.durable = out.acked;
        s = new FileStorage(options);
        opened.push(s);
        await s.open();
        continue;
      }
      const results = await Promise.allSettled(
        step.map((op) => {
          const n = ++out.issued;
          return op.run(s).then(() => {
            out.acked = Math.max(out.acked, n);
            if (op.fsyncs !== false) out.durable = Math.max(out.durable, n);
          });
        }),
      );
      if (cfs.crash) out.struckAfter ??= out.issued;
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
    await s.close();
    out.durable = out.acked;
  } catch (e) {
    if (cfs.crash === undefined) throw e; // not the crash: a real failure
    out.struckAfter ??= out.issued;
    for (const st of opened) await st.close().catch(() => {});
  }
  out.crash = cfs.crash;
  out.boundaries = cfs.boundaries;
  return out;
}

interface ImageResult {
  /** open() cut an unfinished batch off the end of the WAL. */
  tornTail: boolean;
  /** The state recovered includes an op that was not acknowledged (its write landed before the crash). */
  ahead: boolean;
}

/** Opens an image, checks it against the workload's states, then writes to it and reopens it. */
async function checkImage(image: string, o: Outcome, label: string): Promise<ImageResult> {
  const dir = join(image, 'data');
  const log = recordingLogger();
  const cfs = await CrashFs.over(image);
  const s = new FileStorage({ dir, fs: cfs.fs, segmentBytes: SEGMENT_BYTES, logger: log });
  try {
    await s.open();
  } catch (e) {
    throw new Error(`${label}: open refused a crash image: ${(e as Error).message}\n${log.lines.join('\n')}`);
  }
  try {
    const got = view(s);
    const allowed = VIEWS.slice(o.durable, o.issued + 1);
    const match = allowed.findIndex((v) => JSON.stringify(v) === JSON.stringify(got));
    const result = { tornTail: s.recovery!.tornTail !== undefined, ahead: o.durable + match > o.acked };
    if (match < 0) {
      // Let vitest print the difference from the state the crash most likely left.
      expect(got, `${label}: not a state the store passed through (acked ${o.acked}, issued ${o.issued})`).toEqual(VIEWS[o.acked]);
    }
    // A store that recovery repaired (cut a torn tail, removed an unfinished
    // file) is a working store: a save lands and survives a reopen.
    const repaired = result.tornTail || s.recovery!.removed.length > 0;
    if (!repaired && !LONG) return result;
    const last = s.lastIndex();
    const term = Math.max(s.initialState().hardState.term, s.term(last));
    const next = newEntry({ index: last + 1, term, data: text.encode(`after ${label}`) });
    await s.save({ entries: [next], hardState: hs(term, 0, s.initialState().hardState.commit) });
    const afterSave = view(s);
    await s.close();
    const again = new FileStorage({ dir, fs: cfs.fs, segmentBytes: SEGMENT_BYTES, logger: log });
    await again.open();
    try {
      expect(view(again), `${label}: reopen after the post-crash save`).toEqual(afterSave);
      expect(again.recovery!.tornTail, `${label}: a clean close left a torn tail`).toBeUndefined();
    } finally {
      await again.close();
    }
    return result;
  } finally {
    await s.close();
  }
}

/**
 * Crashes the workload at boundary 1, 2, … until it completes; checks every
 * survival of each crash. Returns the number of boundaries and what was seen.
 */
async function crashEverywhere(options: Omit<CrashFsOptions, 'crashAt'> = {}) {
  const seen = { boundaries: 0, images: 0, tornTails: 0, ahead: 0, struck: new Set<number>() };
  for (let k = 1; ; k++) {
    const root = await scratchDir();
    const cfs = await CrashFs.over(root, { ...options, crashAt: k });
    const o = await runWorkload(cfs, root);
    await cfs.release();
    if (o.crash === undefined) {
      seen.boundaries = k - 1;
      return seen;
    }
    for (const survival of survivals(k)) {
      const image = await scratchDir();
      await cfs.image(image, survival, skipDirectoryLock);
      await mkdir(join(image, 'data'), { recursive: true }); // a crash in the very first mkdir
      const label = `crash at boundary ${k} (${o.crash.message}), ${survival.kind === 'torn' ? `torn seed ${survival.seed}` : 'durable only'}`;
      const r = await checkImage(image, o, label);
      seen.images++;
      if (r.tornTail) seen.tornTails++;
      if (r.ahead) seen.ahead++;
      await rm(image, { recursive: true });
    }
    seen.struck.add(o.struckAfter!);
    await rm(root, { recursive: true });
  }
}

/** The survivals tried at each crash: only what was fsynced, and seeded torn variants. */
function survivals(k: number): Survival[] {
  return [{ kind: 'durable' }, ...Array.from({ length: TORN_SEEDS }, (_, i) => ({ kind: 'torn' as const, seed: k * 1009 + i }))];
}

describe('a crash at every file-system boundary', () => {
  it('the workload reaches every state it is meant to (no crash)', async () => {
    const root = await scratchDir();
    const cfs = await CrashFs.over(root);
    const o = await runWorkload(cfs, root);
    expect(o.crash).toBeUndefined();
    expect(o.acked).toBe(OPS.length);
    // Everything is durable but the lock (removed at close: a crash leaves it stale, which is fine).
    expect(cfs.volatilePaths()).toEqual(['data']);
    // The workload rolls segments over and deletes some.
    const s = new FileStorage({ dir: join(root, 'data'), logger: discardLogger });
    await s.open();
    expect(view(s)).toEqual(VIEWS[OPS.length]);
    expect(s.recovery!.segments).toBeGreaterThan(1);
    await s.close();
    expect(o.boundaries).toBeGreaterThan(50);
  });

  it('recovers, from what survives, a state the store passed through holding every acknowledged write', async () => {
    const seen = await crashEverywhere();
    expect(seen.boundaries).toBeGreaterThan(50);
    expect(seen.images).toBe(seen.boundaries * (1 + TORN_SEEDS));
    // Crashes struck in the first open, in every step of the workload that
    // touches a file (a held commit index alone touches none), and in the
    // close, which writes the last one.
    const stepEnds = [0];
    let ops = 0;
    for (const step of WORKLOAD) {
      if (step === REOPEN) continue;
      ops += step.length;
      if (!step.every((op) => op.held)) stepEnds.push(ops);
    }
    if (stepEnds.at(-1) !== ops) stepEnds.push(ops);
    expect([...seen.struck].sort((a, b) => a - b).join(" ")).toEqual(stepEnds.join(" "));
    // The torn images did tear batches, and did let unacknowledged writes land.
    expect(seen.tornTails).toBeGreaterThan(10);
    expect(seen.ahead).toBeGreaterThan(10);
  }, TIMEOUT);
});

// FileStorage writes a batch through a handle opened O_DSYNC if the write
// would go to the thread pool anyway (a large one): one call instead of a
// write and a datasync. Here every write goes there, so the whole workload runs so.
const DURABLE_WRITES = { durableWrites: true, noWriteSync: true } satisfies CrashFsOptions;

describe('a crash at every file-system boundary, WAL batches made durable by their write (O_DSYNC)', () => {
  it('the workload makes its fsynced saves with durable writes, and reaches every state it is meant to (no crash)', async () => {
    const root = await scratchDir();
    const cfs = await CrashFs.over(root, DURABLE_WRITES);
    const o = await runWorkload(cfs, root);
    expect(o.crash).toBeUndefined();
    expect(o.acked).toBe(OPS.length);
    // The WAL batches of saves (a held commit index goes into the next one's); segment heads and snapshot files fsync as before.
    expect(cfs.durableWritten).toBeGreaterThan(5);
    expect(cfs.volatilePaths()).toEqual(['data']);
    const s = new FileStorage({ dir: join(root, 'data'), logger: discardLogger });
    await s.open();
    expect(view(s)).toEqual(VIEWS[OPS.length]);
    await s.close();
  });

  it('recovers, from what survives, a state the store passed through holding every acknowledged write', async () => {
    const seen = await crashEverywhere(DURABLE_WRITES);
    expect(seen.boundaries).toBeGreaterThan(50);
    expect(seen.tornTails).toBeGreaterThan(10);
    expect(seen.ahead).toBeGreaterThan(10);
  }, TIMEOUT);

  it('notices a disk that does not honour them', async () => {
    const error = await crashEverywhere({ ...DURABLE_WRITES, ignoreSync: (path, kind) => kind === 'file' && path.endsWith('.wal') }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/not a state the store passed through/);
  }, TIMEOUT);
});

describe('a crash during recovery', () => {
  /** What an uninterrupted open of `image` recovers. */
  async function recovered(image: string): Promise<{ view: unknown; tornTail: boolean }> {
    const cfs = await CrashFs.over(image);
    const s = new FileStorage({ dir: join(image, 'data'), fs: cfs.fs, segmentBytes: SEGMENT_BYTES, logger: discardLogger });
    await s.open();
    const out = { view: view(s), tornTail: s.recovery!.tornTail !== undefined };
    await s.close();
    return out;
  }

  it('at every boundary of the open that recovers a crash image: the next open recovers the same state', async () => {
    let crashes = 0;
    let tornFirst = 0;
    // First crashes: at every boundary of the workload, a torn survival. The
    // recoveries of those that left a torn tail (of all of them in the long
    // mode) are crashed in turn.
    for (let k = 1; ; k++) {
      const root = await scratchDir();
      const first = await CrashFs.over(root, { crashAt: k });
      const o = await runWorkload(first, root);
      await first.release();
      if (o.crash === undefined) break;
      const image = await scratchDir();
      await first.image(image, { kind: 'torn', seed: k }, skipDirectoryLock);
      await mkdir(join(image, 'data'), { recursive: true });
      const want = await recovered(await copyOf(image));
      if (!want.tornTail && !LONG) continue;
      if (want.tornTail) tornFirst++;
      // Second crashes: every boundary of open() and close() on that image.
      for (let j = 1; ; j++) {
        const disk = await copyOf(image);
        const second = await CrashFs.over(disk, { crashAt: j });
        const s = new FileStorage({ dir: join(disk, 'data'), fs: second.fs, segmentBytes: SEGMENT_BYTES, logger: discardLogger });
        try {
          await s.open();
          await s.close();
        } catch (e) {
          if (second.crash === undefined) throw e;
          await s.close().catch(() => {});
          await second.release();
        }
        if (second.crash === undefined) break;
        crashes++;
        // Both survivals in the long mode; else one, in turn.
        const both: Survival[] = [{ kind: 'durable' }, { kind: 'torn', seed: j }];
        for (const survival of LONG ? both : [both[j % 2]!]) {
          const again = await scratchDir();
          await second.image(again, survival, skipDirectoryLock);
          const label = `crash at ${k} (torn seed ${k}), then at ${j} of its recovery (${second.crash.message}), ${survival.kind}`;
          let got;
          try {
            got = await recovered(again);
          } catch (e) {
            throw new Error(`${label}: open refused: ${(e as Error).message}`);
          }
          expect(got.view, label).toEqual(want.view);
          await rm(again, { recursive: true });
        }
        await rm(disk, { recursive: true });
      }
      await rm(image, { recursive: true });
      await rm(root, { recursive: true });
    }
    expect(crashes).toBeGreaterThan(LONG ? 500 : 80);
    expect(tornFirst).toBeGreaterThan(5);
  }, TIMEOUT);
});

/** A copy of a directory tree in a new temp directory. */
async function copyOf(dir: string): Promise<string> {
  const to = await scratchDir();
  await cp(dir, to, { recursive: true });
  return to;
}

describe('the crash tests notice a missing fsync', () => {
  // A disk that ignores some fsyncs stands for a store that forgot them.
  const lost = async (ignoreSync: CrashFsOptions['ignoreSync']) => {
    const error = await crashEverywhere({ ignoreSync }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error, 'no crash lost an acknowledged write').toBeDefined();
    return error!.message;
  };

  it('of WAL appends', async () => {
    expect(await lost((path, kind) => kind === 'file' && path.endsWith('.wal'))).toMatch(/not a state the store passed through/);
  }, TIMEOUT);

  it('of the WAL directory after a segment is created', async () => {
    expect(await lost((path, kind) => kind === 'dir' && path.endsWith('/wal'))).toMatch(/not a state the store passed through|open refused/);
  }, TIMEOUT);

  it('of a snapshot file', async () => {
    expect(await lost((path, kind) => kind === 'file' && path.includes('/snap/'))).toMatch(/not a state the store passed through|open refused/);
  }, TIMEOUT);
});

describe('crash-fs', () => {
  it('models a synchronous write at its call, and refuses one that would overtake a queued call on the same file', async () => {
    const root = await scratchDir();
    const c = await CrashFs.over(root);
    const a = await c.fs.open(join(root, 'a'), 'w');
    const b = await c.fs.open(join(root, 'b'), 'w');
    const bytes = text.encode('abc');
    const queued = a.datasync();
    // Another file's call queued meanwhile is no obstacle; this one's is.
    expect(c.fs.writeSync!(b, bytes, 0, 3, 0)).toBe(3);
    expect(() => c.fs.writeSync!(a, bytes, 0, 3, 0)).toThrow(/overtake/);
    await queued;
    expect(c.fs.writeSync!(a, bytes, 1, 2, 0)).toBe(2);
    expect(c.volatilePaths().sort()).toEqual(['', 'a', 'b']);
    await a.sync();
    await b.sync();
    const dir = await c.fs.open(root, 'r');
    await dir.sync();
    await dir.close();
    expect(c.volatilePaths()).toEqual([]);
    const image = await scratchDir();
    await c.image(image, { kind: 'durable' });
    expect(await readdir(image)).toEqual(['a', 'b']);
    expect(new TextDecoder().decode(await readFile(join(image, 'a')))).toBe('bc');
    expect(new TextDecoder().decode(await readFile(join(image, 'b')))).toBe('abc');
    await a.close();
    await b.close();
  });

  it('crashNow(): calls queued and later reject, and the image keeps what was fsynced before it', async () => {
    const root = await scratchDir();
    const c = await CrashFs.over(root);
    const a = await c.fs.open(join(root, 'a'), 'w');
    const dir = await c.fs.open(root, 'r');
    await a.write(text.encode('kept'), 0, 4, 0);
    await a.datasync();
    await dir.sync();
    await a.write(text.encode(' lost'), 0, 5, 4);
    const queued = a.datasync();
    c.crashNow();
    await expect(queued).rejects.toBeInstanceOf(CrashError);
    expect(() => c.fs.writeSync!(a, text.encode('x'), 0, 1, 9)).toThrow(CrashError);
    await expect(c.fs.open(join(root, 'b'), 'w')).rejects.toBeInstanceOf(CrashError);
    expect(c.volatilePaths()).toEqual(['a']);
    await c.release();
    const image = await scratchDir();
    await c.image(image, { kind: 'durable' });
    expect(new TextDecoder().decode(await readFile(join(image, 'a')))).toBe('kept');
    // The real file has what was written; only the model lost it.
    expect(new TextDecoder().decode(await readFile(join(root, 'a')))).toBe('kept lost');
    await dir.close().catch(() => {});
  });

  it('syncDelayMs: an fsync waits first, and a crash during the wait leaves it undone', async () => {
    const root = await scratchDir();
    const c = await CrashFs.over(root);
    const a = await c.fs.open(join(root, 'a'), 'w');
    await a.write(text.encode('late'), 0, 4, 0);
    c.syncDelayMs = 1_000;
    let settled = false;
    const synced = a.datasync().finally(() => (settled = true));
    await sleep(20);
    expect(settled, 'the fsync is still waiting').toBe(false);
    c.crashNow();
    await expect(synced).rejects.toBeInstanceOf(CrashError);
    expect(c.volatilePaths()).toContain('a');
    await c.release();
  });
});

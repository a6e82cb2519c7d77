// The recovery suite: how long a restarting node takes to open its file
// storage, against reading the same bytes raw.
//
// For each size, a WAL of N entries is written once through FileStorage
// (saves of 512 entries, each with its hard state, as a follower's are),
// then, alternating R times: (a) every WAL segment read whole with
// readFile, the disk's raw read of those bytes, and (b) a fresh
// FileStorage opened on the directory (every record's checksums, the
// entries decoded and kept for raft) and checked to hold all N entries.
// One WAL is written as a running node writes it instead: a snapshot every
// 10 000 entries, the log compacted to 5 000 before it (as the cluster
// benchmarks' nodes, CLUSTER_NODE_OPTIONS). Its segments then mostly hold entries a snapshot covers, and
// the reopened storage holds those after the newest snapshot.
// Both read from the page cache (the files were just written; dropping it
// needs root): the ratio is what open() adds to getting the bytes, which
// is all of it that this code controls. No target: the issue asks for none,
// and this suite is here so a change to replay is measured, not guessed.
import { ConsoleLogger, LogLevel } from '@raftbus/core';
import { FileStorage } from '@raftbus/storage-file';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { median, sig4 } from '../baselines/percentiles.js';
import { sizeLabel } from '../baselines/sizes.js';
import { CLUSTER_NODE_OPTIONS } from '../cluster/bench-cluster.js';
import type { BenchResult } from '../results.js';
import type { Suite } from '../suites.js';

export interface RecoveryConfig {
  entries: number;
  payloadBytes: number;
  /** A snapshot every this many entries, the log compacted to CATCH_UP_ENTRIES before it. Default: none. */
  snapshotEvery?: number;
}

export interface RecoverySuiteOptions {
  quick?: boolean;
  configs?: RecoveryConfig[];
  /** Alternating rounds of raw read and open; the medians are reported. Default 5; quick 1. */
  rounds?: number;
  /** Where the WALs are written. Default os.tmpdir(). */
  tmpDir?: string;
  log?: (line: string) => void;
}

export const FULL_CONFIGS: RecoveryConfig[] = [
  { entries: 300_000, payloadBytes: 128 },
  { entries: 100_000, payloadBytes: 1024 },
  { entries: 305_000, payloadBytes: 128, snapshotEvery: CLUSTER_NODE_OPTIONS.snapshot.entries },
];
export const QUICK_CONFIGS: RecoveryConfig[] = [
  { entries: 5_000, payloadBytes: 128 },
  { entries: 2_000, payloadBytes: 1024 },
  { entries: 5_500, payloadBytes: 128, snapshotEvery: 1_000 },
];
const SAVE_ENTRIES = 512;
/** Entries kept before a snapshot when the log is compacted: as the cluster benchmarks' nodes do. */
const CATCH_UP_ENTRIES = CLUSTER_NODE_OPTIONS.snapshot.catchUpEntries;
const MiB = 1024 * 1024;
// open() logs what it replayed at info level: not per round here.
const logger = new ConsoleLogger(LogLevel.Error);

export const recoverySuite: Suite = {
  name: 'recovery',
  title: 'Recovery: opening a file storage against reading its WAL raw',
  run: ({ quick, log }) => runRecoverySuite({ quick, log }),
};

/** Writes `entries` entries of `payloadBytes` into a new FileStorage at `dir`, with snapshots if the config asks. */
export async function writeWal(dir: string, c: RecoveryConfig): Promise<void> {
  const s = new FileStorage({ dir, logger });
  await s.open();
  try {
    const data = new Uint8Array(c.payloadBytes).fill(0x61);
    const state = new Uint8Array(64).fill(0x73);
    let nextSnapshot = c.snapshotEvery ?? Infinity;
    for (let first = 1; first <= c.entries; first += SAVE_ENTRIES) {
      const last = Math.min(c.entries, first + SAVE_ENTRIES - 1);
      const entries = [];
      for (let index = first; index <= last; index++) entries.push({ term: 1, index, type: 0, data });
      await s.save({ entries, hardState: { term: 1, vote: 1, commit: last } });
      for (; nextSnapshot <= last; nextSnapshot += c.snapshotEvery!) {
        await s.createSnapshot(nextSnapshot, { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }, state);
        if (nextSnapshot > CATCH_UP_ENTRIES) await s.compact(nextSnapshot - CATCH_UP_ENTRIES);
      }
    }
  } finally {
    await s.close();
  }
}

/** The first index a reopened storage of `c` holds: the one after its newest snapshot. */
export function firstIndexAfterOpen(c: RecoveryConfig): number {
  return c.snapshotEvery === undefined ? 1 : Math.floor(c.entries / c.snapshotEvery) * c.snapshotEvery + 1;
}

/** The WAL's segment files, under dir/wal (listed again per round: an open may start a segment). */
async function walFiles(dir: string): Promise<string[]> {
  const walDir = join(dir, 'wal');
  return (await readdir(walDir)).sort().map((f) => join(walDir, f));
}

/** Milliseconds to read every file whole; returns them and the bytes read. */
async function rawRead(files: string[]): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  let bytes = 0;
  for (const f of files) bytes += (await readFile(f)).length;
  return { ms: performance.now() - t0, bytes };
}

/** Milliseconds to open a FileStorage on `dir`; throws unless it holds entries first…last. */
export async function timedOpen(dir: string, first: number, last: number): Promise<number> {
  const t0 = performance.now();
  const s = new FileStorage({ dir, logger });
  await s.open();
  const ms = performance.now() - t0;
  try {
    if (s.firstIndex() !== first || s.lastIndex() !== last) {
      throw new Error(`recovery: reopened WAL holds ${s.firstIndex()}…${s.lastIndex()}, expected ${first}…${last}`);
    }
  } finally {
    await s.close();
  }
  return ms;
}

export async function runRecoverySuite(opts: RecoverySuiteOptions = {}): Promise<BenchResult[]> {
  const quick = opts.quick ?? false;
  const configs = opts.configs ?? (quick ? QUICK_CONFIGS : FULL_CONFIGS);
  const rounds = Math.max(1, opts.rounds ?? (quick ? 1 : 5));
  const log = opts.log ?? (() => undefined);
  const results: BenchResult[] = [];
  for (const c of configs) {
    const dir = await mkdtemp(join(opts.tmpDir ?? tmpdir(), 'raftbus-bench-recovery-'));
    try {
      await writeWal(dir, c);
      // One untimed open first, so both sides start with the code compiled
      // and the files in the page cache.
      const first = firstIndexAfterOpen(c);
      await timedOpen(dir, first, c.entries);
      const reads: number[] = [];
      const opens: number[] = [];
      let files: string[] = [];
      let walBytes = 0;
      for (let r = 0; r < rounds; r++) {
        files = await walFiles(dir);
        const read = await rawRead(files);
        reads.push(read.ms);
        walBytes = read.bytes;
        opens.push(await timedOpen(dir, first, c.entries));
      }
      const snapshots = c.snapshotEvery === undefined ? '' : `, a snapshot every ${c.snapshotEvery}`;
      log(`recovery: ${c.entries} entries of ${c.payloadBytes} B${snapshots}, ${files.length} segment(s), ${(walBytes / MiB).toFixed(1)} MiB`);
      const readMs = median(reads);
      const openMs = median(opens);
      results.push({
        name: `recovery/file/${sizeLabel(c.payloadBytes)}${c.snapshotEvery === undefined ? '' : '/snapshotted'}/open`,
        params: {
          entries: c.entries,
          payloadBytes: c.payloadBytes,
          ...(c.snapshotEvery !== undefined && { snapshotEvery: c.snapshotEvery, catchUpEntries: CATCH_UP_ENTRIES, kept: c.entries - first + 1 }),
          segments: files.length,
          walMiB: sig4(walBytes / MiB),
          rounds,
        },
        value: sig4(openMs),
        unit: 'ms',
        baseline: { name: `raw read of the same ${files.length} WAL segment(s) (readFile, page cache)`, value: sig4(readMs), unit: 'ms' },
        ratio: sig4(openMs / readMs),
        ratioMeaning: 'open() time ÷ raw read time of its WAL; lower is better (no target)',
        notes:
          `${Math.round(c.entries / (openMs / 1000)).toLocaleString('en-US')} entries/s, ` +
          `${(walBytes / MiB / (openMs / 1000)).toFixed(0)} MiB/s replayed; ` +
          `per round, open ${opens.map((x) => x.toFixed(0)).join(', ')} ms; raw read ${reads.map((x) => x.toFixed(1)).join(', ')} ms`,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return results;
}

// The disk's raw durable-write rate: append `payloadBytes` to a file and
// fdatasync (as FileStorage syncs its WAL segment after each batch) or
// fsync, one after the other, in a temp directory on the disk the file
// storage of the cluster benchmarks uses. With several writers, each appends
// to its own file at the same time as the others, as the three nodes of a
// benchmark cluster do on the one disk they share: a disk that serializes
// its flushes makes each writer wait for the others'.
import { mkdtemp, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export type SyncCall = 'fdatasync' | 'fsync';

export interface FsyncResult {
  /** Durable writes per second, each writer's (the mean over writers when there are several). */
  perSecond: number;
  /** Durable writes, all writers together. */
  ops: number;
  seconds: number;
  /** How many wrote at once. */
  writers: number;
}

/**
 * Measures for `durationMs` (at least 5 writes each) in a fresh directory
 * under `parentDir`, removed afterwards; `writers` files written at once.
 */
export async function fsyncRate(parentDir: string, payloadBytes: number, call: SyncCall, durationMs: number, writers = 1): Promise<FsyncResult> {
  const dir = await mkdtemp(join(parentDir, 'raftbus-bench-fsync-'));
  try {
    const buf = new Uint8Array(payloadBytes).fill(0x5a);
    const start = performance.now();
    const writer = async (i: number): Promise<number> => {
      const fh = await open(join(dir, `probe-${i}`), 'w');
      try {
        let position = 0;
        let ops = 0;
        while (ops < 5 || performance.now() - start < durationMs) {
          await fh.write(buf, 0, buf.length, position);
          position += buf.length;
          if (call === 'fdatasync') await fh.datasync();
          else await fh.sync();
          ops++;
        }
        return ops;
      } finally {
        await fh.close();
      }
    };
    const counts = await Promise.all(Array.from({ length: writers }, (_, i) => writer(i)));
    const seconds = (performance.now() - start) / 1000;
    const ops = counts.reduce((a, b) => a + b, 0);
    return { perSecond: ops / writers / seconds, ops, seconds, writers };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

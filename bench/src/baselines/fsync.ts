// The disk's raw durable-write rate: append `payloadBytes` to a file and
// fdatasync (as FileStorage syncs its WAL segment after each batch) or
// fsync, one after the other, in a temp directory on the disk the file
// storage of the cluster benchmarks uses.
import { mkdtemp, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export type SyncCall = 'fdatasync' | 'fsync';

export interface FsyncResult {
  /** Durable writes per second. */
  perSecond: number;
  ops: number;
  seconds: number;
}

/** Measures for `durationMs` (at least 5 writes) in a fresh directory under `parentDir`, removed afterwards. */
export async function fsyncRate(parentDir: string, payloadBytes: number, call: SyncCall, durationMs: number): Promise<FsyncResult> {
  const dir = await mkdtemp(join(parentDir, 'raftbus-bench-fsync-'));
  const fh = await open(join(dir, 'probe'), 'w');
  try {
    const buf = new Uint8Array(payloadBytes).fill(0x5a);
    let position = 0;
    let ops = 0;
    const start = performance.now();
    while (ops < 5 || performance.now() - start < durationMs) {
      await fh.write(buf, 0, buf.length, position);
      position += buf.length;
      if (call === 'fdatasync') await fh.datasync();
      else await fh.sync();
      ops++;
    }
    const seconds = (performance.now() - start) / 1000;
    return { perSecond: ops / seconds, ops, seconds };
  } finally {
    await fh.close();
    await rm(dir, { recursive: true, force: true });
  }
}

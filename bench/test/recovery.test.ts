// The recovery suite with tiny WALs: every size runs, the reopened storage
// is checked to hold what was written, and the WALs are removed. No timing
// is asserted (shared, noisy machines).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { firstIndexAfterOpen, runRecoverySuite, timedOpen, writeWal } from '../src/recovery/suite.js';
import { removeTempDirs, tempDir } from './temp-dirs.js';

afterAll(removeTempDirs);

describe('recovery suite', () => {
  it('times open() against a raw read of the same WAL, per size, and leaves no files behind', async () => {
    const parent = await tempDir();
    const results = await runRecoverySuite({
      configs: [
        { entries: 1_500, payloadBytes: 128 },
        { entries: 700, payloadBytes: 1024 },
        { entries: 2_500, payloadBytes: 128, snapshotEvery: 700 },
      ],
      rounds: 2,
      tmpDir: parent,
    });
    expect(results.map((r) => r.name)).toEqual(['recovery/file/128b/open', 'recovery/file/1kib/open', 'recovery/file/128b/snapshotted/open']);
    // Snapshots at 700, 1400 and 2100: the reopened storage holds 2101…2500.
    expect(results[2]!.params).toMatchObject({ snapshotEvery: 700, kept: 400 });
    for (const r of results) {
      expect(r.unit).toBe('ms');
      expect(r.value).toBeGreaterThan(0);
      expect(r.baseline!.value).toBeGreaterThan(0);
      expect(r.ratio).toBeCloseTo(r.value / r.baseline!.value, 1);
      expect(r.params['rounds']).toBe(2);
      expect(r.params['segments']).toBeGreaterThanOrEqual(1);
      // Two rounds of each, listed in the notes.
      expect(r.notes).toMatch(/open \d+, \d+ ms; raw read [\d.]+, [\d.]+ ms$/);
    }
    // 1 500 entries of 128 B framed: more than their payloads alone.
    expect(results[0]!.params['walMiB']).toBeGreaterThan((1_500 * 128) / 2 ** 20);
    expect(await readdir(parent)).toEqual([]);
  }, 60_000);

  it('refuses a reopened WAL that does not hold every entry written', async () => {
    const dir = await tempDir();
    await writeWal(dir, { entries: 600, payloadBytes: 16 });
    expect(await timedOpen(dir, 1, 600)).toBeGreaterThan(0);
    await expect(timedOpen(dir, 1, 601)).rejects.toThrow(/holds 1…600, expected 1…601/);
  });

  it('writes snapshots and compacts as a node does, and reopens after the newest snapshot', async () => {
    const dir = await tempDir();
    const c = { entries: 1_200, payloadBytes: 16, snapshotEvery: 500 };
    await writeWal(dir, c);
    expect(firstIndexAfterOpen(c)).toBe(1_001);
    expect(await timedOpen(dir, 1_001, 1_200)).toBeGreaterThan(0);
    // Two snapshot files kept (500 and 1000), named in hex.
    expect((await readdir(join(dir, 'snap'))).sort()).toEqual(['0000000000000001-00000000000001f4.snap', '0000000000000001-00000000000003e8.snap']);
  });
});

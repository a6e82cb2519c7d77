// The recovery suite with tiny WALs: every size runs, the reopened storage
// is checked to hold what was written, and the WALs are removed. No timing
// is asserted (shared, noisy machines).
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runRecoverySuite, timedOpen, writeWal } from '../src/recovery/suite.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'raftbus-bench-recovery-test-'));
  dirs.push(d);
  return d;
}

describe('recovery suite', () => {
  it('times open() against a raw read of the same WAL, per size, and leaves no files behind', async () => {
    const parent = await tempDir();
    const results = await runRecoverySuite({
      configs: [
        { entries: 1_500, payloadBytes: 128 },
        { entries: 700, payloadBytes: 1024 },
      ],
      rounds: 2,
      tmpDir: parent,
    });
    expect(results.map((r) => r.name)).toEqual(['recovery/file/128b/open', 'recovery/file/1kib/open']);
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
    expect(await timedOpen(dir, 600)).toBeGreaterThan(0);
    await expect(timedOpen(dir, 601)).rejects.toThrow(/holds 1…600, expected 1…601/);
  });
});

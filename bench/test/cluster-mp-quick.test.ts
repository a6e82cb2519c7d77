// The cluster-mp suite, quick, on NATS (the server CI starts, or a private
// one): for each storage, three node processes that elect a leader, take
// closed-loop proposals and report both results of every configuration
// against the same run's baselines, with the targets of issue #7 attached;
// the round trips around a latency window have their echo in a process of
// its own.
// Structure only: nothing here judges a number as fast or slow.
import { whyNo } from '@raftbus/testkit';
import { describe, expect, it } from 'vitest';
import { runClusterMpSuite } from '../src/cluster-mp/suite.js';
import type { BenchResult } from '../src/results.js';

const noNats = whyNo('nats');

describe.skipIf(noNats !== undefined)(`cluster-mp suite, quick, on NATS${noNats ? ` (skipped: ${noNats})` : ''}`, () => {
  it('runs 3 node processes per storage and reports ratios to same-run baselines, with the targets', async () => {
    const lines: string[] = [];
    const results = await runClusterMpSuite({
      quick: true,
      buses: ['nats'],
      durationMs: 200,
      warmupMs: 50,
      baselineDurationMs: 100,
      probeMs: 100,
      fsyncDurationMs: 50,
      log: (line) => lines.push(line),
    });
    const byName = (name: string): BenchResult => {
      const r = results.find((x) => x.name === name);
      expect(r, `${name} among ${results.map((x) => x.name).join(', ')}; log: ${lines.join(' | ')}`).toBeDefined();
      return r!;
    };
    const names = results.map((r) => r.name);
    expect(new Set(names).size, 'result names are unique').toBe(names.length);

    const rtt = byName('baseline/nats/rtt/128b');
    expect(rtt.value).toBeGreaterThan(0);
    const oneWay = byName('baseline/nats/one-way/128b');
    expect(oneWay.value).toBeGreaterThan(0);
    expect(byName('baseline/fsync/128b/fdatasync').value).toBeGreaterThan(0);
    expect(byName('baseline/fsync/128b/fdatasync/3-writers').value).toBeGreaterThan(0);

    for (const storage of ['file', 'memory']) {
      for (const c of [1, 1024]) {
        const name = `cluster-mp/nats/${storage}/128b/c${c}`;
        const latency = byName(name);
        // A configuration that could not run says so in value 0 and its notes.
        expect(latency.notes).not.toMatch(/^(skipped|failed)/);
        expect(latency.params).toMatchObject({ bus: 'nats', storage, payloadBytes: 128, concurrency: c, nodes: 3, processes: 3, errors: 0 });
        expect(latency.params['commits']).toBeGreaterThan(0);
        expect(latency.notes).toContain('one process per node (3 node processes)');
        expect(latency.latencyMs!.p50).toBeGreaterThan(0);
        expect(latency.latencyMs!.p99).toBeGreaterThanOrEqual(latency.latencyMs!.p50);
        // A targeted ratio is read against the bus measured just before and after its window; the others against the run's first baseline.
        // The round trip around it has its echo in another process, as each hop of these clusters crosses processes.
        if (c === 1) {
          expect(latency.baseline!.name).toBe('nats raw round trip p50 (128 B, echo in another process), mean of just before and just after this window');
          expect(latency.notes).toMatch(
            /raw round trip p50 \(echo in another process\) [\d.]+ ms just before the window, [\d.]+ ms just after \(in-process echo, [\d.]+ ms at the start/,
          );
        } else expect(latency.baseline!.value).toBe(rtt.value);
        expect(latency.baseline!.value).toBeGreaterThan(0);
        // Both sides are rounded to 4 significant digits in the file.
        expect(Math.abs(latency.ratio! / (latency.latencyMs!.p50 / latency.baseline!.value) - 1)).toBeLessThan(0.01);
        expect(latency.target).toEqual(c === 1 ? { ratioAtMost: 2 } : undefined);
        expect(latency.notes).toMatch(c === 1 ? /^target (met|missed)/ : /^no target at 1024 proposers/);

        const throughput = byName(`${name}/throughput`);
        expect(throughput.value).toBeGreaterThan(0);
        if (c === 1024) {
          expect(throughput.baseline!.name).toContain('mean of just before and just after this window');
          expect(throughput.notes).toMatch(/raw one-way rate \d+ msgs\/s just before the window, \d+ msgs\/s just after \(\d+ msgs\/s at the start/);
        } else expect(throughput.baseline!.value).toBe(oneWay.value);
        expect(Math.abs(throughput.ratio! / (throughput.value / throughput.baseline!.value) - 1)).toBeLessThan(0.01);
        expect(throughput.target).toEqual(c === 1024 ? { ratioAtLeast: 0.5 } : undefined);
        if (storage === 'file') expect(throughput.notes).toMatch(/fdatasync\/s raw/);
        // The proposers run in the leader's process: its load is what the notes give.
        for (const r of [latency, throughput]) expect(r.notes).toMatch(/the proposers' process had its event loop busy \d+% of the time and used \d+\.\d\d cores of CPU/);
      }
    }
    // Baselines: fsync (fdatasync, fsync, fdatasync by 3 writers at once), the round trip and the one-way rate; then 2 storages × 2 concurrencies × 2 results.
    expect(results).toHaveLength(5 + 2 * 2 * 2);
  }, 180_000);
});

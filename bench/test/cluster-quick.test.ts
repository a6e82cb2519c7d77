// The cluster suite on the memory bus, with tiny windows: every parameter
// combination gives its two results, with positive numbers and the
// baselines (raw round trip, one-way rate, fsync) they are read against.
// Then the memory suite's short form and its verdict rule. Structure only:
// nothing here judges a number as fast or slow.
import { describe, expect, it } from 'vitest';
import { runClusterSuite } from '../src/cluster/suite.js';
import { growth, HEAP_LIMIT, runMemorySuite, type MemorySample } from '../src/memory/suite.js';
import type { BenchResult } from '../src/results.js';

describe('cluster suite, quick, on the memory bus', () => {
  let results: BenchResult[];
  const byName = (name: string): BenchResult => {
    const r = results.find((x) => x.name === name);
    expect(r, name).toBeDefined();
    return r!;
  };

  it('runs every combination and reports ratios to same-run baselines', async () => {
    results = await runClusterSuite({
      quick: true,
      buses: ['memory'],
      durationMs: 150,
      warmupMs: 50,
      baselineDurationMs: 100,
      fsyncDurationMs: 50,
    });
    const names = results.map((r) => r.name);
    expect(new Set(names).size, 'result names are unique').toBe(names.length);

    for (const size of ['128b', '1kib']) {
      const rtt = byName(`baseline/memory/rtt/${size}`);
      expect(rtt.unit).toBe('ms');
      expect(rtt.value).toBeGreaterThan(0);
      expect(rtt.latencyMs!.p99).toBeGreaterThanOrEqual(rtt.latencyMs!.p50);
      const oneWay = byName(`baseline/memory/one-way/${size}`);
      expect(oneWay.unit).toBe('msgs/s');
      expect(oneWay.value).toBeGreaterThan(0);
      for (const call of ['fdatasync', 'fsync', 'fdatasync/3-writers']) {
        const fsync = byName(`baseline/fsync/${size}/${call}`);
        expect(fsync.unit).toBe('ops/s');
        expect(fsync.value).toBeGreaterThan(0);
      }
    }

    for (const storage of ['file', 'memory']) {
      for (const [size, bytes] of [['128b', 128], ['1kib', 1024]] as const) {
        for (const c of [1, 64, 1024]) {
          const name = `cluster/memory/${storage}/${size}/c${c}`;
          const latency = byName(name);
          expect(latency.params).toMatchObject({ bus: 'memory', storage, payloadBytes: bytes, concurrency: c });
          expect(latency.unit).toBe('ms');
          expect(latency.latencyMs!.p50).toBeGreaterThan(0);
          expect(latency.latencyMs!.p999).toBeGreaterThanOrEqual(latency.latencyMs!.p99);
          expect(latency.latencyMs!.p99).toBeGreaterThanOrEqual(latency.latencyMs!.p50);
          expect(latency.baseline?.name).toContain('round trip');
          expect(latency.baseline!.value).toBe(byName(`baseline/memory/rtt/${size}`).value);
          // Both sides are rounded to 4 significant digits in the file.
          expect(Math.abs(latency.ratio! / (latency.latencyMs!.p50 / latency.baseline!.value) - 1)).toBeLessThan(0.01);
          expect(latency.ratioMeaning).toContain('target ≤ 2');
          // The targets are about real buses; the in-process one carries none.
          expect(latency.notes).toMatch(/^no target on the in-process bus/);
          expect(latency.target).toBeUndefined();

          const throughput = byName(`${name}/throughput`);
          expect(throughput.unit).toBe('commits/s');
          expect(throughput.value).toBeGreaterThan(0);
          expect(throughput.params['commits']).toBeGreaterThan(0);
          expect(throughput.baseline!.value).toBe(byName(`baseline/memory/one-way/${size}`).value);
          expect(throughput.ratio).toBeGreaterThan(0);
          expect(throughput.ratioMeaning).toContain('target ≥ 0.5');
          expect(throughput.notes).toMatch(/^no target on the in-process bus/);
          expect(throughput.target).toBeUndefined();
          if (storage === 'file') expect(throughput.notes).toMatch(/fdatasync\/s raw/);
          for (const r of [latency, throughput]) expect(r.notes).toMatch(/the proposers' process had its event loop busy \d+% of the time and used \d+\.\d\d cores of CPU \(all its threads, [\d.]+ µs per commit\)/);
        }
      }
    }
    // Per payload size 5 baselines (round trip, one-way rate, fdatasync, fsync, fdatasync by 3 writers); then 2 storages × 2 sizes × 3 concurrencies × 2 results.
    expect(results).toHaveLength(2 * 5 + 2 * 2 * 3 * 2);
  }, 120_000);
});

describe('memory suite', () => {
  const series = (heapAt: (i: number) => number): MemorySample[] =>
    Array.from({ length: 101 }, (_, i) => ({ proposals: i * 100, heapUsedMiB: heapAt(i), rssMiB: 100 }));

  it('calls a flat series bounded and a steadily growing one not', () => {
    const flat = growth(series((i) => 50 + (i % 3)), 10_000, (s) => s.heapUsedMiB, HEAP_LIMIT);
    expect(flat.bounded).toBe(true);
    expect(flat.afterWarmup).toBe(50 + (20 % 3));
    // 0.5 MiB per 1% of the run: 25 MiB over the second half.
    const leak = growth(series((i) => 50 + i / 2), 10_000, (s) => s.heapUsedMiB, HEAP_LIMIT);
    expect(leak.bounded).toBe(false);
    expect(leak.start).toBe(50);
    expect(leak.middle).toBe(74.5); // the lower median of 70 … 79.5
    expect(leak.end).toBe(95);
    expect(leak.ratio).toBeCloseTo(95 / 60, 6);
  });

  it.each(['memory', 'file'] as const)('samples a sustained run on %s storage and reports start, middle, end and a verdict', async (storage) => {
    const results = await runMemorySuite({ quick: true, proposals: 1_000, samples: 10, concurrency: 32, storage });
    const name = `memory/memory/${storage}/sustained`;
    expect(results.map((r) => r.name)).toEqual([name, `${name}/heap-used`, `${name}/rss`]);
    const [summary, heap, rss] = results as [BenchResult, BenchResult, BenchResult];
    expect(summary.value).toBeGreaterThan(0);
    expect(summary.params).toMatchObject({ proposals: 1_000, errors: 0, samples: 11, storage });
    expect(summary.notes).toMatch(/^(bounded|NOT bounded) \(/);
    for (const r of [heap, rss]) {
      expect(r.unit).toBe('MiB');
      for (const k of ['startMiB', 'afterWarmupMiB', 'middleMiB', 'endMiB']) expect(r.params[k]).toBeGreaterThan(0);
      expect(r.baseline!.value).toBe(r.params['afterWarmupMiB']);
      expect(r.ratio).toBeGreaterThan(0);
      expect(r.notes).toMatch(/^(bounded|NOT bounded):/);
    }
  }, 60_000);
});

// Reading a targeted configuration against the bus measured around its
// window: the order of the probes, a probe that fails, and which baseline
// each ratio and note then shows.
import { describe, expect, it } from 'vitest';
import { bracketed } from '../src/baselines/bracket.js';
import type { BusBaselines } from '../src/baselines/suite.js';
import { configResults, type ConfigRun } from '../src/cluster/config-results.js';

describe('bracketed', () => {
  it('probes, runs the window, settles, probes again; the baseline is the mean of the two probes', async () => {
    const calls: string[] = [];
    const values = [0.2, 0.3];
    const { result, adjacent } = await bracketed(
      async () => (calls.push('probe'), values.shift()!),
      'round-trip',
      async () => (calls.push('window'), 'ran'),
      async () => calls.push('settle'),
    );
    expect(calls).toEqual(['probe', 'window', 'settle', 'probe']);
    expect(result).toBe('ran');
    expect(adjacent).toEqual({ roundTripMs: { before: 0.2, after: 0.3, value: 0.25 } });
  });

  it('a failed probe still runs the window and says which probe failed', async () => {
    const first = await bracketed(
      async () => {
        throw new Error('bus down');
      },
      'one-way',
      async () => 7,
    );
    expect(first).toEqual({ result: 7, adjacent: { failed: 'the one-way probe before the window failed: bus down' } });
    let n = 0;
    const second = await bracketed(
      async () => {
        if (n++ > 0) throw new Error('bus down');
        return 1000;
      },
      'one-way',
      async () => 8,
    );
    expect(second).toEqual({ result: 8, adjacent: { failed: 'the one-way probe after the window failed: bus down' } });
  });
});

describe('configResults against adjacent baselines', () => {
  const baselines: BusBaselines = {
    bus: 'nats',
    roundTripMs: new Map([[128, { p50: 0.1, p99: 0.2, p999: 0.3 }]]),
    oneWay: new Map([[128, { perSecond: 100_000, received: 1, lost: 0, seconds: 1 }]]),
  };
  const config = (concurrency: number, latencies: number[], commitsPerSecond: number): ConfigRun => ({
    name: `cluster/nats/memory/128b/c${concurrency}`,
    bus: 'nats',
    storage: 'memory',
    payloadBytes: 128,
    concurrency,
    run: { commitsPerSecond, commits: latencies.length, windowMs: 1000, latenciesMs: latencies, errors: 0, errorKinds: [] },
    settled: true,
    elections: 0,
    setup: 'test',
  });

  it('with one proposer, latency is read against the round trip around the window; throughput against the first one-way rate', () => {
    const [latency, throughput] = configResults(config(1, [0.5, 0.5, 0.5], 2000), baselines, new Map(), {
      roundTripMs: { before: 0.2, after: 0.3, value: 0.25 },
    });
    expect(latency.baseline).toEqual({ name: 'nats raw round trip p50 (128 B), mean of just before and just after this window', value: 0.25, unit: 'ms' });
    expect(latency.ratio).toBe(2);
    expect(latency.notes).toMatch(/^target met\. raw round trip p50 0\.2 ms just before the window, 0\.3 ms just after \(0\.1 ms at the start of this bus's runs\)\. test/);
    expect(throughput.baseline).toEqual({ name: 'nats raw one-way rate (128 B)', value: 100_000, unit: 'msgs/s' });
    expect(throughput.ratio).toBe(0.02);
  });

  it('with 1024 proposers, throughput is read against the one-way rate around the window', () => {
    const [latency, throughput] = configResults(config(1024, [5], 60_000), baselines, new Map(), {
      oneWayPerSecond: { before: 100_000, after: 140_000, value: 120_000 },
    });
    expect(latency.baseline!.value).toBe(0.1);
    expect(throughput.baseline!.value).toBe(120_000);
    expect(throughput.ratio).toBe(0.5);
    expect(throughput.notes).toMatch(/^target met\. raw one-way rate 100000 msgs\/s just before the window, 140000 msgs\/s just after \(100000 msgs\/s at the start/);
  });

  it('with file storage and one proposer, the notes also read p50 against the round trip plus one fdatasync', () => {
    const fsync = new Map([[128, { alone: { perSecond: 8000, ops: 8000, seconds: 1, writers: 1 } }]]);
    const file = { ...config(1, [0.75], 1300), name: 'cluster/nats/file/128b/c1', storage: 'file' as const };
    const [latency] = configResults(file, baselines, fsync, { roundTripMs: { before: 0.2, after: 0.3, value: 0.25 } });
    expect(latency.ratio).toBe(3);
    expect(latency.target).toEqual({ ratioAtMost: 2 });
    // 0.75 ÷ (0.25 + 0.125)
    expect(latency.notes).toContain(
      "against the round trip plus one fdatasync at the disk's raw rate (0.25 + 0.125 ms), the least a durable commit can take on a disk of its own: 2× (three nodes share one disk here)",
    );
    expect(latency.notes).toContain('disk: 8000 fdatasync/s raw at 128 B');
    // Not with memory storage, nor with more proposers.
    expect(configResults(config(1, [0.75], 1300), baselines, fsync)[0].notes).not.toContain('fdatasync at');
    expect(configResults({ ...file, concurrency: 64 }, baselines, fsync)[0].notes).not.toContain('fdatasync at');
  });

  it('with the rate of writers sharing the disk, the notes give the least a commit can take here and whether the target is within it', () => {
    const disk = (sharedPerSecond: number) =>
      new Map([[128, { alone: { perSecond: 8000, ops: 8000, seconds: 1, writers: 1 }, shared: { perSecond: sharedPerSecond, ops: 3 * sharedPerSecond, seconds: 1, writers: 3 } }]]);
    const file = { ...config(1, [0.75], 1300), name: 'cluster/nats/file/128b/c1', storage: 'file' as const };
    const around = { roundTripMs: { before: 0.2, after: 0.3, value: 0.25 } };
    // Each writer's fdatasync takes 0.5 ms among three: 0.75 ÷ (0.25 + 0.5) = 1, and a commit costing nothing more takes 3× the round trip.
    const [slow] = configResults(file, baselines, disk(2000), around);
    expect(slow.notes).toContain(
      'against the round trip plus one fdatasync among 3 writers at once, as this cluster\'s nodes share the disk (0.25 + 0.5 ms): 1×, where a commit costing nothing more would be 3× the round trip, above the target of 2: out of reach on this disk',
    );
    expect(slow.notes).toContain('disk: 8000 fdatasync/s raw at 128 B, 2000 each with 3 writers at once');
    // 0.2 ms among three: the floor is 1.8×, within the target, and the note does not say otherwise.
    const [fast] = configResults(file, baselines, disk(5000), around);
    expect(fast.notes).toContain('(0.25 + 0.2 ms): 1.667×, where a commit costing nothing more would be 1.8× the round trip.');
    expect(fast.notes).not.toContain('out of reach');
    expect(fast.notes).not.toContain('three nodes share one disk here');
  });

  it('the notes say how busy the proposers\' process was over the window, when the run read it', () => {
    const loaded = config(1024, [5], 50_000);
    loaded.run.load = { eventLoopBusy: 0.704, cores: 1.25 };
    const [latency, throughput] = configResults(loaded, baselines, new Map());
    // 1.25 cores at 50 000 commits/s: 25 µs of CPU per commit.
    const note = "while measured, the proposers' process had its event loop busy 70% of the time and used 1.25 cores of CPU (all its threads, 25 µs per commit)";
    expect(latency.notes).toContain(note);
    expect(throughput.notes).toContain(note);
    expect(configResults(config(1024, [5], 50_000), baselines, new Map())[0].notes).not.toContain('event loop busy');
  });

  it('a failed probe falls back to the first baseline and says so', () => {
    const [latency] = configResults(config(1, [0.3], 3000), baselines, new Map(), { failed: 'the round-trip probe after the window failed: bus down' });
    expect(latency.baseline!.value).toBe(0.1);
    expect(latency.ratio).toBe(3);
    expect(latency.notes).toContain("the round-trip probe after the window failed: bus down; read against the run's first baseline");
  });
});

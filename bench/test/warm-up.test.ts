// The warm-up before a configuration's probes: when it stops, and what the
// results then say about it.
import { describe, expect, it } from 'vitest';
import type { BusBaselines } from '../src/baselines/suite.js';
import type { ClosedLoopOptions, ClosedLoopResult } from '../src/cluster/closed-loop.js';
import type { BusLink } from '../src/baselines/bus-link.js';
import type { Bus } from '../src/baselines/buses.js';
import { localEcho } from '../src/baselines/measure.js';
import { MemoryLink } from '../src/baselines/memory-link.js';
import { configResults, measureConfig } from '../src/cluster/config-results.js';
import { FRESH_WARM_UP_MIN_MS, warmUp, warmUpStep, WARM_UP_MIN_MS, WARM_UP_SLICE_MS } from '../src/cluster/warm-up.js';

/** Slices whose latencies are all `p50s[i]` (undefined: nothing completed), each window `ms` long. */
function slices(p50s: (number | undefined)[], ms = 500): { slice: () => Promise<ClosedLoopResult>; ran: () => number } {
  let i = 0;
  return {
    slice: async () => {
      if (i >= p50s.length) throw new Error('more slices than the test has');
      const p = p50s[i++];
      const latenciesMs = p === undefined ? [] : [p, p, p];
      return { commitsPerSecond: 0, commits: latenciesMs.length, windowMs: ms, latenciesMs, errors: 0, errorKinds: [] };
    },
    ran: () => i,
  };
}

describe('warmUp', () => {
  it('runs while p50 falls by more than a tenth below the best so far, then stops', async () => {
    // The ramp of a fresh cluster of node processes, then a slice within a tenth of the best.
    const s = slices([2.5, 2.2, 1.6, 1.1, 0.95, 0.88, 0.5]);
    const w = await warmUp(s.slice, { minMs: 1000, maxMs: 10_000 });
    expect(w).toEqual({ ms: 3000, sliceP50sMs: [2.5, 2.2, 1.6, 1.1, 0.95, 0.88], steady: true });
    expect(s.ran()).toBe(6);
  });

  it('a slice slower than the best is steady: noise upwards ends the ramp, it does not prolong it', async () => {
    const s = slices([1.0, 1.4, 0.1]);
    expect(await warmUp(s.slice, { minMs: 1000, maxMs: 10_000 })).toEqual({ ms: 1000, sliceP50sMs: [1.0, 1.4], steady: true });
  });

  it('loads for at least minMs even when the first slices are steady', async () => {
    const s = slices([1.0, 1.0, 1.0, 1.0, 0.1]);
    expect(await warmUp(s.slice, { minMs: 2000, maxMs: 10_000 })).toMatchObject({ ms: 2000, steady: true });
    expect(s.ran()).toBe(4);
  });

  it('stops at maxMs while p50 still falls, and says so', async () => {
    const s = slices([8, 4, 2, 1, 0.5, 0.25]);
    expect(await warmUp(s.slice, { minMs: 1000, maxMs: 2000 })).toEqual({ ms: 2000, sliceP50sMs: [8, 4, 2, 1], steady: false });
  });

  it('a slice in which nothing completed is not steady, and not a best to compare with', async () => {
    const s = slices([1.0, undefined, 0.95]);
    const w = await warmUp(s.slice, { minMs: 1000, maxMs: 10_000 });
    expect(w.sliceP50sMs).toEqual([1.0, NaN, 0.95]);
    expect(w).toMatchObject({ ms: 1500, steady: true });
  });
});

describe('warmUpStep', () => {
  const steadyLoop = (asked: unknown[]) => async (o: ClosedLoopOptions): Promise<ClosedLoopResult> => {
    asked.push(o);
    return { commitsPerSecond: 1, commits: 1, windowMs: o.durationMs, latenciesMs: [1], errors: 0, errorKinds: [] };
  };

  it('none when maxMs is 0; otherwise slices of WARM_UP_SLICE_MS on the given closed loop, for at least WARM_UP_MIN_MS', async () => {
    expect(warmUpStep(async () => Promise.reject(new Error('not called')), { concurrency: 1, payloadBytes: 128, maxMs: 0, fresh: true })).toBeUndefined();
    const asked: unknown[] = [];
    const step = warmUpStep(steadyLoop(asked), { concurrency: 64, payloadBytes: 1024, maxMs: 10_000, fresh: false });
    expect(step?.sliceMs).toBe(WARM_UP_SLICE_MS);
    const w = await step!.run();
    expect(w).toEqual({ ms: WARM_UP_MIN_MS, sliceP50sMs: [1, 1], steady: true });
    expect(asked).toEqual([
      { concurrency: 64, payloadBytes: 1024, warmupMs: 0, durationMs: WARM_UP_SLICE_MS },
      { concurrency: 64, payloadBytes: 1024, warmupMs: 0, durationMs: WARM_UP_SLICE_MS },
    ]);
  });

  it("a cluster's first configuration loads at least FRESH_WARM_UP_MIN_MS, or maxMs if that is shorter", async () => {
    const asked: unknown[] = [];
    const fresh = await warmUpStep(steadyLoop(asked), { concurrency: 1, payloadBytes: 128, maxMs: 10_000, fresh: true })!.run();
    expect(fresh).toMatchObject({ ms: FRESH_WARM_UP_MIN_MS, steady: true });
    expect(asked).toHaveLength(FRESH_WARM_UP_MIN_MS / WARM_UP_SLICE_MS);
    const capped = await warmUpStep(steadyLoop([]), { concurrency: 1, payloadBytes: 128, maxMs: 1500, fresh: true })!.run();
    expect(capped).toMatchObject({ ms: 1500, steady: true });
  });
});

describe('configResults with a warm-up', () => {
  const baselines: BusBaselines = {
    bus: 'nats',
    roundTripMs: new Map([[128, { p50: 0.1, p99: 0.2, p999: 0.3 }]]),
    oneWay: new Map([[128, { perSecond: 100_000, received: 1, lost: 0, seconds: 1 }]]),
  };
  const run: ClosedLoopResult = { commitsPerSecond: 5000, commits: 3, windowMs: 1000, latenciesMs: [0.2, 0.2, 0.2], errors: 0, errorKinds: [] };
  const config = { name: 'cluster-mp/nats/file/128b/c1', bus: 'nats', storage: 'file' as const, payloadBytes: 128, concurrency: 1, run, settled: true, elections: 0, setup: 'setup' };

  it('records how long it ran and each slice p50 in both results', () => {
    const warm = { result: { ms: 3000, sliceP50sMs: [2.46, 1.7, 0.93, 0.9, 0.88, 0.871], steady: true }, sliceMs: 500 };
    for (const r of configResults({ ...config, warmUp: warm }, baselines, new Map())) {
      expect(r.params['warmUpMs']).toBe(3000);
      expect(r.notes).toContain('warmed up 3.0 s before the probes, until p50 stopped falling (0.5 s slices: 2.5, 1.7, 0.93, 0.9, 0.88, 0.87 ms)');
    }
  });

  it('says when the warm-up ended before p50 stopped falling, and a slice without samples', () => {
    const warm = { result: { ms: 10_000, sliceP50sMs: [3, NaN, 1.2], steady: false }, sliceMs: 500 };
    const [latency] = configResults({ ...config, warmUp: warm }, baselines, new Map());
    expect(latency.notes).toContain('warmed up 10.0 s before the probes, p50 still falling when the warm-up ended (0.5 s slices: 3, none, 1.2 ms)');
  });

  it('without one, neither the param nor the note', () => {
    const [latency] = configResults(config, baselines, new Map());
    expect(latency.params).not.toHaveProperty('warmUpMs');
    expect(latency.notes).not.toContain('warmed up');
  });
});

describe('measureConfig', () => {
  const load = { payloadBytes: 128, concurrency: 1, probeMs: 100, warmupMs: 250, durationMs: 3000, minSamples: 1000, steadyMaxMs: 10_000, fresh: false };
  const memoryBus = { name: 'memory' } as Bus; // no target, so no probes: only the order of the rest is seen

  function recording(settles: boolean[]) {
    const calls: string[] = [];
    const cluster = { settle: async () => (calls.push('settle'), settles.shift() ?? true), term: () => 3 };
    const onLeader = async (o: ClosedLoopOptions): Promise<ClosedLoopResult> => {
      calls.push(o.durationMs === WARM_UP_SLICE_MS ? 'slice' : 'window');
      return { commitsPerSecond: 1, commits: 1, windowMs: o.durationMs, latenciesMs: [1], errors: 0, errorKinds: [] };
    };
    return { calls, cluster, onLeader };
  }

  it('settles, warms up in slices until steady, settles again, then runs the window with the suite options', async () => {
    const { calls, cluster, onLeader } = recording([true, false]); // the settle after the warm-up times out
    const asked: ClosedLoopOptions[] = [];
    const out = await measureConfig(memoryBus, cluster, async (o) => (asked.push(o), onLeader(o)), load);
    expect(calls).toEqual(['settle', 'slice', 'slice', 'settle', 'window']);
    expect(asked.at(-1)).toEqual({ concurrency: 1, payloadBytes: 128, warmupMs: 250, durationMs: 3000, minSamples: 1000 });
    expect(out).toMatchObject({ adjacent: {}, settled: false, elections: 0, warmUp: { result: { ms: 1000, steady: true }, sliceMs: WARM_UP_SLICE_MS } });
    expect(out.run.windowMs).toBe(3000);
  });

  it('the round-trip probes around a latency window run their echo where the suite says, and the results say how', async () => {
    const { calls, cluster, onLeader } = recording([]);
    // A targeted bus (no target on the in-process one), its round trips over an in-process link.
    const bus = { name: 'nats', link: () => new MemoryLink() } as unknown as Bus;
    const roundTripEcho = { how: 'echo in another process', echo: (link: BusLink) => (calls.push('echo'), localEcho(link)) };
    const out = await measureConfig(bus, cluster, onLeader, { ...load, probeMs: 20, steadyMaxMs: 0, roundTripEcho });
    expect(calls).toEqual(['settle', 'echo', 'window', 'settle', 'echo']);
    expect(out.adjacent.roundTripHow).toBe('echo in another process');
    const { before, after } = out.adjacent.roundTripMs!;
    expect(before).toBeGreaterThan(0);
    expect(after).toBeGreaterThan(0);
    const baselines: BusBaselines = { bus: 'nats', roundTripMs: new Map([[128, { p50: 0.1, p99: 0.2, p999: 0.3 }]]), oneWay: new Map() };
    const config = { name: 'cluster-mp/nats/memory/128b/c1', bus: 'nats', storage: 'memory' as const, payloadBytes: 128, concurrency: 1, settled: true, elections: 0, setup: 'setup' };
    const adjacent = { roundTripMs: { before: 0.2, after: 0.3, value: 0.25 }, roundTripHow: out.adjacent.roundTripHow };
    const [latency] = configResults({ ...config, run: { ...out.run, latenciesMs: [0.5] } }, baselines, new Map(), adjacent);
    expect(latency.baseline).toEqual({ name: 'nats raw round trip p50 (128 B, echo in another process), mean of just before and just after this window', value: 0.25, unit: 'ms' });
    expect(latency.ratio).toBe(2);
    expect(latency.notes).toContain("raw round trip p50 (echo in another process) 0.2 ms just before the window, 0.3 ms just after (in-process echo, 0.1 ms at the start of this bus's runs)");
  });

  it("a cluster's first configuration warms up longer; steadyMaxMs 0 means none", async () => {
    const fresh = recording([]);
    await measureConfig(memoryBus, fresh.cluster, fresh.onLeader, { ...load, fresh: true });
    expect(fresh.calls.filter((c) => c === 'slice')).toHaveLength(FRESH_WARM_UP_MIN_MS / WARM_UP_SLICE_MS);
    const none = recording([]);
    const out = await measureConfig(memoryBus, none.cluster, none.onLeader, { ...load, steadyMaxMs: 0 });
    expect(none.calls).toEqual(['settle', 'window']);
    expect(out).not.toHaveProperty('warmUp');
  });
});

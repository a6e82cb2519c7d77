// The run both cluster suites share, with a stand-in cluster on the memory
// bus: the order and names of its results, and what a configuration that
// cannot run gives instead (a cluster that does not start, a failure
// amid its configurations).
import { describe, expect, it } from 'vitest';
import type { ClosedLoopResult } from '../src/cluster/closed-loop.js';
import { runClusters, type ClusterKind, type RunningCluster } from '../src/cluster/suite-runner.js';
import type { BenchResult } from '../src/results.js';

const LOOP: ClosedLoopResult = { commitsPerSecond: 1000, commits: 100, windowMs: 100, latenciesMs: [1, 1, 1], errors: 0, errorKinds: [] };

/** A cluster that is always settled, and whether it was stopped. */
function standIn(): { cluster: RunningCluster; stopped: () => boolean } {
  let stopped = false;
  return { cluster: { settle: async () => true, term: () => 1, stop: async () => void (stopped = true) }, stopped: () => stopped };
}

/** A kind of stand-in clusters whose closed loops fail from the `failAt`th on (1-based). */
function kindOf(
  standing: ReturnType<typeof standIn>,
  o: { startFails?: boolean; failAt?: number; failureSkipsTheRest?: boolean },
): ClusterKind<'memory', RunningCluster> {
  let loops = 0;
  return {
    prefix: 'test',
    defaults: { buses: ['memory'], storages: ['memory'], payloadSizes: [128], concurrency: [1, 8] },
    starting: 'a stand-in',
    start: async () => {
      if (o.startFails) throw new Error('no cluster here');
      return standing.cluster;
    },
    closedLoopOnLeader: async () => {
      if (++loops >= (o.failAt ?? Infinity)) throw new Error('a node died');
      return LOOP;
    },
    nodes: 'stand-in nodes',
    proposals: 'proposals nowhere',
    extraParams: { processes: 3 },
    skippedNote: 'a stand-in',
    failureSkipsTheRest: o.failureSkipsTheRest ?? false,
  };
}

const QUICK = { quick: true, baselineDurationMs: 20, durationMs: 20, warmupMs: 0 } as const;
const CONFIGS = ['test/memory/memory/128b/c1', 'test/memory/memory/128b/c1/throughput', 'test/memory/memory/128b/c8', 'test/memory/memory/128b/c8/throughput'];
const names = (results: BenchResult[]): string[] => results.map((r) => r.name);

describe('runClusters', () => {
  it('gives the bus baselines, then both results of each configuration in order, with the kind\'s setup and params', async () => {
    const c = standIn();
    const results = await runClusters(kindOf(c, {}), QUICK);
    expect(names(results)).toEqual(['baseline/memory/rtt/128b', 'baseline/memory/one-way/128b', ...CONFIGS]);
    const latency = results[2]!;
    expect(latency.params).toMatchObject({ bus: 'memory', storage: 'memory', payloadBytes: 128, concurrency: 1, nodes: 3, processes: 3, commits: 100 });
    expect(latency.notes).toMatch(/\. stand-in nodes on in-process.*; memory storage; proposals nowhere; host options \{/);
    expect(c.stopped()).toBe(true);
  });

  it('gives every configuration of a cluster that did not start, value 0 and saying why', async () => {
    const results = await runClusters(kindOf(standIn(), { startFails: true }), QUICK);
    const skipped = results.slice(2);
    expect(names(skipped)).toEqual(CONFIGS);
    for (const r of skipped) {
      expect(r.value).toBe(0);
      expect(r.params).toEqual({ bus: 'memory', storage: 'memory', payloadBytes: 128, concurrency: r.name.includes('/c1') ? 1 : 8, processes: 3 });
      expect(r.notes).toBe('failed: the cluster did not start: no cluster here. a stand-in');
    }
  });

  it('keeps what was measured before a failure and gives the rest as failed, if the kind says so', async () => {
    const c = standIn();
    const results = await runClusters(kindOf(c, { failAt: 2, failureSkipsTheRest: true }), QUICK);
    expect(names(results.slice(2))).toEqual(CONFIGS);
    expect(results[2]!.value).toBeGreaterThan(0);
    expect(results[4]!.notes).toBe('failed: a node died. a stand-in');
    expect(results[5]!.value).toBe(0);
    expect(c.stopped()).toBe(true);
  });

  it('otherwise throws the failure, the cluster stopped', async () => {
    const c = standIn();
    await expect(runClusters(kindOf(c, { failAt: 2 }), QUICK)).rejects.toThrow('a node died');
    expect(c.stopped()).toBe(true);
  });
});

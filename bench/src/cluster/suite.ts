// The cluster suite: for each bus, found or started once, its raw
// baselines, then 3-node clusters on it for each storage, payload size and
// number of closed-loop proposers. Each configuration gives two results:
//
//   cluster/<bus>/<storage>/<size>/c<n>             p50 commit latency ÷ the
//       bus's raw round trip at that size (target ≤ 2 with 1 proposer), with p50/p99/p999;
//   cluster/<bus>/<storage>/<size>/c<n>/throughput  commits/s ÷ the bus's raw
//       one-way rate at that size (target ≥ 0.5 with 1024 proposers).
//
// File-storage results also carry the disk's fdatasync rate in their notes.
// The run itself, shared with cluster-mp, is suite-runner.ts's. A bus that
// cannot be had gives one result per configuration, and one per raw
// baseline, with notes "skipped: <why>".
import type { BenchResult } from '../results.js';
import type { Suite } from '../suites.js';
import { ALL_BUSES, type BusName } from '../baselines/buses.js';
import { sizeLabel } from '../baselines/sizes.js';
import { BenchCluster, type StorageKind } from './bench-cluster.js';
import { closedLoop } from './closed-loop.js';
import { durationFromEnv, runClusters, type ClusterKind, type ClusterRunOptions } from './suite-runner.js';

export type ClusterSuiteOptions = ClusterRunOptions<BusName>;

export const DEFAULT_STORAGES: readonly StorageKind[] = ['file', 'memory'];
export const DEFAULT_PAYLOAD_SIZES: readonly number[] = [128, 1024];
export const DEFAULT_CONCURRENCY: readonly number[] = [1, 64, 1024];

/** Three RaftNodes sharing this process's event loop, on any bus. */
const inProcess: ClusterKind<BusName, BenchCluster> = {
  prefix: 'cluster',
  defaults: { buses: ALL_BUSES, storages: DEFAULT_STORAGES, payloadSizes: DEFAULT_PAYLOAD_SIZES, concurrency: DEFAULT_CONCURRENCY },
  starting: 'a 3-node cluster',
  start: (bus, storage, tmpDir) => BenchCluster.start({ bus, storage, tmpDir }),
  closedLoopOnLeader: (cluster, loop) => closedLoop(() => cluster.leader() ?? cluster.nodes[0]!, loop),
  nodes: '3 nodes in one process',
  proposals: 'proposals on the leader',
  busSkipped: skippedBaselines,
};

/**
 * For `pnpm bench`: RAFTBUS_BENCH_CLUSTER_MS sets the measured window per
 * configuration, RAFTBUS_BENCH_BUSES (e.g. "memory,nats") the buses.
 */
export const clusterSuite: Suite = {
  name: 'cluster',
  title: '3-node clusters on each bus, against the bus\'s raw round trip and one-way rate (and the disk\'s fsync rate)',
  run: ({ quick, log }) => {
    const buses = process.env['RAFTBUS_BENCH_BUSES']?.split(',').map((b) => b.trim()) as BusName[] | undefined;
    const unknown = buses?.filter((b) => !ALL_BUSES.includes(b)) ?? [];
    if (unknown.length > 0) throw new Error(`RAFTBUS_BENCH_BUSES: unknown bus ${unknown.join(', ')}; known: ${ALL_BUSES.join(', ')}`);
    return runClusterSuite({ quick, log, ...durationFromEnv(), ...(buses !== undefined && { buses }) });
  },
};

export function runClusterSuite(opts: ClusterSuiteOptions = {}): Promise<BenchResult[]> {
  return runClusters(inProcess, opts);
}

/**
 * This suite's results hold every bus's raw baselines, so a bus that cannot
 * be had keeps their rows too, each saying why.
 */
function skippedBaselines(bus: BusName, payloadSizes: readonly number[], why: string): BenchResult[] {
  const results: BenchResult[] = [];
  for (const size of payloadSizes) {
    for (const [kind, unit] of [['rtt', 'ms'], ['one-way', 'msgs/s']] as const) {
      const params = { bus, payloadBytes: size };
      results.push({ name: `baseline/${bus}/${kind}/${sizeLabel(size)}`, params, value: 0, unit, notes: why });
    }
  }
  return results;
}

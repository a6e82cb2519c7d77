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
// One cluster per bus and storage runs every payload and concurrency in
// turn (a warm-up before each), which keeps Kafka's topic set-up out of
// the budget. A bus that cannot be had gives one result per configuration
// with notes "skipped: <why>".
import { tmpdir } from 'node:os';
import type { BenchResult } from '../results.js';
import type { Suite } from '../suites.js';
import { ALL_BUSES, openBus, type Bus, type BusName } from '../baselines/buses.js';
import { sizeLabel } from '../baselines/sizes.js';
import { measureBus, measureFsync, type BusBaselines, type FsyncBaselines } from '../baselines/suite.js';
import { BenchCluster, CLUSTER_NODE_OPTIONS, type StorageKind } from './bench-cluster.js';
import { closedLoop, type ClosedLoopOptions, type ClosedLoopResult } from './closed-loop.js';
import { configResults, measureConfig } from './config-results.js';

export interface ClusterSuiteOptions {
  /** Short durations for a smoke run. */
  quick?: boolean;
  buses?: readonly BusName[];
  storages?: readonly StorageKind[];
  payloadSizes?: readonly number[];
  concurrency?: readonly number[];
  /** Measured window per configuration (ms). Default 3000; quick 300. */
  durationMs?: number;
  /** Load before each window, not measured (ms). Default 1000; quick 150. */
  warmupMs?: number;
  /**
   * Before each configuration's probes, load in short slices until p50
   * stops falling (see warm-up.ts), for at most this long (ms); 0 for none.
   * Default 10000; quick 0.
   */
  steadyMaxMs?: number;
  /** A window lasts until this many proposals started in it (up to 3 × durationMs). Default 1000; quick 1. */
  minSamples?: number;
  /** Each raw-bus baseline measurement (ms). Default 2000; quick 300. */
  baselineDurationMs?: number;
  /** Each raw-bus probe just before and after a targeted configuration (ms). Default 1000; quick 100. */
  probeMs?: number;
  /** Each fsync measurement (ms). Default 1000; quick 200. */
  fsyncDurationMs?: number;
  /** Where file storages and the fsync probe write. Default os.tmpdir(). */
  tmpDir?: string;
  /** Progress lines; default none. */
  log?: (line: string) => void;
}

export const DEFAULT_STORAGES: readonly StorageKind[] = ['file', 'memory'];
export const DEFAULT_PAYLOAD_SIZES: readonly number[] = [128, 1024];
export const DEFAULT_CONCURRENCY: readonly number[] = [1, 64, 1024];

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * For `pnpm bench`: RAFTBUS_BENCH_CLUSTER_MS sets the measured window per
 * configuration, RAFTBUS_BENCH_BUSES (e.g. "memory,nats") the buses.
 */
export const clusterSuite: Suite = {
  name: 'cluster',
  title: '3-node clusters on each bus, against the bus\'s raw round trip and one-way rate (and the disk\'s fsync rate)',
  run: ({ quick, log }) => {
    const ms = Number(process.env['RAFTBUS_BENCH_CLUSTER_MS']);
    const buses = process.env['RAFTBUS_BENCH_BUSES']?.split(',').map((b) => b.trim()) as BusName[] | undefined;
    const unknown = buses?.filter((b) => !ALL_BUSES.includes(b)) ?? [];
    if (unknown.length > 0) throw new Error(`RAFTBUS_BENCH_BUSES: unknown bus ${unknown.join(', ')}; known: ${ALL_BUSES.join(', ')}`);
    return runClusterSuite({ quick, log, ...(ms > 0 && { durationMs: ms }), ...(buses !== undefined && { buses }) });
  },
};

export async function runClusterSuite(opts: ClusterSuiteOptions = {}): Promise<BenchResult[]> {
  const quick = opts.quick ?? false;
  const o = {
    buses: opts.buses ?? ALL_BUSES,
    storages: opts.storages ?? DEFAULT_STORAGES,
    payloadSizes: opts.payloadSizes ?? DEFAULT_PAYLOAD_SIZES,
    concurrency: opts.concurrency ?? DEFAULT_CONCURRENCY,
    durationMs: opts.durationMs ?? (quick ? 300 : 3_000),
    warmupMs: opts.warmupMs ?? (quick ? 150 : 1_000),
    steadyMaxMs: opts.steadyMaxMs ?? (quick ? 0 : 10_000),
    minSamples: opts.minSamples ?? (quick ? 1 : 1_000),
    baselineDurationMs: opts.baselineDurationMs ?? (quick ? 300 : 2_000),
    probeMs: opts.probeMs ?? (quick ? 100 : 1_000),
    fsyncDurationMs: opts.fsyncDurationMs ?? (quick ? 200 : 1_000),
    tmpDir: opts.tmpDir ?? tmpdir(),
    log: opts.log ?? (() => undefined),
  };
  const results: BenchResult[] = [];
  let fsync: FsyncBaselines = new Map();
  if (o.storages.includes('file')) {
    o.log(`baselines: fsync in ${o.tmpDir}`);
    const measured = await measureFsync(o.tmpDir, o.payloadSizes, o.fsyncDurationMs);
    fsync = measured.fdatasync;
    results.push(...measured.results);
  }
  for (const name of o.buses) {
    o.log(`${name}: finding the bus`);
    const bus = await openBus(name);
    if ('skipped' in bus) {
      o.log(`${name}: skipped: ${bus.skipped}`);
      for (const size of o.payloadSizes) {
        for (const [kind, unit] of [['rtt', 'ms'], ['one-way', 'msgs/s']] as const) {
          const params = { bus: name, payloadBytes: size };
          results.push({ name: `baseline/${name}/${kind}/${sizeLabel(size)}`, params, value: 0, unit, notes: `skipped: ${bus.skipped}` });
        }
      }
      results.push(...skippedResults(name, o, `skipped: ${bus.skipped}`));
      continue;
    }
    try {
      o.log(`${name}: raw baselines`);
      const measured = await measureBus(bus, { payloadSizes: o.payloadSizes, durationMs: o.baselineDurationMs });
      results.push(...measured.results);
      for (const storage of o.storages) {
        results.push(...(await runOnCluster(bus, storage, measured.baselines, fsync, o)));
      }
    } finally {
      await bus.stop().catch(() => undefined);
    }
  }
  return results;
}

interface Resolved {
  payloadSizes: readonly number[];
  concurrency: readonly number[];
  durationMs: number;
  warmupMs: number;
  steadyMaxMs: number;
  minSamples: number;
  probeMs: number;
  tmpDir: string;
  log: (line: string) => void;
}

function configName(bus: BusName, storage: StorageKind, size: number, concurrency: number): string {
  return `cluster/${bus}/${storage}/${sizeLabel(size)}/c${concurrency}`;
}

async function runOnCluster(
  bus: Bus,
  storage: StorageKind,
  baselines: BusBaselines,
  fsync: FsyncBaselines,
  o: Resolved,
): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  o.log(`${bus.name}/${storage}: starting a 3-node cluster`);
  let cluster: BenchCluster;
  try {
    cluster = await BenchCluster.start({ bus, storage, tmpDir: o.tmpDir });
  } catch (e) {
    return skippedResults(bus.name, { ...o, storages: [storage] }, `failed: the cluster did not start: ${message(e)}`);
  }
  try {
    for (const size of o.payloadSizes) {
      for (const concurrency of o.concurrency) {
        const name = configName(bus.name, storage, size, concurrency);
        o.log(`${name}`);
        const onLeader = (loop: ClosedLoopOptions): Promise<ClosedLoopResult> => closedLoop(() => cluster.leader() ?? cluster.nodes[0]!, loop);
        const fresh = results.length === 0;
        const { run, adjacent, settled, elections, warmUp } = await measureConfig(bus, cluster, onLeader, { ...o, payloadBytes: size, concurrency, fresh });
        const setup = `3 nodes in one process on ${bus.where}; ${storage} storage; proposals on the leader; host options ${JSON.stringify(CLUSTER_NODE_OPTIONS)}`;
        results.push(
          ...configResults(
            { name, bus: bus.name, storage, payloadBytes: size, concurrency, run, settled, elections, setup, ...(warmUp && { warmUp }) },
            baselines,
            fsync,
            adjacent,
          ),
        );
      }
    }
  } finally {
    await cluster.stop();
  }
  return results;
}

/** The results of every configuration of `bus` that could not run, each saying why. */
function skippedResults(
  bus: BusName,
  o: { storages?: readonly StorageKind[]; payloadSizes: readonly number[]; concurrency: readonly number[] },
  why: string,
): BenchResult[] {
  const results: BenchResult[] = [];
  for (const storage of o.storages ?? DEFAULT_STORAGES) {
    for (const size of o.payloadSizes) {
      for (const concurrency of o.concurrency) {
        const name = configName(bus, storage, size, concurrency);
        const params = { bus, storage, payloadBytes: size, concurrency };
        results.push({ name, params, value: 0, unit: 'ms', notes: why });
        results.push({ name: `${name}/throughput`, params, value: 0, unit: 'commits/s', notes: why });
      }
    }
  }
  return results;
}

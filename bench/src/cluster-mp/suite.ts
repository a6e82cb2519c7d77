// The cluster-mp suite: the cluster suite's measurement with each of the 3
// nodes in its own OS process, as real deployments run them, so the
// followers' work no longer competes with the leader's critical path in one
// event loop. Only network buses (redis, nats; the in-process bus cannot
// span processes), memory and file storage, 128 B payloads, 1 and 1024
// closed-loop proposers (run inside the leader's process). Results:
//
//   cluster-mp/<bus>/<storage>/<size>/c<n>             p50 commit latency ÷ the
//       bus's raw round trip (target ≤ 2 with 1 proposer), with p50/p99/p999;
//   cluster-mp/<bus>/<storage>/<size>/c<n>/throughput  commits/s ÷ the bus's raw
//       one-way rate (target ≥ 0.5 with 1024 proposers).
//
// The baselines are measured in the same run by the cluster suite's own
// functions (openBus, measureBus, measureFsync) and included in the results.
import { tmpdir } from 'node:os';
import type { BenchResult } from '../results.js';
import type { Suite } from '../suites.js';
import { openBus, type Bus } from '../baselines/buses.js';
import { sizeLabel } from '../baselines/sizes.js';
import { measureBus, measureFsync, type BusBaselines, type FsyncBaselines } from '../baselines/suite.js';
import { CLUSTER_NODE_OPTIONS, type StorageKind } from '../cluster/bench-cluster.js';
import { configResults, measureConfig, SETTLE_TIMEOUT_MS } from '../cluster/config-results.js';
import type { ClosedLoopOptions, ClosedLoopResult } from '../cluster/closed-loop.js';
import type { BusLink } from '../baselines/bus-link.js';
import { MpCluster } from './mp-cluster.js';
import { ECHO_IN_ANOTHER_PROCESS, remoteEcho } from './remote-echo.js';
import type { NetworkBus } from './protocol.js';

export interface ClusterMpSuiteOptions {
  quick?: boolean;
  buses?: readonly NetworkBus[];
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
  tmpDir?: string;
  log?: (line: string) => void;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** RAFTBUS_BENCH_CLUSTER_MS sets the measured window per configuration, as for the cluster suite. */
export const clusterMpSuite: Suite = {
  name: 'cluster-mp',
  title: '3-node clusters with one process per node, against the bus\'s raw round trip and one-way rate',
  run: ({ quick, log }) => {
    const ms = Number(process.env['RAFTBUS_BENCH_CLUSTER_MS']);
    return runClusterMpSuite({ quick, log, ...(ms > 0 && { durationMs: ms }) });
  },
};

export async function runClusterMpSuite(opts: ClusterMpSuiteOptions = {}): Promise<BenchResult[]> {
  const quick = opts.quick ?? false;
  const o = {
    buses: opts.buses ?? (['redis', 'nats'] as const),
    storages: opts.storages ?? (['file', 'memory'] as const),
    payloadSizes: opts.payloadSizes ?? [128],
    concurrency: opts.concurrency ?? [1, 1024],
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
      results.push(...skippedResults(name, o, `skipped: ${bus.skipped}`));
      continue;
    }
    try {
      o.log(`${name}: raw baselines`);
      const measured = await measureBus(bus, { payloadSizes: o.payloadSizes, durationMs: o.baselineDurationMs });
      results.push(...measured.results);
      for (const storage of o.storages) {
        results.push(...(await runOnCluster(bus as Bus & { name: NetworkBus }, storage, measured.baselines, fsync, o)));
      }
    } finally {
      await bus.stop().catch(() => undefined);
    }
  }
  return results;
}

/** The server's address, for the node processes to connect to. */
function serverUrl(bus: Bus): string {
  if (bus.url === undefined) throw new Error(`cluster-mp: the ${bus.name} bus has no server to connect node processes to`);
  return bus.url;
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

function configName(bus: NetworkBus, storage: StorageKind, size: number, concurrency: number): string {
  return `cluster-mp/${bus}/${storage}/${sizeLabel(size)}/c${concurrency}`;
}

async function runOnCluster(
  bus: Bus & { name: NetworkBus },
  storage: StorageKind,
  baselines: BusBaselines,
  fsync: FsyncBaselines,
  o: Resolved,
): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  o.log(`${bus.name}/${storage}: starting 3 node processes`);
  let cluster: MpCluster;
  try {
    cluster = await MpCluster.start({ bus, url: serverUrl(bus), storage, tmpDir: o.tmpDir });
  } catch (e) {
    return skippedResults(bus.name, { ...o, storages: [storage] }, `failed: the cluster did not start: ${message(e)}`);
  }
  // Every hop of these clusters crosses processes; so does the round trip they are read against.
  const url = serverUrl(bus);
  const roundTripEcho = { how: ECHO_IN_ANOTHER_PROCESS, echo: (link: BusLink) => remoteEcho(bus.name, url, link) };
  try {
    for (const size of o.payloadSizes) {
      for (const concurrency of o.concurrency) {
        const name = configName(bus.name, storage, size, concurrency);
        o.log(name);
        const onLeader = (loop: ClosedLoopOptions): Promise<ClosedLoopResult> => cluster.closedLoopOnLeader(loop, SETTLE_TIMEOUT_MS);
        const fresh = results.length === 0;
        const load = { ...o, payloadBytes: size, concurrency, fresh, roundTripEcho };
        const { run, adjacent, settled, elections, warmUp } = await measureConfig(bus, cluster, onLeader, load);
        const setup = `one process per node (3 node processes) on ${bus.where}; ${storage} storage; proposals in the leader's process; host options ${JSON.stringify(CLUSTER_NODE_OPTIONS)}`;
        results.push(
          ...configResults(
            { name, bus: bus.name, storage, payloadBytes: size, concurrency, run, settled, elections, setup, extraParams: { processes: 3 }, ...(warmUp && { warmUp }) },
            baselines,
            fsync,
            adjacent,
          ),
        );
      }
    }
  } catch (e) {
    // A node process died or a request failed: what was measured stands, the rest says why.
    o.log(`${bus.name}/${storage}: failed: ${message(e)}`);
    const done = new Set(results.map((r) => r.name));
    results.push(...skippedResults(bus.name, { ...o, storages: [storage] }, `failed: ${message(e)}`).filter((r) => !done.has(r.name)));
  } finally {
    await cluster.stop();
  }
  return results;
}

/** The results of every configuration of `bus` that could not run, each saying why. */
function skippedResults(
  bus: NetworkBus,
  o: { storages: readonly StorageKind[]; payloadSizes: readonly number[]; concurrency: readonly number[] },
  why: string,
): BenchResult[] {
  const results: BenchResult[] = [];
  for (const storage of o.storages) {
    for (const size of o.payloadSizes) {
      for (const concurrency of o.concurrency) {
        const name = configName(bus, storage, size, concurrency);
        const params = { bus, storage, payloadBytes: size, concurrency, processes: 3 };
        results.push({ name, params, value: 0, unit: 'ms', notes: `${why}. one process per node` });
        results.push({ name: `${name}/throughput`, params, value: 0, unit: 'commits/s', notes: `${why}. one process per node` });
      }
    }
  }
  return results;
}

// The run both cluster suites make (cluster: 3 nodes in one process;
// cluster-mp: one process per node). For each bus, found or started once,
// its raw baselines, then a cluster per storage, which runs every payload
// size and number of closed-loop proposers in turn (one cluster for all of
// them keeps Kafka's topic set-up out of the budget). The disk's fsync rate
// is measured once, first, if any storage is a file. Each configuration
// gives two results:
//
//   <prefix>/<bus>/<storage>/<size>/c<n>             p50 commit latency ÷ raw round trip;
//   <prefix>/<bus>/<storage>/<size>/c<n>/throughput  commits/s ÷ raw one-way rate.
//
// A configuration that cannot run still gives both, value 0, its notes
// saying why, so each suite's table keeps its shape. What makes a suite's
// clusters what they are (how one starts, where its proposers run, what its
// notes say) is its ClusterKind.
import { tmpdir } from 'node:os';
import type { BenchResult } from '../results.js';
import { openBus, type Bus, type BusName } from '../baselines/buses.js';
import { sizeLabel } from '../baselines/sizes.js';
import { measureBus, measureFsync, type BusBaselines, type FsyncBaselines } from '../baselines/suite.js';
import { CLUSTER_NODE_OPTIONS, NODE_IDS, type StorageKind } from './bench-cluster.js';
import type { ClosedLoopOptions, ClosedLoopResult } from './closed-loop.js';
import { configResults, measureConfig, type ConfigLoad, type MeasuredCluster } from './config-results.js';

export interface ClusterRunOptions<B extends BusName> {
  /** Short durations for a smoke run. */
  quick?: boolean;
  /** The configurations; each defaults to the suite's own (ClusterKind.defaults). */
  buses?: readonly B[];
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

/** The configurations a suite runs unless its options say otherwise. */
export interface ClusterMatrix<B extends BusName> {
  buses: readonly B[];
  storages: readonly StorageKind[];
  payloadSizes: readonly number[];
  concurrency: readonly number[];
}

/** A started cluster, as the runner measures and stops it. */
export interface RunningCluster extends MeasuredCluster {
  stop(): Promise<void>;
}

/** What one suite's clusters are; everything else about the run is shared. */
export interface ClusterKind<B extends BusName, C extends RunningCluster> {
  /** The first part of every configuration's result name ("cluster"). */
  prefix: string;
  defaults: ClusterMatrix<B>;
  /** What the log says is starting ("a 3-node cluster"). */
  starting: string;
  start(bus: Bus & { name: B }, storage: StorageKind, tmpDir: string): Promise<C>;
  /** Runs one closed loop of proposers on the cluster's leader. */
  closedLoopOnLeader(cluster: C, loop: ClosedLoopOptions): Promise<ClosedLoopResult>;
  /** The setup note's words for where the nodes run ("3 nodes in one process") and where proposals are made. */
  nodes: string;
  proposals: string;
  /** Where the round-trip probes' echo runs, if not in this process (asked once per started cluster). */
  roundTripEcho?(bus: Bus & { name: B }): ConfigLoad['roundTripEcho'];
  /** Params of every configuration's results beyond the common ones. */
  extraParams?: Record<string, number>;
  /** Said after the reason in the notes of a configuration that could not run. */
  skippedNote?: string;
  /** Results of a bus that cannot be had, before those of its configurations. */
  busSkipped?(bus: B, payloadSizes: readonly number[], why: string): BenchResult[];
  /**
   * A failure amid a cluster's configurations: true keeps what was measured
   * and gives the rest as failed, saying why; otherwise it is thrown (after
   * the cluster is stopped).
   */
  failureSkipsTheRest?: boolean;
}

/** The measured window per configuration from RAFTBUS_BENCH_CLUSTER_MS, if set: the same variable for both suites. */
export function durationFromEnv(): { durationMs?: number } {
  const ms = Number(process.env['RAFTBUS_BENCH_CLUSTER_MS']);
  return ms > 0 ? { durationMs: ms } : {};
}

type Resolved<B extends BusName> = Required<Omit<ClusterRunOptions<B>, 'quick'>>;

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Runs `kind`'s suite: every bus's baselines, then its clusters' configurations. */
export async function runClusters<B extends BusName, C extends RunningCluster>(
  kind: ClusterKind<B, C>,
  opts: ClusterRunOptions<B>,
): Promise<BenchResult[]> {
  const quick = opts.quick ?? false;
  const o: Resolved<B> = {
    buses: opts.buses ?? kind.defaults.buses,
    storages: opts.storages ?? kind.defaults.storages,
    payloadSizes: opts.payloadSizes ?? kind.defaults.payloadSizes,
    concurrency: opts.concurrency ?? kind.defaults.concurrency,
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
    const measured = await measureFsync(o.tmpDir, o.payloadSizes, o.fsyncDurationMs, NODE_IDS.length);
    fsync = measured.fdatasync;
    results.push(...measured.results);
  }
  for (const name of o.buses) {
    o.log(`${name}: finding the bus`);
    const bus = await openBus(name);
    if ('skipped' in bus) {
      o.log(`${name}: skipped: ${bus.skipped}`);
      const why = `skipped: ${bus.skipped}`;
      results.push(...(kind.busSkipped?.(name, o.payloadSizes, why) ?? []), ...skippedResults(kind, name, o, why));
      continue;
    }
    try {
      o.log(`${name}: raw baselines`);
      const measured = await measureBus(bus, { payloadSizes: o.payloadSizes, durationMs: o.baselineDurationMs });
      results.push(...measured.results);
      for (const storage of o.storages) {
        // openBus gives the bus it was asked for.
        results.push(...(await runOnCluster(kind, bus as Bus & { name: B }, storage, measured.baselines, fsync, o)));
      }
    } finally {
      await bus.stop().catch(() => undefined);
    }
  }
  return results;
}

function configName(prefix: string, bus: BusName, storage: StorageKind, size: number, concurrency: number): string {
  return `${prefix}/${bus}/${storage}/${sizeLabel(size)}/c${concurrency}`;
}

/** Every configuration of one storage, on one cluster of `kind`. */
async function runOnCluster<B extends BusName, C extends RunningCluster>(
  kind: ClusterKind<B, C>,
  bus: Bus & { name: B },
  storage: StorageKind,
  baselines: BusBaselines,
  fsync: FsyncBaselines,
  o: Resolved<B>,
): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  o.log(`${bus.name}/${storage}: starting ${kind.starting}`);
  let cluster: C;
  try {
    cluster = await kind.start(bus, storage, o.tmpDir);
  } catch (e) {
    return skippedResults(kind, bus.name, { ...o, storages: [storage] }, `failed: the cluster did not start: ${message(e)}`);
  }
  const onLeader = (loop: ClosedLoopOptions): Promise<ClosedLoopResult> => kind.closedLoopOnLeader(cluster, loop);
  const setup = `${kind.nodes} on ${bus.where}; ${storage} storage; ${kind.proposals}; host options ${JSON.stringify(CLUSTER_NODE_OPTIONS)}`;
  try {
    const roundTripEcho = kind.roundTripEcho?.(bus);
    for (const size of o.payloadSizes) {
      for (const concurrency of o.concurrency) {
        const name = configName(kind.prefix, bus.name, storage, size, concurrency);
        o.log(name);
        const fresh = results.length === 0;
        const load = { ...o, payloadBytes: size, concurrency, fresh, ...(roundTripEcho && { roundTripEcho }) };
        const { run, adjacent, settled, elections, warmUp } = await measureConfig(bus, cluster, onLeader, load);
        const config = { name, bus: bus.name, storage, payloadBytes: size, concurrency, run, settled, elections, setup };
        const extra = { ...(kind.extraParams && { extraParams: kind.extraParams }), ...(warmUp && { warmUp }) };
        results.push(...configResults({ ...config, ...extra }, baselines, fsync, adjacent));
      }
    }
  } catch (e) {
    if (!kind.failureSkipsTheRest) throw e;
    o.log(`${bus.name}/${storage}: failed: ${message(e)}`);
    const done = new Set(results.map((r) => r.name));
    results.push(...skippedResults(kind, bus.name, { ...o, storages: [storage] }, `failed: ${message(e)}`).filter((r) => !done.has(r.name)));
  } finally {
    await cluster.stop();
  }
  return results;
}

/** The results of every configuration of `bus` that could not run, each saying why. */
function skippedResults<B extends BusName>(
  kind: Pick<ClusterKind<B, RunningCluster>, 'prefix' | 'extraParams' | 'skippedNote'>,
  bus: B,
  o: Pick<Resolved<B>, 'storages' | 'payloadSizes' | 'concurrency'>,
  why: string,
): BenchResult[] {
  const notes = kind.skippedNote === undefined ? why : `${why}. ${kind.skippedNote}`;
  const results: BenchResult[] = [];
  for (const storage of o.storages) {
    for (const size of o.payloadSizes) {
      for (const concurrency of o.concurrency) {
        const name = configName(kind.prefix, bus, storage, size, concurrency);
        const params = { bus, storage, payloadBytes: size, concurrency, ...kind.extraParams };
        results.push({ name, params, value: 0, unit: 'ms', notes });
        results.push({ name: `${name}/throughput`, params, value: 0, unit: 'commits/s', notes });
      }
    }
  }
  return results;
}

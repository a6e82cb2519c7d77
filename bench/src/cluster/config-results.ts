// The two results of one measured cluster configuration, against the bus's
// raw speed from the same run: p50 commit latency ÷ raw round trip, and
// commits/s ÷ raw one-way rate, with the targets of issue #7. Shared by the
// cluster suite (3 nodes in one process) and cluster-mp (one per process).
import type { BenchResult } from '../results.js';
import { percentiles, sig4 } from '../baselines/percentiles.js';
import type { BusBaselines, FsyncBaselines } from '../baselines/suite.js';
import type { StorageKind } from './bench-cluster.js';
import type { ClosedLoopResult } from './closed-loop.js';

export const LATENCY_TARGET = 2;
export const THROUGHPUT_TARGET = 0.5;
/** The throughput target applies at this many proposers. */
export const THROUGHPUT_TARGET_CONCURRENCY = 1024;
/** Longest wait for the cluster to apply the previous configuration's backlog. */
export const SETTLE_TIMEOUT_MS = 30_000;

// The targets are about a real bus. The in-process bus's round trip is a few
// microseconds and its one-way rate millions of messages a second: a raft
// commit's event-loop turns alone exceed it, so its ratios are reported
// without a target.
const NO_TARGET_IN_PROCESS = 'no target on the in-process bus (its raw speed is event-loop bound, not a network)';
const targeted = (bus: string): boolean => bus !== 'memory';

/** Latency is a target with one proposer: with more, p50 is mostly queueing behind the others. */
function latencyVerdict(bus: string, concurrency: number, ratio: number): string {
  if (!targeted(bus)) return NO_TARGET_IN_PROCESS;
  if (concurrency !== 1) return `no target at ${concurrency} proposers (queueing)`;
  return `target ${ratio <= LATENCY_TARGET ? 'met' : 'missed'}`;
}

function throughputVerdict(bus: string, concurrency: number, ratio: number): string {
  if (!targeted(bus)) return NO_TARGET_IN_PROCESS;
  if (concurrency !== THROUGHPUT_TARGET_CONCURRENCY) return `no target at ${concurrency} proposer${concurrency === 1 ? '' : 's'}`;
  return `target ${ratio >= THROUGHPUT_TARGET ? 'met' : 'missed'}`;
}

export interface ConfigRun {
  /** The latency result's name; the throughput result adds "/throughput". */
  name: string;
  bus: string;
  storage: StorageKind;
  payloadBytes: number;
  concurrency: number;
  run: ClosedLoopResult;
  /** Whether the cluster had applied the previous configuration's backlog before this one. */
  settled: boolean;
  /** How far the term moved during the run. */
  elections: number;
  /** The first note: how the cluster ran (processes, bus, storage, options). */
  setup: string;
  /** Params beyond the common ones (e.g. processes). */
  extraParams?: Record<string, number>;
}

export function configResults(c: ConfigRun, baselines: BusBaselines, fsync: FsyncBaselines): [BenchResult, BenchResult] {
  const { run, bus, storage, payloadBytes: size, concurrency } = c;
  const p = percentiles(run.latenciesMs);
  // Without a single sample there are no percentiles: value 0, and the notes say why.
  const sampled = run.latenciesMs.length > 0;
  const params = {
    bus,
    storage,
    payloadBytes: size,
    concurrency,
    nodes: 3,
    ...c.extraParams,
    windowMs: Math.round(run.windowMs),
    commits: run.commits,
    samples: run.latenciesMs.length,
    errors: run.errors,
  };
  const common = [
    c.setup,
    ...(storage === 'file' && fsync.has(size) ? [`disk: ${Math.round(fsync.get(size)!.perSecond)} fdatasync/s raw at ${size} B`] : []),
    ...(c.settled ? [] : [`the cluster had not caught up with the previous configuration within ${SETTLE_TIMEOUT_MS / 1000} s`]),
    ...(c.elections > 0 ? [`the term moved by ${c.elections} during the run (an election)`] : []),
    ...(run.errors > 0 ? [`${run.errors} proposals failed: ${run.errorKinds.join('; ')}`] : []),
    ...(sampled ? [] : ['no proposal started in the window completed: raise durationMs']),
  ];
  const latencyMs = sampled ? { latencyMs: { p50: sig4(p.p50), p99: sig4(p.p99), p999: sig4(p.p999) } } : {};

  const latency: BenchResult = { name: c.name, params, value: sampled ? sig4(p.p50) : 0, unit: 'ms', ...latencyMs };
  const rtt = baselines.roundTripMs.get(size);
  if (rtt !== undefined && rtt.p50 > 0 && sampled) {
    const ratio = p.p50 / rtt.p50;
    latency.baseline = { name: `${bus} raw round trip p50 (${size} B)`, value: sig4(rtt.p50), unit: 'ms' };
    latency.ratio = sig4(ratio);
    latency.ratioMeaning = `p50 commit latency ÷ raw round trip p50 (target ≤ ${LATENCY_TARGET} with 1 proposer)`;
    latency.notes = [latencyVerdict(bus, concurrency, ratio), ...common].join('. ');
    if (targeted(bus) && concurrency === 1) latency.target = { ratioAtMost: LATENCY_TARGET };
  } else {
    latency.notes = ['no round-trip baseline: no ratio', ...common].join('. ');
  }

  const throughput: BenchResult = { name: `${c.name}/throughput`, params, value: Math.round(run.commitsPerSecond), unit: 'commits/s', ...latencyMs };
  const oneWay = baselines.oneWay.get(size);
  if (oneWay !== undefined && oneWay.perSecond > 0 && run.windowMs > 0) {
    const ratio = run.commitsPerSecond / oneWay.perSecond;
    throughput.baseline = { name: `${bus} raw one-way rate (${size} B)`, value: Math.round(oneWay.perSecond), unit: 'msgs/s' };
    throughput.ratio = sig4(ratio);
    throughput.ratioMeaning = `commits/s ÷ raw one-way msgs/s (target ≥ ${THROUGHPUT_TARGET} with ${THROUGHPUT_TARGET_CONCURRENCY} proposers)`;
    throughput.notes = [throughputVerdict(bus, concurrency, ratio), ...common].join('. ');
    if (targeted(bus) && concurrency === THROUGHPUT_TARGET_CONCURRENCY) throughput.target = { ratioAtLeast: THROUGHPUT_TARGET };
  } else {
    throughput.notes = ['no one-way baseline: no ratio', ...common].join('. ');
  }
  return [latency, throughput];
}

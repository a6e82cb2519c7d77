// The two results of one measured cluster configuration, against the bus's
// raw speed from the same run: p50 commit latency ÷ raw round trip, and
// commits/s ÷ raw one-way rate, with the targets of issue #7. Shared by the
// cluster suite (3 nodes in one process) and cluster-mp (one per process).
import type { BenchResult } from '../results.js';
import { percentiles, sig4 } from '../baselines/percentiles.js';
import { bracketed, probe, type AdjacentBaselines, type Bracket } from '../baselines/bracket.js';
import type { BusLink } from '../baselines/bus-link.js';
import type { Bus } from '../baselines/buses.js';
import type { Echo } from '../baselines/measure.js';
import type { BusBaselines, DiskBaseline, FsyncBaselines } from '../baselines/suite.js';
import type { StorageKind } from './bench-cluster.js';
import type { ClosedLoopOptions, ClosedLoopResult, WindowLoad } from './closed-loop.js';
import { warmUpNote, warmUpStep, type WarmUp } from './warm-up.js';

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

/** What measureConfig needs of a suite's cluster. */
export interface MeasuredCluster {
  /** Waits (at most `timeoutMs`) for every node to apply what was proposed; false if they did not. */
  settle(timeoutMs: number): Promise<boolean>;
  term(): number | Promise<number>;
}

/** How one configuration is loaded and timed (the suites' options, plus this configuration's). */
export interface ConfigLoad {
  payloadBytes: number;
  concurrency: number;
  /** Each raw-bus probe around a targeted window (ms). */
  probeMs: number;
  /** The window's own warm-up, its length and samples (ClosedLoopOptions). */
  warmupMs: number;
  durationMs: number;
  minSamples: number;
  /** The longest warm-up until steady before the probes (ms; 0: none). */
  steadyMaxMs: number;
  /** The cluster's first configuration (a longer warm-up). */
  fresh: boolean;
  /** Where the round-trip probes' echo runs, if not in this process, and how the notes say it. */
  roundTripEcho?: { echo: (link: BusLink) => Echo; how: string };
}

/**
 * Measures one configuration with closed loops run by `onLeader`: lets the
 * cluster apply the previous one's backlog, warms it up until steady (see
 * warm-up.ts), settles again, then measures a window. A configuration with
 * a target is bracketed by the raw measure it is read against (round trip
 * with one proposer, one-way rate with THROUGHPUT_TARGET_CONCURRENCY),
 * each `probeMs` long, the cluster settling again before the second probe.
 */
export async function measureConfig(
  bus: Bus,
  cluster: MeasuredCluster,
  onLeader: (loop: ClosedLoopOptions) => Promise<ClosedLoopResult>,
  c: ConfigLoad,
): Promise<Pick<ConfigRun, 'run' | 'settled' | 'elections' | 'warmUp'> & { adjacent: AdjacentBaselines }> {
  const { payloadBytes, concurrency } = c;
  let settled = await cluster.settle(SETTLE_TIMEOUT_MS);
  const termBefore = await cluster.term();
  const warm = warmUpStep(onLeader, { concurrency, payloadBytes, maxMs: c.steadyMaxMs, fresh: c.fresh });
  let warmUp: ConfigRun['warmUp'];
  if (warm !== undefined) {
    warmUp = { result: await warm.run(), sliceMs: warm.sliceMs };
    settled = (await cluster.settle(SETTLE_TIMEOUT_MS)) && settled;
  }
  const window = (): Promise<ClosedLoopResult> =>
    onLeader({ concurrency, payloadBytes, warmupMs: c.warmupMs, durationMs: c.durationMs, minSamples: c.minSamples });
  const kind = !targeted(bus.name) ? undefined : concurrency === 1 ? 'round-trip' : concurrency === THROUGHPUT_TARGET_CONCURRENCY ? 'one-way' : undefined;
  const echo = kind === 'round-trip' ? c.roundTripEcho : undefined;
  const { result: run, adjacent } =
    kind === undefined
      ? { result: await window(), adjacent: {} }
      : await bracketed(() => probe(bus, kind, payloadBytes, c.probeMs, echo?.echo), kind, window, () => cluster.settle(SETTLE_TIMEOUT_MS));
  if (echo !== undefined && adjacent.roundTripMs !== undefined) adjacent.roundTripHow = echo.how;
  return { run, adjacent, settled, elections: (await cluster.term()) - termBefore, ...(warmUp && { warmUp }) };
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
  /** The warm-up that ran before the probes, if any. */
  warmUp?: { result: WarmUp; sliceMs: number };
}

/**
 * The latency and throughput results of one configuration. Each ratio is
 * read against `adjacent` (the bus measured just before and after this
 * window) when given, else against the run's first `baselines`.
 */
export function configResults(
  c: ConfigRun,
  baselines: BusBaselines,
  fsync: FsyncBaselines,
  adjacent: AdjacentBaselines = {},
): [BenchResult, BenchResult] {
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
    ...(c.warmUp && { warmUpMs: Math.round(c.warmUp.result.ms) }),
    windowMs: Math.round(run.windowMs),
    commits: run.commits,
    samples: run.latenciesMs.length,
    errors: run.errors,
  };
  const common = [
    c.setup,
    ...(run.load ? [loadNote(run.load, run.commitsPerSecond)] : []),
    ...(storage === 'file' && fsync.has(size) ? [diskNote(size, fsync.get(size)!)] : []),
    ...(c.warmUp ? [warmUpNote(c.warmUp.result, c.warmUp.sliceMs)] : []),
    ...(c.settled ? [] : [`the cluster had not caught up with the previous configuration within ${SETTLE_TIMEOUT_MS / 1000} s`]),
    ...(c.elections > 0 ? [`the term moved by ${c.elections} during the run (an election)`] : []),
    ...(run.errors > 0 ? [`${run.errors} proposals failed: ${run.errorKinds.join('; ')}`] : []),
    ...(sampled ? [] : ['no proposal started in the window completed: raise durationMs']),
    ...(adjacent.failed !== undefined ? [`${adjacent.failed}; read against the run's first baseline`] : []),
  ];
  const latencyMs = sampled ? { latencyMs: { p50: sig4(p.p50), p99: sig4(p.p99), p999: sig4(p.p999) } } : {};

  const latency: BenchResult = { name: c.name, params, value: sampled ? sig4(p.p50) : 0, unit: 'ms', ...latencyMs };
  const first = baselines.roundTripMs.get(size)?.p50;
  const rttAround = adjacent.roundTripMs;
  const how = adjacent.roundTripHow;
  const rtt = rttAround?.value ?? first;
  if (rtt !== undefined && rtt > 0 && sampled) {
    const ratio = p.p50 / rtt;
    latency.baseline = {
      name: `${bus} raw round trip p50 (${size} B${how ? `, ${how}` : ''})${rttAround ? ', mean of just before and just after this window' : ''}`,
      value: sig4(rtt),
      unit: 'ms',
    };
    latency.ratio = sig4(ratio);
    latency.ratioMeaning = `p50 commit latency ÷ raw round trip p50 (target ≤ ${LATENCY_TARGET} with 1 proposer)`;
    const around = rttAround && aroundNote(how ? `round trip p50 (${how})` : 'round trip p50', rttAround, 'ms', first, how ? 'in-process echo, ' : '');
    const floor = storage === 'file' && targeted(bus) && concurrency === 1 ? durableFloorNote(p.p50, rtt, fsync.get(size)) : undefined;
    latency.notes = [latencyVerdict(bus, concurrency, ratio), ...(around ? [around] : []), ...(floor ? [floor] : []), ...common].join('. ');
    if (targeted(bus) && concurrency === 1) latency.target = { ratioAtMost: LATENCY_TARGET };
  } else {
    latency.notes = ['no round-trip baseline: no ratio', ...common].join('. ');
  }

  const throughput: BenchResult = { name: `${c.name}/throughput`, params, value: Math.round(run.commitsPerSecond), unit: 'commits/s', ...latencyMs };
  const firstRate = baselines.oneWay.get(size)?.perSecond;
  const rateAround = adjacent.oneWayPerSecond;
  const rate = rateAround?.value ?? firstRate;
  if (rate !== undefined && rate > 0 && run.windowMs > 0) {
    const ratio = run.commitsPerSecond / rate;
    throughput.baseline = {
      name: `${bus} raw one-way rate (${size} B)${rateAround ? ', mean of just before and just after this window' : ''}`,
      value: Math.round(rate),
      unit: 'msgs/s',
    };
    throughput.ratio = sig4(ratio);
    throughput.ratioMeaning = `commits/s ÷ raw one-way msgs/s (target ≥ ${THROUGHPUT_TARGET} with ${THROUGHPUT_TARGET_CONCURRENCY} proposers)`;
    const around = rateAround && aroundNote('one-way rate', rateAround, 'msgs/s', firstRate);
    throughput.notes = [throughputVerdict(bus, concurrency, ratio), ...(around ? [around] : []), ...common].join('. ');
    if (targeted(bus) && concurrency === THROUGHPUT_TARGET_CONCURRENCY) throughput.target = { ratioAtLeast: THROUGHPUT_TARGET };
  } else {
    throughput.notes = ['no one-way baseline: no ratio', ...common].join('. ');
  }
  return [latency, throughput];
}

/** How busy the proposers' process was: a configuration short of CPU shows a busy loop, one that waits (on a disk, a peer) an idle one. */
function loadNote(load: WindowLoad, commitsPerSecond: number): string {
  const perCommit = commitsPerSecond > 0 ? `, ${sig4((load.cores * 1e6) / commitsPerSecond)} µs per commit` : '';
  return `while measured, the proposers' process had its event loop busy ${Math.round(load.eventLoopBusy * 100)}% of the time and used ${load.cores.toFixed(2)} cores of CPU (all its threads${perCommit})`;
}

/** "disk: 3486 fdatasync/s raw at 128 B, 2290 each with 3 writers at once". */
function diskNote(size: number, disk: DiskBaseline): string {
  const shared = disk.shared ? `, ${Math.round(disk.shared.perSecond)} each with ${disk.shared.writers} writers at once` : '';
  return `disk: ${Math.round(disk.alone.perSecond)} fdatasync/s raw at ${size} B${shared}`;
}

/**
 * With file storage a commit also waits for a follower's fdatasync, which
 * the round trip does not hold: the same p50 read against the round trip
 * plus one fdatasync at the disk's raw rate, the least a durable commit can
 * take on a disk of its own. The cluster's nodes share one disk and flush
 * at the same moments, so it is also read against the round trip plus one
 * fdatasync among as many writers, the least a durable commit can take
 * here; where that alone exceeds the target, the target is out of this
 * machine's reach. For the reader only; the target stays the round trip's.
 */
function durableFloorNote(p50: number, rttMs: number, disk: DiskBaseline | undefined): string | undefined {
  if (disk === undefined || !(disk.alone.perSecond > 0)) return undefined;
  const fsyncMs = 1000 / disk.alone.perSecond;
  const alone =
    `against the round trip plus one fdatasync at the disk's raw rate (${sig4(rttMs)} + ${sig4(fsyncMs)} ms), ` +
    `the least a durable commit can take on a disk of its own: ${sig4(p50 / (rttMs + fsyncMs))}×`;
  const shared = disk.shared;
  if (shared === undefined || !(shared.perSecond > 0)) return `${alone} (three nodes share one disk here)`;
  const sharedMs = 1000 / shared.perSecond;
  const floor = (rttMs + sharedMs) / rttMs;
  const reach = floor > LATENCY_TARGET ? `, above the target of ${LATENCY_TARGET}: out of reach on this disk` : '';
  return (
    `${alone}; against the round trip plus one fdatasync among ${shared.writers} writers at once, as this cluster's nodes share the disk ` +
    `(${sig4(rttMs)} + ${sig4(sharedMs)} ms): ${sig4(p50 / (rttMs + sharedMs))}×, ` +
    `where a commit costing nothing more would be ${sig4(floor)}× the round trip${reach}`
  );
}

/** "raw round trip p50 0.161 ms just before the window, 0.172 ms just after (0.137 ms at the start of this bus's runs)". */
function aroundNote(what: string, b: Bracket, unit: string, first: number | undefined, firstHow = ''): string {
  const f = (x: number): string => (unit === 'ms' ? String(sig4(x)) : String(Math.round(x)));
  const start = first === undefined ? '' : ` (${firstHow}${f(first)} ${unit} at the start of this bus's runs)`;
  return `raw ${what} ${f(b.before)} ${unit} just before the window, ${f(b.after)} ${unit} just after${start}`;
}

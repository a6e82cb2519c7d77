// Closed-loop load: `concurrency` proposers, each proposing on the leader,
// awaiting the result, and proposing again. After a warm-up, a window is
// measured: commits/s counts the proposals that completed inside it;
// latencies are those of the proposals started inside it (awaited after it
// closes, so slow ones are not cut off the tail). The window lasts
// `durationMs`, longer if fewer than `minSamples` proposals started in it
// (p999 needs about a thousand), but not past `maxDurationMs` unless no
// proposal at all has started in it yet (then up to a minute more). Over
// the window it also reads how busy this process was (its event loop and
// its CPU), which tells a configuration short of CPU from one that waits.
import type { RaftNode } from '@raftbus/host';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export interface ClosedLoopOptions {
  concurrency: number;
  payloadBytes: number;
  warmupMs: number;
  durationMs: number;
  /** Default 1. */
  minSamples?: number;
  /** Default 3 × durationMs. */
  maxDurationMs?: number;
}

/** What the process running the proposers spent over the window. */
export interface WindowLoad {
  /** Fraction of the window the event loop was busy (perf_hooks eventLoopUtilization). */
  eventLoopBusy: number;
  /** CPU time of the whole process (user + system, all its threads) per ms of the window. */
  cores: number;
}

export interface ClosedLoopResult {
  /** Proposals completed inside the measured window, per second. */
  commitsPerSecond: number;
  commits: number;
  /** How long the window lasted. */
  windowMs: number;
  /** Latency (ms) of each proposal started inside the window. */
  latenciesMs: number[];
  /** Proposals refused or failed (backpressure, a change of leader, a timeout); the proposer goes on. */
  errors: number;
  /** One message of each kind of failure, for the notes. */
  errorKinds: string[];
  /** Absent when the window closed before its start was marked. */
  load?: WindowLoad;
}

/** Proposes on `leader()` (asked again after a failure, should the leader change). */
export async function closedLoop(leader: () => RaftNode<unknown>, o: ClosedLoopOptions): Promise<ClosedLoopResult> {
  // Every proposal carries the same bytes: the payload's content is not what is measured.
  const payload = new Uint8Array(o.payloadBytes).fill(0x61);
  const minSamples = o.minSamples ?? 1;
  const latencies: number[] = [];
  const errorKinds = new Map<string, string>();
  let errors = 0;
  let commits = 0;
  let startedInWindow = 0;
  const windowStart = performance.now() + o.warmupMs;
  const nominalEnd = windowStart + o.durationMs;
  const hardEnd = windowStart + (o.maxDurationMs ?? 3 * o.durationMs);
  const lastResort = hardEnd + 60_000;
  let closedAt: number | undefined;
  // The load is read from a timer at the window's start (late by at most
  // one turn of the loop) to the proposal that closes it.
  let loadFrom: { elu: EventLoopUtilization; cpu: NodeJS.CpuUsage } | undefined;
  let load: WindowLoad | undefined;
  const markStart = (): void => {
    loadFrom = { elu: performance.eventLoopUtilization(), cpu: process.cpuUsage() };
  };
  const startTimer = setTimeout(markStart, Math.max(0, o.warmupMs));
  const closed = (now: number): boolean => {
    if (closedAt !== undefined) return true;
    if (now < nominalEnd) return false;
    const enough = startedInWindow >= minSamples || (startedInWindow > 0 && now >= hardEnd) || now >= lastResort;
    if (!enough) return false;
    closedAt = now;
    if (loadFrom !== undefined) load = loadSince(loadFrom.elu, loadFrom.cpu);
    return true;
  };
  let node = leader();

  async function proposer(): Promise<void> {
    for (;;) {
      const start = performance.now();
      if (closed(start)) return;
      const inWindow = start >= windowStart;
      if (inWindow) startedInWindow++;
      try {
        await node.propose(payload);
        const end = performance.now();
        if (inWindow) latencies.push(end - start);
        if (end >= windowStart && (closedAt === undefined || end <= closedAt)) commits++;
      } catch (e) {
        errors++;
        const kind = e instanceof Error ? e.name : 'Error';
        if (!errorKinds.has(kind)) errorKinds.set(kind, `${kind}: ${e instanceof Error ? e.message : String(e)}`);
        node = leader();
        // Do not spin on a refusal: let the cluster move (elect, drain) first.
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  }

  await Promise.all(Array.from({ length: o.concurrency }, () => proposer()));
  clearTimeout(startTimer);
  const windowMs = (closedAt ?? performance.now()) - windowStart;
  return {
    commitsPerSecond: commits / (windowMs / 1000),
    commits,
    windowMs,
    latenciesMs: latencies,
    errors,
    errorKinds: [...errorKinds.values()],
    ...(load && { load }),
  };
}

function loadSince(elu: EventLoopUtilization, cpu: NodeJS.CpuUsage): WindowLoad | undefined {
  const { idle, active, utilization } = performance.eventLoopUtilization(elu);
  const spentUs = process.cpuUsage(cpu);
  const ms = idle + active;
  return ms > 0 ? { eventLoopBusy: utilization, cores: (spentUs.user + spentUs.system) / 1000 / ms } : undefined;
}

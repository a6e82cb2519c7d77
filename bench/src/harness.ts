// A small timing harness shaped like Go's testing.B: a benchmark is a
// function of n (the number of operations to do) that returns how many
// nanoseconds its timed part took. The harness grows n until one run lasts
// at least `minTimeMs`, then repeats and reports the median, since these
// machines are shared and one run can be disturbed.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/** Runs n operations; resolves to the nanoseconds spent on the timed part. */
export type BenchFn = (n: number) => number | Promise<number>;

export interface TimingOptions {
  /** Each measured run lasts at least this long (Go's -benchtime). */
  minTimeMs: number;
  /** Runs discarded first, so the JIT has compiled the hot paths. */
  warmupMs: number;
  /** Measured runs; the median is reported. */
  repeats: number;
}

export interface Timing {
  nsPerOp: number;
  opsPerSec: number;
  /** n of the median run. */
  n: number;
  /** ns/op of every measured run, in run order. */
  samples: number[];
}

export const FULL_TIMING: TimingOptions = { minTimeMs: 1000, warmupMs: 300, repeats: 3 };
export const QUICK_TIMING: TimingOptions = { minTimeMs: 20, warmupMs: 5, repeats: 1 };

/** Nanoseconds since an arbitrary origin, as a float (exact to well below a microsecond for hours). */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** Times a synchronous body over n iterations: the common case. */
export function timeLoop(n: number, body: (i: number) => void): number {
  const start = nowNs();
  for (let i = 0; i < n; i++) body(i);
  return nowNs() - start;
}

/** Grows n until one run takes at least minTimeMs; returns that run (n, ns). */
async function runUntil(fn: BenchFn, minTimeMs: number, startN = 1): Promise<{ n: number; ns: number }> {
  const goalNs = minTimeMs * 1e6;
  let n = startN;
  for (;;) {
    const ns = await fn(n);
    if (ns >= goalNs || n >= 1e9) return { n, ns };
    // As Go does: aim 20% past the goal from the rate seen so far, growing
    // at most 100-fold and at least by one.
    const perOp = Math.max(ns / n, 1);
    const next = Math.ceil((goalNs * 1.2) / perOp);
    n = Math.max(n + 1, Math.min(next, n * 100));
    // Let timers and I/O run between runs, as between Go's b.N rounds.
    await yieldToEventLoop();
  }
}

export async function measure(fn: BenchFn, opts: TimingOptions): Promise<Timing> {
  let n = 1;
  if (opts.warmupMs > 0) n = (await runUntil(fn, opts.warmupMs)).n;
  const runs: { n: number; nsPerOp: number }[] = [];
  for (let r = 0; r < Math.max(1, opts.repeats); r++) {
    // Start from the previous run's n so repeats do not re-grow from 1.
    const run = await runUntil(fn, opts.minTimeMs, Math.max(1, Math.floor(n / 2)));
    n = run.n;
    runs.push({ n: run.n, nsPerOp: run.ns / run.n });
  }
  const sorted = [...runs].sort((a, b) => a.nsPerOp - b.nsPerOp);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return {
    nsPerOp: median.nsPerOp,
    opsPerSec: 1e9 / median.nsPerOp,
    n: median.n,
    samples: runs.map((r) => r.nsPerOp),
  };
}

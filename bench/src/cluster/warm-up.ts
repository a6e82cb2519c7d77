// Load before a configuration is measured, until its latency stops falling.
//
// A fixed warm-up is not enough here. Right after the clusters start (or
// after a pause), commits are several times slower than a few seconds later,
// and the ramp is time, not work: on this VM, a cluster of three node
// processes commits with one proposer at ~2.5 ms p50 in its first second,
// ~1.6 in its third and ~0.9 from its fifth on, and 12 000 commits at 64
// proposers in the first second do not shorten it (so it is not the JIT;
// the node processes sit mostly idle through it). One process ramps in about
// a second. A ratio read on the ramp says more about the machine than about
// raftbus, and the bus probe taken before it is inflated the same way.
//
// So load runs in short slices, each a closed loop of its own, until a
// slice's p50 is no longer more than STEADY_DROP below the best slice
// before it (at least `minMs`, at most `maxMs` of load). A cold cluster's
// p50 may hold for seconds before it falls, which no rule on the slices
// alone can tell from steady: its first configuration loads at least
// FRESH_WARM_UP_MIN_MS.
import { percentiles } from '../baselines/percentiles.js';
import type { ClosedLoopOptions, ClosedLoopResult } from './closed-loop.js';

/** Each slice's closed loop lasts this long (ms). */
export const WARM_UP_SLICE_MS = 500;
/** Two slices: the first has nothing to be compared with. */
export const WARM_UP_MIN_MS = 2 * WARM_UP_SLICE_MS;
/**
 * A cluster's first configuration loads at least this long (ms): from cold,
 * p50 can hold for a couple of seconds before it falls (node processes with
 * file storage: ~2.2 ms for 2 s, then down to ~0.9 over the next 2).
 */
export const FRESH_WARM_UP_MIN_MS = 5_000;

/** A slice whose p50 is this much below every earlier one means the ramp is still on. */
export const STEADY_DROP = 0.1;

export interface WarmUpOptions {
  /** Load for at least this long (ms, the slices' windows added up). */
  minMs: number;
  /** Stop here even if p50 still falls. */
  maxMs: number;
}

export interface WarmUp {
  /** How long the load ran (ms): the slices' windows added up. */
  ms: number;
  /** Each slice's p50 latency (ms), in order; NaN for a slice in which nothing completed. */
  sliceP50sMs: number[];
  /** False when `maxMs` ended it while p50 was still falling. */
  steady: boolean;
}

/** Runs `slice` (a short closed loop) until its p50 stops falling; see the top of this file. */
export async function warmUp(slice: () => Promise<ClosedLoopResult>, o: WarmUpOptions): Promise<WarmUp> {
  const sliceP50sMs: number[] = [];
  let ms = 0;
  let best = Infinity;
  for (;;) {
    const r = await slice();
    ms += r.windowMs;
    const p50 = r.latenciesMs.length > 0 ? percentiles(r.latenciesMs).p50 : NaN;
    sliceP50sMs.push(p50);
    // A slice with nothing completed is not steady; the first one has nothing to be compared with.
    const steady = Number.isFinite(p50) && Number.isFinite(best) && p50 >= (1 - STEADY_DROP) * best;
    if (Number.isFinite(p50)) best = Math.min(best, p50);
    if (ms >= o.minMs && steady) return { ms, sliceP50sMs, steady: true };
    if (ms >= o.maxMs) return { ms, sliceP50sMs, steady: false };
  }
}

/** "warmed up 5.5 s before the probes, until p50 stopped falling (0.5 s slices: 2.5, 2.2, 1.6, 1.1, 0.95, 0.88 ms)". */
export function warmUpNote(w: WarmUp, sliceMs: number): string {
  const p50s = w.sliceP50sMs.map((x) => (Number.isFinite(x) ? String(Number(x.toPrecision(2))) : 'none')).join(', ');
  const why = w.steady ? 'until p50 stopped falling' : 'p50 still falling when the warm-up ended';
  return `warmed up ${(w.ms / 1000).toFixed(1)} s before the probes, ${why} (${sliceMs / 1000} s slices: ${p50s} ms)`;
}

/** A warm-up to run before a configuration's probes, and the length of its slices (for the notes). */
export interface WarmUpStep {
  run: () => Promise<WarmUp>;
  sliceMs: number;
}

/**
 * The warm-up of one configuration for `measureConfig`, each slice a
 * closed loop run by `closedLoop` (in this process or in the leader's), at
 * least FRESH_WARM_UP_MIN_MS long for a cluster's first configuration;
 * undefined when `maxMs` is 0 (no warm-up).
 */
export function warmUpStep(
  closedLoop: (o: ClosedLoopOptions) => Promise<ClosedLoopResult>,
  c: { concurrency: number; payloadBytes: number; maxMs: number; fresh: boolean },
): WarmUpStep | undefined {
  if (c.maxMs <= 0) return undefined;
  const { concurrency, payloadBytes } = c;
  const slice = (): Promise<ClosedLoopResult> => closedLoop({ concurrency, payloadBytes, warmupMs: 0, durationMs: WARM_UP_SLICE_MS });
  const minMs = Math.min(c.maxMs, c.fresh ? FRESH_WARM_UP_MIN_MS : WARM_UP_MIN_MS);
  return { sliceMs: WARM_UP_SLICE_MS, run: () => warmUp(slice, { minMs, maxMs: c.maxMs }) };
}

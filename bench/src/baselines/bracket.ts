// A baseline taken again around one measured window: the bus's raw speed
// just before and just after it, so that a ratio compares two measurements
// seconds apart rather than minutes. On a shared machine the raw round trip
// can move by half between the start of a bus's runs and its last
// configuration, far more than a change of ours does.
import type { BusLink } from './bus-link.js';
import type { Bus } from './buses.js';
import { oneWay, roundTrips, type Echo } from './measure.js';
import { percentiles } from './percentiles.js';

/** One raw measure taken just before and just after a window; `value`, the mean of the two, is what the window is read against. */
export interface Bracket {
  before: number;
  after: number;
  value: number;
}

/** What a targeted configuration is read against, when it could be measured around its window. */
export interface AdjacentBaselines {
  /** Raw round trip p50 (ms), for latency with one proposer. */
  roundTripMs?: Bracket;
  /** Raw one-way rate (msgs/s), for throughput with many proposers. */
  oneWayPerSecond?: Bracket;
  /** Why a probe around the window failed (the run's first baseline is used). */
  failed?: string;
  /** How the round-trip probes were taken, where not as the run's first baseline was (e.g. "echo in another process"). */
  roundTripHow?: string;
}

export type Probe = 'round-trip' | 'one-way';

/**
 * One raw measurement of `bus` at `payloadBytes`, over `durationMs`:
 * round-trip p50 (ms), the echo in this process unless `echo` puts it
 * elsewhere, or one-way rate (msgs/s).
 */
export async function probe(bus: Bus, kind: Probe, payloadBytes: number, durationMs: number, echo?: (link: BusLink) => Echo): Promise<number> {
  const link = bus.link();
  try {
    if (kind === 'round-trip') return percentiles(await roundTrips(link, { payloadBytes, durationMs, warmup: 10, maxSamples: 100_000 }, echo?.(link))).p50;
    const r = await oneWay(link, { payloadBytes, durationMs });
    if (r.received === 0) throw new Error(`no frame arrived (${r.lost} lost)`);
    return r.perSecond;
  } finally {
    await link.close().catch(() => undefined);
  }
}

/**
 * Runs `window` between two probes of kind `kind`; `between` runs after the
 * window and before the second probe (letting the cluster finish its
 * backlog). A probe that fails leaves the window's result standing, with
 * `failed` saying why.
 */
export async function bracketed<T>(
  measure: () => Promise<number>,
  kind: Probe,
  window: () => Promise<T>,
  between: () => Promise<unknown> = async () => undefined,
): Promise<{ result: T; adjacent: AdjacentBaselines }> {
  let before: number | undefined;
  let failed: string | undefined;
  try {
    before = await measure();
  } catch (e) {
    failed = `the ${kind} probe before the window failed: ${e instanceof Error ? e.message : String(e)}`;
  }
  const result = await window();
  await between();
  if (before === undefined) return { result, adjacent: { failed: failed! } };
  try {
    const after = await measure();
    const bracket = { before, after, value: (before + after) / 2 };
    return { result, adjacent: kind === 'round-trip' ? { roundTripMs: bracket } : { oneWayPerSecond: bracket } };
  } catch (e) {
    return { result, adjacent: { failed: `the ${kind} probe after the window failed: ${e instanceof Error ? e.message : String(e)}` } };
  }
}

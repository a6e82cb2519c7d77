// Latency percentiles by nearest rank: the value below which the given
// share of samples falls, always one that was measured (no interpolation).

export interface Percentiles {
  p50: number;
  p99: number;
  p999: number;
}

/** Nearest-rank percentile `q` (0 < q ≤ 1) of samples already sorted ascending. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** p50/p99/p999 of `samples` (any order; not modified). NaN when there are none. */
export function percentiles(samples: ArrayLike<number>): Percentiles {
  const sorted = Float64Array.from(samples).sort();
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), p999: quantile(sorted, 0.999) };
}

/** The nearest-rank median (the lower of the middle two for an even count) of `samples`; NaN when there are none. */
export function median(samples: ArrayLike<number>): number {
  return quantile(Float64Array.from(samples).sort(), 0.5);
}

/** Four significant digits, for the results file: a memory-bus round trip is microseconds, a Kafka one tens of ms. */
export function sig4(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(4)) : x;
}

// Nearest-rank statistics: always a value that was measured.
import { describe, expect, it } from 'vitest';
import { median, percentiles, quantile } from '../src/baselines/percentiles.js';

describe('percentiles', () => {
  it('takes the nearest rank, never interpolating', () => {
    const sorted = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(quantile(sorted, 0.5)).toBe(500);
    expect(quantile(sorted, 0.99)).toBe(990);
    expect(quantile(sorted, 0.999)).toBe(999);
    expect(quantile(sorted, 1)).toBe(1000);
    expect(percentiles([5, 1, 4, 2, 3])).toEqual({ p50: 3, p99: 5, p999: 5 });
  });

  it('gives the median of any order without changing its input: the lower middle one for an even count', () => {
    const odd = [9, 1, 5];
    expect(median(odd)).toBe(5);
    expect(odd).toEqual([9, 1, 5]);
    expect(median([4, 1, 3, 2])).toBe(2);
    expect(median([7])).toBe(7);
    expect(median([])).toBeNaN();
  });
});

// Runs many seeds and sums up what they did; collects violations instead of
// stopping at the first, so a report shows how common a failure is.
import type { SimOptions } from './options.js';
import { emptyStats, runSimulation, type SimStats } from './simulator.js';
import { SimViolation } from './violation.js';

export interface RunSummary {
  seeds: number;
  violations: SimViolation[];
  /** Stats summed over the seeds that passed. */
  totals: SimStats;
}

/**
 * Runs each seed with the given options. `keepGoing` decides, before each
 * seed, whether to run it (the CLI's duration mode stops on time).
 */
export function runSeeds(
  seeds: Iterable<number>,
  base: Omit<SimOptions, 'seed'> = {},
  keepGoing: () => boolean = () => true,
): RunSummary {
  const summary: RunSummary = { seeds: 0, violations: [], totals: emptyStats() };
  for (const seed of seeds) {
    if (!keepGoing()) break;
    summary.seeds++;
    try {
      const { stats } = runSimulation({ ...base, seed });
      const t = summary.totals;
      for (const k of Object.keys(t) as (keyof SimStats)[]) t[k] = k === 'maxTerm' ? Math.max(t[k], stats[k]) : t[k] + stats[k];
    } catch (e) {
      if (!(e instanceof SimViolation)) throw e;
      summary.violations.push(e);
    }
  }
  return summary;
}

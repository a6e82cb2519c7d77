// The simulator as a vitest suite: a range of seeds split into test cases
// (so progress shows and a failure names its chunk), then a check that the
// runs exercised the faults they claim to.
import { describe, expect, it } from 'vitest';
import { runSeeds } from './runner.js';
import { emptyStats, type SimStats } from './simulator.js';

export interface SimulationSuiteOptions {
  asyncStorageWrites?: boolean;
  firstSeed?: number;
  seeds: number;
  /** Seeds per test case. */
  chunk?: number;
  /** Fault-phase steps per seed. */
  steps?: number;
}

export function simulationSuite(o: SimulationSuiteOptions): void {
  const first = o.firstSeed ?? 1;
  const chunk = o.chunk ?? 250;
  const totals = emptyStats();
  let ran = 0;
  describe(`simulation, ${o.asyncStorageWrites ? 'async' : 'sync'} storage writes, ${o.steps ?? 'default'} steps`, () => {
    for (let from = first; from < first + o.seeds; from += chunk) {
      const to = Math.min(from + chunk, first + o.seeds) - 1;
      it(`seeds ${from}..${to} keep every property`, () => {
        const seeds = Array.from({ length: to - from + 1 }, (_, i) => from + i);
        const summary = runSeeds(seeds, { steps: o.steps, asyncStorageWrites: o.asyncStorageWrites });
        // Each message carries its seed's replay command.
        expect(summary.violations.map((v) => v.message)).toEqual([]);
        ran += summary.seeds;
        for (const k of Object.keys(totals) as (keyof SimStats)[]) totals[k] += summary.totals[k];
      });
    }

    it('exercised the faults it claims to', () => {
      expect(ran).toBe(o.seeds);
      // Crashes that lost unsynced writes, snapshots to lagging nodes,
      // membership changes, partitions and reads all happened, and most accepted
      // proposals were acknowledged: the runs above were not vacuous.
      const perSeed = (k: keyof SimStats): number => totals[k] / ran;
      expect(perSeed('crashesWithUnsynced')).toBeGreaterThan(0.05);
      expect(perSeed('snapshotsSent')).toBeGreaterThan(0.5);
      expect(perSeed('confChanges')).toBeGreaterThan(0.5);
      expect(perSeed('partitions')).toBeGreaterThan(0.5);
      // Reads were asked and answered (each answer checked against what was committed when it was asked).
      expect(perSeed('readsServed')).toBeGreaterThan(5);
      expect(totals.acknowledged).toBeGreaterThan(totals.accepted / 2);
    });
  });
}

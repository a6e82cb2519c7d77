// The deterministic simulator: thousands of seeded runs must keep Raft's
// safety properties and recover liveness once faults stop; planted bugs
// must be caught (so the checks can fail); a seed must replay exactly.
import { describe, expect, it } from 'vitest';
import { runSimulation, simulationSuite, SimViolation, type PlantedBug, type SafetyProperty } from '../src/sim/index.js';

// Short runs keep the suite to about a minute on a loaded 2-core machine;
// `pnpm sim --seeds A..B` or `--duration` runs longer ones.
const STEPS = 100;

// Sync mode here, async in sim-async.test.ts: two files run in parallel.
simulationSuite({ seeds: 2000, steps: STEPS, chunk: 125 });

describe('planted bugs are caught', () => {
  // Each bug, the properties that may legitimately report it first, and what the report must say.
  const lostWrites: SafetyProperty[] = ['raft-panic', 'election-safety', 'leader-completeness', 'acknowledged-lost', 'state-machine-safety'];
  const cases: { bug: PlantedBug; asyncStorageWrites: boolean; expected: SafetyProperty[]; detail: RegExp }[] = [
    // Voting twice in a term elects two leaders.
    { bug: 'forget-vote', asyncStorageWrites: false, expected: ['election-safety'], detail: /both leader in term/ },
    // Acks that outrun the disk are lost in a crash: raft itself usually
    // notices first (a follower's log lost entries it acknowledged).
    { bug: 'send-before-fsync', asyncStorageWrites: false, expected: lostWrites, detail: /lost|leader|never applied|committed/ },
    { bug: 'send-before-fsync', asyncStorageWrites: true, expected: lostWrites, detail: /lost|leader|never applied|committed/ },
    // A replica that skips an entry diverges from the others.
    { bug: 'skip-apply', asyncStorageWrites: false, expected: ['state-machine-safety'], detail: /reached state .* at index/ },
    // A node that answers a read from its own commit index, not the leader's, can miss a committed write.
    { bug: 'local-read', asyncStorageWrites: false, expected: ['read-safety'], detail: /answered read r\d+ at index \d+, but index \d+ was committed before it was asked/ },
    // Reads that are never answered leave clients waiting once faults stop.
    { bug: 'lost-read', asyncStorageWrites: true, expected: ['liveness'], detail: /no leader committed new proposals and answered reads on all members/ },
  ];
  it.each(cases)('$bug (async: $asyncStorageWrites)', ({ bug, asyncStorageWrites, expected, detail }) => {
    let found: SimViolation | undefined;
    for (let seed = 1; seed <= 300 && found === undefined; seed++) {
      try {
        runSimulation({ seed, steps: STEPS, asyncStorageWrites, bug });
      } catch (e) {
        if (!(e instanceof SimViolation)) throw e;
        found = e;
      }
    }
    expect(found, `no violation within seeds 1..300 with bug ${bug}`).toBeDefined();
    const v = found!;
    expect(expected).toContain(v.property);
    expect(v.detail).toMatch(detail);
    const replay = `pnpm sim --seed ${v.seed} --steps ${STEPS}${asyncStorageWrites ? ' --async' : ''} --bug ${bug}`;
    expect(v.replay).toBe(replay);
    expect(v.message).toContain(`seed ${v.seed} step ${v.step}: ${v.property} violated`);
    expect(v.message).toContain(`replay: ${replay}`);
    // Replaying the seed fails the same way, at the same step.
    expect(() => runSimulation({ seed: v.seed, steps: STEPS, asyncStorageWrites, bug })).toThrow(v.message);
  });
});

describe('determinism', () => {
  function traceOf(seed: number, asyncStorageWrites = false): string[] {
    const lines: string[] = [];
    runSimulation({ seed, steps: STEPS, asyncStorageWrites, trace: (l) => lines.push(l) });
    return lines;
  }

  it.each([false, true])('the same seed gives the same trace (async: %s)', (asyncStorageWrites) => {
    const a = traceOf(7, asyncStorageWrites);
    const b = traceOf(7, asyncStorageWrites);
    expect(a.length).toBeGreaterThan(100);
    expect(b).toEqual(a);
    expect(traceOf(8, asyncStorageWrites)).not.toEqual(a);
  });

  it('tracing does not change the run', () => {
    const quiet = runSimulation({ seed: 11, steps: STEPS });
    const traced = runSimulation({ seed: 11, steps: STEPS, trace: () => {} });
    expect(traced).toEqual(quiet);
    expect(runSimulation({ seed: 12, steps: STEPS }).fingerprint).not.toBe(quiet.fingerprint);
  });
});

describe('seeds long campaigns found', () => {
  // Each failed the liveness check with raft working as etcd-raft's does,
  // through a fault of the checker: seed 366357082, a removed leader leading
  // on in an old term was asked which nodes are members, and a node added
  // back later stayed stopped; the others, with one-entry messages, one in
  // flight, slow links and a node added back after the rest caught up,
  // outran the bound on how long catching up may take. They were found
  // before clients made reads, which change every later choice of a run:
  // `reads: false` replays them as they were.
  it.each([366357082, 140224584, 1159903233])('seed %i, 300 steps', (seed) => {
    const r = runSimulation({ seed, steps: 300, reads: false });
    // It reached the liveness phase and committed there.
    expect(r.stats.steps).toBeGreaterThan(300);
    expect(r.stats.acknowledged).toBeGreaterThan(0);
  });

  // Slowest fsync (a chance of 0.3 per storage round), electionTick 5, no
  // PreVote: elections took as long as the shortest timeout, and each
  // timeout deposed the leader, for 446 steps after faults stopped. The
  // disk now speeds up with the network in the liveness phase.
  it('seed 1039414024, 400 steps', () => {
    const r = runSimulation({ seed: 1039414024, steps: 400, reads: false });
    expect(r.stats.steps).toBeGreaterThan(400);
    expect(r.stats.acknowledged).toBeGreaterThan(0);
  });
});

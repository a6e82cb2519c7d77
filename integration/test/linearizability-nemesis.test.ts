// The kv example, three nodes on the in-process bus with file storage and
// frequent snapshots, under concurrent clients while a random nemesis
// strikes (nemesis.ts: restarts, cut-off nodes, a flapping partition, a
// lossy reordering network, a lost quorum, leadership transfers, mixed back
// to back). Each seed's history (integration/.histories/nemesis-<seed>.jsonl)
// must be linearizable, with operations completing before and after.
//
// A campaign over many seeds:
//   RAFTBUS_NEMESIS_SEEDS=100-199 [RAFTBUS_NEMESIS_ROUNDS=10] [RAFTBUS_NEMESIS_FAULTS=rejoin,restart] \
//     npx vitest run integration/test/linearizability-nemesis.test.ts
// The plan of faults is a function of the seed; their timing against the
// clients is real time, so a failing seed is rerun a few times to replay it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBus } from '@raftbus/transport-memory';
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { LogTail } from './buses.js';
import { expectSoundRun, runWithFaults } from './history-support.js';
import { nemesisFaults, nemesisSeeds, randomFaults } from './nemesis.js';
import { freePorts } from './services.js';

const TICK_MS = 20;
const WAIT_MS = 20_000;
/** Faults per seed; RAFTBUS_NEMESIS_ROUNDS sets more for a campaign. */
const ROUNDS = Number(process.env['RAFTBUS_NEMESIS_ROUNDS'] ?? 5);
const TEST_TIMEOUT_MS = 120_000;
/** Snapshots every 40 entries, so that restarted and cut-off nodes are caught up by snapshot as often as by the log. */
const SNAPSHOT = { entries: 40, catchUpEntries: 10 };

if (!(Number.isInteger(ROUNDS) && ROUNDS > 0)) throw new Error(`RAFTBUS_NEMESIS_ROUNDS must be a positive integer, got ${process.env['RAFTBUS_NEMESIS_ROUNDS']}`);
const SEEDS = nemesisSeeds(process.env['RAFTBUS_NEMESIS_SEEDS'], [1, 2, 3]);
/** RAFTBUS_NEMESIS_FAULTS=rejoin,restart draws from those faults alone. */
const FAULT_SET = nemesisFaults(process.env['RAFTBUS_NEMESIS_FAULTS']);

describe('linearizability of the kv example under a random nemesis (memory bus, file storage)', () => {
  let dir: string | undefined;
  const log = new LogTail();

  afterEach(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it.each(SEEDS)(
    'seed %i stays linearizable',
    async (seed) => {
      onTestFailed(() => {
        process.stderr.write(
          `nemesis seed ${seed} failed; rerun it with RAFTBUS_NEMESIS_SEEDS=${seed} RAFTBUS_NEMESIS_ROUNDS=${ROUNDS}${FAULT_SET === undefined ? '' : ` RAFTBUS_NEMESIS_FAULTS=${FAULT_SET.join(',')}`} npx vitest run integration/test/linearizability-nemesis.test.ts\n` +
            `the last log lines of the nodes:\n${log.text()}\n`,
        );
      });
      dir = await mkdtemp(join(tmpdir(), `raftbus-it-nemesis-${seed}-`));
      const bus = new MemoryBus({ seed });
      const faults = randomFaults({ seed, rounds: ROUNDS, waitMs: WAIT_MS, ...(FAULT_SET !== undefined && { faults: FAULT_SET }) });
      const outcome = await runWithFaults({
        name: `nemesis-${seed}`,
        description: `3 nodes, 6 clients, snapshots every ${SNAPSHOT.entries} entries; ${ROUNDS} random faults (seed ${seed}), back to back`,
        bus: { kind: 'memory', bus },
        dir,
        ports: await freePorts(3),
        tickMs: TICK_MS,
        logger: log,
        seed,
        waitMs: WAIT_MS,
        snapshot: SNAPSHOT,
        faults: (cluster, recorder) => faults(cluster, recorder, bus),
      });
      expectSoundRun(outcome);
      // The snapshot policy took effect: the log was compacted under the faults.
      expect(outcome.snapshots.created, 'snapshots the nodes made').toBeGreaterThan(0);
      console.log(`nemesis-${seed}: ${outcome.snapshots.created} snapshots made, ${outcome.snapshots.installed} installed from a leader`);
    },
    TEST_TIMEOUT_MS,
  );
});

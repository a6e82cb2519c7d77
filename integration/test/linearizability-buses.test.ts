// The kv example, three nodes on each real bus, under concurrent clients
// while the leader is killed and restarted, while the broker itself is
// taken down and brought back, and under a random nemesis (nemesis.ts:
// restarts, power losses, slow disks, membership changes, leadership
// transfers and broker restarts, mixed). Every run's history (in
// integration/.histories/<bus>-<scenario>.jsonl) must be linearizable, with
// enough completed operations, after the faults too, to mean something, and
// the same history with one read made stale must not be.
//
// The broker is a private one (startLocalServer), never the shared servers:
// the broker-restart run takes it down.
import { sleep } from '@raftbus/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAndCheck, type KvCluster, type KvRecorder, type RunOptions } from './history-support.js';
import { NEMESIS_SNAPSHOT, nemesisEnv, nemesisNodes, seededNemesis } from './nemesis.js';
import { BUSES, freePorts, SERVICE_TIMEOUT_MS, startLocalServer, type Bus, type LocalServer } from './services.js';

/** Milliseconds per raft tick; Kafka's round trips are slower. */
const TICK_MS: Record<Bus, number> = { redis: 20, nats: 20, kafka: 25 };
/** Longest wait for the cluster to reach a state (a leader, operations completing); generous for a loaded CI machine (a broker restart takes about a second on each bus). */
const WAIT_MS = 45_000;
const TEST_TIMEOUT_MS = 4 * WAIT_MS;
const LOAD_MS = 1_000;
/** Seeds per bus, so each run's clients make their own choices. */
const SEED: Record<Bus, number> = { redis: 11, nats: 21, kafka: 31 };
// One nemesis seed per bus in CI, not the same one (odd seeds persist off
// the loop); a campaign (RAFTBUS_NEMESIS_SEEDS=a-b, with -t '<bus> .* nemesis'
// for one bus) as in linearizability.test.ts.
const NEMESIS_SEED: Record<Bus, number> = { redis: 1, nats: 2, kafka: 3 };

for (const bus of BUSES) {
  describe(`linearizability of the kv example on ${bus}`, () => {
    let server: LocalServer | undefined;

    beforeAll(async () => {
      server = await startLocalServer(bus);
    }, SERVICE_TIMEOUT_MS);

    afterAll(() => server?.stop(), SERVICE_TIMEOUT_MS);

    const NEMESIS = nemesisEnv([NEMESIS_SEED[bus]]);

    async function run(
      scenario: string,
      seed: number,
      description: string,
      faults: (cluster: KvCluster, recorder: KvRecorder) => Promise<void>,
      nodes?: Pick<RunOptions, 'snapshot' | 'powerLoss' | 'asyncStorageWrites'>,
    ) {
      return runAndCheck({
        name: `${bus}-${scenario}`,
        description: `${description} (${bus})`,
        bus: { kind: bus, service: server! },
        ports: await freePorts(3),
        tickMs: TICK_MS[bus],
        seed,
        waitMs: WAIT_MS,
        ...nodes,
        faults,
      });
    }

    it(
      'stays linearizable when the leader is killed and restarted',
      () =>
        run('leader-kill', SEED[bus], '3 nodes, 6 clients; the leader is killed, a new one elected, the old one restarted', async (cluster, recorder) => {
          const leader = await cluster.leader(WAIT_MS);
          recorder.note(`killing the leader, node ${leader}`);
          await cluster.stop(leader);
          const others = cluster.ids.filter((id) => id !== leader);
          recorder.note(`node ${await cluster.leader(WAIT_MS, others)} leads nodes ${others.join(', ')}`);
          await sleep(LOAD_MS);
          recorder.note(`restarting node ${leader}`);
          await cluster.start(leader);
          recorder.note(`node ${await cluster.leader(WAIT_MS)} leads all nodes`);
        }),
      TEST_TIMEOUT_MS,
    );

    it(
      'stays linearizable when the broker restarts',
      () =>
        run('broker-restart', SEED[bus] + 1, '3 nodes, 6 clients; the broker is killed and restarted on the same port', async (cluster, recorder) => {
          recorder.note(`killing the ${bus} broker`);
          await server!.kill();
          await sleep(LOAD_MS);
          recorder.note(`restarting the ${bus} broker`);
          await server!.restart();
          recorder.note(`node ${await cluster.leader(WAIT_MS)} leads all nodes`);
        }),
      TEST_TIMEOUT_MS,
    );

    it.each(NEMESIS.seeds)(
      'stays linearizable under a random nemesis, seed %i',
      async (seed) => {
        const nemesis = seededNemesis(NEMESIS, seed, WAIT_MS, { file: 'integration/test/linearizability-buses.test.ts', filter: `${bus} .* nemesis` });
        const nodes = nemesisNodes(seed);
        const outcome = await run(
          `nemesis-${seed}`,
          SEED[bus] * 1000 + seed,
          `3 nodes${nodes.asyncStorageWrites ? ' (asyncStorageWrites)' : ''}, 6 clients, snapshots every ${NEMESIS_SNAPSHOT.entries} entries; ${NEMESIS.rounds} random faults (seed ${seed}), back to back`,
          (cluster, recorder) => nemesis(cluster, recorder, { broker: server! }),
          { ...nodes, snapshot: NEMESIS_SNAPSHOT },
        );
        expect(outcome.snapshots.created, 'snapshots the nodes made').toBeGreaterThan(0);
        console.log(`${bus}-nemesis-${seed}: ${outcome.snapshots.created} snapshots made, ${outcome.snapshots.installed} installed from a leader`);
      },
      TEST_TIMEOUT_MS,
    );
  });
}

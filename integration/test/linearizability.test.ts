// The kv example, three nodes on the in-process bus, under concurrent
// clients while a fault strikes: the leader killed and restarted, the leader
// cut off and healed, a follower restarted; and while a random nemesis
// strikes many, mixed. Every run's history (in
// integration/.histories/memory-<scenario>.jsonl) must be linearizable,
// and must hold enough completed operations, after the faults too, to mean
// something. And negative controls: each run's history with one read made
// stale, and reads with ?stale=true from a cut-off old leader, are caught as
// not linearizable.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '@raftbus/testkit';
import { HistoryRecorder, type CheckResult, type KvInput, type KvOutput } from '@raftbus/testkit/linearizability';
import { MemoryBus } from '@raftbus/transport-memory';
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { LogTail } from './buses.js';
import { checkAndSave, expectSoundRun, KvCluster, runWithFaults, type KvRecorder, type RunOptions, type RunOutcome } from './history-support.js';
import { describeUnsynced, NEMESIS_SNAPSHOT, nemesisEnv, nemesisNodes, seededNemesis } from './nemesis.js';
import { freePorts } from './services.js';

const TICK_MS = 20;
const WAIT_MS = 20_000;
const TEST_TIMEOUT_MS = 90_000;

// The nemesis runs. A campaign over many seeds:
//   RAFTBUS_NEMESIS_SEEDS=100-399 [RAFTBUS_NEMESIS_ROUNDS=8] [RAFTBUS_NEMESIS_FAULTS=rejoin,restart] \
//     npx vitest run integration/test/linearizability.test.ts -t nemesis
// The plan of faults is a function of the seed; their timing against the
// clients is real time, so a failing seed is rerun a few times to replay it.
const NEMESIS = nemesisEnv([1, 2, 3]);

describe('linearizability of the kv example on the memory bus', () => {
  let dir: string | undefined;
  const log = new LogTail();

  afterEach(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function run(
    scenario: string,
    seed: number,
    description: string,
    faults: (cluster: KvCluster, recorder: KvRecorder, bus: MemoryBus) => Promise<void>,
    snapshot?: RunOptions['snapshot'],
    nodes?: Pick<RunOptions, 'powerLoss' | 'asyncStorageWrites'>,
  ): Promise<RunOutcome> {
    onTestFailed(() => {
      process.stderr.write(`memory-${scenario}: the last log lines of the nodes:\n${log.text()}\n`);
    });
    dir = await mkdtemp(join(tmpdir(), `raftbus-it-lin-memory-${scenario}-`));
    const bus = new MemoryBus({ seed });
    const outcome = await runWithFaults({
      name: `memory-${scenario}`,
      description,
      bus: { kind: 'memory', bus },
      dir,
      ports: await freePorts(3),
      tickMs: TICK_MS,
      logger: log,
      seed,
      waitMs: WAIT_MS,
      ...(snapshot !== undefined && { snapshot }),
      ...nodes,
      faults: (cluster, recorder) => faults(cluster, recorder, bus),
    });
    expectSoundRun(outcome);
    return outcome;
  }

  it(
    'stays linearizable when the leader is killed and restarted',
    () =>
      run('leader-kill', 1, '3 nodes, 6 clients; the leader is killed, a new one elected, the old one restarted', async (cluster, recorder) => {
        const leader = await cluster.leader(WAIT_MS);
        recorder.note(`killing the leader, node ${leader}`);
        await cluster.stop(leader);
        const others = cluster.ids.filter((id) => id !== leader);
        recorder.note(`node ${await cluster.leader(WAIT_MS, others)} leads nodes ${others.join(', ')}`);
        await waitLoad();
        recorder.note(`restarting node ${leader}`);
        await cluster.start(leader);
        recorder.note(`node ${await cluster.leader(WAIT_MS)} leads all nodes`);
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'stays linearizable when the leader is cut off and the network heals',
    () =>
      run('partition', 2, '3 nodes, 6 clients; the leader is isolated, a new one elected, the network healed', async (cluster, recorder, bus) => {
        const leader = await cluster.leader(WAIT_MS);
        recorder.note(`isolating the leader, node ${leader}`);
        bus.isolate(leader);
        const others = cluster.ids.filter((id) => id !== leader);
        recorder.note(`node ${await cluster.leader(WAIT_MS, others)} leads nodes ${others.join(', ')}`);
        await waitLoad();
        recorder.note('healing the network');
        bus.heal();
        recorder.note(`node ${await cluster.leader(WAIT_MS)} leads all nodes`);
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'stays linearizable when a follower restarts',
    () =>
      run('node-restart', 3, '3 nodes, 6 clients; a follower is stopped and started again', async (cluster, recorder) => {
        const leader = await cluster.leader(WAIT_MS);
        const follower = cluster.ids.find((id) => id !== leader)!;
        recorder.note(`stopping follower ${follower}`);
        await cluster.stop(follower);
        await waitLoad();
        recorder.note(`restarting node ${follower}`);
        await cluster.start(follower);
        recorder.note(`node ${await cluster.leader(WAIT_MS)} leads all nodes`);
      }),
    TEST_TIMEOUT_MS,
  );

  // A random nemesis (nemesis.ts), any seed: five faults back to back, with
  // snapshots every 40 entries, so that restarted, cut-off and re-added
  // nodes are caught up by snapshot as often as by the log; on disks that
  // can lose power, with storage writes in the loop or off it.
  it.each(NEMESIS.seeds)(
    'stays linearizable under a random nemesis, seed %i',
    async (seed) => {
      const nemesis = seededNemesis(NEMESIS, seed, WAIT_MS, { file: 'integration/test/linearizability.test.ts' });
      const nodes = nemesisNodes(seed);
      const outcome = await run(
        `nemesis-${seed}`,
        seed,
        `3 nodes${nodes.asyncStorageWrites ? ' (asyncStorageWrites)' : ''}, 6 clients, snapshots every ${NEMESIS_SNAPSHOT.entries} entries; ${NEMESIS.rounds} random faults (seed ${seed}), back to back`,
        (cluster, recorder, bus) => nemesis(cluster, recorder, { bus }),
        NEMESIS_SNAPSHOT,
        nodes,
      );
      // The snapshot policy took effect: the log was compacted under the faults.
      expect(outcome.snapshots.created, 'snapshots the nodes made').toBeGreaterThan(0);
      console.log(`memory-nemesis-${seed}: ${outcome.snapshots.created} snapshots made, ${outcome.snapshots.installed} installed from a leader`);
    },
    TEST_TIMEOUT_MS,
  );

  // Power loss, pointed: one put acknowledged, then every node loses power
  // at once and keeps only what its disk fsynced. On honest disks the put is
  // there afterwards; on disks whose fsyncs make nothing durable it is lost,
  // and the history says so: the control for the nemesis's power losses.
  async function putThenBlackout(powerLoss: true | 'disks-ignore-fsync'): Promise<{ read: KvOutput | undefined; result: CheckResult<KvInput, KvOutput> }> {
    const name = powerLoss === true ? 'memory-blackout' : 'memory-blackout-lying-disks';
    onTestFailed(() => {
      process.stderr.write(`${name}: the last log lines of the nodes:\n${log.text()}\n`);
    });
    dir = await mkdtemp(join(tmpdir(), `raftbus-it-lin-${name}-`));
    const cluster = new KvCluster({
      bus: { kind: 'memory', bus: new MemoryBus({ seed: 5 }) },
      clusterId: `lin-blackout-${Date.now().toString(36)}-${process.pid}`,
      dir,
      ports: await freePorts(3),
      tickMs: TICK_MS,
      proposalTimeoutMs: 1_000,
      logger: log,
      powerLoss,
    });
    const recorder: KvRecorder = new HistoryRecorder<KvInput, KvOutput>();
    try {
      await cluster.startAll();
      const leader = await cluster.leader(WAIT_MS);
      const put = recorder.invoke(1, { f: 'put', key: 'x', value: 'acknowledged' });
      const res = await fetch(`${cluster.node(leader).url}/kv/x`, { method: 'PUT', body: 'acknowledged' });
      expect(res.status, await res.text()).toBe(200);
      put.ok({});
      const lost = await cluster.powerLoss(cluster.ids, () => ({ kind: 'durable' }));
      recorder.note(`every node lost power; unsynced at the crash: ${describeUnsynced(lost)}`);
      await cluster.startAll();
      const after = await cluster.leader(WAIT_MS);
      const get = recorder.invoke(2, { f: 'get', key: 'x' });
      const answer = await fetch(`${cluster.node(after).url}/kv/x`);
      const text = await answer.text();
      expect([200, 404], text).toContain(answer.status);
      get.ok({ value: answer.status === 200 ? text : null });
      const result = await checkAndSave(name, recorder, {
        description: `an acknowledged put, then every node loses power and keeps what it fsynced${powerLoss === true ? '' : ' (disks whose fsyncs make nothing durable)'}`,
      });
      return { read: recorder.history().operations.at(-1)!.output, result };
    } finally {
      await cluster.stopAll();
    }
  }

  it(
    'keeps an acknowledged put through a blackout in which each disk keeps only what was fsynced',
    async () => {
      const { read, result } = await putThenBlackout(true);
      expect(read).toEqual({ value: 'acknowledged' });
      expect(result.verdict, result.explanation).toBe('linearizable');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'catches the put a blackout loses on disks whose fsyncs make nothing durable',
    async () => {
      const { read, result } = await putThenBlackout('disks-ignore-fsync');
      expect(read).toEqual({ value: null });
      expect(result.verdict).toBe('not-linearizable');
      expect(result.violation?.partition).toBe('key "x"');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'catches stale reads (?stale=true) from an old leader cut off from the cluster',
    async () => {
      onTestFailed(() => {
        process.stderr.write(`memory-stale-read: the last log lines of the nodes:\n${log.text()}\n`);
      });
      dir = await mkdtemp(join(tmpdir(), 'raftbus-it-lin-memory-stale-'));
      const bus = new MemoryBus({ seed: 4 });
      const cluster = new KvCluster({
        bus: { kind: 'memory', bus },
        clusterId: `lin-stale-${Date.now().toString(36)}-${process.pid}`,
        dir,
        ports: await freePorts(3),
        tickMs: TICK_MS,
        proposalTimeoutMs: 1_000,
        logger: log,
      });
      const recorder: KvRecorder = new HistoryRecorder<KvInput, KvOutput>();
      /** One recorded request; a 404 read is an ok read of nothing, and any other refusal fails the test. */
      const request = async (client: number, url: string, input: KvInput): Promise<void> => {
        const op = recorder.invoke(client, input);
        const res = await fetch(url, { method: input.f === 'put' ? 'PUT' : 'GET', ...(input.f === 'put' && { body: input.value }) });
        const text = await res.text();
        if (res.status === 200) op.ok(input.f === 'get' ? { value: text } : {});
        else if (res.status === 404 && input.f === 'get') op.ok({ value: null });
        else {
          op.fail(`${res.status} ${text}`);
          throw new Error(`${input.f} ${url}: ${res.status} ${text}`);
        }
      };
      try {
        await cluster.startAll();
        const oldLeader = await cluster.leader(WAIT_MS);
        const oldUrl = cluster.node(oldLeader).url;
        // Answered once applied on the old leader itself.
        await request(1, `${oldUrl}/kv/x`, { f: 'put', key: 'x', value: 'before' });
        recorder.note(`isolating the leader, node ${oldLeader}`);
        bus.isolate(oldLeader);
        const others = cluster.ids.filter((id) => id !== oldLeader);
        const newLeader = await cluster.leader(WAIT_MS, others);
        recorder.note(`node ${newLeader} leads nodes ${others.join(', ')}`);
        await request(2, `${cluster.node(newLeader).url}/kv/x`, { f: 'put', key: 'x', value: 'after' });
        await request(2, `${cluster.node(newLeader).url}/kv/x`, { f: 'get', key: 'x' });
        // The old leader has not heard of the second put: its local copy is stale.
        expect(cluster.node(oldLeader).store.get('x'), 'what the old leader holds').toBe('before');
        await request(3, `${oldUrl}/kv/x?stale=true`, { f: 'get', key: 'x' });
        const staleRead = recorder.history().operations.at(-1)!;
        expect(staleRead.output, 'what the stale read answered').toEqual({ value: 'before' });

        const result = await checkAndSave('memory-stale-read', recorder, {
          description: 'negative control: a read with ?stale=true from an isolated old leader, after a newer put was acknowledged',
          oldLeader,
          newLeader,
        });
        expect(result.verdict).toBe('not-linearizable');
        expect(result.violation?.partition).toBe('key "x"');
        expect(result.violation?.candidates.map((c) => c.operation.id)).toContain(staleRead.id);
        expect(result.explanation).toContain(`#${staleRead.id} client 3`);
      } finally {
        bus.heal();
        await cluster.stopAll();
      }
    },
    TEST_TIMEOUT_MS,
  );
});

/** The clients' load between two faults. */
const waitLoad = (): Promise<void> => sleep(1_000);

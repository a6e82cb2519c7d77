// A random nemesis for the kv cluster: a seed picks a sequence of faults (a
// node killed and restarted, the leader among them; a quorum lost and
// regained; leadership handed over; a member removed and added back; a node,
// or every node at once, losing power and coming back on what its disk
// kept; a disk slowing down, and perhaps dying with its fsyncs queued; on
// the in-process bus, a node cut off, a partition that keeps changing, a
// lossy, reordering network; on a real bus, its broker restarted; the Redis
// that holds the nodes' logs, when they keep them there, restarted), their
// order, their targets and how long each lasts. The scenario tests strike once with one fault; this mixes them back
// to back, so that a restart lands in a partition's aftermath or during a
// snapshot catch-up, as in production.
import type { KvNode } from '@raftbus/example-kv';
import { SeededRandom, sleep, waitFor } from '@raftbus/testkit';
import { onTestFailed } from 'vitest';
import type { MemoryBus } from '@raftbus/transport-memory';
import type { Survival } from '@raftbus/testkit/crash-fs';
import type { KvCluster, KvRecorder } from './history-support.js';

export const FAULTS = [
  'restart',
  'isolate',
  'flap',
  'lossy',
  'quorum-loss',
  'transfer',
  'rejoin',
  'power-loss',
  'blackout',
  'slow-disk',
  'broker-restart',
  'storage-restart',
] as const;
export type Fault = (typeof FAULTS)[number];

/** Faults made by the in-process bus (a real one cannot be partitioned from here). */
const MEMORY_BUS_FAULTS: readonly Fault[] = ['isolate', 'flap', 'lossy'];
/** Faults that need the nodes' FileStorage on disks that can lose power (KvCluster.canLosePower). */
const DISK_FAULTS: readonly Fault[] = ['power-loss', 'blackout', 'slow-disk'];

/** A server (a real bus's, or the Redis of the nodes' storage) which the nemesis can take down and bring back on the same port. */
export interface Broker {
  kill(): Promise<void>;
  restart(): Promise<void>;
}

/**
 * What the faults act on besides the cluster: the in-process bus, or a real
 * bus's server; and `storage`, the Redis the nodes keep their logs in, when
 * they do and it is not the bus's server.
 */
export type Network = ({ bus: MemoryBus } | { broker: Broker }) & { storage?: Broker };

/**
 * The faults `network` and `cluster` allow: the memory bus's partitions and
 * losses, or a broker's restart; power losses and slow disks where the
 * nodes' disks can lose power; a restart of the storage's Redis.
 */
function faultsOn(network: Network, cluster: KvCluster): Fault[] {
  return FAULTS.filter((f) => {
    if (MEMORY_BUS_FAULTS.includes(f)) return 'bus' in network;
    if (f === 'broker-restart') return 'broker' in network;
    if (DISK_FAULTS.includes(f)) return cluster.canLosePower;
    if (f === 'storage-restart') return network.storage !== undefined;
    return true;
  });
}

export interface NemesisOptions {
  seed: number;
  /** How many faults strike, one after another. */
  rounds: number;
  /** Longest wait for a leader between faults. */
  waitMs: number;
  /** The faults to draw from; default all that the network allows (faultsOn). */
  faults?: readonly Fault[];
}

/**
 * The faults of one run, for runWithFaults: each noted in the recorder as it
 * strikes and ends. Power losses and slow disks strike only a cluster whose
 * disks can lose power (KvClusterOptions.powerLoss). Returns with every node
 * running and the network whole.
 */
export function randomFaults(o: NemesisOptions): (cluster: KvCluster, recorder: KvRecorder, network: Network) => Promise<void> {
  // Its own stream, apart from the clients' and the bus's: the plan depends on the seed alone.
  const rng = new SeededRandom(o.seed * 7 + 3);
  const between = (min: number, max: number) => min + rng.int(max - min + 1);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;

  return async (cluster, recorder, network) => {
    const allowed = faultsOn(network, cluster);
    const faults = o.faults ?? allowed;
    const refused = faults.filter((f) => !allowed.includes(f));
    if (refused.length > 0) throw new Error(`the nemesis cannot strike ${refused.join(', ')} on this cluster (it can: ${allowed.join(', ')})`);
    const bus = 'bus' in network ? network.bus : undefined;
    const broker = 'broker' in network ? network.broker : undefined;
    const storage = network.storage;
    const ids = cluster.ids;
    /** The leader half the time, else any node: faults on the leader are the ones that matter most. */
    const target = async (): Promise<number> => (rng.int(2) === 0 ? cluster.leader(o.waitMs) : pick(ids));
    for (let round = 1; round <= o.rounds; round++) {
      const fault = pick(faults);
      const say = (what: string) => recorder.note(`nemesis ${round}/${o.rounds} ${fault}: ${what}`);
      /** Node `id` loses power, stays down `downMs`, and starts again on what its disk kept. */
      const powerCycle = async (id: number, downMs: number): Promise<void> => {
        const survival = survivalFor(rng);
        say(`node ${id} loses power (its disk keeps ${describeSurvival(survival)}) for ${downMs} ms`);
        say(`unsynced at the crash: ${describeUnsynced(await cluster.powerLoss([id], () => survival))}`);
        await sleep(downMs);
        await cluster.start(id);
        say(`node ${id} started again`);
      };
      switch (fault) {
        case 'restart': {
          const id = await target();
          const downMs = between(0, 800);
          say(`stopping node ${id} for ${downMs} ms`);
          await cluster.stop(id);
          await sleep(downMs);
          await cluster.start(id);
          say(`node ${id} started again`);
          break;
        }
        case 'isolate': {
          const id = await target();
          const ms = between(100, 1_500);
          say(`cutting node ${id} off for ${ms} ms`);
          bus!.isolate(id);
          await sleep(ms);
          bus!.heal();
          say('healed');
          break;
        }
        case 'flap': {
          // The network changes its mind several times: each time a different node (or none) is cut off.
          const flips = between(3, 6);
          say(`${flips} changes of partition`);
          for (let i = 0; i < flips; i++) {
            const ms = between(50, 400);
            bus!.heal();
            const alone = rng.int(ids.length + 1);
            if (alone < ids.length) bus!.partition([[ids[alone]!]]);
            say(alone < ids.length ? `node ${ids[alone]} cut off from the others for ${ms} ms` : `no partition for ${ms} ms`);
            await sleep(ms);
          }
          bus!.heal();
          say('healed');
          break;
        }
        case 'lossy': {
          const drop = between(5, 30) / 100;
          const delay = { min: 0, max: between(1, 30) };
          const ms = between(300, 1_500);
          say(`dropping ${drop} of the messages and delaying each 0..${delay.max} ms (reordering them) for ${ms} ms`);
          bus!.drop(drop);
          bus!.delay(delay);
          await sleep(ms);
          bus!.drop(0);
          bus!.delay(0);
          say('network clean again');
          break;
        }
        case 'quorum-loss': {
          const first = await target();
          const second = pick(ids.filter((id) => id !== first));
          const downMs = between(100, 1_000);
          say(`stopping nodes ${first} and ${second} for ${downMs} ms`);
          await cluster.stop(first);
          await cluster.stop(second);
          await sleep(downMs);
          // Back in either order, a little apart.
          const [a, b] = rng.int(2) === 0 ? [first, second] : [second, first];
          await cluster.start(a);
          await sleep(between(0, 300));
          await cluster.start(b);
          say(`nodes ${a} and ${b} started again`);
          break;
        }
        case 'transfer': {
          const leader = await cluster.leader(o.waitMs);
          const to = pick(ids.filter((id) => id !== leader));
          say(`asking node ${leader} to hand leadership to node ${to}`);
          try {
            await cluster.node(leader).raft.transferLeadership(to);
            say(`node ${to} leads`);
          } catch (e) {
            // Raft gives a transfer up after an election timeout: not a fault of the cluster.
            say(`transfer ended without node ${to} leading: ${e instanceof Error ? e.name : String(e)}`);
          }
          break;
        }
        case 'power-loss': {
          // Unlike 'restart' (a process killed: the OS still writes out what it
          // was given), only what was fsynced is sure to survive, plus, torn
          // half the time, a random part of what was not.
          await powerCycle(await target(), between(0, 800));
          break;
        }
        case 'blackout': {
          // Every node at one instant: all the cluster has is what reached a
          // disk, so every write acknowledged must be there.
          const downMs = between(0, 500);
          const survivals = new Map(ids.map((id) => [id, survivalFor(rng)]));
          say(`every node loses power for ${downMs} ms (${ids.map((id) => `node ${id}'s disk keeps ${describeSurvival(survivals.get(id)!)}`).join('; ')})`);
          say(`unsynced at the crash: ${describeUnsynced(await cluster.powerLoss(ids, (id) => survivals.get(id)!))}`);
          await sleep(downMs);
          // Back one at a time, in a random order.
          const order = [...ids];
          for (let i = order.length - 1; i > 0; i--) {
            const j = rng.int(i + 1);
            [order[i], order[j]] = [order[j]!, order[i]!];
          }
          for (const id of order) {
            await cluster.start(id);
            await sleep(between(0, 200));
          }
          say('every node started again');
          break;
        }
        case 'slow-disk': {
          // Commits go on through the other two; its own log and applies lag.
          const id = await target();
          const delayMs = between(5, 60);
          const ms = between(300, 1_500);
          const dies = rng.int(2) === 0;
          say(`node ${id}'s disk takes ${delayMs} ms more per fsync for ${ms} ms${dies ? ', then loses power' : ''}`);
          cluster.slowDisk(id, delayMs);
          await sleep(ms);
          if (dies) {
            // With fsyncs queued: what the node wrote and was still waiting on is what may go.
            await powerCycle(id, between(0, 500));
          } else {
            cluster.slowDisk(id, 0);
            say(`node ${id}'s disk is fast again`);
          }
          break;
        }
        case 'broker-restart': {
          const downMs = between(0, 1_000);
          say(`the broker goes down for ${downMs} ms`);
          await broker!.kill();
          await sleep(downMs);
          await broker!.restart();
          say('the broker is back');
          break;
        }
        case 'storage-restart': {
          // Killed (SIGKILL) and started again on its append-only file:
          // meanwhile the nodes' saves wait, and what Redis acknowledged is
          // there after. A third of the time every node is stopped while it
          // is down, a third of the time one node (their saves waiting for
          // Redis: stop() must not wait too), and started once it is back.
          const downMs = between(0, 1_000);
          const roll = rng.int(3);
          const stopped = roll === 0 ? [...ids] : roll === 1 ? [pick(ids)] : [];
          say(`the storage's Redis goes down for ${downMs} ms${stopped.length === 0 ? '' : `; node${stopped.length > 1 ? 's' : ''} ${stopped.join(', ')} stopped meanwhile`}`);
          await storage!.kill();
          await sleep(downMs / 2);
          await Promise.all(stopped.map((id) => cluster.stop(id)));
          await sleep(downMs / 2);
          await storage!.restart();
          for (const id of stopped) await cluster.start(id);
          say(`the storage's Redis is back${stopped.length === 0 ? '' : `, and node${stopped.length > 1 ? 's' : ''} ${stopped.join(', ')} started again`}`);
          break;
        }
        case 'rejoin': {
          // A member removed and added back under the same id, keeping its data dir
          // (and running all along: clients asking it meanwhile are refused).
          const id = await target();
          say(`removing node ${id} from the cluster`);
          await changeMembers(cluster, o.waitMs, say, (voters) => !voters.includes(id), (leader) => leader.removeNode(id));
          const outMs = between(100, 1_000);
          say(`node ${id} removed; adding it back in ${outMs} ms`);
          await sleep(outMs);
          await changeMembers(cluster, o.waitMs, say, (voters) => voters.includes(id), (leader) => leader.addVoter(id));
          say(`node ${id} is a voter again`);
          break;
        }
      }
      // The clients' load between two faults.
      await sleep(between(50, 600));
    }
    recorder.note(`node ${await cluster.leader(o.waitMs)} leads all nodes`);
  };
}

/** What of a disk's unsynced writes survive a power loss: none, or a seeded random part. */
function survivalFor(rng: SeededRandom): Survival {
  return rng.int(2) === 0 ? { kind: 'durable' } : { kind: 'torn', seed: rng.int(1_000_000) };
}

/** What cluster.powerLoss found unsynced, for the history: each node's paths ('.' for its data dir's own entries). */
export function describeUnsynced(paths: Map<number, string[]>): string {
  return [...paths].map(([id, p]) => `node ${id}: ${p.length === 0 ? 'nothing' : p.map((x) => x || '.').join(', ')}`).join('; ');
}

function describeSurvival(s: Survival): string {
  return s.kind === 'durable' ? 'only what was fsynced' : `what was fsynced and a torn part of the rest (seed ${s.seed})`;
}

/**
 * Asks the leader for a membership change until the leader's membership
 * shows it done: a change that timed out may still have been applied, and
 * one refused (another change not yet applied, leadership moving) is asked
 * again.
 */
async function changeMembers(
  cluster: KvCluster,
  waitMs: number,
  say: (what: string) => void,
  done: (voters: readonly number[]) => boolean,
  change: (leader: KvNode['raft']) => Promise<unknown>,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const leader = await selfLeader(cluster, Math.max(1, deadline - Date.now()));
    if (done(leader.status().confState.voters)) return;
    try {
      await change(leader);
    } catch (e) {
      if (Date.now() > deadline) throw e;
      say(`the change was not confirmed (${e instanceof Error ? e.name : String(e)}); asking again`);
      await sleep(50);
    }
  }
}

/**
 * The running node that leads, by its own account, a membership it belongs
 * to (a node just removed may still name an old leader, so the others'
 * agreement is not waited for); the highest term's if two think so.
 */
async function selfLeader(cluster: KvCluster, waitMs: number): Promise<KvNode['raft']> {
  let found: KvNode['raft'] | undefined;
  await waitFor(
    () => {
      found = undefined;
      for (const id of cluster.runningIds()) {
        const raft = cluster.node(id).raft;
        const st = raft.status();
        if (st.role === 'leader' && st.confState.voters.includes(id) && (found === undefined || st.term > found.status().term)) found = raft;
      }
      return found !== undefined;
    },
    waitMs,
    'a leader for a membership change',
  );
  return found!;
}

/** The nodes' snapshot policy under a nemesis: often, so that nodes are caught up by snapshot as often as by the log. */
export const NEMESIS_SNAPSHOT = { entries: 40, catchUpEntries: 10 };

/** Whether a nemesis seed's nodes persist off the loop (etcd's AsyncStorageWrites): odd seeds do, even ones persist in it. */
export function nemesisAsyncStorageWrites(seed: number): boolean {
  return seed % 2 === 1;
}

/** The nodes of a nemesis run: on disks that can lose power, persisting in or off the loop as nemesisAsyncStorageWrites says. */
export function nemesisNodes(seed: number): { powerLoss: true; asyncStorageWrites: boolean } {
  return { powerLoss: true, asyncStorageWrites: nemesisAsyncStorageWrites(seed) };
}

/** A nemesis run as the environment sets it: the default for a test file, or a campaign. */
export interface NemesisEnv {
  /** RAFTBUS_NEMESIS_SEEDS as "7", "3,9,12" or "100-199"; else the file's default. */
  seeds: number[];
  /** RAFTBUS_NEMESIS_ROUNDS: faults per seed; 5 by default. */
  rounds: number;
  /** RAFTBUS_NEMESIS_FAULTS as "rejoin,restart": those alone; undefined for all the bus allows. */
  faults: Fault[] | undefined;
}

export function nemesisEnv(defaultSeeds: number[]): NemesisEnv {
  const rounds = Number(process.env['RAFTBUS_NEMESIS_ROUNDS'] ?? 5);
  if (!(Number.isInteger(rounds) && rounds > 0)) {
    throw new Error(`RAFTBUS_NEMESIS_ROUNDS must be a positive integer, got ${process.env['RAFTBUS_NEMESIS_ROUNDS']}`);
  }
  return { seeds: nemesisSeeds(process.env['RAFTBUS_NEMESIS_SEEDS'], defaultSeeds), rounds, faults: nemesisFaults(process.env['RAFTBUS_NEMESIS_FAULTS']) };
}

/**
 * Seed `seed`'s faults as the environment sets them (rounds, faults), for
 * the test that calls it; should that test fail, it prints the command that
 * runs the seed again (nemesisRerun).
 */
export function seededNemesis(
  env: NemesisEnv,
  seed: number,
  waitMs: number,
  rerun: { file: string; filter?: string },
): ReturnType<typeof randomFaults> {
  onTestFailed(() => {
    process.stderr.write(`rerun it: ${nemesisRerun(env, seed, rerun.file, rerun.filter)}\n`);
  });
  return randomFaults({ seed, rounds: env.rounds, waitMs, ...(env.faults !== undefined && { faults: env.faults }) });
}

/** The command that runs one seed of `file`'s nemesis again (`filter` for vitest's -t: the test's name). */
export function nemesisRerun(env: NemesisEnv, seed: number, file: string, filter = 'nemesis'): string {
  const faults = env.faults === undefined ? '' : ` RAFTBUS_NEMESIS_FAULTS=${env.faults.join(',')}`;
  return `RAFTBUS_NEMESIS_SEEDS=${seed} RAFTBUS_NEMESIS_ROUNDS=${env.rounds}${faults} npx vitest run ${file} -t '${filter}'`;
}

/** RAFTBUS_NEMESIS_FAULTS as "rejoin,restart": the faults a campaign draws from; undefined for all. */
function nemesisFaults(spec: string | undefined): Fault[] | undefined {
  if (spec === undefined || spec.trim() === '') return undefined;
  const faults = spec.split(',').map((f) => f.trim());
  for (const f of faults) {
    if (!(FAULTS as readonly string[]).includes(f)) throw new Error(`RAFTBUS_NEMESIS_FAULTS: no fault ${JSON.stringify(f)} (there are ${FAULTS.join(', ')})`);
  }
  return faults as Fault[];
}

/**
 * The seeds a run covers: RAFTBUS_NEMESIS_SEEDS as "7", "3,9,12" or
 * "100-199" (a campaign), else `fallback`.
 */
function nemesisSeeds(spec: string | undefined, fallback: number[]): number[] {
  if (spec === undefined || spec.trim() === '') return fallback;
  const seeds: number[] = [];
  for (const part of spec.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (m === null) throw new Error(`RAFTBUS_NEMESIS_SEEDS: cannot read ${JSON.stringify(part)} (want 7, 3,9,12 or 100-199)`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new Error(`RAFTBUS_NEMESIS_SEEDS: ${part} is an empty range`);
    for (let s = from; s <= to; s++) seeds.push(s);
  }
  return seeds;
}

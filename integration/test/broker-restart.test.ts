// The broker goes away under a working cluster and comes back. On each bus,
// three RaftNodes (FileStorage) commit writes through every node; the
// broker is taken down while writers keep proposing, and brought back on
// the same port. The cluster must commit again afterwards, without any node
// restarting, and every write that was acknowledged — before, during or
// after the outage — must be read back, linearizably, on every node.
//
// The broker is a private one each test starts (redis-server / nats-server
// children it may SIGKILL, a Kafka broker of scripts/kafka on its own ports
// and directory), never the shared servers the other tests use. Redis comes
// back empty (no persistence): the inbox streams are made anew. Kafka comes
// back with its topics (stop.sh is a clean shutdown, start.sh keeps the data).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discardLogger, ErrProposalDropped, type Transport } from '@raftbus/core';
import { ErrProposalTimeout, RaftNode } from '@raftbus/host';
import { FileStorage } from '@raftbus/storage-file';
import { AppliedCommands, KvStateMachine, sleep, waitFor } from '@raftbus/testkit';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { busTransport, LogTail } from './buses.js';
import { BUSES, SERVICE_TIMEOUT_MS, startLocalServer, type Bus, type LocalServer } from './services.js';

/** Milliseconds per raft tick; elections take 10 to 20 ticks. Kafka's round trips are slower. */
const TICK_MS: Record<Bus, number> = { redis: 20, nats: 20, kafka: 25 };
const PROPOSAL_TIMEOUT_MS = 3_000;
/** Longest wait for the cluster to reach a state (a leader, writes committing again). */
const WAIT_MS = 60_000;
const TEST_TIMEOUT_MS = 4 * WAIT_MS;

interface Member {
  id: number;
  node: RaftNode<string | undefined>;
  kv: KvStateMachine;
  transport: Transport;
}

/** Proposes through `via` until acknowledged, retrying refusals and timeouts (a put of the same value is idempotent). */
async function write(via: Member, key: string, value: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      await via.node.propose(KvStateMachine.put(key, value));
      return;
    } catch (e) {
      if (!(e instanceof ErrProposalDropped || e instanceof ErrProposalTimeout) || Date.now() > deadline) throw e;
      await sleep(50);
    }
  }
}

/** One writer per node, proposing new keys back to back, until stopped; it records what is acknowledged. */
class Writers {
  /** Every acknowledged write: key → value. */
  readonly acked = new Map<string, string>();
  /** Sequence numbers of the acknowledged proposals (a proposal's number is taken when it is made). */
  private readonly ackedSeqs: number[] = [];
  private proposed = 0;
  private stopped = false;
  /** What a writer did not expect (anything but a refusal or a timeout); it ends that writer. */
  private failure: unknown;
  private readonly loops: Promise<void>[];

  constructor(members: readonly Member[]) {
    this.loops = members.map((m) =>
      this.run(m).catch((e: unknown) => {
        this.failure ??= e;
      }),
    );
  }

  /** The number of the last proposal made so far. */
  mark(): number {
    return this.proposed;
  }

  /** How many proposals made after `mark` were acknowledged. Throws what a writer did not expect. */
  ackedAfter(mark: number): number {
    if (this.failure !== undefined) throw this.failure;
    return this.ackedSeqs.filter((seq) => seq > mark).length;
  }

  /** Stops proposing and waits for the proposals in flight to settle; throws what a writer did not expect. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    if (this.failure !== undefined) throw this.failure;
  }

  private async run(m: Member): Promise<void> {
    while (!this.stopped) {
      const seq = ++this.proposed;
      const key = `w${m.id}-${seq}`;
      const value = `value-${seq}`;
      try {
        await m.node.propose(KvStateMachine.put(key, value));
        this.acked.set(key, value);
        this.ackedSeqs.push(seq);
      } catch (e) {
        // Refused (no leader, e.g. while the broker is down), or timed out
        // with its outcome unknown: not acknowledged, so nothing is owed.
        if (!(e instanceof ErrProposalDropped || e instanceof ErrProposalTimeout)) throw e;
        await sleep(50);
      }
    }
  }
}

for (const bus of BUSES) {
  describe(`${bus}: a 3-node cluster across a broker restart`, () => {
    let server: LocalServer | undefined;
    let dir: string | undefined;
    let members: Member[] = [];

    beforeAll(async () => {
      server = await startLocalServer(bus);
      dir = await mkdtemp(join(tmpdir(), `raftbus-it-restart-${bus}-`));
    }, SERVICE_TIMEOUT_MS);

    afterAll(async () => {
      await Promise.all(members.map((m) => m.node.stop()));
      // A private server: its streams and topics go with it.
      await server?.stop();
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    }, SERVICE_TIMEOUT_MS);

    it(
      'resumes committing once the broker is back, and loses no acknowledged write',
      async () => {
        const broker = server!;
        // An outage makes the transports (and kafkajs) log errors by the
        // hundred: kept, and printed only should the test fail.
        const log = new LogTail();
        onTestFailed(() => {
          process.stderr.write(`${bus} broker restart: the last log lines of the nodes and transports:\n${log.text()}\n`);
        });
        const clusterId = `restart-${bus}-${Date.now().toString(36)}`;
        const ids = [1, 2, 3];
        // State machine safety across the nodes: one command per log index.
        const violations: string[] = [];
        const commands = new AppliedCommands((why) => violations.push(why));
        members = ids.map((id) => {
          const kv = new KvStateMachine();
          const transport = busTransport(broker, log);
          const node = new RaftNode<string | undefined>({
            id,
            clusterId,
            peers: ids,
            transport,
            storage: new FileStorage({ dir: join(dir!, `node-${id}`), logger: discardLogger }),
            stateMachine: commands.stateMachine(id, kv),
            tickMs: TICK_MS[bus],
            electionTick: 10,
            proposalTimeoutMs: PROPOSAL_TIMEOUT_MS,
            logger: log,
          });
          return { id, node, kv, transport };
        });
        await Promise.all(members.map((m) => m.node.start()));
        await waitFor(
          () => {
            const leader = members[0]!.node.status().leader;
            return leader !== undefined && members.every((m) => m.node.status().leader === leader);
          },
          WAIT_MS,
          'a leader every node follows',
        );

        // Writes through every node (followers forward them), acknowledged before the outage.
        const before = new Map<string, string>();
        for (let i = 0; i < 9; i++) {
          const key = `before-${i}`;
          await write(members[i % 3]!, key, `value-${key}`);
          before.set(key, `value-${key}`);
        }

        const writers = new Writers(members);
        try {
          const start = writers.mark();
          await waitFor(() => writers.ackedAfter(start) >= 6, WAIT_MS, 'writers to commit while the broker is up');

          // The broker goes away: every node fails to send (heartbeats, then
          // votes) and keeps running; the leader, hearing from no follower,
          // steps down (checkQuorum), so the cluster must elect anew after.
          const term = Math.max(...members.map((m) => m.node.status().term));
          const failures = members.map((m) => m.transport.stats().sendFailures);
          await broker.kill();
          await waitFor(
            () => members.every((m, i) => m.transport.stats().sendFailures > failures[i]!),
            WAIT_MS,
            'every node to fail sending while the broker is down',
          );
          await waitFor(() => members.every((m) => m.node.status().role !== 'leader'), WAIT_MS, 'the leader to step down while the broker is down');
          for (const m of members) expect(m.node.status().state, `node ${m.id} while the broker is down`).toBe('running');

          // Back on the same port: proposals made from now on commit again.
          await broker.restart();
          const restarted = writers.mark();
          await waitFor(() => writers.ackedAfter(restarted) >= 6, WAIT_MS, 'writers to commit again after the broker restarted');
          expect(Math.max(...members.map((m) => m.node.status().term)), 'the term of the leader elected after the restart').toBeGreaterThan(term);
        } finally {
          await writers.stop();
        }
        for (const m of members) await write(m, `after-${m.id}`, `value-after-${m.id}`);

        const acked = new Map([...before, ...writers.acked, ...members.map((m) => [`after-${m.id}`, `value-after-${m.id}`] as const)]);
        for (const m of members) {
          // A linearizable read: it sees every write acknowledged before it, whichever node took it.
          const held = await m.node.read(() => m.kv.toJSON());
          const lost = [...acked].filter(([key, value]) => held[key] !== value).map(([key]) => key);
          expect(lost, `acknowledged writes not read back on node ${m.id} (of ${acked.size})`).toEqual([]);
          expect(m.kv.violations, `apply order on node ${m.id}`).toEqual([]);
        }
        expect(violations, 'different commands applied at one index').toEqual([]);
      },
      TEST_TIMEOUT_MS,
    );
  });
}

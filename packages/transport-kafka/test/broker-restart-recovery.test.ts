// How quickly raft over Kafka recovers from a broker restart: three
// RaftNodes commit through KafkaTransport on a private broker
// (scripts/kafka), the broker is stopped and started again on the same port
// with its data (its consumer groups and their members included), and the
// cluster must commit again within a generous deadline. How long each step
// of the recovery took is printed, not asserted: on a shared machine a time
// proves nothing, a deadline missed by far does.
import { ErrProposalDropped, RaftPanic, type Logger } from '@raftbus/core';
import {
  KvStateMachine,
  SeededRandom,
  isCI,
  privateServerUnavailable,
  sleep,
  startPrivateKafka,
  waitFor,
  type PrivateKafka,
} from '@raftbus/testkit';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { ErrProposalTimeout, RaftNode } from '../../host/src/index.js';
import { InMemoryStorage } from '../../storage-memory/src/index.js';
import { KafkaTransport } from '../src/index.js';

// A private broker, not RAFTBUS_KAFKA_BROKERS's: this test takes it down.
const unavailable = privateServerUnavailable('kafka');
if (unavailable !== undefined && isCI()) throw new Error(`kafka: no private broker for the recovery test (${unavailable}); CI=true forbids skipping it`);

/** Far above a healthy recovery (a few seconds), below kafkajs's defaults (30 s of session timeout, then a rebalance). */
const RECOVERY_DEADLINE_MS = 30_000;

/** Keeps the transports' and kafkajs's lines, timestamped, to print if the test fails. */
class Lines implements Logger {
  readonly lines: string[] = [];
  debug(): void {}
  info(): void {}
  warning(m: string): void {
    this.lines.push(`${new Date().toISOString()} WARN ${m}`);
  }
  error(m: string): void {
    this.lines.push(`${new Date().toISOString()} ERROR ${m}`);
  }
  fatal(m: string): never {
    throw new RaftPanic(m);
  }
  panic(m: string): never {
    throw new RaftPanic(m);
  }
}

interface Member {
  node: RaftNode<string | undefined>;
  kv: KvStateMachine;
  transport: KafkaTransport;
}

/** Proposes through `via` until it commits, retrying refusals (no leader) and timeouts; a repeated put is harmless. */
async function put(via: Member, key: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      await via.node.propose(KvStateMachine.put(key, key));
      return;
    } catch (e) {
      if (!(e instanceof ErrProposalDropped || e instanceof ErrProposalTimeout) || Date.now() > deadline) throw e;
      await sleep(50);
    }
  }
}

describe.skipIf(unavailable !== undefined)(`KafkaTransport: recovery after a broker restart${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let broker: PrivateKafka | undefined;
  let members: Member[] = [];

  beforeAll(async () => {
    broker = await startPrivateKafka();
  }, 180_000);

  afterAll(async () => {
    await Promise.all(members.map((m) => m.node.stop()));
    await broker?.stop();
  }, 60_000);

  it('a 3-node cluster receives, elects and commits again soon after the broker is back', async () => {
    const { brokers } = broker!;
    const log = new Lines();
    onTestFailed(() => {
      process.stderr.write(`broker-restart-recovery: the transports' log:\n${log.lines.slice(-200).join('\n')}\n`);
    });
    const random = new SeededRandom(7);
    const ids = [1, 2, 3];
    members = ids.map((id) => {
      const kv = new KvStateMachine();
      const transport = new KafkaTransport({ brokers, logger: log });
      const node = new RaftNode<string | undefined>({
        id,
        clusterId: 'recovery',
        peers: ids,
        transport,
        storage: new InMemoryStorage(),
        stateMachine: kv,
        tickMs: 25,
        electionTick: 10,
        proposalTimeoutMs: 3_000,
        randomInt: (n) => random.int(n),
        logger: log,
      });
      return { node, kv, transport };
    });
    await Promise.all(members.map((m) => m.node.start()));
    await put(members[0]!, 'before', Date.now() + RECOVERY_DEADLINE_MS);

    await broker!.kill();
    // Down long enough for every node to notice (sends fail within 5 s) and the leader to step down.
    const failures = members.map((m) => m.transport.stats().sendFailures);
    await waitFor(() => members.every((m, i) => m.transport.stats().sendFailures > failures[i]!), 30_000, 'sends failing while the broker is down');
    await waitFor(() => members.every((m) => m.node.status().role !== 'leader'), 30_000, 'the leader to step down');
    const termDown = Math.max(...members.map((m) => m.node.status().term));

    await broker!.restart();
    const up = Date.now();
    const received = members.map((m) => m.transport.stats().received);
    const elapsed: Record<string, number> = {};
    const deadline = up + RECOVERY_DEADLINE_MS;
    const wait = async (what: string, cond: () => boolean) => {
      await waitFor(cond, Math.max(0, deadline - Date.now()), what);
      elapsed[what] = Date.now() - up;
    };

    await wait('every node receiving', () => members.every((m, i) => m.transport.stats().received > received[i]!));
    await wait('a leader every node follows', () => {
      const leader = members[0]!.node.status().leader;
      return leader !== undefined && members.every((m) => m.node.status().leader === leader);
    });
    await put(members[1]!, 'after', deadline);
    elapsed['a write committed'] = Date.now() - up;
    console.log(`broker-restart-recovery: after the broker was back: ${Object.entries(elapsed).map(([k, v]) => `${k} ${v} ms`).join(', ')}`);

    expect(Math.max(...members.map((m) => m.node.status().term))).toBeGreaterThan(termDown);
    for (const m of members) {
      const held = await m.node.read(() => m.kv.toJSON());
      expect(held).toEqual({ before: 'before', after: 'after' });
    }
    for (const m of members) expect(m.transport.stats().dropped).toBe(0);
  }, 180_000);
});

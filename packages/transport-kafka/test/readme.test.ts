// The README's snippet, as a test (imports by path; the brokers from
// RAFTBUS_KAFKA_BROKERS; raft's log lines discarded).
import { discardLogger, type StateMachine } from '@raftbus/core';
import { expect, it } from 'vitest';
import { RaftNode } from '../../host/src/index.js';
import { InMemoryStorage } from '../../storage-memory/src/index.js';
import { KafkaTransport } from '../src/index.js';
import { describeWithKafka } from './kafka-server.js';

describeWithKafka('README', (brokers) => {
  it('runs the README example: three raft nodes over Kafka', async () => {
    const log: unknown[] = [];
    const console = { log: (v: unknown) => log.push(v) };

    // The replicated state: a counter every node keeps in step.
    class Counter implements StateMachine<number> {
      value = 0;
      apply(data: Uint8Array): number {
        this.value += data[0]!;
        return this.value;
      }
      snapshot(): Uint8Array {
        return new TextEncoder().encode(String(this.value));
      }
      restore(data: Uint8Array): void {
        this.value = Number(new TextDecoder().decode(data));
      }
    }

    const peers = [1, 2, 3];
    const counters = peers.map(() => new Counter());
    // Three nodes in one process for the example; in production, one per process.
    const nodes = peers.map(
      (id, i) =>
        new RaftNode({
          id,
          clusterId: 'counter-demo', // node 2 reads topic raftbus.counter-demo.2
          peers, // used only when the storage is empty: a new cluster
          transport: new KafkaTransport({ brokers }),
          storage: new InMemoryStorage(),
          stateMachine: counters[i]!,
          logger: discardLogger,
        }),
    );
    await Promise.all(nodes.map((n) => n.start()));
    await new Promise<void>((resolve) => nodes[0]!.on('leaderChange', (e) => e.leader !== undefined && resolve()));

    console.log(await nodes[0]!.propose(new Uint8Array([5]))); // 5
    console.log(await nodes[1]!.propose(new Uint8Array([2]))); // 7
    console.log(await nodes[2]!.read(() => counters[2]!.value)); // 7

    await Promise.all(nodes.map((n) => n.stop()));
    expect(log).toEqual([5, 7, 7]);
  }, 60_000);
});

// The README's snippet, as a test (imports by path; raft's log lines discarded).
import { discardLogger, type StateMachine } from '@raftbus/core';
import { expect, it } from 'vitest';
import { InMemoryStorage } from '@raftbus/storage-memory';
import { MemoryBus, MemoryTransport } from '@raftbus/transport-memory';
import { RaftNode } from '../src/index.js';

it('runs the README example', async () => {
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

  const bus = new MemoryBus();
  const peers = [1, 2, 3];
  const counters = peers.map(() => new Counter());
  const nodes = peers.map(
    (id, i) =>
      new RaftNode({
        id,
        clusterId: 'demo',
        peers, // used only when the storage is empty: a new cluster
        transport: new MemoryTransport(bus),
        storage: new InMemoryStorage(),
        stateMachine: counters[i]!,
        logger: discardLogger,
      }),
  );
  await Promise.all(nodes.map((n) => n.start()));
  // Until a leader is elected, proposals fail with ErrNotLeader.
  await new Promise<void>((resolve) => nodes[0]!.on('leaderChange', (e) => e.leader !== undefined && resolve()));

  // Any node takes proposals (followers forward them to the leader); the
  // result is the proposing node's own apply.
  console.log(await nodes[0]!.propose(new Uint8Array([5]))); // 5
  console.log(await nodes[1]!.propose(new Uint8Array([2]))); // 7
  // A linearizable read: runs once node 3 has applied every earlier write.
  console.log(await nodes[2]!.read(() => counters[2]!.value)); // 7

  await Promise.all(nodes.map((n) => n.stop()));
  expect(log).toEqual([5, 7, 7]);
});

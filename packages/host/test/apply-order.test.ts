// The apply loop runs synchronously while the state machine's apply() does
// and waits wherever it returns a promise: entries are applied one at a
// time, in log order, and each proposer gets its own entry's result.
import { afterEach, describe, expect, it } from 'vitest';
import type { StateMachine } from '@raftbus/core';
import { LogMachine, STORAGE_MODES, TestCluster, utf8 } from './helpers/cluster.js';

/** A LogMachine that answers entries starting with "slow" only after a timer. */
class MixedMachine implements StateMachine<string> {
  private readonly log = new LogMachine();
  /** Which entries were being applied while another was still pending. */
  overlapped: string[] = [];
  private pending = 0;

  get entries(): string[] {
    return this.log.entries;
  }

  get indexes(): number[] {
    return this.log.indexes;
  }

  apply(data: Uint8Array, index: number): string | Promise<string> {
    const s = new TextDecoder().decode(data);
    if (this.pending > 0) this.overlapped.push(s);
    if (!s.startsWith('slow')) return this.log.apply(data, index);
    this.pending++;
    return new Promise((resolve) => setTimeout(resolve, 2)).then(() => {
      this.pending--;
      return this.log.apply(data, index);
    });
  }

  snapshot(): Uint8Array {
    return this.log.snapshot();
  }

  restore(data: Uint8Array): void {
    this.log.restore(data);
  }
}

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

describe.each(STORAGE_MODES)('applying entries ($name)', ({ asyncStorageWrites }) => {
  it('applies sync and async results in log order, one at a time, each result to its proposer', async () => {
    cluster = new TestCluster([1, 2, 3], { asyncStorageWrites });
    const machines = new Map([1, 2, 3].map((id) => [id, new MixedMachine()]));
    const c = cluster;
    await Promise.all([...machines].map(([id, sm]) => c.startNode(id, { stateMachine: sm, peers: [1, 2, 3] })));
    const leader = await cluster.waitForLeader();
    // One turn: the proposals go to raft together and are committed (and
    // applied) as one batch, with promises in the middle and at the end.
    const names = ['a', 'slow-b', 'c', 'd', 'slow-e', 'f', 'slow-g'];
    const results = await Promise.all(names.map((n) => leader.node.propose(utf8(n))));
    const sm = machines.get(leader.id)!;
    const at = names.map((n) => sm.indexes[sm.entries.indexOf(n)]);
    expect(results).toEqual(names.map((n, i) => `${n}@${at[i]}`));
    // Consecutive indexes in proposal order: one batch, applied in order.
    expect(at).toEqual(at.map((_, i) => at[0]! + i));
    await cluster.waitForEntries([1, 2, 3], names);
    for (const m of machines.values()) {
      expect(m.entries.slice(-names.length)).toEqual(names);
      expect(m.overlapped).toEqual([]);
    }
    expect(leader.node.status().applied).toBe(at[at.length - 1]);
  });
});

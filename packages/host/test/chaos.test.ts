// Safety under a hostile network: lost, late and reordered messages and
// shifting partitions, with snapshots and compaction going on. Whatever
// happens, no two nodes apply different entries at an index, and every
// proposal that resolved is in the final log exactly once, where it said.
import { ErrProposalDropped } from '@raftbus/core';
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '@raftbus/transport-memory';
import { ErrProposalTimeout } from '../src/index.js';
import { type NodeOverrides, STORAGE_MODES, TestCluster, utf8, waitFor } from './helpers/cluster.js';

let c: TestCluster | undefined;
afterEach(async () => {
  await c?.stopAll();
  c = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(STORAGE_MODES)('$name', ({ asyncStorageWrites }) => {
  const cluster = (peers: number[], overrides: NodeOverrides = {}): TestCluster => new TestCluster(peers, { asyncStorageWrites, ...overrides });

  it('stays consistent through drops, reordering and partitions, then converges', async () => {
    const ids = [1, 2, 3, 4, 5];
    c = await cluster(ids, { proposalTimeoutMs: 500, snapshot: { entries: 20, catchUpEntries: 5 } }).start();
    const rand = seededRandom(2024);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    c.bus.drop(0.05);
    c.bus.delay({ min: 0, max: 8 });

    const resolved = new Map<string, number>(); // value → index it reported
    let unknown = 0;
    const inflight: Array<Promise<void>> = [];
    const until = Date.now() + 2_500;
    for (let i = 0; Date.now() < until; i++) {
      if (i % 10 === 0) {
        // A new partition (or none) every ~100 ms.
        const r = rand();
        if (r < 0.3) c.bus.heal();
        else if (r < 0.7) c.bus.partition([ids.filter(() => rand() < 0.5)]);
        else {
          c.bus.heal();
          c.bus.isolate(pick(ids));
        }
      }
      const value = `v${i}`;
      inflight.push(
        c.get(pick(ids))
          .node.propose(utf8(value))
          .then(
            (r) => void resolved.set(value, Number(r.split('@')[1])),
            (e: unknown) => {
              // Refused: never in the log. Timed out: maybe in it, at most once.
              if (e instanceof ErrProposalTimeout) unknown++;
              else if (!(e instanceof ErrProposalDropped)) throw e;
            },
          ),
      );
      await sleep(10);
    }
    await Promise.all(inflight);

    c.bus.heal();
    c.bus.drop(0);
    c.bus.delay(0);
    const leader = await c.waitForLeader(ids, 10_000);
    await leader.node.propose(utf8('last'));
    await waitFor(
      () => c!.running().every((m) => m.sm.entries.at(-1) === 'last' && m.sm.entries.length === leader.sm.entries.length),
      10_000,
      'every node to apply the final entry',
    );

    const log = leader.sm.entries;
    for (const m of c.running()) expect(m.sm.entries).toEqual(log);
    expect(new Set(log).size).toBe(log.length);
    expect(resolved.size).toBeGreaterThan(20);
    // Each resolved proposal is where its result said it landed.
    for (const [value, index] of resolved) expect(leader.sm.indexes[log.indexOf(value)], value).toBe(index);
    for (const m of c.running()) expect(m.sm.indexes).toEqual(leader.sm.indexes);
    expect(log.length).toBeLessThanOrEqual(resolved.size + unknown + 1);
    expect(c.running().some((m) => m.node.status().stats.snapshotsCreated > 0)).toBe(true);
  });
});

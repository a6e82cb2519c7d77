// A three-node cluster on the memory bus: replication, forwarding, failover,
// partitions, restarts and snapshot catch-up.
import { encodeMessage, MessageType, newMessage, type PersistBatch } from '@raftbus/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrProposalTimeout } from '../src/index.js';
import { type NodeOverrides, STORAGE_MODES, TestCluster, utf8, waitFor } from './helpers/cluster.js';

let c: TestCluster | undefined;
afterEach(async () => {
  await c?.stopAll();
  c = undefined;
});

describe.each(STORAGE_MODES)('$name', ({ asyncStorageWrites }) => {
  const cluster = (peers: number[], overrides: NodeOverrides = {}): TestCluster => new TestCluster(peers, { asyncStorageWrites, ...overrides });

  const ALL = [1, 2, 3];

  describe('RaftNode in a three-node cluster', () => {
    it('elects a leader and applies proposals on every node, in order; one turn’s proposals share a Ready', async () => {
      c = await cluster(ALL).start();
      const leader = await c.waitForLeader();
      const saves = vi.spyOn(leader.storage, 'save');
      const results = await Promise.all(['a', 'b', 'c'].map((s) => leader.node.propose(utf8(s))));
      // Each result is the leader's own apply of that proposal, at consecutive indexes.
      const indexes = results.map((r) => Number(r.split('@')[1]));
      expect(results.map((r) => r.split('@')[0])).toEqual(['a', 'b', 'c']);
      expect(indexes).toEqual([indexes[0], indexes[0]! + 1, indexes[0]! + 2]);
      expect(saves.mock.calls.some(([batch]: [PersistBatch]) => batch.entries.length === 3)).toBe(true);
      await c.waitForEntries(ALL, ['a', 'b', 'c']);
      for (const m of c.running()) expect(m.node.status().applied).toBe(indexes[2]);
    });

    it('forwards a follower’s proposal to the leader and resolves it with the follower’s own apply', async () => {
      c = await cluster(ALL).start();
      const leader = await c.waitForLeader();
      const follower = c.followers(leader)[0]!;
      const result = await follower.node.propose(utf8('from-follower'));
      expect(result).toMatch(/^from-follower@\d+$/);
      // It resolved on the follower's apply, so the follower's state already has it.
      expect(follower.sm.entries).toEqual(['from-follower']);
      await c.waitForEntries(ALL, ['from-follower']);
    });

    it('replaces a stopped leader; the survivors commit, and the old leader catches up when it restarts', async () => {
      c = await cluster(ALL).start();
      const old = await c.waitForLeader();
      await old.node.propose(utf8('before'));
      await old.node.stop();
      const survivors = ALL.filter((id) => id !== old.id);
      const leader = await c.waitForLeader(survivors);
      expect(leader.id).not.toBe(old.id);
      expect(await leader.node.propose(utf8('after'))).toMatch(/^after@/);
      await c.waitForEntries(survivors, ['before', 'after']);

      await c.startNode(old.id);
      await c.waitForEntries(ALL, ['before', 'after']);
    });

    it('a leader cut off in a minority commits nothing; the majority goes on; all agree after the heal', async () => {
      c = await cluster(ALL, { proposalTimeoutMs: 1_000 }).start();
      const old = await c.waitForLeader();
      await old.node.propose(utf8('before'));
      await c.waitForEntries(ALL, ['before']);

      const majority = ALL.filter((id) => id !== old.id);
      c.bus.partition([[old.id], majority]);
      const lost = old.node.propose(utf8('lost'));
      const leader = await c.waitForLeader(majority);
      await leader.node.propose(utf8('kept'));
      await expect(lost).rejects.toBeInstanceOf(ErrProposalTimeout);
      // checkQuorum: the old leader has stepped down by itself.
      await waitFor(() => old.node.status().role !== 'leader', 3_000, 'the cut-off leader to step down');

      c.bus.heal();
      await c.waitForEntries(ALL, ['before', 'kept']);
      await waitFor(() => old.node.status().leader === leader.id, 3_000, 'the old leader to follow the new one');
    });

    it('a forwarded proposal that the next leader commits still resolves: a term change does not fail it', async () => {
      c = await cluster(ALL).start();
      const old = await c.waitForLeader();
      const [proposer, other] = c.followers(old);
      // The old leader replicates but never hears the acknowledgements, so it cannot commit.
      c.bus.drop(({ message, to }) => message.type === MessageType.MsgAppResp && to === old.id);
      const before = old.storage.lastIndex();
      const result = proposer!.node.propose(utf8('survivor'));
      await waitFor(
        () => [proposer!, other!].every((m) => m.storage.lastIndex() > before),
        3_000,
        'both followers to hold the entry',
      );
      const termBefore = proposer!.node.status().term;
      c.bus.drop(0);
      c.bus.isolate(old.id);
      expect(await result).toMatch(/^survivor@/);
      expect(proposer!.node.status().term).toBeGreaterThan(termBefore);
      await c.waitForEntries([proposer!.id, other!.id], ['survivor']);
    });

    it('a node restarted on its storage rebuilds its state machine from its own log', async () => {
      c = await cluster(ALL).start();
      const leader = await c.waitForLeader();
      await leader.node.propose(utf8('a'));
      await leader.node.propose(utf8('b'));
      await c.waitForEntries(ALL, ['a', 'b']);

      const follower = c.followers(leader)[0]!;
      await follower.node.stop();
      // Alone on the bus, it can only have the entries from its storage.
      c.bus.isolate(follower.id);
      const restarted = await c.startNode(follower.id);
      expect(restarted.sm).not.toBe(follower.sm);
      await c.waitForEntries([follower.id], ['a', 'b']);
      c.bus.restore(follower.id);

      // The whole cluster down and up again: membership and log come from storage.
      await c.stopAll();
      for (const id of ALL) await c.startNode(id);
      const next = await c.waitForLeader();
      await next.node.propose(utf8('c'));
      await c.waitForEntries(ALL, ['a', 'b', 'c']);
    });

    it('catches a lagging node up with a snapshot once the leader has compacted its log', async () => {
      c = await cluster(ALL, { snapshot: { entries: 5, catchUpEntries: 2 } }).start();
      const leader = await c.waitForLeader();
      const laggard = c.followers(leader)[0]!;
      c.bus.isolate(laggard.id);
      const written: string[] = [];
      for (let i = 0; i < 20; i++) {
        written.push(`e${i}`);
        await leader.node.propose(utf8(`e${i}`));
      }
      const lagAt = laggard.node.status().applied;
      expect(leader.node.status().snapshotIndex).toBeGreaterThan(lagAt);
      expect(leader.storage.firstIndex()).toBeGreaterThan(lagAt + 1);

      c.bus.restore(laggard.id);
      await c.waitForEntries(ALL, written);
      expect(laggard.node.status().stats.snapshotsInstalled).toBeGreaterThanOrEqual(1);
      expect(leader.node.status().stats.snapshotsSent).toBeGreaterThanOrEqual(1);

      // Its storage now starts with that snapshot: a restart restores from it.
      await laggard.node.stop();
      const restarted = await c.startNode(laggard.id);
      expect(restarted.node.status().snapshotIndex).toBeGreaterThan(0);
      await c.waitForEntries([laggard.id], written);
    });

    it('drops, and counts, messages raft refuses (from a node not in the cluster)', async () => {
      c = await cluster(ALL).start();
      const leader = await c.waitForLeader();
      c.bus.inject(c.clusterId, 99, leader.id, encodeMessage(newMessage({ type: MessageType.MsgAppResp, from: 99, to: leader.id, term: 1 })));
      await waitFor(() => leader.node.status().stats.messagesDropped === 1, 2_000, 'the message from node 99 to be dropped');
      expect(await leader.node.propose(utf8('still fine'))).toMatch(/^still fine@/);
    });
  });
});

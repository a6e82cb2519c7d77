// Membership changes through RaftNode: voters, learners, removal, joint
// consensus, refusals and leadership transfer.
import { ConfChangeType, ErrConfChangeRefused } from '@raftbus/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { RaftNodeEvents } from '../src/index.js';
import { LogMachine, type NodeOverrides, type RecordingMachine, STORAGE_MODES, TestCluster, utf8, waitFor } from './helpers/cluster.js';

let c: TestCluster | undefined;
afterEach(async () => {
  await c?.stopAll();
  c = undefined;
});

describe.each(STORAGE_MODES)('$name', ({ asyncStorageWrites }) => {
  const cluster = (peers: number[], overrides: NodeOverrides = {}): TestCluster => new TestCluster(peers, { asyncStorageWrites, ...overrides });

  const decoder = new TextDecoder();

  describe('RaftNode membership', () => {
    it('adds a voter, which catches up and votes, then removes it', async () => {
      c = await cluster([1, 2, 3]).start();
      const leader = await c.waitForLeader();
      await leader.node.propose(utf8('a'));
      const seen: Array<RaftNodeEvents['membershipChange']> = [];
      c.get(2).node.on('membershipChange', (e) => seen.push(e));

      // A joining node starts empty and without peers; the leader's log brings it in.
      const joiner = await c.startNode(4);
      const cs = await leader.node.addVoter(4, utf8('node-4.local:7000'));
      expect(cs.voters).toEqual([1, 2, 3, 4]);
      await leader.node.propose(utf8('b'));
      await c.waitForEntries([1, 2, 3, 4], ['a', 'b']);
      await waitFor(() => joiner.node.status().confState.voters.length === 4, 2_000, 'node 4 to know it is a voter');
      await waitFor(() => seen.length === 1, 2_000, 'node 2 to apply the change');
      expect(seen[0]!.change.changes).toEqual([{ type: ConfChangeType.ConfChangeAddNode, nodeId: 4 }]);
      expect(decoder.decode(seen[0]!.context)).toBe('node-4.local:7000');

      expect((await leader.node.removeNode(4)).voters).toEqual([1, 2, 3]);
      await joiner.node.stop();
      await leader.node.propose(utf8('c'));
      await c.waitForEntries([1, 2, 3], ['a', 'b', 'c']);
    });

    // Raft sends a node that lacks compacted entries the storage's snapshot,
    // which the node refuses unless its membership includes it: the host
    // snapshots as soon as a node is added to a compacted log.
    const compacting = { snapshot: { entries: 20, catchUpEntries: 5 } };
    const values = (from: number, n: number) => Array.from({ length: n }, (_, i) => `v${from + i}`);

    /** A LogMachine whose snapshot, as of the call, is handed over `delayMs` later. */
    class SlowSnapshots implements RecordingMachine {
      delayMs = 0;
      private readonly log = new LogMachine();
      get entries(): string[] {
        return this.log.entries;
      }
      get indexes(): number[] {
        return this.log.indexes;
      }
      apply(data: Uint8Array, index: number): string {
        return this.log.apply(data, index);
      }
      snapshot(): Promise<Uint8Array> {
        const data = this.log.snapshot();
        return new Promise((resolve) => setTimeout(() => resolve(data), this.delayMs));
      }
      restore(data: Uint8Array): void {
        this.log.restore(data);
      }
    }

    it('catches a node added to a compacted log up with one snapshot, with no writes after it joins', async () => {
      c = cluster([1, 2, 3], compacting);
      const machines = new Map([1, 2, 3].map((id) => [id, new SlowSnapshots()]));
      for (const [id, stateMachine] of machines) await c.startNode(id, { peers: [1, 2, 3], stateMachine });
      const leader = await c.waitForLeader();
      for (const v of values(0, 30)) await leader.node.propose(utf8(v));
      await waitFor(() => leader.node.status().snapshotIndex > 0, 2_000, 'a snapshot on the leader');
      const joiner = await c.startNode(4);
      // The snapshot for node 4 takes a while (with asyncStorageWrites raft goes on meanwhile).
      for (const m of machines.values()) m.delayMs = 300;
      await leader.node.addVoter(4);
      await c.waitForEntries([1, 2, 3, 4], values(0, 30), 3_000);
      // Every snapshot sent was installed: the one from before the addition,
      // which node 4 would refuse, was never sent (the leader may have changed
      // while a slow snapshot held up the synchronous loop).
      const installed = joiner.node.status().stats.snapshotsInstalled;
      expect(installed).toBeGreaterThanOrEqual(1);
      expect([1, 2, 3].reduce((sum, id) => sum + c!.get(id).node.status().stats.snapshotsSent, 0)).toBe(installed);
    });

    it('catches a removed node added back up by snapshot once the log it missed is compacted', async () => {
      c = await cluster([1, 2, 3], compacting).start();
      const leader = await c.waitForLeader();
      const gone = c.followers(leader)[0]!;
      await leader.node.propose(utf8('before'));
      expect((await leader.node.removeNode(gone.id)).voters).not.toContain(gone.id);
      for (const v of values(0, 30)) await leader.node.propose(utf8(v));
      await waitFor(() => leader.node.status().snapshotIndex > 2, 2_000, 'a snapshot after the removal');
      // It ran all along, left out; it comes back under its id with its data.
      expect(gone.sm.entries).toEqual(['before']);
      await leader.node.addVoter(gone.id);
      await c.waitForEntries([1, 2, 3], ['before', ...values(0, 30)], 3_000);
      expect(gone.node.status().stats.snapshotsInstalled).toBe(1);
      expect(gone.node.status().confState.voters).toContain(gone.id);
    });

    it('adds a learner that receives the log without voting, then promotes it', async () => {
      c = await cluster([1, 2, 3]).start();
      const leader = await c.waitForLeader();
      const learner = await c.startNode(4);
      expect((await leader.node.addLearner(4)).learners).toEqual([4]);
      await leader.node.propose(utf8('x'));
      await c.waitForEntries([1, 2, 3, 4], ['x']);
      expect(learner.node.status().role).toBe('follower');
      const cs = await leader.node.promote(4);
      expect(cs.voters).toEqual([1, 2, 3, 4]);
      expect(cs.learners).toEqual([]);
    });

    it('refuses a second change while the first is unapplied, with ErrConfChangeRefused; the stand-in entry never reaches a state machine', async () => {
      c = await cluster([1, 2, 3]).start();
      const leader = await c.waitForLeader();
      await leader.node.propose(utf8('a'));
      const first = leader.node.addLearner(5);
      const second = leader.node.addLearner(6);
      await expect(second).rejects.toBeInstanceOf(ErrConfChangeRefused);
      expect((await first).learners).toEqual([5]);
      await leader.node.propose(utf8('b'));
      await c.waitForEntries([1, 2, 3], ['a', 'b']);
    });

    it('replaces a member through joint consensus, which raft leaves by itself', async () => {
      c = await cluster([1, 2, 3]).start();
      const leader = await c.waitForLeader();
      const gone = c.followers(leader)[0]!.id;
      await c.startNode(4);
      const joint = await leader.node.changeMembership([
        { type: ConfChangeType.ConfChangeAddNode, nodeId: 4 },
        { type: ConfChangeType.ConfChangeRemoveNode, nodeId: gone },
      ]);
      expect(joint.votersOutgoing).toEqual([1, 2, 3]);
      await waitFor(() => leader.node.status().confState.votersOutgoing.length === 0, 3_000, 'raft to leave the joint config');
      expect(leader.node.status().confState.voters).toEqual([1, 2, 3, 4].filter((id) => id !== gone));
      await c.get(gone).node.stop();
      await leader.node.propose(utf8('after'));
      await c.waitForEntries([1, 2, 3, 4].filter((id) => id !== gone), ['after']);
    });

    it('a removed leader steps down and the others elect a new one', async () => {
      c = await cluster([1, 2, 3]).start();
      const old = await c.waitForLeader();
      const rest = [1, 2, 3].filter((id) => id !== old.id);
      await old.node.removeNode(old.id);
      const leader = await c.waitForLeader(rest);
      expect(leader.id).not.toBe(old.id);
      await old.node.stop();
      await leader.node.propose(utf8('without the old leader'));
      await c.waitForEntries(rest, ['without the old leader']);
    });

    it('transfers leadership to the named node, observed by the caller', async () => {
      c = await cluster([1, 2, 3]).start();
      const leader = await c.waitForLeader();
      const target = c.followers(leader)[0]!.id;
      const changes: Array<number | undefined> = [];
      leader.node.on('leaderChange', (e) => changes.push(e.leader));
      await leader.node.transferLeadership(target);
      expect(leader.node.status().leader).toBe(target);
      expect(changes.at(-1)).toBe(target);
      expect((await c.waitForLeader()).id).toBe(target);
      // Asked of a follower, it is forwarded to the leader.
      await c.get(leader.id).node.transferLeadership(leader.id);
      expect((await c.waitForLeader()).id).toBe(leader.id);
    });
  });
});

// RaftNode's request API: reads, refusals, backpressure, timeouts, stop and
// fatal errors.
import { ErrProposalDropped, MessageType, type StateMachine } from '@raftbus/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrBackpressure, ErrNotLeader, ErrProposalTimeout, ErrStopped, type Role } from '../src/index.js';
import { LogMachine, type NodeOverrides, STORAGE_MODES, TestCluster, utf8, waitFor } from './helpers/cluster.js';

let c: TestCluster | undefined;
afterEach(async () => {
  await c?.stopAll();
  c = undefined;
});

describe.each(STORAGE_MODES)('$name', ({ asyncStorageWrites }) => {
  const cluster = (peers: number[], overrides: NodeOverrides = {}): TestCluster => new TestCluster(peers, { asyncStorageWrites, ...overrides });

  describe('RaftNode reads', () => {
    for (const readOnly of ['safe', 'lease'] as const) {
      it(`a linearizable read (${readOnly}) on any node sees a write acknowledged before it`, async () => {
        c = await cluster([1, 2, 3], { readOnly }).start();
        const leader = await c.waitForLeader();
        const follower = c.followers(leader)[0]!;
        for (let i = 0; i < 5; i++) {
          await leader.node.propose(utf8(`w${i}`));
          // The follower may not have applied w{i} yet; its read waits until it has.
          const [onFollower, onLeader] = await Promise.all([
            follower.node.read(() => follower.sm.entries.slice()),
            leader.node.read(async () => leader.sm.entries.slice()),
          ]);
          expect(onFollower).toContain(`w${i}`);
          expect(onLeader).toContain(`w${i}`);
        }
      });
    }

    it('a read whose function throws rejects with that error, and the node carries on', async () => {
      c = await cluster([1]).start();
      const { node } = await c.waitForLeader();
      await expect(node.read(() => { throw new Error('boom'); })).rejects.toThrow('boom');
      expect(await node.read(() => 42)).toBe(42);
    });
  });

  describe('RaftNode refusals and limits', () => {
    it('a single-node cluster leads itself and serves proposals and reads', async () => {
      c = await cluster([1]).start();
      const { node, sm } = await c.waitForLeader();
      expect(await node.propose(utf8('solo'))).toMatch(/^solo@/);
      expect(await node.read(() => sm.entries.join())).toBe('solo');
    });

    it('rejects with ErrNotLeader while no leader is known', async () => {
      c = cluster([1, 2, 3]);
      // Only one of three is up: there can be no leader.
      const { node } = await c.startNode(1, { peers: [1, 2, 3] });
      const err = await node.propose(utf8('x')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ErrNotLeader);
      expect(err).toBeInstanceOf(ErrProposalDropped);
      expect((err as ErrNotLeader).leader).toBeUndefined();
      await expect(node.read(() => 1)).rejects.toBeInstanceOf(ErrNotLeader);
      await expect(node.addVoter(4)).rejects.toBeInstanceOf(ErrNotLeader);
      await expect(node.transferLeadership(2)).rejects.toBeInstanceOf(ErrNotLeader);
    });

    it('rejects with ErrNotLeader naming the leader when forwarding is disabled', async () => {
      c = await cluster([1, 2, 3], { disableProposalForwarding: true }).start();
      const leader = await c.waitForLeader();
      const follower = c.followers(leader)[0]!;
      const err = await follower.node.propose(utf8('x')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ErrNotLeader);
      expect((err as ErrNotLeader).leader).toBe(leader.id);
      expect(await leader.node.propose(utf8('y'))).toMatch(/^y@/);
    });

    it('applies backpressure past maxPendingProposals and maxPendingBytes, at once', async () => {
      c = cluster([1, 2, 3], { maxPendingProposals: 2, maxPendingBytes: 10 });
      const { node } = await c.startNode(1, { peers: [1, 2, 3] });
      const first = node.propose(utf8('12345678'));
      const tooBig = node.propose(utf8('12345678'));
      const second = node.propose(utf8('1'));
      const third = node.propose(utf8('1'));
      await expect(tooBig).rejects.toBeInstanceOf(ErrBackpressure);
      await expect(third).rejects.toBeInstanceOf(ErrBackpressure);
      // The ones let through got raft's answer (here: no leader).
      await expect(first).rejects.toBeInstanceOf(ErrNotLeader);
      await expect(second).rejects.toBeInstanceOf(ErrNotLeader);
      expect(node.status().pending).toEqual({ requests: 0, bytes: 0 });
    });

    it('times out a proposal, a read and a membership change that never complete', async () => {
      c = await cluster([1, 2, 3], { proposalTimeoutMs: 300 }).start();
      const leader = await c.waitForLeader();
      const follower = c.followers(leader)[0]!;
      // The follower's forwarded requests are lost on the way to the leader.
      c.bus.drop(({ message }) => message.type === MessageType.MsgProp || message.type === MessageType.MsgReadIndex);
      const results = await Promise.allSettled([follower.node.propose(utf8('lost')), follower.node.read(() => 1), follower.node.addLearner(9)]);
      for (const r of results) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ErrProposalTimeout);
      }
      expect(results.map((r) => ((r as PromiseRejectedResult).reason as ErrProposalTimeout).operation)).toEqual(['propose', 'read', 'confChange']);
      expect(follower.node.status().stats.timeouts).toBe(3);
      expect(follower.node.status().pending.requests).toBe(0);
      c.bus.drop(0);
      expect(await follower.node.propose(utf8('found'))).toMatch(/^found@/);
    });
  });

  describe('RaftNode lifecycle', () => {
    it('stop() is idempotent, rejects what is pending with ErrStopped and refuses new requests', async () => {
      c = await cluster([1, 2, 3]).start();
      const leader = await c.waitForLeader();
      const follower = c.followers(leader)[0]!;
      c.bus.drop(({ message }) => message.type === MessageType.MsgProp);
      const pending = follower.node.propose(utf8('pending'));
      await Promise.all([follower.node.stop(), follower.node.stop()]);
      await follower.node.stop();
      await expect(pending).rejects.toBeInstanceOf(ErrStopped);
      await expect(follower.node.propose(utf8('late'))).rejects.toBeInstanceOf(ErrStopped);
      await expect(follower.node.read(() => 1)).rejects.toBeInstanceOf(ErrStopped);
      expect(follower.node.status().state).toBe('stopped');
      expect(c.bus.members(c.clusterId)).not.toContain(follower.id);
    });

    it('stop() before start() resolves, and the node cannot start afterwards', async () => {
      c = cluster([1]);
      const m = await c.startNode(1, { peers: [1] });
      await m.node.stop();
      await expect(m.node.start()).rejects.toThrow(/cannot start/);
    });

    it('reports role and leader changes as events', async () => {
      c = cluster([1]);
      const roles: Role[] = [];
      const leaders: Array<number | undefined> = [];
      const member = await c.startNode(1, { peers: [1] });
      member.node.on('roleChange', (e) => roles.push(e.role));
      const off = member.node.on('leaderChange', (e) => leaders.push(e.leader));
      await waitFor(() => leaders.length > 0, 2_000, 'a leaderChange event');
      expect(roles.at(-1)).toBe('leader');
      expect(leaders).toEqual([1]);
      off();
    });

    it('a failing state machine stops the node: an error event, and pending requests fail with ErrStopped', async () => {
      class Failing extends LogMachine implements StateMachine<string> {
        override apply(data: Uint8Array, index: number): string {
          if (new TextDecoder().decode(data) === 'poison') throw new Error('state machine bug');
          return super.apply(data, index);
        }
      }
      c = cluster([1]);
      const m = await c.startNode(1, { peers: [1], stateMachine: new Failing() });
      await c.waitForLeader();
      const errors: Error[] = [];
      m.node.on('error', (e) => errors.push(e));
      const err = await m.node.propose(utf8('poison')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ErrStopped);
      expect(((err as ErrStopped).cause as Error).message).toBe('state machine bug');
      expect(errors.map((e) => e.message)).toEqual(['state machine bug']);
      await waitFor(() => m.node.status().state === 'stopped', 2_000, 'the node to stop');
    });

    it(`a failing storage stops the node${asyncStorageWrites ? '' : ' before anything unsaved is sent'}`, async () => {
      c = await cluster([1, 2, 3]).start();
      const leader = await c.waitForLeader();
      // One write first, so every follower is replicating (not probing) and
      // the leader's next append goes out in the same Ready as its write.
      await leader.node.propose(utf8('warm-up'));
      const appliedBefore = [...leader.sm.entries];
      const appends: number[] = [];
      const send = leader.transport.send.bind(leader.transport);
      leader.transport.send = (messages) => {
        for (const m of messages) if (m.type === MessageType.MsgApp && m.entries.length > 0) appends.push(m.to);
        send(messages);
      };
      // Only a write of entries fails: a hard state saved before the proposal is stepped would stop the node earlier.
      const save = leader.storage.save.bind(leader.storage);
      leader.storage.save = (batch) => (batch.entries.length > 0 ? Promise.reject(new Error('disk full')) : save(batch));
      const err = await leader.node.propose(utf8('x')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ErrStopped);
      expect(((err as ErrStopped).cause as Error).message).toBe('disk full');
      await waitFor(() => leader.node.status().state === 'stopped', 2_000, 'the node to stop');
      if (asyncStorageWrites) {
        // The leader's appends go out before its own write (that is the
        // point of the mode); the entry is still never applied here.
        expect(appends.length).toBeGreaterThan(0);
        expect(leader.sm.entries).toEqual(appliedBefore);
      } else {
        // The append that could not be saved was never sent to the followers.
        expect(appends).toEqual([]);
      }
    });
  });
});

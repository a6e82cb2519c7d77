// RaftNode used wrongly: requests before start and after stop, invalid ids
// and arguments, unknown peers, a conf change while another is pending,
// invalid options; and hostile input on its transport. Every misuse gets a
// typed error with a stable name, at once, and leaves the node working.
import {
  ConfChangeType,
  ErrConfChangeRefused,
  ErrInvalidConfig,
  ErrProposalDropped,
  MessageType,
  RaftError,
  discardLogger,
  encodeMessage,
  newMessage,
} from '@raftbus/core';
import { InMemoryStorage } from '@raftbus/storage-memory';
import { MemoryBus, MemoryTransport } from '@raftbus/transport-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrAlreadyStarted, ErrInvalidArgument, ErrNotStarted, ErrStopped, ErrUnknownPeer, RaftNode, type RaftNodeOptions } from '../src/index.js';
import { LogMachine, TestCluster, utf8, waitFor } from './helpers/cluster.js';

let c: TestCluster | undefined;
afterEach(async () => {
  await c?.stopAll();
  c = undefined;
});

/** Asserts `p` rejects with an instance of `type` whose `name` is the class's name. */
async function rejectsWith(p: Promise<unknown>, type: abstract new (...args: never[]) => Error, message?: RegExp): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(type);
  expect(err).toBeInstanceOf(RaftError);
  expect((err as Error).name).toBe(type.name);
  if (message !== undefined) expect((err as Error).message).toMatch(message);
  return err as Error;
}

function options(overrides: Partial<Record<keyof RaftNodeOptions<string>, unknown>> = {}): RaftNodeOptions<string> {
  return {
    id: 1,
    clusterId: 'misuse',
    peers: [1],
    transport: new MemoryTransport(new MemoryBus()),
    storage: new InMemoryStorage(),
    stateMachine: new LogMachine(),
    logger: discardLogger,
    tickMs: 10,
    ...overrides,
  } as RaftNodeOptions<string>;
}

/** Every request of the API, made with valid arguments. */
function everyRequest(node: RaftNode<string>): [string, Promise<unknown>][] {
  return [
    ['propose', node.propose(utf8('x'))],
    ['read', node.read(() => 1)],
    ['addVoter', node.addVoter(2)],
    ['addLearner', node.addLearner(2)],
    ['promote', node.promote(2)],
    ['removeNode', node.removeNode(2)],
    ['changeMembership', node.changeMembership([{ type: ConfChangeType.ConfChangeAddNode, nodeId: 2 }])],
    ['transferLeadership', node.transferLeadership(2)],
  ];
}

describe('RaftNode life cycle misuse', () => {
  it('refuses every request before start() with ErrNotStarted, and after stop() with ErrStopped', async () => {
    const node = new RaftNode(options());
    for (const [what, p] of everyRequest(node)) {
      const err = await rejectsWith(p, ErrNotStarted, /not started/);
      expect(err, what).not.toBeInstanceOf(ErrStopped);
    }
    await node.start();
    await node.stop();
    for (const [, p] of everyRequest(node)) await rejectsWith(p, ErrStopped);
  });

  it('refuses a second start(), and a start() after stop(), with ErrAlreadyStarted', async () => {
    const node = new RaftNode(options());
    const started = node.start();
    await rejectsWith(node.start(), ErrAlreadyStarted, /cannot start: it is starting/);
    await started;
    await rejectsWith(node.start(), ErrAlreadyStarted, /cannot start: it is running/);
    await node.stop();
    await rejectsWith(node.start(), ErrAlreadyStarted, /cannot start: it is stopped/);
    const never = new RaftNode(options());
    await never.stop();
    await rejectsWith(never.start(), ErrAlreadyStarted);
  });
});

describe('RaftNode invalid arguments', () => {
  const badIds: unknown[] = [0, -1, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, '2', undefined];

  it('refuses ids that are not positive safe integers, for every membership call and for transfers', async () => {
    c = await new TestCluster([1]).start();
    const { node } = await c.waitForLeader();
    for (const id of badIds) {
      const n = id as number;
      for (const p of [node.addVoter(n), node.addLearner(n), node.promote(n), node.removeNode(n), node.transferLeadership(n)]) {
        await rejectsWith(p, ErrInvalidArgument, /positive safe integer/);
      }
      await rejectsWith(node.changeMembership([{ type: ConfChangeType.ConfChangeRemoveNode, nodeId: n }]), ErrInvalidArgument);
    }
    // The node is unharmed: misuse never reached raft.
    expect(await node.propose(utf8('still here'))).toMatch(/^still here@/);
    expect(node.status().state).toBe('running');
  });

  it('refuses data that is not bytes, a read that is not a function, and malformed change lists', async () => {
    c = await new TestCluster([1]).start();
    const { node, sm } = await c.waitForLeader();
    for (const data of ['text', undefined, null, 42, [1, 2], new ArrayBuffer(2)]) {
      await rejectsWith(node.propose(data as unknown as Uint8Array), ErrInvalidArgument, /Uint8Array/);
    }
    for (const fn of [undefined, 42, 'fn']) await rejectsWith(node.read(fn as unknown as () => number), ErrInvalidArgument, /function/);
    const bad: [string, unknown, unknown?][] = [
      ['no changes', []],
      ['not an array', { type: 0, nodeId: 2 }],
      ['unknown change type', [{ type: 9, nodeId: 2 }]],
      ['a null change', [null]],
      ['context not bytes', [{ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 2 }], 'ctx'],
    ];
    for (const [what, changes, context] of bad) {
      const err = await rejectsWith(node.changeMembership(changes as [], context as Uint8Array), ErrInvalidArgument);
      expect(err.message, what).toMatch(/changeMembership/);
    }
    await rejectsWith(node.addVoter(2, 'addr' as unknown as Uint8Array), ErrInvalidArgument);
    expect(await node.propose(utf8('ok'))).toMatch(/^ok@/);
    expect(sm.entries).toEqual(['ok']);
  });
});

describe('RaftNode unknown peers and concurrent membership changes', () => {
  it('refuses to remove, promote or hand leadership to a node not in the membership, with ErrUnknownPeer', async () => {
    c = await new TestCluster([1, 2, 3]).start();
    const leader = await c.waitForLeader();
    const { node } = leader;
    const err = await rejectsWith(node.removeNode(9), ErrUnknownPeer, /node 9 is not a member/);
    // Nothing entered the log: safe to retry, like every ErrProposalDropped.
    expect(err).toBeInstanceOf(ErrProposalDropped);
    expect((err as ErrUnknownPeer).peer).toBe(9);
    await rejectsWith(node.promote(9), ErrUnknownPeer, /not a learner/);
    await rejectsWith(node.transferLeadership(9), ErrUnknownPeer, /not a voter/);
    await rejectsWith(node.changeMembership([{ type: ConfChangeType.ConfChangeRemoveNode, nodeId: 9 }]), ErrUnknownPeer);
    // On a follower too (it checks against the membership it has applied).
    const follower = c.followers(leader)[0]!;
    await rejectsWith(follower.node.removeNode(9), ErrUnknownPeer);
    await rejectsWith(follower.node.transferLeadership(9), ErrUnknownPeer);

    // A learner can be promoted but cannot be handed leadership.
    await node.addLearner(4);
    await rejectsWith(node.transferLeadership(4), ErrUnknownPeer, /not a voter/);
    expect((await node.promote(4)).voters).toEqual([1, 2, 3, 4]);
    expect((await node.removeNode(4)).voters).toEqual([1, 2, 3]);
    await rejectsWith(node.removeNode(4), ErrUnknownPeer);
  });

  it('refuses a conf change while another is pending, with ErrConfChangeRefused, and takes the next one', async () => {
    c = await new TestCluster([1, 2, 3]).start();
    const { node } = await c.waitForLeader();
    const first = node.addLearner(5);
    const second = node.addLearner(6);
    const err = await rejectsWith(second, ErrConfChangeRefused);
    expect(err).toBeInstanceOf(ErrProposalDropped);
    expect((await first).learners).toEqual([5]);
    expect((await node.addLearner(6)).learners).toEqual([5, 6]);
  });
});

describe('RaftNode invalid options', () => {
  const bad: [string, Partial<Record<keyof RaftNodeOptions<string>, unknown>>, RegExp][] = [
    ['id 0', { id: 0 }, /id/],
    ['negative id', { id: -1 }, /id/],
    ['fractional id', { id: 1.5 }, /id/],
    ['id past 2^53', { id: 2 ** 53 }, /id/],
    ['id NaN', { id: Number.NaN }, /id/],
    ['id missing', { id: undefined }, /id/],
    ['empty clusterId', { clusterId: '' }, /clusterId/],
    ['clusterId not a string', { clusterId: 7 }, /clusterId/],
    ['tickMs 0', { tickMs: 0 }, /tickMs/],
    ['tickMs negative', { tickMs: -10 }, /tickMs/],
    ['tickMs NaN', { tickMs: Number.NaN }, /tickMs/],
    ['tickMs Infinity', { tickMs: Number.POSITIVE_INFINITY }, /tickMs/],
    ['heartbeatTick 0', { heartbeatTick: 0 }, /heartbeatTick/],
    ['electionTick = heartbeatTick', { electionTick: 2, heartbeatTick: 2 }, /electionTick/],
    ['electionTick < heartbeatTick', { electionTick: 1, heartbeatTick: 3 }, /electionTick/],
    ['fractional electionTick', { electionTick: 10.5 }, /electionTick/],
    ['maxInflightMsgs 0', { maxInflightMsgs: 0 }, /maxInflightMsgs/],
    ['maxSizePerMsg negative', { maxSizePerMsg: -1 }, /maxSizePerMsg/],
    ['lease reads without checkQuorum', { readOnly: 'lease', checkQuorum: false }, /checkQuorum/i],
    ['unknown readOnly', { readOnly: 'fast' }, /readOnly/],
    ['snapshot true', { snapshot: true }, /snapshot/],
    ['snapshot entries 0', { snapshot: { entries: 0 } }, /snapshot.entries/],
    ['snapshot entries negative', { snapshot: { entries: -5 } }, /snapshot.entries/],
    ['snapshot entries fractional', { snapshot: { entries: 2.5 } }, /snapshot.entries/],
    ['snapshot bytes 0', { snapshot: { bytes: 0 } }, /snapshot.bytes/],
    ['snapshot catchUpEntries negative', { snapshot: { catchUpEntries: -1 } }, /catchUpEntries/],
    ['snapshot catchUpEntries fractional', { snapshot: { catchUpEntries: 0.5 } }, /catchUpEntries/],
    ['maxPendingProposals 0', { maxPendingProposals: 0 }, /maxPendingProposals/],
    ['maxPendingProposals fractional', { maxPendingProposals: 1.5 }, /maxPendingProposals/],
    ['maxPendingProposals NaN', { maxPendingProposals: Number.NaN }, /maxPendingProposals/],
    ['maxPendingBytes 0', { maxPendingBytes: 0 }, /maxPendingBytes/],
    ['maxPendingBytes NaN', { maxPendingBytes: Number.NaN }, /maxPendingBytes/],
    ['proposalTimeoutMs 0', { proposalTimeoutMs: 0 }, /proposalTimeoutMs/],
    ['peers not an array', { peers: 3 }, /peers/],
    ['a peer id of 0', { peers: [0, 1] }, /peers/],
    ['a fractional peer id', { peers: [1, 2.5] }, /peers/],
    ['a duplicate peer', { peers: [1, 2, 2] }, /peers/],
    ['no transport', { transport: undefined }, /transport/],
    ['no storage', { storage: undefined }, /storage/],
    ['no state machine', { stateMachine: undefined }, /stateMachine/],
    ['randomInt not a function', { randomInt: 4 }, /randomInt/],
  ];

  it.each(bad)('%s: ErrInvalidConfig at construction', (_what, overrides, message) => {
    let caught: unknown;
    try {
      new RaftNode(options(overrides));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ErrInvalidConfig);
    expect((caught as Error).name).toBe('ErrInvalidConfig');
    expect((caught as Error).message).toMatch(message);
  });

  it('accepts the edges of every range', async () => {
    const edges: Partial<Record<keyof RaftNodeOptions<string>, unknown>>[] = [
      { id: Number.MAX_SAFE_INTEGER - 2, peers: [Number.MAX_SAFE_INTEGER - 2] },
      { tickMs: 0.5 },
      { electionTick: 2, heartbeatTick: 1 },
      { snapshot: false },
      { snapshot: { bytes: 1 } },
      { snapshot: { entries: Number.POSITIVE_INFINITY, bytes: 1024, catchUpEntries: 0 } },
      { maxPendingProposals: 1, maxPendingBytes: 1 },
      { maxPendingProposals: Number.POSITIVE_INFINITY, maxPendingBytes: Number.POSITIVE_INFINITY },
      { peers: [] },
      { peers: [{ id: 1, context: utf8('addr') }, 2] },
    ];
    for (const o of edges) expect(() => new RaftNode(options(o)), JSON.stringify(o)).not.toThrow();
  });
});

describe('hostile input on the transport', () => {
  it('drops garbage and raft messages no peer may send, counts them, and goes on serving', async () => {
    c = await new TestCluster([1, 2, 3]).start();
    const leader = await c.waitForLeader();
    expect(await leader.node.propose(utf8('before'))).toMatch(/^before@/);
    const target = c.followers(leader)[0]!;
    const before = target.transport.stats();
    const steppedBefore = target.node.status().stats.messagesDropped;
    let errors = 0;
    target.node.on('error', () => errors++);

    const garbage: Uint8Array[] = [new Uint8Array(0), Uint8Array.of(0xff), Uint8Array.of(0x08, 0x63), utf8('not a raft message')];
    // Well-formed messages the network must never carry: raft's local types, and a vote response from a stranger.
    const hostile = [
      newMessage({ type: MessageType.MsgHup, from: leader.id, to: target.id }),
      newMessage({ type: MessageType.MsgStorageAppend, from: leader.id, to: target.id }),
      newMessage({ type: MessageType.MsgStorageApplyResp, from: leader.id, to: target.id }),
      newMessage({ type: MessageType.MsgVoteResp, from: 99, to: target.id, term: 1 }),
    ];
    for (const frame of garbage) c.bus.inject(c.clusterId, leader.id, target.id, frame);
    // A frame whose message does not say who the bus says sent it.
    c.bus.inject(c.clusterId, leader.id, target.id, encodeMessage(newMessage({ type: MessageType.MsgApp, from: 99, to: target.id })));
    for (const m of hostile) c.bus.inject(c.clusterId, m.from, target.id, encodeMessage(m));

    await waitFor(() => target.transport.stats().dropped - before.dropped >= garbage.length + 1);
    await waitFor(() => target.node.status().stats.messagesDropped - steppedBefore >= hostile.length);
    expect(await leader.node.propose(utf8('after'))).toMatch(/^after@/);
    await c.waitForEntries([1, 2, 3], ['before', 'after']);
    expect(errors).toBe(0);
    expect(target.node.status().state).toBe('running');
  });
});

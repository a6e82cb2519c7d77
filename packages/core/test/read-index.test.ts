// ReadIndex (Raft thesis §6.4) in both modes: ReadOnlySafe confirms
// leadership with a heartbeat round before answering, ReadOnlyLeaseBased
// trusts the leader lease (and needs checkQuorum). Ported from etcd-raft's
// raft_test.go (TestReadOnly*, TestRaftFreesReadOnlyMem) and rawnode_test.go,
// plus checks of our own on quorum counting, forwarding and the RawNode API.
import { describe, expect, it } from 'vitest';
import { ReadOnlyOption, type Config } from '../src/config.js';
import { StateType, type Raft } from '../src/raft.js';
import { MessageType, newEntry, newHardState, type Message } from '../src/raftpb/types.js';
import { RawNode, type Ready } from '../src/raw-node.js';
import type { MemoryStorage } from '../src/storage.js';
import {
  index,
  msg,
  newNetwork,
  newNetworkWithConfig,
  newTestConfig,
  newTestMemoryStorage,
  newTestRaft,
  nextEnts,
  propMsg,
  readMessages,
  setRandomizedElectionTimeout,
  utf8,
  withLearners,
  withPeers,
} from './helpers/raft-harness.js';

const { MsgApp, MsgHeartbeat, MsgHeartbeatResp, MsgHup, MsgProp, MsgReadIndex, MsgReadIndexResp } = MessageType;

function readIndexMsg(from: number, to: number, ctx: string): Message {
  return msg(MsgReadIndex, from, to, { entries: [newEntry({ data: utf8(ctx) })] });
}

/** Three rafts in a network with node 1 elected; extra config for all three. */
function electedTrio(opts: Partial<Config> = {}): { a: Raft; b: Raft; c: Raft; nt: ReturnType<typeof newNetwork> } {
  const [a, b, c] = [1, 2, 3].map((id) => newTestRaft(id, 10, 1, newTestMemoryStorage(withPeers(1, 2, 3)), opts)) as [Raft, Raft, Raft];
  const nt = newNetwork(a, b, c);
  // With checkQuorum, b must be past its lease to vote for a.
  setRandomizedElectionTimeout(b, b.electionTimeout + 1);
  for (let i = 0; i < b.electionTimeout; i++) b.tick();
  nt.send(msg(MsgHup, 1, 1));
  expect(a.state).toBe(StateType.StateLeader);
  return { a, b, c, nt };
}

describe.each([
  ['ReadOnlySafe', {}],
  ['ReadOnlyLeaseBased', { readOnlyOption: ReadOnlyOption.ReadOnlyLeaseBased, checkQuorum: true }],
])('%s', (_mode, opts: Partial<Config>) => {
  // etcd's TestReadOnlyOptionSafe / TestReadOnlyOptionLease: a read at any
  // node (the leader, or a follower forwarding it) answers with the leader's
  // commit index and the request context.
  it('answers reads at the leader and at followers with the commit index', () => {
    const { a, b, c, nt } = electedTrio(opts);
    const cases: Array<[Raft, number, number, string]> = [
      [a, 10, 11, 'ctx1'],
      [b, 10, 21, 'ctx2'],
      [c, 10, 31, 'ctx3'],
      [a, 10, 41, 'ctx4'],
      [b, 10, 51, 'ctx5'],
      [c, 10, 61, 'ctx6'],
    ];
    for (const [sm, proposals, wri, wctx] of cases) {
      for (let j = 0; j < proposals; j++) nt.send(propMsg(1, 1));
      nt.send(readIndexMsg(sm.id, sm.id, wctx));
      expect(sm.readStates).toEqual([{ index: wri, requestCtx: utf8(wctx) }]);
      sm.readStates = [];
    }
    // Nobody else got a read state.
    expect([a, b, c].flatMap((r) => r.readStates)).toEqual([]);
  });

  // etcd's TestReadOnlyForNewLeader: a new leader does not know the latest
  // commit index until it commits an entry of its own term, so it holds
  // reads until then.
  it('a new leader holds reads until it commits an entry in its term', () => {
    const nodes = [
      { id: 1, committed: 1, applied: 1, compactIndex: 0 },
      { id: 2, committed: 2, applied: 2, compactIndex: 2 },
      { id: 3, committed: 2, applied: 2, compactIndex: 2 },
    ];
    const peers = nodes.map((n) => {
      const storage = newTestMemoryStorage(withPeers(1, 2, 3));
      storage.append(index(1).terms(1, 1));
      storage.setHardState(newHardState({ term: 1, commit: n.committed }));
      if (n.compactIndex !== 0) storage.compact(n.compactIndex);
      return newTestRaft(n.id, 10, 1, storage, { ...opts, applied: n.applied });
    });
    const nt = newNetwork(...peers);

    // Drop MsgApp so that the new leader cannot commit an entry in its term.
    nt.ignore(MsgApp);
    nt.send(msg(MsgHup, 1, 1));
    const sm = nt.raft(1);
    expect(sm.state).toBe(StateType.StateLeader);

    // The read is held, not answered and not dropped.
    const windex = 4;
    nt.send(readIndexMsg(1, 1, 'ctx'));
    expect(sm.readStates).toEqual([]);
    expect(sm.pendingReadIndexMessages).toHaveLength(1);

    nt.recover();
    // Commit an entry in the leader's term.
    for (let i = 0; i < sm.heartbeatTimeout; i++) sm.tick();
    nt.send(propMsg(1, 1));
    expect(sm.raftLog.committed).toBe(4);
    expect(sm.raftLog.term(sm.raftLog.committed)).toBe(sm.term);

    // The held read was answered after the commit ...
    expect(sm.readStates).toEqual([{ index: windex, requestCtx: utf8('ctx') }]);
    expect(sm.pendingReadIndexMessages).toEqual([]);
    // ... and new reads are answered right away.
    nt.send(readIndexMsg(1, 1, 'ctx'));
    expect(sm.readStates).toEqual([
      { index: windex, requestCtx: utf8('ctx') },
      { index: windex, requestCtx: utf8('ctx') },
    ]);
  });

  // A follower forwards MsgReadIndex to its leader unchanged (term 0) and
  // turns the MsgReadIndexResp into a ReadState.
  it('a follower forwards reads to the leader and records the answer', () => {
    const { a, b } = electedTrio(opts);
    readMessages(a);
    b.step(readIndexMsg(2, 2, 'fwd'));
    const out = readMessages(b);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: MsgReadIndex, from: 2, to: 1, term: 0 });
    expect(out[0]!.entries.map((e) => e.data)).toEqual([utf8('fwd')]);
    expect(b.readStates).toEqual([]);

    b.step(msg(MsgReadIndexResp, 1, 2, { term: b.term, index: 7, entries: [newEntry({ data: utf8('fwd') })] }));
    expect(b.readStates).toEqual([{ index: 7, requestCtx: utf8('fwd') }]);
  });

  it('a follower without a leader drops reads', () => {
    const r = newTestRaft(2, 10, 1, newTestMemoryStorage(withPeers(1, 2, 3)), opts);
    r.becomeFollower(1, 0);
    r.step(readIndexMsg(2, 2, 'lost'));
    expect(readMessages(r)).toEqual([]);
    expect(r.readStates).toEqual([]);
  });

  it('a follower ignores a MsgReadIndexResp without exactly one entry', () => {
    const r = newTestRaft(2, 10, 1, newTestMemoryStorage(withPeers(1, 2, 3)), opts);
    r.becomeFollower(1, 1);
    r.step(msg(MsgReadIndexResp, 1, 2, { term: 1, index: 3, entries: [] }));
    r.step(msg(MsgReadIndexResp, 1, 2, { term: 1, index: 3, entries: [newEntry(), newEntry()] }));
    expect(r.readStates).toEqual([]);
  });

  // A single voter needs no round trip, whatever the mode.
  it('a single-voter leader answers at once', () => {
    const r = newTestRaft(1, 10, 1, newTestMemoryStorage(withPeers(1)), { ...opts });
    r.becomeCandidate();
    r.becomeLeader();
    readMessages(r);
    r.step(readIndexMsg(1, 1, 'solo'));
    expect(r.readStates).toEqual([{ index: r.raftLog.committed, requestCtx: utf8('solo') }]);
    expect(readMessages(r)).toEqual([]);
  });
});

describe('ReadOnlySafe', () => {
  // etcd's TestReadOnlyWithLearner: learners are sent the heartbeat but the
  // read is confirmed by the voters.
  it('answers reads with a learner in the cluster', () => {
    const s = newTestMemoryStorage(withPeers(1), withLearners(2));
    const a = newTestRaft(1, 10, 1, s);
    const b = newTestRaft(2, 10, 1, newTestMemoryStorage(withPeers(1), withLearners(2)));
    const nt = newNetwork(a, b);
    setRandomizedElectionTimeout(b, b.electionTimeout + 1);
    for (let i = 0; i < b.electionTimeout; i++) b.tick();
    nt.send(msg(MsgHup, 1, 1));
    expect(a.state).toBe(StateType.StateLeader);

    const cases: Array<[Raft, number, number, string]> = [
      [a, 10, 11, 'ctx1'],
      [b, 10, 21, 'ctx2'],
      [a, 10, 31, 'ctx3'],
      [b, 10, 41, 'ctx4'],
    ];
    for (const [sm, proposals, wri, wctx] of cases) {
      for (let j = 0; j < proposals; j++) {
        nt.send(propMsg(1, 1));
        nextEnts(a, s); // append the entries on the leader
      }
      nt.send(readIndexMsg(sm.id, sm.id, wctx));
      expect(sm.readStates).toEqual([{ index: wri, requestCtx: utf8(wctx) }]);
      sm.readStates = [];
    }
  });

  // The read waits for heartbeat acknowledgements from a quorum (the leader
  // counting itself); heartbeat responses carry the context back.
  it('confirms a read only once a quorum acknowledged the heartbeat', () => {
    const r = newTestRaft(1, 10, 1, newTestMemoryStorage(withPeers(1, 2, 3, 4, 5)));
    r.becomeCandidate();
    r.becomeLeader();
    // Commit the leader's empty entry.
    readMessages(r);
    for (const id of [2, 3]) r.step(msg(MessageType.MsgAppResp, id, 1, { term: r.term, index: 1 }));
    expect(r.raftLog.committed).toBe(1);
    readMessages(r);

    r.step(readIndexMsg(1, 1, 'q'));
    const hbs = readMessages(r);
    expect(hbs.map((m) => [m.type, m.to])).toEqual([
      [MsgHeartbeat, 2],
      [MsgHeartbeat, 3],
      [MsgHeartbeat, 4],
      [MsgHeartbeat, 5],
    ]);
    const ctx = hbs[0]!.context;
    expect(ctx.length).toBeGreaterThan(0);
    expect(hbs.every((m) => Buffer.from(m.context).equals(Buffer.from(ctx)))).toBe(true);

    // A heartbeat response without the context confirms nothing.
    r.step(msg(MsgHeartbeatResp, 2, 1, { term: r.term }));
    r.step(msg(MsgHeartbeatResp, 3, 1, { term: r.term }));
    expect(r.readStates).toEqual([]);
    // Leader + 2 acks of 5 voters is not a quorum; the third ack is.
    r.step(msg(MsgHeartbeatResp, 2, 1, { term: r.term, context: ctx }));
    r.step(msg(MsgHeartbeatResp, 2, 1, { term: r.term, context: ctx }));
    expect(r.readStates).toEqual([]);
    r.step(msg(MsgHeartbeatResp, 4, 1, { term: r.term, context: ctx }));
    expect(r.readStates).toEqual([{ index: 1, requestCtx: utf8('q') }]);
    // Later acks of the same round add nothing.
    r.step(msg(MsgHeartbeatResp, 5, 1, { term: r.term, context: ctx }));
    expect(r.readStates).toHaveLength(1);
  });

  // etcd's TestRaftFreesReadOnlyMem: confirmed reads are forgotten, so the
  // next heartbeat carries no read context.
  it('forgets reads once they are confirmed', () => {
    const sm = newTestRaft(1, 5, 1, newTestMemoryStorage(withPeers(1, 2)));
    sm.becomeCandidate();
    sm.becomeLeader();
    sm.raftLog.commitTo(sm.raftLog.lastIndex());

    sm.step(readIndexMsg(2, 1, 'ctx'));
    const msgs = readMessages(sm);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.type).toBe(MsgHeartbeat);
    expect(sm.readOnly.heartbeatCtx().length).toBeGreaterThan(0);

    sm.step(msg(MsgHeartbeatResp, 2, 1, { context: msgs[0]!.context }));
    expect(sm.readOnly.heartbeatCtx()).toEqual(new Uint8Array(0));
    // The forwarded read is answered to its sender (next to the MsgApp the
    // heartbeat response prompts for the lagging follower).
    expect(readMessages(sm).filter((m) => m.type !== MsgApp)).toEqual([
      expect.objectContaining({ type: MsgReadIndexResp, to: 2, index: sm.raftLog.committed, entries: [newEntry({ data: utf8('ctx') })] }),
    ]);
    // A later heartbeat carries no context.
    sm.step(msg(MessageType.MsgBeat, 1, 1));
    expect(readMessages(sm).every((m) => m.context.length === 0)).toBe(true);
  });

  // etcd's TestReadOnlyDuplicateRequest: a duplicated read request, and stale
  // heartbeat responses delivered late to a deposed leader, never yield a
  // read index below the commit index at the time the read was issued.
  it('does not confirm reads with stale acknowledgements', () => {
    const r1 = newTestRaft(1, 10, 1, newTestMemoryStorage(withPeers(1, 2, 3)));
    const r2 = newTestRaft(2, 10, 1, newTestMemoryStorage(withPeers(1, 2, 3)));
    const r3 = newTestRaft(3, 10, 1, newTestMemoryStorage(withPeers(1, 2, 3)));
    const net = newNetwork(r1, r2, r3);
    const delayed: Message[] = [];

    net.send(msg(MsgHup, 1, 1));
    const readA = readIndexMsg(2, 1, 'A');
    const minA = r1.raftLog.committed;
    delayed.push(readA);

    // Process read A, but hold back heartbeat responses until the end.
    net.msgHook = (m) => {
      if (m.type === MsgHeartbeatResp) {
        delayed.push(m);
        return false;
      }
      return true;
    };
    net.send(readA);
    net.msgHook = undefined;

    // The next heartbeat finishes read A.
    r1.tick();
    net.send(...readMessages(r1));
    expect(r2.readStates.map((rs) => rs.index)).toEqual([minA]);

    net.isolate(1);
    // Elect r2 and commit a new entry.
    net.send(msg(MsgHup, 2, 2));
    net.send(propMsg(2, 2, 'someOp'));
    expect(r2.state).toBe(StateType.StateLeader);

    // Read B at the stale, disconnected leader r1.
    const readB = readIndexMsg(1, 1, 'B');
    const minB = r2.raftLog.committed;
    expect(minB).toBeGreaterThan(r1.raftLog.committed);
    net.send(readB);
    net.recover();
    // The duplicate of read A first, then the delayed heartbeat responses:
    // neither may confirm B.
    net.send(...delayed);

    const all = [...r1.readStates, ...r2.readStates, ...r3.readStates];
    for (const rs of all) {
      const ctx = new TextDecoder().decode(rs.requestCtx);
      if (ctx === 'A') expect(rs.index).toBeGreaterThanOrEqual(minA);
      else if (ctx === 'B') expect(rs.index).toBeGreaterThanOrEqual(minB);
    }
    expect(r1.readStates.filter((rs) => new TextDecoder().decode(rs.requestCtx) === 'B')).toEqual([]);
  });
});

describe('ReadOnlyLeaseBased', () => {
  it('answers without a heartbeat round', () => {
    const { a } = electedTrio({ readOnlyOption: ReadOnlyOption.ReadOnlyLeaseBased, checkQuorum: true });
    readMessages(a);
    a.step(readIndexMsg(1, 1, 'lease'));
    expect(a.readStates).toEqual([{ index: a.raftLog.committed, requestCtx: utf8('lease') }]);
    expect(readMessages(a)).toEqual([]);
  });

  it('needs checkQuorum', () => {
    expect(() => newTestRaft(1, 10, 1, newTestMemoryStorage(withPeers(1)), { readOnlyOption: ReadOnlyOption.ReadOnlyLeaseBased })).toThrow(
      'CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased',
    );
  });

  // Forgetting the leader would break the lease: no other leader may be
  // elected while it holds. (MsgForgetLeader is ignored in this mode.)
  it('ignores MsgForgetLeader', () => {
    const { b } = electedTrio({ readOnlyOption: ReadOnlyOption.ReadOnlyLeaseBased, checkQuorum: true });
    b.step(msg(MessageType.MsgForgetLeader, 0, 0));
    expect(b.lead).toBe(1);
  });
});

// ---------------------------------------------------------------------------
// Through the RawNode API

/** Persists a Ready into storage as an application would. */
function persist(s: MemoryStorage, rd: Ready): void {
  if (rd.snapshot) s.applySnapshot(rd.snapshot);
  if (rd.hardState) s.setHardState(rd.hardState);
  s.append(rd.entries);
}

describe('RawNode.readIndex', () => {
  it('hands the read state out in the next Ready, once', () => {
    const s = newTestMemoryStorage(withPeers(1));
    const rn = new RawNode(newTestConfig(1, 10, 1, s));
    rn.campaign();
    for (let i = 0; i < 10 && rn.hasReady(); i++) {
      const rd = rn.ready();
      persist(s, rd);
      rn.advance(rd);
    }
    expect(rn.raft.state).toBe(StateType.StateLeader);
    expect(rn.raft.raftLog.committed).toBe(1);
    expect(rn.hasReady()).toBe(false);

    rn.readIndex(utf8('somedata2'));
    expect(rn.hasReady()).toBe(true);
    const rd = rn.ready();
    expect(rd.readStates).toEqual([{ index: 1, requestCtx: utf8('somedata2') }]);
    // Accepting the Ready clears the read states.
    expect(rn.raft.readStates).toEqual([]);
    rn.advance(rd);
    expect(rn.hasReady()).toBe(false);
    expect(rn.ready().readStates).toEqual([]);
  });

  // etcd's TestRawNodeReadIndex: read states set on raft come out in Ready.
  it('surfaces pending read states in Ready', () => {
    const s = newTestMemoryStorage(withPeers(1));
    const rn = new RawNode(newTestConfig(1, 10, 1, s));
    const wrs = [{ index: 1, requestCtx: utf8('somedata') }];
    rn.raft.readStates = wrs;
    expect(rn.hasReady()).toBe(true);
    const rd = rn.ready();
    expect(rd.readStates).toEqual(wrs);
    persist(s, rd);
    rn.advance(rd);
    expect(rn.raft.readStates).toEqual([]);
  });

  it('without a leader, drops the request silently', () => {
    const s = newTestMemoryStorage(withPeers(1, 2, 3));
    const rn = new RawNode(newTestConfig(1, 10, 1, s));
    expect(() => rn.readIndex(utf8('x'))).not.toThrow();
    expect(rn.hasReady()).toBe(false);
  });

  // A follower's read goes to the leader and back, all through Ready and step.
  it('works from a follower in a three-node cluster', () => {
    const ids = [1, 2, 3];
    const stores = new Map(ids.map((id) => [id, newTestMemoryStorage(withPeers(...ids))]));
    const nodes = new Map(ids.map((id) => [id, new RawNode(newTestConfig(id, 10, 1, stores.get(id)!))]));
    const pump = () => {
      for (let round = 0; round < 100; round++) {
        const inflight: Message[] = [];
        for (const [id, rn] of nodes) {
          if (!rn.hasReady()) continue;
          const rd = rn.ready();
          persist(stores.get(id)!, rd);
          inflight.push(...rd.messages);
          rn.advance(rd);
        }
        if (inflight.length === 0) return;
        for (const m of inflight) nodes.get(m.to)!.step(m);
      }
      throw new Error('cluster did not settle');
    };
    nodes.get(1)!.campaign();
    pump();
    expect(nodes.get(1)!.raft.state).toBe(StateType.StateLeader);
    expect(nodes.get(2)!.raft.lead).toBe(1);

    const follower = nodes.get(2)!;
    follower.readIndex(utf8('from-2'));
    const rd = follower.ready();
    expect(rd.readStates).toEqual([]);
    expect(rd.messages).toEqual([expect.objectContaining({ type: MsgReadIndex, from: 2, to: 1 })]);
    persist(stores.get(2)!, rd);
    follower.advance(rd);
    for (const m of rd.messages) nodes.get(m.to)!.step(m);

    // Collect the follower's read states as Readys hand them out.
    const got: Array<{ index: number; requestCtx: Uint8Array }> = [];
    for (let round = 0; round < 100; round++) {
      const inflight: Message[] = [];
      for (const [id, rn] of nodes) {
        if (!rn.hasReady()) continue;
        const r = rn.ready();
        if (id === 2) got.push(...r.readStates);
        persist(stores.get(id)!, r);
        inflight.push(...r.messages);
        rn.advance(r);
      }
      if (inflight.length === 0) break;
      for (const m of inflight) nodes.get(m.to)!.step(m);
    }
    expect(got).toEqual([{ index: nodes.get(1)!.raft.raftLog.committed, requestCtx: utf8('from-2') }]);
    // The leader itself got no read state.
    expect(nodes.get(1)!.raft.readStates).toEqual([]);
  });
});

// Reads carry term 0 on the wire (like proposals), so a read forwarded by a
// follower is never mistaken for a stale message.
it('a forwarded read is handled whatever the leader term', () => {
  const nt = newNetworkWithConfig(undefined, undefined, undefined, undefined);
  nt.send(msg(MsgHup, 1, 1));
  nt.send(msg(MsgHup, 2, 2));
  const lead = nt.raft(2);
  expect(lead.state).toBe(StateType.StateLeader);
  expect(lead.term).toBe(2);
  nt.send(readIndexMsg(3, 3, 'any'));
  expect(nt.raft(3).readStates).toEqual([{ index: lead.raftLog.committed, requestCtx: utf8('any') }]);
  // MsgProp travels the same way.
  nt.send(msg(MsgProp, 3, 3, { entries: [newEntry({ data: utf8('p') })] }));
  expect(lead.raftLog.committed).toBe(3);
});

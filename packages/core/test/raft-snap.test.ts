// Snapshots, on both ends: the leader deciding a follower needs one, pausing
// replication while it is in flight and resuming after it is reported or
// acknowledged; the follower installing (or refusing) it. In the spirit of
// etcd-raft's raft_snap_test.go and the restore/provide tests of
// raft_test.go, plus an application-level round trip over MemoryStorage's
// createSnapshot/compact/applySnapshot.
import { describe, expect, it } from 'vitest';
import { ErrSnapOutOfDate, RaftPanic } from '../src/errors.js';
import { StateType } from '../src/raft.js';
import { MessageType, newConfState, newEntry, type Message } from '../src/raftpb/types.js';
import { SnapshotStatus } from '../src/raw-node.js';
import { ProgressStateType } from '../src/tracker/state.js';
import {
  index,
  msg,
  newNetwork,
  newTestMemoryStorage,
  newTestRaft,
  nextEnts,
  propMsg,
  readMessages,
  setRandomizedElectionTimeout,
  withLearners,
  withPeers,
} from './helpers/raft-harness.js';
import {
  decodeState,
  leaderRestoredFromTestingSnap,
  newTestLearnerRaft,
  RawNodeCluster,
  snapshotAt,
  SnapshotUnavailableStorage,
  testingSnap,
  thrown,
} from './helpers/snap-harness.js';

const { MsgApp, MsgAppResp, MsgSnap, MsgSnapStatus, MsgHeartbeatResp, MsgBeat, MsgHup } = MessageType;
const { StateProbe, StateReplicate, StateSnapshot } = ProgressStateType;

/** The follower rejects the append at next-1 with no hint, as an empty follower would. */
function rejectAt(r: ReturnType<typeof leaderRestoredFromTestingSnap>, from: number): Message {
  return msg(MsgAppResp, from, 1, { index: r.trk.progress.get(from)!.next - 1, reject: true });
}

// ---------------------------------------------------------------------------
describe('leader: sending a snapshot', () => {
  it('a follower that needs compacted entries gets a MsgSnap and its progress waits for it', () => {
    // etcd's TestSendingSnapshotSetPendingSnapshot and TestProvideSnap.
    const sm = leaderRestoredFromTestingSnap([1]);
    expect(sm.raftLog.firstIndex()).toBe(12);
    readMessages(sm);

    // Pretend node 2 needs entries from the first index on; its rejection
    // (hint 0) sends next below the first index, into compacted territory.
    const pr2 = sm.trk.progress.get(2)!;
    pr2.next = sm.raftLog.firstIndex();
    sm.step(rejectAt(sm, 2));

    expect(pr2.state).toBe(StateSnapshot);
    expect(pr2.pendingSnapshot).toBe(11);
    expect(pr2.next).toBe(12);
    expect(pr2.isPaused()).toBe(true);
    expect(pr2.recentActive).toBe(true);

    const msgs = readMessages(sm);
    expect(msgs).toHaveLength(1);
    const m = msgs[0]!;
    expect(m.type).toBe(MsgSnap);
    expect(m.to).toBe(2);
    expect(m.term).toBe(sm.term);
    expect(m.snapshot?.metadata.index).toBe(11);
    expect(m.snapshot?.metadata.term).toBe(11);
    expect(m.snapshot?.metadata.confState).toEqual(newConfState({ voters: [1, 2] }));
  });

  it('a follower that is not recently active is not sent a snapshot', () => {
    // etcd's TestIgnoreProvidingSnap.
    const sm = leaderRestoredFromTestingSnap([1]);
    readMessages(sm);
    const pr2 = sm.trk.progress.get(2)!;
    pr2.next = sm.raftLog.firstIndex() - 1;
    pr2.recentActive = false;

    sm.step(propMsg(1, 1, 'somedata'));

    expect(readMessages(sm)).toEqual([]);
    expect(pr2.state).toBe(StateProbe);
    expect(pr2.pendingSnapshot).toBe(0);
  });

  it('replication to a follower is paused while its snapshot is pending', () => {
    // etcd's TestPendingSnapshotPauseReplication.
    const sm = leaderRestoredFromTestingSnap([1, 2]);
    readMessages(sm);
    sm.trk.progress.get(2)!.becomeSnapshot(11);

    sm.step(propMsg(1, 1, 'somedata'));
    expect(readMessages(sm)).toEqual([]);

    // A heartbeat response does not unpause it either (StateSnapshot is
    // always paused), though heartbeats keep going out.
    sm.step(msg(MsgHeartbeatResp, 2, 1, { term: sm.term }));
    expect(readMessages(sm)).toEqual([]);
    sm.step(msg(MsgBeat, 1, 1));
    expect(readMessages(sm).map((m) => m.type)).toEqual([MessageType.MsgHeartbeat]);
    expect(sm.trk.progress.get(2)!.state).toBe(StateSnapshot);
  });

  it('a failed snapshot moves the follower back to probing from its match, paused', () => {
    // etcd's TestSnapshotFailure.
    const sm = leaderRestoredFromTestingSnap([1, 2]);
    const pr2 = sm.trk.progress.get(2)!;
    pr2.next = 1;
    pr2.becomeSnapshot(11);

    sm.step(msg(MsgSnapStatus, 2, 1, { reject: true }));

    expect(pr2.state).toBe(StateProbe);
    expect(pr2.pendingSnapshot).toBe(0);
    expect(pr2.next).toBe(1);
    expect(pr2.msgAppFlowPaused).toBe(true);
  });

  it('after a failed snapshot, the next heartbeat response makes the leader send one again', () => {
    const sm = leaderRestoredFromTestingSnap([1, 2]);
    readMessages(sm);
    const pr2 = sm.trk.progress.get(2)!;
    pr2.recentActive = true;
    pr2.becomeSnapshot(11);
    sm.step(msg(MsgSnapStatus, 2, 1, { reject: true }));
    expect(readMessages(sm)).toEqual([]);

    sm.step(msg(MsgHeartbeatResp, 2, 1, { term: sm.term }));
    const msgs = readMessages(sm);
    expect(msgs.map((m) => m.type)).toEqual([MsgSnap]);
    expect(pr2.state).toBe(StateSnapshot);
    expect(pr2.pendingSnapshot).toBe(11);
  });

  it('a successful snapshot moves the follower to probing past the snapshot, paused', () => {
    // etcd's TestSnapshotSucceed.
    const sm = leaderRestoredFromTestingSnap([1, 2]);
    const pr2 = sm.trk.progress.get(2)!;
    pr2.next = 1;
    pr2.becomeSnapshot(11);

    sm.step(msg(MsgSnapStatus, 2, 1, { reject: false }));

    expect(pr2.state).toBe(StateProbe);
    expect(pr2.pendingSnapshot).toBe(0);
    expect(pr2.next).toBe(12);
    expect(pr2.msgAppFlowPaused).toBe(true);
  });

  it('after a successful snapshot, the next heartbeat response probes right after it', () => {
    const sm = leaderRestoredFromTestingSnap([1, 2]);
    readMessages(sm);
    const pr2 = sm.trk.progress.get(2)!;
    pr2.becomeSnapshot(11);
    sm.step(msg(MsgSnapStatus, 2, 1));
    expect(readMessages(sm)).toEqual([]);

    sm.step(msg(MsgHeartbeatResp, 2, 1, { term: sm.term }));
    const msgs = readMessages(sm);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.type).toBe(MsgApp);
    expect(msgs[0]!.index).toBe(11);
    expect(msgs[0]!.logTerm).toBe(11);
    expect(msgs[0]!.entries.map((e) => e.index)).toEqual([12]);
  });

  it('MsgSnapStatus is ignored unless the follower is waiting for a snapshot', () => {
    const sm = leaderRestoredFromTestingSnap([1, 2]);
    const pr2 = sm.trk.progress.get(2)!;
    pr2.match = 11;
    pr2.becomeReplicate();
    const before = pr2.clone();

    sm.step(msg(MsgSnapStatus, 2, 1, { reject: true }));
    sm.step(msg(MsgSnapStatus, 2, 1, { reject: false }));

    expect(pr2).toEqual(before);
  });

  it('a MsgAppResp at the pending snapshot index aborts the snapshot and resumes replication', () => {
    // etcd's TestSnapshotAbort.
    const sm = leaderRestoredFromTestingSnap([1, 2]);
    const pr2 = sm.trk.progress.get(2)!;
    pr2.next = 1;
    pr2.becomeSnapshot(11);

    sm.step(msg(MsgAppResp, 2, 1, { index: 11 }));

    expect(pr2.pendingSnapshot).toBe(0);
    expect(pr2.state).toBe(StateReplicate);
    // The leader sent the entry at 12 (its empty entry) right away and
    // optimistically moved next past it.
    expect(pr2.next).toBe(13);
    expect(pr2.inflights.count()).toBe(1);
    const msgs = readMessages(sm);
    expect(msgs.filter((m) => m.to === 2).map((m) => [m.type, m.index, m.entries.length])).toEqual([[MsgApp, 11, 1]]);
  });

  it('a MsgAppResp beyond the pending snapshot also aborts it', () => {
    // The follower caught up some other way (say, a snapshot of its own at a
    // later index): any match from which the log can continue will do.
    const sm = leaderRestoredFromTestingSnap([1, 2]);
    readMessages(sm);
    const pr2 = sm.trk.progress.get(2)!;
    pr2.becomeSnapshot(11);

    sm.step(msg(MsgAppResp, 2, 1, { index: 12 }));

    expect(pr2.state).toBe(StateReplicate);
    expect(pr2.pendingSnapshot).toBe(0);
    expect(pr2.match).toBe(12);
    expect(pr2.next).toBe(13);
    expect(pr2.isPaused()).toBe(false);
  });

  it('a MsgAppResp behind the pending snapshot, but from which the log continues, also aborts it', () => {
    // As etcd's snapshot_succeed_via_app_resp_behind: the index the leader
    // recorded as pending does not matter, only whether the follower's match
    // lets replication continue from the log (match+1 >= first index).
    const sm = leaderRestoredFromTestingSnap([1, 2]);
    for (let i = 0; i < 3; i++) sm.step(propMsg(1, 1, `e${i}`));
    readMessages(sm);
    expect(sm.raftLog.lastIndex()).toBe(15);
    const pr2 = sm.trk.progress.get(2)!;
    pr2.becomeSnapshot(14); // say, a newer snapshot was sent

    sm.step(msg(MsgAppResp, 2, 1, { index: 11 }));

    expect(pr2.state).toBe(StateReplicate);
    expect(pr2.pendingSnapshot).toBe(0);
    expect(pr2.match).toBe(11);
    // Replication resumes right after the match, not after the snapshot.
    const apps = readMessages(sm).filter((m) => m.type === MsgApp && m.to === 2);
    expect(apps.map((m) => [m.index, m.entries.map((e) => e.index)])).toEqual([[11, [12, 13, 14, 15]]]);
  });

  it('a MsgAppResp that still leaves the follower behind the first index keeps it waiting', () => {
    const sm = leaderRestoredFromTestingSnap([1, 2]);
    readMessages(sm);
    const pr2 = sm.trk.progress.get(2)!;
    pr2.becomeSnapshot(11);

    sm.step(msg(MsgAppResp, 2, 1, { index: 5 }));

    expect(pr2.state).toBe(StateSnapshot);
    expect(pr2.pendingSnapshot).toBe(11);
    expect(pr2.match).toBe(5);
    expect(readMessages(sm)).toEqual([]);
  });
  it('a storage compacted without a snapshot makes the leader panic when one is needed', () => {
    // etcd panics with "need non-empty snapshot": the application broke the
    // contract that compacted entries are covered by a snapshot.
    const storage = newTestMemoryStorage(withPeers(1, 2));
    storage.append(index(1).terms(1, 1, 1, 1, 1));
    storage.compact(3);
    const sm = newTestRaft(1, 10, 1, storage);
    sm.becomeCandidate();
    sm.becomeLeader();
    readMessages(sm);
    sm.trk.progress.get(2)!.next = 4;

    const err = thrown(() => sm.step(msg(MsgAppResp, 2, 1, { index: 3, reject: true })));
    expect(err).toBeInstanceOf(RaftPanic);
    expect((err as Error).message).toBe('need non-empty snapshot');
  });
});

// ---------------------------------------------------------------------------
describe('leader: snapshot temporarily unavailable', () => {
  function leaderOverUnavailableStorage() {
    const storage = new SnapshotUnavailableStorage();
    storage.applySnapshot(snapshotAt(11, 11, { voters: [1, 2] }));
    const sm = newTestRaft(1, 10, 1, storage);
    sm.becomeCandidate();
    sm.becomeLeader();
    readMessages(sm);
    return { sm, storage, pr2: sm.trk.progress.get(2)! };
  }

  it('the leader sends nothing and leaves the follower probing', () => {
    const { sm, storage, pr2 } = leaderOverUnavailableStorage();
    expect(sm.raftLog.firstIndex()).toBe(12);
    pr2.next = 12;

    sm.step(rejectAt(sm, 2));

    expect(storage.attempts).toBe(1);
    expect(readMessages(sm)).toEqual([]);
    expect(pr2.state).toBe(StateProbe);
    expect(pr2.pendingSnapshot).toBe(0);
    expect(pr2.next).toBe(1);
    // Nothing was sent, so nothing pauses the follower: the next chance to
    // send tries again.
    expect(pr2.isPaused()).toBe(false);
  });

  it('retries on the next occasion and sends the snapshot once storage has it', () => {
    const { sm, storage, pr2 } = leaderOverUnavailableStorage();
    pr2.next = 12;
    sm.step(rejectAt(sm, 2));
    expect(readMessages(sm)).toEqual([]);

    // Still unavailable: a heartbeat response tries again, sends nothing.
    sm.step(msg(MsgHeartbeatResp, 2, 1, { term: sm.term }));
    expect(storage.attempts).toBe(2);
    expect(readMessages(sm)).toEqual([]);
    expect(pr2.state).toBe(StateProbe);

    storage.unavailable = false;
    sm.step(msg(MsgHeartbeatResp, 2, 1, { term: sm.term }));
    expect(storage.attempts).toBe(3);
    const msgs = readMessages(sm);
    expect(msgs.map((m) => m.type)).toEqual([MsgSnap]);
    expect(msgs[0]!.snapshot?.metadata.index).toBe(11);
    expect(pr2.state).toBe(StateSnapshot);
    expect(pr2.pendingSnapshot).toBe(11);
  });

  it('a proposal broadcast also retries', () => {
    const { sm, storage, pr2 } = leaderOverUnavailableStorage();
    pr2.next = 12;
    sm.step(rejectAt(sm, 2));
    storage.unavailable = false;

    sm.step(propMsg(1, 1, 'somedata'));

    expect(readMessages(sm).map((m) => [m.type, m.to])).toEqual([[MsgSnap, 2]]);
    expect(pr2.state).toBe(StateSnapshot);
  });
});

// ---------------------------------------------------------------------------
describe('follower: restoring a snapshot', () => {
  it('restores the log, commit index and voters; a second restore is a no-op', () => {
    // etcd's TestRestore.
    const s = snapshotAt(11, 11, { voters: [1, 2, 3] });
    const sm = newTestRaft(1, 10, 1, newTestMemoryStorage(withPeers(1, 2)));

    expect(sm.restore(s)).toBe(true);
    expect(sm.raftLog.lastIndex()).toBe(11);
    expect(sm.raftLog.term(11)).toBe(11);
    expect(sm.raftLog.committed).toBe(11);
    expect(sm.trk.voterNodes()).toEqual([1, 2, 3]);
    expect(sm.raftLog.nextUnstableSnapshot()?.metadata.index).toBe(11);

    expect(sm.restore(s)).toBe(false);
    // It does not campaign while the snapshot is not applied yet.
    for (let i = 0; i < sm.randomizedElectionTimeout; i++) sm.tick();
    expect(sm.state).toBe(StateType.StateFollower);
  });

  it('restores learners', () => {
    // etcd's TestRestoreWithLearner.
    const s = snapshotAt(11, 11, { voters: [1, 2], learners: [3] });
    const sm = newTestLearnerRaft(3, 8, 2, [1, 2], [3]);

    expect(sm.restore(s)).toBe(true);
    expect(sm.raftLog.lastIndex()).toBe(11);
    expect(sm.raftLog.term(11)).toBe(11);
    expect(sm.trk.voterNodes()).toEqual([1, 2]);
    expect(sm.trk.learnerNodes()).toEqual([3]);
    for (const id of [1, 2]) expect(sm.trk.progress.get(id)!.isLearner).toBe(false);
    expect(sm.trk.progress.get(3)!.isLearner).toBe(true);
    expect(sm.isLearner).toBe(true);

    expect(sm.restore(s)).toBe(false);
  });

  it('restores a joint configuration (an outgoing voter receives it)', () => {
    // etcd's TestRestoreWithVotersOutgoing.
    const s = snapshotAt(11, 11, { voters: [2, 3, 4], votersOutgoing: [1, 2, 3] });
    const sm = newTestRaft(1, 10, 1, newTestMemoryStorage(withPeers(1, 2)));

    expect(sm.restore(s)).toBe(true);
    expect(sm.raftLog.lastIndex()).toBe(11);
    expect(sm.raftLog.term(11)).toBe(11);
    expect(sm.trk.voterNodes()).toEqual([1, 2, 3, 4]);
    expect(sm.trk.confState()).toEqual(newConfState({ voters: [2, 3, 4], votersOutgoing: [1, 2, 3] }));
    expect(sm.restore(s)).toBe(false);

    for (let i = 0; i < sm.randomizedElectionTimeout; i++) sm.tick();
    expect(sm.state).toBe(StateType.StateFollower);
  });

  it('restores a joint configuration with learners_next and auto-leave', () => {
    const cs = { voters: [2, 3], votersOutgoing: [1, 2, 3], learners: [4], learnersNext: [1], autoLeave: true };
    const sm = newTestRaft(1, 10, 1, newTestMemoryStorage(withPeers(1, 2, 3)));

    expect(sm.restore(snapshotAt(11, 11, cs))).toBe(true);

    expect(sm.trk.confState()).toEqual(newConfState(cs));
    expect(sm.trk.config.autoLeave).toBe(true);
    expect([...sm.trk.config.learnersNext]).toEqual([1]);
    // Node 1 still votes in the outgoing half until the joint config is left.
    expect(sm.isLearner).toBe(false);
    expect(sm.trk.progress.get(4)!.isLearner).toBe(true);
  });

  it('a voter can be demoted to a learner by a snapshot', () => {
    // etcd's TestRestoreVoterToLearner.
    const sm = newTestRaft(3, 10, 1, newTestMemoryStorage(withPeers(1, 2, 3)));
    expect(sm.isLearner).toBe(false);
    expect(sm.restore(snapshotAt(11, 11, { voters: [1, 2], learners: [3] }))).toBe(true);
    expect(sm.isLearner).toBe(true);
  });

  it('a learner can be promoted by a snapshot', () => {
    // etcd's TestRestoreLearnerPromotion.
    const sm = newTestLearnerRaft(3, 10, 1, [1, 2], [3]);
    expect(sm.isLearner).toBe(true);
    expect(sm.restore(snapshotAt(11, 11, { voters: [1, 2, 3] }))).toBe(true);
    expect(sm.isLearner).toBe(false);
  });

  it('ignores a snapshot at or below its commit index; one it holds fast-forwards the commit', () => {
    // etcd's TestRestoreIgnoreSnapshot.
    const sm = newTestRaft(1, 10, 1, newTestMemoryStorage(withPeers(1, 2)));
    sm.raftLog.append(index(1).terms(1, 1, 1));
    sm.raftLog.commitTo(1);

    const s = snapshotAt(1, 1, { voters: [1, 2] });
    expect(sm.restore(s)).toBe(false);
    expect(sm.raftLog.committed).toBe(1);

    // The log already holds (index 2, term 1): nothing to restore, but the
    // snapshot proves 2 is committed.
    s.metadata.index = 2;
    expect(sm.restore(s)).toBe(false);
    expect(sm.raftLog.committed).toBe(2);
    expect(sm.raftLog.lastIndex()).toBe(3);
    expect(sm.raftLog.hasNextOrInProgressSnapshot()).toBe(false);
  });

  it('a snapshot whose entry conflicts with the log replaces the log', () => {
    const sm = newTestRaft(1, 10, 1, newTestMemoryStorage(withPeers(1, 2)));
    sm.raftLog.append(index(1).terms(1, 1, 1));
    sm.raftLog.commitTo(1);

    expect(sm.restore(snapshotAt(2, 2, { voters: [1, 2] }))).toBe(true);
    expect(sm.raftLog.lastIndex()).toBe(2);
    expect(sm.raftLog.term(2)).toBe(2);
    expect(sm.raftLog.committed).toBe(2);
  });

  it('a MsgSnap from the leader is restored and acknowledged with the new last index', () => {
    // etcd's TestRestoreFromSnapMsg, with the outcome checked.
    const sm = newTestRaft(2, 10, 1, newTestMemoryStorage(withPeers(1, 2)));
    sm.step(msg(MsgSnap, 1, 2, { term: 2, snapshot: testingSnap() }));

    expect(sm.lead).toBe(1);
    expect(sm.term).toBe(2);
    expect(sm.raftLog.committed).toBe(11);
    expect(sm.raftLog.lastIndex()).toBe(11);
    expect(readMessages(sm).map((m) => [m.type, m.to, m.index, m.reject])).toEqual([[MsgAppResp, 1, 11, false]]);
  });

  it('a candidate receiving a MsgSnap of its term steps down and restores it', () => {
    const sm = newTestRaft(2, 10, 1, newTestMemoryStorage(withPeers(1, 2)));
    sm.becomeCandidate();
    readMessages(sm);

    sm.step(msg(MsgSnap, 1, 2, { term: sm.term, snapshot: testingSnap() }));

    expect(sm.state).toBe(StateType.StateFollower);
    expect(sm.lead).toBe(1);
    expect(sm.raftLog.committed).toBe(11);
  });

  it('a stale MsgSnap is ignored and answered with the commit index', () => {
    const sm = newTestRaft(2, 10, 1, newTestMemoryStorage(withPeers(1, 2)));
    sm.step(msg(MsgSnap, 1, 2, { term: 2, snapshot: testingSnap() }));
    readMessages(sm);
    sm.raftLog.stableSnapTo(11);

    sm.step(msg(MsgSnap, 1, 2, { term: 2, snapshot: snapshotAt(5, 2, { voters: [1, 2] }) }));

    expect(sm.raftLog.committed).toBe(11);
    expect(sm.raftLog.hasNextUnstableSnapshot()).toBe(false);
    expect(readMessages(sm).map((m) => [m.type, m.index])).toEqual([[MsgAppResp, 11]]);
  });

  it('a snapshot whose ConfState does not include the node is ignored', () => {
    const sm = newTestRaft(3, 10, 1, newTestMemoryStorage(withPeers(1, 2, 3)));
    const s = snapshotAt(11, 11, { voters: [1, 2], learners: [4] });

    expect(sm.restore(s)).toBe(false);
    expect(sm.raftLog.lastIndex()).toBe(0);
    expect(sm.raftLog.committed).toBe(0);
    expect(sm.trk.voterNodes()).toEqual([1, 2, 3]);

    // Delivered as a message: refused, answered with the (unchanged) commit.
    sm.step(msg(MsgSnap, 1, 3, { term: 2, snapshot: s }));
    expect(sm.raftLog.hasNextOrInProgressSnapshot()).toBe(false);
    expect(readMessages(sm).map((m) => [m.type, m.to, m.index])).toEqual([[MsgAppResp, 1, 0]]);
  });

  it('a leader never restores a snapshot: it steps down to a higher term instead', () => {
    const sm = leaderRestoredFromTestingSnap([1, 2]);
    const term = sm.term;

    expect(sm.restore(snapshotAt(20, term, { voters: [1, 2] }))).toBe(false);

    expect(sm.state).toBe(StateType.StateFollower);
    expect(sm.term).toBe(term + 1);
    expect(sm.raftLog.lastIndex()).toBe(12);
  });

  it('a learner receives a snapshot from the leader and catches up', () => {
    // etcd's TestLearnerReceiveSnapshot.
    const s = snapshotAt(11, 11, { voters: [1], learners: [2] });
    const store = newTestMemoryStorage(withPeers(1), withLearners(2));
    const n1 = newTestRaft(1, 10, 1, store);
    const n2 = newTestLearnerRaft(2, 10, 1, [1], [2]);

    n1.restore(s);
    const snap = n1.raftLog.nextUnstableSnapshot()!;
    store.applySnapshot(snap);
    n1.appliedSnap(snap);

    const nt = newNetwork(n1, n2);
    setRandomizedElectionTimeout(n1, n1.electionTimeout);
    for (let i = 0; i < n1.electionTimeout; i++) n1.tick();
    nt.send(msg(MsgBeat, 1, 1));

    expect(n1.state).toBe(StateType.StateLeader);
    expect(n2.raftLog.committed).toBe(n1.raftLog.committed);
    expect(n2.raftLog.committed).toBeGreaterThan(11);
    expect(n2.raftLog.hasNextOrInProgressSnapshot()).toBe(true);
  });
});

// ---------------------------------------------------------------------------
describe('end to end: compaction, snapshot, catch-up', () => {
  it('a slow node is restored from the leader after the leader compacted its log', () => {
    // etcd's TestSlowNodeRestore.
    const nt = newNetwork(undefined, undefined, undefined);
    nt.send(msg(MsgHup, 1, 1));
    nt.isolate(3);
    for (let j = 0; j <= 100; j++) nt.send(msg(MessageType.MsgProp, 1, 1, { entries: [newEntry()] }));

    const lead = nt.raft(1);
    const ls = nt.storage.get(1)!;
    nextEnts(lead, ls);
    ls.createSnapshot(lead.raftLog.applied, newConfState({ voters: lead.trk.voterNodes() }), new Uint8Array());
    ls.compact(lead.raftLog.applied);
    expect(lead.raftLog.firstIndex()).toBe(lead.raftLog.applied + 1);

    nt.recover();
    // Heartbeats until the leader has heard from 3 (it only sends snapshots
    // to recently active followers).
    for (let i = 0; i < 50 && !lead.trk.progress.get(3)!.recentActive; i++) nt.send(msg(MsgBeat, 1, 1));
    expect(lead.trk.progress.get(3)!.recentActive).toBe(true);

    nt.send(msg(MessageType.MsgProp, 1, 1, { entries: [newEntry()] }));
    const follower = nt.raft(3);
    nt.send(msg(MessageType.MsgProp, 1, 1, { entries: [newEntry()] }));

    expect(follower.raftLog.committed).toBe(lead.raftLog.committed);
    expect(follower.raftLog.firstIndex()).toBeGreaterThan(100);
  });

  /** Three nodes, 1 leads; 3 misses `n` entries while isolated; 1 snapshots and compacts. */
  function laggingFollowerAfterCompaction(n = 20) {
    const c = new RawNodeCluster([1, 2, 3]);
    c.elect(1);
    expect(c.raft(1).state).toBe(StateType.StateLeader);
    c.isolate(3);
    for (let i = 0; i < n; i++) c.propose(1, `v${i}`);
    const applied = c.node(1).appliedIndex;
    expect(applied).toBe(n + 1);
    expect(c.node(3).appliedIndex).toBe(1);

    const snap = c.snapshotAndCompact(1);
    expect(snap.metadata.index).toBe(applied);
    expect(snap.metadata.confState).toEqual(newConfState({ voters: [1, 2, 3] }));
    expect(c.node(1).storage.firstIndex()).toBe(applied + 1);
    expect(c.raft(1).raftLog.firstIndex()).toBe(applied + 1);
    // Compacting again at the same point is refused by the storage.
    expect(() => c.node(1).storage.createSnapshot(applied, undefined, new Uint8Array())).toThrow(ErrSnapOutOfDate);
    c.heal();
    return { c, applied };
  }

  it('the follower installs the snapshot from Ready, acks it, and replication resumes', () => {
    const { c, applied } = laggingFollowerAfterCompaction();
    const n3 = c.node(3);

    // A heartbeat round trip tells the leader 3 is back; the probe that
    // follows is rejected and leads to a snapshot.
    c.tick(1);

    expect(n3.installed.map((s) => s.metadata.index)).toEqual([applied]);
    expect(n3.storage.firstIndex()).toBe(applied + 1);
    expect(n3.storage.snapshot().metadata.index).toBe(applied);
    expect(n3.state).toEqual(c.node(1).state);
    expect(c.delivered.filter((m) => m.type === MsgSnap).map((m) => m.to)).toEqual([3]);
    // Installing it (advance after the Ready) marked it applied.
    expect(n3.rn.basicStatus().applied).toBe(applied);
    expect(n3.rn.raft.raftLog.hasNextOrInProgressSnapshot()).toBe(false);
    expect(n3.rn.raft.raftLog.committed).toBe(applied);

    // The follower's ack (MsgAppResp at the snapshot index) took the leader
    // out of StateSnapshot without any reportSnapshot call.
    const pr3 = c.raft(1).trk.progress.get(3)!;
    expect(pr3.state).toBe(StateReplicate);
    expect(pr3.match).toBe(applied);
    expect(pr3.pendingSnapshot).toBe(0);

    c.propose(1, 'after');
    for (const id of [1, 2, 3]) {
      expect(c.node(id).state.at(-1)).toBe('after');
      expect(c.node(id).appliedIndex).toBe(applied + 1);
    }
    expect(n3.state).toEqual([...Array.from({ length: 20 }, (_, i) => `v${i}`), 'after']);
    expect(decodeState(n3.installed[0]!.data)).toHaveLength(20);
  });

  it('reportSnapshot(SnapshotFinish) before the ack: the leader probes after the snapshot', () => {
    const { c, applied } = laggingFollowerAfterCompaction();
    // Hold snapshots back so the leader's view can be examined.
    const held: Message[] = [];
    c.filter = (m) => {
      if (m.type !== MsgSnap) return true;
      held.push(m);
      return false;
    };
    c.tick(1);

    expect(held).toHaveLength(1);
    const pr3 = c.raft(1).trk.progress.get(3)!;
    expect(pr3.state).toBe(StateSnapshot);
    expect(pr3.pendingSnapshot).toBe(applied);

    c.reportSnapshot(1, 3, SnapshotStatus.SnapshotFinish);
    expect(pr3.state).toBe(StateProbe);
    expect(pr3.next).toBe(applied + 1);
    expect(pr3.msgAppFlowPaused).toBe(true);

    // Now the snapshot arrives and is acknowledged.
    c.heal();
    c.queue.push(...held);
    c.stabilize();
    expect(pr3.state).toBe(StateReplicate);
    expect(pr3.match).toBe(applied);
    c.propose(1, 'after');
    expect(c.node(3).state).toEqual(c.node(1).state);
  });

  it('reportSnapshot(SnapshotFailure): the leader sends the snapshot again on the next heartbeat', () => {
    const { c, applied } = laggingFollowerAfterCompaction();
    let snapsDropped = 0;
    c.filter = (m) => {
      if (m.type !== MsgSnap) return true;
      snapsDropped++;
      return false;
    };
    c.tick(1);
    expect(snapsDropped).toBe(1);

    c.reportSnapshot(1, 3, SnapshotStatus.SnapshotFailure);
    const pr3 = c.raft(1).trk.progress.get(3)!;
    expect(pr3.state).toBe(StateProbe);
    expect(pr3.pendingSnapshot).toBe(0);
    expect(pr3.next).toBe(pr3.match + 1);
    expect(pr3.msgAppFlowPaused).toBe(true);

    c.heal();
    c.tick(1);
    expect(c.node(3).installed.map((s) => s.metadata.index)).toEqual([applied]);
    expect(pr3.state).toBe(StateReplicate);
    expect(c.node(3).state).toEqual(c.node(1).state);
  });

  it('a leader whose storage is still producing the snapshot sends it once it can', () => {
    let leaderStorage: SnapshotUnavailableStorage | undefined;
    const c = new RawNodeCluster([1, 2, 3], {
      storage: (id) => {
        if (id !== 1) return newTestMemoryStorage(withPeers(1, 2, 3));
        leaderStorage = new SnapshotUnavailableStorage();
        leaderStorage.applySnapshot(snapshotAt(0, 0, { voters: [1, 2, 3] }));
        return leaderStorage;
      },
    });
    leaderStorage!.unavailable = false;
    c.elect(1);
    c.isolate(3);
    for (let i = 0; i < 5; i++) c.propose(1, `v${i}`);
    c.snapshotAndCompact(1);
    c.heal();

    leaderStorage!.unavailable = true;
    c.tick(1);
    expect(leaderStorage!.attempts).toBeGreaterThan(0);
    expect(c.delivered.some((m) => m.type === MsgSnap)).toBe(false);
    expect(c.raft(1).trk.progress.get(3)!.state).toBe(StateProbe);

    leaderStorage!.unavailable = false;
    c.tick(1);
    expect(c.delivered.filter((m) => m.type === MsgSnap)).toHaveLength(1);
    expect(c.node(3).state).toEqual(c.node(1).state);
    expect(c.raft(1).trk.progress.get(3)!.state).toBe(StateReplicate);
  });
});

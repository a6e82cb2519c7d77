// Leadership transfer (Raft thesis §3.10), ported from etcd-raft's
// raft_test.go TestLeaderTransfer* cases, plus transfers to learners and
// non-members, and the forced vote a transfer carries through leases and
// pre-vote.
import { describe, expect, it } from 'vitest';
import { ErrProposalDropped } from '../src/errors.js';
import { StateType, type Raft } from '../src/raft.js';
import { encodeConfChange, encodeConfChangeV2 } from '../src/raftpb/codec.js';
import { confChangeAsV2 } from '../src/raftpb/confchange.js';
import {
  ConfChangeType,
  EntryType,
  MessageType,
  newConfChange,
  newConfChangeV2,
  newConfState,
  newEntry,
  type Message,
} from '../src/raftpb/types.js';
import {
  msg,
  newNetwork,
  newNetworkWithConfig,
  newTestMemoryStorage,
  newTestRaft,
  nextEnts,
  preVoteConfig,
  propMsg,
  readMessages,
  setRandomizedElectionTimeout,
  stepErr,
  withLearners,
  withPeers,
} from './helpers/raft-harness.js';

const { MsgHup, MsgProp, MsgTransferLeader, MsgTimeoutNow, MsgAppResp, MsgVote, MsgVoteResp } = MessageType;
const { StateFollower, StateCandidate, StateLeader } = StateType;

/** etcd's checkLeaderTransferState. */
function expectTransferState(r: Raft, state: StateType, lead: number): void {
  expect(r.state).toBe(state);
  expect(r.lead).toBe(lead);
  expect(r.leadTransferee).toBe(0);
}

function electedNetwork() {
  const nt = newNetwork(undefined, undefined, undefined);
  nt.send(msg(MsgHup, 1, 1));
  const lead = nt.raft(1);
  expect(lead.state).toBe(StateLeader);
  return { nt, lead };
}

describe('leader transfer', () => {
  it('to an up-to-date node succeeds at once, and back again', () => {
    const { nt, lead } = electedNetwork();
    expect(lead.lead).toBe(1);

    nt.send(msg(MsgTransferLeader, 2, 1));
    expectTransferState(lead, StateFollower, 2);
    expect(nt.raft(2).state).toBe(StateLeader);
    expect(nt.raft(2).term).toBe(2);

    // After some log replication, transfer leadership back to 1.
    nt.send(propMsg(1, 1));
    nt.send(msg(MsgTransferLeader, 1, 2));
    expectTransferState(lead, StateLeader, 1);
    expect(lead.term).toBe(3);
  });

  it('requested at a follower is forwarded to the leader', () => {
    const { nt, lead } = electedNetwork();

    nt.send(msg(MsgTransferLeader, 2, 2));
    expectTransferState(lead, StateFollower, 2);

    nt.send(propMsg(1, 1));
    nt.send(msg(MsgTransferLeader, 1, 1));
    expectTransferState(lead, StateLeader, 1);
  });

  it('a follower without a leader drops the request', () => {
    const r = newTestRaft(2, 10, 1, newTestMemoryStorage(withPeers(1, 2, 3)));
    r.step(msg(MsgTransferLeader, 2, 2));
    expect(readMessages(r)).toEqual([]);
  });

  // The transferee's vote request is forced through the voters' leases.
  it('works with checkQuorum while the leader lease holds', () => {
    const nt = newNetworkWithConfig((c) => (c.checkQuorum = true), undefined, undefined, undefined);
    for (let i = 1; i < 4; i++) setRandomizedElectionTimeout(nt.raft(i), nt.raft(i).electionTimeout + i);
    // Let 2's election timer run out so it votes for 1.
    const f = nt.raft(2);
    for (let i = 0; i < f.electionTimeout; i++) f.tick();
    nt.send(msg(MsgHup, 1, 1));
    const lead = nt.raft(1);
    expect(lead.state).toBe(StateLeader);

    nt.send(msg(MsgTransferLeader, 2, 1));
    expectTransferState(lead, StateFollower, 2);

    nt.send(propMsg(1, 1));
    nt.send(msg(MsgTransferLeader, 1, 2));
    expectTransferState(lead, StateLeader, 1);
  });

  // The transferee campaigns without a pre-vote round: MsgTimeoutNow says
  // there is no partition to guard against.
  it('skips pre-vote', () => {
    const nt = newNetworkWithConfig(preVoteConfig, undefined, undefined, undefined);
    nt.send(msg(MsgHup, 1, 1));
    const lead = nt.raft(1);
    expect(lead.state).toBe(StateLeader);
    const sent: MessageType[] = [];
    nt.msgHook = (m) => {
      sent.push(m.type);
      return true;
    };
    nt.send(msg(MsgTransferLeader, 3, 1));
    expectTransferState(lead, StateFollower, 3);
    expect(sent).toContain(MsgVote);
    expect(sent).not.toContain(MessageType.MsgPreVote);
  });

  it('to a slow follower first catches it up', () => {
    const { nt, lead } = electedNetwork();
    nt.isolate(3);
    nt.send(propMsg(1, 1));
    nt.recover();
    expect(lead.trk.progress.get(3)!.match).toBe(1);

    // Transfer to 3, which lacks an entry: the leader appends first, and
    // sends MsgTimeoutNow on the ack.
    nt.send(msg(MsgTransferLeader, 3, 1));
    expectTransferState(lead, StateFollower, 3);
    expect(nt.raft(3).state).toBe(StateLeader);
  });

  it('to a follower that needs a snapshot waits for it', () => {
    const { nt, lead } = electedNetwork();
    nt.isolate(3);
    nt.send(propMsg(1, 1));
    nextEnts(lead, nt.storage.get(1)!);
    nt.storage.get(1)!.createSnapshot(lead.raftLog.applied, newConfState({ voters: lead.trk.voterNodes() }), new Uint8Array(0));
    nt.storage.get(1)!.compact(lead.raftLog.applied);
    nt.recover();
    expect(lead.trk.progress.get(3)!.match).toBe(1);

    // The snapshot must be applied before 3 acknowledges it.
    let filtered: Message | undefined;
    nt.msgHook = (m) => {
      if (m.type !== MsgAppResp || m.from !== 3 || m.reject) return true;
      filtered = m;
      return false;
    };
    nt.send(msg(MsgTransferLeader, 3, 1));
    expect(lead.state).toBe(StateLeader);
    expect(lead.leadTransferee).toBe(3);
    expect(filtered).toBeDefined();

    // Apply the snapshot and resume.
    const follower = nt.raft(3);
    const snap = follower.raftLog.nextUnstableSnapshot()!;
    expect(snap.metadata.index).toBe(lead.raftLog.applied);
    nt.storage.get(3)!.applySnapshot(snap);
    follower.appliedSnap(snap);
    nt.msgHook = undefined;
    nt.send(filtered!);

    expectTransferState(lead, StateFollower, 3);
  });

  it('to self is a no-op', () => {
    const { nt, lead } = electedNetwork();
    nt.send(msg(MsgTransferLeader, 1, 1));
    expectTransferState(lead, StateLeader, 1);
    expect(readMessages(lead)).toEqual([]);
  });

  it('to a node not in the cluster is a no-op', () => {
    const { nt, lead } = electedNetwork();
    nt.send(msg(MsgTransferLeader, 4, 1));
    expectTransferState(lead, StateLeader, 1);
  });

  // A learner cannot lead: its request is refused, and it would ignore a
  // MsgTimeoutNow anyway.
  it('to a learner is refused', () => {
    const peers = [1, 2, 3].map((id) => newTestRaft(id, 10, 1, newTestMemoryStorage(withPeers(1, 2), withLearners(3))));
    const nt = newNetwork(...peers);
    nt.send(msg(MsgHup, 1, 1));
    const lead = nt.raft(1);
    expect(lead.state).toBe(StateLeader);
    expect(lead.trk.progress.get(3)!.isLearner).toBe(true);

    nt.send(msg(MsgTransferLeader, 3, 1));
    expectTransferState(lead, StateLeader, 1);
    expect(readMessages(lead).filter((m) => m.type === MsgTimeoutNow)).toEqual([]);
    // Asked through the learner itself, likewise.
    nt.send(msg(MsgTransferLeader, 3, 3));
    expectTransferState(lead, StateLeader, 1);
    expect(nt.raft(3).state).toBe(StateFollower);
  });

  // etcd's TestLearnerCampaign: a learner ignores MsgHup and MsgTimeoutNow
  // (it may have become a learner after the transfer was checked).
  it('a learner ignores MsgTimeoutNow', () => {
    const n1 = newTestRaft(1, 10, 1, newTestMemoryStorage(withPeers(1)));
    n1.applyConfChange(confChangeAsV2(newConfChange({ nodeId: 2, type: ConfChangeType.ConfChangeAddLearnerNode })));
    const n2 = newTestRaft(2, 10, 1, newTestMemoryStorage(withPeers(1)));
    n2.applyConfChange(confChangeAsV2(newConfChange({ nodeId: 2, type: ConfChangeType.ConfChangeAddLearnerNode })));
    const nt = newNetwork(n1, n2);
    nt.send(msg(MsgHup, 2, 2));
    expect(n2.isLearner).toBe(true);
    expect(n2.state).toBe(StateFollower);

    nt.send(msg(MsgHup, 1, 1));
    expect(n1.state).toBe(StateLeader);
    expect(n1.lead).toBe(1);

    nt.send(msg(MsgTimeoutNow, 1, 2, { term: n1.term }));
    expect(n2.state).toBe(StateFollower);
    expect(n1.state).toBe(StateLeader);
  });

  // etcd's TestTransferNonMember: a node removed from the group ignores
  // MsgTimeoutNow, even if votes then arrive.
  it('a non-member ignores MsgTimeoutNow', () => {
    const r = newTestRaft(1, 5, 1, newTestMemoryStorage(withPeers(2, 3, 4)));
    r.step(msg(MsgTimeoutNow, 2, 1));
    r.step(msg(MsgVoteResp, 2, 1));
    r.step(msg(MsgVoteResp, 3, 1));
    expect(r.state).toBe(StateFollower);
    expect(r.term).toBe(0);
  });

  it('a candidate ignores MsgTimeoutNow', () => {
    const r = newTestRaft(1, 10, 1, newTestMemoryStorage(withPeers(1, 2, 3)));
    r.becomeCandidate();
    readMessages(r);
    r.step(msg(MsgTimeoutNow, 2, 1, { term: r.term }));
    expect(r.state).toBe(StateCandidate);
    expect(r.term).toBe(1);
    expect(readMessages(r)).toEqual([]);
  });

  it('is abandoned after an election timeout', () => {
    const { nt, lead } = electedNetwork();
    nt.isolate(3);

    nt.send(msg(MsgTransferLeader, 3, 1));
    expect(lead.leadTransferee).toBe(3);

    for (let i = 0; i < lead.heartbeatTimeout; i++) lead.tick();
    expect(lead.leadTransferee).toBe(3);

    for (let i = 0; i < lead.electionTimeout - lead.heartbeatTimeout; i++) lead.tick();
    expectTransferState(lead, StateLeader, 1);
  });

  it('drops proposals while in progress', () => {
    const s = newTestMemoryStorage(withPeers(1, 2, 3));
    const r = newTestRaft(1, 10, 1, s);
    const nt = newNetwork(r, undefined, undefined);
    nt.send(msg(MsgHup, 1, 1));
    nt.isolate(3);
    const lead = nt.raft(1);
    nextEnts(r, s); // handle the empty entry

    // Keep the transfer pending (3 is cut off), then propose.
    nt.send(msg(MsgTransferLeader, 3, 1));
    expect(lead.leadTransferee).toBe(3);

    nt.send(propMsg(1, 1));
    const err = stepErr(lead, propMsg(1, 1));
    expect(err).toBeInstanceOf(ErrProposalDropped);
    expect(err!.message).toBe('raft proposal dropped');
    expect(lead.trk.progress.get(1)!.match).toBe(1);
    expect(lead.raftLog.lastIndex()).toBe(1);
  });

  it('is abandoned when a higher-term vote arrives', () => {
    const { nt, lead } = electedNetwork();
    nt.isolate(3);

    nt.send(msg(MsgTransferLeader, 3, 1));
    expect(lead.leadTransferee).toBe(3);

    nt.send(msg(MsgHup, 2, 2, { index: 1, term: 2 }));
    expectTransferState(lead, StateFollower, 2);
  });

  it('is abandoned when the transferee is removed', () => {
    const { nt, lead } = electedNetwork();
    nt.ignore(MsgTimeoutNow);

    nt.send(msg(MsgTransferLeader, 3, 1));
    expect(lead.leadTransferee).toBe(3);

    lead.applyConfChange(confChangeAsV2(newConfChange({ nodeId: 3, type: ConfChangeType.ConfChangeRemoveNode })));
    expectTransferState(lead, StateLeader, 1);
  });

  it('is abandoned when the transferee is demoted to learner', () => {
    const { nt, lead } = electedNetwork();
    nt.ignore(MsgTimeoutNow);

    nt.send(msg(MsgTransferLeader, 3, 1));
    expect(lead.leadTransferee).toBe(3);

    lead.applyConfChange(
      newConfChangeV2({
        changes: [
          { type: ConfChangeType.ConfChangeRemoveNode, nodeId: 3 },
          { type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 3 },
        ],
      }),
    );
    // Leave the joint config, as committing the LeaveJoint entry would.
    lead.applyConfChange(newConfChangeV2());
    expectTransferState(lead, StateLeader, 1);
  });

  it('back to the leader itself cancels a pending transfer', () => {
    const { nt, lead } = electedNetwork();
    nt.isolate(3);

    nt.send(msg(MsgTransferLeader, 3, 1));
    expect(lead.leadTransferee).toBe(3);

    nt.send(msg(MsgTransferLeader, 1, 1));
    expectTransferState(lead, StateLeader, 1);
  });

  it('a second transfer to another node replaces the pending one', () => {
    const { nt, lead } = electedNetwork();
    nt.isolate(3);

    nt.send(msg(MsgTransferLeader, 3, 1));
    expect(lead.leadTransferee).toBe(3);

    nt.send(msg(MsgTransferLeader, 2, 1));
    expectTransferState(lead, StateFollower, 2);
  });

  it('a second transfer to the same node does not extend the timeout', () => {
    const { nt, lead } = electedNetwork();
    nt.isolate(3);

    nt.send(msg(MsgTransferLeader, 3, 1));
    expect(lead.leadTransferee).toBe(3);

    for (let i = 0; i < lead.heartbeatTimeout; i++) lead.tick();
    nt.send(msg(MsgTransferLeader, 3, 1));

    for (let i = 0; i < lead.electionTimeout - lead.heartbeatTimeout; i++) lead.tick();
    expectTransferState(lead, StateLeader, 1);
  });

  // etcd's TestConfChangeCheckBeforeCampaign: a node with a committed but
  // unapplied conf change may not campaign, even when asked to take over.
  describe.each([
    ['ConfChange', false],
    ['ConfChangeV2', true],
  ])('with an unapplied %s', (_name, v2) => {
    it('the transferee does not campaign until it applies it', () => {
      const nt = newNetwork(undefined, undefined, undefined);
      const n1 = nt.raft(1);
      const n2 = nt.raft(2);
      nt.send(msg(MsgHup, 1, 1));
      expect(n1.state).toBe(StateLeader);

      // Begin to remove the second node.
      const cc = newConfChange({ type: ConfChangeType.ConfChangeRemoveNode, nodeId: 2 });
      const entry = v2
        ? newEntry({ type: EntryType.EntryConfChangeV2, data: encodeConfChangeV2(confChangeAsV2(cc)) })
        : newEntry({ type: EntryType.EntryConfChange, data: encodeConfChange(cc) });
      nt.send(msg(MsgProp, 1, 1, { entries: [entry] }));

      // The election timeout passes, but 2 does not campaign.
      for (let i = 0; i < n2.randomizedElectionTimeout; i++) n2.tick();
      expect(n2.state).toBe(StateFollower);

      // Nor does it on a transfer.
      nt.send(msg(MsgTransferLeader, 2, 1));
      expect(n1.state).toBe(StateLeader);
      expect(n2.state).toBe(StateFollower);

      // Let the transfer time out.
      for (let i = 0; i < n1.electionTimeout; i++) n1.tick();
      expect(n1.leadTransferee).toBe(0);

      // Once it applied the entries, 2 takes over.
      nextEnts(n2, nt.storage.get(2)!);
      nt.send(msg(MsgTransferLeader, 2, 1));
      expect(n1.state).toBe(StateFollower);
      expect(n2.state).toBe(StateLeader);

      nextEnts(n1, nt.storage.get(1)!);
      // Now 1 campaigns on its own timeout.
      for (let i = 0; i < n1.randomizedElectionTimeout; i++) n1.tick();
      expect(n1.state).toBe(StateCandidate);
    });
  });
});

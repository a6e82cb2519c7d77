// RawNode, the synchronous application-facing API: stepping messages,
// proposing and applying conf changes (v1 and v2, simple and joint), read
// index, starting and restarting from storage, status, Ready pagination and
// size limits, and asynchronous storage writes. In the spirit of etcd-raft's
// rawnode_test.go, plus a few cases of our own around conf changes, removal,
// leader transfer and bootstrap().
import { describe, expect, it } from 'vitest';
import { noLimit, type Config } from '../src/config.js';
import {
  ErrConfChangeRefused,
  ErrInvalidConfig,
  ErrProposalDropped,
  ErrStepLocalMsg,
  ErrStepPeerNotFound,
  RaftError,
  RaftPanic,
} from '../src/errors.js';
import { StateType } from '../src/raft.js';
import { encodeConfChange, encodeConfChangeV2 } from '../src/raftpb/codec.js';
import { confChangeAsV1, confChangeAsV2, enterJoint } from '../src/raftpb/confchange.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  MessageType,
  newConfChange,
  newConfChangeV2,
  newConfState,
  newEntry,
  newHardState,
  newMessage,
  type ConfChange,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type Message,
} from '../src/raftpb/types.js';
import { RawNode, type Ready } from '../src/raw-node.js';
import { JointConfig } from '../src/quorum/joint.js';
import { MajorityConfig } from '../src/quorum/majority.js';
import { MemoryStorage } from '../src/storage.js';
import { isLocalMsg, isResponseMsg, LocalAppendThread, LocalApplyThread } from '../src/util/messages.js';
import { entrySize, payloadSize } from '../src/util/sizes.js';
import { interceptStepFn, newTestConfig, newTestMemoryStorage, newTestRaft, nextEnts, stepErr, utf8, withPeers } from './helpers/raft-harness.js';
import { expectStartRoundTrip } from './helpers/raw-node-start.js';
import { confChangeOf, IgnoreSizeHintStorage, peekReady, RawNodeCluster, RecordingLogger, thrown } from './helpers/snap-harness.js';

const { StateLeader, StateFollower } = StateType;

function newRawNode(id: number, election: number, heartbeat: number, storage: MemoryStorage): RawNode {
  return new RawNode(newTestConfig(id, election, heartbeat, storage));
}

/** Handles Readies of a lone node (no peers to talk to) until it has none. */
function settle(rn: RawNode, s: MemoryStorage, onCommitted: (e: Entry) => void = () => {}): Ready[] {
  const readies: Ready[] = [];
  for (let i = 0; rn.hasReady(); i++) {
    if (i > 100) throw new Error('node did not settle');
    const rd = rn.ready();
    readies.push(rd);
    if (rd.hardState) s.setHardState(rd.hardState);
    s.append(rd.entries);
    for (const e of rd.committedEntries) onCommitted(e);
    rn.advance(rd);
  }
  return readies;
}

/** A single-voter RawNode that campaigned and has applied its empty entry. */
function singleLeader(storage = newTestMemoryStorage(withPeers(1)), configure?: (c: Config) => void) {
  const cfg = newTestConfig(1, 10, 1, storage);
  configure?.(cfg);
  const rn = new RawNode(cfg);
  rn.campaign();
  settle(rn, storage);
  expect(rn.raft.state).toBe(StateLeader);
  return { rn, s: storage };
}

const ccAdd = (nodeId: number, context?: string): ConfChange =>
  newConfChange({ type: ConfChangeType.ConfChangeAddNode, nodeId, ...(context !== undefined && { context: utf8(context) }) });

// ---------------------------------------------------------------------------
describe('RawNode.step', () => {
  const allTypes = Object.values(MessageType).filter((v): v is MessageType => typeof v === 'number');

  function stepFresh(type: MessageType): Error | undefined {
    // A node that has a log (one entry, compacted into a snapshot), so that
    // non-local messages like votes are answered without assertion failures.
    const s = new MemoryStorage();
    s.setHardState(newHardState({ term: 1, commit: 1 }));
    s.append([newEntry({ term: 1, index: 1 })]);
    s.applySnapshot({ data: new Uint8Array(), metadata: { index: 1, term: 1, confState: newConfState({ voters: [1] }) } });
    const rn = newRawNode(1, 10, 1, s);
    return stepErr(rn, newMessage({ type }));
  }

  // etcd's TestRawNodeStep: every message type; the local ones are refused.
  it.each(allTypes.map((t) => [MessageType[t], t] as const))('%s', (_name, type) => {
    const err = stepFresh(type);
    if (isLocalMsg(type)) {
      expect(err).toBeInstanceOf(ErrStepLocalMsg);
    } else if (isResponseMsg(type)) {
      // From node 0, which is not in the config.
      expect(err).toBeInstanceOf(ErrStepPeerNotFound);
    } else if (type === MessageType.MsgProp) {
      // A follower without a leader cannot take proposals.
      expect(err).toBeInstanceOf(ErrProposalDropped);
    } else {
      expect(err).toBeUndefined();
    }
  });

  it('covers every message type etcd has', () => {
    expect(allTypes).toHaveLength(24);
    expect(allTypes.filter(isLocalMsg).map((t) => MessageType[t])).toEqual([
      'MsgHup',
      'MsgBeat',
      'MsgUnreachable',
      'MsgSnapStatus',
      'MsgCheckQuorum',
      'MsgStorageAppend',
      'MsgStorageAppendResp',
      'MsgStorageApply',
      'MsgStorageApplyResp',
    ]);
  });

  it('local messages are accepted from the local storage threads', () => {
    const { rn } = singleLeader();
    expect(stepErr(rn, newMessage({ type: MessageType.MsgStorageAppendResp, from: LocalAppendThread, to: 1 }))).toBeUndefined();
    expect(stepErr(rn, newMessage({ type: MessageType.MsgStorageApplyResp, from: LocalApplyThread, to: 1 }))).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------
describe('proposing and applying conf changes', () => {
  interface Case {
    name: string;
    cc: ConfChange | ConfChangeV2;
    exp: Partial<ConfState>;
    /** The ConfState after leaving the joint config, if joint. */
    exp2?: Partial<ConfState>;
  }
  const add2 = { type: ConfChangeType.ConfChangeAddNode, nodeId: 2 };
  const learner2 = { type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 2 };
  const replace = [
    { type: ConfChangeType.ConfChangeAddNode, nodeId: 2 },
    { type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 1 },
    { type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 3 },
  ];
  const { ConfChangeTransitionJointExplicit: explicit, ConfChangeTransitionJointImplicit: implicit } = ConfChangeTransition;

  const cases: Case[] = [
    { name: 'v1 add node', cc: ccAdd(2), exp: { voters: [1, 2] } },
    { name: 'v2 add node, no joint config', cc: newConfChangeV2({ changes: [add2] }), exp: { voters: [1, 2] } },
    { name: 'v2 add learner', cc: newConfChangeV2({ changes: [learner2] }), exp: { voters: [1], learners: [2] } },
    {
      name: 'v2 add learner, explicit joint',
      cc: newConfChangeV2({ changes: [learner2], transition: explicit }),
      exp: { voters: [1], votersOutgoing: [1], learners: [2] },
      exp2: { voters: [1], learners: [2] },
    },
    {
      name: 'v2 add learner, implicit joint (auto leave)',
      cc: newConfChangeV2({ changes: [learner2], transition: implicit }),
      exp: { voters: [1], votersOutgoing: [1], learners: [2], autoLeave: true },
      exp2: { voters: [1], learners: [2] },
    },
    {
      name: 'v2 add 2 and demote 1 (learners_next), auto',
      cc: newConfChangeV2({ changes: replace }),
      exp: { voters: [2], votersOutgoing: [1], learners: [3], learnersNext: [1], autoLeave: true },
      exp2: { voters: [2], learners: [1, 3] },
    },
    {
      name: 'v2 add 2 and demote 1, explicit',
      cc: newConfChangeV2({ changes: replace, transition: explicit }),
      exp: { voters: [2], votersOutgoing: [1], learners: [3], learnersNext: [1] },
      exp2: { voters: [2], learners: [1, 3] },
    },
    {
      name: 'v2 add 2 and demote 1, implicit',
      cc: newConfChangeV2({ changes: replace, transition: implicit }),
      exp: { voters: [2], votersOutgoing: [1], learners: [3], learnersNext: [1], autoLeave: true },
      exp2: { voters: [2], learners: [1, 3] },
    },
  ];

  // etcd's TestRawNodeProposeAndConfChange.
  it.each(cases)('$name', ({ cc, exp, exp2 }) => {
    const s = newTestMemoryStorage(withPeers(1));
    const rn = newRawNode(1, 10, 1, s);
    rn.campaign();

    // Propose a command and the conf change once leader; run until the conf
    // change applies and keep the ConfState it returns.
    let proposed = false;
    let ccdata: Uint8Array = new Uint8Array();
    let cs: ConfState | undefined;
    for (let i = 0; cs === undefined; i++) {
      expect(i).toBeLessThan(20);
      const rd = rn.ready();
      s.append(rd.entries);
      for (const e of rd.committedEntries) {
        const c = confChangeOf(e);
        if (c !== undefined) cs = rn.applyConfChange(c);
      }
      rn.advance(rd);
      if (!proposed && rd.softState?.lead === rn.raft.id) {
        rn.propose(utf8('somedata'));
        const v1 = confChangeAsV1(cc);
        if (v1 !== undefined) {
          ccdata = encodeConfChange(v1);
          rn.proposeConfChange(v1);
        } else {
          const v2 = confChangeAsV2(cc);
          ccdata = encodeConfChangeV2(v2);
          rn.proposeConfChange(v2);
        }
        proposed = true;
      }
    }

    // The last two stable entries are the command and the conf change, the
    // latter exactly as proposed, down to the bytes.
    const lastIndex = s.lastIndex();
    const entries = s.entries(lastIndex - 1, lastIndex + 1, noLimit);
    expect(entries).toHaveLength(2);
    expect(entries[0]!.data).toEqual(utf8('somedata'));
    expect(entries[1]!.type).toBe(confChangeAsV1(cc) ? EntryType.EntryConfChange : EntryType.EntryConfChangeV2);
    expect(entries[1]!.data).toEqual(ccdata);

    expect(cs).toEqual(newConfState(exp));

    // An auto-leaving joint change has already appended the entry that
    // leaves (not yet in stable storage), and that entry is now pending.
    const autoLeave = enterJoint(confChangeAsV2(cc))?.autoLeave === true;
    expect(rn.raft.pendingConfIndex).toBe(lastIndex + (autoLeave ? 1 : 0));

    let rd = rn.ready();
    let context: Uint8Array = new Uint8Array();
    if (!exp.autoLeave) {
      expect(rd.entries).toEqual([]);
      rn.advance(rd);
      if (exp2 === undefined) return;
      // Leave the joint config by hand.
      context = utf8('manual');
      rn.proposeConfChange(newConfChangeV2({ context }));
      rd = rn.ready();
    }

    // The leaving conf change is the empty ConfChangeV2 (with our context).
    expect(rd.entries).toHaveLength(1);
    expect(rd.entries[0]!.type).toBe(EntryType.EntryConfChangeV2);
    const leave = confChangeOf(rd.entries[0]!);
    expect(leave).toEqual(newConfChangeV2({ context }));

    // Pretend it applied (a single node cannot commit with a joint quorum
    // that includes a missing voter).
    expect(rn.applyConfChange(leave!)).toEqual(newConfState(exp2));
    rn.advance(rd);
  });

  it('a joint config is left automatically even after the leader lost and regained leadership', () => {
    // etcd's TestRawNodeJointAutoLeave.
    const testCc = newConfChangeV2({
      changes: [{ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 2 }],
      transition: ConfChangeTransition.ConfChangeTransitionJointImplicit,
    });
    const s = newTestMemoryStorage(withPeers(1));
    const rn = newRawNode(1, 10, 1, s);
    rn.campaign();

    let proposed = false;
    let cs: ConfState | undefined;
    for (let i = 0; cs === undefined; i++) {
      expect(i).toBeLessThan(20);
      const rd = rn.ready();
      s.append(rd.entries);
      for (const e of rd.committedEntries) {
        const c = confChangeOf(e);
        if (c !== undefined) {
          // Force it to step down before applying.
          rn.step(newMessage({ type: MessageType.MsgHeartbeatResp, from: 1, term: rn.raft.term + 1 }));
          cs = rn.applyConfChange(c);
        }
      }
      rn.advance(rd);
      if (!proposed && rd.softState?.lead === rn.raft.id) {
        rn.propose(utf8('somedata'));
        rn.proposeConfChange(testCc);
        proposed = true;
      }
    }

    const lastIndex = s.lastIndex();
    const entries = s.entries(lastIndex - 1, lastIndex + 1, noLimit);
    expect(entries[0]!.data).toEqual(utf8('somedata'));
    expect(entries[1]!.type).toBe(EntryType.EntryConfChangeV2);
    expect(entries[1]!.data).toEqual(encodeConfChangeV2(testCc));
    expect(cs).toEqual(newConfState({ voters: [1], votersOutgoing: [1], learners: [2], autoLeave: true }));
    expect(rn.raft.pendingConfIndex).toBe(0);

    // A follower does not leave the joint config.
    expect(rn.raft.state).toBe(StateFollower);
    expect(peekReady(rn).entries).toEqual([]);

    // Leader again: once it has applied its new term's entry, it proposes
    // the leave.
    rn.campaign();
    let rd = rn.ready();
    for (let i = 0; i < 3; i++) {
      s.append(rd.entries);
      rn.advance(rd);
      rd = rn.ready();
    }
    s.append(rd.entries);
    expect(rd.entries).toHaveLength(1);
    expect(rd.entries[0]!.type).toBe(EntryType.EntryConfChangeV2);
    const leave = confChangeOf(rd.entries[0]!)!;
    expect(leave).toEqual(newConfChangeV2());
    expect(rn.applyConfChange(leave)).toEqual(newConfState({ voters: [1], learners: [2] }));
  });

  it('adding a node twice is harmless and does not block the next change', () => {
    // etcd's TestRawNodeProposeAddDuplicateNode. The second proposal comes
    // while the first is committed but not applied yet, so the leader refuses
    // it (an empty entry takes its place); etcd swallows that, we report it.
    const s = newTestMemoryStorage(withPeers(1));
    const rn = newRawNode(1, 10, 1, s);
    settle(rn, s);
    rn.campaign();
    settle(rn, s, (e) => {
      const c = confChangeOf(e);
      if (c) rn.applyConfChange(c);
    });
    expect(rn.raft.state).toBe(StateLeader);

    const proposeAndApply = (cc: ConfChange): unknown => {
      const err = thrown(() => rn.proposeConfChange(cc));
      const rd = rn.ready();
      s.append(rd.entries);
      for (const e of rd.committedEntries) {
        const c = confChangeOf(e);
        if (c) rn.applyConfChange(c);
      }
      rn.advance(rd);
      return err;
    };

    const cc1 = ccAdd(1);
    expect(proposeAndApply(cc1)).toBeUndefined();
    const first = s.lastIndex();
    const dup = proposeAndApply(cc1);
    expect(dup).toBeInstanceOf(ErrConfChangeRefused);
    expect((dup as ErrConfChangeRefused).reason).toBe(`possible unapplied conf change at index ${first} (applied to ${first - 1})`);

    const cc2 = ccAdd(2);
    expect(proposeAndApply(cc2)).toBeUndefined();

    const lastIndex = s.lastIndex();
    const entries = s.entries(lastIndex - 2, lastIndex + 1, noLimit);
    expect(entries).toHaveLength(3);
    expect(entries[0]!.data).toEqual(encodeConfChange(cc1));
    expect(entries[1]).toEqual(newEntry({ term: 1, index: lastIndex - 1, type: EntryType.EntryNormal }));
    expect(entries[2]!.data).toEqual(encodeConfChange(cc2));
  });
});

// ---------------------------------------------------------------------------
describe('refused conf changes', () => {
  function leaderWithPendingConfChange() {
    const logger = new RecordingLogger();
    const s = newTestMemoryStorage(withPeers(1));
    const rn = new RawNode({ ...newTestConfig(1, 10, 1, s), logger });
    rn.campaign();
    settle(rn, s);
    rn.proposeConfChange(ccAdd(2));
    const pending = rn.raft.raftLog.lastIndex();
    expect(rn.raft.pendingConfIndex).toBe(pending);
    return { rn, s, logger, pending };
  }

  it('a conf change while another is unapplied throws ErrConfChangeRefused; an empty entry takes its place', () => {
    const { rn, logger, pending } = leaderWithPendingConfChange();
    const applied = rn.raft.raftLog.applied;

    const err = thrown(() => rn.proposeConfChange(ccAdd(3)));

    expect(err).toBeInstanceOf(ErrConfChangeRefused);
    expect(err).toBeInstanceOf(ErrProposalDropped);
    const reason = `possible unapplied conf change at index ${pending} (applied to ${applied})`;
    expect((err as ErrConfChangeRefused).reason).toBe(reason);
    expect((err as Error).message).toContain(reason);

    // The log holds an empty normal entry instead, and the pending index is
    // still the first change's.
    const last = rn.raft.raftLog.lastIndex();
    expect(last).toBe(pending + 1);
    expect(rn.raft.raftLog.entries(last, noLimit)).toEqual([newEntry({ term: 1, index: last })]);
    expect(rn.raft.pendingConfIndex).toBe(pending);

    // etcd's log line, word for word.
    expect(logger.find('info', 'ignoring conf change')).toEqual([
      `1 ignoring conf change transition:ConfChangeTransitionAuto changes:{type:ConfChangeAddNode node_id:3} at config voters=(1): ${reason}`,
    ]);
    expect(reason).toBe('possible unapplied conf change at index 2 (applied to 1)');
  });

  it('the refusal is only about the pending change: once applied, the next one is accepted', () => {
    const { rn, s } = leaderWithPendingConfChange();
    expect(thrown(() => rn.proposeConfChange(ccAdd(3)))).toBeInstanceOf(ErrConfChangeRefused);

    const applied: Entry[] = [];
    settle(rn, s, (e) => {
      applied.push(e);
      const c = confChangeOf(e);
      if (c) rn.applyConfChange(c);
    });
    // The change to add 2 applied; the refused one came out as an empty entry.
    expect(applied.map((e) => e.type)).toEqual([EntryType.EntryConfChange, EntryType.EntryNormal]);
    expect(applied[1]!.data).toHaveLength(0);
    expect(rn.raft.trk.voterNodes()).toEqual([1, 2]);

    expect(thrown(() => rn.proposeConfChange(ccAdd(3)))).toBeUndefined();
    expect(rn.raft.raftLog.lastIndex()).toBe(rn.raft.pendingConfIndex);
  });

  it('leaving a joint config when not joint, and changing while joint, are refused with their reasons', () => {
    const { rn, s } = singleLeader();
    const notJoint = thrown(() => rn.proposeConfChange(newConfChangeV2()));
    expect(notJoint).toBeInstanceOf(ErrConfChangeRefused);
    expect((notJoint as ErrConfChangeRefused).reason).toBe('not in joint state; refusing empty conf change');
    settle(rn, s);

    // Enter a joint config explicitly (learner 2 added), and apply it.
    rn.proposeConfChange(
      newConfChangeV2({
        changes: [{ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 2 }],
        transition: ConfChangeTransition.ConfChangeTransitionJointExplicit,
      }),
    );
    settle(rn, s, (e) => {
      const c = confChangeOf(e);
      if (c) rn.applyConfChange(c);
    });
    expect(rn.raft.trk.config.voters.outgoing.size).toBe(1);

    const whileJoint = thrown(() => rn.proposeConfChange(ccAdd(3)));
    expect(whileJoint).toBeInstanceOf(ErrConfChangeRefused);
    expect((whileJoint as ErrConfChangeRefused).reason).toBe('must transition out of joint config first');
    expect(rn.raft.raftLog.entries(rn.raft.raftLog.lastIndex(), noLimit)[0]!.type).toBe(EntryType.EntryNormal);
  });

  it('with disableConfChangeValidation nothing is refused', () => {
    const { rn } = singleLeader(newTestMemoryStorage(withPeers(1)), (c) => {
      c.disableConfChangeValidation = true;
    });
    rn.proposeConfChange(ccAdd(2));
    expect(thrown(() => rn.proposeConfChange(ccAdd(3)))).toBeUndefined();
    const last = rn.raft.raftLog.lastIndex();
    expect(rn.raft.raftLog.entries(last - 1, noLimit).map((e) => e.type)).toEqual([
      EntryType.EntryConfChange,
      EntryType.EntryConfChange,
    ]);
  });

  it('a follower forwards a conf change without error; the leader refuses it silently', () => {
    const c = new RawNodeCluster([1, 2, 3]);
    c.elect(1);
    // Leader 1 proposes a change and does not get to apply it yet: hold
    // back everything so the proposal from 2 arrives while it is pending.
    c.node(1).rn.proposeConfChange(ccAdd(4));
    c.handleReady(1);
    const pending = c.raft(1).pendingConfIndex;

    expect(thrown(() => c.node(2).rn.proposeConfChange(ccAdd(5)))).toBeUndefined();
    c.stabilize();

    // Both entries committed and applied everywhere; the forwarded change is
    // an empty entry.
    const leaderLog = c.raft(1).raftLog.entries(pending, noLimit);
    expect(leaderLog.map((e) => e.type)).toEqual([EntryType.EntryConfChange, EntryType.EntryNormal]);
    for (const id of [1, 2, 3]) expect(c.node(id).confState.voters).toEqual([1, 2, 3, 4]);
  });
});

// ---------------------------------------------------------------------------
describe('membership', () => {
  it('after removing the other member of a 2-node cluster, the leader commits alone', () => {
    // etcd's TestCommitAfterRemoveNode, on the raft level.
    const s = newTestMemoryStorage(withPeers(1, 2));
    const r = newTestRaft(1, 5, 1, s);
    r.becomeCandidate();
    r.becomeLeader();

    const cc = newConfChange({ type: ConfChangeType.ConfChangeRemoveNode, nodeId: 2 });
    r.step(newMessage({ type: MessageType.MsgProp, entries: [newEntry({ type: EntryType.EntryConfChange, data: encodeConfChange(cc) })] }));
    expect(nextEnts(r, s)).toEqual([]);
    const ccIndex = r.raftLog.lastIndex();

    // While the conf change is pending, another proposal.
    r.step(newMessage({ type: MessageType.MsgProp, entries: [newEntry({ data: utf8('hello') })] }));

    // Node 2 acks the conf change, committing it.
    r.step(newMessage({ type: MessageType.MsgAppResp, from: 2, index: ccIndex }));
    let ents = nextEnts(r, s);
    expect(ents.map((e) => e.type)).toEqual([EntryType.EntryNormal, EntryType.EntryConfChange]);
    expect(ents[0]!.data).toHaveLength(0);

    // Applying it shrinks the quorum to 1: the pending command commits.
    r.applyConfChange(confChangeAsV2(cc));
    ents = nextEnts(r, s);
    expect(ents).toHaveLength(1);
    expect(ents[0]!.type).toBe(EntryType.EntryNormal);
    expect(ents[0]!.data).toEqual(utf8('hello'));
  });

  it('after removing the other member of a 2-node cluster, the remaining RawNode keeps committing', () => {
    const c = new RawNodeCluster([1, 2]);
    c.elect(1);
    c.propose(1, 'before');

    c.node(1).rn.proposeConfChange(newConfChange({ type: ConfChangeType.ConfChangeRemoveNode, nodeId: 2 }));
    c.stabilize();
    expect(c.node(1).confState).toEqual(newConfState({ voters: [1] }));
    expect(c.raft(1).trk.progress.has(2)).toBe(false);

    // Node 2 is gone for good.
    c.isolate(2);
    c.propose(1, 'after');
    c.propose(1, 'and more');
    expect(c.node(1).state).toEqual(['before', 'after', 'and more']);
    expect(c.raft(1).state).toBe(StateLeader);
    expect(c.raft(1).raftLog.committed).toBe(c.raft(1).raftLog.lastIndex());

    // A late response from the removed node is refused by RawNode.
    expect(stepErr(c.node(1).rn, newMessage({ type: MessageType.MsgAppResp, from: 2, to: 1, term: c.raft(1).term, index: 1 }))).toBeInstanceOf(
      ErrStepPeerNotFound,
    );
  });

  it('a leader transfer to a learner is refused', () => {
    const c = new RawNodeCluster([1], { learners: [2] });
    c.elect(1);
    c.propose(1, 'x');
    expect(c.node(2).state).toEqual(['x']);

    const before = c.delivered.length;
    c.node(1).rn.transferLeader(2);
    expect(c.raft(1).leadTransferee).toBe(0);
    c.stabilize();
    expect(c.delivered.slice(before).some((m) => m.type === MessageType.MsgTimeoutNow)).toBe(false);

    // Nor can the learner ask for it.
    c.node(2).rn.transferLeader(2);
    c.stabilize();
    expect(c.raft(1).leadTransferee).toBe(0);
    expect(c.raft(1).state).toBe(StateLeader);
    expect(c.raft(2).state).toBe(StateFollower);
    expect(c.node(1).rn.basicStatus().leadTransferee).toBe(0);
  });

  it('a leader transfer to an up-to-date voter succeeds (for contrast)', () => {
    const c = new RawNodeCluster([1, 2]);
    c.elect(1);
    c.node(1).rn.transferLeader(2);
    c.stabilize();
    expect(c.raft(2).state).toBe(StateLeader);
    expect(c.raft(1).state).toBe(StateFollower);
  });
});

// ---------------------------------------------------------------------------
describe('bootstrap', () => {
  it('refuses no peers and a non-empty storage with ErrInvalidConfig', () => {
    const rn = newRawNode(1, 10, 1, new MemoryStorage());
    expect(() => rn.bootstrap([])).toThrow(ErrInvalidConfig);

    const s = new MemoryStorage();
    s.append([newEntry({ term: 1, index: 1 })]);
    const rn2 = newRawNode(1, 10, 1, s);
    const err = thrown(() => rn2.bootstrap([{ id: 1 }]));
    expect(err).toBeInstanceOf(ErrInvalidConfig);
    expect((err as Error).message).toBe("can't bootstrap a nonempty Storage");
    // Nothing changed.
    expect(rn2.raft.raftLog.lastIndex()).toBe(1);
    expect(rn2.raft.term).toBe(0);
  });

  it('hands the initial conf changes out in the first Ready; the node can campaign at once', () => {
    const s = new MemoryStorage();
    const rn = newRawNode(1, 10, 1, s);
    rn.bootstrap([{ id: 1, context: utf8('n1') }, { id: 2 }]);
    // Campaign before the first Ready: the membership is already known.
    expect(rn.raft.trk.voterNodes()).toEqual([1, 2]);

    const rd = rn.ready();
    expect(rd.hardState).toEqual(newHardState({ term: 1, commit: 2 }));
    expect(rd.entries.map((e) => [e.index, e.term, e.type])).toEqual([
      [1, 1, EntryType.EntryConfChange],
      [2, 1, EntryType.EntryConfChange],
    ]);
    expect(rd.committedEntries).toEqual(rd.entries);
    expect(rd.mustSync).toBe(true);
    expect(confChangeOf(rd.committedEntries[0]!)).toEqual(ccAdd(1, 'n1'));
    s.setHardState(rd.hardState!);
    s.append(rd.entries);
    let cs: ConfState | undefined;
    for (const e of rd.committedEntries) cs = rn.applyConfChange(confChangeOf(e)!);
    expect(cs).toEqual(newConfState({ voters: [1, 2] }));
    rn.advance(rd);

    rn.campaign();
    const votes = rn.ready().messages.filter((m) => m.type === MessageType.MsgVote);
    expect(votes.map((m) => [m.to, m.term, m.index, m.logTerm])).toEqual([[2, 2, 2, 1]]);
  });
});

// ---------------------------------------------------------------------------
describe('read index', () => {
  it('read states come out in Ready and are cleared after; ReadIndex steps MsgReadIndex', () => {
    // etcd's TestRawNodeReadIndex.
    const s = newTestMemoryStorage(withPeers(1));
    const rn = newRawNode(1, 10, 1, s);
    const wrs = [{ index: 1, requestCtx: utf8('somedata') }];
    rn.raft.readStates = wrs;

    expect(rn.hasReady()).toBe(true);
    const rd = rn.ready();
    expect(rd.readStates).toEqual(wrs);
    s.append(rd.entries);
    rn.advance(rd);
    expect(rn.raft.readStates).toEqual([]);

    rn.campaign();
    settle(rn, s);
    expect(rn.raft.state).toBe(StateLeader);
    const intercepted = interceptStepFn(rn.raft);
    rn.readIndex(utf8('somedata2'));
    expect(intercepted.calls).toHaveLength(1);
    expect(intercepted.calls[0]!.type).toBe(MessageType.MsgReadIndex);
    expect(intercepted.calls[0]!.entries[0]!.data).toEqual(utf8('somedata2'));
  });

  it('a single-node leader answers at once with its commit index', () => {
    const { rn } = singleLeader();
    rn.readIndex(utf8('ctx'));
    const rd = rn.ready();
    expect(rd.readStates).toEqual([{ index: rn.raft.raftLog.committed, requestCtx: utf8('ctx') }]);
    rn.advance(rd);
    expect(rn.hasReady()).toBe(false);
  });

  it('a follower gets the leader commit index after a heartbeat round', () => {
    const c = new RawNodeCluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, 'a');
    const committed = c.raft(1).raftLog.committed;

    c.node(2).rn.readIndex(utf8('r1'));
    c.stabilize();

    const states = c.node(2).readies.flatMap((rd) => rd.readStates);
    expect(states).toEqual([{ index: committed, requestCtx: utf8('r1') }]);
  });
});

// ---------------------------------------------------------------------------
describe('start and restart', () => {
  it('starts from a storage bootstrapped with a ConfState at index 1', () => {
    // etcd's TestRawNodeStart.
    const storage = new MemoryStorage();
    storage.ents[0] = newEntry({ index: 1 });
    // What bootstrapping a storage requires, then the bootstrap itself.
    expect(storage.firstIndex()).toBe(2);
    expect(() => storage.entries(2, 2, noLimit)).toThrow(RaftError);
    expect(() => storage.entries(1, 1, noLimit)).toThrow(RaftError);
    const { hardState, confState } = storage.initialState();
    expect(hardState).toEqual(newHardState());
    expect(confState.voters).toEqual([]);
    storage.applySnapshot({ data: new Uint8Array(), metadata: { index: 1, term: 0, confState: newConfState({ voters: [1] }) } });

    const rn = newRawNode(1, 10, 1, storage);
    expectStartRoundTrip(rn, storage);
  });

  it('restarts from a hard state and entries: hands out what is committed, nothing else', () => {
    // etcd's TestRawNodeRestart.
    const entries = [newEntry({ term: 1, index: 1 }), newEntry({ term: 1, index: 2, data: utf8('foo') })];
    const storage = newTestMemoryStorage(withPeers(1));
    storage.setHardState(newHardState({ term: 1, commit: 1 }));
    storage.append(entries);

    const rn = newRawNode(1, 10, 1, storage);
    const rd = rn.ready();
    expect(rd).toEqual({ readStates: [], entries: [], committedEntries: entries.slice(0, 1), messages: [], mustSync: false });
    rn.advance(rd);
    expect(rn.hasReady()).toBe(false);
    expect(rn.basicStatus().applied).toBe(1);
    expect(rn.basicStatus().hardState).toEqual(newHardState({ term: 1, commit: 1 }));
  });

  it('restarts from a snapshot, a hard state and entries', () => {
    // etcd's TestRawNodeRestartFromSnapshot.
    const entries = [newEntry({ term: 1, index: 3, data: utf8('foo') })];
    const s = new MemoryStorage();
    s.setHardState(newHardState({ term: 1, commit: 3 }));
    s.applySnapshot({ data: new Uint8Array(), metadata: { index: 2, term: 1, confState: newConfState({ voters: [1, 2] }) } });
    s.append(entries);

    const rn = newRawNode(1, 10, 1, s);
    expect(rn.raft.trk.voterNodes()).toEqual([1, 2]);
    const rd = rn.ready();
    expect(rd).toEqual({ readStates: [], entries: [], committedEntries: entries, messages: [], mustSync: false });
    rn.advance(rd);
    expect(rn.hasReady()).toBe(false);
  });

  it('restarting with Config.applied skips what the application already applied', () => {
    const entries = [1, 2, 3].map((i) => newEntry({ term: 1, index: i, data: utf8(`e${i}`) }));
    const storage = newTestMemoryStorage(withPeers(1));
    storage.setHardState(newHardState({ term: 1, commit: 3 }));
    storage.append(entries);

    const rn = new RawNode({ ...newTestConfig(1, 10, 1, storage), applied: 2 });
    const rd = rn.ready();
    expect(rd.committedEntries).toEqual([entries[2]]);
  });
});

// ---------------------------------------------------------------------------
describe('status', () => {
  it('reports progress only on the leader, and the config', () => {
    // etcd's TestRawNodeStatus.
    const s = newTestMemoryStorage(withPeers(1));
    const rn = newRawNode(1, 10, 1, s);
    expect(rn.status().progress.size).toBe(0);

    rn.campaign();
    const rd = rn.ready();
    s.append(rd.entries);
    rn.advance(rd);

    const status = rn.status();
    expect(status.softState.lead).toBe(1);
    expect(status.softState.raftState).toBe(StateLeader);
    expect(status.progress.get(1)).toEqual(rn.raft.trk.progress.get(1));
    expect(status.config).toEqual({
      voters: new JointConfig(new MajorityConfig([1]), new MajorityConfig()),
      autoLeave: false,
      learners: new Set(),
      learnersNext: new Set(),
    });

    // The status is a copy.
    status.progress.get(1)!.match = 99;
    status.config.voters.incoming.add(7);
    expect(rn.raft.trk.progress.get(1)!.match).not.toBe(99);
    expect(rn.raft.trk.voterNodes()).toEqual([1]);
  });

  it('basicStatus and withProgress', () => {
    const c = new RawNodeCluster([1, 2], { learners: [3] });
    c.elect(1);
    const bs = c.node(1).rn.basicStatus();
    expect(bs).toEqual({
      id: 1,
      hardState: newHardState({ term: 1, vote: 1, commit: 1 }),
      softState: { lead: 1, raftState: StateLeader },
      applied: 1,
      leadTransferee: 0,
    });
    const seen: Array<[number, number, number]> = [];
    c.node(1).rn.withProgress((id, typ, pr) => seen.push([id, typ, pr.match]));
    expect(seen).toEqual([
      [1, 0, 1],
      [2, 0, 1],
      [3, 1, 1],
    ]);
    // A follower has no progress to show.
    expect(c.node(2).rn.status().progress.size).toBe(0);
    expect(c.node(2).rn.status().softState).toEqual({ lead: 1, raftState: StateFollower });
  });
});

// ---------------------------------------------------------------------------
describe('Ready pagination and size limits', () => {
  it('commit pagination after a restart never skips an entry', () => {
    // etcd's TestRawNodeCommitPaginationAfterRestart.
    const s = new IgnoreSizeHintStorage();
    s.applySnapshot({ data: new Uint8Array(), metadata: { index: 0, term: 0, confState: newConfState({ voters: [1] }) } });
    s.setHardState(newHardState({ term: 1, vote: 1, commit: 10 }));
    s.ents = [];
    let size = 0;
    for (let i = 0; i < 10; i++) {
      const ent = newEntry({ term: 1, index: i + 1, type: EntryType.EntryNormal, data: utf8('a') });
      s.ents.push(ent);
      size += entrySize(ent);
    }
    // A limit suggesting the last committed entry should not come in the
    // first Ready; the storage ignores it and returns it anyway.
    const cfg = newTestConfig(1, 10, 1, s);
    cfg.maxSizePerMsg = size - entrySize(s.ents[s.ents.length - 1]!) - 1;
    s.ents.push(newEntry({ term: 1, index: 11, type: EntryType.EntryNormal, data: utf8('boom') }));

    const rn = new RawNode(cfg);
    const appliedIndexes: number[] = [];
    for (let highestApplied = 0, i = 0; highestApplied !== 11; i++) {
      expect(i).toBeLessThan(20);
      const rd = rn.ready();
      const n = rd.committedEntries.length;
      expect(n, `stopped applying entries at index ${highestApplied}`).toBeGreaterThan(0);
      const next = rd.committedEntries[0]!.index;
      expect(highestApplied === 0 || highestApplied + 1 === next, `applying ${next} after ${highestApplied}`).toBe(true);
      highestApplied = rd.committedEntries[n - 1]!.index;
      appliedIndexes.push(...rd.committedEntries.map((e) => e.index));
      rn.advance(rd);
      rn.step(newMessage({ type: MessageType.MsgHeartbeat, to: 1, from: 2, term: 1, commit: 11 }));
    }
    // The storage's first index is 2 (ents[0] acts as the dummy entry).
    expect(appliedIndexes).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('maxCommittedSizePerReady pages committed entries across Readies', () => {
    const s = newTestMemoryStorage(withPeers(1));
    const ents = Array.from({ length: 10 }, (_, i) => newEntry({ term: 1, index: i + 1, data: utf8('0123456789') }));
    s.append(ents);
    s.setHardState(newHardState({ term: 1, commit: 10 }));
    const rn = new RawNode({ ...newTestConfig(1, 10, 1, s), maxCommittedSizePerReady: 3 * entrySize(ents[0]!) });

    const pages: number[][] = [];
    while (rn.hasReady()) {
      const rd = rn.ready();
      pages.push(rd.committedEntries.map((e) => e.index));
      rn.advance(rd);
    }
    expect(pages).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]);
  });

  it('maxUncommittedEntriesSize bounds the log of a leader cut off from its quorum', () => {
    // etcd's TestRawNodeBoundedLogGrowthWithPartition.
    const maxEntries = 16;
    const data = utf8('testdata');
    const maxEntrySize = maxEntries * payloadSize(newEntry({ data }));
    const s = newTestMemoryStorage(withPeers(1));
    const rn = new RawNode({ ...newTestConfig(1, 10, 1, s), maxUncommittedEntriesSize: maxEntrySize });

    rn.campaign();
    for (let i = 0; i < 20; i++) {
      const rd = rn.ready();
      s.append(rd.entries);
      rn.advance(rd);
      if (rd.committedEntries.length > 0) break;
    }

    // Nothing commits meanwhile (no Ready is handled): the proposals beyond
    // the limit are dropped.
    let dropped = 0;
    for (let i = 0; i < 1024; i++) {
      const err = thrown(() => rn.propose(data));
      if (err !== undefined) {
        expect(err).toBeInstanceOf(ErrProposalDropped);
        dropped++;
      }
    }
    expect(dropped).toBe(1024 - maxEntries);
    expect(rn.raft.uncommittedSize).toBe(maxEntrySize);

    // Recovery: the uncommitted tail goes away as entries commit and apply.
    let rd = rn.ready();
    expect(rd.entries).toHaveLength(maxEntries);
    s.append(rd.entries);
    rn.advance(rd);
    expect(rn.raft.uncommittedSize).toBe(maxEntrySize); // appended, not applied

    rd = rn.ready();
    expect(rd.entries).toEqual([]);
    expect(rd.committedEntries).toHaveLength(maxEntries);
    rn.advance(rd);
    expect(rn.raft.uncommittedSize).toBe(0);
  });
});

// ---------------------------------------------------------------------------
describe('Ready and advance', () => {
  it('ready() takes the messages; advance() keeps those added in between', () => {
    // etcd's TestRawNodeConsumeReady.
    const s = newTestMemoryStorage(withPeers(1));
    const rn = newRawNode(1, 3, 1, s);
    const m1 = newMessage({ type: MessageType.MsgHup, context: utf8('foo') });
    const m2 = newMessage({ type: MessageType.MsgHup, context: utf8('bar') });

    // Visible through a Ready that is not accepted, and still in raft.
    rn.raft.msgs.push(m1);
    let rd = peekReady(rn);
    expect(rd.messages).toEqual([m1]);
    expect(rn.raft.msgs).toEqual([m1]);

    // ready() moves it into the Ready.
    rd = rn.ready();
    expect(rn.raft.msgs).toEqual([]);
    expect(rd.messages).toEqual([m1]);

    // advance() does not drop what arrived after.
    rn.raft.msgs.push(m2);
    rn.advance(rd);
    expect(rn.raft.msgs).toEqual([m2]);
  });

  it('a vote goes out with the Ready that persists it; self-acks wait for advance()', () => {
    const c = new RawNodeCluster([1, 2, 3]);
    const rn = c.node(1).rn;
    rn.campaign();
    const rd = rn.ready();
    expect(rd.hardState).toEqual(newHardState({ term: 1, vote: 1 }));
    expect(rd.mustSync).toBe(true);
    expect(rd.messages.map((m) => [m.type, m.to])).toEqual([
      [MessageType.MsgVote, 2],
      [MessageType.MsgVote, 3],
    ]);
    // Our own vote is counted only on advance().
    expect(rn.raft.trk.votes.size).toBe(0);
    rn.advance(rd);
    expect(rn.raft.trk.votes.get(1)).toBe(true);
  });

  it('two Readys without advance() in between panic', () => {
    const { rn } = singleLeader();
    rn.propose(utf8('a'));
    rn.ready();
    rn.propose(utf8('b'));
    expect(() => rn.ready()).toThrow(RaftPanic);
  });
});

// ---------------------------------------------------------------------------
describe('asynchronous storage writes', () => {
  /** Persists a MsgStorageAppend into s, then hands back its responses. */
  function doAppend(s: MemoryStorage, m: Message): Message[] {
    expect(m.type).toBe(MessageType.MsgStorageAppend);
    expect(m.to).toBe(LocalAppendThread);
    if (m.term !== 0 || m.vote !== 0 || m.commit !== 0) s.setHardState(newHardState({ term: m.term, vote: m.vote, commit: m.commit }));
    if (m.snapshot) s.applySnapshot(m.snapshot);
    s.append(m.entries);
    return m.responses;
  }

  function asyncNode(storage = newTestMemoryStorage(withPeers(1))) {
    return { rn: new RawNode({ ...newTestConfig(1, 10, 1, storage), asyncStorageWrites: true }), s: storage };
  }

  it('storage work comes as messages; their responses drive raft instead of advance()', () => {
    const { rn, s } = asyncNode();
    rn.campaign();

    // 1. The vote must be durable before it counts.
    let rd = rn.ready();
    expect(rd.messages).toHaveLength(1);
    const app1 = rd.messages[0]!;
    expect([app1.type, app1.term, app1.vote, app1.commit]).toEqual([MessageType.MsgStorageAppend, 1, 1, 0]);
    expect(app1.responses.map((m) => [m.type, m.to])).toEqual([[MessageType.MsgVoteResp, 1]]);
    expect(rn.raft.state).toBe(StateType.StateCandidate);
    for (const m of doAppend(s, app1)) rn.step(m);
    expect(rn.raft.state).toBe(StateLeader);

    // 2. The leader's empty entry: appended, acked by the append thread.
    rd = rn.ready();
    expect(rd.committedEntries).toEqual([]);
    const app2 = rd.messages.find((m) => m.type === MessageType.MsgStorageAppend)!;
    expect(app2.entries.map((e) => e.index)).toEqual([1]);
    expect(app2.responses.map((m) => m.type)).toEqual([MessageType.MsgAppResp, MessageType.MsgStorageAppendResp]);
    const appendResp = app2.responses[1]!;
    expect([appendResp.from, appendResp.index, appendResp.logTerm]).toEqual([LocalAppendThread, 1, 1]);
    // Until the append is done, nothing commits.
    expect(rn.raft.raftLog.committed).toBe(0);
    for (const m of doAppend(s, app2)) rn.step(m);
    expect(rn.raft.raftLog.committed).toBe(1);
    expect(rn.raft.raftLog.nextUnstableEnts()).toEqual([]);

    // 3. Committed entries go to the apply thread.
    rd = rn.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1]);
    const apply = rd.messages.find((m) => m.type === MessageType.MsgStorageApply)!;
    expect(apply.to).toBe(LocalApplyThread);
    expect(apply.entries.map((e) => e.index)).toEqual([1]);
    expect(apply.responses.map((m) => [m.type, m.from])).toEqual([[MessageType.MsgStorageApplyResp, LocalApplyThread]]);
    // The new commit index is persisted by the append thread, too.
    const app3 = rd.messages.find((m) => m.type === MessageType.MsgStorageAppend)!;
    expect(app3.commit).toBe(1);
    for (const m of doAppend(s, app3)) rn.step(m);
    expect(rn.basicStatus().applied).toBe(0);
    for (const m of apply.responses) rn.step(m);
    expect(rn.basicStatus().applied).toBe(1);
    expect(s.initialState().hardState).toEqual(newHardState({ term: 1, vote: 1, commit: 1 }));

    expect(rn.hasReady()).toBe(false);
    // advance() is for synchronous storage only.
    expect(() => rn.advance()).toThrow(RaftPanic);
  });

  it('committed entries are not handed out before they are durable locally', () => {
    const { rn, s } = asyncNode();
    rn.campaign();
    for (const m of doAppend(s, rn.ready().messages[0]!)) rn.step(m);
    const app = rn.ready().messages.find((m) => m.type === MessageType.MsgStorageAppend)!;
    // Step only the self-ack (as if the storage acknowledged before the
    // MsgStorageAppendResp were delivered): the entry commits but is still
    // unstable, so it is not handed out for applying yet.
    rn.step(app.responses[0]!);
    expect(rn.raft.raftLog.committed).toBe(1);
    expect(rn.hasReady()).toBe(true); // the new commit index must be persisted
    const rd = rn.ready();
    expect(rd.committedEntries).toEqual([]);
    expect(rd.messages.some((m) => m.type === MessageType.MsgStorageApply)).toBe(false);

    // Once stable, it is.
    s.append(app.entries);
    for (const m of app.responses.slice(1)) rn.step(m);
    for (const m of rd.messages) for (const r of doAppend(s, m)) rn.step(r);
    expect(rn.ready().committedEntries.map((e) => e.index)).toEqual([1]);
  });

  it('a snapshot is installed by the append thread; its response marks it applied', () => {
    const s = newTestMemoryStorage(withPeers(1, 2));
    const rn = new RawNode({ ...newTestConfig(2, 10, 1, s), asyncStorageWrites: true });
    const snap = { data: utf8('state'), metadata: { index: 11, term: 11, confState: newConfState({ voters: [1, 2] }) } };
    rn.step(newMessage({ type: MessageType.MsgSnap, from: 1, to: 2, term: 12, snapshot: snap }));

    const rd = rn.ready();
    expect(rd.snapshot).toEqual(snap);
    expect(rd.messages.map((m) => m.type)).toEqual([MessageType.MsgStorageAppend]);
    const app = rd.messages[0]!;
    expect(app.snapshot).toEqual(snap);
    expect([app.term, app.vote, app.commit]).toEqual([12, 0, 11]);
    // The ack to the leader leaves only once the snapshot is durable.
    expect(app.responses.map((m) => [m.type, m.to, m.index])).toEqual([
      [MessageType.MsgAppResp, 1, 11],
      [MessageType.MsgStorageAppendResp, 2, 0],
    ]);
    expect(app.responses[1]!.snapshot).toEqual(snap);
    // Until then the snapshot is in progress: the node may not campaign.
    expect(rn.raft.raftLog.hasNextOrInProgressSnapshot()).toBe(true);
    expect(rn.raft.promotable()).toBe(false);

    for (const m of doAppend(s, app)) if (m.to === 2) rn.step(m);
    expect(s.snapshot().metadata.index).toBe(11);
    expect(s.firstIndex()).toBe(12);
    expect(rn.raft.raftLog.hasNextOrInProgressSnapshot()).toBe(false);
    expect(rn.basicStatus().applied).toBe(11);
    expect(rn.raft.promotable()).toBe(true);
  });

  it("a follower's ack rides in the append message's responses, addressed to the leader", () => {
    const s1 = newTestMemoryStorage(withPeers(1, 2));
    const s2 = newTestMemoryStorage(withPeers(1, 2));
    const n1 = new RawNode({ ...newTestConfig(1, 10, 1, s1), asyncStorageWrites: true });
    const n2 = new RawNode({ ...newTestConfig(2, 10, 1, s2), asyncStorageWrites: true });
    const nodes = new Map([
      [1, { rn: n1, s: s1 }],
      [2, { rn: n2, s: s2 }],
    ]);
    const sawAckInResponses: Message[] = [];

    // A tiny async driver: storage work is done at once, responses are
    // stepped (locally) or sent.
    const pending: Message[] = [];
    const pump = () => {
      for (let round = 0; round < 100; round++) {
        let busy = false;
        for (const [id, { rn, s }] of nodes) {
          while (rn.hasReady()) {
            busy = true;
            const rd = rn.ready();
            for (const m of rd.messages) {
              if (m.type === MessageType.MsgStorageAppend) {
                for (const r of doAppend(s, m)) {
                  if (r.type === MessageType.MsgAppResp && r.to !== id) sawAckInResponses.push(r);
                  pending.push(r);
                }
              } else if (m.type === MessageType.MsgStorageApply) {
                pending.push(...m.responses);
              } else {
                expect(m.type).not.toBe(MessageType.MsgAppResp);
                pending.push(m);
              }
            }
          }
        }
        while (pending.length > 0) {
          busy = true;
          const m = pending.shift()!;
          nodes.get(m.to)!.rn.step(m);
        }
        if (!busy) return;
      }
      throw new Error('did not settle');
    };

    n1.campaign();
    pump();
    expect(n1.raft.state).toBe(StateLeader);
    n1.propose(utf8('hello'));
    pump();

    expect(sawAckInResponses.length).toBeGreaterThan(0);
    expect(sawAckInResponses.every((m) => m.from === 2 && m.to === 1)).toBe(true);
    expect(n1.raft.raftLog.committed).toBe(2);
    expect(n2.raft.raftLog.committed).toBe(2);
    expect(n2.basicStatus().applied).toBe(2);
    expect(s2.entries(2, 3, noLimit)[0]!.data).toEqual(utf8('hello'));
  });
});

describe('minimal config', () => {
  // etcd-raft panics at the first committed entry when MaxSizePerMsg and
  // MaxCommittedSizePerReady are both left at 0; we hand entries out one
  // Ready at a time instead.
  it('commits and applies with only the required fields set', () => {
    const storage = new MemoryStorage();
    const rn = new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage, maxInflightMsgs: 256, logger: discardLoggerForTest() });
    rn.bootstrap([{ id: 1 }]);
    const applied: number[] = [];
    let proposed = false;
    for (let round = 0; round < 20 && applied.length < 3; round++) {
      // Campaign once the bootstrap conf change is applied, propose once leader.
      if (round === 1) rn.campaign();
      if (!proposed && rn.basicStatus().softState.raftState === StateType.StateLeader) {
        for (const s of ['a', 'b', 'c']) rn.propose(utf8(s));
        proposed = true;
      }
      while (rn.hasReady()) {
        const rd = rn.ready();
        storage.append(rd.entries);
        if (rd.hardState) storage.setHardState(rd.hardState);
        expect(rd.committedEntries.length).toBeLessThanOrEqual(1);
        for (const e of rd.committedEntries) if (e.data.length > 0 && e.type === 0) applied.push(e.index);
        rn.advance(rd);
      }
    }
    expect(applied).toHaveLength(3);
  });
});

function discardLoggerForTest(): Config['logger'] {
  return new RecordingLogger();
}

// The claims of the Raft paper (§5) that etcd-raft's raft_paper_test.go (and
// raft-rs's test_raft_paper.rs) check, each against the sentences it cites.
// Every test sets up a state by hand, steps messages in, and checks the
// outgoing messages and the resulting state.
import { describe, expect, it } from 'vitest';
import { StateType, type Raft } from '../src/raft.js';
import { MessageType, newEntry, newHardState, newMessage, type Entry, type Message } from '../src/raftpb/types.js';
import {
  acceptAndReply,
  advanceMessagesAfterAppend,
  commitNoopEntry,
  enterState,
  idsBySize,
  index,
  interceptStepFn,
  logSnapshot,
  msg,
  mustAppendEntry,
  newNetwork,
  newTestMemoryStorage,
  newTestRaft,
  nopStepper,
  propMsg,
  readMessages,
  sortMessages,
  utf8,
  withPeers,
} from './helpers/raft-harness.js';

const { MsgApp, MsgAppResp, MsgHeartbeat, MsgHup, MsgVote, MsgVoteResp } = MessageType;
const { StateFollower, StateCandidate, StateLeader } = StateType;

function threeNodeRaft(): Raft {
  return newTestRaft(1, 10, 1, newTestMemoryStorage(withPeers(1, 2, 3)));
}

describe('§5.1 terms', () => {
  // If one server's current term is smaller than the other's, it updates its
  // current term to the larger value. A candidate or leader that discovers
  // its term is out of date reverts to follower.
  it.each([
    ['follower', StateFollower],
    ['candidate', StateCandidate],
    ['leader', StateLeader],
  ])('a %s updates its term from a message with a higher term', (_name, state) => {
    const r = threeNodeRaft();
    enterState(r, state, 1, 2);
    expect(r.term).toBe(1);
    r.step(newMessage({ type: MsgApp, term: 2 }));
    expect(r.term).toBe(2);
    expect(r.state).toBe(StateFollower);
  });

  // A request with a stale term is rejected (etcd ignores it instead): it
  // never reaches the role's step function.
  it('ignores a message with a stale term', () => {
    const r = threeNodeRaft();
    const spy = interceptStepFn(r);
    r.loadState(newHardState({ term: 2 }));

    r.step(newMessage({ type: MsgApp, term: r.term - 1 }));
    expect(spy.calls).toHaveLength(0);
    expect(r.msgs).toEqual([]);
    expect(r.msgsAfterAppend).toEqual([]);

    // Control: a message of the current term does get through.
    r.step(newMessage({ type: MsgApp, term: r.term }));
    expect(spy.calls).toHaveLength(1);
  });
});

describe('§5.2 leader election', () => {
  it('servers start as followers', () => {
    const r = threeNodeRaft();
    expect(r.state).toBe(StateFollower);
    expect(r.term).toBe(0);
    expect(r.lead).toBe(0);
  });

  // On a heartbeat tick the leader sends every follower a MsgHeartbeat with
  // index 0, log term 0 and no entries.
  it('the leader broadcasts heartbeats on its heartbeat tick', () => {
    const hi = 1;
    const r = newTestRaft(1, 10, hi, newTestMemoryStorage(withPeers(1, 2, 3)));
    r.becomeCandidate();
    r.becomeLeader();
    for (let i = 0; i < 10; i++) mustAppendEntry(r, newEntry({ index: i + 1 }));
    for (let i = 0; i < hi; i++) r.tick();

    expect(sortMessages(readMessages(r))).toEqual([
      newMessage({ from: 1, to: 2, term: 1, type: MsgHeartbeat, commit: 0 }),
      newMessage({ from: 1, to: 3, term: 1, type: MsgHeartbeat, commit: 0 }),
    ]);
  });

  // A follower that hears nothing for an election timeout starts an election:
  // it increments its term, becomes candidate, votes for itself and sends
  // RequestVote to every other server. A candidate that fails to win does the
  // same in a new term.
  it.each([
    ['follower', StateFollower],
    ['candidate', StateCandidate],
  ])('a %s starts a new election after the election timeout', (_name, state) => {
    const et = 10;
    const r = newTestRaft(1, et, 1, newTestMemoryStorage(withPeers(1, 2, 3)));
    enterState(r, state, 1, 2);
    for (let i = 1; i < 2 * et; i++) r.tick();
    advanceMessagesAfterAppend(r);

    expect(r.term).toBe(2);
    expect(r.state).toBe(StateCandidate);
    expect(r.vote).toBe(1);
    expect(r.trk.votes.get(r.id)).toBe(true);
    expect(sortMessages(readMessages(r))).toEqual([
      newMessage({ from: 1, to: 2, term: 2, type: MsgVote, index: 0, logTerm: 0 }),
      newMessage({ from: 1, to: 3, term: 2, type: MsgVote, index: 0, logTerm: 0 }),
    ]);
  });

  // One round of RequestVote: the candidate wins with a majority, returns to
  // follower when a majority refuses, and otherwise stays candidate.
  it.each<[number, Record<number, boolean>, StateType]>([
    // wins with votes from a majority
    [1, {}, StateLeader],
    [3, { 2: true, 3: true }, StateLeader],
    [3, { 2: true }, StateLeader],
    [5, { 2: true, 3: true, 4: true, 5: true }, StateLeader],
    [5, { 2: true, 3: true, 4: true }, StateLeader],
    [5, { 2: true, 3: true }, StateLeader],
    // back to follower on denial from a majority
    [3, { 2: false, 3: false }, StateFollower],
    [5, { 2: false, 3: false, 4: false, 5: false }, StateFollower],
    [5, { 2: true, 3: false, 4: false, 5: false }, StateFollower],
    // stays candidate without a majority either way
    [3, {}, StateCandidate],
    [5, { 2: true }, StateCandidate],
    [5, { 2: false, 3: false }, StateCandidate],
    [5, {}, StateCandidate],
  ])('election in one round of RPCs: size %i, votes %j -> state %i', (size, votes, want) => {
    const r = newTestRaft(1, 10, 1, newTestMemoryStorage(withPeers(...idsBySize(size))));
    r.step(msg(MsgHup, 1, 1));
    advanceMessagesAfterAppend(r);
    for (const [id, granted] of Object.entries(votes)) {
      r.step(msg(MsgVoteResp, Number(id), 1, { term: r.term, reject: !granted }));
    }
    expect(r.state).toBe(want);
    expect(r.term).toBe(1);
  });

  // Each follower votes for at most one candidate per term, first come first
  // served.
  it.each([
    [0, 2, false],
    [0, 3, false],
    [2, 2, false],
    [3, 3, false],
    [2, 3, true],
    [3, 2, true],
  ])('a follower that voted for %i answers a vote request from %i with reject=%s', (vote, nvote, wreject) => {
    const r = threeNodeRaft();
    r.loadState(newHardState({ term: 1, vote }));
    r.step(msg(MsgVote, nvote, 1, { term: 1 }));
    expect(r.msgsAfterAppend).toEqual([newMessage({ from: 1, to: nvote, term: 1, type: MsgVoteResp, reject: wreject })]);
    expect(r.vote).toBe(vote === 0 ? nvote : vote);
  });

  // A candidate that receives AppendEntries from a leader whose term is at
  // least its own recognizes that leader and returns to follower.
  it.each([1, 2])('a candidate falls back to follower on MsgApp of term %i', (term) => {
    const r = threeNodeRaft();
    r.step(msg(MsgHup, 1, 1));
    expect(r.state).toBe(StateCandidate);
    r.step(msg(MsgApp, 2, 1, { term }));
    expect(r.state).toBe(StateFollower);
    expect(r.term).toBe(term);
    expect(r.lead).toBe(2);
  });

  // Election timeouts are chosen randomly from [et, 2et).
  it.each([
    ['follower', StateFollower],
    ['candidate', StateCandidate],
  ])('the election timeout of a %s is randomized over [et, 2et)', (_name, state) => {
    const et = 10;
    const r = newTestRaft(1, et, 1, newTestMemoryStorage(withPeers(1, 2, 3)));
    const timeouts = new Set<number>();
    for (let round = 0; round < 50 * et; round++) {
      if (state === StateFollower) r.becomeFollower(r.term + 1, 2);
      else r.becomeCandidate();
      let time = 0;
      while (readMessages(r).length === 0) {
        r.tick();
        time++;
      }
      timeouts.add(time);
    }
    for (let d = et; d < 2 * et; d++) expect(timeouts.has(d), `timeout in ${d} ticks should happen`).toBe(true);
    expect([...timeouts].every((d) => d >= et && d < 2 * et)).toBe(true);
  });

  // In most cases only a single server times out, which makes split votes
  // unlikely.
  it.each([
    ['followers', StateFollower],
    ['candidates', StateCandidate],
  ])('%s rarely time out on the same tick', (_name, state) => {
    const et = 10;
    const ids = idsBySize(5);
    const rs = ids.map((id) => newTestRaft(id, et, 1, newTestMemoryStorage(withPeers(...ids))));
    let conflicts = 0;
    for (let round = 0; round < 1000; round++) {
      for (const r of rs) {
        if (state === StateFollower) r.becomeFollower(r.term + 1, 0);
        else r.becomeCandidate();
      }
      let timeoutNum = 0;
      while (timeoutNum === 0) {
        for (const r of rs) {
          r.tick();
          if (readMessages(r).length > 0) timeoutNum++;
        }
      }
      if (timeoutNum > 1) conflicts++;
    }
    expect(conflicts / 1000).toBeLessThanOrEqual(0.3);
  });
});

describe('§5.3 log replication', () => {
  // The leader appends a proposal to its log, then sends AppendEntries in
  // parallel to the others, carrying the index and term of the entry that
  // precedes the new ones; the new entry is handed out for stable storage.
  it('the leader starts replicating a proposal', () => {
    const s = newTestMemoryStorage(withPeers(1, 2, 3));
    const r = newTestRaft(1, 10, 1, s);
    r.becomeCandidate();
    r.becomeLeader();
    commitNoopEntry(r, s);
    const li = r.raftLog.lastIndex();

    r.step(propMsg(1, 1, 'some data'));

    expect(r.raftLog.lastIndex()).toBe(li + 1);
    expect(r.raftLog.committed).toBe(li);
    const wents = [newEntry({ index: li + 1, term: 1, data: utf8('some data') })];
    expect(sortMessages(readMessages(r))).toEqual([
      newMessage({ from: 1, to: 2, term: 1, type: MsgApp, index: li, logTerm: 1, entries: wents, commit: li }),
      newMessage({ from: 1, to: 3, term: 1, type: MsgApp, index: li, logTerm: 1, entries: wents, commit: li }),
    ]);
    expect(r.raftLog.nextUnstableEnts()).toEqual(wents);
  });

  // Once an entry is safely replicated the leader hands it out to apply, and
  // sends the new commit index in later AppendEntries.
  it('the leader commits a replicated entry and tells the followers', () => {
    const s = newTestMemoryStorage(withPeers(1, 2, 3));
    const r = newTestRaft(1, 10, 1, s);
    r.becomeCandidate();
    r.becomeLeader();
    commitNoopEntry(r, s);
    const li = r.raftLog.lastIndex();
    r.step(propMsg(1, 1, 'some data'));

    for (const m of readMessages(r)) r.step(acceptAndReply(m));

    expect(r.raftLog.committed).toBe(li + 1);
    expect(r.raftLog.nextCommittedEnts(true)).toEqual([newEntry({ index: li + 1, term: 1, data: utf8('some data') })]);
    const msgs = sortMessages(readMessages(r));
    expect(msgs.map((m) => m.to)).toEqual([2, 3]);
    for (const m of msgs) {
      expect(m.type).toBe(MsgApp);
      expect(m.commit).toBe(li + 1);
    }
  });

  // An entry is committed once the leader that created it has replicated it
  // on a majority of the servers.
  it.each<[number, number[], boolean]>([
    [1, [], true],
    [3, [], false],
    [3, [2], true],
    [3, [2, 3], true],
    [5, [], false],
    [5, [2], false],
    [5, [2, 3], true],
    [5, [2, 3, 4], true],
    [5, [2, 3, 4, 5], true],
  ])('size %i, accepted by %j: committed=%s', (size, acceptors, wack) => {
    const s = newTestMemoryStorage(withPeers(...idsBySize(size)));
    const r = newTestRaft(1, 10, 1, s);
    r.becomeCandidate();
    r.becomeLeader();
    commitNoopEntry(r, s);
    const li = r.raftLog.lastIndex();
    r.step(propMsg(1, 1, 'some data'));
    advanceMessagesAfterAppend(r);
    for (const m of r.msgs) {
      if (acceptors.includes(m.to)) r.step(acceptAndReply(m));
    }
    expect(r.raftLog.committed > li).toBe(wack);
  });

  // Committing an entry commits everything before it, entries of earlier
  // leaders included, and hands them out in log order.
  it.each<[string, Entry[]]>([
    ['an empty log', []],
    ['one entry of term 2', [newEntry({ term: 2, index: 1 })]],
    ['entries of terms 1 and 2', [newEntry({ term: 1, index: 1 }), newEntry({ term: 2, index: 2 })]],
    ['one entry of term 1', [newEntry({ term: 1, index: 1 })]],
  ])('the leader commits preceding entries (%s)', (_name, tt) => {
    const storage = newTestMemoryStorage(withPeers(1, 2, 3));
    storage.append(tt);
    const r = newTestRaft(1, 10, 1, storage);
    r.loadState(newHardState({ term: 2 }));
    r.becomeCandidate();
    r.becomeLeader();
    r.step(propMsg(1, 1, 'some data'));

    for (const m of readMessages(r)) r.step(acceptAndReply(m));

    const li = tt.length;
    expect(r.raftLog.nextCommittedEnts(true)).toEqual([
      ...tt,
      newEntry({ term: 3, index: li + 1 }),
      newEntry({ term: 3, index: li + 2, data: utf8('some data') }),
    ]);
  });

  // A follower that learns an entry is committed applies it, in log order.
  it.each<[Entry[], number]>([
    [[newEntry({ term: 1, index: 1, data: utf8('some data') })], 1],
    [[newEntry({ term: 1, index: 1, data: utf8('some data') }), newEntry({ term: 1, index: 2, data: utf8('some data2') })], 2],
    [[newEntry({ term: 1, index: 1, data: utf8('some data2') }), newEntry({ term: 1, index: 2, data: utf8('some data') })], 2],
    [[newEntry({ term: 1, index: 1, data: utf8('some data') }), newEntry({ term: 1, index: 2, data: utf8('some data2') })], 1],
  ])('a follower commits entries up to the leader commit (case %#)', (ents, commit) => {
    const r = threeNodeRaft();
    r.becomeFollower(1, 2);
    r.step(msg(MsgApp, 2, 1, { term: 1, entries: ents, commit }));
    expect(r.raftLog.committed).toBe(commit);
    expect(r.raftLog.nextCommittedEnts(true)).toEqual(ents.slice(0, commit));
  });

  // A follower refuses AppendEntries unless its log holds an entry with the
  // index and term of the one preceding the new entries.
  describe('a follower checks the MsgApp consistency condition', () => {
    const ents = [newEntry({ term: 1, index: 1 }), newEntry({ term: 2, index: 2 })];
    it.each<[string, number, number, number, boolean, number, number]>([
      // match with committed entries
      ['matches at index 0', 0, 0, 1, false, 0, 0],
      ['matches committed entry 1', 1, 1, 1, false, 0, 0],
      // match with uncommitted entries
      ['matches uncommitted entry 2', 2, 2, 2, false, 0, 0],
      // mismatch with an existing entry
      ['term mismatch at index 2', 1, 2, 2, true, 1, 1],
      // the entry does not exist
      ['missing entry 3', 3, 3, 3, true, 2, 2],
    ])('%s', (_name, term, idx, windex, wreject, wrejectHint, wlogterm) => {
      const storage = newTestMemoryStorage(withPeers(1, 2, 3));
      storage.append(ents);
      const r = newTestRaft(1, 10, 1, storage);
      r.loadState(newHardState({ commit: 1 }));
      r.becomeFollower(2, 2);

      r.step(msg(MsgApp, 2, 1, { term: 2, logTerm: term, index: idx }));

      const want = newMessage({ from: 1, to: 2, type: MsgAppResp, term: 2, index: windex });
      if (wreject) Object.assign(want, { reject: true, rejectHint: wrejectHint, logTerm: wlogterm });
      expect(readMessages(r)).toEqual([want]);
    });
  });

  // On a valid AppendEntries the follower deletes a conflicting entry and all
  // that follow it, and appends the new entries not already in its log; the
  // new entries are handed out for stable storage.
  it.each<[number, number, Entry[], Entry[], Entry[]]>([
    [2, 2, index(3).terms(3), index(1).terms(1, 2, 3), index(3).terms(3)],
    [1, 1, index(2).terms(3, 4), index(1).terms(1, 3, 4), index(2).terms(3, 4)],
    [0, 0, index(1).terms(1), index(1).terms(1, 2), []],
    [0, 0, index(1).terms(3), index(1).terms(3), index(1).terms(3)],
  ])('a follower appends entries after (index %i, term %i)', (idx, term, ents, wents, wunstable) => {
    const storage = newTestMemoryStorage(withPeers(1, 2, 3));
    storage.append([newEntry({ term: 1, index: 1 }), newEntry({ term: 2, index: 2 })]);
    const r = newTestRaft(1, 10, 1, storage);
    r.becomeFollower(2, 2);

    r.step(msg(MsgApp, 2, 1, { term: 2, logTerm: term, index: idx, entries: ents }));

    expect(r.raftLog.allEntries()).toEqual(wents);
    expect(r.raftLog.nextUnstableEnts()).toEqual(wunstable);
  });

  // The leader brings a follower's log into consistency with its own
  // (figure 7 of the paper: followers missing entries, with extra
  // uncommitted entries, or both).
  describe('the leader syncs follower logs (figure 7)', () => {
    const ents = index(0).terms(0, 1, 1, 1, 4, 4, 5, 5, 6, 6, 6);
    const term = 8;
    it.each<[string, Entry[]]>([
      ['(a) missing one entry', index(0).terms(0, 1, 1, 1, 4, 4, 5, 5, 6, 6)],
      ['(b) missing many entries', index(0).terms(0, 1, 1, 1, 4, 4)],
      ['(c) one extra entry', index(0).terms(0, 1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6)],
      ['(d) extra entries of a later term', index(0).terms(0, 1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7)],
      ['(e) missing and extra entries', index(0).terms(0, 1, 1, 1, 4, 4, 4, 4)],
      ['(f) diverging since index 4', index(0).terms(0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3)],
    ])('%s', (_name, tt) => {
      const leadStorage = newTestMemoryStorage(withPeers(1, 2, 3));
      leadStorage.append(ents);
      const lead = newTestRaft(1, 10, 1, leadStorage);
      lead.loadState(newHardState({ commit: lead.raftLog.lastIndex(), term }));
      const followerStorage = newTestMemoryStorage(withPeers(1, 2, 3));
      followerStorage.append(tt);
      const follower = newTestRaft(2, 10, 1, followerStorage);
      follower.loadState(newHardState({ term: term - 1 }));
      // A three-node cluster: the follower may have a more up-to-date log than
      // the leader, which then needs the third node's vote.
      const n = newNetwork(lead, follower, nopStepper);
      n.send(msg(MsgHup, 1, 1));
      // The election happens in the term after the one loaded above.
      n.send(msg(MsgVoteResp, 3, 1, { term: term + 1 }));
      expect(lead.state).toBe(StateLeader);
      n.send(propMsg(1, 1));

      expect(logSnapshot(follower.raftLog)).toEqual(logSnapshot(lead.raftLog));
      // Everything up to the new entry is now on both, and committed.
      expect(follower.raftLog.lastIndex()).toBe(ents.length + 1);
      expect(follower.raftLog.committed).toBe(lead.raftLog.committed);
    });
  });
});

describe('§5.4 safety', () => {
  // A vote request carries the index and term of the candidate's last entry
  // and goes to every other node.
  it.each<[Entry[], number]>([
    [index(1).terms(1), 2],
    [index(1).terms(1, 2), 3],
  ])('vote requests carry the last log entry (case %#)', (ents, wterm) => {
    const r = threeNodeRaft();
    r.step(msg(MsgApp, 2, 1, { term: wterm - 1, logTerm: 0, index: 0, entries: ents }));
    readMessages(r);

    for (let i = 1; i < r.electionTimeout * 2; i++) r.tickElection();

    const msgs = sortMessages(readMessages(r));
    expect(msgs).toHaveLength(2);
    const last = ents[ents.length - 1]!;
    msgs.forEach((m, i) => {
      expect(m.type).toBe(MsgVote);
      expect(m.to).toBe(i + 2);
      expect(m.term).toBe(wterm);
      expect(m.index).toBe(last.index);
      expect(m.logTerm).toBe(last.term);
    });
  });

  // A voter denies its vote if its own log is more up-to-date than the
  // candidate's.
  it.each<[string, Entry[], number, number, boolean]>([
    // same last term
    ['same term, same index', index(1).terms(1), 1, 1, false],
    ['same term, longer candidate log', index(1).terms(1), 1, 2, false],
    ['same term, shorter candidate log', index(1).terms(1, 1), 1, 1, true],
    // the candidate has a higher last term
    ['higher candidate term, same index', index(1).terms(1), 2, 1, false],
    ['higher candidate term, longer log', index(1).terms(1), 2, 2, false],
    ['higher candidate term, shorter log', index(1).terms(1, 1), 2, 1, false],
    // the voter has a higher last term
    ['higher voter term, same index', index(1).terms(2), 1, 1, true],
    ['higher voter term, longer candidate log', index(1).terms(2), 1, 2, true],
    ['higher voter term, shorter candidate log', index(1).terms(2, 2), 1, 1, true],
    ['same term, voter log longer by one', index(1).terms(1, 1), 1, 1, true],
  ])('a voter decides on its log: %s', (_name, ents, logterm, idx, wreject) => {
    const storage = newTestMemoryStorage(withPeers(1, 2));
    storage.append(ents);
    const r = newTestRaft(1, 10, 1, storage);

    r.step(msg(MsgVote, 2, 1, { term: 3, logTerm: logterm, index: idx }));

    const msgs = readMessages(r);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.type).toBe(MsgVoteResp);
    expect(msgs[0]!.reject).toBe(wreject);
  });

  // Only entries of the leader's current term are committed by counting
  // replicas (§5.4.2).
  it.each([
    // entries of previous terms are not committed by counting
    [1, 0],
    [2, 0],
    // an entry of the current term is
    [3, 3],
  ])('an ack of index %i commits up to %i', (idx, wcommit) => {
    const storage = newTestMemoryStorage(withPeers(1, 2));
    storage.append([newEntry({ term: 1, index: 1 }), newEntry({ term: 2, index: 2 })]);
    const r = newTestRaft(1, 10, 1, storage);
    r.loadState(newHardState({ term: 2 }));
    // become leader at term 3
    r.becomeCandidate();
    r.becomeLeader();
    readMessages(r);
    // propose an entry in the current term
    r.step(propMsg(1, 1));

    r.step(msg(MsgAppResp, 2, 1, { term: r.term, index: idx }));
    advanceMessagesAfterAppend(r);
    expect(r.raftLog.committed).toBe(wcommit);
  });
});

// Guard against the helpers themselves going wrong: a message is what it says.
it('acceptAndReply acknowledges the last entry of a MsgApp', () => {
  const m: Message = msg(MsgApp, 1, 2, { term: 3, index: 4, entries: index(5).terms(3, 3) });
  expect(acceptAndReply(m)).toEqual(newMessage({ from: 2, to: 1, term: 3, type: MsgAppResp, index: 6 }));
});

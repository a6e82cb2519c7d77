// Flow control of the leader's appends to one follower: the inflights
// window (by message count and by payload bytes), the pause while probing,
// heartbeats that let a stuck window recover, and maxSizePerMsg batching.
// etcd-raft's raft_flow_control_test.go, plus byte-limit and batching cases
// of our own (after etcd's TestProgressFlowControl).
import { describe, expect, it } from 'vitest';
import type { Config } from '../src/config.js';
import { ErrInvalidConfig } from '../src/errors.js';
import type { Raft } from '../src/raft.js';
import { MessageType, newEntry, type Message } from '../src/raftpb/types.js';
import { ProgressStateType } from '../src/tracker/state.js';
import { entrySize, entsSize, payloadsSize } from '../src/util/sizes.js';
import { msg, newTestMemoryStorage, newTestRaft, propMsg, readMessages, withPeers } from './helpers/raft-harness.js';

const { MsgApp, MsgAppResp, MsgHeartbeatResp, MsgUnreachable } = MessageType;
const { StateProbe, StateReplicate } = ProgressStateType;

/** Node 1 leads {1, 2}; node 2's progress is forced into StateReplicate. */
function leaderReplicatingTo2(opts: Partial<Config> = {}) {
  const r = newTestRaft(1, 5, 1, newTestMemoryStorage(withPeers(1, 2)), opts);
  r.becomeCandidate();
  r.becomeLeader();
  const pr2 = r.trk.progress.get(2)!;
  pr2.becomeReplicate();
  return { r, pr2 };
}

const propose = (r: Raft, data = 'somedata'): void => r.step(propMsg(1, 1, data));
const ack = (r: Raft, index: number): void => r.step(msg(MsgAppResp, 2, 1, { index }));
const heartbeatResp = (r: Raft): void => r.step(msg(MsgHeartbeatResp, 2, 1));
const appsTo2 = (msgs: Message[]): Message[] => msgs.filter((m) => m.type === MsgApp && m.to === 2);

// ---------------------------------------------------------------------------
describe('the inflights window (maxInflightMsgs)', () => {
  it('fills until full, then no more MsgApp is sent', () => {
    // etcd's TestMsgAppFlowControlFull.
    const { r, pr2 } = leaderReplicatingTo2();
    expect(r.trk.maxInflight).toBe(256);

    for (let i = 0; i < r.trk.maxInflight; i++) {
      propose(r);
      const ms = readMessages(r);
      expect(ms, `proposal #${i}`).toHaveLength(1);
      expect(ms[0]!.type).toBe(MsgApp);
    }
    expect(pr2.inflights.count()).toBe(256);
    expect(pr2.inflights.full()).toBe(true);
    expect(pr2.isPaused()).toBe(true);

    for (let i = 0; i < 10; i++) {
      propose(r);
      expect(readMessages(r), `proposal #${i} past the window`).toEqual([]);
    }
    // The entries are in the log all the same, for later.
    expect(r.raftLog.lastIndex()).toBe(1 + 256 + 10);
    expect(pr2.next).toBe(1 + 256 + 1);
  });

  it('acks move the window forward; stale acks do not', () => {
    // etcd's TestMsgAppFlowControlMoveForward.
    const { r, pr2 } = leaderReplicatingTo2();
    for (let i = 0; i < r.trk.maxInflight; i++) {
      propose(r);
      readMessages(r);
    }

    // Index 1 is the empty entry, sent together with the first proposal at
    // 2, so the first message in flight ends at 2.
    for (let tt = 2; tt < r.trk.maxInflight; tt++) {
      ack(r, tt);
      readMessages(r);
      expect(pr2.match).toBe(tt);

      // The freed slot takes the next proposal.
      propose(r);
      const ms = readMessages(r);
      expect(ms, `round ${tt}`).toHaveLength(1);
      expect(ms[0]!.type).toBe(MsgApp);
      expect(pr2.isPaused()).toBe(true);

      // Acks at or below the match are stale: they free nothing.
      const unpausedBy: number[] = [];
      for (let i = 0; i < tt; i++) {
        ack(r, i);
        if (!pr2.isPaused() || pr2.match !== tt) unpausedBy.push(i);
      }
      expect(unpausedBy, `stale acks that moved the window in round ${tt}`).toEqual([]);
    }
  });

  it('a heartbeat response lets one empty MsgApp out of a full window', () => {
    // etcd's TestMsgAppFlowControlRecvHeartbeat.
    const { r, pr2 } = leaderReplicatingTo2();
    for (let i = 0; i < r.trk.maxInflight; i++) {
      propose(r);
      readMessages(r);
    }

    for (let tt = 1; tt < 5; tt++) {
      for (let i = 0; i < tt; i++) {
        expect(pr2.isPaused()).toBe(true);
        // Unpauses the progress, sends an empty MsgApp, and pauses it again.
        heartbeatResp(r);
        const ms = readMessages(r);
        expect(ms).toHaveLength(1);
        expect(ms[0]!.type).toBe(MsgApp);
        expect(ms[0]!.entries).toEqual([]);
      }

      // No more appends without heartbeats.
      for (let i = 0; i < 10; i++) {
        expect(pr2.isPaused()).toBe(true);
        propose(r);
        expect(readMessages(r)).toEqual([]);
      }

      heartbeatResp(r);
      readMessages(r);
    }
    // The empty messages never took a slot.
    expect(pr2.inflights.count()).toBe(256);
  });

  it('a small window pauses after maxInflightMsgs messages', () => {
    const { r, pr2 } = leaderReplicatingTo2({ maxInflightMsgs: 2 });

    propose(r, 'a');
    propose(r, 'b');
    propose(r, 'c');
    const ms = appsTo2(readMessages(r));
    expect(ms.map((m) => m.entries.map((e) => e.index))).toEqual([[1, 2], [3]]);
    expect(pr2.isPaused()).toBe(true);
    expect(pr2.next).toBe(4);

    // One ack frees both messages; the waiting entry goes out.
    ack(r, 3);
    const after = appsTo2(readMessages(r));
    expect(after.flatMap((m) => m.entries.map((e) => e.index))).toEqual([4]);
    expect(pr2.inflights.count()).toBe(1);
  });

  it('MsgUnreachable empties the window and falls back to probing', () => {
    const { r, pr2 } = leaderReplicatingTo2({ maxInflightMsgs: 4 });
    for (let i = 0; i < 4; i++) propose(r);
    readMessages(r);
    expect(pr2.inflights.full()).toBe(true);

    r.step(msg(MsgUnreachable, 2, 1));

    expect(pr2.state).toBe(StateProbe);
    expect(pr2.inflights.count()).toBe(0);
    expect(pr2.next).toBe(pr2.match + 1);
    expect(pr2.isPaused()).toBe(false);
  });

  it('a probing follower gets one MsgApp, then nothing until it answers', () => {
    const r = newTestRaft(1, 5, 1, newTestMemoryStorage(withPeers(1, 2)));
    r.becomeCandidate();
    r.becomeLeader();
    const pr2 = r.trk.progress.get(2)!;
    expect(pr2.state).toBe(StateProbe);

    propose(r);
    propose(r);
    const ms = appsTo2(readMessages(r));
    expect(ms).toHaveLength(1);
    expect(pr2.msgAppFlowPaused).toBe(true);
    // A probe does not use the inflights window.
    expect(pr2.inflights.count()).toBe(0);

    // Its ack switches to replicating and sends the rest at once.
    ack(r, ms[0]!.entries.at(-1)!.index);
    expect(pr2.state).toBe(StateReplicate);
    const rest = appsTo2(readMessages(r));
    expect(rest.flatMap((m) => m.entries.map((e) => e.index))).toEqual([3]);
  });
});

// ---------------------------------------------------------------------------
describe('the in-flight byte limit (maxInflightBytes)', () => {
  const kb = 'x'.repeat(1000);

  /** A leader sending one entry per message (maxSizePerMsg 1) whose follower has acked the empty entry. */
  function leaderWithByteLimit(maxInflightBytes: number) {
    const { r, pr2 } = leaderReplicatingTo2({ maxSizePerMsg: 1, maxInflightBytes });
    r.bcastAppend();
    expect(appsTo2(readMessages(r)).map((m) => m.entries.length)).toEqual([1]);
    ack(r, 1);
    readMessages(r);
    expect(pr2.inflights.count()).toBe(0);
    return { r, pr2 };
  }

  it('pauses once the payload bytes in flight reach the limit', () => {
    const { r, pr2 } = leaderWithByteLimit(3000);

    for (let i = 0; i < 3; i++) {
      propose(r, kb);
      expect(appsTo2(readMessages(r)), `proposal ${i}`).toHaveLength(1);
    }
    expect(pr2.inflights.count()).toBe(3);
    expect(pr2.inflights.full()).toBe(true);
    expect(pr2.isPaused()).toBe(true);

    propose(r, kb);
    expect(readMessages(r)).toEqual([]);

    // Acking the first frees 1000 bytes: the waiting entry goes out and the
    // window is full again.
    ack(r, 2);
    const ms = appsTo2(readMessages(r));
    expect(ms.flatMap((m) => m.entries.map((e) => e.index))).toEqual([5]);
    expect(pr2.inflights.count()).toBe(3);
    expect(pr2.isPaused()).toBe(true);
  });

  it('the limit is soft: the message that crosses it is still sent', () => {
    const { r, pr2 } = leaderWithByteLimit(2500);

    for (let i = 0; i < 3; i++) propose(r, kb);
    const ms = appsTo2(readMessages(r));
    // 0 + 1000 + 1000 < 2500 before the third, so it goes: 3000 in flight.
    expect(ms).toHaveLength(3);
    expect(payloadsSize(ms.flatMap((m) => m.entries))).toBe(3000);
    expect(pr2.inflights.full()).toBe(true);

    propose(r, kb);
    expect(readMessages(r)).toEqual([]);
  });

  it('empty entries weigh nothing against the byte limit', () => {
    const { r, pr2 } = leaderWithByteLimit(1000);
    for (let i = 0; i < 5; i++) propose(r, '');
    expect(appsTo2(readMessages(r))).toHaveLength(5);
    expect(pr2.inflights.count()).toBe(5);
    expect(pr2.inflights.full()).toBe(false);
  });

  it('bounds in-flight appends by count and bytes together', () => {
    // etcd's TestProgressFlowControl: 3 messages of up to 2048 bytes, and
    // 9000 bytes, a little over 3 * 2048.
    const r = newTestRaft(1, 5, 1, newTestMemoryStorage(withPeers(1, 2)), {
      maxInflightMsgs: 3,
      maxSizePerMsg: 2048,
      maxInflightBytes: 9000,
    });
    r.becomeCandidate();
    r.becomeLeader();
    readMessages(r);

    // While node 2 probes, propose a bunch of entries.
    r.trk.progress.get(2)!.becomeProbe();
    const blob = 'a'.repeat(1000);
    const large = 'b'.repeat(5000);
    for (let i = 0; i < 22; i++) propose(r, i >= 10 && i < 16 ? large : blob);

    const ms = readMessages(r);
    // The probe carries the empty entry and the first proposal only.
    expect(ms).toHaveLength(1);
    expect(ms[0]!.type).toBe(MsgApp);
    expect(ms[0]!.entries.map((e) => e.data.length)).toEqual([0, 1000]);

    const ackAndVerify = (index: number, ...expEntries: number[]): number => {
      ack(r, index);
      const out = readMessages(r);
      expect(out.map((m) => m.type)).toEqual(expEntries.map(() => MsgApp));
      expect(out.map((m) => m.entries.length)).toEqual(expEntries);
      const last = out.at(-1)!.entries;
      return last.length === 0 ? index : last.at(-1)!.index;
    };

    // The ack switches to replicating: several messages at once.
    let i = ackAndVerify(ms[0]!.entries[1]!.index, 2, 2, 2);
    // Acking all three gives three more; the third holds one large entry.
    i = ackAndVerify(i, 2, 1, 1);
    // Large entries one per message, capped at 2 by the byte limit.
    i = ackAndVerify(i, 1, 1);
    i = ackAndVerify(i, 1, 1);
    // Small ones again.
    i = ackAndVerify(i, 1, 2, 2);
    ackAndVerify(i, 2);
  });

  it('maxInflightBytes below maxSizePerMsg is an invalid config', () => {
    expect(() => newTestRaft(1, 5, 1, newTestMemoryStorage(withPeers(1)), { maxSizePerMsg: 2048, maxInflightBytes: 1024 })).toThrow(
      ErrInvalidConfig,
    );
    // Zero means no limit, whatever the message size.
    const r = newTestRaft(1, 5, 1, newTestMemoryStorage(withPeers(1)), { maxSizePerMsg: 2048, maxInflightBytes: 0 });
    expect(r.trk.maxInflightBytes).toBe(Number.POSITIVE_INFINITY);
  });
});

// ---------------------------------------------------------------------------
describe('maxSizePerMsg batching', () => {
  /** Node 1 leads {1, 2}; 2 was probed with the empty entry (unacked). */
  function leaderWithPendingProbe(maxSizePerMsg: number) {
    const r = newTestRaft(1, 5, 1, newTestMemoryStorage(withPeers(1, 2)), { maxSizePerMsg });
    r.becomeCandidate();
    r.becomeLeader();
    r.bcastAppend();
    const probe = appsTo2(readMessages(r));
    expect(probe.map((m) => m.entries.map((e) => e.index))).toEqual([[1]]);
    return { r, pr2: r.trk.progress.get(2)! };
  }

  it('entries that piled up go out in messages of at most maxSizePerMsg encoded bytes', () => {
    const data = 'd'.repeat(100);
    const one = entrySize(newEntry({ term: 1, index: 2, data: new TextEncoder().encode(data) }));
    const { r, pr2 } = leaderWithPendingProbe(3 * one);

    for (let i = 0; i < 10; i++) propose(r, data);
    expect(readMessages(r)).toEqual([]); // paused while probing

    ack(r, 1);
    expect(pr2.state).toBe(StateReplicate);
    const ms = appsTo2(readMessages(r));
    expect(ms.map((m) => m.entries.length)).toEqual([3, 3, 3, 1]);
    for (const m of ms) expect(entsSize(m.entries)).toBeLessThanOrEqual(3 * one);
    // Consecutive and complete, each anchored at the previous message's end.
    expect(ms.flatMap((m) => m.entries.map((e) => e.index))).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(ms.map((m) => m.index)).toEqual([1, 4, 7, 10]);
    expect(pr2.inflights.count()).toBe(4);
    expect(pr2.next).toBe(12);
  });

  it('an entry larger than maxSizePerMsg still goes, alone', () => {
    const { r } = leaderWithPendingProbe(50);
    for (let i = 0; i < 3; i++) propose(r, 'e'.repeat(100));
    ack(r, 1);
    const ms = appsTo2(readMessages(r));
    expect(ms.map((m) => m.entries.length)).toEqual([1, 1, 1]);
    expect(ms.map((m) => m.entries[0]!.data.length)).toEqual([100, 100, 100]);
  });

  it('maxSizePerMsg 0 means one entry per message', () => {
    const { r } = leaderWithPendingProbe(0);
    for (let i = 0; i < 4; i++) propose(r, 'tiny');
    ack(r, 1);
    expect(appsTo2(readMessages(r)).map((m) => m.entries.length)).toEqual([1, 1, 1, 1]);
  });

  it('a probe is limited by maxSizePerMsg too', () => {
    const data = 'p'.repeat(100);
    const one = entrySize(newEntry({ term: 1, index: 2, data: new TextEncoder().encode(data) }));
    const r = newTestRaft(1, 5, 1, newTestMemoryStorage(withPeers(1, 2)), { maxSizePerMsg: 2 * one });
    r.becomeCandidate();
    r.becomeLeader();
    const pr2 = r.trk.progress.get(2)!;
    // Entries pile up while the probing follower is paused.
    pr2.msgAppFlowPaused = true;
    for (let i = 0; i < 5; i++) propose(r, data);
    expect(readMessages(r)).toEqual([]);

    // The heartbeat response lets one probe out: the (small) empty entry and
    // as many proposals as fit, here one.
    heartbeatResp(r);
    const ms = appsTo2(readMessages(r));
    expect(ms).toHaveLength(1);
    expect(ms[0]!.entries.map((e) => e.data.length)).toEqual([0, 100]);
    expect(entsSize(ms[0]!.entries)).toBeLessThanOrEqual(2 * one);
    expect(pr2.msgAppFlowPaused).toBe(true);
  });
});

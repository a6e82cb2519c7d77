// etcd-raft's BenchmarkRawNode: propose one entry, then run Ready cycles
// until nothing is left, answering the leader's votes and appends for the
// other (simulated) voters directly. Pure CPU: no sleeps, no event loop.
import { blankMessage, MessageType, type Message } from '@raftbus/core';
import { timeLoop } from '../harness.js';
import { encoder, storageWithVoters, testRawNode } from './setup.js';

const payload = encoder.encode('foo');

export function rawNode(voters: number[]): (n: number) => number {
  return (n) => {
    const s = storageWithVoters(voters);
    const rn = testRawNode(1, s);

    const stabilize = (): number => {
      let applied = 0;
      while (rn.hasReady()) {
        const rd = rn.ready();
        const committed = rd.committedEntries;
        if (committed.length > 0) applied = committed[committed.length - 1]!.index;
        s.append(rd.entries);
        for (const m of rd.messages) {
          if (m.type === MessageType.MsgVote) {
            rn.step(response(MessageType.MsgVoteResp, m, 0));
          } else if (m.type === MessageType.MsgApp) {
            rn.step(appResp(m));
          }
        }
        rn.advance(rd);
      }
      return applied;
    };

    rn.campaign();
    stabilize();

    let applied = 0;
    const ns = timeLoop(n, () => {
      rn.propose(payload);
      applied = stabilize();
    });
    if (applied < n) throw new Error(`did not apply everything: ${applied} < ${n}`);
    return ns;
  };
}

/** The follower's acknowledgement of everything in an append. */
function appResp(m: Message): Message {
  const idx = m.entries.length > 0 ? m.entries[m.entries.length - 1]!.index : m.index;
  return response(MessageType.MsgAppResp, m, idx);
}

/** A reply to m, as etcd's benchmark builds it: the zero message with the four fields that matter. */
function response(type: MessageType, m: Message, index: number): Message {
  const r = blankMessage(type);
  r.to = m.from;
  r.from = m.to;
  r.term = m.term;
  r.index = index;
  return r;
}

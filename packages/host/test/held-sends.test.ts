// asyncStorageWrites: a leader holds the appends that only carry a new
// commit index until the apply they go with has run, so a caller that
// proposes as soon as its proposal is applied has its next entries reach
// each follower in the same send. A state machine that goes asynchronous
// must not hold them up.
import { MessageType, type Message, type StateMachine } from '@raftbus/core';
import { afterEach, describe, expect, it } from 'vitest';
import { LogMachine, TestCluster, utf8, waitFor, type Member } from './helpers/cluster.js';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

/** Records every send() of a member's transport: the messages of each call. */
function recordSends(m: Member): Message[][] {
  const calls: Message[][] = [];
  const transport = m.transport;
  const send = transport.send.bind(transport);
  transport.send = (messages: readonly Message[]) => {
    calls.push([...messages]);
    send(messages);
  };
  return calls;
}

const isAppend = (m: Message, to: number): boolean => m.type === MessageType.MsgApp && m.to === to;

async function startCluster(machines?: Map<number, StateMachine<string> & Pick<LogMachine, 'entries' | 'indexes'>>): Promise<Member> {
  // Heartbeats every 0.5 s: rarely in the same send as anything else.
  cluster = new TestCluster([1, 2, 3], { asyncStorageWrites: true, tickMs: 50, heartbeatTick: 10, electionTick: 40 });
  const c = cluster;
  await Promise.all([1, 2, 3].map((id) => c.startNode(id, { peers: [1, 2, 3], ...(machines && { stateMachine: machines.get(id)! }) })));
  return c.waitForLeader();
}

describe('held commit-only appends (asyncStorageWrites)', () => {
  it('go out with the appends of the proposals their apply resumed, in one send, in raft order', async () => {
    const leader = await startCluster();
    const follower = cluster!.followers(leader)[0]!;
    const sends = recordSends(leader);
    const names = Array.from({ length: 20 }, (_, i) => `p${i}`);
    for (const n of names) await leader.node.propose(utf8(n));
    await cluster!.waitForEntries([1, 2, 3], names);
    // A send to the follower with a commit-only append followed by one carrying the next proposal.
    const merged = sends.filter((call) => {
      const appends = call.filter((m) => isAppend(m, follower.id));
      return appends.length >= 2 && appends[0]!.entries.length === 0 && appends.some((m) => m.entries.length > 0);
    });
    expect(merged.length).toBeGreaterThanOrEqual(names.length / 2);
    // Every append to the follower still leaves in raft's order: commit indexes never go back.
    const commits = sends.flat().filter((m) => isAppend(m, follower.id)).map((m) => m.commit);
    expect(commits).toEqual([...commits].sort((a, b) => a - b));
  });

  it('are not held while the state machine is busy with an asynchronous apply', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // On every node, applying "block" waits for the gate.
    const machines = new Map(
      [1, 2, 3].map((id) => {
        const log = new LogMachine();
        const sm = {
          get entries() {
            return log.entries;
          },
          get indexes() {
            return log.indexes;
          },
          apply: (data: Uint8Array, index: number) => (new TextDecoder().decode(data) === 'block' ? gate.then(() => log.apply(data, index)) : log.apply(data, index)),
          snapshot: () => log.snapshot(),
          restore: (data: Uint8Array) => log.restore(data),
        };
        return [id, sm] as const;
      }),
    );
    const leader = await startCluster(machines);
    const followers = cluster!.followers(leader);
    const sends = recordSends(leader);
    const before = leader.node.status().commit;
    const blocked = leader.node.propose(utf8('block'));
    await waitFor(() => leader.node.status().commit > before);
    const index = leader.node.status().commit;
    // While the leader's apply of it is stuck, the appends telling the
    // followers of that commit go out (heartbeats would carry it too, but
    // they are not appends).
    await waitFor(
      () => followers.every((f) => sends.flat().some((m) => isAppend(m, f.id) && m.commit >= index)),
      5_000,
      `appends with commit ${index} to both followers`,
    );
    // Sent on their own when the apply went asynchronous, not swept out by
    // the next send (a heartbeat) as they would be if still held.
    const first = sends.find((call) => call.some((m) => m.type === MessageType.MsgApp && m.commit >= index))!;
    expect(first.map((m) => MessageType[m.type])).not.toContain('MsgHeartbeat');
    expect(machines.get(leader.id)!.entries).not.toContain('block');
    release();
    await blocked;
    expect(machines.get(leader.id)!.entries).toContain('block');
  });
});

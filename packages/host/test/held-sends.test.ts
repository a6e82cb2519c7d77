// asyncStorageWrites: a leader holds the appends that only carry a new
// commit index until the apply they go with has run, so a caller that
// proposes as soon as its proposal is applied has its next entries reach
// each follower in the same send, and the held append, which that send's
// append covers, is not sent at all. The save of the new commit index is
// held with them and joins the save of those entries. A state machine that
// goes asynchronous must not hold them up.
import { MessageType, type Message, type PersistBatch, type StateMachine } from '@raftbus/core';
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
  it('give way to the appends of the proposals their apply resumed, which carry the same commit, in raft order', async () => {
    const leader = await startCluster();
    const follower = cluster!.followers(leader)[0]!;
    const sends = recordSends(leader);
    const names = Array.from({ length: 20 }, (_, i) => `p${i}`);
    for (const n of names) await leader.node.propose(utf8(n));
    // The followers learn every commit, the last one's included (its
    // held append goes alone, as nothing follows it).
    await cluster!.waitForEntries([1, 2, 3], names);
    const appends = sends.flat().filter((m) => isAppend(m, follower.id));
    // Each proposal after the first reaches the follower in an append that
    // also commits the one before it (its commit is its starting index)...
    const carrying = appends.filter((m) => m.entries.length > 0 && m.commit === m.index);
    expect(carrying.length).toBeGreaterThanOrEqual(names.length / 2);
    // ...and the commit-only append held for that commit is not sent: no
    // send holds one together with an append that covers it (nor does any
    // send, held or not).
    for (const call of sends) {
      const toFollower = call.filter((m) => isAppend(m, follower.id));
      for (const held of toFollower.filter((m) => m.entries.length === 0)) {
        expect(toFollower.some((m) => m !== held && m.index === held.index && m.logTerm === held.logTerm && m.commit >= held.commit)).toBe(false);
      }
    }
    const commitOnly = appends.filter((m) => m.entries.length === 0);
    expect(commitOnly.length).toBeLessThanOrEqual(names.length / 2);
    // Every append to the follower still leaves in raft's order: commit indexes never go back.
    const commits = appends.map((m) => m.commit);
    expect(commits).toEqual([...commits].sort((a, b) => a - b));
  });

  it('hold the save of the new commit index until it can join the save of the next proposal', async () => {
    const leader = await startCluster();
    const saves: PersistBatch[] = [];
    const save = leader.storage.save.bind(leader.storage);
    leader.storage.save = (batch: PersistBatch) => {
      saves.push(batch);
      return save(batch);
    };
    const names = Array.from({ length: 20 }, (_, i) => `q${i}`);
    for (const n of names) await leader.node.propose(utf8(n));
    await cluster!.waitForEntries([1, 2, 3], names);
    // Saves of a commit index alone are few: most went with entries.
    const alone = saves.filter((b) => b.entries.length === 0 && b.snapshot === undefined);
    const joined = saves.filter((b) => b.entries.length > 0 && b.hardState !== undefined && b.hardState.commit >= b.entries[0]!.index - 1);
    expect(alone.length).toBeLessThanOrEqual(names.length / 2);
    expect(joined.length).toBeGreaterThanOrEqual(names.length / 2);
    // The last commit, with no proposal after it, is saved all the same.
    const last = leader.node.status().commit;
    await waitFor(() => leader.storage.initialState().hardState.commit === last, 5_000, `commit ${last} saved on the leader`);
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

// asyncStorageWrites: the leader's own write overlaps with replication. Its
// appends reach the followers while its save is still open; a proposal
// commits on a quorum of durable copies and resolves only when this node
// has applied it, which it does only once its own copy is durable.
import { MessageType, type PersistBatch } from '@raftbus/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type Member, TestCluster, utf8, waitFor } from './helpers/cluster.js';

let c: TestCluster | undefined;
afterEach(async () => {
  await c?.stopAll();
  c = undefined;
});

/** Holds every save of entries on `m` open until release() (the saves stay in order). */
function holdSaves(m: Member): { release: () => void; resolved: () => number } {
  const save = m.storage.save.bind(m.storage);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let resolved = 0;
  m.storage.save = async (batch: PersistBatch) => {
    if (batch.entries.some((e) => e.data.length > 0)) await gate;
    await save(batch);
    if (batch.entries.length > 0) resolved++;
  };
  return { release, resolved: () => resolved };
}

describe('RaftNode with asyncStorageWrites', () => {
  it('hands the leader’s appends to the transport before it starts its own save', async () => {
    // A save does work in the turn it is called (a file storage frames,
    // checksums and writes small batches there): the appends must not wait for it.
    c = await new TestCluster([1, 2, 3], { asyncStorageWrites: true }).start();
    const leader = await c.waitForLeader();
    const events: string[] = [];
    const send = leader.transport.send.bind(leader.transport);
    leader.transport.send = (messages) => {
      for (const m of messages) if (m.type === MessageType.MsgApp && m.entries.some((e) => e.data.length > 0)) events.push(`MsgApp to ${m.to}`);
      send(messages);
    };
    const save = leader.storage.save.bind(leader.storage);
    leader.storage.save = (batch: PersistBatch) => {
      if (batch.entries.some((e) => e.data.length > 0)) events.push('save');
      return save(batch);
    };
    await leader.node.propose(utf8('x'));
    const followers = c.followers(leader).map((f) => `MsgApp to ${f.id}`);
    expect(events.slice(0, 3).sort()).toEqual([...followers, 'save'].sort());
    expect(events.indexOf('save')).toBe(2);
  });

  it('sends the leader’s appends before its own save resolves; commits on a quorum of durable copies', async () => {
    c = await new TestCluster([1, 2, 3], { asyncStorageWrites: true }).start();
    const leader = await c.waitForLeader();
    const [slow, fast] = c.followers(leader) as [Member, Member];

    const events: string[] = [];
    const appendedTo = new Set<number>();
    let index = 0;
    const send = leader.transport.send.bind(leader.transport);
    leader.transport.send = (messages) => {
      for (const m of messages) {
        if (m.type !== MessageType.MsgApp || !m.entries.some((e) => e.data.length > 0)) continue;
        appendedTo.add(m.to);
        index = m.entries[m.entries.length - 1]!.index;
        events.push(`MsgApp to ${m.to}`);
      }
      send(messages);
    };
    const leaderDisk = holdSaves(leader);
    const slowDisk = holdSaves(slow);

    let result: string | undefined;
    const proposal = leader.node.propose(utf8('x')).then((r) => {
      events.push('resolved');
      return (result = r);
    });

    // The appends are out while the leader's write is still open.
    await waitFor(() => appendedTo.has(slow.id) && appendedTo.has(fast.id), 2_000, 'appends to both followers');
    expect(leaderDisk.resolved()).toBe(0);
    expect(events).not.toContain('resolved');

    // One durable copy (the fast follower's) of three is no quorum: nothing commits.
    await waitFor(() => fast.storage.lastIndex() >= index, 2_000, 'the fast follower’s durable copy');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(leader.node.status().commit).toBeLessThan(index);
    expect(result).toBeUndefined();

    // The leader's own write completes: two durable copies, a quorum.
    events.push('leader save released');
    leaderDisk.release();
    await expect(proposal).resolves.toBe(`x@${index}`);
    expect(events.slice(-2)).toEqual(['leader save released', 'resolved']);
    expect(leader.node.status().commit).toBeGreaterThanOrEqual(index);
    expect(leader.storage.lastIndex()).toBeGreaterThanOrEqual(index);
    // The slow follower's copy was not needed.
    expect(slow.storage.lastIndex()).toBeLessThan(index);

    slowDisk.release();
    await c.waitForEntries([1, 2, 3], ['x']);
  });
});

// asyncStorageWrites: the append worker's group commit, and the two races
// its workers run while the loop goes on stepping messages. Each scenario is
// scripted: a node on a transport the test speaks for (it plays the other
// nodes), on a storage whose saves the test holds open, so that every
// message arrives exactly between the steps it is meant to fall between.
import {
  ConfChangeTransition,
  ConfChangeType,
  discardLogger,
  EntryType,
  encodeConfChangeV2,
  MessageType,
  newConfChangeV2,
  newEntry,
  newMessage,
  newSnapshot,
  type ConfState,
  type Entry,
  type Message,
  type PersistBatch,
  type StateMachine,
  type Transport,
  type TransportHandlers,
  type TransportStats,
} from '@raftbus/core';
import { InMemoryStorage } from '@raftbus/storage-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../src/envelope.js';
import { RaftNode, type RaftNodeOptions } from '../src/index.js';
import { LogMachine, utf8, waitFor } from './helpers/cluster.js';

/** A transport the test speaks for: it records what the node sends and hands it the test's messages. */
class ScriptedTransport implements Transport {
  readonly capabilities = { maxPayloadBytes: Infinity, orderedPerPeer: true };
  readonly sent: Message[] = [];
  private handlers: TransportHandlers | undefined;

  async start(_clusterId: string, _nodeId: number, handlers: TransportHandlers): Promise<void> {
    this.handlers = handlers;
  }

  send(messages: readonly Message[]): void {
    this.sent.push(...messages);
  }

  async stop(): Promise<void> {
    this.handlers = undefined;
  }

  stats(): TransportStats {
    return { sent: this.sent.length, received: 0, dropped: 0, sendFailures: 0 };
  }

  deliver(m: Partial<Message> & Pick<Message, 'type'>): void {
    this.handlers!.onMessage(newMessage(m));
  }
}

/**
 * An InMemoryStorage that records every save and holds open the saves
 * `hold` picks until release(). A held save reaches the store only once
 * released, so until then the store holds exactly what is durable; crash()
 * fails the held saves instead, as if the machine had died during them.
 */
class GatedStorage extends InMemoryStorage {
  readonly saves: PersistBatch[] = [];
  hold: ((batch: PersistBatch) => boolean) | undefined;
  private held: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  get heldSaves(): number {
    return this.held.length;
  }

  override async save(batch: PersistBatch): Promise<void> {
    this.saves.push({ ...batch, entries: [...batch.entries] });
    if (this.hold?.(batch)) await new Promise<void>((resolve, reject) => this.held.push({ resolve, reject }));
    await super.save(batch);
  }

  release(): void {
    this.hold = undefined;
    for (const h of this.held.splice(0)) h.resolve();
  }

  crash(): void {
    this.hold = undefined;
    for (const h of this.held.splice(0)) h.reject(new Error('crashed during this save'));
  }
}

/** A LogMachine whose apply of `blockOn` waits until unblock(). */
class GatedMachine implements StateMachine<string> {
  readonly log = new LogMachine();
  reached = false;
  private open!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));

  constructor(private readonly blockOn: string) {}

  apply(data: Uint8Array, index: number): string | Promise<string> {
    if (new TextDecoder().decode(data) !== this.blockOn) return this.log.apply(data, index);
    this.reached = true;
    return this.gate.then(() => this.log.apply(data, index));
  }

  snapshot(): Uint8Array {
    return this.log.snapshot();
  }

  restore(data: Uint8Array): void {
    this.log.restore(data);
  }

  unblock(): void {
    this.open();
  }
}

const nodes: RaftNode<string>[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

function startNode(o: Partial<RaftNodeOptions<string>> & Pick<RaftNodeOptions<string>, 'id' | 'transport' | 'storage' | 'stateMachine'>): Promise<RaftNode<string>> {
  const node = new RaftNode<string>({
    clusterId: 'async-workers',
    asyncStorageWrites: true,
    tickMs: 5,
    logger: discardLogger,
    randomInt: () => 0,
    snapshot: false,
    ...o,
  });
  nodes.push(node);
  return node.start().then(() => node);
}

/**
 * Follower 2 of [1, 2, 3], which never campaigns: the test plays leader 1,
 * whose term-2 heartbeat it has heard; its bootstrap entries 1–3 are applied.
 */
async function scriptedFollower(storage: GatedStorage, stateMachine: StateMachine<string>): Promise<{ node: RaftNode<string>; net: ScriptedTransport }> {
  const net = new ScriptedTransport();
  const node = await startNode({ id: 2, peers: [1, 2, 3], transport: net, storage, stateMachine, tickMs: 50, electionTick: 1000 });
  await waitFor(() => node.status().applied === 3, 2_000, 'the bootstrap entries applied');
  net.deliver({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 2, commit: 3 });
  await waitFor(() => node.status().leader === 1, 2_000, 'node 1 known as leader');
  return { node, net };
}

const entry = (index: number, term: number, s: string): Entry =>
  newEntry({ index, term, data: encodeEnvelope({ proposer: 1, incarnation: 7, seq: index }, utf8(s)) });
const indexes = (es: readonly Entry[]): string => es.map((e) => `${e.index}@${e.term}`).join(' ');

describe('asyncStorageWrites: the append worker', () => {
  it('saves the appends queued behind a save in flight with one save, and answers them in order', async () => {
    const storage = new GatedStorage();
    const sm = new LogMachine();
    const node = await startNode({ id: 1, peers: [1], transport: new ScriptedTransport(), storage, stateMachine: sm });
    await waitFor(() => node.status().role === 'leader' && node.status().applied >= 2, 2_000, 'a single-node leader');
    const first = storage.lastIndex() + 1;

    storage.hold = (b) => b.entries.length > 0;
    const proposals = [node.propose(utf8('a'))];
    await waitFor(() => storage.heldSaves === 1, 2_000, 'the first save in flight');
    const savesBefore = storage.saves.length;
    const readiesBefore = node.status().stats.readies;
    // Each in its own turn of the event loop, so each in its own Ready.
    for (const s of ['b', 'c', 'd']) {
      await new Promise((resolve) => setImmediate(resolve));
      proposals.push(node.propose(utf8(s)));
      await waitFor(() => node.status().stats.readies > readiesBefore + proposals.length - 2, 2_000, `the Ready of ${s}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(storage.saves.length).toBe(savesBefore);

    storage.release();
    await expect(Promise.all(proposals)).resolves.toEqual(['a', 'b', 'c', 'd'].map((s, i) => `${s}@${first + i}`));
    // The three appends queued behind the first went out as one save.
    const batched = storage.saves.slice(savesBefore).find((b) => b.entries.length > 0);
    expect(indexes(batched!.entries)).toBe(indexes(storage.entries(first + 1, first + 4, Infinity)));
    expect(storage.saves.slice(savesBefore).filter((b) => b.entries.length > 0)).toHaveLength(1);
    expect(sm.entries).toEqual(['a', 'b', 'c', 'd']);
  });

  it('merges appends that overwrite each other (a new leader’s conflicting entries) as the log would', async () => {
    const storage = new GatedStorage();
    const { node, net } = await scriptedFollower(storage, new LogMachine());
    storage.hold = () => true;
    net.deliver({ type: MessageType.MsgApp, from: 1, to: 2, term: 2, logTerm: 1, index: 3, entries: [entry(4, 2, 'a')], commit: 3 });
    await waitFor(() => storage.heldSaves === 1, 2_000, 'the save of 4 in flight');
    const savesBefore = storage.saves.length;
    // Queued behind it: 5–6 from leader 1; then leader 3 of term 3 replaces 5 and 6 and adds 7.
    net.deliver({ type: MessageType.MsgApp, from: 1, to: 2, term: 2, logTerm: 2, index: 4, entries: [entry(5, 2, 'b'), entry(6, 2, 'c')], commit: 3 });
    await new Promise((resolve) => setImmediate(resolve));
    net.deliver({ type: MessageType.MsgApp, from: 3, to: 2, term: 3, logTerm: 2, index: 4, entries: [entry(5, 3, 'x')], commit: 3 });
    await new Promise((resolve) => setImmediate(resolve));
    net.deliver({ type: MessageType.MsgApp, from: 3, to: 2, term: 3, logTerm: 3, index: 5, entries: [entry(6, 3, 'y'), entry(7, 3, 'z')], commit: 3 });
    await waitFor(() => node.status().leader === 3 && node.status().stats.messagesStepped >= 4, 2_000, 'the appends stepped');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(storage.saves.length).toBe(savesBefore);

    storage.release();
    await waitFor(() => net.sent.some((m) => m.type === MessageType.MsgAppResp && m.to === 3 && m.index === 7), 2_000, 'the ack of 7');
    const after = storage.saves.slice(savesBefore);
    expect(after).toHaveLength(1);
    expect(indexes(after[0]!.entries)).toBe('5@3 6@3 7@3');
    expect(after[0]!.hardState).toMatchObject({ term: 3, commit: 3 });
    expect(indexes(storage.entries(4, 8, Infinity))).toBe('4@2 5@3 6@3 7@3');
    // Every response, in order: leader 1's acks (term 2) before leader 3's.
    const acks = net.sent.filter((m) => m.type === MessageType.MsgAppResp && m.index >= 4).map((m) => `${m.to}:${m.index}@${m.term}`);
    expect(acks).toEqual(['1:4@2', '1:6@2', '3:5@3', '3:7@3']);
  });
  it('never writes entries queued before a snapshot after it: the batch is cut at the snapshot', async () => {
    const storage = new GatedStorage();
    const sm = new LogMachine();
    const { node, net } = await scriptedFollower(storage, sm);
    storage.hold = () => true;
    net.deliver({ type: MessageType.MsgApp, from: 1, to: 2, term: 2, logTerm: 1, index: 3, entries: [entry(4, 2, 'a')], commit: 3 });
    await waitFor(() => storage.heldSaves === 1, 2_000, 'the save of 4 in flight');
    const savesBefore = storage.saves.length;
    // Queued behind it, each in its own Ready: 5–6, a snapshot at 10 (raft
    // restores it: 5–6 were never committed), then 11 after the snapshot.
    const confState: ConfState = { voters: [1, 2, 3], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false };
    const data = utf8(JSON.stringify({ entries: ['s'], indexes: [10] }));
    const script: Array<Partial<Message> & Pick<Message, 'type'>> = [
      { type: MessageType.MsgApp, from: 1, to: 2, term: 2, logTerm: 2, index: 4, entries: [entry(5, 2, 'b'), entry(6, 2, 'c')], commit: 3 },
      { type: MessageType.MsgSnap, from: 1, to: 2, term: 2, snapshot: newSnapshot({ data, metadata: { index: 10, term: 2, confState } }) },
      { type: MessageType.MsgApp, from: 1, to: 2, term: 2, logTerm: 2, index: 10, entries: [entry(11, 2, 'd')], commit: 11 },
    ];
    for (const m of script) {
      const readies = node.status().stats.readies;
      net.deliver(m);
      await waitFor(() => node.status().stats.readies > readies, 2_000, `the Ready of ${MessageType[m.type]} ${m.index}`);
    }
    expect(storage.saves.length).toBe(savesBefore);

    storage.release();
    await waitFor(() => node.status().applied === 11, 2_000, 'the snapshot restored and 11 applied');
    expect(sm.entries).toEqual(['s', 'd']);
    const after = storage.saves.slice(savesBefore);
    expect(after.map((b) => `${b.snapshot?.metadata.index ?? '-'} [${indexes(b.entries)}]`)).toEqual(['- [5@2 6@2]', '10 [11@2]']);
    expect(after[1]!.hardState).toMatchObject({ term: 2, commit: 11 });
    expect(storage.firstIndex()).toBe(11);
    expect(indexes(storage.entries(11, 12, Infinity))).toBe('11@2');
  });
});

describe('asyncStorageWrites: a snapshot restored while a conf change is being applied', () => {
  it('does not apply the conf change to raft again; its proposer gets the snapshot’s membership', async () => {
    const storage = new GatedStorage();
    const sm = new GatedMachine('block');
    const { node, net } = await scriptedFollower(storage, sm);
    const errors: Error[] = [];
    node.on('error', (e) => errors.push(e));
    const changes: Array<{ index: number; confState: ConfState }> = [];
    node.on('membershipChange', ({ index, confState }) => changes.push({ index, confState }));

    // Node 2 proposes a joint change; it is forwarded to leader 1.
    const change = node.changeMembership([
      { type: ConfChangeType.ConfChangeAddNode, nodeId: 4 },
      { type: ConfChangeType.ConfChangeAddNode, nodeId: 5 },
    ]);
    await waitFor(() => net.sent.some((m) => m.type === MessageType.MsgProp), 2_000, 'the forwarded proposal');
    const proposed = net.sent.find((m) => m.type === MessageType.MsgProp)!.entries[0]!;
    expect(proposed.type).toBe(EntryType.EntryConfChangeV2);

    // Leader 1 commits it at 5 behind a normal entry at 4, whose apply blocks.
    net.deliver({
      type: MessageType.MsgApp,
      from: 1,
      to: 2,
      term: 2,
      logTerm: 1,
      index: 3,
      entries: [entry(4, 2, 'block'), newEntry({ index: 5, term: 2, type: EntryType.EntryConfChangeV2, data: proposed.data })],
      commit: 5,
    });
    await waitFor(() => sm.reached, 2_000, 'entries 4–5 handed out, 4 being applied');

    // Then a snapshot at 10, past the change: raft takes its (joint) config now.
    const confState: ConfState = { voters: [1, 2, 3, 4, 5], votersOutgoing: [1, 2, 3], learners: [], learnersNext: [], autoLeave: true };
    const data = utf8(JSON.stringify({ entries: ['block', 's'], indexes: [4, 9] }));
    net.deliver({ type: MessageType.MsgSnap, from: 1, to: 2, term: 2, snapshot: newSnapshot({ data, metadata: { index: 10, term: 2, confState } }) });
    await waitFor(() => node.status().commit === 10, 2_000, 'the snapshot stepped');

    sm.unblock();
    await expect(change).resolves.toEqual(confState);
    await waitFor(() => node.status().applied === 10, 2_000, 'the snapshot restored');
    expect(errors).toEqual([]);
    expect(node.status().state).toBe('running');
    expect(node.status().confState).toEqual(confState);
    expect(sm.log.entries).toEqual(['block', 's']);
    expect(changes).toEqual([{ index: 5, confState }]);
    const { incoming, outgoing } = node.status().raft!.config.voters;
    expect([[...incoming], [...outgoing]]).toEqual([[1, 2, 3, 4, 5], [1, 2, 3]]);
    await waitFor(() => net.sent.some((m) => m.type === MessageType.MsgAppResp && m.to === 1 && m.index === 10), 2_000, 'the snapshot acknowledged');
  });
});

describe('asyncStorageWrites: snapshots and the durable commit index', () => {
  /** A single-node cluster whose hard-state save committing the proposal `x` is held open. */
  async function appliedAheadOfDurableCommit(storage: GatedStorage): Promise<{ node: RaftNode<string>; index: number }> {
    const node = await startNode({
      id: 1,
      peers: [1],
      transport: new ScriptedTransport(),
      storage,
      stateMachine: new LogMachine(),
      snapshot: { entries: 1, catchUpEntries: 0 },
    });
    await waitFor(() => node.status().role === 'leader' && node.status().snapshotIndex >= 2, 2_000, 'a leader with its entries snapshotted');
    const durable = storage.initialState().hardState.commit;
    storage.hold = (b) => b.entries.length === 0 && b.hardState !== undefined && b.hardState.commit > durable;
    const index = storage.lastIndex() + 1;
    // Applied (so resolved) while the hard state committing it is not yet durable.
    await expect(node.propose(utf8('x'))).resolves.toBe(`x@${index}`);
    expect(storage.heldSaves).toBe(1);
    expect(storage.initialState().hardState.commit).toBeLessThan(index);
    return { node, index };
  }

  it('defers the snapshot until the commit is durable, so a crash before then restarts cleanly', async () => {
    const storage = new GatedStorage();
    const { node, index } = await appliedAheadOfDurableCommit(storage);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const snapshotted = node.status().snapshotIndex;

    // The machine dies during the save of the hard state.
    storage.crash();
    await waitFor(() => node.status().state === 'stopped', 2_000, 'the node to stop');
    const durable = { snapshot: storage.snapshot().metadata.index, commit: storage.initialState().hardState.commit };

    // Raft refuses (panics on) a snapshot past the durable commit index.
    const sm = new LogMachine();
    const restarted = await startNode({ id: 1, transport: new ScriptedTransport(), storage, stateMachine: sm, snapshot: { entries: 1, catchUpEntries: 0 } });
    await waitFor(() => sm.entries.includes('x'), 2_000, 'x applied after the restart');
    expect(restarted.status().state).toBe('running');
    expect(snapshotted).toBeLessThan(index);
    expect(durable.snapshot).toBeLessThanOrEqual(durable.commit);
  });

  it('takes the deferred snapshot once the commit is durable', async () => {
    const storage = new GatedStorage();
    const { node, index } = await appliedAheadOfDurableCommit(storage);
    const created = node.status().stats.snapshotsCreated;
    storage.release();
    await waitFor(() => node.status().snapshotIndex === index, 2_000, `a snapshot at ${index}`);
    expect(node.status().stats.snapshotsCreated).toBe(created + 1);
    expect(storage.snapshot().metadata.index).toBe(index);
  });
});

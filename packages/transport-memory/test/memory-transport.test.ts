import { ErrAlreadyJoined, MemoryBus, MemoryTransport } from '../src/index.js';
import { encodeMessage, MessageType, newEntry, newMessage, type Message } from '@raftbus/core';
import { describe, expect, it, vi } from 'vitest';

const CLUSTER = 'c1';

interface Node {
  id: number;
  transport: MemoryTransport;
  inbox: Message[];
  unreachable: number[];
}

async function join(bus: MemoryBus, id: number, clusterId = CLUSTER, transport = new MemoryTransport(bus)): Promise<Node> {
  const node: Node = { id, transport, inbox: [], unreachable: [] };
  await transport.start(clusterId, id, {
    onMessage: (m) => node.inbox.push(m),
    onUnreachable: (peer) => node.unreachable.push(peer),
  });
  return node;
}

function app(from: number, to: number, index: number): Message {
  return newMessage({ type: MessageType.MsgApp, from, to, term: 1, index, entries: [newEntry({ term: 1, index: index + 1, data: new Uint8Array([index]) })] });
}

/** Lets every frame due now be delivered: the bus delivers them in earlier setImmediate callbacks. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function indexes(inbox: Message[]): number[] {
  return inbox.map((m) => m.index);
}

describe('MemoryTransport', () => {
  it('delivers a decoded copy, never inside send()', async () => {
    const bus = new MemoryBus();
    const a = await join(bus, 1);
    const b = await join(bus, 2);
    const m = app(1, 2, 5);
    a.transport.send([m]);
    expect(b.inbox).toEqual([]);
    await settle();
    expect(b.inbox).toEqual([m]);
    expect(b.inbox[0]).not.toBe(m);
    expect(b.inbox[0]!.entries[0]!.data).not.toBe(m.entries[0]!.data);
    expect(a.transport.stats()).toEqual({ sent: 1, received: 0, dropped: 0, sendFailures: 0 });
    expect(b.transport.stats()).toEqual({ sent: 0, received: 1, dropped: 0, sendFailures: 0 });
    expect(bus.stats()).toMatchObject({ routed: 1, delivered: 1, inFlight: 0 });
  });

  it('keeps each sender’s order', async () => {
    const bus = new MemoryBus();
    const a = await join(bus, 1);
    const b = await join(bus, 2);
    const c = await join(bus, 3);
    for (let i = 0; i < 50; i++) {
      a.transport.send([app(1, 2, i)]);
      c.transport.send([app(3, 2, 100 + i), app(3, 2, 200 + i)]);
    }
    await waitFor(() => b.inbox.length === 150);
    const from1 = indexes(b.inbox.filter((m) => m.from === 1));
    const from3 = indexes(b.inbox.filter((m) => m.from === 3));
    expect(from1).toEqual([...from1].sort((x, y) => x - y));
    expect(from3).toEqual(Array.from({ length: 50 }, (_, i) => [100 + i, 200 + i]).flat());
  });

  it('keeps clusters apart even when they reuse node ids', async () => {
    const bus = new MemoryBus();
    const a1 = await join(bus, 1, 'a');
    const a2 = await join(bus, 2, 'a');
    const b2 = await join(bus, 2, 'b');
    a1.transport.send([app(1, 2, 1)]);
    await settle();
    expect(a2.inbox).toHaveLength(1);
    expect(b2.inbox).toHaveLength(0);
    expect(bus.members('a')).toEqual([1, 2]);
    expect(bus.members('b')).toEqual([2]);
  });

  it('refuses a second node with the same id in a cluster', async () => {
    const bus = new MemoryBus();
    await join(bus, 1);
    await expect(join(bus, 1)).rejects.toBeInstanceOf(ErrAlreadyJoined);
  });

  it('reports a peer that is not joined as unreachable, once per turn and asynchronously', async () => {
    const bus = new MemoryBus();
    const a = await join(bus, 1);
    a.transport.send([app(1, 9, 1), app(1, 9, 2)]);
    expect(a.unreachable).toEqual([]);
    await settle();
    expect(a.unreachable).toEqual([9]);
    expect(a.transport.stats()).toMatchObject({ sent: 0, sendFailures: 2 });
    expect(bus.stats().unroutable).toBe(2);
  });

  it('loses frames in flight to a node that leaves, and tells the sender', async () => {
    const bus = new MemoryBus();
    const a = await join(bus, 1);
    const b = await join(bus, 2);
    a.transport.send([app(1, 2, 1)]);
    await b.transport.stop();
    await settle();
    await settle();
    expect(b.inbox).toEqual([]);
    expect(a.unreachable).toEqual([2]);
  });

  it('drops malformed, misaddressed and forged frames on receipt, counted', async () => {
    const bus = new MemoryBus();
    const b = await join(bus, 2);
    await join(bus, 3);
    bus.inject(CLUSTER, 1, 2, new Uint8Array([0xff, 0xff, 0xff]));
    bus.inject(CLUSTER, 1, 2, encodeMessage(app(1, 3, 1))); // addressed to 3
    bus.inject(CLUSTER, 3, 2, encodeMessage(app(1, 2, 1))); // claims to be from 1
    bus.inject(CLUSTER, 1, 2, encodeMessage(app(1, 2, 7)));
    await settle();
    expect(indexes(b.inbox)).toEqual([7]);
    expect(b.transport.stats()).toMatchObject({ received: 1, dropped: 3 });
  });

  it('refuses frames over maxPayloadBytes as send failures', async () => {
    const bus = new MemoryBus();
    const small = new MemoryTransport(bus, { maxPayloadBytes: 64 });
    const a = await join(bus, 1, CLUSTER, small);
    const b = await join(bus, 2);
    const big = newMessage({ type: MessageType.MsgApp, from: 1, to: 2, term: 1, entries: [newEntry({ data: new Uint8Array(100) })] });
    a.transport.send([big, app(1, 2, 1)]);
    await settle();
    expect(indexes(b.inbox)).toEqual([1]);
    expect(a.transport.stats()).toMatchObject({ sent: 1, sendFailures: 1 });
    expect(small.capabilities.maxPayloadBytes).toBe(64);
  });

  it('stop() is idempotent; a stopped transport neither sends nor receives', async () => {
    const bus = new MemoryBus();
    const a = await join(bus, 1);
    const b = await join(bus, 2);
    await a.transport.stop();
    await a.transport.stop();
    a.transport.send([app(1, 2, 1)]);
    b.transport.send([app(2, 1, 1)]);
    await settle();
    expect(a.inbox).toEqual([]);
    expect(b.inbox).toEqual([]);
    expect(a.transport.stats().sendFailures).toBe(1);
    expect(bus.members(CLUSTER)).toEqual([2]);
  });
});

describe('MemoryBus faults', () => {
  async function trio(bus: MemoryBus): Promise<[Node, Node, Node]> {
    return [await join(bus, 1), await join(bus, 2), await join(bus, 3)];
  }

  it('drops with a seeded probability, the same way for the same seed', async () => {
    async function run(seed: number): Promise<number[]> {
      const bus = new MemoryBus({ seed });
      const [a, b] = await trio(bus);
      bus.drop(0.5);
      for (let i = 0; i < 200; i++) a.transport.send([app(1, 2, i)]);
      await settle();
      expect(bus.stats().dropped + bus.stats().delivered).toBe(200);
      return indexes(b.inbox);
    }
    const first = await run(7);
    expect(first.length).toBeGreaterThan(50);
    expect(first.length).toBeLessThan(150);
    expect(await run(7)).toEqual(first);
    expect(await run(8)).not.toEqual(first);
  });

  it('drops what a predicate selects, and drop(0) stops dropping', async () => {
    const bus = new MemoryBus();
    const [a, b] = await trio(bus);
    bus.drop(({ message }) => message.type === MessageType.MsgHeartbeat);
    a.transport.send([newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1 }), app(1, 2, 1)]);
    await settle();
    expect(b.inbox.map((m) => m.type)).toEqual([MessageType.MsgApp]);
    bus.drop(0);
    a.transport.send([newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1 })]);
    await settle();
    expect(b.inbox).toHaveLength(2);
    // A lost frame is still "sent" for the sender, as on a real network.
    expect(a.transport.stats().sent).toBe(3);
  });

  it('delays messages; a fixed delay keeps order, a range reorders', async () => {
    const bus = new MemoryBus({ seed: 1 });
    const [a, b] = await trio(bus);
    // Fake timers: the test is about which messages arrive when, not about this machine's speed.
    vi.useFakeTimers();
    try {
      bus.delay(20);
      for (let i = 0; i < 20; i++) a.transport.send([app(1, 2, i)]);
      vi.advanceTimersByTime(19);
      expect(b.inbox).toEqual([]);
      expect(bus.stats().inFlight).toBe(20);
      vi.advanceTimersByTime(1);
      expect(indexes(b.inbox)).toEqual([...Array(20).keys()]);

      b.inbox.length = 0;
      bus.delay({ min: 0, max: 30 });
      for (let i = 0; i < 50; i++) a.transport.send([app(1, 2, i)]);
      vi.advanceTimersByTime(30);
      expect(b.inbox).toHaveLength(50);
      expect(indexes(b.inbox)).not.toEqual([...Array(50).keys()]);
      expect([...indexes(b.inbox)].sort((x, y) => x - y)).toEqual([...Array(50).keys()]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('partitions into groups and heals', async () => {
    const bus = new MemoryBus();
    const [a, b, c] = await trio(bus);
    bus.partition([[1], [2, 3]]);
    a.transport.send([app(1, 2, 1), app(1, 3, 1)]);
    b.transport.send([app(2, 3, 2), app(2, 1, 2)]);
    await settle();
    expect(a.inbox).toEqual([]);
    expect(indexes(b.inbox)).toEqual([]);
    expect(indexes(c.inbox)).toEqual([2]);
    // A partition is silent: nobody is told the peer is unreachable.
    expect(a.unreachable).toEqual([]);
    bus.heal();
    a.transport.send([app(1, 2, 3)]);
    await settle();
    expect(indexes(b.inbox)).toEqual([3]);
  });

  it('puts nodes named in no group together', async () => {
    const bus = new MemoryBus();
    const [a, b, c] = await trio(bus);
    bus.partition([[1]]);
    b.transport.send([app(2, 3, 1), app(2, 1, 1)]);
    await settle();
    expect(indexes(c.inbox)).toEqual([1]);
    expect(a.inbox).toEqual([]);
  });

  it('isolates a node and restores it', async () => {
    const bus = new MemoryBus();
    const [a, b, c] = await trio(bus);
    bus.isolate(2);
    a.transport.send([app(1, 2, 1), app(1, 3, 1)]);
    b.transport.send([app(2, 3, 2)]);
    await settle();
    expect(b.inbox).toEqual([]);
    expect(indexes(c.inbox)).toEqual([1]);
    bus.restore(2);
    a.transport.send([app(1, 2, 4)]);
    await settle();
    expect(indexes(b.inbox)).toEqual([4]);
  });

  it('loses delayed frames when a partition starts before they arrive', async () => {
    const bus = new MemoryBus();
    const [a, b] = await trio(bus);
    bus.delay(10);
    a.transport.send([app(1, 2, 1)]);
    bus.isolate(2);
    await waitFor(() => bus.stats().inFlight === 0);
    expect(b.inbox).toEqual([]);
    expect(bus.stats().dropped).toBe(1);
  });

  it('validates its rules', () => {
    const bus = new MemoryBus();
    expect(() => bus.drop(1.5)).toThrow(RangeError);
    expect(() => bus.delay({ min: 5, max: 1 })).toThrow(RangeError);
    expect(() => bus.partition([[1, 2], [2]])).toThrow(RangeError);
  });
});

it('runs the README example', async () => {
  const log: string[] = [];
  const console = { log: (s: string) => log.push(s) };

  const bus = new MemoryBus({ seed: 7 });
  const a = new MemoryTransport(bus);
  const b = new MemoryTransport(bus);
  await a.start('cluster-1', 1, { onMessage: () => {} });
  await b.start('cluster-1', 2, {
    onMessage: (m) => console.log(`node 2 got ${MessageType[m.type]} from node ${m.from}`),
  });

  a.send([newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1 })]);
  // → node 2 got MsgHeartbeat from node 1 (on a later turn of the event loop)
  expect(log).toEqual([]);
  await settle();
  expect(log).toEqual(['node 2 got MsgHeartbeat from node 1']);

  bus.partition([[1], [2]]); // from now on, 1 and 2 cannot hear each other
  bus.heal();
  bus.drop(0.1); // lose 10% of messages (seeded)
  bus.delay({ min: 0, max: 20 }); // 0–20 ms each: messages may overtake each other

  await Promise.all([a.stop(), b.stop()]);
});

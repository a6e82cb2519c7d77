import { ErrInvalidConfig, MessageType, newMessage, type Message, type TransportHandlers } from '@raftbus/core';
import { sleep, transportConformance, waitFor } from '@raftbus/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrAlreadyStarted, Framer } from '../src/index.js';
import { LoopbackBus, LoopbackTransport, expectSameMessage, messageOfSize } from './helpers.js';

// The base class must make the smallest adapter a conforming transport.
transportConformance(
  'LoopbackTransport (FramedTransport)',
  async () => {
    const bus = new LoopbackBus();
    return { transport: () => new LoopbackTransport(bus, { maxFrameBytes: 16 * 1024 }) };
  },
  { detectsUnknownPeers: true, oversized: 'split' },
);
transportConformance(
  'LoopbackTransport (FramedTransport) with a key and a payload limit',
  async () => {
    const bus = new LoopbackBus();
    return { transport: () => new LoopbackTransport(bus, { maxFrameBytes: 1000, key: 'secret', maxPayloadBytes: 64 * 1024 }) };
  },
  { detectsUnknownPeers: true, oversized: 'refused', largeMessageBytes: 64 * 1024 },
);

transportConformance(
  'LoopbackTransport (FramedTransport) publishing alike messages to all',
  async () => {
    const bus = new LoopbackBus();
    return { transport: () => new LoopbackTransport(bus, { maxFrameBytes: 16 * 1024, multicast: true, key: 'secret' }) };
  },
  { detectsUnknownPeers: true, oversized: 'split' },
);

const CLUSTER = 'c1';
const hb = (from: number, to: number, index = 0): Message => newMessage({ type: MessageType.MsgHeartbeat, from, to, term: 1, index });

interface Node {
  transport: LoopbackTransport;
  inbox: Message[];
  unreachable: number[];
  handlers: TransportHandlers;
}

describe('FramedTransport', () => {
  let bus: LoopbackBus;
  const running: LoopbackTransport[] = [];

  afterEach(async () => {
    for (const t of running.splice(0)) await t.stop();
  });

  function node(options: ConstructorParameters<typeof LoopbackTransport>[1] = {}): Node {
    bus ??= new LoopbackBus();
    const transport = new LoopbackTransport(bus, options);
    running.push(transport);
    const n: Node = {
      transport,
      inbox: [],
      unreachable: [],
      handlers: { onMessage: (m) => n.inbox.push(m), onUnreachable: (p) => n.unreachable.push(p) },
    };
    return n;
  }

  async function started(id: number, options: ConstructorParameters<typeof LoopbackTransport>[1] = {}, cluster = CLUSTER): Promise<Node> {
    const n = node(options);
    await n.transport.start(cluster, id, n.handlers);
    return n;
  }

  it('publishes once per peer per send(), frames in message order', async () => {
    bus = new LoopbackBus();
    const a = await started(1, { maxFrameBytes: 300 });
    const b = await started(2);
    const c = await started(3);
    const big = messageOfSize(1, 2, 1000);
    a.transport.send([hb(1, 2, 1), hb(1, 3, 2), big, hb(1, 2, 3)]);
    expect(a.transport.publishes.map((p) => p.to)).toEqual([2, 3]);
    // Only node 2's batch holds a message split into chunks.
    expect(a.transport.publishes.map((p) => p.chunked)).toEqual([true, false]);
    a.transport.send([hb(1, 2, 4), hb(1, 2, 5)]);
    expect(a.transport.publishes[2]).toMatchObject({ to: 2, chunked: false });
    expect(a.transport.publishes[2]!.frames).toHaveLength(2);
    const toB = a.transport.publishes[0]!.frames;
    const framer = new Framer(CLUSTER, 2, { maxFrameBytes: 300 });
    const decoded = toB.map((f) => framer.decode(f)).filter((m) => m !== undefined);
    expect(decoded.map((m) => m.index)).toEqual([1, big.index, 3]);
    expect(toB.length).toBeGreaterThan(3);
    for (const f of toB) expect(f.length).toBeLessThanOrEqual(300);
    await waitFor(() => b.inbox.length === 5 && c.inbox.length === 1);
    expectSameMessage(b.inbox[1], big);
    await waitFor(() => a.transport.stats().sent === 6);
    expect(a.transport.stats()).toEqual({ sent: 6, received: 0, dropped: 0, sendFailures: 0 });
    expect(b.transport.stats()).toEqual({ sent: 0, received: 5, dropped: 0, sendFailures: 0 });
  });

  it('counts a rejected or throwing publish as failures of all its messages, and reports the peer once, later', async () => {
    bus = new LoopbackBus();
    const a = await started(1);
    await started(2);
    await started(3);
    a.transport.publishFault = (to) => (to === 2 ? 'reject' : to === 3 ? 'throw' : undefined);
    a.transport.send([hb(1, 2), hb(1, 2), hb(1, 3)]);
    a.transport.send([hb(1, 2)]);
    // Never inside send(): the host may be in the middle of its raft loop.
    expect(a.unreachable).toEqual([]);
    await waitFor(() => a.transport.stats().sendFailures === 4);
    await sleep(5);
    expect(a.unreachable.sort()).toEqual([2, 3]);
    expect(a.transport.stats()).toMatchObject({ sent: 0, sendFailures: 4 });
    a.transport.publishFault = undefined;
    a.transport.send([hb(1, 2)]);
    await waitFor(() => a.transport.stats().sent === 1);
  });

  it('reports an unknown peer unreachable and goes on', async () => {
    bus = new LoopbackBus();
    const a = await started(1);
    const b = await started(2);
    a.transport.send([hb(1, 99), hb(1, 2)]);
    await waitFor(() => a.unreachable.length === 1 && b.inbox.length === 1);
    expect(a.unreachable).toEqual([99]);
    expect(a.transport.stats()).toMatchObject({ sent: 1, sendFailures: 1 });
  });

  it('counts a message it cannot encode or that is too large as a failure, without blaming the peer', async () => {
    bus = new LoopbackBus();
    const a = await started(1, { maxPayloadBytes: 500 });
    const b = await started(2);
    expect(a.transport.capabilities).toEqual({ maxPayloadBytes: 500, maxUnsplitBytes: 500, orderedPerPeer: true });
    a.transport.send([{ ...hb(1, 2), term: 2 ** 53 }, messageOfSize(1, 2, 501), messageOfSize(1, 2, 500)]);
    await waitFor(() => b.inbox.length === 1);
    await sleep(5);
    expect(a.transport.stats()).toMatchObject({ sent: 1, sendFailures: 2 });
    expect(a.unreachable).toEqual([]);
  });

  it('states a finite maxPayloadBytes only as far as it will carry it', () => {
    bus = new LoopbackBus();
    const caps = (options: ConstructorParameters<typeof LoopbackTransport>[1]) => node(options).transport.capabilities.maxPayloadBytes;
    expect(caps({})).toBe(Number.POSITIVE_INFINITY);
    expect(caps({ maxPayloadBytes: 1 << 30 })).toBe(1 << 30); // above the 256 MiB default message limit
    expect(caps({ maxPayloadBytes: 1 << 30, maxMessageBytes: 1000 })).toBe(1000);
    expect(caps({ maxPayloadBytes: 2 ** 40 })).toBe(2 ** 32 - 1);
  });

  it('states maxUnsplitBytes: a message that size is one frame even with the longest cluster id and a key', async () => {
    bus = new LoopbackBus();
    const longest = 'c'.repeat(255);
    const a = node({ maxFrameBytes: 4096, key: 'k' });
    const unsplit = a.transport.capabilities.maxUnsplitBytes!;
    expect(unsplit).toBeGreaterThan(3000);
    await a.transport.start(longest, 1, a.handlers);
    a.transport.send([messageOfSize(1, 2, unsplit), messageOfSize(1, 3, unsplit + 1)]);
    expect(a.transport.publishes.map((p) => [p.to, p.frames.length])).toEqual([
      [2, 1],
      [3, 2],
    ]);
    // Frames never limited: nothing is ever split.
    expect(node({ maxFrameBytes: Number.POSITIVE_INFINITY }).transport.capabilities.maxUnsplitBytes).toBeUndefined();
  });

  it('counts sends before start and after stop as failures, and never publishes them', async () => {
    bus = new LoopbackBus();
    const a = node();
    expect(() => a.transport.send([hb(1, 2), hb(1, 3)])).not.toThrow();
    await a.transport.start(CLUSTER, 1, a.handlers);
    await a.transport.stop();
    expect(() => a.transport.send([hb(1, 2)])).not.toThrow();
    expect(a.transport.stats()).toEqual({ sent: 0, received: 0, dropped: 0, sendFailures: 3 });
    expect(a.transport.publishes).toEqual([]);
  });

  it('refuses a second start, concurrent or later, and a start after stop', async () => {
    bus = new LoopbackBus();
    const a = node();
    const first = a.transport.start(CLUSTER, 1, a.handlers);
    await expect(a.transport.start(CLUSTER, 1, a.handlers)).rejects.toThrow(ErrAlreadyStarted);
    await first;
    await expect(a.transport.start(CLUSTER, 2, a.handlers)).rejects.toThrow(ErrAlreadyStarted);
    await a.transport.stop();
    await expect(a.transport.start(CLUSTER, 1, a.handlers)).rejects.toThrow(ErrAlreadyStarted);
    expect(a.transport.connects).toBe(1);
  });

  it('stop() is idempotent: disconnect() runs once, concurrent calls share it', async () => {
    bus = new LoopbackBus();
    const a = await started(1);
    await Promise.all([a.transport.stop(), a.transport.stop()]);
    await a.transport.stop();
    expect(a.transport.disconnects).toBe(1);
  });

  it('stop() before start() disconnects nothing', async () => {
    bus = new LoopbackBus();
    const a = node();
    await a.transport.stop();
    expect(a.transport.disconnects).toBe(0);
    expect(a.transport.connects).toBe(0);
  });

  it('stop() during a slow connect waits for it, then disconnects, and nothing is delivered', async () => {
    bus = new LoopbackBus();
    const b = await started(2);
    const a = node();
    let release!: () => void;
    a.transport.connectHook = () => new Promise<void>((r) => (release = r));
    const starting = a.transport.start(CLUSTER, 1, a.handlers);
    const stopping = a.transport.stop();
    release();
    await starting;
    await stopping;
    expect(a.transport.disconnects).toBe(1);
    b.transport.send([hb(2, 1)]);
    await sleep(10);
    expect(a.inbox).toEqual([]);
  });

  it('a failed connect rejects start(), which may then be retried', async () => {
    bus = new LoopbackBus();
    const a = node();
    a.transport.connectHook = () => Promise.reject(new Error('bus down'));
    await expect(a.transport.start(CLUSTER, 1, a.handlers)).rejects.toThrow('bus down');
    a.transport.send([hb(1, 2)]);
    a.transport.connectHook = undefined;
    await a.transport.start(CLUSTER, 1, a.handlers);
    const b = await started(2);
    a.transport.send([hb(1, 2)]);
    await waitFor(() => b.inbox.length === 1);
    expect(a.transport.stats()).toMatchObject({ sendFailures: 1 });
  });

  it('refuses bad options at construction and bad identities at start', async () => {
    bus = new LoopbackBus();
    expect(() => node({ maxFrameBytes: 0 })).toThrow(ErrInvalidConfig);
    expect(() => node({ maxPayloadBytes: 0 })).toThrow(ErrInvalidConfig);
    expect(() => node({ key: '' })).toThrow(ErrInvalidConfig);
    const a = node();
    await expect(a.transport.start('', 1, a.handlers)).rejects.toThrow(ErrInvalidConfig);
    await expect(a.transport.start(CLUSTER, 0, a.handlers)).rejects.toThrow(ErrInvalidConfig);
    expect(a.transport.connects).toBe(0);
    await a.transport.start(CLUSTER, 1, a.handlers);
  });

  it('drops and counts frames for other clusters, other nodes and other keys; stats().drops says which', async () => {
    bus = new LoopbackBus();
    const a = await started(1, { key: 'k1' });
    const intruders = [await started(7, { key: 'k1' }, 'c2'), await started(8, { key: 'k2' })];
    const other = await started(3, { key: 'k1' });
    // The loopback bus routes by node id only: node 1 of c2 hears c1's frames too.
    const shadow = await started(1, { key: 'k1' }, 'c2');
    intruders[0]!.transport.send([hb(7, 1)]);
    intruders[1]!.transport.send([hb(8, 1)]);
    other.transport.send([hb(3, 1)]);
    await waitFor(() => a.inbox.length === 1 && a.transport.stats().dropped === 2 && shadow.transport.stats().dropped === 2);
    expect(a.transport.stats().drops).toMatchObject({ wrongCluster: 1, badMac: 1 });
    expect(shadow.transport.stats().drops).toMatchObject({ wrongCluster: 1, badMac: 1 });
    expect(shadow.inbox.map((m) => m.from)).toEqual([7]);
    expect(a.inbox.map((m) => m.from)).toEqual([3]);
    expect(Object.keys(a.transport.stats()).sort()).toEqual(['dropped', 'received', 'sendFailures', 'sent']);
  });

  it('ignores frames delivered after stop', async () => {
    bus = new LoopbackBus();
    const a = await started(1);
    const b = await started(2);
    b.transport.send([hb(2, 1)]);
    await a.transport.stop();
    await sleep(10);
    expect(a.inbox).toEqual([]);
    expect(a.transport.stats()).toEqual({ sent: 0, received: 0, dropped: 0, sendFailures: 0 });
  });

  describe('with multicast', () => {
    const app = (to: number, index: number, entries = [entry(index)]): Message =>
      newMessage({ type: MessageType.MsgApp, from: 1, to, term: 2, logTerm: 2, index: index - 1, commit: index - 1, entries });
    const entry = (index: number) => ({ type: 0, term: 2, index, data: Uint8Array.of(index) });
    const published = (t: LoopbackTransport) => t.publishes.map((p) => (p.recipients !== undefined ? `all:${p.recipients.join('+')}` : `${p.to}`));

    it('publishes a message sent alike to several peers once, naming them; each receives it addressed to itself', async () => {
      bus = new LoopbackBus();
      const a = await started(1, { multicast: true });
      const b = await started(2, { multicast: true });
      const c = await started(3, { multicast: true });
      const d = await started(4, { multicast: true });
      const entries = [entry(5), entry(6)];
      // Alike but for `to`, down to entries that are equal without being the same objects.
      a.transport.send([app(2, 5, entries), app(3, 5, entries), app(4, 5, [entry(5), entry(6)]), hb(1, 2, 9), hb(1, 3, 9)]);
      expect(published(a.transport)).toEqual(['all:2+3+4', 'all:2+3']);
      await waitFor(() => b.inbox.length === 2 && c.inbox.length === 2 && d.inbox.length === 1);
      expectSameMessage(b.inbox[0], app(2, 5, entries));
      expectSameMessage(c.inbox[0], app(3, 5, entries));
      expectSameMessage(d.inbox[0], app(4, 5, entries));
      expectSameMessage(c.inbox[1], hb(1, 3, 9));
      await waitFor(() => a.transport.stats().sent === 5);
      // Node 1 saw its own publications and passed over them; node 4 the heartbeat not for it.
      for (const n of [a, b, c, d]) expect(n.transport.stats().dropped).toBe(0);
      expect(a.inbox).toHaveLength(0);
    });

    it("keeps each peer's order: a message joins an alike earlier one only with no message to its peer between", async () => {
      bus = new LoopbackBus();
      const a = await started(1, { multicast: true });
      const b = await started(2, { multicast: true });
      const c = await started(3, { multicast: true });
      a.transport.send([app(2, 5), app(2, 6), app(3, 5)]);
      expect(published(a.transport)).toEqual(['all:2+3', '2']);
      a.transport.publishes.length = 0;
      a.transport.send([app(2, 7), hb(1, 3, 1), app(3, 7), app(2, 8), app(3, 8)]);
      // The heartbeat and the append to 3 go out together, as consecutive frames to one peer.
      expect(published(a.transport)).toEqual(['2', '3', 'all:2+3']);
      expect(a.transport.publishes[1]!.frames).toHaveLength(2);
      await waitFor(() => b.inbox.length === 4 && c.inbox.length === 4);
      expect(b.inbox.map((m) => m.entries[0]!.index)).toEqual([5, 6, 7, 8]);
      expect(c.inbox.map((m) => m.type)).toEqual([MessageType.MsgApp, MessageType.MsgHeartbeat, MessageType.MsgApp, MessageType.MsgApp]);
      expect(c.inbox.filter((m) => m.type === MessageType.MsgApp).map((m) => m.entries[0]!.index)).toEqual([5, 7, 8]);
    });

    it('sends each its own when one frame cannot hold the message, and only alike messages together', async () => {
      bus = new LoopbackBus();
      const a = await started(1, { multicast: true, maxFrameBytes: 300 });
      const b = await started(2, { multicast: true, maxFrameBytes: 300 });
      const c = await started(3, { multicast: true, maxFrameBytes: 300 });
      const big = messageOfSize(1, 2, 1000);
      a.transport.send([big, { ...big, to: 3 }, app(2, 5), newMessage({ ...app(3, 5), commit: 3 })]);
      expect(published(a.transport)).toEqual(['2', '3', '2', '3']);
      expect(a.transport.publishes.map((p) => p.frames.length > 2)).toEqual([true, true, false, false]);
      await waitFor(() => b.inbox.length === 2 && c.inbox.length === 2);
      expectSameMessage(c.inbox[0], { ...big, to: 3 });
    });

    it('counts a failed publication to all as a failure of each recipient, and reports each unreachable', async () => {
      bus = new LoopbackBus();
      const a = await started(1, { multicast: true });
      await started(2, { multicast: true });
      await started(3, { multicast: true });
      a.transport.publishFault = (to) => (to === 0 ? 'reject' : undefined);
      a.transport.send([hb(1, 2), hb(1, 3)]);
      await waitFor(() => a.unreachable.length === 2);
      expect(a.unreachable.sort()).toEqual([2, 3]);
      expect(a.transport.stats()).toMatchObject({ sent: 0, sendFailures: 2 });
      a.transport.publishFault = (to) => (to === 0 ? 'throw' : undefined);
      a.transport.send([hb(1, 2), hb(1, 3)]);
      expect(a.transport.stats()).toMatchObject({ sent: 0, sendFailures: 4 });
    });

    it('fails a message to a bad node id alone, and sends the alike ones to real peers together', async () => {
      bus = new LoopbackBus();
      const a = await started(1, { multicast: true });
      await started(2, { multicast: true });
      await started(3, { multicast: true });
      a.transport.send([hb(1, 0), hb(1, 3), hb(1, -1), hb(1, 2)]);
      expect(published(a.transport)).toEqual(['0', 'all:3+2']);
      await waitFor(() => a.transport.stats().sent === 2);
      // Node 0 is not on the loopback bus (its publish rejects); -1 cannot be encoded.
      await waitFor(() => a.transport.stats().sendFailures === 2);
    });

    it('is off by default: alike messages go to each peer on its own', async () => {
      bus = new LoopbackBus();
      const a = await started(1);
      await started(2);
      await started(3);
      a.transport.send([hb(1, 2), hb(1, 3)]);
      expect(published(a.transport)).toEqual(['2', '3']);
      expect(() => new LoopbackTransport(bus, { multicast: 'yes' as unknown as boolean })).toThrow(ErrInvalidConfig);
    });
  });
});

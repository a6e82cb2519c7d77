// Frames from someone who means harm, or from a bus that misbehaves:
// replays, other clusters and nodes, forged or missing MACs, oversized
// frames, chunk floods that never complete. Each must be dropped and counted
// under its reason, memory must stay within its bounds, and nothing may
// throw or reach the host.
import { ErrInvalidConfig, MessageType, encodeMessage, newMessage, type Message, type TransportHandlers } from '@raftbus/core';
import { waitFor } from '@raftbus/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { Framer, type FrameDropStats } from '../src/index.js';
import { FLAG_AUTHENTICATED, MAC_BYTES, frameLength, writeFrame } from '../src/format.js';
import { CHUNK_OVERHEAD_BYTES } from '../src/reassembly.js';
import { MAX_REPLAY_SESSIONS, REPLAY_WINDOW, ReplayWindows } from '../src/replay.js';
import { emptyDropStats, totalDrops } from '../src/stats.js';
import { LoopbackBus, LoopbackTransport, SeededRandom, expectSameMessage, messageOfSize, randomMessage, shuffle } from './helpers.js';

const CLUSTER = 'hostile';
const KEY = 'the cluster key';
const text = new TextEncoder();
const hb = (from: number, to: number, index = 0): Message => newMessage({ type: MessageType.MsgHeartbeat, from, to, term: 1, index });

function feed(receiver: Framer, frames: readonly Uint8Array[], now = 0): Message[] {
  const out: Message[] = [];
  for (const f of frames) {
    const m = receiver.decode(f, now);
    if (m !== undefined) out.push(m);
  }
  return out;
}

function only(drops: FrameDropStats, counts: Partial<FrameDropStats>): void {
  expect(drops).toEqual({ ...emptyDropStats(), ...counts });
}

describe('replays (with a key)', () => {
  const keyed = (id: number, maxFrameBytes = 1 << 20) => new Framer(CLUSTER, id, { maxFrameBytes, key: KEY });

  it('delivers a frame once; the same frame sent again, at once or after later traffic, is dropped as replayed', () => {
    const sender = keyed(1);
    const receiver = keyed(2);
    const captured = sender.encode(hb(1, 2, 7));
    expect(feed(receiver, captured)).toHaveLength(1);
    expect(feed(receiver, captured)).toEqual([]);
    for (let i = 0; i < 100; i++) expect(receiver.decode(sender.encode(hb(1, 2, i))[0]!)).toBeDefined();
    expect(feed(receiver, captured)).toEqual([]);
    only(receiver.drops, { replayed: 2 });
  });

  it('drops every chunk of a replayed chunked message, and never delivers it twice', () => {
    const sender = keyed(1, 200);
    const receiver = keyed(2, 200);
    const big = messageOfSize(1, 2, 2000);
    const frames = sender.encode(big);
    expect(frames.length).toBeGreaterThan(5);
    const got = feed(receiver, frames);
    expect(got).toHaveLength(1);
    expectSameMessage(got[0], big);
    expect(feed(receiver, shuffle(new SeededRandom(3), frames))).toEqual([]);
    only(receiver.drops, { replayed: frames.length });
    expect(receiver.pendingMessages).toBe(0);
  });

  it('accepts frames reordered on the bus, each once', () => {
    const rng = new SeededRandom(41);
    const sender = keyed(1);
    const receiver = keyed(2);
    const frames = Array.from({ length: 300 }, (_, i) => sender.encode(hb(1, 2, i))[0]!);
    const got = feed(receiver, shuffle(rng, [...frames, ...frames]));
    expect(got.map((m) => m.index).sort((a, b) => a - b)).toEqual(frames.map((_, i) => i));
    only(receiver.drops, { replayed: frames.length });
  });

  it('numbers frames per addressee, so traffic to other nodes does not age ours', () => {
    const sender = keyed(1);
    const receiver = keyed(2);
    const held = sender.encode(hb(1, 2, 1))[0]!;
    for (let i = 0; i < 2 * REPLAY_WINDOW; i++) sender.encode(hb(1, 3, i));
    expect(receiver.decode(sender.encode(hb(1, 2, 2))[0]!)).toBeDefined();
    expect(receiver.decode(held)).toBeDefined();
    only(receiver.drops, {});
  });

  it('accepts a restarted sender (a new session counting from 1) while still refusing the old session’s frames', () => {
    const receiver = keyed(2);
    const before = keyed(1);
    const old = before.encode(hb(1, 2, 1));
    expect(feed(receiver, old)).toHaveLength(1);
    const after = keyed(1);
    expect(feed(receiver, after.encode(hb(1, 2, 2)))).toHaveLength(1);
    expect(feed(receiver, old)).toEqual([]);
    only(receiver.drops, { replayed: 1 });
  });

  it('counts the sessions it remembers (one per sender run)', () => {
    const receiver = keyed(2);
    for (let i = 0; i < 30; i++) expect(receiver.decode(keyed(1 + (i % 5)).encode(hb(1 + (i % 5), 2))[0]!)).toBeDefined();
    expect(receiver.replaySessions).toBe(30);
  });

  it('without a key, does no replay detection: a repeated frame is delivered again (and raft tolerates it)', () => {
    const sender = new Framer(CLUSTER, 1, { maxFrameBytes: 1 << 20 });
    const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20 });
    const f = sender.encode(hb(1, 2))[0]!;
    expect(feed(receiver, [f, f, f])).toHaveLength(3);
    expect(receiver.replaySessions).toBe(0);
    only(receiver.drops, {});
  });

  it('a replay cannot be disguised: a frame re-stamped with a new sequence fails its MAC', () => {
    const sender = keyed(1);
    const receiver = keyed(2);
    const f = sender.encode(hb(1, 2))[0]!;
    expect(receiver.decode(f)).toBeDefined();
    const restamped = f.slice();
    // The sequence is the last 8 bytes before the payload length in an unchunked frame: 5 + L + 24 .. +32.
    restamped[5 + CLUSTER.length + 31]! += 1;
    expect(receiver.decode(restamped)).toBeUndefined();
    only(receiver.drops, { badMac: 1 });
  });
});

describe('ReplayWindows', () => {
  it('accepts any order within the window once, and refuses duplicates and anything at or below its floor', () => {
    const rng = new SeededRandom(5);
    const w = new ReplayWindows();
    const seqs = shuffle(rng, Array.from({ length: REPLAY_WINDOW }, (_, i) => i + 1));
    for (const s of seqs) expect(w.accept(1, 7n, s)).toBe(true);
    for (const s of seqs.slice(0, 100)) expect(w.accept(1, 7n, s)).toBe(false);
    // The window now spans 1..4096; one newer frame moves its floor past 1.
    expect(w.accept(1, 7n, REPLAY_WINDOW + 1)).toBe(true);
    expect(w.accept(1, 7n, 1)).toBe(false);
    // A jump further than the window forgets everything below the new floor, and nothing above it is marked.
    const far = 10 * REPLAY_WINDOW;
    expect(w.accept(1, 7n, far)).toBe(true);
    expect(w.accept(1, 7n, far - REPLAY_WINDOW)).toBe(false);
    for (let s = far - REPLAY_WINDOW + 1; s < far; s++) if (!w.accept(1, 7n, s)) expect.fail(`sequence ${s} refused after a jump`);
    for (let s = far - REPLAY_WINDOW + 1; s <= far; s++) if (w.accept(1, 7n, s)) expect.fail(`sequence ${s} accepted twice`);
  });

  it('keeps senders and sessions apart', () => {
    const w = new ReplayWindows();
    expect(w.accept(1, 7n, 1)).toBe(true);
    expect(w.accept(2, 7n, 1)).toBe(true);
    expect(w.accept(1, 8n, 1)).toBe(true);
    expect(w.accept(1, 7n, 1)).toBe(false);
    expect(w.sessions).toBe(3);
  });

  it('remembers at most MAX_REPLAY_SESSIONS sessions, forgetting the least recently used', () => {
    const w = new ReplayWindows();
    for (let i = 0; i < MAX_REPLAY_SESSIONS; i++) w.accept(1 + (i % 50), BigInt(i), 1);
    expect(w.accept(1, 0n, 2)).toBe(true); // session 0 used again: now the most recent
    for (let i = 0; i < 10; i++) w.accept(99, BigInt(1_000_000 + i), 1);
    expect(w.sessions).toBe(MAX_REPLAY_SESSIONS);
    expect(w.accept(1, 0n, 2)).toBe(false); // still remembered
    // Session 1 was the least recently used: forgotten, so its replay is (by design) accepted again.
    expect(w.accept(2, 1n, 1)).toBe(true);
  });
});

describe('other clusters, other nodes, forged and missing MACs', () => {
  it('drops frames of another cluster (same key), another node, another key, or no key, each under its reason', () => {
    const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20, key: KEY });
    const frames = [
      new Framer('other', 1, { maxFrameBytes: 1 << 20, key: KEY }).encode(hb(1, 2))[0]!, // wrongCluster
      new Framer(CLUSTER, 1, { maxFrameBytes: 1 << 20, key: KEY }).encode(hb(1, 3))[0]!, // wrongNode
      new Framer(CLUSTER, 1, { maxFrameBytes: 1 << 20, key: 'guessed' }).encode(hb(1, 2))[0]!, // badMac
      new Framer(CLUSTER, 1, { maxFrameBytes: 1 << 20 }).encode(hb(1, 2))[0]!, // badMac: no MAC at all
    ];
    expect(feed(receiver, frames)).toEqual([]);
    only(receiver.drops, { wrongCluster: 1, wrongNode: 1, badMac: 2 });
  });

  it('drops forged frames: the authenticated flag with a random or zero MAC, or a MAC of the unkeyed frame', () => {
    const rng = new SeededRandom(8);
    const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20, key: KEY });
    const envelope = { clusterId: text.encode(CLUSTER), from: 1, to: 2, session: 99n, sequence: 1 };
    const payload = encodeMessage(hb(1, 2));
    const forged: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) {
      const body = writeFrame({ ...envelope, sequence: i + 1 }, undefined, payload, undefined);
      const f = new Uint8Array(body.length + MAC_BYTES);
      f.set(body);
      f[3]! |= FLAG_AUTHENTICATED;
      if (i % 2 === 0) f.set(rng.bytes(MAC_BYTES), body.length);
      forged.push(f);
    }
    expect(feed(receiver, forged)).toEqual([]);
    only(receiver.drops, { badMac: forged.length });
  });
});

describe('oversized frames', () => {
  it('drops a whole frame or a chunk series declaring more than maxMessageBytes, before holding anything', () => {
    const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20, maxMessageBytes: 1000 });
    const sender = new Framer(CLUSTER, 1, { maxFrameBytes: 300 });
    const envelope = { clusterId: text.encode(CLUSTER), from: 1, to: 2, session: 5n, sequence: 1 };
    const frames = [
      new Framer(CLUSTER, 1, { maxFrameBytes: 1 << 20 }).encode(messageOfSize(1, 2, 1001))[0]!,
      ...sender.encode(messageOfSize(1, 2, 5000)),
      // A chunk claiming a 4 GiB message: its bookkeeping must not be allocated.
      writeFrame(envelope, { messageId: 1n, index: 0, count: 2 ** 20, totalLength: 2 ** 32 - 1 }, Uint8Array.of(1), undefined),
    ];
    expect(feed(receiver, frames)).toEqual([]);
    only(receiver.drops, { tooLarge: frames.length });
    expect(receiver.reassemblyBytes).toBe(0);
  });

  it('refuses at its first chunk a message that could never fit the reassembly bound', () => {
    const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20, maxReassemblyBytes: 4096 });
    const envelope = { clusterId: text.encode(CLUSTER), from: 1, to: 2, session: 5n, sequence: 1 };
    const f = writeFrame(envelope, { messageId: 1n, index: 0, count: 100, totalLength: 100_000 }, Uint8Array.of(1), undefined);
    expect(receiver.decode(f)).toBeUndefined();
    only(receiver.drops, { reassemblyOverflow: 1 });
    expect(receiver.reassemblyBytes).toBe(0);
  });
});

describe('chunk sequences that never complete', () => {
  const MAX = 64 * 1024;
  const TIMEOUT = 1000;

  it('hold at most maxReassemblyBytes while 20 senders start hundreds of messages they never finish; timeouts evict the rest', () => {
    const rng = new SeededRandom(2024);
    for (const key of [undefined, KEY]) {
      const options = { maxFrameBytes: 300, reassemblyTimeoutMs: TIMEOUT, maxReassemblyBytes: MAX, ...(key && { key }) };
      const receiver = new Framer(CLUSTER, 2, options);
      const senders = Array.from({ length: 20 }, (_, i) => new Framer(CLUSTER, 10 + i, options));
      let started = 0;
      let delivered = 0;
      let now = 0;
      for (let i = 0; i < 800; i++) {
        const sender = senders[rng.int(senders.length)]!;
        const complete = rng.int(10) === 0;
        const frames = sender.encode(newMessage({ type: MessageType.MsgApp, from: sender.nodeId, to: 2, context: rng.bytes(500 + rng.int(2000)) }));
        // Every chunk but at least one, in any order: the message can never complete.
        const sent = complete ? frames : shuffle(rng, frames).slice(0, 1 + rng.int(frames.length - 1));
        if (!complete) started++;
        now += rng.int(3);
        delivered += feed(receiver, sent, now).length;
        if (receiver.reassemblyBytes > MAX) expect.fail(`holding ${receiver.reassemblyBytes} bytes after ${i} messages`);
        if (receiver.pendingMessages > MAX / CHUNK_OVERHEAD_BYTES) expect.fail(`holding ${receiver.pendingMessages} messages`);
      }
      // Complete messages always get through the flood (they fit, and eviction takes the oldest first).
      expect(delivered).toBeGreaterThan(40);
      expect(receiver.pendingMessages).toBeGreaterThan(0);
      // Time passes: the next frame, even a junk one, evicts everything incomplete.
      receiver.decode(Uint8Array.of(1, 2, 3), now + TIMEOUT);
      expect(receiver.pendingMessages).toBe(0);
      expect(receiver.reassemblyBytes).toBe(0);
      // Every incomplete message was discarded exactly once, and counted.
      expect(receiver.drops.reassemblyExpired + receiver.drops.reassemblyOverflow).toBe(started);
      expect(receiver.drops.reassemblyExpired).toBeGreaterThan(0);
      expect(receiver.drops.reassemblyOverflow).toBeGreaterThan(0);
    }
  });

  it('keep the bound under 20 000 never-completing one-byte first chunks with distinct message ids', () => {
    const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20, maxReassemblyBytes: MAX, reassemblyTimeoutMs: TIMEOUT });
    const envelope = { clusterId: text.encode(CLUSTER), from: 1, to: 2, session: 5n, sequence: 1 };
    for (let i = 0; i < 20_000; i++) {
      const from = 1 + (i % 97);
      receiver.decode(writeFrame({ ...envelope, from, sequence: i + 1 }, { messageId: BigInt(i), index: 0, count: 3, totalLength: 3 }, Uint8Array.of(1), undefined), 0);
      if (receiver.reassemblyBytes > MAX) expect.fail(`holding ${receiver.reassemblyBytes} bytes`);
    }
    // The bookkeeping charge keeps the count of held chunks bounded too.
    expect(receiver.pendingMessages).toBeLessThanOrEqual(MAX / CHUNK_OVERHEAD_BYTES);
    expect(receiver.drops.reassemblyOverflow).toBe(20_000 - receiver.pendingMessages);
    receiver.decode(new Uint8Array(0), TIMEOUT);
    expect(receiver.pendingMessages).toBe(0);
    expect(receiver.drops.reassemblyOverflow + receiver.drops.reassemblyExpired).toBe(20_000);
  });
});

describe('garbage through a FramedTransport', () => {
  const running: LoopbackTransport[] = [];
  afterEach(async () => {
    for (const t of running.splice(0)) await t.stop();
  });

  it('never throws into the bus, and hands the host only messages that were sent to it', async () => {
    for (const key of [undefined, KEY]) {
      const rng = new SeededRandom(key === undefined ? 1 : 2);
      const bus = new LoopbackBus();
      const inbox: Message[] = [];
      const handlers: TransportHandlers = { onMessage: (m) => inbox.push(m) };
      const a = new LoopbackTransport(bus, { maxFrameBytes: 256, ...(key && { key }) });
      const b = new LoopbackTransport(bus, { maxFrameBytes: 256, ...(key && { key }) });
      running.push(a, b);
      await a.start(CLUSTER, 1, { onMessage() {} });
      await b.start(CLUSTER, 2, handlers);
      const deliver = [...bus.inboxes.get(2)!][0]!;

      // Real traffic, recorded; then garbage: random bytes, and the real frames bent.
      const sent = Array.from({ length: 40 }, () => randomMessage(rng, 1, 2, 600));
      a.send(sent);
      await waitFor(() => inbox.length === sent.length);
      const real = a.publishes.flatMap((p) => p.frames);
      // Exact copies of real frames (replays) among the junk.
      const junk: Uint8Array[] = real.slice(0, 20).map((f) => f.slice());
      for (let i = 0; i < 1500; i++) {
        if (rng.int(3) === 0) {
          junk.push(rng.bytes(rng.int(400)));
          continue;
        }
        const f = real[rng.int(real.length)]!.slice();
        if (rng.int(2) === 0) f[rng.int(f.length)]! ^= 1 + rng.int(255);
        else f[rng.int(Math.min(f.length, 80))] = rng.int(256);
        junk.push(f);
      }
      const before = b.stats();
      for (const f of junk) expect(() => deliver(f)).not.toThrow();
      for (const bad of [undefined, null, 'x', 7, {}]) expect(() => deliver(bad as unknown as Uint8Array)).not.toThrow();

      const wanted = new Set(sent.map((m) => Buffer.from(encodeMessage(m)).toString('hex')));
      for (const m of inbox) {
        expect(m.to).toBe(2);
        // Unkeyed, a bent byte may still make a valid message (there is nothing to tell); keyed, never.
        if (key !== undefined) expect(wanted.has(Buffer.from(encodeMessage(m)).toString('hex'))).toBe(true);
      }
      const after = b.stats();
      if (key !== undefined) {
        // Every junk frame is either a replay of a real frame (byte-identical) or fails its MAC.
        expect(after.received).toBe(sent.length);
        expect(after.drops.badMac + after.drops.replayed).toBe(junk.length);
        expect(after.drops.replayed).toBeGreaterThanOrEqual(20);
        expect(after.drops.malformed).toBe(5); // the non-bytes
      }
      // Each frame is either delivered, counted as a drop, or held for reassembly (and then counted when evicted).
      expect(after.received - before.received + totalDrops(after.drops) - totalDrops(before.drops)).toBeLessThanOrEqual(junk.length + 5);
      expect(after.dropped).toBe(totalDrops(after.drops));
      await a.stop();
      await b.stop();
    }
  });
});

describe('invalid framing options', () => {
  it('are refused when the transport is built, with ErrInvalidConfig naming the option', () => {
    const bus = new LoopbackBus();
    const bad: [string, Record<string, unknown>, RegExp][] = [
      ['maxFrameBytes fractional', { maxFrameBytes: 100.5 }, /maxFrameBytes/],
      ['maxFrameBytes a string', { maxFrameBytes: '1000' }, /maxFrameBytes/],
      ['maxMessageBytes 0', { maxMessageBytes: 0 }, /maxMessageBytes/],
      ['reassemblyTimeoutMs NaN', { reassemblyTimeoutMs: Number.NaN }, /reassemblyTimeoutMs/],
      ['reassemblyTimeoutMs 0', { reassemblyTimeoutMs: 0 }, /reassemblyTimeoutMs/],
      ['maxReassemblyBytes negative', { maxReassemblyBytes: -1 }, /maxReassemblyBytes/],
      ['maxReassemblyBytes fractional', { maxReassemblyBytes: 1.5 }, /maxReassemblyBytes/],
      ['key a number', { key: 42 }, /key/],
      ['maxPayloadBytes NaN', { maxPayloadBytes: Number.NaN }, /maxPayloadBytes/],
      ['orderedPerPeer missing', { orderedPerPeer: undefined }, /orderedPerPeer/],
    ];
    for (const [what, options, message] of bad) {
      let caught: unknown;
      try {
        new LoopbackTransport(bus, options as never);
      } catch (e) {
        caught = e;
      }
      expect(caught, what).toBeInstanceOf(ErrInvalidConfig);
      expect((caught as Error).name, what).toBe('ErrInvalidConfig');
      expect((caught as Error).message, what).toMatch(message);
    }
  });
});

describe('frame overhead', () => {
  it('is 42+L bytes for a whole frame and 62+L for a chunk, plus 32 with a key, plus 16 per further recipient', () => {
    expect(frameLength(CLUSTER.length, false, false, 0)).toBe(42 + CLUSTER.length);
    expect(frameLength(CLUSTER.length, true, false, 0)).toBe(62 + CLUSTER.length);
    expect(frameLength(CLUSTER.length, true, true, 0)).toBe(94 + CLUSTER.length);
    expect(frameLength(CLUSTER.length, false, true, 0, 4)).toBe(42 + 3 * 16 + 32 + CLUSTER.length);
  });
});

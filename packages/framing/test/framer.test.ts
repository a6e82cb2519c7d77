import { ErrInvalidConfig, ErrMalformedMessage, MessageType, encodeMessage, newMessage, type Message } from '@raftbus/core';
import { describe, expect, it } from 'vitest';
import { ErrMessageTooLarge, Framer, type FrameDropStats, type FramingOptions } from '../src/index.js';
import { FLAG_AUTHENTICATED, FLAG_CHUNKED, MAC_BYTES, buildMulticastFrame, frameLength, parseFrame, writeFrame } from '../src/format.js';
import { CHUNK_OVERHEAD_BYTES } from '../src/reassembly.js';
import { SeededRandom, expectSameMessage, messageOfSize, randomMessage, shuffle } from './helpers.js';

const CLUSTER = 'orders-eu';
const text = new TextEncoder();

function pair(options: Partial<FramingOptions> = {}, receiverOptions: Partial<FramingOptions> = {}) {
  const sender = new Framer(CLUSTER, 1, { maxFrameBytes: 1 << 20, ...options });
  const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20, ...options, ...receiverOptions });
  return { sender, receiver };
}

const heartbeat = (from = 1, to = 2): Message => newMessage({ type: MessageType.MsgHeartbeat, from, to, term: 3, commit: 7 });

/** Decodes frames in order; returns every message that came out. */
function feed(receiver: Framer, frames: readonly Uint8Array[], now = 0): Message[] {
  const out: Message[] = [];
  for (const f of frames) {
    const m = receiver.decode(f, now);
    if (m !== undefined) out.push(m);
  }
  return out;
}

function onlyDrop(drops: FrameDropStats, reason: keyof FrameDropStats, n: number): void {
  const expected: FrameDropStats = { malformed: 0, wrongCluster: 0, wrongNode: 0, badMac: 0, replayed: 0, tooLarge: 0, reassemblyExpired: 0, reassemblyOverflow: 0 };
  expected[reason] = n;
  expect(drops).toEqual(expected);
}

/** Overhead of one chunk frame for CLUSTER, so tests can size frames exactly. */
const chunkOverhead = (keyed = false) => frameLength(text.encode(CLUSTER).length, true, keyed, 0);

describe('Framer round trip', () => {
  for (const [name, options] of [
    ['plain', {}],
    ['with a key', { key: 'cluster secret' }],
    ['chunked small', { maxFrameBytes: 200 }],
    ['chunked small, with a key', { maxFrameBytes: 200, key: new Uint8Array([1, 2, 3]) }],
  ] as const) {
    it(`carries 300 seeded random messages intact (${name})`, () => {
      const rng = new SeededRandom(name.length * 7919);
      const { sender, receiver } = pair(options);
      for (let i = 0; i < 300; i++) {
        const sent = randomMessage(rng, 1, 2);
        const frames = sender.encode(sent);
        for (const f of frames) expect(f.length).toBeLessThanOrEqual(options.maxFrameBytes ?? 1 << 20);
        const got = feed(receiver, rng.int(2) === 0 ? frames : shuffle(rng, frames));
        expect(got).toHaveLength(1);
        expectSameMessage(got[0], sent);
      }
      onlyDrop(receiver.drops, 'malformed', 0);
      expect(receiver.pendingMessages).toBe(0);
      expect(receiver.reassemblyBytes).toBe(0);
    });
  }

  it('carries the largest node ids and a multi-byte cluster id', () => {
    const big = Number.MAX_SAFE_INTEGER;
    const cluster = 'κλάστερ-🚀'.repeat(10);
    const sender = new Framer(cluster, big - 1, { maxFrameBytes: 400 });
    const receiver = new Framer(cluster, big, { maxFrameBytes: 400 });
    const sent = randomMessage(new SeededRandom(5), big - 1, big, 300);
    expectSameMessage(feed(receiver, sender.encode(sent))[0], sent);
  });

  it('accepts frames handed over as Buffer views into a larger buffer', () => {
    const { sender, receiver } = pair({ maxFrameBytes: 120 });
    const sent = randomMessage(new SeededRandom(9), 1, 2, 500);
    const frames = sender.encode(sent).map((f) => {
      const pool = Buffer.alloc(f.length + 17, 0xee);
      pool.set(f, 9);
      return pool.subarray(9, 9 + f.length);
    });
    expectSameMessage(feed(receiver, frames)[0], sent);
  });
});

describe('chunking', () => {
  const m = messageOfSize(1, 2, 1000);
  const single = frameLength(text.encode(CLUSTER).length, false, false, 1000);

  it('sends a frame of exactly maxFrameBytes whole', () => {
    const { sender, receiver } = pair({ maxFrameBytes: single });
    const frames = sender.encode(m);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.length).toBe(single);
    expect(frames[0]![3]! & FLAG_CHUNKED).toBe(0);
    expectSameMessage(receiver.decode(frames[0]!), m);
  });

  it('splits a frame one byte over maxFrameBytes into two chunks that fit', () => {
    const { sender, receiver } = pair({ maxFrameBytes: single - 1 });
    const frames = sender.encode(m);
    expect(frames).toHaveLength(2);
    for (const f of frames) expect(f.length).toBeLessThanOrEqual(single - 1);
    expect(frames[0]!.length).toBe(single - 1);
    expect(frames.map((f) => parseFrame(f)!.payload.length).reduce((a, b) => a + b)).toBe(1000);
    expectSameMessage(feed(receiver, frames).at(-1), m);
  });

  it('splits into one chunk per byte when maxFrameBytes leaves room for one, and counts them right', () => {
    const { sender, receiver } = pair({ maxFrameBytes: chunkOverhead() + 1 });
    const frames = sender.encode(m);
    expect(frames).toHaveLength(1000);
    frames.forEach((f, i) => {
      const p = parseFrame(f)!;
      expect(p.chunk).toMatchObject({ index: i, count: 1000, totalLength: 1000 });
      expect(p.payload.length).toBe(1);
    });
    const ids = new Set(frames.map((f) => parseFrame(f)!.chunk!.messageId));
    expect(ids.size).toBe(1);
    expectSameMessage(feed(receiver, shuffle(new SeededRandom(3), frames)).at(-1), m);
  });

  it('fills chunks exactly when the message is a multiple of the chunk size', () => {
    const { sender } = pair({ maxFrameBytes: chunkOverhead() + 250 });
    const frames = sender.encode(m);
    expect(frames.map((f) => parseFrame(f)!.payload.length)).toEqual([250, 250, 250, 250]);
  });

  it('gives each chunked message its own random id', () => {
    const { sender } = pair({ maxFrameBytes: 300 });
    const ids = new Set(Array.from({ length: 50 }, () => parseFrame(sender.encode(m)[0]!)!.chunk!.messageId));
    expect(ids.size).toBe(50);
  });

  it('delivers once from shuffled, duplicated chunks, and ignores late duplicates', () => {
    const rng = new SeededRandom(77);
    const { sender, receiver } = pair({ maxFrameBytes: 150 });
    for (let round = 0; round < 30; round++) {
      const sent = randomMessage(rng, 1, 2, 1500);
      const frames = sender.encode(sent);
      const noisy = shuffle(rng, [...frames, ...frames.filter(() => rng.int(3) === 0)]);
      const got = feed(receiver, [...noisy, ...frames]);
      // A whole frame is a message each time it arrives (raft tolerates that); a chunked message arrives once.
      expect(got).toHaveLength(frames.length > 1 ? 1 : noisy.length + 1);
      expectSameMessage(got[0], sent);
    }
    onlyDrop(receiver.drops, 'malformed', 0);
    expect(receiver.pendingMessages).toBe(0);
  });

  it('reassembles interleaved messages from several senders', () => {
    const rng = new SeededRandom(11);
    const receiver = new Framer(CLUSTER, 9, { maxFrameBytes: 128 });
    const sent: Message[] = [];
    let frames: Uint8Array[] = [];
    for (const from of [1, 2, 3]) {
      const sender = new Framer(CLUSTER, from, { maxFrameBytes: 128 });
      for (let i = 0; i < 3; i++) {
        const msg = randomMessage(rng, from, 9, 800);
        sent.push(msg);
        frames = frames.concat(sender.encode(msg));
      }
    }
    const got = feed(receiver, shuffle(rng, frames));
    expect(got).toHaveLength(sent.length);
    for (const s of sent) expect(got.map((g) => encodeMessage(g).join())).toContain(encodeMessage(s).join());
  });
});

describe('addressing', () => {
  it('drops frames for another cluster, even one whose id is a prefix', () => {
    for (const other of ['orders-eu1', 'orders-e', 'ORDERS-EU', 'x']) {
      const sender = new Framer(other, 1, { maxFrameBytes: 1 << 20 });
      const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20 });
      expect(receiver.decode(sender.encode(heartbeat())[0]!)).toBeUndefined();
      onlyDrop(receiver.drops, 'wrongCluster', 1);
    }
  });

  it('drops frames for another node of this cluster, whole or chunked', () => {
    const sender = new Framer(CLUSTER, 1, { maxFrameBytes: 100 });
    const receiver = new Framer(CLUSTER, 3, { maxFrameBytes: 100 });
    const frames = [...sender.encode(heartbeat(1, 2)), ...sender.encode(messageOfSize(1, 2, 500))];
    expect(feed(receiver, frames)).toEqual([]);
    onlyDrop(receiver.drops, 'wrongNode', frames.length);
    expect(receiver.pendingMessages).toBe(0);
  });

  it('treats a payload whose to/from differ from the envelope as malformed', () => {
    const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20 });
    const envelope = { clusterId: text.encode(CLUSTER), from: 1, to: 2, session: 1n, sequence: 1 };
    const lies = [heartbeat(1, 3), heartbeat(4, 2), heartbeat(2, 1)];
    for (const lie of lies) expect(receiver.decode(writeFrame(envelope, undefined, encodeMessage(lie), undefined))).toBeUndefined();
    // And when the lie only shows after reassembly.
    const payload = encodeMessage(heartbeat(5, 2));
    const chunk = (index: number, part: Uint8Array) =>
      writeFrame(envelope, { messageId: 42n, index, count: 2, totalLength: payload.length }, part, undefined);
    expect(receiver.decode(chunk(0, payload.subarray(0, 3)))).toBeUndefined();
    expect(receiver.decode(chunk(1, payload.subarray(3)))).toBeUndefined();
    onlyDrop(receiver.drops, 'malformed', lies.length + 1);
    expect(receiver.decode(writeFrame(envelope, undefined, encodeMessage(heartbeat(1, 2)), undefined))).toBeDefined();
  });
});

describe('frames for several recipients', () => {
  const framers = (options: Partial<FramingOptions> = {}) =>
    [1, 2, 3, 4].map((id) => new Framer(CLUSTER, id, { maxFrameBytes: 1 << 20, ...options }));

  for (const [name, options] of [
    ['plain', {}],
    ['with a key', { key: 'cluster secret' }],
  ] as const) {
    it(`gives each named node the message addressed to itself; others pass it over (${name})`, () => {
      const [leader, b, c, d] = framers(options);
      const rng = new SeededRandom(99);
      for (let i = 0; i < 50; i++) {
        const sent = randomMessage(rng, 1, 2);
        const frame = leader!.encodeMulticast(sent, [3, 2])!;
        expect(frame).toBeDefined();
        expectSameMessage(b!.decode(frame), { ...sent, to: 2 });
        expectSameMessage(c!.decode(frame), { ...sent, to: 3 });
        expect(d!.decode(frame)).toBeUndefined();
        expect(leader!.decode(frame)).toBeUndefined();
      }
      for (const f of [b, c, d, leader]) onlyDrop(f!.drops, 'malformed', 0);
      expect(d!.othersFrames).toBe(50);
      expect(leader!.othersFrames).toBe(50);
    });
  }

  it('counts its frames in each recipient\'s sequence, with the frames for it alone', () => {
    const [leader, b, c] = framers({ key: 'k' });
    const frames = [
      leader!.encode(heartbeat(1, 2))[0]!,
      leader!.encodeMulticast(heartbeat(1, 2), [2, 3])!,
      leader!.encode(heartbeat(1, 3))[0]!,
      leader!.encodeMulticast(heartbeat(1, 3), [3, 2])!,
    ];
    expect(parseFrame(frames[1]!)!.recipients).toEqual([
      { to: 2, sequence: 2 },
      { to: 3, sequence: 1 },
    ]);
    expect(parseFrame(frames[3]!)!.recipients).toEqual([
      { to: 3, sequence: 3 },
      { to: 2, sequence: 3 },
    ]);
    expect(feed(b!, frames)).toHaveLength(3);
    expect(feed(c!, frames)).toHaveLength(3);
    // Replayed, in any order, nothing comes out again.
    expect(feed(b!, [...frames].reverse())).toHaveLength(0);
    expect(feed(c!, frames)).toHaveLength(0);
    expect(b!.drops.replayed).toBe(3);
    expect(c!.drops.replayed).toBe(3);
    // Each saw the other's frame twice.
    expect(b!.drops.wrongNode).toBe(2);
    expect(c!.drops.wrongNode).toBe(2);
  });

  it('with a key, drops a frame for several with any byte of it changed as badMac', () => {
    const [leader, b] = framers({ key: 'k' });
    const frame = leader!.encodeMulticast(heartbeat(1, 2), [2, 3])!;
    let n = 0;
    for (let at = 0; at < frame.length; at++) {
      const bent = frame.slice();
      bent[at]! ^= 0x01;
      const m = b!.decode(bent);
      expect(m).toBeUndefined();
      n++;
    }
    // Bends of the recipient list that leave node 2 out are passed over unread; every other bend is badMac.
    expect(b!.drops.badMac + b!.othersFrames).toBe(n);
    expect(b!.drops.badMac).toBeGreaterThan(n - 20);
    expect(b!.decode(frame)).toBeDefined();
  });

  it('drops a frame for several whose message is addressed to someone (not 0), or from another node, as malformed', () => {
    const [, b] = framers();
    const sender = { clusterId: text.encode(CLUSTER), from: 1, sessionHigh: 5, sessionLow: 6 };
    const recipients = [
      { to: 2, sequence: 1 },
      { to: 3, sequence: 1 },
    ];
    expect(b!.decode(buildMulticastFrame(sender, recipients, encodeMessage(heartbeat(1, 2)), undefined))).toBeUndefined();
    expect(b!.decode(buildMulticastFrame(sender, recipients, encodeMessage({ ...heartbeat(4, 2), to: 0 }), undefined))).toBeUndefined();
    onlyDrop(b!.drops, 'malformed', 2);
    expect(b!.decode(buildMulticastFrame(sender, recipients, encodeMessage({ ...heartbeat(1, 2), to: 0 }), undefined))).toMatchObject({ to: 2, from: 1 });
  });

  it('returns undefined when one frame cannot hold the message, and refuses recipient lists it cannot write', () => {
    const big = messageOfSize(1, 2, 1000);
    const small = new Framer(CLUSTER, 1, { maxFrameBytes: 900 });
    expect(small.encodeMulticast(big, [2, 3])).toBeUndefined();
    // It used no sequence numbers: the next frame to 2 is its first.
    expect(parseFrame(small.encode(heartbeat(1, 2))[0]!)!.sequence).toBe(1);
    const [leader] = framers();
    expect(() => leader!.encodeMulticast(heartbeat(), [2])).toThrow(RangeError);
    expect(() => leader!.encodeMulticast(heartbeat(), Array.from({ length: 256 }, (_, i) => i + 2))).toThrow(RangeError);
    expect(() => leader!.encodeMulticast(heartbeat(), [2, 2])).toThrow(ErrMalformedMessage);
    expect(() => leader!.encodeMulticast(heartbeat(), [2, 0])).toThrow(ErrMalformedMessage);
    expect(() => leader!.encodeMulticast(heartbeat(), [2, 2 ** 53])).toThrow(ErrMalformedMessage);
    expect(() => new Framer(CLUSTER, 1, { maxFrameBytes: 1 << 20, maxMessageBytes: 100 }).encodeMulticast(big, [2, 3])).toThrow(ErrMessageTooLarge);
  });
});

describe('authentication', () => {
  const key = 'a per-cluster secret';

  it('accepts frames made with the same key, as a string or as its bytes', () => {
    const sender = new Framer(CLUSTER, 1, { maxFrameBytes: 1 << 20, key });
    const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20, key: text.encode(key) });
    const f = sender.encode(heartbeat())[0]!;
    expect(f[3]! & FLAG_AUTHENTICATED).toBe(FLAG_AUTHENTICATED);
    expectSameMessage(receiver.decode(f), heartbeat());
  });

  it('drops frames made with another key as badMac (before looking at the cluster)', () => {
    const sender = new Framer('other-cluster', 1, { maxFrameBytes: 1 << 20, key: 'another secret' });
    const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20, key });
    expect(receiver.decode(sender.encode(heartbeat())[0]!)).toBeUndefined();
    onlyDrop(receiver.drops, 'badMac', 1);
  });

  it('drops a frame with any single byte changed, whole or chunk, as badMac', () => {
    const { sender, receiver } = pair({ key, maxFrameBytes: 120 });
    const frames = [sender.encode(heartbeat())[0]!, sender.encode(messageOfSize(1, 2, 300))[1]!];
    let tampered = 0;
    for (const f of frames) {
      for (let i = 0; i < f.length; i++) {
        for (const flip of [0x01, 0x80, 0xff]) {
          const t = f.slice();
          t[i]! ^= flip;
          expect(receiver.decode(t)).toBeUndefined();
          tampered++;
        }
      }
    }
    onlyDrop(receiver.drops, 'badMac', tampered);
  });

  it('drops frames whose MAC was stripped, or that never had one, as badMac', () => {
    const { sender, receiver } = pair({ key });
    const f = sender.encode(heartbeat())[0]!;
    const stripped = f.slice(0, f.length - MAC_BYTES);
    stripped[3]! &= ~FLAG_AUTHENTICATED;
    const flagOnly = f.slice(0, f.length - MAC_BYTES);
    const unkeyed = new Framer(CLUSTER, 1, { maxFrameBytes: 1 << 20 }).encode(heartbeat())[0]!;
    for (const g of [stripped, flagOnly, unkeyed, new Uint8Array(0), new Uint8Array(MAC_BYTES - 1)]) expect(receiver.decode(g)).toBeUndefined();
    onlyDrop(receiver.drops, 'badMac', 5);
  });

  it('without a key, accepts a well-formed frame that carries a MAC (unverified) but not a broken MAC trailer', () => {
    const sender = new Framer(CLUSTER, 1, { maxFrameBytes: 1 << 20, key });
    const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20 });
    const f = sender.encode(heartbeat())[0]!;
    expectSameMessage(receiver.decode(f), heartbeat());
    expect(receiver.decode(f.subarray(0, f.length - 1))).toBeUndefined();
    const extended = new Uint8Array(f.length + 1);
    extended.set(f);
    expect(receiver.decode(extended)).toBeUndefined();
    onlyDrop(receiver.drops, 'malformed', 2);
  });
});

describe('malformed input', () => {
  it('drops every truncation of a valid frame as malformed (unkeyed) or badMac (keyed)', () => {
    for (const keyed of [false, true]) {
      const options = { maxFrameBytes: 200, ...(keyed && { key: 'k' }) };
      const { sender, receiver } = pair(options);
      const frames = [sender.encode(randomMessage(new SeededRandom(1), 1, 2, 100))[0]!, ...sender.encode(messageOfSize(1, 2, 500))];
      let n = 0;
      for (const f of frames) {
        for (let len = 0; len < f.length; len++) {
          expect(receiver.decode(f.subarray(0, len))).toBeUndefined();
          n++;
        }
      }
      onlyDrop(receiver.drops, keyed ? 'badMac' : 'malformed', n);
      expect(receiver.pendingMessages).toBe(0);
    }
  });

  it('never throws on random bytes, random-length garbage after a valid header, or non-bytes', () => {
    const rng = new SeededRandom(1234);
    const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20 });
    const header = new Framer(CLUSTER, 1, { maxFrameBytes: 1 << 20 }).encode(heartbeat())[0]!.subarray(0, 30);
    let n = 0;
    for (let i = 0; i < 2000; i++) {
      const junk = rng.bytes(rng.int(300));
      const f = i % 2 === 0 ? junk : new Uint8Array([...header, ...junk]);
      expect(() => receiver.decode(f)).not.toThrow();
      n++;
    }
    for (const bad of [undefined, null, 'frame', 42, {}, [1, 2, 3]]) {
      expect(receiver.decode(bad as unknown as Uint8Array)).toBeUndefined();
      n++;
    }
    // Junk whose count byte says "several recipients, not node 2" is passed over, not dropped.
    expect(receiver.drops.malformed + receiver.drops.wrongCluster + receiver.drops.wrongNode + receiver.othersFrames).toBe(n);
  });

  it('drops a frame with a garbage payload, unknown flags, another version, or ids past 2^53', () => {
    const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20 });
    const good = new Framer(CLUSTER, 1, { maxFrameBytes: 1 << 20 }).encode(heartbeat())[0]!;
    const envelope = { clusterId: text.encode(CLUSTER), from: 1, to: 2, session: 1n, sequence: 1 };
    const bad: Uint8Array[] = [writeFrame(envelope, undefined, Uint8Array.of(0xff, 0xff, 0xff), undefined)];
    const flags = good.slice();
    flags[3] = 0x04;
    // Version 2 (one addressee, before frames for several) and a future version 4.
    const version = good.slice();
    version[2] = 2;
    const future = good.slice();
    future[2] = 4;
    const bigFrom = good.slice();
    bigFrom[5 + CLUSTER.length] = 0x00;
    bigFrom[6 + CLUSTER.length] = 0x20; // high word 0x00200000: 2^53
    bad.push(flags, version, future, bigFrom);
    for (const f of bad) expect(receiver.decode(f)).toBeUndefined();
    onlyDrop(receiver.drops, 'malformed', bad.length);
  });

  it('drops chunks with impossible metadata', () => {
    const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20 });
    const envelope = { clusterId: text.encode(CLUSTER), from: 1, to: 2, session: 1n, sequence: 1 };
    const c = (index: number, count: number, totalLength: number, payload = Uint8Array.of(1)) =>
      writeFrame(envelope, { messageId: 7n, index, count, totalLength }, payload, undefined);
    const bad = [c(0, 0, 10), c(3, 3, 10), c(0, 5, 4), c(0, 2, 10, new Uint8Array(0)), c(0, 2, 3, new Uint8Array(4))];
    for (const f of bad) expect(receiver.decode(f)).toBeUndefined();
    onlyDrop(receiver.drops, 'malformed', bad.length);
  });

  it('drops a message whose chunks disagree, and its later chunks', () => {
    const envelope = { clusterId: text.encode(CLUSTER), from: 1, to: 2, session: 1n, sequence: 1 };
    const payload = encodeMessage(messageOfSize(1, 2, 100));
    const c = (messageId: bigint, index: number, count: number, part: Uint8Array, total = payload.length) =>
      writeFrame(envelope, { messageId, index, count, totalLength: total }, part, undefined);
    const cases: [string, Uint8Array[]][] = [
      ['another count', [c(1n, 0, 2, payload.subarray(0, 50)), c(1n, 1, 3, payload.subarray(50))]],
      ['another total', [c(2n, 0, 2, payload.subarray(0, 50)), c(2n, 1, 2, payload.subarray(50), 101)]],
      ['a duplicate index with other bytes', [c(3n, 0, 2, payload.subarray(0, 50)), c(3n, 0, 2, payload.subarray(1, 51))]],
      ['more bytes than the total', [c(4n, 0, 2, payload.subarray(0, 60)), c(4n, 1, 2, payload.subarray(10))]],
      ['fewer bytes than the total', [c(5n, 0, 2, payload.subarray(0, 40)), c(5n, 1, 2, payload.subarray(50))]],
    ];
    for (const [what, frames] of cases) {
      const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20 });
      expect(feed(receiver, frames), what).toEqual([]);
      onlyDrop(receiver.drops, 'malformed', 1);
      expect(receiver.pendingMessages, what).toBe(0);
      expect(receiver.reassemblyBytes, what).toBe(0);
      // The rest of that message is refused too, whatever arrives.
      expect(feed(receiver, [c(BigInt(cases.findIndex((x) => x[0] === what) + 1), 1, 2, payload.subarray(50))])).toEqual([]);
      onlyDrop(receiver.drops, 'malformed', 2);
    }
  });
});

describe('size limits', () => {
  it('refuses to encode a message past maxMessageBytes', () => {
    const sender = new Framer(CLUSTER, 1, { maxFrameBytes: 100, maxMessageBytes: 999 });
    expect(() => sender.encode(messageOfSize(1, 2, 1000))).toThrow(ErrMessageTooLarge);
    expect(sender.encode(messageOfSize(1, 2, 999)).length).toBeGreaterThan(1);
  });

  it('refuses to encode what the codec cannot represent', () => {
    const sender = new Framer(CLUSTER, 1, { maxFrameBytes: 100 });
    expect(() => sender.encode({ ...heartbeat(), term: 2 ** 53 })).toThrow(ErrMalformedMessage);
  });

  it('drops whole frames and chunks of messages past the receiver maxMessageBytes as tooLarge', () => {
    const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20, maxMessageBytes: 500 });
    const whole = new Framer(CLUSTER, 1, { maxFrameBytes: 1 << 20 }).encode(messageOfSize(1, 2, 501));
    const chunks = new Framer(CLUSTER, 1, { maxFrameBytes: 200 }).encode(messageOfSize(1, 2, 501));
    expect(feed(receiver, [...whole, ...chunks])).toEqual([]);
    onlyDrop(receiver.drops, 'tooLarge', 1 + chunks.length);
    expect(receiver.pendingMessages).toBe(0);
    const ok = new Framer(CLUSTER, 1, { maxFrameBytes: 200 }).encode(messageOfSize(1, 2, 500));
    expect(feed(receiver, ok)).toHaveLength(1);
  });
});

describe('reassembly bounds', () => {
  const chunksOf = (sender: Framer, size: number) => sender.encode(messageOfSize(1, 2, size));

  it('expires an incomplete message after reassemblyTimeoutMs, checked on the next decode', () => {
    const { sender, receiver } = pair({ maxFrameBytes: 200 }, { reassemblyTimeoutMs: 1000 });
    const frames = chunksOf(sender, 500);
    expect(receiver.decode(frames[0]!, 10_000)).toBeUndefined();
    expect(receiver.decode(frames[1]!, 10_999)).toBeUndefined();
    expect(receiver.pendingMessages).toBe(1);
    // Something else arrives later: the stale message goes first.
    expect(receiver.decode(sender.encode(heartbeat())[0]!, 11_000)).toBeDefined();
    onlyDrop(receiver.drops, 'reassemblyExpired', 1);
    expect(receiver.pendingMessages).toBe(0);
    expect(receiver.reassemblyBytes).toBe(0);
    // Its remaining chunks cannot complete it any more.
    expect(feed(receiver, frames.slice(2), 11_001)).toEqual([]);
    expect(receiver.pendingMessages).toBe(1);
  });

  it('completes a message whose chunks arrive just within the timeout', () => {
    const { sender, receiver } = pair({ maxFrameBytes: 200 }, { reassemblyTimeoutMs: 1000 });
    const frames = chunksOf(sender, 500);
    const got = frames.map((f, i) => receiver.decode(f, i === frames.length - 1 ? 999 : i));
    expect(got.at(-1)).toBeDefined();
    onlyDrop(receiver.drops, 'malformed', 0);
  });

  it('evicts the oldest incomplete message when maxReassemblyBytes would be exceeded', () => {
    const perMessage = 500 + 3 * CHUNK_OVERHEAD_BYTES; // 500 bytes in 3 chunks
    const { sender, receiver } = pair({ maxFrameBytes: chunkOverhead() + 200 }, { maxReassemblyBytes: 2 * perMessage });
    const [a, b, c] = [chunksOf(sender, 500), chunksOf(sender, 500), chunksOf(sender, 500)];
    expect(a).toHaveLength(3);
    feed(receiver, [a[0]!, a[1]!, b[0]!, b[1]!], 1);
    expect(receiver.reassemblyBytes).toBe(2 * 200 + 2 * 200 + 4 * CHUNK_OVERHEAD_BYTES);
    expect(feed(receiver, [c[0]!, c[1]!], 2)).toEqual([]);
    onlyDrop(receiver.drops, 'reassemblyOverflow', 1);
    expect(receiver.reassemblyBytes).toBeLessThanOrEqual(2 * perMessage);
    expect(feed(receiver, [a[2]!, b[2]!, c[2]!], 3)).toHaveLength(2); // b and c; a was evicted
    expect(receiver.reassemblyBytes).toBeLessThanOrEqual(perMessage);
  });

  it('refuses up front a chunked message that could never fit', () => {
    const { sender, receiver } = pair({ maxFrameBytes: 200 }, { maxReassemblyBytes: 400 });
    const frames = chunksOf(sender, 500);
    expect(feed(receiver, frames)).toEqual([]);
    onlyDrop(receiver.drops, 'reassemblyOverflow', frames.length);
    expect(receiver.reassemblyBytes).toBe(0);
  });

  it('bounds bookkeeping, not just bytes, against floods of tiny first chunks', () => {
    const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20, maxReassemblyBytes: 10_000 });
    const envelope = { clusterId: text.encode(CLUSTER), from: 1, to: 2, session: 1n, sequence: 1 };
    for (let i = 0; i < 5000; i++) {
      receiver.decode(writeFrame(envelope, { messageId: BigInt(i), index: 0, count: 2, totalLength: 2 }, Uint8Array.of(1), undefined), 0);
    }
    expect(receiver.reassemblyBytes).toBeLessThanOrEqual(10_000);
    expect(receiver.pendingMessages).toBeLessThanOrEqual(10_000 / CHUNK_OVERHEAD_BYTES);
    expect(receiver.drops.reassemblyOverflow).toBe(5000 - receiver.pendingMessages);
  });
});

describe('configuration', () => {
  it('refuses options and identities it cannot honour', () => {
    const ok = { maxFrameBytes: 1000 };
    const bad: [string, () => unknown][] = [
      ['empty cluster id', () => new Framer('', 1, ok)],
      ['cluster id over 255 bytes', () => new Framer('é'.repeat(128), 1, ok)],
      ['lone surrogate', () => new Framer('a\ud800', 1, ok)],
      ['node 0', () => new Framer(CLUSTER, 0, ok)],
      ['fractional node', () => new Framer(CLUSTER, 1.5, ok)],
      ['unsafe node', () => new Framer(CLUSTER, 2 ** 53, ok)],
      ['empty key', () => new Framer(CLUSTER, 1, { ...ok, key: '' })],
      ['empty key bytes', () => new Framer(CLUSTER, 1, { ...ok, key: new Uint8Array(0) })],
      ['zero maxFrameBytes', () => new Framer(CLUSTER, 1, { maxFrameBytes: 0 })],
      ['NaN maxFrameBytes', () => new Framer(CLUSTER, 1, { maxFrameBytes: Number.NaN })],
      ['no room for a chunk', () => new Framer(CLUSTER, 1, { maxFrameBytes: chunkOverhead() })],
      ['no room for a chunk and a MAC', () => new Framer(CLUSTER, 1, { maxFrameBytes: chunkOverhead() + 1, key: 'k' })],
      ['maxMessageBytes past uint32', () => new Framer(CLUSTER, 1, { ...ok, maxMessageBytes: 2 ** 32 })],
      ['negative timeout', () => new Framer(CLUSTER, 1, { ...ok, reassemblyTimeoutMs: -1 })],
    ];
    for (const [what, make] of bad) expect(make, what).toThrow(ErrInvalidConfig);
    expect(() => new Framer(CLUSTER, 1, { maxFrameBytes: chunkOverhead() + 1 })).not.toThrow();
    expect(() => new Framer(CLUSTER, 1, { maxFrameBytes: Number.POSITIVE_INFINITY })).not.toThrow();
  });

  it('with maxFrameBytes Infinity never chunks', () => {
    const sender = new Framer(CLUSTER, 1, { maxFrameBytes: Number.POSITIVE_INFINITY });
    expect(sender.encode(messageOfSize(1, 2, 3 << 20))).toHaveLength(1);
  });

  it('keeps its own copy of the key', () => {
    const key = text.encode('secret');
    const sender = new Framer(CLUSTER, 1, { maxFrameBytes: 1000, key });
    const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1000, key: 'secret' });
    key.fill(0);
    expect(receiver.decode(sender.encode(heartbeat())[0]!)).toBeDefined();
  });
});

// A seeded fuzz loop, bounded to about a second: random messages, framed
// with random limits (some as one frame for several nodes), then bent (bytes flipped, frames cut, lost,
// duplicated, reordered, mixed with junk and with other messages' chunks).
// Whatever happens, decode never throws, never delivers to another node,
// keeps within its memory bound, and with a key delivers only what was sent,
// and each sent message at most once however often its frames are replayed.
// RAFTBUS_FUZZ_CASES=500000 lifts the time bound and runs that many
// iterations per run instead (the long campaign).
import { encodeMessage, type Message } from '@raftbus/core';
import { describe, expect, it } from 'vitest';
import { Framer } from '../src/index.js';
import { frameLength } from '../src/format.js';
import { SeededRandom, expectSameMessage, randomMessage, shuffle } from './helpers.js';

const CLUSTER = 'fuzz';
const LONG_CASES = process.env['RAFTBUS_FUZZ_CASES'];
const BUDGET_MS = LONG_CASES ? Number.POSITIVE_INFINITY : 500;
const MAX_ITERATIONS = LONG_CASES ? Number(LONG_CASES) : 20_000;
const MAX_REASSEMBLY = 32 * 1024;

function run(seed: number, key: string | undefined): { iterations: number; delivered: number } {
  const rng = new SeededRandom(seed);
  const receiver = new Framer(CLUSTER, 2, { maxFrameBytes: 1 << 20, reassemblyTimeoutMs: 50, maxReassemblyBytes: MAX_REASSEMBLY, ...(key && { key }) });
  const least = frameLength(CLUSTER.length, true, key !== undefined, 1);
  /** Encodings of recent messages sent to node 2: anything delivered must be one of them when keyed. */
  const sent = new Set<string>();
  /** With a key: how many times each encoding was sent and delivered (replays must not deliver again). */
  const sentTimes = new Map<string, number>();
  const deliveredTimes = new Map<string, number>();
  let previous: Uint8Array[] = [];
  let delivered = 0;
  const started = Date.now();
  let i = 0;
  for (; i < MAX_ITERATIONS && Date.now() - started < BUDGET_MS; i++) {
    const to = rng.int(10) === 0 ? 3 : 2;
    const message = randomMessage(rng, 1 + rng.int(3), to, 200);
    // Chunks of at least 8 bytes: a clean message (at most ~2 KiB) always fits the reassembly bound.
    const maxFrameBytes = rng.int(3) === 0 ? 1 << 20 : least + 7 + rng.int(600);
    const sender = new Framer(CLUSTER, message.from, { maxFrameBytes, ...(key && { key }) });
    // A third of the messages go out as one frame for several nodes: naming
    // node 2 among others when it is the addressee, or only others.
    const recipients = to === 2 ? shuffle(rng, [2, 3, 4].slice(0, 2 + rng.int(2))) : [3, 4];
    const multicast = rng.int(3) === 0 ? sender.encodeMulticast(message, recipients) : undefined;
    const original = multicast !== undefined ? [multicast] : sender.encode(message);
    const hex = Buffer.from(encodeMessage(message)).toString('hex');
    if (to === 2) sent.add(hex);
    sentTimes.set(hex, (sentTimes.get(hex) ?? 0) + 1);

    let frames: Uint8Array[] = original.map((f) => f.slice());
    const clean = rng.int(3) === 0;
    if (!clean) {
      for (let k = rng.int(4); k >= 0; k--) frames = bend(rng, frames, previous);
    }
    if (rng.int(2) === 0) frames = shuffle(rng, frames);
    previous = original;

    const out: Message[] = [];
    for (const f of frames) {
      // Plain checks in the hot loop; expect() only when something is wrong.
      let m: Message | undefined;
      try {
        m = receiver.decode(f, i);
      } catch (e) {
        expect.fail(`decode threw at iteration ${i}: ${String(e)}`);
      }
      if (m === undefined) continue;
      out.push(m);
      if (m.to !== 2) expect.fail(`iteration ${i}: delivered a message to ${m.to}`);
      if (key !== undefined) {
        const got = Buffer.from(encodeMessage(m)).toString('hex');
        if (!sent.has(got)) expect.fail(`iteration ${i}: delivered a message never sent`);
        const times = (deliveredTimes.get(got) ?? 0) + 1;
        deliveredTimes.set(got, times);
        if (times > sentTimes.get(got)!) expect.fail(`iteration ${i}: delivered a message ${times} times, sent ${sentTimes.get(got)}`);
      }
    }
    delivered += out.length;
    if (clean && to === 2) {
      expect(out).toHaveLength(1);
      expectSameMessage(out[0], message);
    }
    if (clean && to === 3) expect(out).toEqual([]);
    if (receiver.reassemblyBytes > MAX_REASSEMBLY) expect.fail(`iteration ${i}: holding ${receiver.reassemblyBytes} bytes`);
  }
  return { iterations: i, delivered };
}

/** One random fault applied to a list of frames. */
function bend(rng: SeededRandom, frames: Uint8Array[], other: Uint8Array[]): Uint8Array[] {
  const pick = () => rng.int(frames.length);
  const out = [...frames];
  if (out.length === 0) return [rng.bytes(rng.int(80))];
  switch (rng.int(8)) {
    case 0: {
      const f = out[pick()]!;
      f[rng.int(f.length)] ^= 1 + rng.int(255);
      return out;
    }
    case 1: {
      const i = pick();
      out[i] = out[i]!.subarray(0, rng.int(out[i]!.length));
      return out;
    }
    case 2: {
      const i = pick();
      out[i] = Uint8Array.from([...out[i]!, ...rng.bytes(1 + rng.int(8))]);
      return out;
    }
    case 3:
      out.splice(pick(), 1);
      return out;
    case 4:
      out.push(out[pick()]!.slice());
      return out;
    case 5:
      out.splice(pick(), 0, rng.bytes(rng.int(120)));
      return out;
    case 6:
      // Another message's chunk in the middle of this one.
      if (other.length > 0) out.splice(pick(), 0, other[rng.int(other.length)]!);
      return out;
    default: {
      // A header byte in the first 60, where the lengths and chunk fields live.
      const f = out[pick()]!;
      f[rng.int(Math.min(60, f.length))] = rng.int(256);
      return out;
    }
  }
}

describe('fuzz', () => {
  // A long campaign (RAFTBUS_FUZZ_CASES) gets room in proportion; the default run is bounded by BUDGET_MS.
  const timeout = LONG_CASES ? Math.max(30_000, Number(LONG_CASES) * 10) : 30_000;

  it('survives bent frames without a key', { timeout }, () => {
    const { iterations, delivered } = run(0xf00d, undefined);
    expect(iterations).toBeGreaterThan(20);
    expect(delivered).toBeGreaterThan(0);
  });

  it('survives bent frames with a key, and delivers only what was sent, each message at most once per send', { timeout }, () => {
    const { iterations, delivered } = run(0xbeef, 'fuzz key');
    expect(iterations).toBeGreaterThan(20);
    expect(delivered).toBeGreaterThan(0);
  });
});

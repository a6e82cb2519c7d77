// The bytes of a frame, spelled out by hand from the layout in format.ts:
// the wire format is a contract with other versions of raftbus, so these
// expectations are fixed bytes, not whatever the writer produces today.
import { createHmac } from 'node:crypto';
import { MessageType, encodeMessage, newMessage } from '@raftbus/core';
import { describe, expect, it } from 'vitest';
import { Framer } from '../src/index.js';
import { MAC_BYTES, buildMulticastFrame, headerLength, namesOthersOnly, parseFrame, sessionOf, writeFrame } from '../src/format.js';

const text = new TextEncoder();
const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!, (b) => parseInt(b, 16));

const envelope = {
  clusterId: text.encode('ab'),
  from: 1,
  to: Number.MAX_SAFE_INTEGER,
  session: 0xfedcba9876543210n,
  sequence: 2 ** 40 + 5,
};
const prefix = (flags: string) => `5242 03 ${flags} 02 6162`;
// from, session, one recipient: to and sequence.
const ids = `0000000000000001 fedcba9876543210 01 001fffffffffffff 0000010000000005`;

describe('frame layout', () => {
  it('writes a whole frame byte for byte', () => {
    const frame = writeFrame(envelope, undefined, Uint8Array.of(9, 8, 7), undefined);
    expect(Array.from(frame)).toEqual(Array.from(hex(`${prefix('00')} ${ids} 00000003 090807`)));
  });

  it('writes a chunk byte for byte', () => {
    const chunk = { messageId: 0x0102030405060708n, index: 1, count: 3, totalLength: 300 };
    const frame = writeFrame(envelope, chunk, Uint8Array.of(0xaa, 0xbb), undefined);
    expect(Array.from(frame)).toEqual(Array.from(hex(`${prefix('01')} ${ids} 0102030405060708 00000001 00000003 0000012c 00000002 aabb`)));
  });

  it('ends an authenticated frame with the HMAC-SHA256 of everything before it', () => {
    const key = text.encode('secret');
    const frame = writeFrame(envelope, undefined, Uint8Array.of(1), key);
    const body = hex(`${prefix('02')} ${ids} 00000001 01`);
    const mac = createHmac('sha256', key).update(body).digest();
    expect(Array.from(frame)).toEqual([...body, ...mac]);
    expect(MAC_BYTES).toBe(mac.length);
  });

  it('parses back what it wrote, including a session with its top bit set', () => {
    const chunk = { messageId: 0xffffffffffffffffn, index: 2, count: 3, totalLength: 7 };
    const parsed = parseFrame(writeFrame(envelope, chunk, Uint8Array.of(5, 6), undefined))!;
    expect(parsed).toMatchObject({ from: 1, to: Number.MAX_SAFE_INTEGER, sequence: 2 ** 40 + 5, authenticated: false, chunk });
    expect(sessionOf(parsed)).toBe(0xfedcba9876543210n);
    expect(Array.from(parsed.payload)).toEqual([5, 6]);
  });

  it("parses a frame inside a larger buffer, and gives the payload as a view of it", () => {
    const frame = writeFrame(envelope, undefined, Uint8Array.of(9, 8, 7), undefined);
    const big = Buffer.alloc(frame.length + 20, 0xee);
    big.set(frame, 11);
    const parsed = parseFrame(big.subarray(11, 11 + frame.length))!;
    expect(Array.from(parsed.payload)).toEqual([9, 8, 7]);
    expect(parsed.payload.buffer).toBe(big.buffer);
    expect(parsed.payload.byteOffset).toBe(big.byteOffset + 11 + frame.length - 3);
  });

  it('Framer.encode writes the same layout: header in front of the codec bytes, sequence counted per addressee', () => {
    const framer = new Framer('ab', 1, { maxFrameBytes: 1 << 20 });
    const m = newMessage({ type: MessageType.MsgApp, from: 1, to: 2, term: 4, index: 9, entries: [] });
    const other = newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 3, term: 4 });
    const first = framer.encode(m)[0]!;
    framer.encode(other);
    const second = framer.encode(m)[0]!;
    const payload = encodeMessage(m);
    const start = headerLength(2, false);
    expect(first.length).toBe(start + payload.length);
    const session = Array.from(first.subarray(5 + 2 + 8, 5 + 2 + 16));
    for (const [frame, sequence] of [
      [first, 1],
      [second, 2],
    ] as const) {
      const expected = hex(
        `${prefix('00')} 0000000000000001 ${toHex(session)} 01 0000000000000002 ${sequence.toString(16).padStart(16, '0')} ${payload.length.toString(16).padStart(8, '0')}`,
      );
      expect(Array.from(frame)).toEqual([...expected, ...payload]);
    }
    // One session per Framer: both frames carry the same one.
    expect(Array.from(second.subarray(15, 23))).toEqual(session);
  });

  it('writes a frame for several recipients byte for byte: each with its sequence, the message to 0', () => {
    const sender = { clusterId: text.encode('ab'), from: 1, sessionHigh: 0xfedcba98, sessionLow: 0x76543210 };
    const recipients = [
      { to: 3, sequence: 7 },
      { to: 2, sequence: 2 ** 40 + 5 },
    ];
    const frame = buildMulticastFrame(sender, recipients, Uint8Array.of(9, 8), undefined);
    expect(Array.from(frame)).toEqual(
      Array.from(hex(`${prefix('00')} 0000000000000001 fedcba9876543210 02 0000000000000003 0000000000000007 0000000000000002 0000010000000005 00000002 0908`)),
    );
    expect(frame.length).toBe(headerLength(2, false, 2) + 2);
    const parsed = parseFrame(frame)!;
    expect(parsed).toMatchObject({ from: 1, to: 0, sequence: 0, recipients, chunk: undefined, authenticated: false });
    expect(namesOthersOnly(frame, 4)).toBe(true);
    expect(namesOthersOnly(frame, 2)).toBe(false);
    expect(namesOthersOnly(writeFrame(envelope, undefined, Uint8Array.of(1), undefined), 4)).toBe(false);

    // Framer.encodeMulticast: the same layout around the message encoded with to 0.
    const framer = new Framer('ab', 1, { maxFrameBytes: 1 << 20 });
    const m = newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 4, commit: 3 });
    framer.encode(m);
    const multi = framer.encodeMulticast(m, [2, 3])!;
    const payload = encodeMessage({ ...m, to: 0 });
    const session = toHex(Array.from(multi.subarray(15, 23)));
    expect(Array.from(multi)).toEqual([
      ...hex(`${prefix('00')} 0000000000000001 ${session} 02 0000000000000002 0000000000000002 0000000000000003 0000000000000001 ${payload.length.toString(16).padStart(8, '0')}`),
      ...payload,
    ]);
  });

  it('refuses, as malformed structure, a frame for several that is chunked, names a node twice or node 0, or names nobody', () => {
    const sender = { clusterId: text.encode('ab'), from: 1, sessionHigh: 1, sessionLow: 2 };
    const good = buildMulticastFrame(sender, [{ to: 2, sequence: 1 }, { to: 3, sequence: 1 }], Uint8Array.of(1), undefined);
    expect(parseFrame(good)).toBeDefined();
    const chunked = good.slice();
    chunked[3] = 0x01;
    const twice = buildMulticastFrame(sender, [{ to: 2, sequence: 1 }, { to: 2, sequence: 2 }], Uint8Array.of(1), undefined);
    const zero = buildMulticastFrame(sender, [{ to: 0, sequence: 1 }, { to: 3, sequence: 1 }], Uint8Array.of(1), undefined);
    const nobody = writeFrame(envelope, undefined, Uint8Array.of(1), undefined);
    nobody[5 + 2 + 16] = 0;
    for (const f of [chunked, twice, zero, nobody]) expect(parseFrame(f)).toBeUndefined();
  });
});

function toHex(bytes: number[]): string {
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
}

// Frames are carved out of core's shared slab (allocBytes): each must behave
// as if it had a buffer of its own.
import { MessageType, newEntry, newMessage, type Message } from '@raftbus/core';
import { describe, expect, it } from 'vitest';
import { Framer } from '../src/index.js';
import { SeededRandom, expectSameMessage, randomMessage } from './helpers.js';

describe('pooled frames from a Framer', () => {
  it('stay intact while later messages are encoded, and decode in any order afterwards', () => {
    const rng = new SeededRandom(11);
    const sender = new Framer('pool', 1, { maxFrameBytes: 1 << 20 });
    const receiver = new Framer('pool', 2, { maxFrameBytes: 1 << 20 });
    const sent: Message[] = [];
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 500; i++) {
      // Small messages mostly, so many frames share slabs.
      const m =
        i % 3 === 0
          ? randomMessage(rng, 1, 2, 600)
          : newMessage({ type: MessageType.MsgApp, from: 1, to: 2, term: 1, index: i, entries: [newEntry({ index: i + 1, term: 1, data: rng.bytes(rng.int(300)) })] });
      const encoded = sender.encode(m);
      expect(encoded).toHaveLength(1);
      sent.push(m);
      frames.push(encoded[0]!);
    }
    // Without a key, frames may arrive in any order: decode them back to front.
    for (let i = frames.length - 1; i >= 0; i--) expectSameMessage(receiver.decode(frames[i]!), sent[i]!);
    expect(receiver.drops.malformed).toBe(0);
  });
});

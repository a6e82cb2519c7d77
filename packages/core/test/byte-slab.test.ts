// Pieces carved out of the shared slab must behave as if each had a buffer
// of its own: zeroed, exactly sized, never overlapping, never reused.
import { describe, expect, it } from 'vitest';
import { allocBytes, copyBytes, MAX_SLAB_COPY } from '../src/raftpb/byte-slab.js';
import { seededRandomInt } from './helpers/random.js';

describe('byte slab', () => {
  it('hands out zeroed, exactly sized pieces that do not overlap, across many slabs', () => {
    const randomInt = seededRandomInt(3);
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < 400; i++) {
      const length = 1 + randomInt(MAX_SLAB_COPY);
      const piece = allocBytes(length);
      expect(piece.length).toBe(length);
      if (piece.some((b) => b !== 0)) expect.fail(`piece ${i} was not zeroed`);
      piece.fill((i % 255) + 1);
      pieces.push(piece);
    }
    pieces.forEach((piece, i) => {
      if (piece.some((b) => b !== (i % 255) + 1)) expect.fail(`piece ${i} was overwritten by a later one`);
    });
  });

  it('gives a large piece a buffer of its own', () => {
    const piece = allocBytes(MAX_SLAB_COPY + 1);
    expect(piece.byteOffset).toBe(0);
    expect(piece.buffer.byteLength).toBe(MAX_SLAB_COPY + 1);
  });

  it('copies exactly the range asked for, short and long, and never aliases the source', () => {
    const src = Uint8Array.from({ length: 10_000 }, (_, i) => i & 0xff);
    for (const [start, end] of [[0, 0], [5, 9], [100, 117], [0, MAX_SLAB_COPY], [1, MAX_SLAB_COPY + 50]] as const) {
      const copy = copyBytes(src, start, end);
      expect([...copy]).toEqual([...src.subarray(start, end)]);
      if (copy.length > 0) {
        copy[0] = copy[0]! ^ 0xff;
        expect(src[start]).toBe(start & 0xff);
      }
    }
  });
});

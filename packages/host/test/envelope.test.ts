import { ErrMalformedMessage } from '@raftbus/core';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, ENVELOPE_BYTES } from '../src/index.js';

describe('entry envelope', () => {
  it('round-trips the request id and hands back the payload', () => {
    const id = { proposer: Number.MAX_SAFE_INTEGER, incarnation: 0xfffffffe, seq: 0xffffffff };
    const payload = new Uint8Array([1, 2, 3]);
    const bytes = encodeEnvelope(id, payload);
    expect(bytes.length).toBe(ENVELOPE_BYTES + 3);
    expect(decodeEnvelope(bytes)).toEqual({ id, payload });
    expect(decodeEnvelope(encodeEnvelope({ proposer: 1, incarnation: 2, seq: 3 }, new Uint8Array(0))).payload.length).toBe(0);
  });

  it('refuses bytes that are not an envelope of a known version', () => {
    expect(() => decodeEnvelope(new Uint8Array(0))).toThrow(ErrMalformedMessage);
    expect(() => decodeEnvelope(new Uint8Array(ENVELOPE_BYTES - 1).fill(1))).toThrow(ErrMalformedMessage);
    const future = encodeEnvelope({ proposer: 1, incarnation: 1, seq: 1 }, new Uint8Array(0));
    future[0] = 2;
    expect(() => decodeEnvelope(future)).toThrow(/version 2/);
  });

  it('keeps its byte layout: version, proposer (64-bit), incarnation, seq, all big-endian', () => {
    const bytes = encodeEnvelope({ proposer: 0x0102030405 * 256 + 6, incarnation: 0x0708090a, seq: 0x0b0c0d0e }, new Uint8Array([0xff]));
    expect(Buffer.from(bytes).toString('hex')).toBe('01' + '0000010203040506' + '0708090a' + '0b0c0d0e' + 'ff');
  });

  it('gives every envelope bytes of its own, however many are made', () => {
    const made = Array.from({ length: 5000 }, (_, i) => encodeEnvelope({ proposer: i + 1, incarnation: i, seq: i * 3 }, new Uint8Array(i % 97).fill(i & 0xff)));
    for (const [i, bytes] of made.entries()) {
      const { id, payload } = decodeEnvelope(bytes);
      expect(id).toEqual({ proposer: i + 1, incarnation: i, seq: i * 3 });
      expect(payload.length).toBe(i % 97);
      expect(payload.every((b) => b === (i & 0xff))).toBe(true);
    }
  });
});

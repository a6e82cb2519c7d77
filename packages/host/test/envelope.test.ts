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
});

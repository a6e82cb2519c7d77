// The header the host puts in front of every payload it writes to the log
// (a proposal's data, a membership change's context) and uses as a read's
// request context. It lets the proposer recognise its own entry when it is
// applied, whichever node led when it was committed:
//
//   byte 0      format version (1)
//   bytes 1-8   proposer node id (uint64, big-endian; 0: written on no one's behalf)
//   bytes 9-12  proposer incarnation (uint32: random per start, so a restarted
//               node never takes an entry of its previous life for a new proposal)
//   bytes 13-16 request sequence number (uint32, wraps; pending requests time
//               out long before their number comes round again)
//
// Entries without data (a new leader's empty entry, a refused conf change's
// stand-in, raft's own leave-joint change) carry no header; everything else
// written through the host does.
import { allocBytes, ErrMalformedMessage } from '@raftbus/core';

export const ENVELOPE_VERSION = 1;
export const ENVELOPE_BYTES = 17;

/** Identifies one request of one node incarnation. */
export interface RequestId {
  proposer: number;
  incarnation: number;
  seq: number;
}

const TWO_32 = 2 ** 32;

// Written and read byte by byte: a DataView per entry costs more than the
// header it reads (this runs once per proposal on every node).

function writeUint32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}

function readUint32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) >>> 0) + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
}

export function encodeEnvelope(id: RequestId, payload: Uint8Array): Uint8Array {
  const out = allocBytes(ENVELOPE_BYTES + payload.length);
  out[0] = ENVELOPE_VERSION;
  writeUint32(out, 1, Math.floor(id.proposer / TWO_32));
  writeUint32(out, 5, id.proposer >>> 0);
  writeUint32(out, 9, id.incarnation);
  writeUint32(out, 13, id.seq);
  out.set(payload, ENVELOPE_BYTES);
  return out;
}

/** Throws ErrMalformedMessage unless `bytes` starts with an envelope this version reads. */
export function checkEnvelope(bytes: Uint8Array): void {
  if (bytes.length < ENVELOPE_BYTES || bytes[0] !== ENVELOPE_VERSION) {
    throw new ErrMalformedMessage(
      bytes.length === 0 ? 'entry has no envelope' : `unknown entry envelope (version ${bytes[0]}, ${bytes.length} bytes)`,
    );
  }
}

// The fields of a checked envelope, read without building a RequestId.
export const envelopeProposer = (bytes: Uint8Array): number => readUint32(bytes, 1) * TWO_32 + readUint32(bytes, 5);
export const envelopeIncarnation = (bytes: Uint8Array): number => readUint32(bytes, 9);
export const envelopeSeq = (bytes: Uint8Array): number => readUint32(bytes, 13);
/** The payload after a checked envelope: a view into `bytes`, not a copy. */
export const envelopePayload = (bytes: Uint8Array): Uint8Array => bytes.subarray(ENVELOPE_BYTES);

/** Splits an enveloped payload; the payload is a view into `bytes`, not a copy. */
export function decodeEnvelope(bytes: Uint8Array): { id: RequestId; payload: Uint8Array } {
  checkEnvelope(bytes);
  return {
    id: { proposer: envelopeProposer(bytes), incarnation: envelopeIncarnation(bytes), seq: envelopeSeq(bytes) },
    payload: envelopePayload(bytes),
  };
}


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
import { ErrMalformedMessage } from '@raftbus/core';

export const ENVELOPE_VERSION = 1;
export const ENVELOPE_BYTES = 17;

/** Identifies one request of one node incarnation. */
export interface RequestId {
  proposer: number;
  incarnation: number;
  seq: number;
}

const TWO_32 = 2 ** 32;

export function encodeEnvelope(id: RequestId, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(ENVELOPE_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, ENVELOPE_VERSION);
  view.setUint32(1, Math.floor(id.proposer / TWO_32));
  view.setUint32(5, id.proposer >>> 0);
  view.setUint32(9, id.incarnation);
  view.setUint32(13, id.seq);
  out.set(payload, ENVELOPE_BYTES);
  return out;
}

/** Splits an enveloped payload; the payload is a view into `bytes`, not a copy. */
export function decodeEnvelope(bytes: Uint8Array): { id: RequestId; payload: Uint8Array } {
  if (bytes.length < ENVELOPE_BYTES || bytes[0] !== ENVELOPE_VERSION) {
    throw new ErrMalformedMessage(
      bytes.length === 0 ? 'entry has no envelope' : `unknown entry envelope (version ${bytes[0]}, ${bytes.length} bytes)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, ENVELOPE_BYTES);
  return {
    id: {
      proposer: view.getUint32(1) * TWO_32 + view.getUint32(5),
      incarnation: view.getUint32(9),
      seq: view.getUint32(13),
    },
    payload: bytes.subarray(ENVELOPE_BYTES),
  };
}

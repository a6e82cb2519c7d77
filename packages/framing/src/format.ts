// Frame format v2: the bytes a bus carries for one raft message or one chunk
// of it. Layout (big-endian; see the package README for the table):
//
//   magic 'R' 'B' | version 2 | flags | cluster id (u8 length + UTF-8)
//   | from u64 | to u64 | session u64 | sequence u64
//   | [chunk: message id u64, index u32, count u32, total u32]
//   | payload length u32 | payload | [HMAC-SHA256 over everything before it]
//
// This file only writes and parses that structure; what a frame means for
// this node (cluster, addressee, authenticity, reassembly) is the Framer's.
import { createHmac } from 'node:crypto';

export const MAGIC = Uint8Array.of(0x52, 0x42); // 'RB'
/** 2 added the session and sequence (replay detection); version 1 frames are refused. */
export const FRAME_VERSION = 2;
export const FLAG_CHUNKED = 0x01;
export const FLAG_AUTHENTICATED = 0x02;
const KNOWN_FLAGS = FLAG_CHUNKED | FLAG_AUTHENTICATED;

export const MAC_BYTES = 32;
export const MAX_CLUSTER_ID_BYTES = 255;
export const MAX_U32 = 0xffffffff;
const TWO_32 = 2 ** 32;
/** High word of Number.MAX_SAFE_INTEGER: ids above it cannot be numbers without rounding. */
const MAX_SAFE_HIGH_WORD = 0x1fffff;

const FIXED_BYTES =
  MAGIC.length + 1 /* version */ + 1 /* flags */ + 1 /* cluster id length */ + 8 /* from */ + 8 /* to */ + 8 /* session */ + 8 /* sequence */ + 4; /* payload length */
const CHUNK_BYTES = 8 /* message id */ + 4 /* index */ + 4 /* count */ + 4; /* total length */

/** Who a frame is from and for, and where it sits in its sender's stream. */
export interface Envelope {
  /** The cluster id's UTF-8 bytes. */
  clusterId: Uint8Array;
  from: number;
  to: number;
  /** Random per sending Framer: names one run of the sender. */
  session: bigint;
  /** Counts the session's frames to `to`, from 1; at most 2^53-1. */
  sequence: number;
}

/** Where a chunk sits in its message. */
export interface ChunkInfo {
  /** Random per message; with `from`, names the message being reassembled. */
  messageId: bigint;
  index: number;
  count: number;
  /** Length of the whole encoded message. */
  totalLength: number;
}

export interface ParsedFrame extends Envelope {
  authenticated: boolean;
  chunk: ChunkInfo | undefined;
  /** A view into the frame, not a copy. */
  payload: Uint8Array;
}

/** Bytes of a frame with these parts. */
export function frameLength(clusterIdBytes: number, chunked: boolean, authenticated: boolean, payloadBytes: number): number {
  return FIXED_BYTES + clusterIdBytes + (chunked ? CHUNK_BYTES : 0) + payloadBytes + (authenticated ? MAC_BYTES : 0);
}

export function macOf(key: Uint8Array, body: Uint8Array): Uint8Array {
  return createHmac('sha256', key).update(body).digest();
}

export function isNodeId(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

/**
 * One frame. With `key`, the frame ends with the HMAC-SHA256 of everything
 * before it. The caller guarantees ids are safe non-negative integers and
 * the cluster id fits its length byte.
 */
export function writeFrame(envelope: Envelope, chunk: ChunkInfo | undefined, payload: Uint8Array, key: Uint8Array | undefined): Uint8Array {
  const { clusterId } = envelope;
  const frame = new Uint8Array(frameLength(clusterId.length, chunk !== undefined, key !== undefined, payload.length));
  const view = new DataView(frame.buffer);
  frame.set(MAGIC, 0);
  let pos = MAGIC.length;
  frame[pos++] = FRAME_VERSION;
  frame[pos++] = (chunk !== undefined ? FLAG_CHUNKED : 0) | (key !== undefined ? FLAG_AUTHENTICATED : 0);
  frame[pos++] = clusterId.length;
  frame.set(clusterId, pos);
  pos += clusterId.length;
  pos = writeU64(view, pos, envelope.from);
  pos = writeU64(view, pos, envelope.to);
  view.setBigUint64(pos, envelope.session);
  pos = writeU64(view, pos + 8, envelope.sequence);
  if (chunk !== undefined) {
    view.setBigUint64(pos, chunk.messageId);
    view.setUint32(pos + 8, chunk.index);
    view.setUint32(pos + 12, chunk.count);
    view.setUint32(pos + 16, chunk.totalLength);
    pos += CHUNK_BYTES;
  }
  view.setUint32(pos, payload.length);
  pos += 4;
  frame.set(payload, pos);
  pos += payload.length;
  if (key !== undefined) frame.set(macOf(key, frame.subarray(0, pos)), pos);
  return frame;
}

/**
 * The frame's parts, or undefined when its structure is wrong: bad magic or
 * version, unknown flags, a length that disagrees with the frame's size,
 * ids or sequence numbers past 2^53-1, or chunk fields that cannot describe a real message.
 * Does not check the MAC (the Framer does, before calling this).
 */
export function parseFrame(frame: Uint8Array): ParsedFrame | undefined {
  const length = frame.length;
  if (length < FIXED_BYTES) return undefined;
  if (frame[0] !== MAGIC[0] || frame[1] !== MAGIC[1] || frame[2] !== FRAME_VERSION) return undefined;
  const flags = frame[3]!;
  if ((flags & ~KNOWN_FLAGS) !== 0) return undefined;
  const chunked = (flags & FLAG_CHUNKED) !== 0;
  const authenticated = (flags & FLAG_AUTHENTICATED) !== 0;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);

  const clusterIdLength = frame[4]!;
  // Everything up to the payload, now that the variable part is known.
  const headerEnd = frameLength(clusterIdLength, chunked, false, 0);
  if (length < headerEnd) return undefined;
  let pos = 5;
  const clusterId = frame.subarray(pos, pos + clusterIdLength);
  pos += clusterIdLength;
  const from = readU64(view, pos);
  const to = readU64(view, pos + 8);
  const session = view.getBigUint64(pos + 16);
  const sequence = readU64(view, pos + 24);
  if (from === undefined || to === undefined || sequence === undefined) return undefined;
  pos += 32;

  let chunk: ChunkInfo | undefined;
  if (chunked) {
    chunk = {
      messageId: view.getBigUint64(pos),
      index: view.getUint32(pos + 8),
      count: view.getUint32(pos + 12),
      totalLength: view.getUint32(pos + 16),
    };
    pos += CHUNK_BYTES;
    // Every chunk carries at least one byte, so a message has at least `count` bytes.
    if (chunk.count === 0 || chunk.index >= chunk.count || chunk.totalLength < chunk.count) return undefined;
  }

  const payloadLength = view.getUint32(pos);
  pos += 4;
  if (pos + payloadLength + (authenticated ? MAC_BYTES : 0) !== length) return undefined;
  if (chunk !== undefined && (payloadLength === 0 || payloadLength > chunk.totalLength)) return undefined;
  return { clusterId, from, to, session, sequence, authenticated, chunk, payload: frame.subarray(pos, pos + payloadLength) };
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function writeU64(view: DataView, pos: number, v: number): number {
  view.setUint32(pos, Math.floor(v / TWO_32));
  view.setUint32(pos + 4, v % TWO_32);
  return pos + 8;
}

function readU64(view: DataView, pos: number): number | undefined {
  const high = view.getUint32(pos);
  if (high > MAX_SAFE_HIGH_WORD) return undefined;
  return high * TWO_32 + view.getUint32(pos + 4);
}

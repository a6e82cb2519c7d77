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
import { allocBytes } from '@raftbus/core';
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

/**
 * An Envelope as the Framer stamps it on every frame: the session as its
 * two 32-bit halves, because a bigint per frame costs an allocation.
 */
export interface Header {
  clusterId: Uint8Array;
  from: number;
  to: number;
  sessionHigh: number;
  sessionLow: number;
  sequence: number;
}

/** A frame's parts; the cluster id stays in the frame (hasClusterId compares it there). */
export interface ParsedFrame {
  from: number;
  to: number;
  /** The session's two 32-bit halves (sessionOf joins them). */
  sessionHigh: number;
  sessionLow: number;
  sequence: number;
  authenticated: boolean;
  chunk: ChunkInfo | undefined;
  /** A view into the frame, not a copy. */
  payload: Uint8Array;
}

/** Bytes of a frame with these parts. */
export function frameLength(clusterIdBytes: number, chunked: boolean, authenticated: boolean, payloadBytes: number): number {
  return headerLength(clusterIdBytes, chunked) + payloadBytes + (authenticated ? MAC_BYTES : 0);
}

/** Bytes of a frame before its payload. */
export function headerLength(clusterIdBytes: number, chunked: boolean): number {
  return FIXED_BYTES + clusterIdBytes + (chunked ? CHUNK_BYTES : 0);
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
  const { clusterId, from, to, session, sequence } = envelope;
  const sessionHigh = Number(BigInt.asUintN(32, session >> 32n));
  const sessionLow = Number(BigInt.asUintN(32, session));
  return buildFrame({ clusterId, from, to, sessionHigh, sessionLow, sequence }, chunk, payload, key);
}

/** writeFrame, for a header whose session is already split. */
export function buildFrame(header: Header, chunk: ChunkInfo | undefined, payload: Uint8Array, key: Uint8Array | undefined): Uint8Array {
  const frame = allocBytes(frameLength(header.clusterId.length, chunk !== undefined, key !== undefined, payload.length));
  let pos = writeHeader(frame, header, chunk, payload.length, key !== undefined);
  frame.set(payload, pos);
  pos += payload.length;
  if (key !== undefined) frame.set(macOf(key, frame.subarray(0, pos)), pos);
  return frame;
}

/**
 * Writes everything before the payload at the start of `frame` (which has
 * room for it, and for the payload and MAC after it) and returns where the
 * payload goes. The MAC, when `authenticated`, is the caller's to append.
 */
export function writeHeader(frame: Uint8Array, header: Header, chunk: ChunkInfo | undefined, payloadLength: number, authenticated: boolean): number {
  const { clusterId } = header;
  frame[0] = MAGIC[0]!;
  frame[1] = MAGIC[1]!;
  frame[2] = FRAME_VERSION;
  frame[3] = (chunk !== undefined ? FLAG_CHUNKED : 0) | (authenticated ? FLAG_AUTHENTICATED : 0);
  frame[4] = clusterId.length;
  frame.set(clusterId, 5);
  let pos = 5 + clusterId.length;
  pos = writeU64(frame, pos, header.from);
  pos = writeU64(frame, pos, header.to);
  pos = writeU32(frame, pos, header.sessionHigh);
  pos = writeU32(frame, pos, header.sessionLow);
  pos = writeU64(frame, pos, header.sequence);
  if (chunk !== undefined) {
    // Chunks are large: a DataView for the bigint costs nothing here.
    new DataView(frame.buffer, frame.byteOffset, frame.byteLength).setBigUint64(pos, chunk.messageId);
    pos = writeU32(frame, pos + 8, chunk.index);
    pos = writeU32(frame, pos, chunk.count);
    pos = writeU32(frame, pos, chunk.totalLength);
  }
  return writeU32(frame, pos, payloadLength);
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

  // Everything up to the payload, now that the variable part is known.
  const headerEnd = headerLength(frame[4]!, chunked);
  if (length < headerEnd) return undefined;
  let pos = 5 + frame[4]!;
  const from = readU64(frame, pos);
  const to = readU64(frame, pos + 8);
  const sessionHigh = readU32(frame, pos + 16);
  const sessionLow = readU32(frame, pos + 20);
  const sequence = readU64(frame, pos + 24);
  if (from === undefined || to === undefined || sequence === undefined) return undefined;
  pos += 32;

  let chunk: ChunkInfo | undefined;
  if (chunked) {
    chunk = {
      messageId: new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getBigUint64(pos),
      index: readU32(frame, pos + 8),
      count: readU32(frame, pos + 12),
      totalLength: readU32(frame, pos + 16),
    };
    pos += CHUNK_BYTES;
    // Every chunk carries at least one byte, so a message has at least `count` bytes.
    if (chunk.count === 0 || chunk.index >= chunk.count || chunk.totalLength < chunk.count) return undefined;
  }

  const payloadLength = readU32(frame, pos);
  pos += 4;
  if (pos + payloadLength + (authenticated ? MAC_BYTES : 0) !== length) return undefined;
  if (chunk !== undefined && (payloadLength === 0 || payloadLength > chunk.totalLength)) return undefined;
  // A plain view even when the frame is a Buffer, whose subarray() costs several times as much.
  const payload = new Uint8Array(frame.buffer, frame.byteOffset + pos, payloadLength);
  return { from, to, sessionHigh, sessionLow, sequence, authenticated, chunk, payload };
}

/** Whether a frame that parsed is for the cluster whose id's UTF-8 bytes are `clusterId`. */
export function hasClusterId(frame: Uint8Array, clusterId: Uint8Array): boolean {
  if (frame[4] !== clusterId.length) return false;
  for (let i = 0; i < clusterId.length; i++) if (frame[5 + i] !== clusterId[i]) return false;
  return true;
}

/** The session of a parsed frame as one number. */
export function sessionOf(parsed: ParsedFrame): bigint {
  return (BigInt(parsed.sessionHigh) << 32n) | BigInt(parsed.sessionLow);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function writeU32(frame: Uint8Array, pos: number, v: number): number {
  frame[pos] = v >>> 24;
  frame[pos + 1] = v >>> 16;
  frame[pos + 2] = v >>> 8;
  frame[pos + 3] = v;
  return pos + 4;
}

function writeU64(frame: Uint8Array, pos: number, v: number): number {
  // v < 2^53: the division is exact in its integer part, and >>> 0 takes the low word.
  writeU32(frame, pos, Math.floor(v / TWO_32));
  return writeU32(frame, pos + 4, v >>> 0);
}

function readU32(frame: Uint8Array, pos: number): number {
  return frame[pos]! * 0x1000000 + ((frame[pos + 1]! << 16) | (frame[pos + 2]! << 8) | frame[pos + 3]!);
}

function readU64(frame: Uint8Array, pos: number): number | undefined {
  const high = readU32(frame, pos);
  if (high > MAX_SAFE_HIGH_WORD) return undefined;
  return high * TWO_32 + readU32(frame, pos + 4);
}

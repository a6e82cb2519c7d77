// Frame format v3: the bytes a bus carries for one raft message or one chunk
// of it, for one or more recipients. Layout (big-endian; see the package
// README for the table):
//
//   magic 'R' 'B' | version 3 | flags | cluster id (u8 length + UTF-8)
//   | from u64 | session u64 | recipient count u8 | (to u64, sequence u64) per recipient
//   | [chunk, one recipient only: message id u64, index u32, count u32, total u32]
//   | payload length u32 | payload | [HMAC-SHA256 over everything before it]
//
// A frame for several recipients carries one message that a leader sends
// alike to each of them (an append, a heartbeat), encoded with `to` 0: a bus
// that can deliver one publication to many subscribers carries it once.
//
// This file only writes and parses that structure; what a frame means for
// this node (cluster, addressee, authenticity, reassembly) is the Framer's.
import { allocBytes } from '@raftbus/core';
import { createHmac } from 'node:crypto';

export const MAGIC = Uint8Array.of(0x52, 0x42); // 'RB'
/**
 * 2 added the session and sequence (replay detection); 3 made the addressee
 * a list, so one frame can carry a message to several nodes. Other
 * versions are refused.
 */
export const FRAME_VERSION = 3;
export const FLAG_CHUNKED = 0x01;
export const FLAG_AUTHENTICATED = 0x02;
const KNOWN_FLAGS = FLAG_CHUNKED | FLAG_AUTHENTICATED;

export const MAC_BYTES = 32;
export const MAX_CLUSTER_ID_BYTES = 255;
/** Recipients one frame can name (their count is a byte). */
export const MAX_RECIPIENTS = 255;
export const MAX_U32 = 0xffffffff;
const TWO_32 = 2 ** 32;
/** High word of Number.MAX_SAFE_INTEGER: ids above it cannot be numbers without rounding. */
const MAX_SAFE_HIGH_WORD = 0x1fffff;

const FIXED_BYTES =
  MAGIC.length + 1 /* version */ + 1 /* flags */ + 1 /* cluster id length */ + 8 /* from */ + 8 /* session */ + 1 /* recipient count */ + 4; /* payload length */
const RECIPIENT_BYTES = 8 /* to */ + 8; /* sequence */
const CHUNK_BYTES = 8 /* message id */ + 4 /* index */ + 4 /* count */ + 4; /* total length */

/** One addressee of a frame, and the frame's place in the sender's count of frames to it. */
export interface Recipient {
  to: number;
  /** Counts the sender session's frames to `to`, from 1; at most 2^53-1. */
  sequence: number;
}

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
 * What the Framer stamps on every frame but its recipients: the session as
 * its two 32-bit halves, because a bigint per frame costs an allocation.
 */
export interface Sender {
  clusterId: Uint8Array;
  from: number;
  sessionHigh: number;
  sessionLow: number;
}

/** The header of a frame for one recipient. */
export interface Header extends Sender, Recipient {}

/** A frame's parts; the cluster id stays in the frame (hasClusterId compares it there). */
export interface ParsedFrame {
  from: number;
  /** The recipient of a frame for one; 0 in a frame for several (see `recipients`). */
  to: number;
  /** The frame's sequence to `to`; 0 in a frame for several. */
  sequence: number;
  /** A frame for several recipients: all of them, at least two, each named once, none 0. */
  recipients: Recipient[] | undefined;
  /** The session's two 32-bit halves (sessionOf joins them). */
  sessionHigh: number;
  sessionLow: number;
  authenticated: boolean;
  chunk: ChunkInfo | undefined;
  /** A view into the frame, not a copy. */
  payload: Uint8Array;
}

/** Bytes of a frame with these parts. */
export function frameLength(clusterIdBytes: number, chunked: boolean, authenticated: boolean, payloadBytes: number, recipients = 1): number {
  return headerLength(clusterIdBytes, chunked, recipients) + payloadBytes + (authenticated ? MAC_BYTES : 0);
}

/** Bytes of a frame before its payload. */
export function headerLength(clusterIdBytes: number, chunked: boolean, recipients = 1): number {
  return FIXED_BYTES + clusterIdBytes + recipients * RECIPIENT_BYTES + (chunked ? CHUNK_BYTES : 0);
}

export function macOf(key: Uint8Array, body: Uint8Array): Uint8Array {
  return createHmac('sha256', key).update(body).digest();
}

export function isNodeId(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

/** A node a frame for several may name: a node id other than 0. */
export function isRecipientId(v: number): boolean {
  return isNodeId(v) && v !== 0;
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
  return sealFrame(frame, writeHeader(frame, header, chunk, payload.length, key !== undefined), payload, key);
}

/**
 * One unchunked frame for every recipient in `recipients` (1 to
 * MAX_RECIPIENTS of them, each named once: the caller guarantees it, and
 * that the payload's message has `to` 0 when there are several).
 */
export function buildMulticastFrame(sender: Sender, recipients: readonly Recipient[], payload: Uint8Array, key: Uint8Array | undefined): Uint8Array {
  const frame = allocBytes(frameLength(sender.clusterId.length, false, key !== undefined, payload.length, recipients.length));
  return sealFrame(frame, writeMulticastHeader(frame, sender, recipients, payload.length, key !== undefined), payload, key);
}

/** writeHeader, for an unchunked frame for all of `recipients` (see buildMulticastFrame). */
export function writeMulticastHeader(frame: Uint8Array, sender: Sender, recipients: readonly Recipient[], payloadLength: number, authenticated: boolean): number {
  let pos = writeSender(frame, sender, 0, authenticated, recipients.length);
  for (const r of recipients) pos = writeRecipient(frame, pos, r.to, r.sequence);
  return writeU32(frame, pos, payloadLength);
}

/** Puts the payload at `pos` and, with a key, the MAC after it. */
function sealFrame(frame: Uint8Array, pos: number, payload: Uint8Array, key: Uint8Array | undefined): Uint8Array {
  frame.set(payload, pos);
  pos += payload.length;
  if (key !== undefined) frame.set(macOf(key, frame.subarray(0, pos)), pos);
  return frame;
}

/**
 * Writes everything before the payload of a frame for one recipient at the
 * start of `frame` (which has room for it, and for the payload and MAC
 * after it) and returns where the payload goes. The MAC, when
 * `authenticated`, is the caller's to append.
 */
export function writeHeader(frame: Uint8Array, header: Header, chunk: ChunkInfo | undefined, payloadLength: number, authenticated: boolean): number {
  let pos = writeSender(frame, header, chunk !== undefined ? FLAG_CHUNKED : 0, authenticated, 1);
  pos = writeRecipient(frame, pos, header.to, header.sequence);
  if (chunk !== undefined) {
    // Chunks are large: a DataView for the bigint costs nothing here.
    new DataView(frame.buffer, frame.byteOffset, frame.byteLength).setBigUint64(pos, chunk.messageId);
    pos = writeU32(frame, pos + 8, chunk.index);
    pos = writeU32(frame, pos, chunk.count);
    pos = writeU32(frame, pos, chunk.totalLength);
  }
  return writeU32(frame, pos, payloadLength);
}

/** Magic to recipient count; returns where the first recipient goes. */
function writeSender(frame: Uint8Array, sender: Sender, flags: number, authenticated: boolean, recipients: number): number {
  const { clusterId } = sender;
  frame[0] = MAGIC[0]!;
  frame[1] = MAGIC[1]!;
  frame[2] = FRAME_VERSION;
  frame[3] = flags | (authenticated ? FLAG_AUTHENTICATED : 0);
  frame[4] = clusterId.length;
  frame.set(clusterId, 5);
  let pos = writeU64(frame, 5 + clusterId.length, sender.from);
  pos = writeU32(frame, pos, sender.sessionHigh);
  pos = writeU32(frame, pos, sender.sessionLow);
  frame[pos] = recipients;
  return pos + 1;
}

function writeRecipient(frame: Uint8Array, pos: number, to: number, sequence: number): number {
  return writeU64(frame, writeU64(frame, pos, to), sequence);
}

/**
 * The frame's parts, or undefined when its structure is wrong: bad magic or
 * version, unknown flags, a length that disagrees with the frame's size,
 * ids or sequence numbers past 2^53-1, no recipient, a frame for several
 * that is chunked or names a node twice or names node 0, or chunk fields
 * that cannot describe a real message.
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

  // The recipient count sits after the cluster id, from and session; the
  // fixed part being there, so is the count.
  let pos = 5 + frame[4]!;
  const count = frame[pos + 16];
  if (count === undefined || count === 0 || (chunked && count > 1)) return undefined;
  // Everything up to the payload, now that the variable parts are known.
  if (length < headerLength(frame[4]!, chunked, count)) return undefined;
  const from = readU64(frame, pos);
  const sessionHigh = readU32(frame, pos + 8);
  const sessionLow = readU32(frame, pos + 12);
  if (from === undefined) return undefined;
  pos += 17;

  let to = 0;
  let sequence = 0;
  let recipients: Recipient[] | undefined;
  if (count === 1) {
    const t = readU64(frame, pos);
    const s = readU64(frame, pos + 8);
    if (t === undefined || s === undefined) return undefined;
    to = t;
    sequence = s;
  } else {
    recipients = [];
    for (let i = 0; i < count; i++) {
      const t = readU64(frame, pos + i * RECIPIENT_BYTES);
      const s = readU64(frame, pos + i * RECIPIENT_BYTES + 8);
      if (t === undefined || s === undefined || t === 0) return undefined;
      for (const r of recipients) if (r.to === t) return undefined;
      recipients.push({ to: t, sequence: s });
    }
  }
  pos += count * RECIPIENT_BYTES;

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
  return { from, to, sequence, recipients, sessionHigh, sessionLow, authenticated, chunk, payload };
}

/**
 * Whether `frame` is, by its structure, a frame for several recipients
 * that does not name `nodeId`: such a frame reached this node only because
 * the bus shows every node what is published to all. Read before the MAC
 * is checked, so that a node does not verify (or count as dropped) other
 * nodes' traffic; anyone able to forge it could as well have withheld the
 * frame.
 */
export function namesOthersOnly(frame: Uint8Array, nodeId: number): boolean {
  if (frame.length < FIXED_BYTES || frame[0] !== MAGIC[0] || frame[1] !== MAGIC[1] || frame[2] !== FRAME_VERSION) return false;
  let pos = 5 + frame[4]! + 16;
  const count = frame[pos];
  if (count === undefined || count < 2 || frame.length < pos + 1 + count * RECIPIENT_BYTES) return false;
  pos += 1;
  for (let i = 0; i < count; i++, pos += RECIPIENT_BYTES) if (readU64(frame, pos) === nodeId) return false;
  return true;
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

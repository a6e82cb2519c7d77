// The direct raftpb encoder: writes Message, Entry, Snapshot, ConfState and
// HardState straight from our types with protobufjs's Writer primitives, as
// protobufjs's static code generation does, with no plain object in between;
// messages without a snapshot or responses (nearly all) it sizes and writes
// into their own array without the writer (encodeFlatMessage).
// Its bytes are the reflection encoder's bytes (reflection-codec.ts, the
// reference; test/codec-differential.test.ts holds them together): every
// scalar written, zero or not, in field-number order; bytes fields only when
// non-empty; the snapshot only when defined; repeated fields unpacked.
//
// Values are checked before anything is written, in the order the reflection
// encoder checks them, so a value with several faults is refused for the
// same one.
import { allocBytes } from './byte-slab.js';
import protobuf from 'protobufjs';
import type { Writer } from 'protobufjs';
import { entrySize, varintSize } from '../util/sizes.js';
import { describeError, encodeError } from './codec-errors.js';
import {
  EntryType,
  MessageType,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
} from './types.js';

const MESSAGE_TYPES = MessageType.MsgForgetLeader + 1;
const ENTRY_TYPES = EntryType.EntryConfChangeV2 + 1;

// ---------------------------------------------------------------------------
// Checks

function checkU64(v: number, where: string): void {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw encodeError(where, `${String(v)} is not an integer in [0, 2^53-1]`);
  }
}

function checkEnum(v: number, count: number, enumName: string, where: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= count) {
    throw encodeError(where, `${String(v)} is not a ${enumName} value`);
  }
}

function checkBytes(b: Uint8Array, where: string): void {
  if (!(b instanceof Uint8Array)) throw encodeError(where, 'not a Uint8Array');
}

function checkEntry(e: Entry): void {
  checkEnum(e.type, ENTRY_TYPES, 'EntryType', 'Entry.type');
  checkU64(e.term, 'Entry.term');
  checkU64(e.index, 'Entry.index');
  checkBytes(e.data, 'Entry.data');
}

function checkIds(vs: readonly number[], where: string): void {
  for (let i = 0; i < vs.length; i++) checkU64(vs[i]!, where);
}

function checkConfState(cs: ConfState): void {
  checkIds(cs.voters, 'ConfState.voters');
  checkIds(cs.learners, 'ConfState.learners');
  checkIds(cs.votersOutgoing, 'ConfState.votersOutgoing');
  checkIds(cs.learnersNext, 'ConfState.learnersNext');
}

function checkSnapshot(s: Snapshot): void {
  const md = s.metadata;
  checkConfState(md.confState);
  checkU64(md.index, 'SnapshotMetadata.index');
  checkU64(md.term, 'SnapshotMetadata.term');
  checkBytes(s.data, 'Snapshot.data');
}

function checkMessage(m: Message): void {
  checkEnum(m.type, MESSAGE_TYPES, 'MessageType', 'Message.type');
  checkU64(m.to, 'Message.to');
  checkU64(m.from, 'Message.from');
  checkU64(m.term, 'Message.term');
  checkU64(m.logTerm, 'Message.logTerm');
  checkU64(m.index, 'Message.index');
  const entries = m.entries;
  for (let i = 0; i < entries.length; i++) checkEntry(entries[i]!);
  checkU64(m.commit, 'Message.commit');
  checkU64(m.rejectHint, 'Message.rejectHint');
  checkU64(m.vote, 'Message.vote');
  const responses = m.responses;
  for (let i = 0; i < responses.length; i++) checkMessage(responses[i]!);
  if (m.snapshot !== undefined) checkSnapshot(m.snapshot);
  checkBytes(m.context, 'Message.context');
}

function checkHardState(hs: HardState): void {
  checkU64(hs.term, 'HardState.term');
  checkU64(hs.vote, 'HardState.vote');
  checkU64(hs.commit, 'HardState.commit');
}

// ---------------------------------------------------------------------------
// Writing (values already checked)

/** A uint64 varint; below 2^32 as uint32 (the same bytes, without protobufjs's LongBits allocation). */
function u64(w: Writer, v: number): void {
  if (v < 0x100000000) w.uint32(v);
  else w.uint64(v);
}

/** Refuses nesting past protobufjs's recursion limit, as its generated encoders do. */
function enter(depth: number): void {
  if (depth > protobuf.util.recursionLimit) throw new Error('max depth exceeded');
}

function writeEntry(w: Writer, e: Entry, depth: number): void {
  enter(depth);
  w.uint32(8).uint32(e.type);
  w.uint32(16);
  u64(w, e.term);
  w.uint32(24);
  u64(w, e.index);
  if (e.data.length > 0) w.uint32(34).bytes(e.data);
}

function writeIds(w: Writer, tag: number, ids: readonly number[]): void {
  for (let i = 0; i < ids.length; i++) {
    w.uint32(tag);
    u64(w, ids[i]!);
  }
}

function writeConfState(w: Writer, cs: ConfState, depth: number): void {
  enter(depth);
  writeIds(w, 8, cs.voters);
  writeIds(w, 16, cs.learners);
  writeIds(w, 24, cs.votersOutgoing);
  writeIds(w, 32, cs.learnersNext);
  w.uint32(40).bool(cs.autoLeave === true);
}

function writeSnapshot(w: Writer, s: Snapshot, depth: number): void {
  enter(depth);
  if (s.data.length > 0) w.uint32(10).bytes(s.data);
  const md = s.metadata;
  enter(depth + 1);
  w.uint32(18).fork();
  w.uint32(10).fork();
  writeConfState(w, md.confState, depth + 2);
  w.ldelim();
  w.uint32(16);
  u64(w, md.index);
  w.uint32(24);
  u64(w, md.term);
  w.ldelim();
}

function writeMessage(w: Writer, m: Message, depth: number): void {
  enter(depth);
  w.uint32(8).uint32(m.type);
  w.uint32(16);
  u64(w, m.to);
  w.uint32(24);
  u64(w, m.from);
  w.uint32(32);
  u64(w, m.term);
  w.uint32(40);
  u64(w, m.logTerm);
  w.uint32(48);
  u64(w, m.index);
  const entries = m.entries;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    // The length up front (sizes.ts counts exactly what writeEntry writes) saves fork/ldelim's shifting.
    w.uint32(58).uint32(entrySize(e));
    writeEntry(w, e, depth + 1);
  }
  w.uint32(64);
  u64(w, m.commit);
  if (m.snapshot !== undefined) {
    w.uint32(74).fork();
    writeSnapshot(w, m.snapshot, depth + 1);
    w.ldelim();
  }
  w.uint32(80).bool(m.reject === true);
  w.uint32(88);
  u64(w, m.rejectHint);
  if (m.context.length > 0) w.uint32(98).bytes(m.context);
  w.uint32(104);
  u64(w, m.vote);
  const responses = m.responses;
  for (let i = 0; i < responses.length; i++) {
    w.uint32(114).fork();
    writeMessage(w, responses[i]!, depth + 1);
    w.ldelim();
  }
}

function writeHardState(w: Writer, hs: HardState): void {
  w.uint32(8);
  u64(w, hs.term);
  w.uint32(16);
  u64(w, hs.vote);
  w.uint32(24);
  u64(w, hs.commit);
}

// ---------------------------------------------------------------------------
// Output

/**
 * One writer reused by every encoding (encoding is synchronous and never
 * re-entered), so its buffer grows once instead of per message; the bytes
 * are then copied out into an exactly sized array of their own (or, for
 * encodeMessageWithHeadroom, into slab space: see byte-slab.ts). Appends
 * never come here (encodeFlatMessage writes them); a writer that held
 * something larger than this (a snapshot, a message carrying one) is
 * dropped after use. The test is the value's size, not the buffer's: the
 * buffer grows by doubling from the first size it needed, so it may pass
 * the threshold while holding only half of it, and replacing it then would
 * make every large value grow a new one from scratch.
 */
const KEEP_WRITER_BYTES = 1 << 20;
let scratch: Writer = new protobuf.Writer();

function startWriting(): Writer {
  const w = scratch;
  w.pos = 0;
  if (w.states !== null) w.states.length = 0;
  return w;
}

function finish(w: Writer, headroom: number, pooled = false): Uint8Array {
  const out = pooled ? allocBytes(headroom + w.pos) : new Uint8Array(headroom + w.pos);
  w.finishInto(out, headroom);
  if (w.pos > KEEP_WRITER_BYTES) scratch = new protobuf.Writer();
  return out;
}

function failed(typeName: string, e: unknown): Error {
  return encodeError(typeName, describeError(e));
}

function encodeMessageAfter(m: Message, headroom: number, pooled: boolean): Uint8Array {
  checkMessage(m);
  if (m.snapshot === undefined && m.responses.length === 0) return encodeFlatMessage(m, headroom, pooled);
  const w = startWriting();
  try {
    writeMessage(w, m, 0);
  } catch (e) {
    throw failed('Message', e);
  }
  return finish(w, headroom, pooled);
}

export function encodeMessage(m: Message): Uint8Array {
  return encodeMessageAfter(m, 0, false);
}

/**
 * encodeMessage's bytes, after `headroom` zero bytes left for the caller
 * (a frame header, say), in one array of their own: the message is at
 * `subarray(headroom)`, and a framing layer writes its header in front
 * without copying the message again. Unlike encodeMessage's, the array is
 * a view that may share its `.buffer` (byte-slab.ts): nobody else writes
 * its bytes, but views over it must use byteOffset and byteLength.
 */
export function encodeMessageWithHeadroom(m: Message, headroom: number): Uint8Array {
  if (!Number.isSafeInteger(headroom) || headroom < 0) {
    throw new RangeError(`encodeMessageWithHeadroom: headroom ${String(headroom)} is not a non-negative integer`);
  }
  return encodeMessageAfter(m, headroom, true);
}

export function encodeEntry(e: Entry): Uint8Array {
  checkEntry(e);
  const w = startWriting();
  writeEntry(w, e, 0);
  return finish(w, 0);
}

/** Writes varint `v` (a safe integer, at least 0) at `at`; returns the offset after it. */
function putVarint(out: Uint8Array, at: number, v: number): number {
  // Above 2^31 the bit operators would wrap: divide instead.
  while (v >= 0x80000000) {
    out[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[at++] = v;
  return at;
}

/**
 * Writes encodeEntry's bytes into `out` at `at` (`entrySize(e)` of them)
 * and returns the offset after them: a WAL frames entries straight into
 * its batch, with no array per entry. Refuses a bad entry as encodeEntry
 * does, and a range past the end of `out` with a RangeError, before
 * writing anything.
 */
export function encodeEntryInto(e: Entry, out: Uint8Array, at: number): number {
  checkEntry(e);
  const end = at + entrySize(e);
  if (!Number.isSafeInteger(at) || at < 0 || end > out.length) {
    throw new RangeError(`encodeEntryInto: ${entrySize(e)} bytes at ${String(at)} do not fit in ${out.length}`);
  }
  return putEntry(e, out, at);
}

/** Tag `tag` (one byte: fields 1-15) and varint `v` at `at`; returns the offset after them. */
function putField(out: Uint8Array, at: number, tag: number, v: number): number {
  out[at++] = tag;
  return putVarint(out, at, v);
}

/** Tag `tag`, then `b` with its length in front. */
function putBytesField(out: Uint8Array, at: number, tag: number, b: Uint8Array): number {
  at = putField(out, at, tag, b.length);
  out.set(b, at);
  return at + b.length;
}

/** writeEntry's bytes at `at`, in room the caller has made; returns the offset after them. */
function putEntry(e: Entry, out: Uint8Array, at: number): number {
  at = putField(out, at, 8, e.type);
  at = putField(out, at, 16, e.term);
  at = putField(out, at, 24, e.index);
  return e.data.length > 0 ? putBytesField(out, at, 34, e.data) : at;
}

// ---------------------------------------------------------------------------
// Messages without a snapshot or responses (appends, their answers,
// heartbeats, votes: all but MsgSnap and the local storage messages) are
// sized first, then written straight into their own array. Through the
// writer, an append's entry data was copied twice (into the writer's buffer,
// then out of it), and a full append at the default maxSizePerMsg (1 MiB of
// entries plus their tags and lengths) passed KEEP_WRITER_BYTES, so each
// one grew a new buffer by doubling from 128 bytes. The bytes are
// writeMessage's, field for field.

/** The encoded size of `m`, which has no snapshot and no responses. */
function flatMessageSize(m: Message): number {
  // Ten one-byte tags for the scalars, one byte for the bool's value.
  let n = 11 + varintSize(m.type) + varintSize(m.to) + varintSize(m.from) + varintSize(m.term) + varintSize(m.logTerm);
  n += varintSize(m.index) + varintSize(m.commit) + varintSize(m.rejectHint) + varintSize(m.vote);
  const entries = m.entries;
  for (let i = 0; i < entries.length; i++) {
    const s = entrySize(entries[i]!);
    n += 1 + varintSize(s) + s;
  }
  const ctx = m.context.length;
  if (ctx > 0) n += 1 + varintSize(ctx) + ctx;
  return n;
}

function encodeFlatMessage(m: Message, headroom: number, pooled: boolean): Uint8Array {
  const size = headroom + flatMessageSize(m);
  const out = pooled ? allocBytes(size) : new Uint8Array(size);
  let at = headroom;
  at = putField(out, at, 8, m.type);
  at = putField(out, at, 16, m.to);
  at = putField(out, at, 24, m.from);
  at = putField(out, at, 32, m.term);
  at = putField(out, at, 40, m.logTerm);
  at = putField(out, at, 48, m.index);
  const entries = m.entries;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    at = putField(out, at, 58, entrySize(e));
    at = putEntry(e, out, at);
  }
  at = putField(out, at, 64, m.commit);
  at = putField(out, at, 80, m.reject === true ? 1 : 0);
  at = putField(out, at, 88, m.rejectHint);
  if (m.context.length > 0) at = putBytesField(out, at, 98, m.context);
  at = putField(out, at, 104, m.vote);
  // A size that missed a byte would leave zeros or drop the tail: never send those.
  if (at !== size) throw encodeError('Message', `wrote ${String(at - headroom)} bytes, sized ${String(size - headroom)}`);
  return out;
}

export function encodeSnapshot(s: Snapshot): Uint8Array {
  checkSnapshot(s);
  const w = startWriting();
  writeSnapshot(w, s, 0);
  return finish(w, 0);
}

export function encodeConfState(cs: ConfState): Uint8Array {
  checkConfState(cs);
  const w = startWriting();
  writeConfState(w, cs, 0);
  return finish(w, 0);
}

export function encodeHardState(hs: HardState): Uint8Array {
  checkHardState(hs);
  const w = startWriting();
  writeHardState(w, hs);
  return finish(w, 0);
}

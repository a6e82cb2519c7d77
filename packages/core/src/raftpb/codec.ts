// The wire codec for the raftpb types: etcd-raft's raft.proto (proto2) run
// through protobufjs, producing exactly the bytes etcd-raft v3.6 sends.
//
// etcd v3.6 marshals with gogoproto, whose non-nullable scalars are always
// written, even when zero. protobufjs writes a proto2 optional field whenever
// the property is present, in field-number order, so the encoder below sets
// every scalar and leaves out only what gogo leaves out:
//   - bytes fields with no data (our zero-length array is etcd's nil slice);
//   - Message.snapshot when undefined (etcd's nil *Snapshot);
//   - repeated fields, which are written element by element (never packed).
//
// Decoding follows protobuf's rules (fields in any order, unknown field
// numbers skipped, last scalar wins, a repeated nested message merged,
// repeated fields appended, packed repeated uint64 accepted as gogo accepts
// it) and fills our zero values for absent fields. Refused with
// ErrMalformedMessage, as etcd v3.6 refuses them: truncated input, lengths
// past the end, varints longer than 10 bytes, field number 0, a stray
// end-group, reserved wire types, and a known field with the wrong wire type.
// Refused where etcd v3.6 (gogo) accepts:
//   - uint64 values above Number.MAX_SAFE_INTEGER. Our terms, indexes and ids
//     are plain numbers; a value we cannot hold exactly is refused, never
//     rounded. The reader below parses uint64 varints itself, so this holds
//     whatever protobufjs's global Long configuration is.
//   - enum values outside our enums, including varints that are not a
//     non-negative int32. gogo stores any varint in an enum field (truncated
//     to int32); protobuf-go (etcd main) keeps an unknown value aside and
//     reads the enum as 0 (MsgHup, EntryNormal, ConfChangeAddNode). Neither
//     fits our typed fields, and reading 0 would change what an entry means,
//     so the whole message is refused. A peer running a newer raft with a new
//     message type therefore gets its messages refused at decoding, where
//     etcd v3.6 would decode them and then ignore the unknown type.
//   - tags and length prefixes written in more than 5 bytes (padded
//     varints, which gogo reads), lengths of 2^31 or more, and field numbers
//     past 2^29-1 (protobufjs reads tags and lengths as 32-bit values and
//     refuses what does not fit rather than truncating it; no encoder writes
//     these, and no real length comes close).
//   - a 10-byte varint above 2^64-1 (gogo drops the high bits; protobuf-go
//     refuses it too), and an end-group tag that does not match its group
//     inside a skipped unknown field (protobufjs checks it, gogo does not).
// Nesting deeper than protobufjs's recursion limit (100) is refused as well.
//
// Decoded byte fields are copies: a decoded value never aliases the input.
import protobuf from 'protobufjs';
import type { Enum as PbEnum, Field as PbField, Long, Type as PbType, Writer as PbWriter } from 'protobufjs';
import { ErrMalformedMessage } from '../errors.js';
import {
  EMPTY_BYTES,
  type ConfChange,
  type ConfChangeSingle,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
  type SnapshotMetadata,
} from './types.js';

// Field numbers and enum values are etcd's raftpb/raft.proto; field names are
// ours (they never reach the wire).
const SCHEMA = `
syntax = "proto2";
package raftpb;

enum EntryType {
  EntryNormal = 0;
  EntryConfChange = 1;
  EntryConfChangeV2 = 2;
}

message Entry {
  optional EntryType type = 1;
  optional uint64 term = 2;
  optional uint64 index = 3;
  optional bytes data = 4;
}

message SnapshotMetadata {
  optional ConfState confState = 1;
  optional uint64 index = 2;
  optional uint64 term = 3;
}

message Snapshot {
  optional bytes data = 1;
  optional SnapshotMetadata metadata = 2;
}

enum MessageType {
  MsgHup = 0;
  MsgBeat = 1;
  MsgProp = 2;
  MsgApp = 3;
  MsgAppResp = 4;
  MsgVote = 5;
  MsgVoteResp = 6;
  MsgSnap = 7;
  MsgHeartbeat = 8;
  MsgHeartbeatResp = 9;
  MsgUnreachable = 10;
  MsgSnapStatus = 11;
  MsgCheckQuorum = 12;
  MsgTransferLeader = 13;
  MsgTimeoutNow = 14;
  MsgReadIndex = 15;
  MsgReadIndexResp = 16;
  MsgPreVote = 17;
  MsgPreVoteResp = 18;
  MsgStorageAppend = 19;
  MsgStorageAppendResp = 20;
  MsgStorageApply = 21;
  MsgStorageApplyResp = 22;
  MsgForgetLeader = 23;
}

message Message {
  optional MessageType type = 1;
  optional uint64 to = 2;
  optional uint64 from = 3;
  optional uint64 term = 4;
  optional uint64 logTerm = 5;
  optional uint64 index = 6;
  repeated Entry entries = 7;
  optional uint64 commit = 8;
  optional Snapshot snapshot = 9;
  optional bool reject = 10;
  optional uint64 rejectHint = 11;
  optional bytes context = 12;
  optional uint64 vote = 13;
  repeated Message responses = 14;
}

message HardState {
  optional uint64 term = 1;
  optional uint64 vote = 2;
  optional uint64 commit = 3;
}

enum ConfChangeTransition {
  ConfChangeTransitionAuto = 0;
  ConfChangeTransitionJointImplicit = 1;
  ConfChangeTransitionJointExplicit = 2;
}

message ConfState {
  repeated uint64 voters = 1;
  repeated uint64 learners = 2;
  repeated uint64 votersOutgoing = 3;
  repeated uint64 learnersNext = 4;
  optional bool autoLeave = 5;
}

enum ConfChangeType {
  ConfChangeAddNode = 0;
  ConfChangeRemoveNode = 1;
  ConfChangeUpdateNode = 2;
  ConfChangeAddLearnerNode = 3;
}

message ConfChange {
  optional uint64 id = 1;
  optional ConfChangeType type = 2;
  optional uint64 nodeId = 3;
  optional bytes context = 4;
}

message ConfChangeSingle {
  optional ConfChangeType type = 1;
  optional uint64 nodeId = 2;
}

message ConfChangeV2 {
  optional ConfChangeTransition transition = 1;
  repeated ConfChangeSingle changes = 2;
  optional bytes context = 3;
}
`;

const root = protobuf.parse(SCHEMA, { keepCase: true }).root;
root.resolveAll();

const T = {
  Entry: root.lookupType('raftpb.Entry'),
  SnapshotMetadata: root.lookupType('raftpb.SnapshotMetadata'),
  Snapshot: root.lookupType('raftpb.Snapshot'),
  Message: root.lookupType('raftpb.Message'),
  HardState: root.lookupType('raftpb.HardState'),
  ConfState: root.lookupType('raftpb.ConfState'),
  ConfChange: root.lookupType('raftpb.ConfChange'),
  ConfChangeSingle: root.lookupType('raftpb.ConfChangeSingle'),
  ConfChangeV2: root.lookupType('raftpb.ConfChangeV2'),
};

const E = {
  EntryType: root.lookupEnum('raftpb.EntryType'),
  MessageType: root.lookupEnum('raftpb.MessageType'),
  ConfChangeTransition: root.lookupEnum('raftpb.ConfChangeTransition'),
  ConfChangeType: root.lookupEnum('raftpb.ConfChangeType'),
};

// ---------------------------------------------------------------------------
// Encoding

/** The plain object handed to protobufjs: a property per field to write. */
type WireObject = Record<string, unknown>;

function encodeError(where: string, what: string): ErrMalformedMessage {
  return new ErrMalformedMessage(`raftpb: cannot encode ${where}: ${what}`);
}

function u64(v: number, where: string): number {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw encodeError(where, `${String(v)} is not an integer in [0, 2^53-1]`);
  }
  return v;
}

function enumValue(v: number, e: PbEnum, where: string): number {
  if (typeof v !== 'number' || e.valuesById[v] === undefined) {
    throw encodeError(where, `${String(v)} is not a ${e.name} value`);
  }
  return v;
}

function ids(vs: readonly number[], where: string): number[] {
  for (let i = 0; i < vs.length; i++) u64(vs[i]!, where);
  return vs as number[];
}

/** Sets a bytes field only when it has data (gogo's `if m.X != nil`). */
function putBytes(w: WireObject, name: string, b: Uint8Array, where: string): void {
  if (!(b instanceof Uint8Array)) throw encodeError(`${where}.${name}`, 'not a Uint8Array');
  if (b.length > 0) w[name] = b;
}

function entryToWire(e: Entry): WireObject {
  const w: WireObject = {
    type: enumValue(e.type, E.EntryType, 'Entry.type'),
    term: u64(e.term, 'Entry.term'),
    index: u64(e.index, 'Entry.index'),
  };
  putBytes(w, 'data', e.data, 'Entry');
  return w;
}

function confStateToWire(cs: ConfState): WireObject {
  return {
    voters: ids(cs.voters, 'ConfState.voters'),
    learners: ids(cs.learners, 'ConfState.learners'),
    votersOutgoing: ids(cs.votersOutgoing, 'ConfState.votersOutgoing'),
    learnersNext: ids(cs.learnersNext, 'ConfState.learnersNext'),
    autoLeave: cs.autoLeave === true,
  };
}

function snapshotToWire(s: Snapshot): WireObject {
  const md = s.metadata;
  const w: WireObject = {
    metadata: {
      confState: confStateToWire(md.confState),
      index: u64(md.index, 'SnapshotMetadata.index'),
      term: u64(md.term, 'SnapshotMetadata.term'),
    },
  };
  putBytes(w, 'data', s.data, 'Snapshot');
  return w;
}

function messageToWire(m: Message): WireObject {
  const w: WireObject = {
    type: enumValue(m.type, E.MessageType, 'Message.type'),
    to: u64(m.to, 'Message.to'),
    from: u64(m.from, 'Message.from'),
    term: u64(m.term, 'Message.term'),
    logTerm: u64(m.logTerm, 'Message.logTerm'),
    index: u64(m.index, 'Message.index'),
    entries: m.entries.map(entryToWire),
    commit: u64(m.commit, 'Message.commit'),
    reject: m.reject === true,
    rejectHint: u64(m.rejectHint, 'Message.rejectHint'),
    vote: u64(m.vote, 'Message.vote'),
    responses: m.responses.map(messageToWire),
  };
  if (m.snapshot !== undefined) w['snapshot'] = snapshotToWire(m.snapshot);
  putBytes(w, 'context', m.context, 'Message');
  return w;
}

function hardStateToWire(hs: HardState): WireObject {
  return {
    term: u64(hs.term, 'HardState.term'),
    vote: u64(hs.vote, 'HardState.vote'),
    commit: u64(hs.commit, 'HardState.commit'),
  };
}

function confChangeToWire(cc: ConfChange): WireObject {
  const w: WireObject = {
    id: u64(cc.id, 'ConfChange.id'),
    type: enumValue(cc.type, E.ConfChangeType, 'ConfChange.type'),
    nodeId: u64(cc.nodeId, 'ConfChange.nodeId'),
  };
  putBytes(w, 'context', cc.context, 'ConfChange');
  return w;
}

function confChangeSingleToWire(c: ConfChangeSingle): WireObject {
  return {
    type: enumValue(c.type, E.ConfChangeType, 'ConfChangeSingle.type'),
    nodeId: u64(c.nodeId, 'ConfChangeSingle.nodeId'),
  };
}

function confChangeV2ToWire(cc: ConfChangeV2): WireObject {
  const w: WireObject = {
    transition: enumValue(cc.transition, E.ConfChangeTransition, 'ConfChangeV2.transition'),
    changes: cc.changes.map(confChangeSingleToWire),
  };
  putBytes(w, 'context', cc.context, 'ConfChangeV2');
  return w;
}

function finish(type: PbType, toWire: () => WireObject): Uint8Array {
  const wire = toWire();
  let w: PbWriter;
  try {
    w = type.encode(wire);
  } catch (e) {
    throw encodeError(type.name, describeError(e));
  }
  // A buffer of its own, exactly sized (protobufjs's finish() may hand out a
  // slice of a shared pool).
  return w.finishInto(new Uint8Array(w.pos));
}

export function encodeEntry(e: Entry): Uint8Array {
  return finish(T.Entry, () => entryToWire(e));
}

export function encodeHardState(hs: HardState): Uint8Array {
  return finish(T.HardState, () => hardStateToWire(hs));
}

export function encodeConfState(cs: ConfState): Uint8Array {
  return finish(T.ConfState, () => confStateToWire(cs));
}

export function encodeSnapshot(s: Snapshot): Uint8Array {
  return finish(T.Snapshot, () => snapshotToWire(s));
}

export function encodeMessage(m: Message): Uint8Array {
  return finish(T.Message, () => messageToWire(m));
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return finish(T.ConfChange, () => confChangeToWire(cc));
}

export function encodeConfChangeV2(cc: ConfChangeV2): Uint8Array {
  return finish(T.ConfChangeV2, () => confChangeV2ToWire(cc));
}

// ---------------------------------------------------------------------------
// Decoding

/** A failure found by our reader; turned into ErrMalformedMessage. */
class DecodeFailure extends Error {}

/** Reads a varint at `pos` exactly, as a bigint (for error messages only). */
function varintBigInt(buf: Uint8Array, pos: number, end: number): { value: bigint; next: number } {
  let value = 0n;
  for (let shift = 0n; pos < end && shift < 70n; shift += 7n) {
    const b = buf[pos++]!;
    value |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) break;
  }
  return { value, next: pos };
}

const MAX_INT32 = 0x7fffffff;

/**
 * A protobufjs reader that keeps unknown fields (so the checks below see
 * wrong wire types and unknown enum values) and reads uint64 and enum varints
 * exactly, independent of protobufjs's Long configuration.
 */
class StrictReader extends protobuf.Reader {
  /** Where the tag of the field being read starts (for error messages). */
  private tagPos = 0;

  constructor(buf: Uint8Array) {
    super(buf);
    this.discardUnknown = false;
  }

  override tag(): number {
    this.tagPos = this.pos;
    return super.tag();
  }

  /**
   * Reads a varint of at most 10 bytes and at most 2^64-1 (a 10th byte above
   * 1 would set bits past 63, or continue to an 11th byte). The result is
   * exact when it is at most 2^53-1, and above 2^53-1 otherwise: each step
   * adds an exact power-of-two multiple, and rounding is monotone.
   */
  private varint(): number {
    const buf = this.buf;
    const end = this.len;
    const start = this.pos;
    let pos = start;
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw new DecodeFailure(`unexpected end of input in a varint at offset ${start}`);
      const b = buf[pos++]!;
      if (i === 9 && b > 1) throw new DecodeFailure(`varint at offset ${start} overflows 64 bits`);
      v += (b & 0x7f) * mul;
      if (b < 0x80) {
        this.pos = pos;
        return v;
      }
      mul *= 128;
    }
    throw new DecodeFailure(`varint at offset ${start} overflows 64 bits`); // not reached
  }

  /** uint64 fields: a safe integer, or ErrMalformedMessage. Never rounded. */
  override uint64(): Long {
    const start = this.pos;
    const v = this.varint();
    if (v > Number.MAX_SAFE_INTEGER) {
      const { value } = varintBigInt(this.buf, start, this.len);
      const field = Number(varintBigInt(this.buf, this.tagPos, this.len).value >> 3n);
      throw new DecodeFailure(
        `uint64 field ${field} at offset ${start} holds ${value}, above Number.MAX_SAFE_INTEGER (2^53-1)`,
      );
    }
    // protobufjs declares Long; our converters expect (and check for) numbers.
    return v as unknown as Long;
  }

  /**
   * int32 is used only for enums here. A value that is not a non-negative
   * int32 becomes -1, which no enum of ours has, so protobufjs files the
   * field under unknown fields and checkUnknowns reports it with its value.
   */
  override int32(): number {
    const v = this.varint();
    return v > MAX_INT32 ? -1 : v;
  }
}

/** What protobufjs hands back: our fields as own properties, plus unknowns. */
type Decoded = Record<string, unknown> & { $unknowns?: Uint8Array[] };

const WIRE_TYPE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32'];

function expectedWireType(f: PbField): number {
  if (f.resolvedType !== null && !(f.resolvedType instanceof protobuf.Enum)) return 2; // message
  return f.type === 'bytes' ? 2 : 0; // bytes, or uint64 / bool / enum varints
}

/**
 * Unknown fields whose number is one of ours are a wrong wire type or an
 * enum value we do not know (protobufjs keeps both aside); truly unknown
 * field numbers are ignored, as protobuf requires.
 */
function checkUnknowns(m: Decoded, type: PbType): void {
  const unknowns = m.$unknowns;
  if (unknowns === undefined) return;
  for (const raw of unknowns) {
    const tag = varintBigInt(raw, 0, raw.length);
    const fieldNo = Number(tag.value >> 3n);
    const wireType = Number(tag.value & 7n);
    const f = type.fieldsById[fieldNo];
    if (f === undefined) continue;
    const name = `${type.name}.${f.name} (field ${fieldNo})`;
    const want = expectedWireType(f);
    if (wireType === want && f.resolvedType instanceof protobuf.Enum) {
      const { value } = varintBigInt(raw, tag.next, raw.length);
      throw new DecodeFailure(`${name}: unknown ${f.resolvedType.name} value ${BigInt.asIntN(64, value)}`);
    }
    throw new DecodeFailure(
      `${name}: wire type ${wireType} (${WIRE_TYPE_NAMES[wireType] ?? 'invalid'}), expected ${want} (${WIRE_TYPE_NAMES[want]})`,
    );
  }
}

function has(m: Decoded, name: string): boolean {
  return Object.hasOwn(m, name);
}

/** uint64 or enum field; absent means zero. */
function num(m: Decoded, name: string, type: PbType): number {
  if (!has(m, name)) return 0;
  const v = m[name];
  if (typeof v !== 'number') throw new DecodeFailure(`${type.name}.${name}: unexpected decoded value`);
  return v;
}

function bool(m: Decoded, name: string): boolean {
  return has(m, name) && m[name] === true;
}

/** A copy of a bytes field, or EMPTY_BYTES when absent or empty. */
function bytes(m: Decoded, name: string): Uint8Array {
  if (!has(m, name)) return EMPTY_BYTES;
  const v = m[name] as Uint8Array;
  return v.length === 0 ? EMPTY_BYTES : new Uint8Array(v);
}

function numList(m: Decoded, name: string, type: PbType): number[] {
  const v = has(m, name) ? (m[name] as unknown[]) : [];
  for (const x of v) {
    if (typeof x !== 'number') throw new DecodeFailure(`${type.name}.${name}: unexpected decoded value`);
  }
  return v as number[];
}

function list(m: Decoded, name: string): Decoded[] {
  return has(m, name) ? (m[name] as Decoded[]) : [];
}

function entryFromWire(m: Decoded): Entry {
  checkUnknowns(m, T.Entry);
  return {
    term: num(m, 'term', T.Entry),
    index: num(m, 'index', T.Entry),
    type: num(m, 'type', T.Entry),
    data: bytes(m, 'data'),
  };
}

function confStateFromWire(m: Decoded | undefined): ConfState {
  if (m === undefined) return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  checkUnknowns(m, T.ConfState);
  return {
    voters: numList(m, 'voters', T.ConfState),
    learners: numList(m, 'learners', T.ConfState),
    votersOutgoing: numList(m, 'votersOutgoing', T.ConfState),
    learnersNext: numList(m, 'learnersNext', T.ConfState),
    autoLeave: bool(m, 'autoLeave'),
  };
}

function snapshotMetadataFromWire(m: Decoded | undefined): SnapshotMetadata {
  if (m === undefined) return { confState: confStateFromWire(undefined), index: 0, term: 0 };
  checkUnknowns(m, T.SnapshotMetadata);
  return {
    confState: confStateFromWire(has(m, 'confState') ? (m['confState'] as Decoded) : undefined),
    index: num(m, 'index', T.SnapshotMetadata),
    term: num(m, 'term', T.SnapshotMetadata),
  };
}

function snapshotFromWire(m: Decoded): Snapshot {
  checkUnknowns(m, T.Snapshot);
  return {
    data: bytes(m, 'data'),
    metadata: snapshotMetadataFromWire(has(m, 'metadata') ? (m['metadata'] as Decoded) : undefined),
  };
}

function messageFromWire(m: Decoded): Message {
  checkUnknowns(m, T.Message);
  const out: Message = {
    type: num(m, 'type', T.Message),
    to: num(m, 'to', T.Message),
    from: num(m, 'from', T.Message),
    term: num(m, 'term', T.Message),
    logTerm: num(m, 'logTerm', T.Message),
    index: num(m, 'index', T.Message),
    entries: list(m, 'entries').map(entryFromWire),
    commit: num(m, 'commit', T.Message),
    vote: num(m, 'vote', T.Message),
    reject: bool(m, 'reject'),
    rejectHint: num(m, 'rejectHint', T.Message),
    context: bytes(m, 'context'),
    responses: list(m, 'responses').map(messageFromWire),
  };
  if (has(m, 'snapshot')) out.snapshot = snapshotFromWire(m['snapshot'] as Decoded);
  return out;
}

function hardStateFromWire(m: Decoded): HardState {
  checkUnknowns(m, T.HardState);
  return { term: num(m, 'term', T.HardState), vote: num(m, 'vote', T.HardState), commit: num(m, 'commit', T.HardState) };
}

function confChangeFromWire(m: Decoded): ConfChange {
  checkUnknowns(m, T.ConfChange);
  return {
    type: num(m, 'type', T.ConfChange),
    nodeId: num(m, 'nodeId', T.ConfChange),
    context: bytes(m, 'context'),
    id: num(m, 'id', T.ConfChange),
  };
}

function confChangeSingleFromWire(m: Decoded): ConfChangeSingle {
  checkUnknowns(m, T.ConfChangeSingle);
  return { type: num(m, 'type', T.ConfChangeSingle), nodeId: num(m, 'nodeId', T.ConfChangeSingle) };
}

function confChangeV2FromWire(m: Decoded): ConfChangeV2 {
  checkUnknowns(m, T.ConfChangeV2);
  return {
    transition: num(m, 'transition', T.ConfChangeV2),
    changes: list(m, 'changes').map(confChangeSingleFromWire),
    context: bytes(m, 'context'),
  };
}

function describeError(e: unknown): string {
  if (e instanceof DecodeFailure) return e.message;
  const msg = e instanceof Error ? e.message : String(e);
  if (msg.startsWith('index out of range')) return `truncated input or length past the end (${msg})`;
  return msg;
}

function decode<R>(type: PbType, b: Uint8Array, convert: (m: Decoded) => R): R {
  if (!(b instanceof Uint8Array)) {
    throw new ErrMalformedMessage(`raftpb: cannot decode ${type.name}: input is not a Uint8Array`);
  }
  try {
    return convert(type.decode(new StrictReader(b)) as unknown as Decoded);
  } catch (e) {
    const err = new ErrMalformedMessage(`raftpb: cannot decode ${type.name}: ${describeError(e)}`);
    err.cause = e;
    throw err;
  }
}

export function decodeEntry(b: Uint8Array): Entry {
  return decode(T.Entry, b, entryFromWire);
}

export function decodeHardState(b: Uint8Array): HardState {
  return decode(T.HardState, b, hardStateFromWire);
}

export function decodeConfState(b: Uint8Array): ConfState {
  return decode(T.ConfState, b, confStateFromWire);
}

export function decodeSnapshot(b: Uint8Array): Snapshot {
  return decode(T.Snapshot, b, snapshotFromWire);
}

export function decodeMessage(b: Uint8Array): Message {
  return decode(T.Message, b, messageFromWire);
}

export function decodeConfChange(b: Uint8Array): ConfChange {
  return decode(T.ConfChange, b, confChangeFromWire);
}

export function decodeConfChangeV2(b: Uint8Array): ConfChangeV2 {
  return decode(T.ConfChangeV2, b, confChangeV2FromWire);
}

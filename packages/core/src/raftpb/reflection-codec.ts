// The raftpb codec through protobufjs reflection: etcd-raft's raft.proto
// (proto2) parsed at load time, encoded from and decoded into plain objects,
// then converted to and from our types. This was the codec; the direct one
// (message-encoder.ts, message-decoder.ts) replaced it for the hot types and
// is tested against it byte for byte and decision for decision
// (test/codec-differential.test.ts). It still encodes and decodes
// ConfChange and ConfChangeV2, which are rare. The rules it follows are
// listed in codec.ts. Not re-exported by index.ts: import it only from
// codec.ts and tests.
import protobuf from 'protobufjs';
import type { Enum as PbEnum, Field as PbField, Type as PbType, Writer as PbWriter } from 'protobufjs';
import { describeError, encodeError, notBytesError, decodeError, WIRE_TYPE_NAMES } from './codec-errors.js';
import { DecodeFailure, StrictReader, varintBigInt } from './wire-reader.js';
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

/** What protobufjs hands back: our fields as own properties, plus unknowns. */
type Decoded = Record<string, unknown> & { $unknowns?: Uint8Array[] };

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

function decode<R>(type: PbType, b: Uint8Array, convert: (m: Decoded) => R): R {
  if (!(b instanceof Uint8Array)) throw notBytesError(type.name);
  try {
    return convert(type.decode(new StrictReader(b)) as unknown as Decoded);
  } catch (e) {
    throw decodeError(type.name, e);
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

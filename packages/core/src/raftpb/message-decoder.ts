// The direct raftpb decoder: reads Message, Entry, Snapshot, ConfState and
// HardState straight into our types through protobufjs's Reader primitives,
// as protobufjs's static code generation does, with no plain object in
// between.
//
// It makes the reflection decoder's decisions (reflection-codec.ts, the
// reference; test/codec-differential.test.ts holds them together), and
// reports the same fault when there are several:
//   - malformed bytes (truncation, bad varints, tags and lengths, unsafe
//     uint64s, depth) throw at once, in input order, from the same reader
//     calls protobufjs's generated decoder makes, in the same order;
//   - a known field with the wrong wire type, or an unknown enum value, is
//     skipped as protobufjs skips it and refused once the whole input has
//     been read, the first one in the order the reflection decoder converts:
//     a message's own fields, then its entries, its responses, its snapshot
//     (the snapshot's own fields, then its metadata's, then its conf
//     state's).
// Byte fields are read as offsets and become views of one copy of the whole
// input, made when the first non-empty one is built.
import protobuf from 'protobufjs';
import { decodeError, notBytesError, WIRE_TYPE_NAMES } from './codec-errors.js';
import { copyBytes } from './byte-slab.js';
import {
  EMPTY_BYTES,
  EntryType,
  MessageType,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
} from './types.js';
import { DecodeFailure, StrictReader, varintBigInt } from './wire-reader.js';

// ---------------------------------------------------------------------------
// What a refused field is called (field numbers and names as in
// reflection-codec.ts's schema)

interface FieldDesc {
  readonly name: string;
  readonly wireType: number;
  readonly enumName?: string;
}

interface TypeDesc {
  readonly name: string;
  /** By field number. */
  readonly fields: readonly (FieldDesc | undefined)[];
}

const VARINT = 0;
const LEN = 2;

function typeDesc(name: string, fields: FieldDesc[]): TypeDesc {
  return { name, fields: [undefined, ...fields] };
}

const MESSAGE = typeDesc('Message', [
  { name: 'type', wireType: VARINT, enumName: 'MessageType' },
  { name: 'to', wireType: VARINT },
  { name: 'from', wireType: VARINT },
  { name: 'term', wireType: VARINT },
  { name: 'logTerm', wireType: VARINT },
  { name: 'index', wireType: VARINT },
  { name: 'entries', wireType: LEN },
  { name: 'commit', wireType: VARINT },
  { name: 'snapshot', wireType: LEN },
  { name: 'reject', wireType: VARINT },
  { name: 'rejectHint', wireType: VARINT },
  { name: 'context', wireType: LEN },
  { name: 'vote', wireType: VARINT },
  { name: 'responses', wireType: LEN },
]);
const ENTRY = typeDesc('Entry', [
  { name: 'type', wireType: VARINT, enumName: 'EntryType' },
  { name: 'term', wireType: VARINT },
  { name: 'index', wireType: VARINT },
  { name: 'data', wireType: LEN },
]);
const SNAPSHOT = typeDesc('Snapshot', [
  { name: 'data', wireType: LEN },
  { name: 'metadata', wireType: LEN },
]);
const SNAPSHOT_METADATA = typeDesc('SnapshotMetadata', [
  { name: 'confState', wireType: LEN },
  { name: 'index', wireType: VARINT },
  { name: 'term', wireType: VARINT },
]);
const CONF_STATE = typeDesc('ConfState', [
  { name: 'voters', wireType: VARINT },
  { name: 'learners', wireType: VARINT },
  { name: 'votersOutgoing', wireType: VARINT },
  { name: 'learnersNext', wireType: VARINT },
  { name: 'autoLeave', wireType: VARINT },
]);
const HARD_STATE = typeDesc('HardState', [
  { name: 'term', wireType: VARINT },
  { name: 'vote', wireType: VARINT },
  { name: 'commit', wireType: VARINT },
]);

const MESSAGE_TYPES = MessageType.MsgForgetLeader + 1;
const ENTRY_TYPES = EntryType.EntryConfChangeV2 + 1;

/**
 * Why the known field at buf[start, end) is refused: its wire type, or (with
 * the right wire type, for an enum) its value. The reflection decoder's
 * words, read from the raw field as it reads them.
 */
function fieldFailure(type: TypeDesc, buf: Uint8Array, start: number, end: number): DecodeFailure {
  const tag = varintBigInt(buf, start, end);
  const fieldNo = Number(tag.value >> 3n);
  const wireType = Number(tag.value & 7n);
  const f = type.fields[fieldNo]!;
  const name = `${type.name}.${f.name} (field ${fieldNo})`;
  if (wireType === f.wireType && f.enumName !== undefined) {
    const { value } = varintBigInt(buf, tag.next, end);
    return new DecodeFailure(`${name}: unknown ${f.enumName} value ${BigInt.asIntN(64, value)}`);
  }
  return new DecodeFailure(
    `${name}: wire type ${wireType} (${WIRE_TYPE_NAMES[wireType] ?? 'invalid'}), expected ${f.wireType} (${WIRE_TYPE_NAMES[f.wireType]})`,
  );
}

function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

/**
 * A snapshot being read: a repeated snapshot field merges into the one
 * before it (scalars and data last-wins, metadata merged, ids appended), so
 * it is built up over every occurrence, with the first refusal found in
 * each of its three levels.
 */
class SnapshotParts {
  dataStart = 0;
  dataEnd = 0;
  index = 0;
  term = 0;
  readonly confState = emptyConfState();
  failure: DecodeFailure | undefined = undefined;
  metadataFailure: DecodeFailure | undefined = undefined;
  confStateFailure: DecodeFailure | undefined = undefined;

  build(d: Decoding): Snapshot {
    return {
      data: d.bytes(this.dataStart, this.dataEnd),
      metadata: { confState: this.confState, index: this.index, term: this.term },
    };
  }

  firstFailure(): DecodeFailure | undefined {
    return this.failure ?? this.metadataFailure ?? this.confStateFailure;
  }
}

/** One decoding: the reader, and the refusal a nested value leaves for its parent. */
class Decoding {
  readonly r: StrictReader;
  /** The first refused field in the value just read (own first, then nested), not yet reported. */
  pending: DecodeFailure | undefined = undefined;
  private readonly maxDepth = protobuf.Reader.recursionLimit;
  /** The buffer holding the copy of the input that byte fields view, once one is needed. */
  private copy: ArrayBuffer | undefined = undefined;
  /** Where in `copy` the input starts. */
  private copyStart = 0;

  constructor(b: Uint8Array) {
    this.r = new StrictReader(b);
  }

  /**
   * The bytes at input[start, end), as a view of one copy of the whole input:
   * one copy per decoding rather than one per byte field (a copy's fixed
   * cost is several times that of a typical entry's bytes), and never the
   * input itself.
   */
  bytes(start: number, end: number): Uint8Array {
    if (start === end) return EMPTY_BYTES;
    if (this.copy === undefined) {
      const input = this.r.buf;
      const copy = copyBytes(input, 0, input.length);
      this.copy = copy.buffer as ArrayBuffer;
      this.copyStart = copy.byteOffset;
    }
    return new Uint8Array(this.copy, this.copyStart + start, end - start);
  }

  /**
   * Enters a length-delimited nested value at `depth`, as protobufjs's
   * generated decode(r, r.size(), ...) does; returns the enclosing limit.
   */
  private enter(depth: number): number {
    const r = this.r;
    const l = r.size();
    if (depth > this.maxDepth) throw new Error('max depth exceeded');
    const end = r.pos + l;
    if (end > r.len) throw new RangeError('index out of range');
    const outer = r.len;
    r.len = end;
    return outer;
  }

  private leave(outer: number): void {
    const r = this.r;
    if (r.pos !== r.len) throw new RangeError('index out of range');
    r.len = outer;
  }

  /** Reads a bytes field's length and skips its bytes; returns where they start. */
  private bytesStart(): number {
    const r = this.r;
    const n = r.size();
    const start = r.pos;
    r.skip(n);
    return start;
  }

  message(depth: number): Message {
    const r = this.r;
    let type = 0;
    let to = 0;
    let from = 0;
    let term = 0;
    let logTerm = 0;
    let index = 0;
    let commit = 0;
    let vote = 0;
    let rejectHint = 0;
    let reject = false;
    let contextStart = 0;
    let contextEnd = 0;
    const entries: Entry[] = [];
    const responses: Message[] = [];
    let snapshot: SnapshotParts | undefined;
    let failure: DecodeFailure | undefined;
    let entriesFailure: DecodeFailure | undefined;
    let responsesFailure: DecodeFailure | undefined;
    while (r.pos < r.len) {
      const start = r.pos;
      const t = r.tag();
      const wireType = t & 7;
      const field = t >>> 3;
      switch (field) {
        case 1: {
          if (wireType !== VARINT) break;
          const v = r.int32();
          if (v >= 0 && v < MESSAGE_TYPES) type = v;
          else failure ??= fieldFailure(MESSAGE, r.buf, start, r.pos);
          continue;
        }
        case 2:
          if (wireType !== VARINT) break;
          to = r.safeUint64();
          continue;
        case 3:
          if (wireType !== VARINT) break;
          from = r.safeUint64();
          continue;
        case 4:
          if (wireType !== VARINT) break;
          term = r.safeUint64();
          continue;
        case 5:
          if (wireType !== VARINT) break;
          logTerm = r.safeUint64();
          continue;
        case 6:
          if (wireType !== VARINT) break;
          index = r.safeUint64();
          continue;
        case 7: {
          if (wireType !== LEN) break;
          const outer = this.enter(depth + 1);
          entries.push(this.entry(depth + 1));
          this.leave(outer);
          if (this.pending !== undefined) {
            entriesFailure ??= this.pending;
            this.pending = undefined;
          }
          continue;
        }
        case 8:
          if (wireType !== VARINT) break;
          commit = r.safeUint64();
          continue;
        case 9: {
          if (wireType !== LEN) break;
          const outer = this.enter(depth + 1);
          snapshot ??= new SnapshotParts();
          this.snapshotInto(snapshot, depth + 1);
          this.leave(outer);
          continue;
        }
        case 10:
          if (wireType !== VARINT) break;
          reject = r.bool();
          continue;
        case 11:
          if (wireType !== VARINT) break;
          rejectHint = r.safeUint64();
          continue;
        case 12:
          if (wireType !== LEN) break;
          contextStart = this.bytesStart();
          contextEnd = r.pos;
          continue;
        case 13:
          if (wireType !== VARINT) break;
          vote = r.safeUint64();
          continue;
        case 14: {
          if (wireType !== LEN) break;
          const outer = this.enter(depth + 1);
          responses.push(this.message(depth + 1));
          this.leave(outer);
          if (this.pending !== undefined) {
            responsesFailure ??= this.pending;
            this.pending = undefined;
          }
          continue;
        }
      }
      r.skipType(wireType, depth, field);
      if (field <= 14) failure ??= fieldFailure(MESSAGE, r.buf, start, r.pos);
    }
    // blankMessage's fields in blankMessage's order: the shape raft's own messages have.
    const m: Message = {
      to,
      from,
      term,
      logTerm,
      index,
      entries,
      commit,
      vote,
      reject,
      rejectHint,
      context: this.bytes(contextStart, contextEnd),
      responses,
      type,
    };
    if (snapshot !== undefined) m.snapshot = snapshot.build(this);
    this.pending = failure ?? entriesFailure ?? responsesFailure ?? snapshot?.firstFailure();
    return m;
  }

  /** An entry; with `withData` false its data is checked but not copied (EMPTY_BYTES in its place). */
  entry(depth: number, withData = true): Entry {
    const r = this.r;
    let type = 0;
    let term = 0;
    let index = 0;
    let dataStart = 0;
    let dataEnd = 0;
    let failure: DecodeFailure | undefined;
    while (r.pos < r.len) {
      const start = r.pos;
      const t = r.tag();
      const wireType = t & 7;
      const field = t >>> 3;
      switch (field) {
        case 1: {
          if (wireType !== VARINT) break;
          const v = r.int32();
          if (v >= 0 && v < ENTRY_TYPES) type = v;
          else failure ??= fieldFailure(ENTRY, r.buf, start, r.pos);
          continue;
        }
        case 2:
          if (wireType !== VARINT) break;
          term = r.safeUint64();
          continue;
        case 3:
          if (wireType !== VARINT) break;
          index = r.safeUint64();
          continue;
        case 4:
          if (wireType !== LEN) break;
          dataStart = this.bytesStart();
          dataEnd = r.pos;
          continue;
      }
      r.skipType(wireType, depth, field);
      if (field <= 4) failure ??= fieldFailure(ENTRY, r.buf, start, r.pos);
    }
    this.pending = failure;
    return { term, index, type, data: withData ? this.bytes(dataStart, dataEnd) : EMPTY_BYTES };
  }

  snapshotInto(p: SnapshotParts, depth: number): void {
    const r = this.r;
    while (r.pos < r.len) {
      const start = r.pos;
      const t = r.tag();
      const wireType = t & 7;
      const field = t >>> 3;
      switch (field) {
        case 1:
          if (wireType !== LEN) break;
          p.dataStart = this.bytesStart();
          p.dataEnd = r.pos;
          continue;
        case 2: {
          if (wireType !== LEN) break;
          const outer = this.enter(depth + 1);
          this.metadataInto(p, depth + 1);
          this.leave(outer);
          continue;
        }
      }
      r.skipType(wireType, depth, field);
      if (field <= 2) p.failure ??= fieldFailure(SNAPSHOT, r.buf, start, r.pos);
    }
  }

  private metadataInto(p: SnapshotParts, depth: number): void {
    const r = this.r;
    while (r.pos < r.len) {
      const start = r.pos;
      const t = r.tag();
      const wireType = t & 7;
      const field = t >>> 3;
      switch (field) {
        case 1: {
          if (wireType !== LEN) break;
          const outer = this.enter(depth + 1);
          const failure = this.confStateInto(p.confState, depth + 1);
          this.leave(outer);
          p.confStateFailure ??= failure;
          continue;
        }
        case 2:
          if (wireType !== VARINT) break;
          p.index = r.safeUint64();
          continue;
        case 3:
          if (wireType !== VARINT) break;
          p.term = r.safeUint64();
          continue;
      }
      r.skipType(wireType, depth, field);
      if (field <= 3) p.metadataFailure ??= fieldFailure(SNAPSHOT_METADATA, r.buf, start, r.pos);
    }
  }

  /** Reads a conf state into `cs` (ids appended, packed or not); returns its first refused field. */
  confStateInto(cs: ConfState, depth: number): DecodeFailure | undefined {
    const r = this.r;
    let failure: DecodeFailure | undefined;
    while (r.pos < r.len) {
      const start = r.pos;
      const t = r.tag();
      const wireType = t & 7;
      const field = t >>> 3;
      let ids: number[] | undefined;
      switch (field) {
        case 1:
          ids = cs.voters;
          break;
        case 2:
          ids = cs.learners;
          break;
        case 3:
          ids = cs.votersOutgoing;
          break;
        case 4:
          ids = cs.learnersNext;
          break;
        case 5:
          if (wireType !== VARINT) break;
          cs.autoLeave = r.bool();
          continue;
      }
      if (ids !== undefined) {
        if (wireType === LEN) {
          // Packed, as gogo accepts it; uint64s reads each value through safeUint64.
          r.uint64s(ids as unknown as protobuf.Long[]);
          continue;
        }
        if (wireType === VARINT) {
          ids.push(r.safeUint64());
          continue;
        }
      }
      r.skipType(wireType, depth, field);
      if (field <= 5) failure ??= fieldFailure(CONF_STATE, r.buf, start, r.pos);
    }
    return failure;
  }

  hardState(depth: number): HardState {
    const r = this.r;
    let term = 0;
    let vote = 0;
    let commit = 0;
    let failure: DecodeFailure | undefined;
    while (r.pos < r.len) {
      const start = r.pos;
      const t = r.tag();
      const wireType = t & 7;
      const field = t >>> 3;
      switch (field) {
        case 1:
          if (wireType !== VARINT) break;
          term = r.safeUint64();
          continue;
        case 2:
          if (wireType !== VARINT) break;
          vote = r.safeUint64();
          continue;
        case 3:
          if (wireType !== VARINT) break;
          commit = r.safeUint64();
          continue;
      }
      r.skipType(wireType, depth, field);
      if (field <= 3) failure ??= fieldFailure(HARD_STATE, r.buf, start, r.pos);
    }
    this.pending = failure;
    return { term, vote, commit };
  }
}

/** Runs `read` over all of `b` and reports what it refused as ErrMalformedMessage. */
function decodeWith<T>(typeName: string, b: Uint8Array, read: (d: Decoding) => T): T {
  if (!(b instanceof Uint8Array)) throw notBytesError(typeName);
  try {
    const d = new Decoding(b);
    const value = read(d);
    if (d.pending !== undefined) throw d.pending;
    return value;
  } catch (e) {
    throw decodeError(typeName, e);
  }
}

const readMessage = (d: Decoding): Message => d.message(0);
const readEntry = (d: Decoding): Entry => d.entry(0);
// The entry itself, its data left empty, is the pair: no second object per entry.
const readEntryTermIndex = (d: Decoding): { term: number; index: number } => d.entry(0, false);
const readHardState = (d: Decoding): HardState => d.hardState(0);

function readSnapshot(d: Decoding): Snapshot {
  const p = new SnapshotParts();
  d.snapshotInto(p, 0);
  d.pending = p.firstFailure();
  return p.build(d);
}

function readConfState(d: Decoding): ConfState {
  const cs = emptyConfState();
  d.pending = d.confStateInto(cs, 0);
  return cs;
}

export function decodeMessage(b: Uint8Array): Message {
  return decodeWith('Message', b, readMessage);
}

export function decodeEntry(b: Uint8Array): Entry {
  return decodeWith('Entry', b, readEntry);
}

/**
 * An encoded entry's term and index, for a store that must know where an
 * entry sits in the log before deciding to keep it (a WAL replay skipping
 * what a snapshot covers). Refuses exactly what decodeEntry refuses, with
 * the same error, but copies none of the entry's data.
 */
export function decodeEntryTermIndex(b: Uint8Array): { term: number; index: number } {
  return decodeWith('Entry', b, readEntryTermIndex);
}

export function decodeSnapshot(b: Uint8Array): Snapshot {
  return decodeWith('Snapshot', b, readSnapshot);
}

export function decodeConfState(b: Uint8Array): ConfState {
  return decodeWith('ConfState', b, readConfState);
}

export function decodeHardState(b: Uint8Array): HardState {
  return decodeWith('HardState', b, readHardState);
}

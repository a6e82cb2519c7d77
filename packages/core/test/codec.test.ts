import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { ErrMalformedMessage, RaftPanic } from '../src/errors.js';
import {
  decodeConfChange,
  decodeConfChangeV2,
  decodeConfState,
  decodeEntry,
  decodeHardState,
  decodeMessage,
  decodeSnapshot,
  encodeConfChange,
  encodeConfChangeV2,
  encodeConfState,
  encodeEntry,
  encodeHardState,
  encodeMessage,
} from '../src/raftpb/codec.js';
import {
  confChangeAsV1,
  confChangeAsV2,
  enterJoint,
  isConfChangeV2,
  leaveJoint,
  marshalConfChange,
} from '../src/raftpb/confchange.js';
import { confStateEquivalent } from '../src/raftpb/confstate.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EMPTY_BYTES,
  EntryType,
  MessageType,
  newConfChange,
  newConfChangeV2,
  newConfState,
  newEntry,
  newHardState,
  newMessage,
  newSnapshot,
  type ConfChange,
  type ConfChangeSingle,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
} from '../src/raftpb/types.js';
import { entrySize } from '../src/util/sizes.js';
import { raftpbCodecs } from './helpers/raftpb-codecs.js';
import { RaftpbDraws } from './helpers/raftpb-draws.js';
import { concat, fromHex, toHex } from './helpers/wire-bytes.js';

// The bytes in fixtures/etcd-raftpb-v3.6.json were produced by etcd-raft v3.6.0's raftpb marshaller (gogoproto Marshal).

// ---------------------------------------------------------------------------
// Fixture descriptions -> our values

type BytesDesc = string | { repeat: string; times: number };
interface EntryDesc { term?: number; index?: number; type?: string; data?: BytesDesc }
interface HardStateDesc { term?: number; vote?: number; commit?: number }
interface ConfStateDesc { voters?: number[]; learners?: number[]; votersOutgoing?: number[]; learnersNext?: number[]; autoLeave?: boolean }
interface SnapshotDesc { data?: BytesDesc; metadata?: { confState?: ConfStateDesc; index?: number; term?: number } }
interface MessageDesc {
  type?: string; to?: number; from?: number; term?: number; logTerm?: number; index?: number; entries?: EntryDesc[];
  commit?: number; vote?: number; snapshot?: SnapshotDesc; reject?: boolean; rejectHint?: number; context?: BytesDesc;
  responses?: MessageDesc[];
}
interface ConfChangeDesc { type?: string; nodeId?: number; context?: BytesDesc; id?: number }
interface ConfChangeV2Desc { transition?: string; changes?: { type?: string; nodeId?: number }[]; context?: BytesDesc }

interface Vector { name: string; kind: Kind; value: unknown; hex: string; decodeOnly?: boolean; note?: string }
interface MarshalVector { name: string; kind: 'ConfChange' | 'ConfChangeV2'; value: unknown; entryType: string; hex: string }
interface Fixture { source: string; vectors: Vector[]; marshalConfChange: MarshalVector[] }

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/etcd-raftpb-v3.6.json', import.meta.url), 'utf8'),
) as Fixture;

function bytesOf(d: BytesDesc | undefined): Uint8Array {
  if (d === undefined) return EMPTY_BYTES;
  if (typeof d === 'string') return fromHex(d);
  return fromHex(d.repeat.repeat(d.times));
}

function enumOf<E extends Record<string, string | number>>(e: E, name: string | undefined): number {
  if (name === undefined) return 0;
  const v = e[name];
  if (typeof v !== 'number') throw new Error(`unknown enum name ${name}`);
  return v;
}

function entryOf(d: EntryDesc): Entry {
  return newEntry({ term: d.term ?? 0, index: d.index ?? 0, type: enumOf(EntryType, d.type), data: bytesOf(d.data) });
}

function hardStateOf(d: HardStateDesc): HardState {
  return newHardState({ term: d.term ?? 0, vote: d.vote ?? 0, commit: d.commit ?? 0 });
}

function confStateOf(d: ConfStateDesc | undefined): ConfState {
  return newConfState({
    voters: d?.voters ?? [],
    learners: d?.learners ?? [],
    votersOutgoing: d?.votersOutgoing ?? [],
    learnersNext: d?.learnersNext ?? [],
    autoLeave: d?.autoLeave ?? false,
  });
}

function snapshotOf(d: SnapshotDesc): Snapshot {
  return newSnapshot({
    data: bytesOf(d.data),
    metadata: { confState: confStateOf(d.metadata?.confState), index: d.metadata?.index ?? 0, term: d.metadata?.term ?? 0 },
  });
}

function messageOf(d: MessageDesc): Message {
  const m = newMessage({
    type: enumOf(MessageType, d.type),
    to: d.to ?? 0,
    from: d.from ?? 0,
    term: d.term ?? 0,
    logTerm: d.logTerm ?? 0,
    index: d.index ?? 0,
    entries: (d.entries ?? []).map(entryOf),
    commit: d.commit ?? 0,
    vote: d.vote ?? 0,
    reject: d.reject ?? false,
    rejectHint: d.rejectHint ?? 0,
    context: bytesOf(d.context),
    responses: (d.responses ?? []).map(messageOf),
  });
  if (d.snapshot !== undefined) m.snapshot = snapshotOf(d.snapshot);
  return m;
}

function confChangeOf(d: ConfChangeDesc): ConfChange {
  return newConfChange({ type: enumOf(ConfChangeType, d.type), nodeId: d.nodeId ?? 0, context: bytesOf(d.context), id: d.id ?? 0 });
}

function confChangeV2Of(d: ConfChangeV2Desc): ConfChangeV2 {
  return newConfChangeV2({
    transition: enumOf(ConfChangeTransition, d.transition),
    changes: (d.changes ?? []).map((c) => ({ type: enumOf(ConfChangeType, c.type), nodeId: c.nodeId ?? 0 })),
    context: bytesOf(d.context),
  });
}

interface Codec<T> {
  build(d: unknown): T;
  encode(v: T): Uint8Array;
  decode(b: Uint8Array): T;
}

function codec<T>(build: (d: never) => T, { encode, decode }: Omit<Codec<T>, 'build'>): Codec<T> {
  return { build: build as (d: unknown) => T, encode, decode };
}

const codecs = {
  Entry: codec(entryOf, raftpbCodecs.Entry),
  HardState: codec(hardStateOf, raftpbCodecs.HardState),
  ConfState: codec(confStateOf, raftpbCodecs.ConfState),
  Snapshot: codec(snapshotOf, raftpbCodecs.Snapshot),
  Message: codec(messageOf, raftpbCodecs.Message),
  ConfChange: codec(confChangeOf, raftpbCodecs.ConfChange),
  ConfChangeV2: codec(confChangeV2Of, raftpbCodecs.ConfChangeV2),
};
type Kind = keyof typeof codecs;
const decoders: [Kind, (b: Uint8Array) => unknown][] = Object.entries(codecs).map(([k, c]) => [k as Kind, c.decode]);

// ---------------------------------------------------------------------------
// Seeded randomness

class Gen extends RaftpbDraws {
  protected readonly specialU64s = [0, 1, 127, 128, 16383, 16384, 2 ** 21, 2 ** 28 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 49, 2 ** 52, Number.MAX_SAFE_INTEGER];
  protected readonly snapshotChance = 0.3;
  protected size(): number {
    const r = this.int(40);
    return r < 16 ? 0 : r < 32 ? this.int(20) : r < 39 ? 100 + this.int(300) : 16000 + this.int(1000);
  }
  protected entryCount(): number {
    return this.int(4);
  }
  protected responseCount(depth: number): number {
    return depth < 2 ? this.int(3) : 0;
  }
  confChange(): ConfChange {
    return { type: this.int(4), nodeId: this.u64(), context: this.bytes(), id: this.u64() };
  }
  confChangeSingle(): ConfChangeSingle {
    return { type: this.int(4), nodeId: this.u64() };
  }
  confChangeV2(): ConfChangeV2 {
    return { transition: this.int(3), changes: Array.from({ length: this.int(5) }, () => this.confChangeSingle()), context: this.bytes() };
  }
}

// ---------------------------------------------------------------------------
// Wire-level helpers for the order/unknown-field tests

/** Splits an encoding into its top-level fields (tag through value). */
function splitFields(b: Uint8Array): { field: number; raw: Uint8Array }[] {
  const out: { field: number; raw: Uint8Array }[] = [];
  let pos = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (pos >= b.length) throw new Error('splitFields: truncated varint');
      const x = b[pos++]!;
      v += (x & 0x7f) * mul;
      mul *= 128;
      if (x < 0x80) return v;
    }
  };
  while (pos < b.length) {
    const start = pos;
    const tag = varint();
    const wt = tag % 8;
    if (wt === 0) varint();
    else if (wt === 2) {
      const n = varint();
      pos += n;
    } else throw new Error(`splitFields: unexpected wire type ${wt}`);
    if (pos > b.length) throw new Error('splitFields: truncated field');
    out.push({ field: Math.floor(tag / 8), raw: b.subarray(start, pos) });
  }
  return out;
}

/** A random interleaving of the fields that keeps each field's own order. */
function shuffleFields(g: Gen, b: Uint8Array): Uint8Array {
  const queues = new Map<number, Uint8Array[]>();
  for (const f of splitFields(b)) {
    const q = queues.get(f.field) ?? [];
    q.push(f.raw);
    queues.set(f.field, q);
  }
  const parts: Uint8Array[] = [];
  const live = [...queues.values()];
  while (live.length > 0) {
    const i = g.int(live.length);
    parts.push(live[i]!.shift()!);
    if (live[i]!.length === 0) live.splice(i, 1);
  }
  return concat(...parts);
}

const UNKNOWN_FIELDS = [
  'f80101', // field 1000, varint 1
  'a80600', // field 101 (varint) = 0
  'b206036162ff', // field 102, length-delimited "ab\xff"
  'b9060102030405060708', // field 103, fixed64
  'c5060a0b0c0d', // field 104, fixed32
  'cb06d006ffffffffffffffffff01cc06', // field 105, group holding field 106 = 2^64-1
  'f8ffffff0f07', // field 2^29-1, varint 7
].map(fromHex);

function withUnknownFields(g: Gen, b: Uint8Array): Uint8Array {
  const parts = splitFields(b).map((f) => f.raw);
  for (let n = 1 + g.int(4); n > 0; n--) parts.splice(g.int(parts.length + 1), 0, g.pick(UNKNOWN_FIELDS));
  return concat(...parts);
}

/**
 * A form of a decoded value that compares quickly: byte arrays (which must be
 * plain Uint8Arrays) become hex strings; everything else is kept, including
 * own properties set to undefined, so toStrictEqual stays strict.
 */
function canon(x: unknown): unknown {
  if (x instanceof Uint8Array) {
    expect(x.constructor).toBe(Uint8Array);
    return `bytes:${toHex(x)}`;
  }
  if (Array.isArray(x)) return x.map(canon);
  if (typeof x === 'object' && x !== null) {
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, canon(v)]));
  }
  return x;
}

function expectMalformed(f: () => unknown, message?: string | RegExp): void {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected ErrMalformedMessage').toBeInstanceOf(ErrMalformedMessage);
  if (message !== undefined) expect((caught as Error).message).toMatch(message);
}

// ---------------------------------------------------------------------------

describe('golden vectors from etcd-raft v3.6.0', () => {
  it('has vectors of every kind', () => {
    const kinds = new Set(fixture.vectors.map((v) => v.kind));
    expect([...kinds].sort()).toEqual(Object.keys(codecs).sort());
  });

  for (const v of fixture.vectors) {
    const c = codecs[v.kind] as Codec<unknown>;
    it(`${v.kind} ${v.name}`, () => {
      const value = c.build(v.value);
      expect(c.decode(fromHex(v.hex))).toStrictEqual(value);
      if (v.decodeOnly) {
        // etcd wrote a present but empty bytes field, which our model cannot
        // tell from an absent one: we re-encode without it.
        expect(toHex(c.encode(value)).length).toBeLessThan(v.hex.length);
      } else {
        expect(toHex(c.encode(value))).toBe(v.hex);
      }
    });
  }

  it('entrySize agrees with the encodings of every entry in the vectors', () => {
    const entries: Entry[] = [];
    const collect = (m: Message): void => {
      entries.push(...m.entries);
      m.responses.forEach(collect);
    };
    for (const v of fixture.vectors) {
      if (v.decodeOnly) continue;
      if (v.kind === 'Entry') {
        const e = codecs.Entry.build(v.value);
        expect(entrySize(e)).toBe(v.hex.length / 2);
        entries.push(e);
      }
      if (v.kind === 'Message') collect(codecs.Message.build(v.value));
    }
    expect(entries.length).toBeGreaterThan(20);
    for (const e of entries) expect(entrySize(e)).toBe(encodeEntry(e).length);
  });
});

describe('encoding', () => {
  it('writes every scalar, even zero, and nothing else for zero values', () => {
    expect(toHex(encodeEntry(newEntry()))).toBe('080010001800');
    expect(toHex(encodeHardState(newHardState()))).toBe('080010001800');
    expect(toHex(encodeConfState(newConfState()))).toBe('2800');
    expect(toHex(encodeConfChangeV2(newConfChangeV2()))).toBe('0800');
    expect(toHex(encodeMessage(newMessage({ type: MessageType.MsgHup })))).toBe('0800100018002000280030004000500058006800');
  });

  it('returns a standalone, exactly sized Uint8Array', () => {
    const b = encodeEntry(newEntry({ term: 1, data: new Uint8Array([1, 2, 3]) }));
    expect(b.constructor).toBe(Uint8Array);
    expect(b.byteOffset).toBe(0);
    expect(b.buffer.byteLength).toBe(b.length);
  });

  it('refuses values it cannot encode faithfully', () => {
    const bad: [string, () => unknown][] = [
      ['negative', () => encodeEntry(newEntry({ term: -1 }))],
      ['fraction', () => encodeHardState(newHardState({ commit: 1.5 }))],
      ['2^53', () => encodeMessage(newMessage({ type: MessageType.MsgApp, to: 2 ** 53 }))],
      ['NaN', () => encodeConfState(newConfState({ voters: [1, Number.NaN] }))],
      ['unknown MessageType', () => encodeMessage(newMessage({ type: 24 as MessageType }))],
      ['unknown EntryType', () => encodeEntry(newEntry({ type: 3 as EntryType }))],
      ['unknown ConfChangeType', () => encodeConfChange(newConfChange({ type: 4 as ConfChangeType }))],
      ['unknown transition', () => encodeConfChangeV2(newConfChangeV2({ transition: 3 as ConfChangeTransition }))],
      ['nested entry', () => encodeMessage(newMessage({ type: MessageType.MsgApp, entries: [newEntry({ index: -5 })] }))],
      ['nested snapshot', () => encodeMessage(newMessage({ type: MessageType.MsgSnap, snapshot: newSnapshot({ metadata: { index: Infinity } }) }))],
      ['data not bytes', () => encodeEntry(newEntry({ data: 'abc' as unknown as Uint8Array }))],
    ];
    for (const [name, f] of bad) expectMalformed(f, /^raftpb: cannot encode /);
    expectMalformed(() => encodeEntry(newEntry({ term: -1 })), 'raftpb: cannot encode Entry.term: -1 is not an integer in [0, 2^53-1]');
  });
});

describe('round trips (seeded)', () => {
  const g = new Gen(0x5eed);
  const N = 300;

  const cases: [string, () => unknown, Codec<unknown>][] = [
    ['Entry', () => g.entry(), codecs.Entry as Codec<unknown>],
    ['HardState', () => g.hardState(), codecs.HardState as Codec<unknown>],
    ['ConfState', () => g.confState(), codecs.ConfState as Codec<unknown>],
    ['Snapshot', () => g.snapshot(), codecs.Snapshot as Codec<unknown>],
    ['Message', () => g.message(), codecs.Message as Codec<unknown>],
    ['ConfChange', () => g.confChange(), codecs.ConfChange as Codec<unknown>],
    ['ConfChangeV2', () => g.confChangeV2(), codecs.ConfChangeV2 as Codec<unknown>],
  ];

  for (const [name, gen, c] of cases) {
    it(`${name}: decode(encode(x)) = x, also with shuffled fields and unknown fields`, () => {
      for (let i = 0; i < N; i++) {
        const x = gen();
        const want = canon(x);
        const b = c.encode(x);
        expect(canon(c.decode(b))).toStrictEqual(want);
        expect(toHex(c.encode(c.decode(b)))).toBe(toHex(b));
        expect(canon(c.decode(shuffleFields(g, b)))).toStrictEqual(want);
        expect(canon(c.decode(withUnknownFields(g, b)))).toStrictEqual(want);
      }
    });
  }

  it('entrySize equals the encoded size over many entries', () => {
    for (let i = 0; i < 5000; i++) {
      const e = g.entry();
      expect(entrySize(e)).toBe(encodeEntry(e).length);
    }
  });

  it('decoded bytes never alias the input', () => {
    const b = encodeEntry(newEntry({ data: new Uint8Array([1, 2, 3]) }));
    const e = decodeEntry(b);
    b.fill(0xee);
    expect([...e.data]).toEqual([1, 2, 3]);
  });

  it('accepts Node Buffers and subarrays as input', () => {
    const m = g.message();
    const b = encodeMessage(m);
    expect(decodeMessage(Buffer.from(b))).toStrictEqual(m);
    const padded = new Uint8Array(b.length + 7);
    padded.set(b, 3);
    expect(decodeMessage(padded.subarray(3, 3 + b.length))).toStrictEqual(m);
  });
});

describe('decoding details', () => {
  it('fills zero values for absent fields', () => {
    expect(decodeEntry(new Uint8Array())).toStrictEqual(newEntry());
    expect(decodeHardState(new Uint8Array())).toStrictEqual(newHardState());
    expect(decodeConfState(new Uint8Array())).toStrictEqual(newConfState());
    expect(decodeSnapshot(new Uint8Array())).toStrictEqual(newSnapshot());
    expect(decodeMessage(new Uint8Array())).toStrictEqual(newMessage({ type: MessageType.MsgHup }));
    expect(decodeConfChange(new Uint8Array())).toStrictEqual(newConfChange());
    expect(decodeConfChangeV2(new Uint8Array())).toStrictEqual(newConfChangeV2());
    // A snapshot whose metadata lacks a conf state.
    expect(decodeSnapshot(fromHex('12021001'))).toStrictEqual(newSnapshot({ metadata: { index: 1 } }));
  });

  it('keeps the last value of a repeated scalar and appends repeated fields', () => {
    expect(decodeHardState(fromHex('08011002080318041002'))).toStrictEqual(newHardState({ term: 3, vote: 2, commit: 4 }));
    expect(decodeConfState(fromHex('080308010802'))).toStrictEqual(newConfState({ voters: [3, 1, 2] }));
  });

  it('accepts packed repeated ids, as gogo does', () => {
    expect(decodeConfState(fromHex('0a03010203' + '0805' + '1202ff01'))).toStrictEqual(
      newConfState({ voters: [1, 2, 3, 5], learners: [255] }),
    );
    expect(decodeConfState(fromHex('0a0affffffffffffff0f0000'))).toStrictEqual(
      newConfState({ voters: [Number.MAX_SAFE_INTEGER, 0, 0] }),
    );
  });

  it('merges a repeated nested message, as protobuf requires', () => {
    // snapshot given twice: metadata.index from the first, term from the second.
    const m = decodeMessage(fromHex('0807' + '4a0412021005' + '4a0412021802'));
    expect(m.snapshot?.metadata).toStrictEqual({ confState: newConfState(), index: 5, term: 2 });
  });

  it('accepts non-minimal varints within 10 bytes', () => {
    expect(decodeHardState(fromHex('0881808080808080808000'))).toStrictEqual(newHardState({ term: 1 }));
    expect(decodeEntry(fromHex('088280808000'))).toStrictEqual(newEntry({ type: EntryType.EntryConfChangeV2 }));
  });

  it('decodes 2^53-1 exactly and refuses 2^53 whatever protobufjs Long configuration is', () => {
    const util = protobuf.util as { Long: unknown };
    const saved = util.Long;
    try {
      util.Long = undefined;
      protobuf.configure();
      expect(decodeHardState(fromHex('08ffffffffffffff0f')).term).toBe(Number.MAX_SAFE_INTEGER);
      expectMalformed(() => decodeHardState(fromHex('088080808080808010')), /9007199254740992/);
    } finally {
      util.Long = saved;
      protobuf.configure();
    }
    expect(decodeHardState(fromHex('08ffffffffffffff0f')).term).toBe(Number.MAX_SAFE_INTEGER);
    expectMalformed(() => decodeHardState(fromHex('088080808080808010')), /9007199254740992/);
  });
});

describe('malformed input', () => {
  const cases: [string, Kind, string, RegExp][] = [
    // Truncation.
    ['truncated varint', 'Entry', '0880', /end of input/],
    ['tag without value', 'HardState', '0801 10', /truncated|end of input/],
    ['bytes shorter than their length', 'Entry', '22056162', /truncated/],
    ['nested message past the end', 'Message', '3a0a0801', /truncated/],
    ['nested length past its parent', 'Message', '4a03' + '1205' + '08010801', /truncated/],
    ['truncated tag', 'Message', '80', /truncated|index out of range/],
    ['length varint overflowing int32', 'Entry', '22ffffffff0f', /length/],
    // Garbage and bad tags.
    ['field number 0', 'Entry', '0001', /field number 0/],
    ['stray end group', 'Message', '0c', /wire type 4/],
    ['reserved wire type 6', 'Message', '0e00', /wire type 6/],
    ['reserved wire type 7', 'HardState', 'ff0100', /wire type 7/],
    ['unterminated group', 'HardState', 'cb060801', /truncated|end group/],
    ['mismatched end group', 'HardState', 'cb06d406', /end group/],
    ['all 0xff', 'Message', 'ffffffffffffffffffffffff', /./],
    // Wrong wire types for known fields.
    ['uint64 as bytes', 'Entry', '120100', /Entry\.term \(field 2\): wire type 2 .*expected 0/],
    ['bytes as varint', 'Entry', '2001', /Entry\.data \(field 4\): wire type 0 .*expected 2/],
    ['message as varint', 'Message', '3801', /Message\.entries \(field 7\): wire type 0/],
    ['snapshot as fixed64', 'Message', '490000000000000000', /Message\.snapshot \(field 9\): wire type 1/],
    ['enum as fixed32', 'Message', '0d01000000', /Message\.type \(field 1\): wire type 5/],
    ['bool as bytes', 'Message', '520101', /Message\.reject \(field 10\)/],
    ['ids as fixed32', 'ConfState', '0d01000000', /ConfState\.voters \(field 1\): wire type 5/],
    ['nested wrong wire type', 'Message', '3a022001', /Entry\.data \(field 4\): wire type 0/],
    ['deep wrong wire type', 'Snapshot', '120b' + '0a09' + '090100000000000000', /ConfState\.voters \(field 1\): wire type 1/],
    // Varint overflow.
    ['11-byte varint', 'HardState', '08ffffffffffffffffffff01', /overflows 64 bits/],
    ['11-byte non-minimal zero', 'HardState', '088080808080808080808000', /overflows 64 bits/],
    ['10-byte varint above 2^64-1', 'HardState', '08ffffffffffffffffff02', /overflows 64 bits/],
    ['11-byte enum varint', 'Entry', '08ffffffffffffffffffff01', /varint/],
    // uint64 beyond 2^53-1.
    ['uint64 = 2^53', 'HardState', '088080808080808010', /uint64 field 1 .* holds 9007199254740992, above Number\.MAX_SAFE_INTEGER/],
    ['uint64 = 2^64-1', 'Message', '10ffffffffffffffffff01', /uint64 field 2 .* holds 18446744073709551615/],
    ['uint64 = 2^53 in an entry', 'Message', '3a0b1080808080808080101800', /uint64 field 2 .* 9007199254740992/],
    ['repeated id = 2^53', 'ConfState', '0801' + '08' + '80'.repeat(7) + '10', /uint64 field 1 at offset 3 holds 9007199254740992/],
    ['packed id = 2^64-1', 'ConfState', '0a0b01ffffffffffffffffff01', /18446744073709551615/],
    ['conf change id = 2^63', 'ConfChange', '0880808080808080808001', /9223372036854775808/],
    // Enum values we do not know.
    ['MessageType 24', 'Message', '0818', /Message\.type \(field 1\): unknown MessageType value 24/],
    ['MessageType -1', 'Message', '08ffffffffffffffffff01', /unknown MessageType value -1/],
    ['MessageType 2^32+1', 'Message', '088180808010', /unknown MessageType value 4294967297/],
    ['EntryType 3', 'Entry', '0803', /unknown EntryType value 3/],
    ['nested EntryType 7', 'Message', '3a020807', /Entry\.type \(field 1\): unknown EntryType value 7/],
    ['ConfChangeType 4', 'ConfChange', '1004', /unknown ConfChangeType value 4/],
    ['ConfChangeSingle type 99', 'ConfChangeV2', '12020863', /ConfChangeSingle\.type .*unknown ConfChangeType value 99/],
    ['transition 3', 'ConfChangeV2', '0803', /unknown ConfChangeTransition value 3/],
  ];

  for (const [name, kind, hex, message] of cases) {
    it(`${kind}: ${name}`, () => {
      expectMalformed(() => codecs[kind].decode(fromHex(hex.replace(/ /g, ''))), message);
    });
  }

  it('names the type and keeps the cause', () => {
    try {
      decodeMessage(fromHex('0818'));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ErrMalformedMessage);
      expect((e as Error).name).toBe('ErrMalformedMessage');
      expect((e as Error).message).toBe('raftpb: cannot decode Message: Message.type (field 1): unknown MessageType value 24');
      expect((e as Error).cause).toBeInstanceOf(Error);
    }
  });

  it('refuses input that is not a Uint8Array', () => {
    expectMalformed(() => decodeMessage('0818' as unknown as Uint8Array), /not a Uint8Array/);
    expectMalformed(() => decodeEntry([8, 1] as unknown as Uint8Array), /not a Uint8Array/);
  });

  it('refuses absurdly deep nesting with ErrMalformedMessage', () => {
    let b = encodeMessage(newMessage({ type: MessageType.MsgApp }));
    for (let i = 0; i < 150; i++) b = concat(fromHex('0800'), fromHex('72'), varintBytes(b.length), b);
    expectMalformed(() => decodeMessage(b), /depth/);
  });

  it('every truncation of every golden vector decodes or throws ErrMalformedMessage', () => {
    for (const v of fixture.vectors) {
      const b = fromHex(v.hex);
      if (b.length > 400) continue;
      const decode = codecs[v.kind].decode;
      for (let n = 0; n < b.length; n++) {
        try {
          decode(b.subarray(0, n));
        } catch (e) {
          expect(e).toBeInstanceOf(ErrMalformedMessage);
        }
      }
    }
  });

  it('cutting inside the last field always throws', () => {
    for (const v of fixture.vectors) {
      const b = fromHex(v.hex);
      const fields = splitFields(b);
      const last = fields[fields.length - 1]!;
      if (last.raw.length < 2) continue;
      expectMalformed(() => codecs[v.kind].decode(b.subarray(0, b.length - 1)));
    }
  });

  it('random garbage and mutations decode or throw ErrMalformedMessage, never anything else', () => {
    const g = new Gen(0xbad);
    const samples = fixture.vectors.map((v) => fromHex(v.hex)).filter((b) => b.length < 400);
    let threw = 0;
    for (let i = 0; i < 20000; i++) {
      let b: Uint8Array;
      if (g.chance(0.5)) {
        b = new Uint8Array(g.int(40));
        for (let j = 0; j < b.length; j++) b[j] = g.int(256);
      } else {
        b = Uint8Array.from(g.pick(samples));
        for (let k = 1 + g.int(3); k > 0 && b.length > 0; k--) b[g.int(b.length)] ^= 1 << g.int(8);
      }
      const [, decode] = g.pick(decoders);
      try {
        const out = decode(b);
        expect(JSON.stringify(out, (_k, x: unknown) => (typeof x === 'number' && !Number.isSafeInteger(x) ? 'UNSAFE' : x))).not.toContain('UNSAFE');
      } catch (e) {
        threw++;
        expect(e).toBeInstanceOf(ErrMalformedMessage);
      }
    }
    expect(threw).toBeGreaterThan(1000);
  });
});

function varintBytes(v: number): Uint8Array {
  const out: number[] = [];
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}

describe('conf change helpers (raftpb/confchange.go)', () => {
  for (const v of fixture.marshalConfChange) {
    it(`marshalConfChange ${v.name} matches etcd's MarshalConfChange`, () => {
      const cc = v.kind === 'ConfChange' ? confChangeOf(v.value as ConfChangeDesc) : confChangeV2Of(v.value as ConfChangeV2Desc);
      const { type, data } = marshalConfChange(cc);
      expect(EntryType[type]).toBe(v.entryType);
      expect(toHex(data)).toBe(v.hex);
    });
  }

  it('marshalConfChange(undefined) is an empty EntryConfChangeV2 that decodes as leave-joint', () => {
    const { type, data } = marshalConfChange(undefined);
    expect(type).toBe(EntryType.EntryConfChangeV2);
    expect(data.length).toBe(0);
    expect(leaveJoint(decodeConfChangeV2(data))).toBe(true);
  });

  it('confChangeAsV2 turns a v1 change into etcd’s AsV2 result', () => {
    const v1 = newConfChange({ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 9, context: fromHex('78'), id: 33 });
    const want = fixture.marshalConfChange.find((v) => v.name === 'marshal/v1-as-v2')!;
    const v2 = confChangeAsV2(v1);
    expect(v2).toStrictEqual(confChangeV2Of(want.value as ConfChangeV2Desc));
    expect(toHex(encodeConfChangeV2(v2))).toBe(want.hex);
    const already = newConfChangeV2({ changes: [{ type: ConfChangeType.ConfChangeRemoveNode, nodeId: 1 }] });
    expect(confChangeAsV2(already)).toBe(already);
  });

  it('confChangeAsV1 and isConfChangeV2 tell the versions apart', () => {
    const v1 = newConfChange({ nodeId: 1 });
    const v2 = newConfChangeV2();
    expect(confChangeAsV1(v1)).toBe(v1);
    expect(confChangeAsV1(v2)).toBeUndefined();
    expect(isConfChangeV2(v1)).toBe(false);
    expect(isConfChangeV2(v2)).toBe(true);
  });

  it('enterJoint follows etcd’s EnterJoint', () => {
    const { ConfChangeTransitionAuto: auto, ConfChangeTransitionJointImplicit: implicit, ConfChangeTransitionJointExplicit: explicit } = ConfChangeTransition;
    const add = (id: number): ConfChangeSingle => ({ type: ConfChangeType.ConfChangeAddNode, nodeId: id });
    const table: [ConfChangeTransition, number, { autoLeave: boolean } | undefined][] = [
      [auto, 0, undefined],
      [auto, 1, undefined],
      [auto, 2, { autoLeave: true }],
      [implicit, 0, { autoLeave: true }],
      [implicit, 1, { autoLeave: true }],
      [implicit, 3, { autoLeave: true }],
      [explicit, 0, { autoLeave: false }],
      [explicit, 1, { autoLeave: false }],
      [explicit, 2, { autoLeave: false }],
    ];
    for (const [transition, n, want] of table) {
      const cc = newConfChangeV2({ transition, changes: Array.from({ length: n }, (_, i) => add(i + 1)) });
      expect(enterJoint(cc)).toStrictEqual(want);
    }
    expect(() => enterJoint(newConfChangeV2({ transition: 7 as ConfChangeTransition }))).toThrow(RaftPanic);
  });

  it('leaveJoint is true only for the zero ConfChangeV2, context aside', () => {
    expect(leaveJoint(newConfChangeV2())).toBe(true);
    expect(leaveJoint(newConfChangeV2({ context: fromHex('0102') }))).toBe(true);
    expect(leaveJoint(newConfChangeV2({ changes: [{ type: ConfChangeType.ConfChangeAddNode, nodeId: 1 }] }))).toBe(false);
    expect(leaveJoint(newConfChangeV2({ transition: ConfChangeTransition.ConfChangeTransitionJointImplicit }))).toBe(false);
    expect(leaveJoint(newConfChangeV2({ transition: ConfChangeTransition.ConfChangeTransitionJointExplicit }))).toBe(false);
  });
});

describe('confStateEquivalent (raftpb/confstate.go)', () => {
  // etcd's TestConfState_Equivalent.
  const cases: [Partial<ConfState>, Partial<ConfState>, boolean][] = [
    [
      { voters: [1, 2, 3], learners: [5, 4, 6], votersOutgoing: [9, 8, 7], learnersNext: [10, 20, 15] },
      { voters: [1, 2, 3], learners: [4, 5, 6], votersOutgoing: [7, 9, 8], learnersNext: [20, 10, 15] },
      true,
    ],
    [{ voters: [] }, {}, true],
    [{ voters: [1, 2, 3, 4] }, { voters: [2, 1, 3] }, false],
    [{ voters: [1, 4, 3] }, { voters: [2, 1, 3] }, false],
    [{ learners: [1, 4, 3] }, { learners: [2, 1, 3] }, false],
    [{ votersOutgoing: [1] }, { learnersNext: [1] }, false],
    [{ autoLeave: true }, {}, false],
    // Numeric, not lexicographic, order.
    [{ voters: [10, 9, 100] }, { voters: [100, 10, 9] }, true],
  ];

  it('matches etcd’s cases', () => {
    for (const [a, b, ok] of cases) {
      const f = (): void => confStateEquivalent(newConfState(a), newConfState(b));
      if (ok) expect(f).not.toThrow();
      else expect(f).toThrow(/^ConfStates not equivalent after sorting:\n/);
    }
  });

  it('does not reorder its inputs', () => {
    const a = newConfState({ voters: [3, 1, 2] });
    confStateEquivalent(a, newConfState({ voters: [1, 2, 3] }));
    expect(a.voters).toEqual([3, 1, 2]);
  });

  it('uses etcd’s message', () => {
    // Produced by etcd v3.6.0's ConfState.Equivalent for the same inputs.
    const want =
      'ConfStates not equivalent after sorting:\n' +
      'raftpb.ConfState{Voters:[]uint64{0x1, 0x2, 0x3}, Learners:[]uint64(nil), VotersOutgoing:[]uint64(nil), LearnersNext:[]uint64{0xa}, AutoLeave:true}\n' +
      'raftpb.ConfState{Voters:[]uint64{0x1, 0x2, 0x3, 0x1fffffffffffff}, Learners:[]uint64(nil), VotersOutgoing:[]uint64(nil), LearnersNext:[]uint64(nil), AutoLeave:false}\n' +
      'Inputs were:\n' +
      'raftpb.ConfState{Voters:[]uint64{0x3, 0x1, 0x2}, Learners:[]uint64(nil), VotersOutgoing:[]uint64(nil), LearnersNext:[]uint64{0xa}, AutoLeave:true}\n' +
      'raftpb.ConfState{Voters:[]uint64{0x1, 0x2, 0x3, 0x1fffffffffffff}, Learners:[]uint64(nil), VotersOutgoing:[]uint64(nil), LearnersNext:[]uint64(nil), AutoLeave:false}';
    expect(() =>
      confStateEquivalent(
        newConfState({ voters: [3, 1, 2], learnersNext: [10], autoLeave: true }),
        newConfState({ voters: [1, 2, 3, Number.MAX_SAFE_INTEGER] }),
      ),
    ).toThrow(want);
  });
});

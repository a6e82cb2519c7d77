// The direct raftpb codec against the reflection codec it replaced (the
// reference): on etcd's golden vectors, on seeded random values of every
// kind, and on seeded corruptions of their encodings, both must write the
// same bytes, decode to equal values, and refuse the same inputs with the
// same message.
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { describe, expect, it, vi } from 'vitest';
import { ErrMalformedMessage } from '../src/errors.js';
import * as direct from '../src/raftpb/codec.js';
import * as reference from '../src/raftpb/reflection-codec.js';
import {
  EMPTY_BYTES,
  newEntry,
  newMessage,
  MessageType,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
} from '../src/raftpb/types.js';
import { entrySize } from '../src/util/sizes.js';
import * as damage from './helpers/encoding-damage.js';
import { RaftpbDraws } from './helpers/raftpb-draws.js';
import type { SeededDraws } from './helpers/random.js';
import { concat, fromHex, lengthDelimited, paddedVarint, tag, toHex, varint } from './helpers/wire-bytes.js';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/etcd-raftpb-v3.6.json', import.meta.url), 'utf8')) as {
  vectors: { name: string; kind: string; hex: string }[];
};

/** The kinds the direct codec handles (ConfChange and ConfChangeV2 stay on the reference path). */
const KINDS = ['Message', 'Entry', 'Snapshot', 'ConfState', 'HardState'] as const;
type Kind = (typeof KINDS)[number];

interface Pair {
  encode(v: never): Uint8Array;
  decode(b: Uint8Array): unknown;
}
const codecs: Record<Kind, { direct: Pair; reference: Pair }> = {
  Message: { direct: { encode: direct.encodeMessage, decode: direct.decodeMessage }, reference: { encode: reference.encodeMessage, decode: reference.decodeMessage } },
  Entry: { direct: { encode: direct.encodeEntry, decode: direct.decodeEntry }, reference: { encode: reference.encodeEntry, decode: reference.decodeEntry } },
  Snapshot: { direct: { encode: direct.encodeSnapshot, decode: direct.decodeSnapshot }, reference: { encode: reference.encodeSnapshot, decode: reference.decodeSnapshot } },
  ConfState: { direct: { encode: direct.encodeConfState, decode: direct.decodeConfState }, reference: { encode: reference.encodeConfState, decode: reference.decodeConfState } },
  HardState: { direct: { encode: direct.encodeHardState, decode: direct.decodeHardState }, reference: { encode: reference.encodeHardState, decode: reference.decodeHardState } },
};

// ---------------------------------------------------------------------------
// Helpers

/**
 * A canonical string for a decoded value: keys sorted (the two decoders
 * build objects in different key orders), bytes as hex (their buffers
 * differ), and each byte array checked to be a plain Uint8Array.
 */
function canon(x: unknown): string {
  return JSON.stringify(x, function (this: unknown, _k, v: unknown) {
    if (v instanceof Uint8Array) {
      if (v.constructor !== Uint8Array) throw new Error('decoded bytes are not a plain Uint8Array');
      return `bytes:${toHex(v)}`;
    }
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      if (Object.values(v).some((f) => f === undefined)) throw new Error('a decoded value holds an undefined property');
      return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return v;
  });
}

type Outcome = { ok: true; value: string } | { ok: false; message: string };

function outcome(f: () => unknown): Outcome {
  try {
    return { ok: true, value: canon(f()) };
  } catch (e) {
    if (!(e instanceof ErrMalformedMessage)) throw e;
    return { ok: false, message: e.message };
  }
}

/**
 * Decodes `b` as `kind` with both codecs; fails the test unless they agree.
 * Returns the value (canonical form) both decoded, or undefined when both refused.
 */
function sameDecode(kind: Kind, b: Uint8Array, what: string): string | undefined {
  const want = outcome(() => codecs[kind].reference.decode(b));
  const got = outcome(() => codecs[kind].direct.decode(b));
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    expect.fail(`${what}: decode${kind}(${toHex(b)})\n  direct:    ${JSON.stringify(got)}\n  reference: ${JSON.stringify(want)}`);
  }
  return want.ok ? want.value : undefined;
}

function sameEncode(kind: Kind, v: unknown, what: string): Uint8Array | undefined {
  const run = (p: Pair): { ok: true; hex: string; bytes: Uint8Array } | { ok: false; message: string } => {
    try {
      const bytes = p.encode(v as never);
      return { ok: true, hex: toHex(bytes), bytes };
    } catch (e) {
      if (!(e instanceof ErrMalformedMessage)) throw e;
      return { ok: false, message: e.message };
    }
  };
  const want = run(codecs[kind].reference);
  const got = run(codecs[kind].direct);
  const show = (o: typeof want) => (o.ok ? o.hex : `refused: ${o.message}`);
  if (show(got) !== show(want)) expect.fail(`${what}: encode${kind}\n  direct:    ${show(got)}\n  reference: ${show(want)}`);
  if (!got.ok) return undefined;
  // A buffer of its own, exactly sized.
  if (got.bytes.byteOffset !== 0 || got.bytes.buffer.byteLength !== got.bytes.length) {
    expect.fail(`${what}: encode${kind} returned a view into a larger buffer`);
  }
  return got.bytes;
}

// ---------------------------------------------------------------------------
// Seeded values

class Gen extends RaftpbDraws {
  protected readonly specialU64s = [0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35, 2 ** 49, 2 ** 52, Number.MAX_SAFE_INTEGER];
  protected readonly snapshotChance = 0.2;
  /** Sizes around the slab's edges (loop copy, set copy, own buffer) and the 1- and 2-byte length prefixes. */
  protected size(): number {
    const r = this.int(40);
    if (r < 12) return 0;
    if (r < 24) return 1 + this.int(40);
    if (r < 32) return this.pick([15, 16, 17, 127, 128, 145, 4095, 4096, 4097]);
    if (r < 39) return 100 + this.int(400);
    return 4097 + this.int(3000);
  }
  /** Now and then a long run of entries, past the slab's room for one message. */
  protected entryCount(): number {
    return this.chance(0.05) ? 64 : this.int(4);
  }
  protected responseCount(depth: number): number {
    return depth < 2 && this.chance(0.3) ? 1 + this.int(2) : 0;
  }
  value(kind: Kind): unknown {
    switch (kind) {
      case 'Message':
        return this.message();
      case 'Entry':
        return this.entry();
      case 'Snapshot':
        return this.snapshot();
      case 'ConfState':
        return this.confState();
      case 'HardState':
        return this.hardState();
    }
  }
}

// ---------------------------------------------------------------------------
// Corruptions

/** Varint values at the edges of 7-bit groups, int32, enums, safe integers and 64 bits. */
const EDGES: bigint[] = [
  0n, 1n, 2n, 3n, 4n, 23n, 24n, 127n, 128n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n,
  2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 2n ** 31n, 2n ** 64n - 1n,
];

const FIELDS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 99, 2 ** 29 - 1, 2 ** 29];

/** A varint as written, or as an odd writer or a hostile peer would write it. */
function oddVarint(g: SeededDraws): Uint8Array {
  const v = varint(g.pick(EDGES));
  switch (g.int(4)) {
    case 0:
      // Padded with continuation bytes, to 5, 6, 10 or 11 bytes.
      return paddedVarint(v, Math.max(v.length, g.pick([5, 6, 10, 11])));
    case 1:
      return v.subarray(0, Math.max(0, v.length - 1)); // cut short
    case 2:
      return Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, g.pick([0x01, 0x02, 0x7f, 0xff]));
    default:
      return v;
  }
}

/** One corruption of `b`; `depth` bounds the recursion into nested messages. */
function corrupt(g: SeededDraws, b: Uint8Array, depth = 0): Uint8Array {
  return g.pick(CORRUPTIONS)(g, b, depth);
}

/** Corruption inside any non-empty length-delimited field (a nested message, or bytes read as one). */
const corruptNested: damage.Damage<number> = (g, b, depth) => damage.insideNested(g, b, depth, (f) => f.end > f.valueStart, (v, _f, deeper) => corrupt(g, v, deeper));

const CORRUPTIONS: damage.Damage<number>[] = [
  damage.flipBits,
  damage.setByte([0x00, 0x01, 0x02, 0x04, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x0b, 0x0c, 0x0e, 0x0f, 0x17]),
  damage.truncate,
  damage.insertBytes(6),
  damage.deleteBytes(6),
  // A scalar field, known or unknown, with an edge or odd varint (enum values, unsafe uint64s, overlong forms).
  (g, b) => damage.insertBetweenFields(g, b, concat(tag(g.pick(FIELDS), 0), oddVarint(g)), 'anywhere'),
  // A field of any number with any wire type, including groups, end groups and the reserved 6 and 7.
  (g, b) => damage.insertBetweenFields(g, b, concat(tag(g.pick(FIELDS), g.int(8)), g.bytes(g.int(10))), 'anywhere'),
  (g, b) => {
    // A group, well formed, mismatched, or unterminated.
    const f = g.pick([1, 7, 9, 99]);
    const inner = g.chance(0.5) ? concat(tag(2, 0), varint(5n)) : EMPTY_BYTES;
    const end = g.pick([tag(f, 4), tag(f + 1, 4), EMPTY_BYTES]);
    return damage.insertBetweenFields(g, b, concat(tag(f, 3), inner, end), 'anywhere');
  },
  // A length-delimited field with a length past the end, huge, or padded.
  (g, b) =>
    damage.appendBadLength(g, b, FIELDS, [varint(2n ** 31n), varint(2n ** 32n + 1n), varint(BigInt(b.length + 1)), Uint8Array.of(0x81, 0x80, 0x80, 0x80, 0x80, 0x00), varint(2n ** 64n - 1n)]),
  (g, b) => {
    // A whole field repeated (scalars last-wins, nested messages merge, repeated fields append).
    const f = damage.someField(g, b);
    return f === undefined ? concat(b, b) : damage.insertBetweenFields(g, b, f, 'anywhere');
  },
  // A tag that overflows 32 bits or is padded.
  (g, b) =>
    damage.insertBetweenFields(g, b, g.pick([Uint8Array.of(0x88, 0x80, 0x80, 0x80, 0x10, 0x00), Uint8Array.of(0x88, 0x80, 0x80, 0x80, 0x00, 0x01), Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x00)]), 'anywhere'),
  (g, b) => {
    // Packed ids, well formed or not.
    const body = concat(...Array.from({ length: g.int(4) }, () => oddVarint(g)));
    return damage.insertBetweenFields(g, b, lengthDelimited(g.pick([1, 2, 3, 4, 5]), body), 'anywhere');
  },
  // Listed twice: drawn twice as often as each other corruption, as this test's seeds always drew it.
  corruptNested,
  corruptNested,
];

// ---------------------------------------------------------------------------

describe('the direct codec against the reflection codec', () => {
  const golden = fixture.vectors.filter((v): v is typeof v & { kind: Kind } => (KINDS as readonly string[]).includes(v.kind));

  it('agree on every golden vector, decoded as every kind and re-encoded', () => {
    expect(new Set(golden.map((v) => v.kind))).toEqual(new Set(KINDS));
    for (const v of golden) {
      const b = fromHex(v.hex);
      for (const kind of KINDS) sameDecode(kind, b, `golden ${v.name} as ${kind}`);
      sameEncode(v.kind, codecs[v.kind].reference.decode(b), `golden ${v.name}`);
    }
  });

  it('write the same bytes and read the same values for seeded random values of every kind', () => {
    const g = new Gen(0xd1ff01);
    let entries = 0;
    for (let i = 0; i < 3000; i++) {
      const kind = i < 1500 ? 'Message' : KINDS[i % KINDS.length]!;
      const v = g.value(kind);
      if (kind === 'Message') entries += (v as Message).entries.length;
      const b = sameEncode(kind, v, `case ${i}`);
      if (b === undefined) expect.fail(`case ${i}: a valid ${kind} was refused`);
      const decoded = sameDecode(kind, b, `case ${i}`);
      if (decoded !== canon(v)) expect.fail(`case ${i}: ${kind} did not round-trip`);
    }
    expect(entries).toBeGreaterThan(3000);
  });

  it('make the same decision, with the same message, on seeded corruptions of valid encodings', () => {
    const g = new Gen(0xd1ff02);
    const smallGolden = golden.filter((v) => v.hex.length <= 1024).map((v) => ({ kind: v.kind, bytes: fromHex(v.hex) }));
    const tally = { decoded: 0, refused: 0 };
    for (let i = 0; i < 12000; i++) {
      let kind: Kind;
      let b: Uint8Array;
      if (g.chance(0.5)) {
        ({ kind, bytes: b } = g.pick(smallGolden));
      } else {
        kind = g.pick(KINDS);
        const gen = new Gen(i); // a small value, so corruptions land in fields rather than in long data
        b = codecs[kind].reference.encode(gen.value(kind) as never);
        if (b.length > 2048) b = b.subarray(0, g.int(b.length));
      }
      for (let k = 1 + g.int(3); k > 0; k--) b = corrupt(g, b);
      const as = g.chance(0.8) ? kind : g.pick(KINDS);
      tally[sameDecode(as, b, `corruption ${i}`) !== undefined ? 'decoded' : 'refused']++;
    }
    // Both outcomes are common: the corruptions reach past the first check.
    expect(tally.decoded).toBeGreaterThan(2000);
    expect(tally.refused).toBeGreaterThan(2000);
  });

  it('make the same decision on seeded random bytes', () => {
    const g = new Gen(0xd1ff03);
    for (let i = 0; i < 4000; i++) sameDecode(g.pick(KINDS), g.bytes(g.int(32)), `random ${i}`);
  });

  it('refuse the same faults first when a value holds several', () => {
    // Wrong wire types and unknown enum values at every level, in several orders: the first one the reference meets wins.
    const g = new Gen(0xd1ff04);
    /** Some of `parts`, shuffled. */
    const some = (parts: Uint8Array[]): Uint8Array => {
      const chosen = parts.filter(() => g.chance(0.6));
      for (let j = chosen.length - 1; j > 0; j--) {
        const k = g.int(j + 1);
        [chosen[j], chosen[k]] = [chosen[k]!, chosen[j]!];
      }
      return concat(...chosen);
    };
    const badConfState = () => some([concat(tag(5, 2), varint(0n)), concat(tag(1, 1), new Uint8Array(8)), concat(tag(2, 0), varint(3n))]);
    const badMetadata = () => some([concat(tag(2, 2), varint(0n)), lengthDelimited(1, badConfState()), concat(tag(3, 0), varint(1n))]);
    const badSnapshot = () => some([concat(tag(1, 0), varint(1n)), lengthDelimited(2, badMetadata()), lengthDelimited(2, badMetadata())]);
    const badEntry = () => some([concat(tag(1, 0), varint(7n)), concat(tag(4, 0), varint(1n)), concat(tag(2, 0), varint(1n))]);
    const badResponse = () => some([concat(tag(2, 1), new Uint8Array(8)), lengthDelimited(7, badEntry()), lengthDelimited(9, badSnapshot())]);
    for (let i = 0; i < 400; i++) {
      const b = some([
        concat(tag(1, 0), varint(99n)),
        lengthDelimited(7, badEntry()),
        lengthDelimited(7, badEntry()),
        lengthDelimited(9, badSnapshot()),
        lengthDelimited(9, badSnapshot()),
        lengthDelimited(14, badResponse()),
        lengthDelimited(14, badResponse()),
        concat(tag(10, 2), varint(0n)),
        concat(tag(3, 5), new Uint8Array(4)),
      ]);
      sameDecode('Message', b, `faults ${i}`);
      sameDecode('Message', concat(b, Uint8Array.of(0x80)), `faults ${i} then truncation`);
      sameDecode('Snapshot', badSnapshot(), `snapshot faults ${i}`);
      sameDecode('ConfState', badConfState(), `conf state faults ${i}`);
    }
  });

  it('refuse nesting past the recursion limit at the same depth, decoding and encoding', () => {
    for (const depth of [98, 99, 100, 101, 102, 150]) {
      let b = direct.encodeMessage(newMessage({ type: MessageType.MsgApp, entries: [newEntry({ index: 1 })] }));
      let m = newMessage({ type: MessageType.MsgApp, entries: [newEntry({ index: 1 })] });
      for (let i = 0; i < depth; i++) {
        b = concat(tag(1, 0), varint(19n), lengthDelimited(14, b));
        m = newMessage({ type: MessageType.MsgStorageAppend, responses: [m] });
      }
      sameDecode('Message', b, `depth ${depth}`);
      sameEncode('Message', m, `depth ${depth}`);
    }
  });

  it('refuse the same values when encoding, for the same first fault', () => {
    const g = new Gen(0xd1ff05);
    const badNumbers = [-1, 1.5, 2 ** 53, Number.NaN, Infinity, '7' as unknown as number];
    const spoil = (o: Record<string, unknown>, keys: string[]): void => {
      const k = g.pick(keys);
      o[k] = k === 'data' || k === 'context' ? g.pick(['ab', [1, 2], undefined, null]) : k === 'type' ? g.pick([...badNumbers, 24, 3, -0]) : g.pick(badNumbers);
    };
    for (let i = 0; i < 2000; i++) {
      const kind = g.pick(KINDS);
      const v = g.value(kind) as Record<string, unknown>;
      for (let k = 1 + g.int(3); k > 0; k--) {
        if (kind === 'Message') {
          const m = v as unknown as Message;
          const r = g.int(4);
          if (r === 0 && m.entries.length > 0) spoil(g.pick(m.entries) as unknown as Record<string, unknown>, ['type', 'term', 'index', 'data']);
          else if (r === 1 && m.snapshot !== undefined) {
            const s = m.snapshot;
            if (g.chance(0.5)) spoil(s.metadata as unknown as Record<string, unknown>, ['index', 'term']);
            else s.metadata.confState.voters.push(g.pick(badNumbers));
          } else if (r === 2 && m.responses.length > 0) spoil(g.pick(m.responses) as unknown as Record<string, unknown>, ['type', 'to', 'vote', 'context']);
          else spoil(v, ['type', 'to', 'from', 'term', 'logTerm', 'index', 'commit', 'rejectHint', 'vote', 'context']);
        } else if (kind === 'Entry') spoil(v, ['type', 'term', 'index', 'data']);
        else if (kind === 'HardState') spoil(v, ['term', 'vote', 'commit']);
        else if (kind === 'ConfState') (v as unknown as ConfState).learners.push(g.pick(badNumbers));
        else spoil((v as unknown as Snapshot).metadata as unknown as Record<string, unknown>, ['index', 'term']);
      }
      // Bytes fields spoiled to undefined or null crash both alike (a TypeError, not a refusal): compare those by throwing.
      let refBytes: string;
      try {
        refBytes = toHex(codecs[kind].reference.encode(v as never));
      } catch (e) {
        refBytes = e instanceof ErrMalformedMessage ? `refused: ${e.message}` : 'crashed';
      }
      let gotBytes: string;
      try {
        gotBytes = toHex(codecs[kind].direct.encode(v as never));
      } catch (e) {
        gotBytes = e instanceof ErrMalformedMessage ? `refused: ${e.message}` : 'crashed';
      }
      if (refBytes !== 'crashed') expect(gotBytes, `case ${i}`).toBe(refBytes);
    }
  });
});

describe('encodeEntryInto', () => {
  it("writes encodeEntry's bytes at the offset given, entrySize(e) of them, and nothing else", () => {
    const g = new Gen(0x5a1ab);
    const out = new Uint8Array(1 << 16);
    for (let i = 0; i < 2000; i++) {
      const e = g.entry();
      const want = direct.encodeEntry(e);
      const at = g.pick([0, 1, 3, 17, 1000]);
      out.fill(0xa5);
      const end = direct.encodeEntryInto(e, out, at);
      expect(end - at).toBe(entrySize(e));
      expect(toHex(out.subarray(at, end))).toBe(toHex(want));
      expect(out.subarray(0, at).every((x) => x === 0xa5) && out.subarray(end).every((x) => x === 0xa5)).toBe(true);
    }
  });

  it('refuses a bad entry as encodeEntry does, and a range past the array with a RangeError, writing nothing', () => {
    const out = new Uint8Array(64).fill(7);
    const bad = newEntry({ index: 2 ** 53, term: 1 });
    expect(() => direct.encodeEntry(bad)).toThrow(ErrMalformedMessage);
    expect(() => direct.encodeEntryInto(bad, out, 0)).toThrow(new ErrMalformedMessage('raftpb: cannot encode Entry.index: 9007199254740992 is not an integer in [0, 2^53-1]'));
    const e = newEntry({ index: 5, term: 1, data: new Uint8Array(40).fill(1) });
    expect(() => direct.encodeEntryInto(e, out, 64 - entrySize(e) + 1)).toThrow(RangeError);
    expect(() => direct.encodeEntryInto(e, out, -1)).toThrow(RangeError);
    expect(out.every((x) => x === 7)).toBe(true);
    expect(direct.encodeEntryInto(e, out, 64 - entrySize(e))).toBe(64);
  });
});

describe('encodeMessageWithHeadroom', () => {
  it('leaves zeroed room before the bytes encodeMessage writes, in one array of its own', () => {
    const g = new Gen(0xd1ff06);
    for (let i = 0; i < 200; i++) {
      const m = g.message();
      const headroom = g.pick([0, 1, 7, 20, 64, 300]);
      const b = direct.encodeMessageWithHeadroom(m, headroom);
      // Its own bytes (possibly in a shared slab): no array made before or after overlaps it.
      const other = direct.encodeMessageWithHeadroom(m, 0);
      const snapshot = toHex(b);
      other.fill(0xee);
      direct.encodeMessageWithHeadroom(m, headroom).fill(0xdd);
      expect(toHex(b)).toBe(snapshot);
      expect(b.subarray(0, headroom).every((x) => x === 0)).toBe(true);
      expect(toHex(b.subarray(headroom))).toBe(toHex(direct.encodeMessage(m)));
      expect(canon(direct.decodeMessage(b.subarray(headroom)))).toBe(canon(m));
    }
  });

  it('writes an append straight into its own array, whatever its size, with no writer buffer grown', () => {
    // 1,000 entries of 1,050 bytes: about 1.06 MB, a full append at the
    // default maxSizePerMsg (1 MiB of entries, plus each entry's tag and
    // length). Through the writer, such an append was copied twice and, as
    // it passed the size of writer kept between encodings, grew a new
    // buffer by doubling every time.
    const entries = Array.from({ length: 1000 }, (_, i) => newEntry({ index: i + 1, term: 2, data: new Uint8Array(1050).fill(i) }));
    const m = newMessage({ type: MessageType.MsgApp, to: 2, from: 1, term: 2, commit: 7, entries });
    const want = toHex(reference.encodeMessage(m));
    expect(want.length / 2).toBeGreaterThan(1 << 20);
    const alloc = vi.spyOn(protobuf.Writer, 'alloc');
    try {
      for (const headroom of [0, 8, 8]) {
        const b = direct.encodeMessageWithHeadroom(m, headroom);
        expect(b.length).toBe(headroom + want.length / 2);
        expect(toHex(b.subarray(headroom))).toBe(want);
      }
      expect(alloc).not.toHaveBeenCalled();
    } finally {
      alloc.mockRestore();
    }
  });

  it('refuses a headroom that is not a non-negative integer, and refuses bad messages as encodeMessage does', () => {
    const m = newMessage({ type: MessageType.MsgApp });
    for (const h of [-1, 1.5, Number.NaN]) expect(() => direct.encodeMessageWithHeadroom(m, h)).toThrow(RangeError);
    const bad = newMessage({ type: MessageType.MsgApp, to: -3 });
    expect(() => direct.encodeMessageWithHeadroom(bad, 4)).toThrow(new ErrMalformedMessage('raftpb: cannot encode Message.to: -3 is not an integer in [0, 2^53-1]'));
  });
});

describe('decoded byte fields', () => {
  it('are copies that share no bytes with the input or with each other, whatever their size', () => {
    const g = new Gen(0xd1ff07);
    const m = g.message();
    m.entries = Array.from({ length: 60 }, (_, i) => newEntry({ index: i, data: g.bytes(g.pick([1, 31, 32, 33, 145, 4096, 4097, 9000])) }));
    m.context = g.bytes(12);
    const input = direct.encodeMessage(m);
    const decoded = direct.decodeMessage(input);
    const arrays = [decoded.context, ...decoded.entries.map((e) => e.data)];
    const before = arrays.map(toHex);
    // Overwrite the input, then each copy in turn: nothing else may change.
    input.fill(0xee);
    expect(arrays.map(toHex)).toEqual(before);
    for (let i = 0; i < arrays.length; i++) {
      arrays[i]!.fill(i & 0xff);
      for (let j = 0; j < arrays.length; j++) {
        if (j > i) expect(toHex(arrays[j]!), `copy ${j} after writing copy ${i}`).toBe(before[j]);
      }
    }
    for (const a of arrays) {
      expect(a.constructor).toBe(Uint8Array);
      expect(a.buffer).not.toBe(input.buffer);
    }
  });

  it('are copies of small and large inputs alike, and a later decoding never writes an earlier one', () => {
    const g = new Gen(0xd1ff08);
    const kept: [Uint8Array, string][] = [];
    // Enough decodings to fill several slabs, with inputs above and below the slab's copy limit.
    for (let i = 0; i < 300; i++) {
      const data = g.bytes(g.pick([1, 16, 17, 145, 4000, 5000]));
      const input = direct.encodeEntry(newEntry({ index: i, data }));
      const e = direct.decodeEntry(input);
      input.fill(0);
      kept.push([e.data, toHex(data)]);
    }
    for (const [a, hex] of kept) expect(toHex(a)).toBe(hex);
  });

  it('are the shared empty array when empty', () => {
    const e = direct.decodeEntry(direct.encodeEntry(newEntry({ index: 3 })));
    expect(e.data).toBe(EMPTY_BYTES);
  });
});

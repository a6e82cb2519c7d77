// Seeded fuzzing of the raftpb codec: random bytes, and etcd's own encodings
// (the golden vectors) bent in every way a wire or a hostile peer can bend
// them. The promise under test, for every input:
//   - decode returns a value or throws ErrMalformedMessage, nothing else;
//   - a decoded value holds only safe integers and known enum values;
//   - it re-encodes without error, and that encoding decodes to an equal
//     value and re-encodes to the same bytes (the codec is canonical).
// The default case count runs in a few seconds; RAFTBUS_FUZZ_CASES=500000
// runs a long campaign with the same seeds.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrMalformedMessage } from '../src/errors.js';
import { decodeConfState, decodeEntry, decodeEntryTermIndex, decodeHardState } from '../src/raftpb/codec.js';
import { ConfChangeTransition, ConfChangeType, EntryType, MessageType } from '../src/raftpb/types.js';
import * as damage from './helpers/encoding-damage.js';
import { RAFTPB_KINDS as KINDS, raftpbCodecs as codecs, type RaftpbKind as Kind } from './helpers/raftpb-codecs.js';
import { SeededDraws } from './helpers/random.js';
import { concat, fromHex, paddedVarint, tag, toHex, varint } from './helpers/wire-bytes.js';

const CASES = fuzzCases(12_000);
/** Vitest's 30 s default fits the default count; a long campaign gets room in proportion (a bound, not a measurement). */
const TIMEOUT_MS = Math.max(30_000, CASES / 2);

function fuzzCases(dflt: number): number {
  const raw = process.env['RAFTBUS_FUZZ_CASES'];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`RAFTBUS_FUZZ_CASES must be a positive integer, got ${raw}`);
  return n;
}

interface Vector {
  name: string;
  kind: Kind;
  hex: string;
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/etcd-raftpb-v3.6.json', import.meta.url), 'utf8')) as { vectors: Vector[] };

/** A kind's codec, as the property below uses it: any kind's value in, bytes out. */
interface Codec {
  decode(b: Uint8Array): unknown;
  encode(v: never): Uint8Array;
}

/** Length-delimited fields holding a nested message, by kind and field number: where nested corruption goes. */
const NESTED: Partial<Record<Kind, Record<number, Kind>>> = {
  Message: { 7: 'Entry', 9: 'Snapshot', 14: 'Message' },
  // The kind named only steers deeper nesting: metadata and ConfChangeSingle have no kind of their own.
  Snapshot: { 2: 'Snapshot' },
  ConfChangeV2: { 2: 'ConfChange' },
};

// ---------------------------------------------------------------------------
// Byte helpers

/** Varint values at the edges: of 7-bit groups, of int32, of safe integers, of 64 bits. */
const EDGE_VALUES: bigint[] = [
  0n, 1n, 127n, 128n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n,
  2n ** 53n - 2n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n,
];

/** Varint encodings a lenient reader might take: overlong zero padding, 10 and 11 byte forms, past 2^64. */
function oddVarint(g: SeededDraws): Uint8Array {
  switch (g.int(5)) {
    case 0: {
      // v padded with continuation bytes: the same value, non-canonically.
      const v = varint(g.pick(EDGE_VALUES));
      const pad = 1 + g.int(10 - v.length > 0 ? 10 - v.length : 1);
      return paddedVarint(v, v.length + pad);
    }
    case 1:
      return Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02); // 2^64 and more
    case 2:
      return Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00); // 11 bytes
    case 3:
      return Uint8Array.of(0xff, 0xff, 0xff); // unterminated
    default:
      return varint(g.pick(EDGE_VALUES));
  }
}

// ---------------------------------------------------------------------------
// Mutations

const samples: { kind: Kind; bytes: Uint8Array }[] = fixture.vectors.map((v) => ({ kind: v.kind, bytes: fromHex(v.hex) }));
const smallSamples = samples.filter((s) => s.bytes.length <= 512);

/** One mutation of `b` (a message of kind `kind`); `depth` bounds nested recursion. */
function mutate(g: SeededDraws, kind: Kind, b: Uint8Array, depth = 0): Uint8Array {
  return g.pick(MUTATIONS)(g, b, { kind, depth });
}

/** Field numbers worth aiming at: all of ours (1-14), 0, and a few unknown ones. */
const fieldNumbers = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 100, 2 ** 29 - 1];

const MUTATIONS: damage.Damage<{ kind: Kind; depth: number }>[] = [
  damage.flipBits,
  // A byte set to a value that matters to varints and tags.
  damage.setByte([0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x0b, 0x0c, 0x0f]),
  // Cut short, never kept whole.
  (g, b) => b.subarray(0, g.int(b.length)),
  damage.insertBytes(8),
  damage.deleteBytes(8),
  (g, b) => {
    // Spliced with another encoding (any kind): its head and our tail, or the reverse.
    const o = g.pick(smallSamples).bytes;
    const at = () => g.int(b.length + 1);
    return g.chance(0.5) ? concat(o.subarray(0, g.int(o.length + 1)), b.subarray(at())) : concat(b.subarray(0, at()), o.subarray(g.int(o.length + 1)));
  },
  // A whole field of ours duplicated, or another kind's bytes appended: repeated fields merge.
  (g, b) => concat(b, damage.someField(g, b) ?? g.pick(smallSamples).bytes),
  // A field (ours or unknown) holding an edge-case or odd varint.
  (g, b) => damage.insertBetweenFields(g, b, concat(tag(g.pick(fieldNumbers), 0), oddVarint(g)), 'atAnEnd'),
  // A length-delimited field whose length is huge, or past the end.
  (g, b) => damage.appendBadLength(g, b, fieldNumbers, [2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 64n - 1n, BigInt(b.length + 1), 1000n].map(varint)),
  // An enum field with a value outside the enum (or a negative int32, as a 10-byte varint).
  (g, b) =>
    damage.insertBetweenFields(g, b, concat(tag(g.pick([1, 2]), 0), varint(g.pick([4n, 23n, 24n, 99n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 64n - 1n, 2n ** 64n - 2n ** 31n]))), 'atAnEnd'),
  // A known field number with another wire type, or a group, or wire type 6/7.
  (g, b) => damage.insertBetweenFields(g, b, concat(tag(g.pick(fieldNumbers), g.pick([1, 3, 4, 5, 6, 7])), g.bytes(g.int(9))), 'atAnEnd'),
  // Corruption inside a nested message of a kind NESTED names.
  (g, b, { kind, depth }) => {
    const nested = NESTED[kind] ?? {};
    return damage.insideNested(g, b, depth, (f) => nested[f.field] !== undefined, (v, f, deeper) => mutate(g, nested[f.field]!, v, deeper));
  },
  (g, b) => {
    // Random bytes replacing a stretch.
    const i = g.int(b.length + 1);
    return concat(b.subarray(0, i), g.bytes(g.int(6)), b.subarray(Math.min(b.length, i + g.int(6))));
  },
];

// ---------------------------------------------------------------------------
// The property

const MESSAGE_TYPES = Object.keys(MessageType).length / 2;
const ENTRY_TYPES = Object.keys(EntryType).length / 2;
const CONF_CHANGE_TYPES = Object.keys(ConfChangeType).length / 2;
const TRANSITIONS = Object.keys(ConfChangeTransition).length / 2;

/** Why a decoded value is not something the codec may hand out, or undefined when it is fine. */
function badValue(x: unknown, path: string, enumLimit?: number): string | undefined {
  if (typeof x === 'number') {
    if (!Number.isSafeInteger(x) || x < 0) return `${path} = ${x} is not a safe non-negative integer`;
    if (enumLimit !== undefined && x >= enumLimit) return `${path} = ${x} is not a known enum value`;
    return undefined;
  }
  if (typeof x === 'boolean') return undefined;
  if (x instanceof Uint8Array) return x.constructor === Uint8Array ? undefined : `${path} is not a plain Uint8Array`;
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) {
      const why = badValue(x[i], `${path}[${i}]`);
      if (why !== undefined) return why;
    }
    return undefined;
  }
  if (typeof x === 'object' && x !== null) {
    const o = x as Record<string, unknown>;
    // Which enum a `type` field holds: entries have `data`, conf changes `nodeId`, messages `to`.
    const typeLimit = 'to' in o ? MESSAGE_TYPES : 'nodeId' in o ? CONF_CHANGE_TYPES : 'data' in o && 'index' in o ? ENTRY_TYPES : undefined;
    for (const [k, v] of Object.entries(o)) {
      const limit = k === 'type' ? typeLimit : k === 'transition' ? TRANSITIONS : undefined;
      if (k === 'type' && limit === undefined) return `${path}.type on an unexpected object`;
      const why = badValue(v, `${path}.${k}`, limit);
      if (why !== undefined) return why;
    }
    return undefined;
  }
  return `${path} has unexpected ${typeof x}`;
}

/** Deep equality for decoded values (plain objects, arrays, numbers, booleans, bytes). */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i]);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

type Outcome = 'decoded' | 'refused';

/** The outcome of `f(input)`: its value, or the message it threw. */
function outcome<T>(f: (b: Uint8Array) => T, input: Uint8Array): { value: T } | { error: string } {
  try {
    return { value: f(input) };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

/** decodeEntryTermIndex refuses what decodeEntry refuses, with the same error, and otherwise reads the same term and index. */
function termIndexDisagrees(input: Uint8Array): string | undefined {
  const full = outcome(decodeEntry, input);
  // The pair is read off what decodeEntryTermIndex returns: only its term and index are promised.
  const read = outcome(decodeEntryTermIndex, input);
  const skim = 'value' in read ? { value: { term: read.value.term, index: read.value.index } } : read;
  const want = 'value' in full ? { value: { term: full.value.term, index: full.value.index } } : full;
  return JSON.stringify(skim) === JSON.stringify(want) ? undefined : `decodeEntryTermIndex gave ${JSON.stringify(skim)}, decodeEntry ${JSON.stringify(want)}`;
}

/** Checks the property for one input; returns a description of a violation, or the outcome. */
function check(kind: Kind, input: Uint8Array): Outcome | string {
  if (kind === 'Entry') {
    const why = termIndexDisagrees(input);
    if (why !== undefined) return why;
  }
  const c = codecs[kind] as Codec;
  let value: unknown;
  try {
    value = c.decode(input);
  } catch (e) {
    if (e instanceof ErrMalformedMessage && e.constructor === ErrMalformedMessage && e.name === 'ErrMalformedMessage') return 'refused';
    return `decode${kind} threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  }
  const why = badValue(value, kind);
  if (why !== undefined) return why;
  let once: Uint8Array;
  let again: unknown;
  try {
    once = c.encode(value as never);
    again = c.decode(once);
  } catch (e) {
    return `a decoded ${kind} did not re-encode and decode: ${String(e)}`;
  }
  if (!same(value, again)) return `a decoded ${kind} changed across encode and decode`;
  const twice = c.encode(again as never);
  if (toHex(once) !== toHex(twice)) return `a decoded ${kind} re-encoded to other bytes the second time`;
  return 'decoded';
}

function fail(kind: Kind, input: Uint8Array, seed: number, i: number, why: string): never {
  expect.fail(`seed ${seed} case ${i}: ${why}\n  kind ${kind}, input ${toHex(input)}`);
}

interface Tally {
  decoded: number;
  refused: number;
}

function campaign(seed: number, cases: number, next: (g: SeededDraws) => { kind: Kind; input: Uint8Array }): Tally {
  const g = new SeededDraws(seed);
  const tally: Tally = { decoded: 0, refused: 0 };
  for (let i = 0; i < cases; i++) {
    const { kind, input } = next(g);
    const out = check(kind, input);
    if (out !== 'decoded' && out !== 'refused') fail(kind, input, seed, i, out);
    tally[out]++;
  }
  return tally;
}

describe(`raftpb codec fuzz (${CASES} cases per campaign; RAFTBUS_FUZZ_CASES to change)`, () => {
  it('every golden vector is a valid input to start from', () => {
    expect(new Set(samples.map((s) => s.kind))).toEqual(new Set(KINDS));
    for (const s of samples) expect(check(s.kind, s.bytes)).toBe('decoded');
  });

  it('random bytes, decoded as every kind', { timeout: TIMEOUT_MS }, () => {
    const tally = campaign(0x5eed01, CASES, (g) => {
      const len = g.chance(0.9) ? g.int(24) : g.int(300);
      return { kind: g.pick(KINDS), input: g.bytes(len) };
    });
    // Both outcomes happen: the campaign explores, it does not just bounce off.
    expect(tally.refused).toBeGreaterThan(CASES / 10);
    expect(tally.decoded).toBeGreaterThan(CASES / 100);
  });

  it('mutations of the golden vectors, one to four at a time', { timeout: TIMEOUT_MS }, () => {
    const tally = campaign(0x5eed02, CASES, (g) => {
      const s = g.pick(smallSamples);
      let b = s.bytes;
      for (let k = 1 + g.int(4); k > 0; k--) b = mutate(g, s.kind, b);
      return { kind: s.kind, input: b };
    });
    expect(tally.refused).toBeGreaterThan(CASES / 10);
    expect(tally.decoded).toBeGreaterThan(CASES / 10);
  });

  it('golden vectors decoded as another kind, bent a little', { timeout: TIMEOUT_MS }, () => {
    const tally = campaign(0x5eed03, Math.ceil(CASES / 4), (g) => {
      const s = g.pick(smallSamples);
      const kind = g.pick(KINDS);
      return { kind, input: g.chance(0.5) ? s.bytes : mutate(g, s.kind, s.bytes) };
    });
    expect(tally.refused + tally.decoded).toBe(Math.ceil(CASES / 4));
    expect(tally.refused).toBeGreaterThan(0);
  });

  it('the large golden vectors (entries of 16 KiB and more), bent', { timeout: TIMEOUT_MS }, () => {
    const large = samples.filter((s) => s.bytes.length > 512);
    expect(large.length).toBeGreaterThan(0);
    const cases = Math.ceil(CASES / 50);
    const tally = campaign(0x5eed04, cases, (g) => {
      const s = g.pick(large);
      return { kind: s.kind, input: mutate(g, s.kind, s.bytes) };
    });
    expect(tally.refused + tally.decoded).toBe(cases);
  });

  it('decoded byte fields never alias the input', () => {
    const g = new SeededDraws(0x5eed05);
    for (const s of samples.filter((x) => x.kind === 'Message' || x.kind === 'Entry')) {
      const input = s.bytes.slice();
      const value = codecs[s.kind].decode(input);
      const before = toHex(codecs[s.kind].encode(value as never));
      for (let i = 0; i < input.length; i++) input[i] = g.int(256);
      expect(toHex(codecs[s.kind].encode(value as never))).toBe(before);
    }
  });
});

describe('hand-made hostile encodings', () => {
  const refused = (kind: Kind, hex: string): void => {
    expect(check(kind, fromHex(hex)), `${kind} ${hex}`).toBe('refused');
  };

  it('refuses every uint64 field above 2^53-1, in every kind', () => {
    const uint64Fields: [Kind, number[]][] = [
      ['Entry', [2, 3]],
      ['HardState', [1, 2, 3]],
      ['ConfState', [1, 2, 3, 4]],
      ['Message', [2, 3, 4, 5, 6, 8, 11, 13]],
      ['ConfChange', [1, 3]],
    ];
    for (const [kind, nums] of uint64Fields) {
      for (const f of nums) {
        for (const v of [2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]) refused(kind, toHex(concat(tag(f, 0), varint(v))));
        expect(check(kind, concat(tag(f, 0), varint(2n ** 53n - 1n)))).toBe('decoded');
      }
    }
    // Nested: an entry's index inside a message, a snapshot's index inside its metadata, a change's node id.
    const entry = concat(tag(3, 0), varint(2n ** 53n));
    refused('Message', toHex(concat(tag(7, 2), varint(BigInt(entry.length)), entry)));
    const md = concat(tag(2, 0), varint(2n ** 60n));
    refused('Snapshot', toHex(concat(tag(2, 2), varint(BigInt(md.length)), md)));
    const change = concat(tag(2, 0), varint(2n ** 53n));
    refused('ConfChangeV2', toHex(concat(tag(2, 2), varint(BigInt(change.length)), change)));
  });

  it('refuses packed repeated ids that hold an unsafe or unterminated value', () => {
    const packed = (...vs: Uint8Array[]) => {
      const body = concat(...vs);
      return toHex(concat(tag(1, 2), varint(BigInt(body.length)), body));
    };
    refused('ConfState', packed(varint(1n), varint(2n ** 53n)));
    refused('ConfState', packed(varint(1n), Uint8Array.of(0x80)));
    expect(check('ConfState', fromHex(packed(varint(1n), varint(2n ** 53n - 1n))))).toBe('decoded');
  });

  it('refuses unknown enum values in every enum field, nested ones too', () => {
    refused('Message', toHex(concat(tag(1, 0), varint(24n))));
    refused('Entry', toHex(concat(tag(1, 0), varint(3n))));
    refused('ConfChange', toHex(concat(tag(2, 0), varint(4n))));
    refused('ConfChangeV2', toHex(concat(tag(1, 0), varint(3n))));
    refused('Message', toHex(concat(tag(1, 0), varint(2n ** 64n - 1n)))); // int32 -1 as gogo writes it
    const entry = concat(tag(1, 0), varint(7n));
    refused('Message', toHex(concat(tag(7, 2), varint(BigInt(entry.length)), entry)));
    const change = concat(tag(1, 0), varint(9n));
    refused('ConfChangeV2', toHex(concat(tag(2, 2), varint(BigInt(change.length)), change)));
  });

  it('refuses lengths past the end, however large, at the top and nested', () => {
    for (const len of [1n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 64n - 1n]) {
      refused('Entry', toHex(concat(tag(4, 2), varint(len))));
      refused('Message', toHex(concat(tag(9, 2), varint(len), Uint8Array.of(0))));
      const inner = concat(tag(4, 2), varint(len));
      refused('Message', toHex(concat(tag(7, 2), varint(BigInt(inner.length)), inner)));
    }
  });

  it('accepts non-canonical varints of safe values and reads the same value', () => {
    // 1 written in 10 bytes; a peer may pad, the value is what counts.
    const padded = Uint8Array.of(0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
    const hs = decodeHardState(concat(tag(1, 0), padded));
    expect(hs.term).toBe(1);
    expect(check('HardState', concat(tag(1, 0), padded))).toBe('decoded');
    // Eleven bytes, or a tenth byte past bit 63, are refused.
    refused('HardState', toHex(concat(tag(1, 0), Uint8Array.of(0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00))));
    refused('HardState', toHex(concat(tag(1, 0), Uint8Array.of(0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02))));
  });

  it('refuses field numbers past 2^29-1 and length prefixes longer than 5 bytes rather than truncating them', () => {
    // Field 2^29 with wire type 0: a tag of 2^32, which a 32-bit reader would cut down to field 1 (the type).
    refused('Message', toHex(concat(tag(2 ** 29, 0), varint(5n))));
    refused('Entry', toHex(concat(tag(2 ** 29 + 1, 0), varint(1n))));
    // The largest field number is an unknown field like any other.
    expect(check('Entry', concat(tag(2 ** 29 - 1, 0), varint(5n)))).toBe('decoded');
    // A length of 2^32 + 1 must not be read as 1.
    refused('Entry', toHex(concat(tag(4, 2), varint(2n ** 32n + 1n), Uint8Array.of(0xaa))));
    // A padded (6-byte) length of 1 is refused, not misread.
    refused('Entry', toHex(concat(tag(4, 2), Uint8Array.of(0x81, 0x80, 0x80, 0x80, 0x80, 0x00), Uint8Array.of(0xaa))));
  });

  it('refuses a bool field whose varint is unterminated, and reads any other varint as true', () => {
    refused('ConfState', toHex(concat(tag(5, 0), Uint8Array.of(0x80))));
    expect((decodeConfState(concat(tag(5, 0), varint(2n ** 64n - 1n))) as { autoLeave: boolean }).autoLeave).toBe(true);
  });
});

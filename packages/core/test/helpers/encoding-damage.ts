// Ways to damage a valid protobuf encoding at random, for the codec tests
// that feed the decoders bad bytes (codec-fuzz, codec-differential). Each
// test draws from its own menu of these, in its own order and with its own
// constants, so that its seeds keep producing the bytes they always did.
import type { SeededDraws } from './random.js';
import { concat, fields, lengthDelimited, tag, type Field } from './wire-bytes.js';

/**
 * One damage to `b`, as a test's menu lists it; `at` is what the test threads
 * through its recursion into nested messages (the depth, the kind damaged).
 */
export type Damage<At> = (g: SeededDraws, b: Uint8Array, at: At) => Uint8Array;

/** A damage that needs nothing from the test's recursion. */
type Plain = (g: SeededDraws, b: Uint8Array) => Uint8Array;

/** One to three bits flipped. */
export function flipBits(g: SeededDraws, b: Uint8Array): Uint8Array {
  const out = b.slice();
  for (let k = 1 + g.int(3); k > 0 && b.length > 0; k--) out[g.int(b.length)]! ^= 1 << g.int(8);
  return out;
}

/** One byte set to one of `values` (those that mean something to varints and tags). */
export function setByte(values: readonly number[]): Plain {
  return (g, b) => {
    const out = b.slice();
    if (b.length > 0) out[g.int(b.length)] = g.pick(values);
    return out;
  };
}

/** Cut off at a random point, possibly the end. */
export function truncate(g: SeededDraws, b: Uint8Array): Uint8Array {
  return b.subarray(0, g.int(b.length + 1));
}

/** One to `most` random bytes inserted at a random point. */
export function insertBytes(most: number): Plain {
  return (g, b) => {
    const at = g.int(b.length + 1);
    return concat(b.subarray(0, at), g.bytes(1 + g.int(most)), b.subarray(at));
  };
}

/** One to `most` bytes deleted from a random point. */
export function deleteBytes(most: number): Plain {
  return (g, b) => {
    const at = g.int(b.length + 1);
    return concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + g.int(most))));
  };
}

/**
 * `piece` inserted where a top-level field of `b` ends (or at the start), so
 * that the decoder reads it as a field. Where `b` no longer parses, it goes
 * `anywhere`, or at one of its two ends (`atAnEnd`): each test keeps the choice
 * its seeds were made with.
 */
export function insertBetweenFields(g: SeededDraws, b: Uint8Array, piece: Uint8Array, unparsed: 'anywhere' | 'atAnEnd'): Uint8Array {
  const fs = fields(b);
  const at =
    fs !== undefined ? g.pick([0, ...fs.map((f) => f.end)]) : unparsed === 'anywhere' ? g.int(b.length + 1) : g.pick([0, b.length]);
  return concat(b.subarray(0, at), piece, b.subarray(at));
}

/** One top-level field of `b`, tag through value; undefined when `b` does not parse or is empty. */
export function someField(g: SeededDraws, b: Uint8Array): Uint8Array | undefined {
  const fs = fields(b);
  if (fs === undefined || fs.length === 0) return undefined;
  const f = g.pick(fs);
  return b.subarray(f.start, f.end);
}

/**
 * A length-delimited field appended with one of `lengths` (encoded: huge,
 * or past the end) and at most three bytes after it.
 */
export function appendBadLength(g: SeededDraws, b: Uint8Array, fieldNumbers: readonly number[], lengths: readonly Uint8Array[]): Uint8Array {
  const len = g.pick(lengths);
  return concat(b, tag(g.pick(fieldNumbers), 2), len, g.bytes(g.int(4)));
}

/** How deep insideNested goes into messages nested in messages. */
const MAX_NESTED_DEPTH = 3;

/**
 * Damage inside a nested message: `inner` damages the value of one
 * length-delimited field that `nests` accepts (at `depth` + 1), and the
 * field's length is rewritten so that the nested decoder meets the damage
 * rather than a short or long field. Where `b` has no such field, or `depth`
 * is past the limit, a truncation instead.
 */
export function insideNested(
  g: SeededDraws,
  b: Uint8Array,
  depth: number,
  nests: (f: Field) => boolean,
  inner: (value: Uint8Array, f: Field, depth: number) => Uint8Array,
): Uint8Array {
  const fs = depth > MAX_NESTED_DEPTH ? undefined : fields(b)?.filter((f) => f.wireType === 2 && nests(f));
  if (fs === undefined || fs.length === 0) return truncate(g, b);
  const f = g.pick(fs);
  const value = inner(b.subarray(f.valueStart, f.end), f, depth + 1);
  return concat(b.subarray(0, f.start), lengthDelimited(f.field, value), b.subarray(f.end));
}

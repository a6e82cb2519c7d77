// Human-readable descriptions of raft's types (etcd-raft's util.go Describe*
// functions). Their output is an interface fact: the data-driven scenario
// files compare it byte for byte, so every format here is Go's, verb for verb.
import { decodeConfChange, decodeConfChangeV2 } from '../raftpb/codec.js';
import { confChangeAsV2 } from '../raftpb/confchange.js';
import { confChangesToString } from '../raftpb/confchange-string.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  MessageType,
  isEmptyHardState,
  isEmptySnap,
  type ConfChange,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
} from '../raftpb/types.js';
import { None, StateType, type ReadState, type SoftState } from '../raft.js';
import type { Ready } from '../raw-node.js';
import { isNotPrint16, isNotPrint32, isPrint16, isPrint32 } from './go-isprint.js';
import { LocalAppendThread, LocalApplyThread } from './messages.js';

/**
 * Formats entry payloads for humans; the default is Go's %q of the bytes.
 * Applications with structured payloads pass their own.
 */
export type EntryFormatter = (data: Uint8Array) => string;

const LOWER_HEX = '0123456789abcdef';

/**
 * Decodes one rune as Go's utf8.DecodeRune does: overlong forms, surrogates
 * and values past U+10FFFF are invalid and consume a single byte.
 * Returns [rune, width]; rune is -1 for an invalid byte.
 */
function decodeRune(b: Uint8Array, i: number): [number, number] {
  const b0 = b[i]!;
  if (b0 < 0x80) return [b0, 1];
  // The range the second byte must fall in depends on the first (Go's acceptRanges).
  let need: number;
  let lo = 0x80;
  let hi = 0xbf;
  let cp: number;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    need = 1;
    cp = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    need = 2;
    cp = b0 & 0x0f;
    if (b0 === 0xe0) lo = 0xa0;
    else if (b0 === 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 === 0xf0) lo = 0x90;
    else if (b0 === 0xf4) hi = 0x8f;
  } else {
    return [-1, 1];
  }
  if (i + need >= b.length) return [-1, 1]; // truncated sequence
  for (let k = 1; k <= need; k++) {
    const c = b[i + k]!;
    if (k === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) return [-1, 1];
    cp = (cp << 6) | (c & 0x3f);
  }
  return [cp, need + 1];
}

/** First i with s[i] >= v (Go's sort.Search on a sorted table). */
function lowerBound(s: readonly number[], v: number): number {
  let i = 0;
  let j = s.length;
  while (i < j) {
    const h = (i + j) >>> 1;
    if (s[h]! < v) i = h + 1;
    else j = h;
  }
  return i;
}

function inRanges(ranges: readonly number[], r: number): boolean {
  const i = lowerBound(ranges, r);
  return i < ranges.length && r >= ranges[i & ~1]! && r <= ranges[i | 1]!;
}

/**
 * Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and
 * ASCII space, as of Go's Unicode version (hence Go's own tables).
 */
function isPrint(r: number): boolean {
  if (r <= 0xff) {
    if (r >= 0x20 && r <= 0x7e) return true;
    if (r >= 0xa1 && r <= 0xff) return r !== 0xad; // soft hyphen
    return false;
  }
  if (r < 0x10000) {
    if (!inRanges(isPrint16, r)) return false;
    const j = lowerBound(isNotPrint16, r);
    return !(j < isNotPrint16.length && isNotPrint16[j] === r);
  }
  if (!inRanges(isPrint32, r)) return false;
  if (r >= 0x20000) return true;
  const j = lowerBound(isNotPrint32, r - 0x10000);
  return !(j < isNotPrint32.length && isNotPrint32[j] === r - 0x10000);
}

function hexPad(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

const ESCAPES: Record<number, string> = {
  0x07: '\\a',
  0x08: '\\b',
  0x0c: '\\f',
  0x0a: '\\n',
  0x0d: '\\r',
  0x09: '\\t',
  0x0b: '\\v',
};

const utf8Encoder = new TextEncoder();

/**
 * Go's %q of a []byte (strconv.Quote of the bytes as a string): printable
 * runes verbatim, the usual C escapes, \xNN for control and invalid bytes,
 * \uNNNN / \UNNNNNNNN for other non-printable runes. A string argument is
 * quoted as its UTF-8 bytes.
 */
export function goQuote(data: Uint8Array | string): string {
  const b = typeof data === 'string' ? utf8Encoder.encode(data) : data;
  let out = '"';
  for (let i = 0; i < b.length; ) {
    const [r, width] = decodeRune(b, i);
    if (r < 0) {
      const c = b[i]!;
      out += '\\x' + LOWER_HEX[c >> 4]! + LOWER_HEX[c & 0xf]!;
    } else if (r === 0x22 || r === 0x5c) {
      out += '\\' + String.fromCharCode(r);
    } else if (isPrint(r)) {
      out += String.fromCodePoint(r);
    } else if (ESCAPES[r] !== undefined) {
      out += ESCAPES[r];
    } else if (r < 0x20 || r === 0x7f) {
      out += '\\x' + hexPad(r, 2);
    } else if (r < 0x10000) {
      out += '\\u' + hexPad(r, 4);
    } else {
      out += '\\U' + hexPad(r, 8);
    }
    i += width;
  }
  return out + '"';
}

/** Go's %v of a []uint64: "[1 2 3]" ("[]" when empty or nil). */
export function goUintSlice(vs: readonly number[]): string {
  return `[${vs.join(' ')}]`;
}

/** Go's %v of a []byte: decimal bytes, "[102 111 111]". */
export function goBytesV(b: Uint8Array): string {
  return `[${Array.from(b).join(' ')}]`;
}

/** Go's %v of a protobuf enum: its name, or the number if it has none. */
function enumName(e: Record<number, string>, v: number): string {
  return e[v] ?? String(v);
}

export function messageTypeName(t: MessageType): string {
  return enumName(MessageType, t);
}

export function entryTypeName(t: EntryType): string {
  return enumName(EntryType, t);
}

export function stateTypeName(t: StateType): string {
  return enumName(StateType, t);
}

export function describeHardState(hs: HardState): string {
  let s = `Term:${hs.term}`;
  if (hs.vote !== 0) s += ` Vote:${hs.vote}`;
  return s + ` Commit:${hs.commit}`;
}

export function describeSoftState(ss: SoftState): string {
  return `Lead:${ss.lead} State:${stateTypeName(ss.raftState)}`;
}

export function describeConfState(cs: ConfState): string {
  return (
    `Voters:${goUintSlice(cs.voters)} VotersOutgoing:${goUintSlice(cs.votersOutgoing)} ` +
    `Learners:${goUintSlice(cs.learners)} LearnersNext:${goUintSlice(cs.learnersNext)} AutoLeave:${cs.autoLeave}`
  );
}

export function describeSnapshot(snap: Snapshot): string {
  const m = snap.metadata;
  return `Index:${m.index} Term:${m.term} ConfState:${describeConfState(m.confState)}`;
}

/** Go's %v of []ReadState: "[{11 [102 111 111]} {12 []}]". */
function describeReadStates(rss: readonly ReadState[]): string {
  return `[${rss.map((rs) => `{${rs.index} ${goBytesV(rs.requestCtx)}}`).join(' ')}]`;
}

export function describeReady(rd: Ready, f?: EntryFormatter): string {
  let buf = '';
  if (rd.softState) buf += describeSoftState(rd.softState) + '\n';
  if (rd.hardState && !isEmptyHardState(rd.hardState)) buf += `HardState ${describeHardState(rd.hardState)}\n`;
  if (rd.readStates.length > 0) buf += `ReadStates ${describeReadStates(rd.readStates)}\n`;
  if (rd.entries.length > 0) buf += 'Entries:\n' + describeEntries(rd.entries, f);
  if (!isEmptySnap(rd.snapshot)) buf += `Snapshot ${describeSnapshot(rd.snapshot!)}\n`;
  if (rd.committedEntries.length > 0) buf += 'CommittedEntries:\n' + describeEntries(rd.committedEntries, f);
  if (rd.messages.length > 0) {
    buf += 'Messages:\n';
    for (const m of rd.messages) buf += describeMessage(m, f) + '\n';
  }
  return buf.length > 0 ? `Ready MustSync=${rd.mustSync}:\n${buf}` : '<empty Ready>';
}

/** A concise description of a message, with its entries, snapshot and bundled responses. */
export function describeMessage(m: Message, f?: EntryFormatter): string {
  return describeMessageWithIndent('', m, f);
}

function describeMessageWithIndent(indent: string, m: Message, f?: EntryFormatter): string {
  let buf =
    `${indent}${describeTarget(m.from)}->${describeTarget(m.to)} ${messageTypeName(m.type)} ` +
    `Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) buf += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0) buf += ` Commit:${m.commit}`;
  if (m.vote !== 0) buf += ` Vote:${m.vote}`;
  if (m.entries.length === 1) {
    buf += ` Entries:[${describeEntry(m.entries[0]!, f)}]`;
  } else if (m.entries.length > 1) {
    buf += ' Entries:[';
    for (const e of m.entries) buf += `\n${indent}  ${describeEntry(e, f)}`;
    buf += `\n${indent}]`;
  }
  if (m.snapshot && !isEmptySnap(m.snapshot)) buf += `\n${indent}  Snapshot: ${describeSnapshot(m.snapshot)}`;
  if (m.responses.length > 0) {
    buf += ' Responses:[';
    for (const r of m.responses) buf += '\n' + describeMessageWithIndent(indent + '  ', r, f);
    buf += `\n${indent}]`;
  }
  return buf;
}

/** A node id as etcd prints it: hex, with names for "none" and the local storage threads. */
export function describeTarget(id: number): string {
  switch (id) {
    case None:
      return 'None';
    case LocalAppendThread:
      return 'AppendThread';
    case LocalApplyThread:
      return 'ApplyThread';
    default:
      return id.toString(16);
  }
}

export const defaultEntryFormatter: EntryFormatter = (data) => goQuote(data);

/** "term/index type payload"; conf change payloads are decoded into their short form ("v2 l3 r1"). */
export function describeEntry(e: Entry, f: EntryFormatter = defaultEntryFormatter): string {
  let formatted = '';
  switch (e.type) {
    case EntryType.EntryNormal:
      formatted = f(e.data);
      break;
    case EntryType.EntryConfChange:
      formatted = formatConfChangeData(() => decodeConfChange(e.data));
      break;
    case EntryType.EntryConfChangeV2:
      formatted = formatConfChangeData(() => decodeConfChangeV2(e.data));
      break;
  }
  if (formatted !== '') formatted = ' ' + formatted;
  return `${e.term}/${e.index} ${entryTypeName(e.type)}${formatted}`;
}

function formatConfChangeData(decode: () => ConfChange | ConfChangeV2): string {
  let cc: ConfChange | ConfChangeV2;
  try {
    cc = decode();
  } catch (err) {
    // etcd prints the decoding error in place of the change.
    return err instanceof Error ? err.message : String(err);
  }
  return confChangesToString(confChangeAsV2(cc).changes);
}

/**
 * A deterministic description of a conf change, in the shape of its proto
 * text form ("transition:... changes:{type:... node_id:N} context:\"...\"").
 */
export function describeConfChange(cc: ConfChange | ConfChangeV2): string {
  const v2 = confChangeAsV2(cc);
  let s = `transition:${enumName(ConfChangeTransition, v2.transition)}`;
  for (const c of v2.changes) s += ` changes:{type:${enumName(ConfChangeType, c.type)} node_id:${c.nodeId}}`;
  if (v2.context.length > 0) s += ` context:${goQuote(v2.context)}`;
  return s;
}

/** describeEntry of each entry, one per line. */
export function describeEntries(ents: readonly Entry[], f?: EntryFormatter): string {
  let s = '';
  for (const e of ents) s += describeEntry(e, f) + '\n';
  return s;
}

// A reader and runner for the data-driven test format etcd-raft uses
// (github.com/cockroachdb/datadriven v1.0.2, the version etcd pins): blocks of
//
//   command key=value key=(v1, v2) flag
//   optional input lines
//   ----
//   expected output (ends at a blank line, or is wrapped in a second
//   "----" pair when it contains blank lines)
//
// Files are read as a specification: every block is replayed and its output
// compared byte for byte. Parsing follows datadriven's reader rule for rule
// (comments, "\" continuations, nested parentheses in values, a block without
// a separator at the end of the file) so that no file reads differently here.
import { readFileSync } from 'node:fs';

export interface CmdArg {
  key: string;
  vals: string[];
}

export interface TestData {
  /** "file:line" of the command, for error messages. */
  pos: string;
  cmd: string;
  cmdArgs: CmdArg[];
  /** The directive line as written (continuations joined). */
  line: string;
  /** The lines between the directive and "----", trimmed as datadriven does. */
  input: string;
  expected: string;
}

/** The file itself is malformed. */
export class DataDrivenParseError extends Error {
  override name = 'DataDrivenParseError';
}

/**
 * A block is malformed for its handler (datadriven's t.Fatal): a missing or
 * unparsable argument. Fails the file; never becomes output.
 */
export class TestFatalError extends Error {
  override name = 'TestFatalError';
}

/**
 * Parses a directive line as datadriven's ParseLine: the command ends at the
 * first space; arguments are `key`, `key=value` or `key=(v1, v2, ...)`, where
 * parenthesized values may nest and a top-level comma (plus the spaces after
 * it) separates values.
 */
export function parseLine(line: string, pos = ''): { cmd: string; cmdArgs: CmdArg[] } {
  const orig = line.trim();
  let rest = orig;
  if (rest === '') return { cmd: '', cmdArgs: [] };
  const fail = (): never => {
    const column = orig.length - rest.length + 1;
    throw new DataDrivenParseError(`${pos}: cannot parse directive at column ${column}: ${orig}`);
  };
  const until = (chars: string): string => {
    let idx = 0;
    while (idx < rest.length && !chars.includes(rest[idx]!)) idx++;
    const res = rest.slice(0, idx);
    rest = rest.slice(idx);
    return res;
  };

  const cmd = until(' ');
  if (cmd === '') fail();
  rest = rest.trim();
  const cmdArgs: CmdArg[] = [];
  while (rest !== '') {
    const arg: CmdArg = { key: until(' ='), vals: [] };
    if (arg.key === '') fail();
    if (rest !== '' && rest[0] === '=') {
      rest = rest.slice(1);
      if (rest === '' || rest[0] === ' ') {
        arg.vals = [''];
      } else if (rest[0] !== '(') {
        arg.vals = [until(' ')];
      } else {
        let pos = 1;
        let nest = 1;
        let start = pos;
        while (nest > 0) {
          if (pos === rest.length) fail();
          const c = rest[pos++]!;
          if (c === ',' && nest === 1) {
            arg.vals.push(rest.slice(start, pos - 1));
            while (pos < rest.length && rest[pos] === ' ') pos++;
            start = pos;
          } else if (c === '(') {
            nest++;
          } else if (c === ')') {
            nest--;
          }
        }
        arg.vals.push(rest.slice(start, pos - 1));
        rest = rest.slice(pos).trim();
      }
    }
    cmdArgs.push(arg);
    rest = rest.trim();
  }
  return { cmd, cmdArgs };
}

/** Former name of parseLine. */
export const parseArgs = parseLine;

/** Splits text into lines as Go's bufio.ScanLines does (a final newline ends the last line; "\r\n" counts as one). */
function scanLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

export function parseTestData(text: string, file = '<input>'): TestData[] {
  const lines = scanLines(text);
  const out: TestData[] = [];
  let i = 0;
  const scan = (): string | undefined => (i < lines.length ? lines[i++] : undefined);

  for (let raw = scan(); raw !== undefined; raw = scan()) {
    const pos = `${file}:${i}`;
    let line = raw.trim();
    if (line.startsWith('#')) continue;
    while (line.endsWith('\\')) {
      const next = scan();
      if (next === undefined) break;
      line = line.slice(0, -1) + ' ' + next.trim();
    }
    const { cmd, cmdArgs } = parseLine(line, pos);
    if (cmd === '') continue; // a blank line
    if (cmd === 'subtest') throw new DataDrivenParseError(`${pos}: subtest directives are not supported`);

    const input: string[] = [];
    let separator = false;
    for (let l = scan(); l !== undefined; l = scan()) {
      if (l === '----') {
        separator = true;
        break;
      }
      input.push(l + '\n');
    }
    const expected = separator ? readExpected(scan, pos) : '';
    out.push({ pos, cmd, cmdArgs, line, input: input.join('').trim(), expected });
  }
  return out;
}

function readExpected(scan: () => string | undefined, pos: string): string {
  let buf = '';
  let line = scan();
  if (line === '----') {
    // Blank lines allowed; the output ends at two successive "----" lines.
    for (line = scan(); line !== undefined; line = scan()) {
      if (line === '----') {
        const line2 = scan();
        if (line2 !== undefined) {
          if (line2 === '----') {
            const after = scan();
            if (after !== undefined && after !== '') {
              throw new DataDrivenParseError(`${pos}: non-blank line after end of double ---- separator section`);
            }
            break;
          }
          buf += line + '\n' + line2 + '\n';
          continue;
        }
      }
      buf += line + '\n';
    }
    return buf;
  }
  // Otherwise the output ends at the first blank line.
  while (line !== undefined && line.trim() !== '') {
    buf += line + '\n';
    line = scan();
  }
  return buf;
}

/** Normalizes a handler's output the way datadriven does before comparing. */
export function normalizeOutput(actual: string): string {
  if (actual === '') return '';
  return actual.endsWith('\n') ? actual : actual + '\n';
}

export interface BlockFailure {
  pos: string;
  cmd: string;
  /** The directive line, for reports. */
  line: string;
  input: string;
  expected: string;
  actual: string;
}

export interface FileResult {
  file: string;
  blocks: number;
  failure?: BlockFailure;
}

/**
 * Replays every block of `file` through `handler` and stops at the first
 * block whose output differs. A handler that throws fails its block with the
 * error as output (datadriven fails the test on t.Fatal and panics alike).
 */
export function runFile(file: string, handler: (d: TestData) => string): FileResult {
  return runText(readFileSync(file, 'utf8'), file, handler);
}

/** runFile on text already read; `file` names it in positions. */
export function runText(text: string, file: string, handler: (d: TestData) => string): FileResult {
  const blocks = parseTestData(text, file);
  for (const d of blocks) {
    let actual: string;
    try {
      actual = normalizeOutput(handler(d));
    } catch (e) {
      actual = describeThrown(e);
    }
    if (actual !== d.expected) {
      return {
        file,
        blocks: blocks.length,
        failure: { pos: d.pos, cmd: d.cmd, line: d.line, input: d.input, expected: d.expected, actual },
      };
    }
  }
  return { file, blocks: blocks.length };
}

function describeThrown(e: unknown): string {
  if (e instanceof TestFatalError) return `<fatal> ${e.message}\n`;
  if (e instanceof Error) return `<threw> ${e.stack ?? `${e.name}: ${e.message}`}\n`;
  return `<threw> ${String(e)}\n`;
}

// Go's strconv parsers, with their error texts: handlers that return a parse
// error (rather than failing the test) print exactly what Go prints.

export class StrconvError extends Error {
  override name = 'StrconvError';
}

function strconvErr(fn: string, s: string, why: 'invalid syntax' | 'value out of range'): StrconvError {
  return new StrconvError(`strconv.${fn}: parsing ${JSON.stringify(s)}: ${why}`);
}

/** strconv.ParseUint(s, 10, 64), limited to safe integers. */
export function parseUint(s: string, fn = 'ParseUint'): number {
  if (!/^\d+$/.test(s)) throw strconvErr(fn, s, 'invalid syntax');
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw strconvErr(fn, s, 'value out of range');
  return n;
}

/** strconv.ParseInt(s, 10, 64), limited to safe integers. */
export function parseInt64(s: string, fn = 'ParseInt'): number {
  if (!/^[+-]?\d+$/.test(s)) throw strconvErr(fn, s, 'invalid syntax');
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw strconvErr(fn, s, 'value out of range');
  return n === 0 ? 0 : n; // no -0
}

/** strconv.Atoi. */
export function atoi(s: string): number {
  return parseInt64(s, 'Atoi');
}

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** strconv.ParseBool. */
export function parseBool(s: string): boolean {
  if (TRUE.has(s)) return true;
  if (FALSE.has(s)) return false;
  throw strconvErr('ParseBool', s, 'invalid syntax');
}

// Argument helpers, named after datadriven's ScanArgs / CmdArg.Scan; a bad
// or missing argument is the test's fault (TestFatalError).

export function hasArg(d: TestData, key: string): boolean {
  return d.cmdArgs.some((a) => a.key === key);
}

export function argVals(d: TestData, key: string): string[] | undefined {
  return d.cmdArgs.find((a) => a.key === key)?.vals;
}

type ScanKind = 'int' | 'uint' | 'bool' | 'string';
type Scanned<K extends ScanKind> = K extends 'bool' ? boolean : K extends 'string' ? string : number;

/** CmdArg.Scan: value i of arg as the given kind. */
export function scanArg<K extends ScanKind>(arg: CmdArg, i: number, kind: K): Scanned<K> {
  if (i < 0 || i >= arg.vals.length) throw new TestFatalError(`cannot scan index ${i} of key ${arg.key}`);
  const v = arg.vals[i]!;
  try {
    switch (kind) {
      case 'int':
        return parseInt64(v) as Scanned<K>;
      case 'uint':
        return parseUint(v) as Scanned<K>;
      case 'bool':
        return parseBool(v) as Scanned<K>;
      default:
        return v as Scanned<K>;
    }
  } catch (e) {
    throw new TestFatalError(e instanceof Error ? e.message : String(e));
  }
}

/** TestData.ScanArgs for a single-valued key. */
export function scanArgs<K extends ScanKind>(d: TestData, key: string, kind: K): Scanned<K> {
  const arg = d.cmdArgs.find((a) => a.key === key);
  if (!arg) throw new TestFatalError(`${d.pos}: missing argument: ${key}`);
  if (arg.vals.length !== 1) throw new TestFatalError(`${d.pos}: ${key}: got 1 destinations, but ${arg.vals.length} values`);
  try {
    return scanArg(arg, 0, kind);
  } catch (e) {
    throw new TestFatalError(`${d.pos}: ${key}: failed to scan argument 0: ${(e as Error).message}`);
  }
}

export function scanInt(d: TestData, key: string): number {
  return scanArgs(d, key, 'int');
}

export function maybeScanInt(d: TestData, key: string): number | undefined {
  return hasArg(d, key) ? scanInt(d, key) : undefined;
}

export function parseIntStrict(s: string, pos = ''): number {
  try {
    return parseInt64(s);
  } catch (e) {
    throw new TestFatalError(`${pos}: ${(e as Error).message}`);
  }
}

// A reader for the data-driven test format etcd-raft uses (cockroachdb's
// datadriven): blocks of
//
//   command key=value key=(v1,v2) flag
//   optional input lines
//   ----
//   expected output (ends at a blank line, or is wrapped in a second
//   "----" pair when it contains blank lines)
//
// Files are read as a specification: every block is replayed and its output
// compared byte for byte.
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
  input: string;
  expected: string;
}

export class DataDrivenParseError extends Error {
  override name = 'DataDrivenParseError';
}

const ARG_RE = /^([^=\s]+)(?:=(\([^)]*\)|\S*))?/;

export function parseArgs(line: string, pos = ''): { cmd: string; cmdArgs: CmdArg[] } {
  let rest = line.trim();
  const sp = rest.search(/\s/);
  const cmd = sp < 0 ? rest : rest.slice(0, sp);
  rest = sp < 0 ? '' : rest.slice(sp).trim();
  const cmdArgs: CmdArg[] = [];
  while (rest.length > 0) {
    const m = ARG_RE.exec(rest);
    if (!m) throw new DataDrivenParseError(`${pos}: cannot parse arguments at ${JSON.stringify(rest)}`);
    const key = m[1]!;
    const raw = m[2];
    let vals: string[] = [];
    if (raw !== undefined) {
      vals = raw.startsWith('(') ? raw.slice(1, -1).split(',').map((v) => v.trim()) : [raw];
    }
    cmdArgs.push({ key, vals });
    rest = rest.slice(m[0].length).trim();
  }
  return { cmd, cmdArgs };
}

export function parseTestData(text: string, file = '<input>'): TestData[] {
  const lines = text.split('\n');
  const out: TestData[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '' || line.startsWith('#')) {
      i++;
      continue;
    }
    const pos = `${file}:${i + 1}`;
    const { cmd, cmdArgs } = parseArgs(line, pos);
    i++;
    const input: string[] = [];
    while (i < lines.length && lines[i] !== '----') input.push(lines[i++]!);
    if (i >= lines.length) throw new DataDrivenParseError(`${pos}: missing ---- after command`);
    i++; // the separator
    const expected: string[] = [];
    if (lines[i] === '----') {
      // Output may contain blank lines; it ends at "----\n----".
      i++;
      while (i < lines.length && !(lines[i] === '----' && lines[i + 1] === '----')) expected.push(lines[i++]!);
      if (i >= lines.length) throw new DataDrivenParseError(`${pos}: unterminated ----/---- output`);
      i += 2;
      // The closing pair is preceded by the block's own trailing newline.
      out.push({ pos, cmd, cmdArgs, input: input.join('\n'), expected: joinOutput(expected) });
      continue;
    }
    while (i < lines.length && lines[i]!.trim() !== '') expected.push(lines[i++]!);
    out.push({ pos, cmd, cmdArgs, input: input.join('\n'), expected: joinOutput(expected) });
  }
  return out;
}

function joinOutput(lines: string[]): string {
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

/** Normalizes a handler's output the way datadriven does before comparing. */
export function normalizeOutput(actual: string): string {
  if (actual === '') return '';
  return actual.endsWith('\n') ? actual : actual + '\n';
}

export interface BlockFailure {
  pos: string;
  cmd: string;
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
 * error as output.
 */
export function runFile(file: string, handler: (d: TestData) => string): FileResult {
  const blocks = parseTestData(readFileSync(file, 'utf8'), file);
  for (const d of blocks) {
    let actual: string;
    try {
      actual = normalizeOutput(handler(d));
    } catch (e) {
      actual = `<threw> ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`;
    }
    if (actual !== d.expected) {
      return { file, blocks: blocks.length, failure: { pos: d.pos, cmd: d.cmd, expected: d.expected, actual } };
    }
  }
  return { file, blocks: blocks.length };
}

// Argument helpers, named after datadriven's ScanArgs.

export function hasArg(d: TestData, key: string): boolean {
  return d.cmdArgs.some((a) => a.key === key);
}

export function argVals(d: TestData, key: string): string[] | undefined {
  return d.cmdArgs.find((a) => a.key === key)?.vals;
}

export function scanInt(d: TestData, key: string): number {
  const v = argVals(d, key);
  if (!v || v.length !== 1) throw new Error(`${d.pos}: missing argument ${key}`);
  return parseIntStrict(v[0]!, d.pos);
}

export function maybeScanInt(d: TestData, key: string): number | undefined {
  return hasArg(d, key) ? scanInt(d, key) : undefined;
}

export function parseIntStrict(s: string, pos = ''): number {
  if (!/^-?\d+$/.test(s)) throw new Error(`${pos}: ${JSON.stringify(s)} is not an integer`);
  return Number(s);
}

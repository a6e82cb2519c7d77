// The data-driven reader (cases from cockroachdb/datadriven's own testdata),
// the env's redirect logger and error handling, and the `pnpm datadriven` CLI.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RaftPanic } from '../src/errors.js';
import { main } from '../src/rafttest/cli.js';
import {
  atoi,
  DataDrivenParseError,
  InteractionEnv,
  parseBool,
  parseLine,
  parseTestData,
  parseUint,
  RedirectLogger,
  runText,
  TestFatalError,
  type TestData,
} from '../src/rafttest/index.js';
import { etcdTestdata } from './helpers/testdata.js';

describe('parseLine', () => {
  const args = (line: string) => parseLine(line).cmdArgs.map((a) => [a.key, a.vals]);

  it('parses keys, single values and value lists', () => {
    expect(parseLine('some-command').cmd).toBe('some-command');
    expect(args('some-command arg1 arg2=val1 arg3=(val1, val2)')).toEqual([
      ['arg1', []],
      ['arg2', ['val1']],
      ['arg3', ['val1', 'val2']],
    ]);
  });
  it('tolerates extra spaces', () => {
    expect(args('some-command  arg1   arg2=val1    arg3=(val1,    val2)')).toEqual([
      ['arg1', []],
      ['arg2', ['val1']],
      ['arg3', ['val1', 'val2']],
    ]);
  });
  it('keeps spaces before a comma, and empty values', () => {
    expect(args('c a=(1 ,2) b=() d= e=(a,)')).toEqual([
      ['a', ['1 ', '2']],
      ['b', ['']],
      ['d', ['']],
      ['e', ['a', '']],
    ]);
  });
  it('allows nested parentheses', () => {
    expect(args('c arg1=(1, (2,3), (4 * (1 + 2))) arg2=(some (nested (parens, etc)), more (nested (parens)))')).toEqual([
      ['arg1', ['1', '(2,3)', '(4 * (1 + 2))']],
      ['arg2', ['some (nested (parens, etc))', 'more (nested (parens))']],
    ]);
  });
  it('does not split unparenthesized values on commas', () => {
    expect(args('make argTuple=(1, 🍌) argString=greedily,impatient a,b,c')).toEqual([
      ['argTuple', ['1', '🍌']],
      ['argString', ['greedily,impatient']],
      ['a,b,c', []],
    ]);
  });
  it('reports an unterminated list with its column', () => {
    expect(() => parseLine('cmd a=(1, 2', 'f:3')).toThrow('f:3: cannot parse directive at column 7: cmd a=(1, 2');
    expect(() => parseLine('cmd =x')).toThrow(DataDrivenParseError);
  });
});

describe('parseTestData', () => {
  it('reads commands, input and output ending at a blank line', () => {
    const [a, b] = parseTestData('# comment\n\ncmd 1 x=(2,3)\n  some input  \n----\nout 1\nout 2\n\nother\n----\nok\n', 'f');
    expect(a).toMatchObject({ pos: 'f:3', cmd: 'cmd', line: 'cmd 1 x=(2,3)', input: 'some input', expected: 'out 1\nout 2\n' });
    expect(a!.cmdArgs).toEqual([
      { key: '1', vals: [] },
      { key: 'x', vals: ['2', '3'] },
    ]);
    expect(b).toMatchObject({ pos: 'f:9', cmd: 'other', input: '', expected: 'ok\n' });
  });
  it('reads output with blank lines between ----/---- pairs', () => {
    const blocks = parseTestData('small\n----\n----\njust\n\ntwo lines\n----\nnot the end\n----\n----\n\nnext\n----\nx\n');
    expect(blocks.map((b) => b.expected)).toEqual(['just\n\ntwo lines\n----\nnot the end\n', 'x\n']);
  });
  it('rejects text right after a ----/---- section', () => {
    expect(() => parseTestData('a\n----\n----\nx\n----\n----\ny\n')).toThrow('non-blank line after end');
  });
  it('joins lines continued with a backslash', () => {
    const [b] = parseTestData('cmd a=1 \\\n   b=2\n----\nok\n');
    expect(b!.cmdArgs.map((a) => a.key)).toEqual(['a', 'b']);
    expect(b!.pos).toBe('<input>:1');
  });
  it('treats indented # lines as comments and strips CR', () => {
    const [b] = parseTestData('  # indented comment\r\ncmd\r\n----\r\nok\r\n');
    expect(b).toMatchObject({ cmd: 'cmd', expected: 'ok\n' });
  });
  it('expects empty output when the output or the separator is missing', () => {
    expect(parseTestData('a\n----\n\nb\n----\n').map((b) => b.expected)).toEqual(['', '']);
    expect(parseTestData('last\ninput only')).toMatchObject([{ cmd: 'last', input: 'input only', expected: '' }]);
  });
});

describe('runText', () => {
  const echo = (d: TestData) => d.input;
  it('adds the final newline datadriven adds', () => {
    expect(runText('a\nhello\n----\nhello\n', 'f', echo).failure).toBeUndefined();
  });
  it('stops at the first differing block', () => {
    const r = runText('a\nx\n----\nx\n\nb\ny\n----\nz\n\nc\n----\n', 'f', echo);
    expect(r.blocks).toBe(3);
    expect(r.failure).toMatchObject({ pos: 'f:6', cmd: 'b', line: 'b', expected: 'z\n', actual: 'y\n' });
  });
  it('turns a throw into the block output', () => {
    const r = runText('a\n----\nok\n', 'f', () => {
      throw new TestFatalError('bad arg');
    });
    expect(r.failure?.actual).toBe('<fatal> bad arg\n');
  });
});

describe('strconv helpers', () => {
  it('give Go error texts', () => {
    expect(parseUint('12')).toBe(12);
    expect(() => parseUint('-1')).toThrow('strconv.ParseUint: parsing "-1": invalid syntax');
    expect(() => atoi('x')).toThrow('strconv.Atoi: parsing "x": invalid syntax');
    expect(() => parseUint('99999999999999999999')).toThrow('value out of range');
    expect(parseBool('T')).toBe(true);
    expect(parseBool('False')).toBe(false);
    expect(() => parseBool('yes')).toThrow('strconv.ParseBool: parsing "yes": invalid syntax');
  });
});

describe('RedirectLogger', () => {
  it('prefixes the level and ends lines', () => {
    const l = new RedirectLogger();
    l.debug('a');
    l.info('b\n');
    l.warning('c');
    l.error('d');
    expect(l.toString()).toBe('DEBUG a\nINFO b\nWARN c\nERROR d\n');
  });
  it('drops messages below its level and everything at NONE', () => {
    const l = new RedirectLogger();
    l.lvl = 2;
    l.info('hidden');
    l.warning('shown');
    expect(l.toString()).toBe('WARN shown\n');
    l.lvl = 5;
    l.error('hidden');
    l.write('hidden too');
    expect(l.quiet()).toBe(true);
    expect(l.toString()).toBe('WARN shown\n');
  });
  it('throws RaftPanic on fatal and panic, after logging', () => {
    const l = new RedirectLogger();
    expect(() => l.panic('boom')).toThrow(RaftPanic);
    expect(() => l.fatal('bang')).toThrow(RaftPanic);
    expect(l.toString()).toBe('FATAL boom\nFATAL bang\n');
  });
});

describe('InteractionEnv.handle', () => {
  const run = (env: InteractionEnv, text: string) => parseTestData(text).map((d) => env.handle(d));

  it('prints returned errors, even at log level NONE', () => {
    const env = new InteractionEnv();
    expect(run(env, 'frobnicate\n----\n')).toEqual(['unknown command']);
    expect(run(env, 'log-level loud\n----\n')).toEqual(['log levels must be either of [DEBUG INFO WARN ERROR FATAL NONE]']);
    expect(run(env, 'log-level none\n----\n\nadd-nodes 1 voters=(1)\n----\n')).toEqual([
      'ok',
      'index must be specified as > 1 due to bootstrap',
    ]);
  });
  it('is case-insensitive about log levels and restores the level after stabilize', () => {
    const env = new InteractionEnv();
    run(env, 'log-level Info\n----\n');
    expect(env.output.lvl).toBe(1);
    run(env, 'add-nodes 1 voters=(1) index=2\n----\n\nstabilize log-level=none\n----\n');
    expect(env.output.lvl).toBe(1);
  });
  it('fails the test (throws) on malformed arguments', () => {
    const env = new InteractionEnv();
    expect(() => run(env, 'campaign x\n----\n')).toThrow(TestFatalError);
  });
  it('indents nested output line by line', () => {
    const env = new InteractionEnv();
    env.output.write('> head\n');
    env.withIndent(() => env.output.write('a\n\nb'));
    expect(env.output.toString()).toBe('> head\n  a\n  \n  b\n');
  });
  it('reports empty storage-thread queues', () => {
    const env = new InteractionEnv();
    expect(run(env, 'log-level none\n----\n\nadd-nodes 1\n----\n\nlog-level debug\n----\n\nprocess-append-thread 1\n----\n')).toEqual([
      'ok',
      'ok',
      'ok',
      'no append work to perform',
    ]);
  });
});

describe('cli', () => {
  const testdata = etcdTestdata();

  function runCli(args: string[]): { code: number; out: string } {
    let out = '';
    const code = main(args, (s) => (out += s));
    return { code, out };
  }

  it('passes a real scenario file', () => {
    const f = path.join(testdata, 'interaction', 'single_node.txt');
    expect(runCli([f])).toEqual({ code: 0, out: `ok ${f}\n1 passed, 0 failed\n` });
  });
  it('reports the first differing block, unknown directories, and exits 1', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'raftbus-dd-'));
    mkdirSync(path.join(dir, 'interaction'));
    mkdirSync(path.join(dir, 'elsewhere'));
    const orig = readFileSync(path.join(testdata, 'interaction', 'single_node.txt'), 'utf8');
    writeFileSync(path.join(dir, 'interaction', 'b.txt'), orig.replace('became leader at term 1', 'became leader at term 7'));
    writeFileSync(path.join(dir, 'interaction', 'a.txt'), orig);
    writeFileSync(path.join(dir, 'elsewhere', 'c.txt'), 'x\n----\n');
    const { code, out } = runCli([dir]);
    expect(code).toBe(1);
    const lines = out.split('\n');
    expect(lines[0]).toBe(`FAIL ${path.join(dir, 'elsewhere', 'c.txt')}: no runner for directory "elsewhere" (known: interaction, quorum, confchange)`);
    expect(lines[1]).toBe(`ok ${path.join(dir, 'interaction', 'a.txt')}`);
    expect(lines[2]).toBe(`FAIL ${path.join(dir, 'interaction', 'b.txt')}: ${path.join(dir, 'interaction', 'b.txt')}:16: stabilize`);
    expect(out).toContain('    |   INFO 1 became leader at term 7\n');
    expect(out).toContain('first difference at output line 7\n');
    expect(out.endsWith('1 passed, 2 failed\n')).toBe(true);
  });
  it('prints help', () => {
    const { code, out } = runCli(['--help']);
    expect(code).toBe(0);
    expect(out).toMatch(/^usage: pnpm datadriven/);
  });
});

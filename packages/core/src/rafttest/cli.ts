// `pnpm datadriven <file-or-dir>...`: replays data-driven scenario files and
// reports one line per file. The runner is chosen by the name of the file's
// directory, as etcd keeps each package's scenarios in its own testdata.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { newConfChangeHandler } from './confchange-handler.js';
import { runFile, type BlockFailure, type FileResult } from './datadriven.js';
import { runInteractionFile } from './index.js';
import { handleQuorum } from './quorum-handler.js';

const RUNNERS: Record<string, (file: string) => FileResult> = {
  interaction: (f) => runInteractionFile(f),
  quorum: (f) => runFile(f, handleQuorum),
  // The config carries over from block to block within a file.
  confchange: (f) => runFile(f, newConfChangeHandler()),
};

/** Where the scenario files live when no path is given. */
export function defaultTestdata(): string {
  // This file sits in packages/core/{src,dist}/rafttest; the repo root is four up.
  const repoRoot = fileURLToPath(new URL('../../../..', import.meta.url));
  return process.env.RAFTBUS_TESTDATA ?? path.resolve(repoRoot, '../shared/etcd-raft-testdata');
}

const USAGE = `usage: pnpm datadriven [<file-or-dir>...]

Replays data-driven scenario files (etcd-raft's testdata format) and prints
"ok <file>" or "FAIL <file>: ..." per file, then "N passed, M failed".
Directories are searched recursively for *.txt files, in sorted order.
The runner is picked by the file's directory name: ${Object.keys(RUNNERS).join(', ')}.
Without arguments, runs everything under ${'$'}RAFTBUS_TESTDATA, or else
../shared/etcd-raft-testdata next to the repository.

Exits 0 only if every file passes.`;

/** The files a path stands for: itself, or every *.txt below it, sorted. */
function expand(p: string): string[] {
  if (!statSync(p).isDirectory()) return [p];
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name.endsWith('.txt')) out.push(full);
    }
  };
  walk(p);
  return out.sort();
}

/** Output shown line by line behind "| ", so blank lines and trailing spaces stay visible. */
function quoteBlock(s: string): string {
  if (s === '') return '    (empty)\n';
  const lines = s.endsWith('\n') ? s.slice(0, -1).split('\n') : [...s.split('\n'), '(no final newline)'];
  return lines.map((l) => `    | ${l}\n`).join('');
}

function firstDifferingLine(a: string, b: string): number {
  const al = a.split('\n');
  const bl = b.split('\n');
  let i = 0;
  while (i < al.length && i < bl.length && al[i] === bl[i]) i++;
  return i + 1;
}

export function formatFailure(f: BlockFailure): string {
  return (
    `${f.pos}: ${f.line}\n` +
    (f.input ? `  input:\n${quoteBlock(f.input + '\n')}` : '') +
    `  expected:\n${quoteBlock(f.expected)}` +
    `  actual:\n${quoteBlock(f.actual)}` +
    `  first difference at output line ${firstDifferingLine(f.expected, f.actual)}`
  );
}

/** Runs the CLI; returns the exit code. */
export function main(args: string[], write: (s: string) => void = (s) => process.stdout.write(s)): number {
  if (args.includes('--help') || args.includes('-h')) {
    write(USAGE + '\n');
    return 0;
  }
  const unknownFlag = args.find((a) => a.startsWith('-'));
  if (unknownFlag) {
    write(`unknown flag ${unknownFlag}\n\n${USAGE}\n`);
    return 2;
  }
  const paths = args.length > 0 ? args : [defaultTestdata()];

  let passed = 0;
  let failed = 0;
  const fail = (file: string, why: string): void => {
    failed++;
    write(`FAIL ${file}: ${why}\n`);
  };
  for (const p of paths) {
    let files: string[];
    try {
      files = expand(p);
    } catch (e) {
      fail(p, (e as Error).message);
      continue;
    }
    if (files.length === 0) fail(p, 'no *.txt files found');
    for (const file of files) {
      const dir = path.basename(path.dirname(path.resolve(file)));
      const runner = Object.hasOwn(RUNNERS, dir) ? RUNNERS[dir] : undefined;
      if (!runner) {
        fail(file, `no runner for directory "${dir}" (known: ${Object.keys(RUNNERS).join(', ')})`);
        continue;
      }
      let r: FileResult;
      try {
        r = runner(file);
      } catch (e) {
        // Parse errors in the file itself.
        fail(file, e instanceof Error ? e.message : String(e));
        continue;
      }
      if (r.failure) {
        fail(file, formatFailure(r.failure));
      } else {
        passed++;
        write(`ok ${file}\n`);
      }
    }
  }
  write(`${passed} passed, ${failed} failed\n`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}

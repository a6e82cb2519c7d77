// Tests that run the built package in child processes, as users run it: the
// README's first snippet, run as written, and the lock held by another
// process. One file, so that one build serves both (two test files building
// the same dist at once would race).
import { spawn, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { ErrStorageLocked } from '../src/index.js';
import { buildDist, opened, packageDir, rejection, removeTempDirs, repoRoot, tempDir } from './helpers.js';

afterEach(removeTempDirs);

let dist: string;
beforeAll(() => {
  dist = buildDist();
}, 120_000);

it('the README snippet runs, and a second run recovers the first', async () => {
  const readme = await readFile(join(packageDir, 'README.md'), 'utf8');
  const snippet = /```ts\n([\s\S]*?)```/.exec(readme)![1]!;
  // The snippet is plain JavaScript in a ts fence; only its imports are pointed at the builds.
  const program = snippet
    .replace("'@raftbus/core'", `'${pathToFileURL(join(repoRoot, 'packages/core/dist/index.js')).href}'`)
    .replace("'@raftbus/storage-file'", `'${pathToFileURL(dist).href}'`);
  const cwd = await tempDir();
  await writeFile(join(cwd, 'main.mjs'), program);
  const run = () => spawnSync(process.execPath, ['main.mjs'], { cwd, encoding: 'utf8' });

  const first = run();
  expect(first.stderr).not.toMatch(/Error/);
  expect(first.status).toBe(0);
  expect(first.stdout).toBe("[ 'hello' ] 3\n");

  // Restarted from the snapshot at 3, a new term's empty entry at 4, the proposal at 5.
  const second = run();
  expect(second.status).toBe(0);
  expect(second.stdout).toBe("[ 'hello', 'hello' ] 5\n");

  const s = await opened(join(cwd, 'raft-data'));
  expect(s.snapshot().metadata.index).toBe(5);
  expect(s.initialState().confState.voters).toEqual([1]);
  await s.close();
});

it('the lock: a store held by another process is refused; once that process dies, taken over', async () => {
  const dir = await tempDir();
  const code = `
    const { FileStorage } = await import(process.argv[1]);
    const s = new FileStorage({ dir: process.argv[2], logger: { debug() {}, info() {}, warning() {}, error() {}, fatal(m) { throw new Error(m); }, panic(m) { throw new Error(m); } } });
    await s.open();
    await s.save({ entries: [{ index: 1, term: 1, type: 0, data: new Uint8Array([42]) }] });
    process.stdout.write('holding\\n');
    setInterval(() => {}, 60_000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code, pathToFileURL(dist).href, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((r) => child.on('exit', r));
  try {
    await new Promise<void>((res, rej) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('holding') && res());
      child.on('exit', (c) => rej(new Error(`child exited with ${c} before holding the lock`)));
    });
    const err = await rejection(opened(dir));
    expect(err).toBeInstanceOf(ErrStorageLocked);
    expect((err as ErrStorageLocked).holder).toContain(`pid ${child.pid}`);
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
  // Killed without closing: the lock is stale, and what it saved is there.
  const s = await opened(dir);
  expect(s.lastIndex()).toBe(1);
  expect(s.entries(1, 2, Infinity)[0]!.data).toEqual(new Uint8Array([42]));
  await s.close();
}, 60_000);

// One FileStorage per directory, and what happens to the lock of a holder
// that died. Across processes: built-package.test.ts.
import { spawn } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrStorageLocked } from '../src/index.js';
import { ents, opened, recordingLogger, rejection, removeTempDirs, tempDir } from './helpers.js';

afterEach(removeTempDirs);

/** A pid that certainly does not run: a child that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

async function writeLock(dir: string, holder: object): Promise<void> {
  await writeFile(join(dir, 'LOCK'), `${JSON.stringify(holder)}\n`);
}

describe('the directory lock', () => {
  it('a second FileStorage in this process is refused until the first closes', async () => {
    const dir = await tempDir();
    const a = await opened(dir);
    const err = await rejection(opened(dir));
    expect(err).toBeInstanceOf(ErrStorageLocked);
    expect((err as ErrStorageLocked).holder).toContain(`pid ${process.pid}`);
    expect((err as Error).name).toBe('ErrStorageLocked');
    await a.close();
    const b = await opened(dir);
    await b.close();
  });

  it('a refused open leaves the holder unharmed', async () => {
    const dir = await tempDir();
    const a = await opened(dir);
    await rejection(opened(dir));
    await a.save({ entries: ents(1, [1]) });
    expect(JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8')).pid).toBe(process.pid);
    await a.close();
  });

  it('takes over the lock of a process that died, and says so', async () => {
    const dir = await tempDir();
    await opened(dir).then((s) => s.close());
    await writeLock(dir, { pid: await deadPid(), hostname: hostname(), since: 'earlier' });
    const log = recordingLogger();
    const s = await opened(dir, { logger: log });
    expect(log.lines.some((l) => l.includes('took over the stale lock'))).toBe(true);
    expect(JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8')).pid).toBe(process.pid);
    await s.close();
  });

  it('takes over a lock written before the machine rebooted (another boot id), even if its pid runs now', async () => {
    const dir = await tempDir();
    let bootId: string;
    try {
      bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
    } catch {
      return; // no boot id on this platform: the pid check alone applies
    }
    await writeLock(dir, { pid: process.pid, hostname: hostname(), bootId: bootId.replace(/./, (c) => (c === 'a' ? 'b' : 'a')), since: 'last boot' });
    const s = await opened(dir);
    await s.close();
  });

  it('never takes over a lock from another host (it cannot tell whether that holder lives)', async () => {
    const dir = await tempDir();
    await writeLock(dir, { pid: await deadPid(), hostname: `not-${hostname()}`, since: 'now' });
    const err = await rejection(opened(dir));
    expect(err).toBeInstanceOf(ErrStorageLocked);
    expect((err as ErrStorageLocked).holder).toMatch(/another host/);
  });

  it('takes over an unreadable lock (only a machine crash leaves one: LOCK is created whole)', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'LOCK'), '');
    const s = await opened(dir);
    await s.close();
    expect(await readdir(dir)).not.toContain('LOCK');
  });
});

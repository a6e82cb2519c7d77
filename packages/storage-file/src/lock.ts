// The directory lock: a file named LOCK holding its owner's pid, host name
// and boot id. Node has no flock(), so exclusion comes from link(2), which
// atomically creates LOCK (fully written, from a temp file) or fails with
// EEXIST. The lock is released by close(); a holder that died without closing
// leaves a stale LOCK, taken over when its pid no longer runs on this host or
// the machine has rebooted since (a different boot id).
//
// Limits, stated rather than hidden: a lock written on another host (a shared
// network file system) cannot be checked and is always treated as held; a
// dead holder whose pid was reused by an unrelated process (same boot) looks
// alive, and the operator removes LOCK by hand; two processes taking over the
// same stale lock at the same instant are serialized by a rename, with a
// window of microseconds in which a third one could slip in.
import { randomBytes } from 'node:crypto';
import { readFile as readLocalFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@raftbus/core';
import { ErrStorageLocked } from './errors.js';
import { isErrno, type FileStorageFs } from './fs.js';

export const LOCK_FILE = 'LOCK';

interface Holder {
  pid: number;
  hostname: string;
  bootId?: string;
  since: string;
}

async function bootId(): Promise<string | undefined> {
  try {
    return (await readLocalFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  } catch {
    return undefined;
  }
}

function parseHolder(text: string): Holder | undefined {
  try {
    const h = JSON.parse(text) as Partial<Holder>;
    if (typeof h.pid === 'number' && Number.isInteger(h.pid) && h.pid > 0 && typeof h.hostname === 'string') {
      return h as Holder;
    }
  } catch {
    // fall through
  }
  return undefined;
}

function describe(h: Holder): string {
  return `pid ${h.pid} on ${h.hostname} (since ${h.since})`;
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, as another user.
    return !isErrno(e, 'ESRCH');
  }
}

export class DirLock {
  private constructor(
    private readonly fs: FileStorageFs,
    private readonly path: string,
    private readonly content: string,
  ) {}

  /** Takes the lock on `dir`, or throws ErrStorageLocked naming its holder. */
  static async acquire(fs: FileStorageFs, dir: string, logger: Logger): Promise<DirLock> {
    const path = join(dir, LOCK_FILE);
    const boot = await bootId();
    const me: Holder = { pid: process.pid, hostname: hostname(), since: new Date().toISOString() };
    if (boot !== undefined) me.bootId = boot;
    const content = `${JSON.stringify(me)}\n`;
    const tag = `${process.pid}.${randomBytes(6).toString('hex')}`;
    const tmp = join(dir, `${LOCK_FILE}.${tag}.tmp`);

    const fh = await fs.open(tmp, 'wx');
    try {
      await fh.writeFile(content);
    } finally {
      await fh.close();
    }
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await fs.link(tmp, path);
          return new DirLock(fs, path, content);
        } catch (e) {
          if (!isErrno(e, 'EEXIST')) throw e;
        }
        let seen: string;
        try {
          seen = await fs.readFile(path, 'utf8');
        } catch (e) {
          if (isErrno(e, 'ENOENT')) continue; // released meanwhile
          throw e;
        }
        const holder = parseHolder(seen);
        if (holder !== undefined) {
          if (holder.hostname !== me.hostname) throw new ErrStorageLocked(dir, `${describe(holder)}, another host`);
          const rebooted = holder.bootId !== undefined && boot !== undefined && holder.bootId !== boot;
          if (!rebooted && processRuns(holder.pid)) throw new ErrStorageLocked(dir, describe(holder));
        }
        // Stale (or unreadable, which only a machine crash while writing it
        // can leave: LOCK is created by link, fully written). Move it aside
        // rather than unlink it, so that of two processes taking over at once
        // only one removes the stale file, and a live lock moved by mistake
        // can be put back.
        const aside = join(dir, `${LOCK_FILE}.${tag}.stale`);
        try {
          await fs.rename(path, aside);
        } catch (e) {
          if (isErrno(e, 'ENOENT')) continue;
          throw e;
        }
        const moved = await fs.readFile(aside, 'utf8');
        if (moved !== seen) {
          // Someone took the lock over between our read and our rename.
          await fs.link(aside, path).catch(() => {});
          await fs.unlink(aside);
          continue;
        }
        await fs.unlink(aside);
        logger.warning(
          `storage-file: took over the stale lock of ${holder ? describe(holder) : 'an unreadable lock file'} in ${dir}`,
        );
      }
      throw new ErrStorageLocked(dir, 'contended: the lock changed hands repeatedly while opening');
    } finally {
      await fs.unlink(tmp).catch(() => {});
    }
  }

  /** Removes LOCK if it is still ours. */
  async release(logger: Logger): Promise<void> {
    let seen: string;
    try {
      seen = await this.fs.readFile(this.path, 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) {
        logger.warning(`storage-file: lock ${this.path} vanished while held`);
        return;
      }
      throw e;
    }
    if (seen !== this.content) {
      logger.warning(`storage-file: lock ${this.path} was taken over while held; leaving it`);
      return;
    }
    await this.fs.unlink(this.path);
  }
}

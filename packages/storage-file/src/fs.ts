// The file-system calls FileStorage makes, injectable so that tests can count
// fsyncs or fail one (the default is node:fs/promises, plus node:fs's
// writeSync for small writes).
import { constants, writeSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

export interface FileStorageFs extends Pick<typeof fsp, 'open' | 'readFile' | 'readdir' | 'mkdir' | 'rename' | 'unlink' | 'link'> {
  /**
   * Writes `length` bytes of `buf` from `offset` at `position` of an open
   * file, synchronously, and returns how many were written (node:fs's
   * `writeSync` on the handle's descriptor). Optional: without it, every
   * write goes through the handle's own `write()`.
   */
  writeSync?: (fh: FileHandle, buf: Uint8Array, offset: number, length: number, position: number) => number;
  /**
   * Opens an existing file for writes that are durable when they resolve
   * (O_DSYNC): each makes its own bytes, and the file size that reaches
   * them, durable, as an fdatasync after it would; unlike an fdatasync, not
   * what was written before it through another handle. Optional: without
   * it, a write that must be durable is followed by a datasync.
   */
  openDurable?: (path: string) => Promise<FileHandle>;
}

export const nodeFs: FileStorageFs = {
  open: fsp.open,
  readFile: fsp.readFile,
  readdir: fsp.readdir,
  mkdir: fsp.mkdir,
  rename: fsp.rename,
  unlink: fsp.unlink,
  link: fsp.link,
  writeSync: (fh, buf, offset, length, position) => writeSync(fh.fd, buf, offset, length, position),
  // Windows has no O_DSYNC.
  ...(typeof constants.O_DSYNC === 'number' && { openDurable: (path: string) => fsp.open(path, constants.O_WRONLY | constants.O_DSYNC) }),
};

/**
 * The largest write made synchronously. Copying up to this much into the
 * page cache holds the event loop for less time than handing the write to
 * libuv's thread pool does (a pool thread is woken, then the loop on
 * completion): measured on a 2-vCPU VM, 2-8 µs for up to 16 KiB, 23 µs for
 * 64 KiB, against 15-25 µs per hand-off. A WAL save is then one trip to the
 * pool (its fdatasync) instead of two: about 20% off its latency and a
 * quarter of its CPU. Larger writes, which would hold the loop longer, go
 * to the pool.
 */
export const SYNC_WRITE_MAX_BYTES = 32 * 1024;

/** Whether writeFully writes `length` bytes in the calling turn (else through the thread pool). */
export function writesNow(fs: FileStorageFs, length: number): boolean {
  return fs.writeSync !== undefined && length <= SYNC_WRITE_MAX_BYTES;
}

/**
 * Writes all of `buf` at `position` (a single write may write less): in
 * the calling turn if it is small and `fs` can (SYNC_WRITE_MAX_BYTES), else
 * through the thread pool. Either way a failure rejects the returned promise.
 */
export async function writeFully(fs: FileStorageFs, fh: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  const now = writesNow(fs, buf.length);
  let done = 0;
  while (done < buf.length) {
    const n = now
      ? fs.writeSync!(fh, buf, done, buf.length - done, position + done)
      : (await fh.write(buf, done, buf.length - done, position + done)).bytesWritten;
    if (n <= 0) throw new Error(`write returned ${n}`);
    done += n;
  }
}

/**
 * Makes a directory's entries durable: a file created, renamed or removed
 * inside it is not durable until the directory itself is fsynced. Windows
 * cannot open a directory for fsync (and NTFS journals names itself), so it
 * is skipped there.
 */
export async function syncDir(fs: FileStorageFs, dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const dh = await fs.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

export function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as NodeJS.ErrnoException).code === code;
}

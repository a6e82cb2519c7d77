// The file-system calls FileStorage makes, injectable so that tests can count
// fsyncs or fail one (the default is node:fs/promises itself).
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

export type FileStorageFs = Pick<
  typeof fsp,
  'open' | 'readFile' | 'readdir' | 'mkdir' | 'rename' | 'unlink' | 'link'
>;

export const nodeFs: FileStorageFs = fsp;

/** Writes all of `buf` at `position`; a single write() may write less. */
export async function writeFully(fh: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`write returned ${bytesWritten}`);
    done += bytesWritten;
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

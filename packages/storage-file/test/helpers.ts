// Shared by the storage-file tests: temp directories, entries, what a
// reopened store must serve, and a file system that records fsyncs.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { writeSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MemoryStorage,
  discardLogger,
  newEntry,
  newHardState,
  type Entry,
  type HardState,
  type Logger,
} from '@raftbus/core';
import { FileStorage, type FileStorageFs, type FileStorageOptions } from '../src/index.js';
import { nodeFs } from '../src/fs.js';

const dirs: string[] = [];

export async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'raftbus-storage-file-'));
  dirs.push(d);
  return d;
}

export async function removeTempDirs(): Promise<void> {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
}

const enc = new TextEncoder();

/** Entries first, first+1, … with the given terms and a payload naming each. */
export function ents(first: number, terms: number[], payload = 'x'): Entry[] {
  return terms.map((term, k) => newEntry({ index: first + k, term, data: enc.encode(`${payload}:${first + k}/${term}`) }));
}

export function hs(term: number, vote: number, commit: number): HardState {
  return newHardState({ term, vote, commit });
}

/** A logger that keeps warnings and errors for assertions, and stops on panic like the default. */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    ...discardLogger,
    lines,
    warning: (m: string) => void lines.push(`WARN ${m}`),
    error: (m: string) => void lines.push(`ERROR ${m}`),
  };
}

/** A FileStorage with the test defaults: quiet logger, given options. */
export function fileStorage(dir: string, options: Partial<FileStorageOptions> = {}): FileStorage {
  return new FileStorage({ dir, logger: discardLogger, ...options });
}

export async function opened(dir: string, options: Partial<FileStorageOptions> = {}): Promise<FileStorage> {
  const s = fileStorage(dir, options);
  await s.open();
  return s;
}

/** What opening `dir` afresh recovers: its last index and hard state (the storage is closed again). */
export async function recovered(dir: string): Promise<{ lastIndex: number; hardState: HardState }> {
  const again = await opened(dir);
  try {
    return { lastIndex: again.lastIndex(), hardState: again.initialState().hardState };
  } finally {
    await again.close();
  }
}

/**
 * What a store that saw `m`'s operations serves once reopened: the snapshot
 * and the entries after it (entries a lagging compact() kept behind it are
 * not reloaded), and the commit index raised to the snapshot if it was below.
 */
export function reopened(m: MemoryStorage): MemoryStorage {
  const snap = m.snapshot();
  const r = new MemoryStorage();
  r.applySnapshot(snap);
  if (m.lastIndex() > snap.metadata.index) r.append(m.entries(snap.metadata.index + 1, m.lastIndex() + 1, Infinity));
  const hardState = { ...m.initialState().hardState };
  if (hardState.commit < snap.metadata.index) hardState.commit = snap.metadata.index;
  r.setHardState(hardState);
  return r;
}

export function outcome(fn: () => unknown): unknown {
  try {
    return { value: fn() };
  } catch (e) {
    return { error: e instanceof Error ? e.name : String(e) };
  }
}

export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
    return 'none';
  } catch (e) {
    return e;
  }
}

export interface FsEvent {
  op: 'open' | 'sync' | 'datasync' | 'rename' | 'unlink' | 'write' | 'close';
  path: string;
  detail?: string;
  /** A positioned write's position and length (write(buffer, offset, length, position)). */
  position?: number;
  length?: number;
}

/**
 * node:fs/promises, recording fsyncs (on files and directories), renames
 * (path: the new name, detail: the old), unlinks and writes (with position
 * and length when positioned; detail 'now' when made through writeSync).
 * `failDatasync` makes the n-th datasync (1-based) throw EIO, `failWrite`
 * the n-th write, either way, throw ENOSPC. With `durable`, it offers
 * node:fs's openDurable (O_DSYNC): such an open has detail 'durable', and
 * so have the writes through the handle it returns and its close (the only
 * closes recorded); `failOpenDurable` makes that open throw EMFILE.
 */
export function recordingFs(
  opts: { failDatasync?: number; failWrite?: number; durable?: boolean; failOpenDurable?: boolean } = {},
): FileStorageFs & { events: FsEvent[]; count(op: FsEvent['op']): number } {
  const events: FsEvent[] = [];
  let datasyncs = 0;
  let writes = 0;
  const wrote = (event: FsEvent): void => {
    events.push(event);
    if (++writes === opts.failWrite) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  };
  const paths = new WeakMap<FileHandle, string>();
  const record = (fh: FileHandle, path: string, detail: string): FileHandle => {
    events.push({ op: 'open', path, detail });
    const durable = detail === 'durable' ? { detail } : {};
    const proxy = new Proxy(fh, {
      get(target, prop) {
        if (prop === 'close' && detail === 'durable') {
          return async () => {
            events.push({ op: 'close', path, ...durable });
            return target.close();
          };
        }
        if (prop === 'sync') {
          return async () => {
            events.push({ op: 'sync', path });
            return target.sync();
          };
        }
        if (prop === 'datasync') {
          return async () => {
            datasyncs++;
            events.push({ op: 'datasync', path });
            if (opts.failDatasync === datasyncs) {
              throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
            }
            return target.datasync();
          };
        }
        if (prop === 'write') {
          return async (...a: unknown[]) => {
            const [, , length, position] = a;
            wrote(typeof position === 'number' && typeof length === 'number' ? { op: 'write', path, position, length, ...durable } : { op: 'write', path, ...durable });
            return (target.write as (...x: unknown[]) => unknown).apply(target, a);
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
      },
    });
    paths.set(proxy, path);
    return proxy;
  };
  const open = (async (...args: Parameters<typeof fsp.open>) => record(await fsp.open(...args), String(args[0]), String(args[1] ?? 'r'))) as typeof fsp.open;
  const openDurable = async (path: string): Promise<FileHandle> => {
    if (opts.failOpenDurable) throw Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE' });
    return record(await nodeFs.openDurable!(path), path, 'durable');
  };
  return {
    open,
    ...(opts.durable && { openDurable }),
    readFile: fsp.readFile,
    readdir: fsp.readdir,
    mkdir: fsp.mkdir,
    link: fsp.link,
    rename: (async (from: string, to: string) => {
      events.push({ op: 'rename', path: to, detail: from });
      return fsp.rename(from, to);
    }) as typeof fsp.rename,
    unlink: (async (path: string) => {
      events.push({ op: 'unlink', path });
      return fsp.unlink(path);
    }) as typeof fsp.unlink,
    writeSync: (fh, buf, offset, length, position) => {
      wrote({ op: 'write', path: paths.get(fh) ?? '?', position, length, detail: 'now' });
      return writeSync(fh.fd, buf, offset, length, position);
    },
    events,
    count: (op) => events.filter((e) => e.op === op).length,
  };
}

export const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = resolve(packageDir, '../..');

/**
 * Builds this package and the core (tsc -b, incremental) for tests that run
 * the built code in a child process; returns the built entry point.
 */
export function buildDist(): string {
  execFileSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', join(packageDir, 'tsconfig.json')], {
    cwd: repoRoot,
    stdio: 'inherit',
  });
  return join(packageDir, 'dist', 'index.js');
}

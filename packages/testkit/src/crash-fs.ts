// A file system that can crash, for @raftbus/storage-file's `fs` option:
// its crash tests, and the cluster runs in which a machine loses power.
//
// It does every call on the real node:fs/promises (files under a scratch
// directory, so the storage sees real errors and real reads) and keeps, next
// to it, a model of what a machine crash would leave: a page cache over a
// disk. Bytes written to a file are volatile until that file is fsynced;
// creating, renaming, linking and removing a name are volatile until its
// directory is fsynced. A crash keeps what is durable and, when asked, a
// seeded part of what is volatile, as a real crash may: of a file's pending
// changes, the first few, the next one cut at any byte, or a random set of
// whole 512-byte sectors (pages reach the disk in any order; a sector that
// never landed past the old end of the file reads as zeros); of a
// directory's, the first few, in order, as a journal replays them.
//
// Every mutating call (write, truncate, fsync, create, rename, link, unlink,
// mkdir) is a boundary, counted from 1. With `crashAt: k` the k-th boundary
// is where the machine dies: a write or a change of names at k is left in
// the cache (so it may be part of what survives), an fsync at k does not
// happen, and that call and every later one reject with CrashError.
//
// Calls are run one at a time in call order, so the numbering (and thus
// which call a given k hits) is the same on every run of the same workload.
// A synchronous write (`writeSync`) runs when it is called, so it refuses
// to run while an earlier call on the same handle is still queued: it would
// overtake it. (Calls on other files may be queued meanwhile: a snapshot
// file is written while the WAL is.)
// A handle from openDurable (option durableWrites) is O_DSYNC's: each of
// its writes is durable once it completes, as if an fsync followed it.
// fsync itself is only modelled: the temp files are scratch.
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { existsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { SeededRandom } from './random.js';
import { sleep } from './wait.js';

/**
 * The calls FileStorage's `fs` option takes (FileStorageFs in
 * @raftbus/storage-file), written out here so that the testkit does not
 * depend on a storage adapter.
 */
export interface CrashableFs extends Pick<typeof fsp, 'open' | 'readFile' | 'readdir' | 'mkdir' | 'rename' | 'unlink' | 'link'> {
  writeSync?: (fh: FileHandle, buf: Uint8Array, offset: number, length: number, position: number) => number;
  openDurable?: (path: string) => Promise<FileHandle>;
}

const SECTOR = 512;

// Scratch directories for crash images: in memory (tmpfs) where there is
// one, since the crash tests make thousands of small trees and fsync is
// modelled, never needed.
const scratchRoot = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const scratch: string[] = [];

export async function scratchDir(): Promise<string> {
  const d = await fsp.mkdtemp(join(scratchRoot, 'raftbus-crash-'));
  scratch.push(d);
  return d;
}

export async function removeScratchDirs(): Promise<void> {
  for (const d of scratch.splice(0)) await fsp.rm(d, { recursive: true, force: true });
}

/** What every call rejects with once the machine has crashed. */
export class CrashError extends Error {
  readonly code = 'ECRASHED';
  constructor(readonly boundary: number, what: string) {
    super(`crashed at boundary ${boundary} (${what})`);
    this.name = 'CrashError';
  }
}

type WriteOp = { kind: 'write'; at: number; bytes: Uint8Array };
type FileOp = WriteOp | { kind: 'truncate'; size: number };

interface FileNode {
  kind: 'file';
  durable: Uint8Array;
  current: Uint8Array;
  /** Changes since the last fsync, in order. */
  pending: FileOp[];
}

/** Names set (node) or removed (undefined) together: a rename is one such change. */
type DirOp = [name: string, node: Node | undefined][];

interface DirNode {
  kind: 'dir';
  durable: Map<string, Node>;
  current: Map<string, Node>;
  pending: DirOp[];
}

type Node = FileNode | DirNode;

/** What of the volatile state survives the crash. */
export type Survival =
  /** Only what was fsynced. */
  | { kind: 'durable' }
  /** What was fsynced, and a seeded random part of what was not. */
  | { kind: 'torn'; seed: number };

export interface CrashFsOptions {
  /** The boundary (1-based) at which the machine crashes; none if absent. */
  crashAt?: number;
  /**
   * A disk that lies: fsyncs of the paths this says true for succeed but
   * make nothing durable. For checking that the crash tests notice a
   * missing fsync.
   */
  ignoreSync?: (path: string, kind: 'file' | 'dir') => boolean;
  /**
   * Offers openDurable: a handle whose every write is made
   * durable by the call itself (O_DSYNC). Such a write must find nothing
   * of its file pending (O_DSYNC would not make that durable): crash-fs
   * throws if it does.
   */
  durableWrites?: boolean;
  /** Leaves out writeSync, so that every write goes through a handle's write(). */
  noWriteSync?: boolean;
}

function applyOp(content: Uint8Array, op: FileOp): Uint8Array {
  if (op.kind === 'truncate') {
    const out = new Uint8Array(op.size);
    out.set(content.subarray(0, Math.min(op.size, content.length)));
    return out;
  }
  const end = op.at + op.bytes.length;
  const out = end > content.length ? new Uint8Array(end) : new Uint8Array(content);
  if (end > content.length) out.set(content);
  out.set(op.bytes, op.at);
  return out;
}

function emptyDir(): DirNode {
  return { kind: 'dir', durable: new Map(), current: new Map(), pending: [] };
}

/**
 * For CrashFs.image's `skip`: leaves out a file store's directory lock
 * (`LOCK`, and its `LOCK.<tag>.tmp` / `.stale` leftovers). After a power
 * loss the machine reboots, so the dead process's lock is stale; kept in an
 * image made while this process still runs, it would name a live holder.
 */
export function skipDirectoryLock(rel: string): boolean {
  return /(^|\/)LOCK(\.|$)/.test(rel);
}

export class CrashFs {
  /** Boundaries passed so far (the crash boundary included). */
  boundaries = 0;
  /** Set once the machine has crashed. */
  crash: CrashError | undefined;
  /** Writes made durable by the write itself (durableWrites). */
  durableWritten = 0;
  /**
   * A slow disk: each fsync, and each durable write, waits this long before
   * it starts (and, calls being serial, so does everything queued behind
   * it). A crash during the wait leaves it undone. May change at any time.
   */
  syncDelayMs = 0;

  private readonly root: string;
  private readonly tree: DirNode;
  private readonly crashAt: number | undefined;
  private readonly ignoreSync: CrashFsOptions['ignoreSync'];
  private chain: Promise<unknown> = Promise.resolve();
  /** The real handles this has opened and that are not closed yet. */
  private readonly openHandles = new Set<FileHandle>();
  /** The synchronous writer of each handle this has opened. */
  private readonly writers = new WeakMap<FileHandle, (bytes: Uint8Array, at: number) => number>();
  /** The file system to hand to FileStorage. */
  readonly fs: CrashableFs;

  private constructor(root: string, tree: DirNode, options: CrashFsOptions) {
    this.root = resolve(root);
    this.tree = tree;
    this.crashAt = options.crashAt;
    this.ignoreSync = options.ignoreSync;
    this.fs = {
      open: ((path: string, flags?: string) => this.serial(() => this.open(String(path), flags ?? 'r'))) as CrashableFs['open'],
      readFile: ((path: string, options?: unknown) =>
        this.serial(() => this.alive('readFile').then(() => fsp.readFile(path, options as undefined)))) as CrashableFs['readFile'],
      readdir: ((path: string, options?: unknown) =>
        this.serial(() => this.alive('readdir').then(() => fsp.readdir(path, options as undefined)))) as CrashableFs['readdir'],
      mkdir: ((path: string, options?: unknown) => this.serial(() => this.mkdir(String(path), options))) as CrashableFs['mkdir'],
      rename: ((from: string, to: string) => this.serial(() => this.rename(String(from), String(to)))) as CrashableFs['rename'],
      unlink: ((path: string) => this.serial(() => this.unlink(String(path)))) as CrashableFs['unlink'],
      link: ((from: string, to: string) => this.serial(() => this.link(String(from), String(to)))) as CrashableFs['link'],
      ...(!options.noWriteSync && {
        writeSync: (fh: FileHandle, buf: Uint8Array, offset: number, length: number, position: number) => {
          const write = this.writers.get(fh);
          if (write === undefined) throw new Error('crash-fs: writeSync on a handle crash-fs did not open');
          return write(buf.subarray(offset, offset + length), position);
        },
      }),
      ...(options.durableWrites && { openDurable: (path: string) => this.serial(() => this.openDurable(String(path))) }),
    };
  }

  /**
   * A crashable file system over `root`, which must exist; what it holds
   * now counts as durable (an empty temp directory, or the image of an
   * earlier crash).
   */
  static async over(root: string, options: CrashFsOptions = {}): Promise<CrashFs> {
    return new CrashFs(root, await scan(resolve(root)), options);
  }

  // ---- the crash ----

  /**
   * The machine dies now, between two calls (crashAt picks a call to die
   * at): what is durable stays, every queued and later call rejects with
   * CrashError. Idempotent.
   */
  crashNow(): void {
    this.crash ??= new CrashError(this.boundaries, 'power lost');
  }

  /**
   * Writes what a crash leaves of the tree into `target` (an empty
   * directory). Names for which `skip` (given the path relative to the root)
   * says true are left out.
   */
  async image(target: string, survival: Survival, skip: (rel: string) => boolean = () => false): Promise<void> {
    const rand = survival.kind === 'torn' ? new SeededRandom(survival.seed) : undefined;
    const contents = new Map<FileNode, Uint8Array>();
    const write = async (dir: DirNode, to: string, rel: string): Promise<void> => {
      for (const [name, node] of [...survivingNames(dir, rand)].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const r = rel === '' ? name : join(rel, name);
        if (skip(r)) continue;
        if (node.kind === 'dir') {
          await fsp.mkdir(join(to, name));
          await write(node, join(to, name), r);
        } else {
          let content = contents.get(node);
          if (content === undefined) {
            content = survivingContent(node, rand);
            contents.set(node, content); // a hard link shares its content
          }
          await fsp.writeFile(join(to, name), content);
        }
      }
    };
    await write(this.tree, target, '');
  }

  /**
   * Closes every file this opened that is still open, as the dead machine's
   * process would have lost them (a crashed store never closes its own).
   * Not I/O: nothing is modelled.
   */
  async release(): Promise<void> {
    const handles = [...this.openHandles];
    this.openHandles.clear();
    await Promise.all(handles.map((fh) => fh.close().catch(() => {})));
  }

  /** Paths (relative to the root) with changes a crash now could lose or tear: of their content, or of their names if a directory. */
  volatilePaths(): string[] {
    const out: string[] = [];
    const visit = (n: Node, rel: string): void => {
      if (n.pending.length > 0) out.push(rel);
      if (n.kind === 'dir') for (const [name, child] of n.current) visit(child, rel === '' ? name : join(rel, name));
    };
    visit(this.tree, '');
    return out;
  }

  // ---- the calls ----

  /** Runs calls one at a time, in call order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  private async slowDisk(): Promise<void> {
    if (this.syncDelayMs > 0) await sleep(this.syncDelayMs);
  }

  private async alive(what: string): Promise<void> {
    if (this.crash) throw new CrashError(this.crash.boundary, `${what} after the crash`);
  }

  /**
   * Counts a boundary. Returns true if the machine dies at it: the caller
   * then records a volatile change it was about to make, and throws.
   */
  private boundary(what: string): boolean {
    if (this.crash) throw new CrashError(this.crash.boundary, `${what} after the crash`);
    this.boundaries++;
    if (this.boundaries === this.crashAt) {
      this.crash = new CrashError(this.boundaries, what);
      return true;
    }
    return false;
  }

  private rel(path: string): string[] {
    const r = relative(this.root, resolve(path));
    if (r.startsWith('..') || resolve(this.root, r) !== resolve(path)) throw new Error(`crash-fs: ${path} is outside ${this.root}`);
    return r === '' ? [] : r.split(sep);
  }

  private lookup(path: string): Node | undefined {
    let node: Node = this.tree;
    for (const part of this.rel(path)) {
      if (node.kind !== 'dir') return undefined;
      const next: Node | undefined = node.current.get(part);
      if (next === undefined) return undefined;
      node = next;
    }
    return node;
  }

  private parentOf(path: string): DirNode {
    const parent = this.lookup(dirname(resolve(path)));
    if (parent?.kind !== 'dir') throw new Error(`crash-fs: no directory for ${path} in the model`);
    return parent;
  }

  private static change(dir: DirNode, op: DirOp): void {
    dir.pending.push(op);
    for (const [name, node] of op) {
      if (node === undefined) dir.current.delete(name);
      else dir.current.set(name, node);
    }
  }

  private async open(path: string, flags: string): Promise<FileHandle> {
    await this.alive('open');
    const existing = this.lookup(path);
    const creates = /[wax]/.test(flags);
    if (!creates) {
      if (existing === undefined) return fsp.open(path, flags); // rejects as the real call does
      return this.handle(await fsp.open(path, flags), existing, path);
    }
    if (!['w', 'wx', 'w+', 'wx+'].includes(flags)) throw new Error(`crash-fs: open flags ${flags} not modelled`);
    if (existing !== undefined && flags.includes('x')) return fsp.open(path, flags); // EEXIST
    if (existing !== undefined && existing.kind === 'file') {
      // O_TRUNC on a file that exists: a change of its content.
      const op: FileOp = { kind: 'truncate', size: 0 };
      if (this.boundary(`truncate-open ${path}`)) {
        record(existing, op);
        throw this.crash!;
      }
      const fh = await fsp.open(path, flags);
      record(existing, op);
      return this.handle(fh, existing, path);
    }
    const parent = this.parentOf(path);
    const node: FileNode = { kind: 'file', durable: new Uint8Array(0), current: new Uint8Array(0), pending: [] };
    if (this.boundary(`create ${path}`)) {
      CrashFs.change(parent, [[basename(path), node]]);
      throw this.crash!;
    }
    const fh = await fsp.open(path, flags);
    CrashFs.change(parent, [[basename(path), node]]);
    return this.handle(fh, node, path);
  }

  /** An existing file, opened for writes durable on return. */
  private async openDurable(path: string): Promise<FileHandle> {
    await this.alive('open');
    const existing = this.lookup(path);
    if (existing === undefined) return fsp.open(path, 'r+'); // rejects as the real call does
    return this.handle(await fsp.open(path, 'r+'), existing, path, true);
  }

  private async mkdir(path: string, options: unknown): Promise<string | undefined> {
    await this.alive('mkdir');
    const missing: string[] = [];
    for (let p = resolve(path); this.lookup(p) === undefined; p = dirname(p)) missing.unshift(p);
    if (missing.length === 0) return fsp.mkdir(path, options as { recursive: true });
    const make = () => {
      for (const p of missing) CrashFs.change(this.parentOf(p), [[basename(p), emptyDir()]]);
    };
    if (this.boundary(`mkdir ${path}`)) {
      make();
      throw this.crash!;
    }
    const made = await fsp.mkdir(path, options as { recursive: true });
    make();
    return made;
  }

  private async rename(from: string, to: string): Promise<void> {
    await this.alive('rename');
    const node = this.lookup(from);
    if (dirname(resolve(from)) !== dirname(resolve(to))) throw new Error('crash-fs: renames across directories are not modelled');
    const dir = this.parentOf(from);
    const op: DirOp = [
      [basename(from), undefined],
      [basename(to), node],
    ];
    if (node !== undefined && this.boundary(`rename ${from} -> ${to}`)) {
      CrashFs.change(dir, op);
      throw this.crash!;
    }
    await fsp.rename(from, to);
    CrashFs.change(dir, op);
  }

  private async unlink(path: string): Promise<void> {
    await this.alive('unlink');
    const op: DirOp = [[basename(path), undefined]];
    if (this.lookup(path) !== undefined && this.boundary(`unlink ${path}`)) {
      CrashFs.change(this.parentOf(path), op);
      throw this.crash!;
    }
    await fsp.unlink(path);
    CrashFs.change(this.parentOf(path), op);
  }

  private async link(from: string, to: string): Promise<void> {
    await this.alive('link');
    const node = this.lookup(from);
    const op: DirOp = [[basename(to), node]];
    if (node !== undefined && this.lookup(to) === undefined && this.boundary(`link ${from} -> ${to}`)) {
      CrashFs.change(this.parentOf(to), op);
      throw this.crash!;
    }
    await fsp.link(from, to);
    CrashFs.change(this.parentOf(to), op);
  }

  /** The real handle, with its mutating calls counted and modelled. */
  private handle(fh: FileHandle, node: Node, path: string, durable = false): FileHandle {
    this.openHandles.add(fh);
    let position = 0;
    // This handle's calls queued on the chain and not yet finished.
    let queued = 0;
    const serial = <T>(fn: () => Promise<T>): Promise<T> => {
      queued++;
      return this.serial(fn).finally(() => queued--);
    };
    // A write is a boundary: if the machine dies there, the bytes are left
    // in the cache; else the real write runs and what it wrote is recorded.
    const begin = (bytes: Uint8Array, at: number): WriteOp => {
      if (node.kind !== 'file') throw new Error(`crash-fs: write to directory ${path}`);
      const op: WriteOp = { kind: 'write', at, bytes: new Uint8Array(bytes) };
      if (this.boundary(`write ${path} @${at}+${bytes.length}`)) {
        record(node, op);
        throw this.crash!;
      }
      return op;
    };
    const wrote = (op: WriteOp, n: number): number => {
      record(node as FileNode, { ...op, bytes: op.bytes.subarray(0, n) });
      return n;
    };
    const write = async (bytes: Uint8Array, at: number): Promise<number> => {
      if (durable) await this.slowDisk();
      const op = begin(bytes, at);
      const n = wrote(op, (await fh.write(bytes, 0, bytes.length, at)).bytesWritten);
      if (durable) madeDurable();
      return n;
    };
    // O_DSYNC: the write just recorded is durable now, and it must have been
    // all there was to make durable.
    const madeDurable = (): void => {
      const file = node as FileNode;
      this.durableWritten++;
      // A disk that lies keeps every change pending.
      if (this.ignoreSync?.(resolve(path), 'file')) return;
      if (file.pending.length !== 1) {
        throw new Error(`crash-fs: a durable write to ${path} with ${file.pending.length - 1} earlier change(s) not fsynced, which it does not make durable`);
      }
      file.durable = file.current;
      file.pending = [];
    };
    const writeNow = (bytes: Uint8Array, at: number): number => {
      if (queued > 0) throw new Error(`crash-fs: writeSync on ${path} while ${queued} earlier call(s) on it are queued; it would overtake them`);
      const n = wrote(begin(bytes, at), writeSync(fh.fd, bytes, 0, bytes.length, at));
      if (durable) madeDurable();
      return n;
    };
    const sync = async (): Promise<void> => {
      await this.slowDisk();
      if (this.boundary(`fsync ${path}`)) throw this.crash!;
      if (this.ignoreSync?.(resolve(path), node.kind)) return;
      if (node.kind === 'file') node.durable = node.current;
      else node.durable = new Map(node.current);
      node.pending = [];
    };
    const overrides: Record<string, unknown> = {
      write: (buf: Uint8Array, offset = 0, length = buf.length - offset, at?: number | null) =>
        serial(async () => {
          const from = at ?? position;
          const n = await write(buf.subarray(offset, offset + length), from);
          if (at === undefined || at === null) position = from + n;
          return { bytesWritten: n, buffer: buf };
        }),
      writeFile: (data: string | Uint8Array) =>
        serial(async () => {
          const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
          for (let done = 0; done < bytes.length; ) done += await write(bytes.subarray(done), position + done);
          position += bytes.length;
        }),
      truncate: (len = 0) =>
        serial(async () => {
          if (node.kind !== 'file') throw new Error(`crash-fs: truncate of directory ${path}`);
          const op: FileOp = { kind: 'truncate', size: len };
          if (this.boundary(`truncate ${path} to ${len}`)) {
            record(node, op);
            throw this.crash!;
          }
          await fh.truncate(len);
          record(node, op);
        }),
      sync: () => serial(sync),
      datasync: () => serial(sync),
      // Closing is not I/O that a crash can undo; the descriptor is released even after one.
      close: () => {
        this.openHandles.delete(fh);
        return fh.close();
      },
    };
    const refused = new Set(['writev', 'appendFile', 'createWriteStream', 'chmod', 'chown', 'utimes']);
    const proxy = new Proxy(fh, {
      get(target, prop) {
        if (typeof prop === 'string' && prop in overrides) return overrides[prop];
        if (typeof prop === 'string' && refused.has(prop)) {
          return () => Promise.reject(new Error(`crash-fs: FileHandle.${prop} is not modelled; add it to crash-fs.ts`));
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    this.writers.set(proxy, writeNow);
    return proxy;
  }
}

function record(node: FileNode, op: FileOp): void {
  node.pending.push(op);
  node.current = applyOp(node.current, op);
}

/** A directory tree as it is on disk, all of it durable. */
async function scan(dir: string): Promise<DirNode> {
  const node = emptyDir();
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    let child: Node;
    if (e.isDirectory()) child = await scan(join(dir, e.name));
    else {
      const content = new Uint8Array(await fsp.readFile(join(dir, e.name)));
      child = { kind: 'file', durable: content, current: content, pending: [] };
    }
    node.durable.set(e.name, child);
    node.current.set(e.name, child);
  }
  return node;
}

/**
 * The names a directory has after the crash: the durable ones, then (torn)
 * the first few of its pending changes, in order, as a journal replays them.
 */
function survivingNames(dir: DirNode, rand: SeededRandom | undefined): Map<string, Node> {
  const names = new Map(dir.durable);
  const kept = rand === undefined ? 0 : rand.int(dir.pending.length + 1);
  for (const op of dir.pending.slice(0, kept)) {
    for (const [name, node] of op) {
      if (node === undefined) names.delete(name);
      else names.set(name, node);
    }
  }
  return names;
}

/** A file's content after the crash. */
function survivingContent(file: FileNode, rand: SeededRandom | undefined): Uint8Array {
  if (rand === undefined || file.pending.length === 0) return file.durable;
  const ops = file.pending;
  const sectors = ops.every((op) => op.kind === 'write') && rand.int(2) === 0;
  if (!sectors) {
    // The first n changes, and maybe a piece of the next one.
    const n = rand.int(ops.length + 1);
    let content = file.durable;
    for (const op of ops.slice(0, n)) content = applyOp(content, op);
    const next = ops[n];
    if (next?.kind === 'write' && rand.int(2) === 0) {
      content = applyOp(content, { kind: 'write', at: next.at, bytes: next.bytes.subarray(0, rand.int(next.bytes.length + 1)) });
    }
    return content;
  }
  // Whole sectors of the new content, each landed or not; the file's new
  // size landed or not. What did not land reads as before (zeros past the old end).
  const full = file.current;
  const size = rand.int(2) === 0 ? full.length : file.durable.length;
  const out = new Uint8Array(size);
  out.set(file.durable.subarray(0, Math.min(size, file.durable.length)));
  for (let s = 0; s < size; s += SECTOR) {
    const end = Math.min(s + SECTOR, size);
    if (rand.int(2) === 0) out.set(full.subarray(s, end), s);
  }
  return out;
}

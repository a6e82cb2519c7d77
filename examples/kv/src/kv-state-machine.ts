// The replicated map: string keys to string values. Commands and snapshots
// are small binary records rather than JSON, because every command is written
// to every node's WAL and every snapshot may cross the bus in one message.
//
//   command   byte 0      op (1 put, 2 delete)
//             bytes 1-4   key length in bytes (uint32, big-endian)
//             then        the key (UTF-8), then for a put the value (UTF-8, the rest)
//
//   snapshot  byte 0      format version (1)
//             bytes 1-4   number of pairs (uint32, big-endian)
//             then, per pair in key order:
//                         key length (uint32), key, value length (uint32), value
import type { StateMachine } from '@raftbus/core';

export type KvCommand = { op: 'put'; key: string; value: string } | { op: 'delete'; key: string };

/** What applying a command returns to its proposer. */
export interface KvResult {
  /** The log index the command was applied at. */
  index: number;
  /** Whether the key held a value before the command. */
  existed: boolean;
}

/** Bytes that are not a command or a snapshot of this state machine. */
export class ErrMalformedKvData extends Error {
  constructor(what: string) {
    super(`malformed kv ${what}`);
    this.name = new.target.name;
  }
}

const enum Op {
  Put = 1,
  Delete = 2,
}

const SNAPSHOT_VERSION = 1;
const encoder = new TextEncoder();
// fatal: bytes that are not UTF-8 are corruption, not text to patch up.
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeCommand(cmd: KvCommand): Uint8Array {
  const key = encoder.encode(cmd.key);
  const value = cmd.op === 'put' ? encoder.encode(cmd.value) : new Uint8Array(0);
  const out = new Uint8Array(5 + key.length + value.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, cmd.op === 'put' ? Op.Put : Op.Delete);
  view.setUint32(1, key.length);
  out.set(key, 5);
  out.set(value, 5 + key.length);
  return out;
}

export function decodeCommand(bytes: Uint8Array): KvCommand {
  if (bytes.length < 5) throw new ErrMalformedKvData(`command (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const op = view.getUint8(0);
  const keyLen = view.getUint32(1);
  if (5 + keyLen > bytes.length) throw new ErrMalformedKvData(`command (key of ${keyLen} bytes in ${bytes.length})`);
  const key = decoder.decode(bytes.subarray(5, 5 + keyLen));
  const rest = bytes.subarray(5 + keyLen);
  if (op === Op.Put) return { op: 'put', key, value: decoder.decode(rest) };
  if (op === Op.Delete && rest.length === 0) return { op: 'delete', key };
  throw new ErrMalformedKvData(`command (op ${op})`);
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class KvStateMachine implements StateMachine<KvResult> {
  private data = new Map<string, string>();

  apply(bytes: Uint8Array, index: number): KvResult {
    const cmd = decodeCommand(bytes);
    const existed = this.data.has(cmd.key);
    if (cmd.op === 'put') this.data.set(cmd.key, cmd.value);
    else this.data.delete(cmd.key);
    return { index, existed };
  }

  snapshot(): Uint8Array {
    // Key order makes equal maps give equal bytes on every node.
    const pairs = [...this.data].sort(([a], [b]) => compareKeys(a, b)).map(([k, v]) => [encoder.encode(k), encoder.encode(v)]);
    let size = 5;
    for (const [k, v] of pairs) size += 8 + k!.length + v!.length;
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    view.setUint8(0, SNAPSHOT_VERSION);
    view.setUint32(1, pairs.length);
    let at = 5;
    for (const [k, v] of pairs) {
      for (const part of [k!, v!]) {
        view.setUint32(at, part.length);
        out.set(part, at + 4);
        at += 4 + part.length;
      }
    }
    return out;
  }

  restore(bytes: Uint8Array): void {
    if (bytes.length < 5 || bytes[0] !== SNAPSHOT_VERSION) throw new ErrMalformedKvData(`snapshot (${bytes.length} bytes, version ${bytes[0]})`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const count = view.getUint32(1);
    const data = new Map<string, string>();
    let at = 5;
    const next = (): string => {
      if (at + 4 > bytes.length) throw new ErrMalformedKvData(`snapshot (truncated at byte ${at})`);
      const len = view.getUint32(at);
      if (at + 4 + len > bytes.length) throw new ErrMalformedKvData(`snapshot (truncated at byte ${at})`);
      const s = decoder.decode(bytes.subarray(at + 4, at + 4 + len));
      at += 4 + len;
      return s;
    };
    for (let i = 0; i < count; i++) {
      const key = next();
      data.set(key, next());
    }
    if (at !== bytes.length) throw new ErrMalformedKvData(`snapshot (${bytes.length - at} bytes after the last pair)`);
    // Replace only once the whole snapshot has decoded.
    this.data = data;
  }

  get(key: string): string | undefined {
    return this.data.get(key);
  }

  get size(): number {
    return this.data.size;
  }

  /** The whole map, in key order, for comparing replicas. */
  toJSON(): Record<string, string> {
    return Object.fromEntries([...this.data].sort(([a], [b]) => compareKeys(a, b)));
  }
}

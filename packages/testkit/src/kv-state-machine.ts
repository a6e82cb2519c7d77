// A deterministic key-value StateMachine for cluster tests. Besides the map
// it keeps what the host did to it, so a suite can check the host's promises:
// committed entries are applied in log order, each once per incarnation.
//
// Its snapshot streams: newline-separated JSON, a header line then one line
// per batch of keys, made and read back a line at a time. snapshot() is the
// same lines joined, so either side of a snapshot may be whole or streamed.
import type { StateMachine } from '@raftbus/core';

export type KvCommand = { op: 'put'; key: string; value: string } | { op: 'delete'; key: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The first line of a snapshot. (Snapshots of one line, `{ index, data }`, are older ones.) */
interface KvSnapshotHeader {
  index: number;
  data?: [string, string][];
}

/** Keys per line of a snapshot. */
const KEYS_PER_CHUNK = 100;
const NEWLINE = 0x0a;

/** apply() resolves to the key's previous value (undefined if it had none). */
export class KvStateMachine implements StateMachine<string | undefined> {
  private data = new Map<string, string>();
  /** Index of the last entry applied or restored from a snapshot. */
  lastApplied = 0;
  /** Indexes handed to apply() by this incarnation, in call order. */
  readonly appliedIndexes: number[] = [];
  /** Breaches of the host's apply order (an index not above the last one applied). */
  readonly violations: string[] = [];
  /** Number of restore() and restoreChunks() calls (snapshots installed). */
  restores = 0;
  /** How many of them were streamed (restoreChunks), and how many snapshots were streamed out (snapshotChunks). */
  streamedRestores = 0;
  streamedSnapshots = 0;

  static put(key: string, value: string): Uint8Array {
    return KvStateMachine.encode({ op: 'put', key, value });
  }

  static delete(key: string): Uint8Array {
    return KvStateMachine.encode({ op: 'delete', key });
  }

  static encode(cmd: KvCommand): Uint8Array {
    return encoder.encode(JSON.stringify(cmd));
  }

  apply(payload: Uint8Array, index: number): string | undefined {
    if (index <= this.lastApplied) {
      this.violations.push(`apply(${index}) after ${this.lastApplied}`);
    }
    this.lastApplied = index;
    this.appliedIndexes.push(index);
    // A leader's empty entry carries no command.
    if (payload.length === 0) return undefined;
    const cmd = JSON.parse(decoder.decode(payload)) as KvCommand;
    const prev = this.data.get(cmd.key);
    if (cmd.op === 'put') this.data.set(cmd.key, cmd.value);
    else this.data.delete(cmd.key);
    return prev;
  }

  snapshot(): Uint8Array {
    const lines = [...this.lines()];
    const out = new Uint8Array(lines.reduce((n, l) => n + l.length, 0));
    let at = 0;
    for (const l of lines) {
      out.set(l, at);
      at += l.length;
    }
    return out;
  }

  /** The snapshot a line (a batch of keys) at a time; the map is read as the lines are asked for. */
  async *snapshotChunks(): AsyncGenerator<Uint8Array, void, undefined> {
    this.streamedSnapshots++;
    yield* this.lines();
  }

  private *lines(): Generator<Uint8Array, void, undefined> {
    const header: KvSnapshotHeader = { index: this.lastApplied };
    yield encoder.encode(JSON.stringify(header) + '\n');
    const keys = [...this.data.keys()].sort();
    for (let k = 0; k < keys.length; k += KEYS_PER_CHUNK) {
      const batch = keys.slice(k, k + KEYS_PER_CHUNK).map((key) => [key, this.data.get(key)!]);
      yield encoder.encode(JSON.stringify(batch) + '\n');
    }
  }

  restore(bytes: Uint8Array): void {
    const restored = new KvRestore();
    restored.push(bytes);
    this.install(restored.finish());
  }

  /** Builds the new map aside, line by line, and installs it only once the chunks have all come without error. */
  async restoreChunks(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const restored = new KvRestore();
    for await (const chunk of chunks) restored.push(chunk);
    this.install(restored.finish());
    this.streamedRestores++;
  }

  private install({ index, data }: { index: number; data: Map<string, string> }): void {
    this.data = data;
    this.lastApplied = index;
    this.restores++;
  }

  get(key: string): string | undefined {
    return this.data.get(key);
  }

  /** The whole map, sorted by key, for comparing replicas. */
  toJSON(): Record<string, string> {
    return Object.fromEntries([...this.data].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}

/** A snapshot being read back: bytes in, complete lines parsed, a partial line carried over. */
class KvRestore {
  private index: number | undefined;
  private readonly data = new Map<string, string>();
  private partial: Uint8Array[] = [];

  push(bytes: Uint8Array): void {
    let from = 0;
    for (let nl = bytes.indexOf(NEWLINE); nl >= 0; nl = bytes.indexOf(NEWLINE, from)) {
      this.partial.push(bytes.subarray(from, nl));
      this.line(this.takePartial());
      from = nl + 1;
    }
    // Copied: the producer may reuse the chunk.
    if (from < bytes.length) this.partial.push(new Uint8Array(bytes.subarray(from)));
  }

  finish(): { index: number; data: Map<string, string> } {
    const rest = this.takePartial();
    if (rest.trim() !== '') this.line(rest);
    if (this.index === undefined) throw new Error('kv snapshot: no header line');
    return { index: this.index, data: this.data };
  }

  private takePartial(): string {
    const text = this.partial.map((p) => decoder.decode(p, { stream: true })).join('') + decoder.decode();
    this.partial = [];
    return text;
  }

  private line(text: string): void {
    if (this.index === undefined) {
      const header = JSON.parse(text) as KvSnapshotHeader;
      this.index = header.index;
      for (const [k, v] of header.data ?? []) this.data.set(k, v);
      return;
    }
    for (const [k, v] of JSON.parse(text) as [string, string][]) this.data.set(k, v);
  }
}

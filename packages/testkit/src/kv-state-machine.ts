// A deterministic key-value StateMachine for cluster tests. Besides the map
// it keeps what the host did to it, so a suite can check the host's promises:
// committed entries are applied in log order, each once per incarnation.
import type { StateMachine } from '@raftbus/core';

export type KvCommand = { op: 'put'; key: string; value: string } | { op: 'delete'; key: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface KvSnapshot {
  index: number;
  data: [string, string][];
}

/** apply() resolves to the key's previous value (undefined if it had none). */
export class KvStateMachine implements StateMachine<string | undefined> {
  private data = new Map<string, string>();
  /** Index of the last entry applied or restored from a snapshot. */
  lastApplied = 0;
  /** Indexes handed to apply() by this incarnation, in call order. */
  readonly appliedIndexes: number[] = [];
  /** Breaches of the host's apply order (an index not above the last one applied). */
  readonly violations: string[] = [];
  /** Number of restore() calls (snapshots installed). */
  restores = 0;

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
    const snap: KvSnapshot = { index: this.lastApplied, data: [...this.data].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) };
    return encoder.encode(JSON.stringify(snap));
  }

  restore(bytes: Uint8Array): void {
    const snap = JSON.parse(decoder.decode(bytes)) as KvSnapshot;
    this.data = new Map(snap.data);
    this.lastApplied = snap.index;
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

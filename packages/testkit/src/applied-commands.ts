// State machine safety, checked as it happens: across a cluster's nodes
// (and their restarts), every log index holds one command. Each node's
// state machine notes here what it applies before applying it.
import type { StateMachine } from '@raftbus/core';
import type { KvStateMachine } from './kv-state-machine.js';

const decoder = new TextDecoder();

export class AppliedCommands {
  private readonly byIndex = new Map<number, string>();

  /** `violation` hears of each index at which two nodes applied different commands. */
  constructor(private readonly violation: (why: string) => void) {}

  /** Forgets every index (a new cluster). */
  clear(): void {
    this.byIndex.clear();
  }

  /**
   * `kv` as node `id`'s state machine, each apply noted here first. With
   * `streamed`, it also offers the chunked snapshot calls, which the host
   * then prefers.
   */
  stateMachine(id: number, kv: KvStateMachine, streamed = false): StateMachine<string | undefined> {
    return {
      apply: (data, index) => {
        const cmd = decoder.decode(data);
        const seen = this.byIndex.get(index);
        if (seen === undefined) this.byIndex.set(index, cmd);
        else if (seen !== cmd) this.violation(`index ${index}: node ${id} applied ${cmd}, another node ${seen}`);
        return kv.apply(data, index);
      },
      snapshot: () => kv.snapshot(),
      restore: (data) => kv.restore(data),
      ...(streamed && {
        snapshotChunks: () => kv.snapshotChunks(),
        restoreChunks: (chunks: AsyncIterable<Uint8Array>) => kv.restoreChunks(chunks),
      }),
    };
  }
}

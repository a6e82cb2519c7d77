// The benchmarks' state machine: it counts what it applies and nothing
// more, so a cluster benchmark measures raft, the transport and the storage,
// not a state machine. Its snapshot is the two counters.
import type { StateMachine } from '@raftbus/core';

export class CountingStateMachine implements StateMachine<undefined> {
  entries = 0;
  bytes = 0;

  apply(data: Uint8Array): undefined {
    this.entries++;
    this.bytes += data.length;
    return undefined;
  }

  snapshot(): Uint8Array {
    const out = new Uint8Array(16);
    const view = new DataView(out.buffer);
    view.setFloat64(0, this.entries);
    view.setFloat64(8, this.bytes);
    return out;
  }

  restore(data: Uint8Array): void {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.entries = data.length >= 16 ? view.getFloat64(0) : 0;
    this.bytes = data.length >= 16 ? view.getFloat64(8) : 0;
  }
}

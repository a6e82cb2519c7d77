// The client side of a history: stamps each operation's call and return on
// one monotonic clock (performance.now, never the wall clock, which may
// jump), and the faults a test injects, so they show in the history file.
import type { History, HistoryEvent, Operation } from './history.js';

/** An operation that has been called and not yet settled; settle it once with ok, fail or info. */
export interface PendingOperation<Output> {
  readonly id: number;
  /** It returned `output`. */
  ok(output: Output): void;
  /** It certainly did not take effect (e.g. refused as not the leader). */
  fail(error: string): void;
  /** Its outcome is unknown (timed out, connection lost): it may take effect later, or never. */
  info(error: string): void;
}

export class HistoryRecorder<Input, Output> {
  private readonly start: number;
  private readonly operations: Operation<Input, Output>[] = [];
  private readonly events: HistoryEvent[] = [];
  private readonly open = new Set<number>();

  /** `clock` in milliseconds; times are recorded from its reading at construction. */
  constructor(private readonly clock: () => number = () => performance.now()) {
    this.start = clock();
  }

  /** Milliseconds since the recorder was made, to the microsecond (so a history file holds exactly what was checked). */
  now(): number {
    return Math.round((this.clock() - this.start) * 1000) / 1000;
  }

  /** Records the call of `input` by `client` now. */
  invoke(client: number, input: Input): PendingOperation<Output> {
    const op: Operation<Input, Output> = { id: this.operations.length, client, input, call: this.now(), status: 'info' };
    this.operations.push(op);
    this.open.add(op.id);
    const settle = (how: () => void): void => {
      if (!this.open.delete(op.id)) throw new Error(`operation ${op.id} settled twice`);
      how();
    };
    return {
      id: op.id,
      ok: (output) =>
        settle(() => {
          op.return = this.now();
          op.status = 'ok';
          op.output = output;
        }),
      fail: (error) =>
        settle(() => {
          op.return = this.now();
          op.status = 'fail';
          op.error = error;
        }),
      info: (error) =>
        settle(() => {
          op.error = error;
        }),
    };
  }

  /** Notes what happened to the system now (a fault, a heal), for the reader of the history. */
  note(event: string): void {
    this.events.push({ at: this.now(), event });
  }

  /** The history so far; operations not settled yet count as indeterminate. */
  history(): History<Input, Output> {
    return {
      operations: this.operations.map((op) => (this.open.has(op.id) ? { ...op, error: 'still pending when the history was taken' } : { ...op })),
      events: [...this.events],
    };
  }
}

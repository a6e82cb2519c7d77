// What a run's clients did, as the checker reads it: one record per
// operation, stamped with the client's clock when it was called and when its
// answer came back. Times are milliseconds on one monotonic clock.

/**
 * How an operation ended, as its client saw it:
 *  - ok: it returned `output`; it took effect once, between call and return.
 *  - fail: it certainly did not take effect (refused before entering the log).
 *  - info: the outcome is unknown (timed out, connection lost): it may have
 *    taken effect at any time after its call, or never. It has no return.
 */
export type OperationStatus = 'ok' | 'fail' | 'info';

export interface Operation<Input, Output> {
  /** Unique within the history. */
  id: number;
  /** The client (process) that issued it; a client has one operation open at a time. */
  client: number;
  input: Input;
  /** When it was called. */
  call: number;
  /** When it returned; absent for status info. */
  return?: number;
  status: OperationStatus;
  /** What it returned; present exactly when status is ok. */
  output?: Output;
  /** Why it failed or is indeterminate, for a reader of the history. */
  error?: string;
}

/** Something that happened to the system during the run (a fault, a heal), for a reader of the history. */
export interface HistoryEvent {
  at: number;
  event: string;
}

export interface History<Input, Output> {
  operations: Operation<Input, Output>[];
  events: HistoryEvent[];
}

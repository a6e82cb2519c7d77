// The application's replicated state. The host applies committed entries
// to it in log order, on every node, exactly once per incarnation.

export interface StateMachine<Result = unknown> {
  /**
   * Applies the payload of one committed entry (a proposal's data) at
   * `index`. Must be deterministic: every node computes the same result.
   * The result resolves the proposer's promise.
   */
  apply(data: Uint8Array, index: number): Result | Promise<Result>;
  /** Serializes the whole state, as of the last applied entry. */
  snapshot(): Uint8Array | Promise<Uint8Array>;
  /** Replaces the whole state with a snapshot's data (from snapshot()). */
  restore(data: Uint8Array): void | Promise<void>;
}

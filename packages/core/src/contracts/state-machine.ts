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
  /** Replaces the whole state with a snapshot's data (from snapshot() or snapshotChunks()). */
  restore(data: Uint8Array): void | Promise<void>;
  /**
   * Optional: the state serialized as a stream of chunks, for states too
   * large to hold twice in memory. When present the host uses it instead of
   * snapshot(): it hands the chunks to the storage as they come, one at a
   * time, and never joins them. Their concatenation must be what snapshot()
   * would return (a follower receives a leader's snapshot whole, inside
   * raft's MsgSnap, and may restore it through restore()).
   *
   * The host applies nothing until the iteration has ended, so the state
   * may be read as the chunks are made. A chunk may be reused once the next
   * one is asked for.
   */
  snapshotChunks?(): AsyncIterable<Uint8Array>;
  /**
   * Optional: replaces the whole state with a snapshot's data, streamed in
   * chunks (cut anywhere: not necessarily as snapshotChunks() cut them).
   * When present the host uses it instead of restore(), at startup (the
   * chunks read from storage as they are consumed) and for a leader's
   * snapshot (its data already in memory).
   *
   * Iterating `chunks` may throw after the last chunk: a store that
   * checksums snapshots verifies the checksum as the data streams out. So
   * build the new state aside and put it in place only once the iteration
   * has ended without throwing; if it throws, let the error out (the host
   * then fails: the node does not start on damaged data).
   */
  restoreChunks?(chunks: AsyncIterable<Uint8Array>): void | Promise<void>;
}

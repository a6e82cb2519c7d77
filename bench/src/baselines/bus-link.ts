// What a raw-bus baseline needs of a bus: two inboxes on it, and a way to
// put bytes in the other's. Each bus implements it with its client library
// in the pattern its transport uses (memory-link.ts, redis-link.ts, ...);
// measure.ts runs the same round-trip and one-way measurements on each.

/** One inbox on the bus and a sender from it. */
export interface BusEndpoint {
  /**
   * Puts `frame` in inbox `to` as the transport publishes one frame (no
   * batching beyond the transport's own). Sends are issued in call order
   * and never awaited by the measurements; a rejection counts as a loss.
   */
  send(to: number, frame: Uint8Array): void | Promise<void>;
  close(): Promise<void>;
}

export interface BusLink {
  /** Which bus, for result names: memory, redis, nats, kafka. */
  readonly bus: string;
  /**
   * What names this link's inboxes on the bus, where another process can
   * reach them: a link constructed there with the same namespace (Redis,
   * NATS) has the same inboxes.
   */
  readonly namespace?: string;
  /** Opens inbox `id` (1 or 2 in a baseline); `deliver` is called with each frame that reaches it, in order. */
  endpoint(id: number, deliver: (frame: Uint8Array) => void): Promise<BusEndpoint>;
  /** Removes what the inboxes left on the bus (streams, topics). */
  close(): Promise<void>;
}

// What a RaftNode reports as it runs, and a minimal typed emitter for it.
import type { ConfChangeV2, ConfState, Logger } from '@raftbus/core';

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export interface RaftNodeEvents {
  /** The leader this node knows of changed (undefined: none known, e.g. during an election). */
  leaderChange: { leader: number | undefined; term: number };
  roleChange: { role: Role; previous: Role; term: number };
  /** Entries (or a snapshot) up to `index` were applied to the state machine. */
  applied: { index: number };
  /**
   * A membership change was applied at `index`. `context` is what the
   * proposer passed (e.g. the new member's address), without the host's header.
   */
  membershipChange: { index: number; change: ConfChangeV2; context: Uint8Array; confState: ConfState };
  /** A fatal error; the node stops itself after reporting it. */
  error: Error;
}

type Listener<T> = (event: T) => void;

export class Emitter<Events> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  constructor(private readonly logger: Logger) {}

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>);
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (e) {
        // A listener's bug must not stop the raft loop that called it.
        this.logger.error(`raftbus: ${String(event)} listener threw: ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
  }
}

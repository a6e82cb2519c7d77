// Reassembly of chunked messages: chunks arrive in any order, possibly
// duplicated, possibly never. Memory is bounded (oldest incomplete message
// evicted first) and incomplete messages expire; both are counted.
import { sameBytes, type ChunkInfo } from './format.js';
import type { FrameDropStats } from './stats.js';

/**
 * Charged per held chunk on top of its bytes, so that a sender of many tiny
 * chunks cannot hold unbounded memory in bookkeeping under the byte bound.
 */
export const CHUNK_OVERHEAD_BYTES = 64;
/** Messages finished (delivered or refused) remembered, so that late duplicate chunks do not start a new reassembly. */
const MAX_FINISHED = 4096;

interface Pending {
  count: number;
  totalLength: number;
  chunks: Map<number, Uint8Array>;
  /** Payload bytes received so far. */
  received: number;
  /** What this message is charged against maxReassemblyBytes. */
  charged: number;
  startedAt: number;
}

type Finished = { at: number; outcome: 'delivered' | 'refused' };

export type ChunkOutcome =
  | { kind: 'complete'; bytes: Uint8Array }
  | { kind: 'incomplete' }
  | { kind: 'duplicate' }
  | { kind: 'dropped'; reason: keyof FrameDropStats };

export class Reassembly {
  /** Insertion order is arrival order of each message's first chunk: oldest first. */
  private readonly pending = new Map<string, Pending>();
  private readonly finished = new Map<string, Finished>();
  private charged = 0;

  constructor(
    private readonly drops: FrameDropStats,
    private readonly timeoutMs: number,
    private readonly maxBytes: number,
  ) {}

  /** Bytes currently charged against maxReassemblyBytes. */
  get heldBytes(): number {
    return this.charged;
  }

  /** Number of messages waiting for chunks. */
  get pendingMessages(): number {
    return this.pending.size;
  }

  /** Nothing held and nothing remembered: expire() would have nothing to do. */
  get idle(): boolean {
    return this.pending.size === 0 && this.finished.size === 0;
  }

  /**
   * Discards incomplete messages older than the timeout (counted) and
   * forgets finished ones. Entries are kept in arrival order, so this stops
   * at the first young one: with a clock that runs backwards, expiry is late, never early.
   */
  expire(now: number): void {
    for (const [key, p] of this.pending) {
      if (now - p.startedAt < this.timeoutMs) break;
      this.discard(key, p);
      this.drops.reassemblyExpired++;
    }
    for (const [key, f] of this.finished) {
      if (now - f.at < this.timeoutMs && this.finished.size <= MAX_FINISHED) break;
      this.finished.delete(key);
    }
  }

  /** Adds one chunk (its payload is copied if kept). */
  add(from: number, chunk: ChunkInfo, payload: Uint8Array, now: number): ChunkOutcome {
    const key = `${from}/${chunk.messageId.toString(16)}`;
    const done = this.finished.get(key);
    if (done !== undefined) {
      return done.outcome === 'delivered' ? { kind: 'duplicate' } : { kind: 'dropped', reason: 'malformed' };
    }

    let p = this.pending.get(key);
    if (p === undefined) {
      if (chunk.totalLength + CHUNK_OVERHEAD_BYTES * chunk.count > this.maxBytes) {
        // It could never be held whole: refuse it now rather than evict everyone else for it.
        return { kind: 'dropped', reason: 'reassemblyOverflow' };
      }
      p = { count: chunk.count, totalLength: chunk.totalLength, chunks: new Map(), received: 0, charged: 0, startedAt: now };
      this.pending.set(key, p);
    } else if (p.count !== chunk.count || p.totalLength !== chunk.totalLength) {
      return this.refuse(key, p);
    }

    const seen = p.chunks.get(chunk.index);
    if (seen !== undefined) {
      return sameBytes(seen, payload) ? { kind: 'duplicate' } : this.refuse(key, p);
    }
    if (p.received + payload.length > p.totalLength) return this.refuse(key, p);

    const cost = payload.length + CHUNK_OVERHEAD_BYTES;
    this.makeRoom(cost, key);
    // Copied: a view would pin the bus's (possibly much larger, possibly reused) buffer.
    p.chunks.set(chunk.index, payload.slice());
    p.received += payload.length;
    p.charged += cost;
    this.charged += cost;

    if (p.chunks.size < p.count) return { kind: 'incomplete' };
    if (p.received !== p.totalLength) return this.refuse(key, p);
    const bytes = new Uint8Array(p.totalLength);
    let offset = 0;
    for (let i = 0; i < p.count; i++) {
      const part = p.chunks.get(i)!;
      bytes.set(part, offset);
      offset += part.length;
    }
    this.discard(key, p);
    this.remember(key, now, 'delivered');
    return { kind: 'complete', bytes };
  }

  /** A completed message that did not decode: its late duplicate chunks now count as malformed, not as duplicates. */
  refuseCompleted(from: number, messageId: bigint, now: number): void {
    this.remember(`${from}/${messageId.toString(16)}`, now, 'refused');
  }

  /** Evicts the oldest incomplete messages other than `keep` until `cost` more bytes fit. */
  private makeRoom(cost: number, keep: string): void {
    for (const [key, p] of this.pending) {
      if (this.charged + cost <= this.maxBytes) return;
      if (key === keep) continue;
      this.discard(key, p);
      this.drops.reassemblyOverflow++;
    }
  }

  /** Inconsistent chunks: nothing of this message can be trusted, and its later chunks are dropped too. */
  private refuse(key: string, p: Pending): ChunkOutcome {
    this.discard(key, p);
    this.remember(key, p.startedAt, 'refused');
    return { kind: 'dropped', reason: 'malformed' };
  }

  private discard(key: string, p: Pending): void {
    this.pending.delete(key);
    this.charged -= p.charged;
  }

  private remember(key: string, at: number, outcome: Finished['outcome']): void {
    this.finished.delete(key);
    this.finished.set(key, { at, outcome });
    if (this.finished.size > MAX_FINISHED) this.finished.delete(this.finished.keys().next().value!);
  }
}

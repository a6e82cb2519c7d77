// A bounded window of in-flight MsgApps (etcd's tracker.Inflights), limited
// by message count and, optionally, by payload bytes.
import { RaftPanic } from '../errors.js';

interface Inflight {
  /** Index of the last entry in the message. */
  index: number;
  /** Total payload bytes of the entries in the message. */
  bytes: number;
}

export class Inflights {
  /** Start of the window in the ring buffer. */
  private start = 0;
  /** Messages in flight (backs count()). */
  private _count = 0;
  private bytes = 0;
  /**
   * Ring buffer, grown on demand up to `size` rather than preallocated, since
   * a process may host thousands of groups.
   */
  private buffer: Inflight[] = [];

  /**
   * Allows up to `size` messages and, when maxBytes > 0, up to maxBytes
   * payload bytes (`size` and `maxBytes`). The byte limit is soft: one message may push the total
   * from below the limit to above it.
   */
  constructor(
    readonly size: number,
    readonly maxBytes: number,
  ) {}

  /** A copy that shares no memory with this one. */
  clone(): Inflights {
    const c = new Inflights(this.size, this.maxBytes);
    c.start = this.start;
    c._count = this._count;
    c.bytes = this.bytes;
    c.buffer = this.buffer.map((f) => ({ ...f }));
    return c;
  }

  /**
   * Records a message being sent. Callers check full() first, and indexes
   * must increase from one call to the next.
   */
  add(index: number, bytes: number): void {
    if (this.full()) throw new RaftPanic('cannot add into a Full inflights');
    let next = this.start + this._count;
    if (next >= this.size) next -= this.size;
    if (next >= this.buffer.length) this.grow();
    // Reuse the slot's object: clone() copies slots, so none is shared.
    const slot = this.buffer[next]!;
    slot.index = index;
    slot.bytes = bytes;
    this._count++;
    this.bytes += bytes;
  }

  /** Doubles the buffer, capped at `size`. */
  private grow(): void {
    const newSize = this.buffer.length === 0 ? 1 : Math.min(this.buffer.length * 2, this.size);
    for (let i = this.buffer.length; i < newSize; i++) this.buffer.push({ index: 0, bytes: 0 });
  }

  /** Frees the in-flight messages whose index is <= `to`. */
  freeLE(to: number): void {
    if (this._count === 0 || to < this.buffer[this.start]!.index) return; // left of the window

    let idx = this.start;
    let i = 0;
    let bytes = 0;
    for (; i < this._count; i++) {
      const f = this.buffer[idx]!;
      if (to < f.index) break; // first one still in flight
      bytes += f.bytes;
      if (++idx >= this.size) idx -= this.size;
    }
    this._count -= i;
    this.bytes -= bytes;
    this.start = idx;
    // Restart at the front when empty, so the buffer doesn't grow needlessly.
    if (this._count === 0) this.start = 0;
  }

  /** True when no more messages may be sent for now. */
  full(): boolean {
    return this._count === this.size || (this.maxBytes !== 0 && this.bytes >= this.maxBytes);
  }

  /** The number of messages in flight. */
  count(): number {
    return this._count;
  }

  /** Frees everything. */
  reset(): void {
    this.start = 0;
    this._count = 0;
    this.bytes = 0;
  }
}

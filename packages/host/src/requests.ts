// The requests (proposals, reads, membership changes, leadership transfers)
// a node is waiting on. Every request gets the same timeout, so deadlines
// come in the order requests were made: the Map's insertion order finds the
// expired ones without a timer per request.
import type { Operation } from './errors.js';

export interface Request {
  readonly seq: number;
  readonly operation: Operation;
  /** Payload bytes held for it, counted against maxPendingBytes. */
  readonly bytes: number;
  readonly deadline: number;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class Requests {
  private readonly bySeq = new Map<number, Request>();
  private pendingBytes = 0;

  get count(): number {
    return this.bySeq.size;
  }

  get bytes(): number {
    return this.pendingBytes;
  }

  add(req: Request): void {
    this.bySeq.set(req.seq, req);
    this.pendingBytes += req.bytes;
  }

  has(seq: number): boolean {
    return this.bySeq.has(seq);
  }

  /** Removes the request so that whoever took it settles it; undefined if already settled. */
  take(seq: number): Request | undefined {
    const req = this.bySeq.get(seq);
    if (req === undefined) return undefined;
    this.bySeq.delete(seq);
    this.pendingBytes -= req.bytes;
    return req;
  }

  /** Takes every request whose deadline is at or before `now`. */
  takeExpired(now: number): Request[] {
    const out: Request[] = [];
    for (const req of this.bySeq.values()) {
      if (req.deadline > now) break;
      out.push(req);
    }
    for (const req of out) this.take(req.seq);
    return out;
  }

  /** Takes every pending request. */
  takeAll(): Request[] {
    const out = [...this.bySeq.values()];
    this.bySeq.clear();
    this.pendingBytes = 0;
    return out;
  }
}

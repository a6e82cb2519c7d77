// Bookkeeping for ReadIndex requests on the leader (etcd's read_only.go).
//
// In ReadOnlySafe mode a read is confirmed once a quorum has acknowledged a
// heartbeat sent after the read arrived. Reads are numbered in arrival order;
// heartbeats carry the highest number issued so far (8 bytes, little endian)
// and followers echo it, so one quorum round confirms every read up to it.
import { ReadOnlyOption } from './config.js';
import type { JointConfig } from './quorum/joint.js';
import type { Message } from './raftpb/types.js';

export interface ReadIndexRequest {
  req: Message;
  /** The leader's commit index when the read arrived. */
  index: number;
}

export class ReadOnly {
  /** Highest read sequence number each voter has acknowledged. */
  private readonly acks = new Map<number, number>();
  private unconfirmedReads: ReadIndexRequest[] = [];
  /** Number of reads confirmed so far (the sequence number of the last one). */
  private confirmedReads = 0;

  constructor(readonly option: ReadOnlyOption) {}

  addRequest(commitIndex: number, req: Message): void {
    this.unconfirmedReads.push({ req, index: commitIndex });
  }

  /** Records a heartbeat acknowledgement carrying `ctx`. */
  recvAck(from: number, ctx: Uint8Array): void {
    if (ctx.length === 0) return;
    const seq = decodeSeq(ctx);
    this.acks.set(from, Math.max(this.acks.get(from) ?? 0, seq));
  }

  ackedIndex(voterId: number): number | undefined {
    return this.acks.get(voterId);
  }

  /** Returns the reads a quorum has now confirmed, oldest first. */
  maybeAdvance(voters: JointConfig): ReadIndexRequest[] {
    const confirmed = voters.committedIndex(this);
    if (confirmed <= this.confirmedReads) return [];
    const n = confirmed - this.confirmedReads;
    const ready = this.unconfirmedReads.slice(0, n);
    this.unconfirmedReads = this.unconfirmedReads.slice(n);
    this.confirmedReads = confirmed;
    return ready;
  }

  /** The context for the next heartbeat: empty when no read is waiting. */
  heartbeatCtx(): Uint8Array {
    if (this.unconfirmedReads.length === 0) return new Uint8Array(0);
    return encodeSeq(this.confirmedReads + this.unconfirmedReads.length);
  }
}

function encodeSeq(seq: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(seq), true);
  return b;
}

function decodeSeq(ctx: Uint8Array): number {
  if (ctx.length < 8) return 0;
  const v = new DataView(ctx.buffer, ctx.byteOffset, 8).getBigUint64(0, true);
  // A sequence number beyond 2^53 cannot have been issued by us.
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Number(v);
}

// Entry sizes as etcd-raft counts them. Two different measures matter:
// MaxSizePerMsg and MaxCommittedSizePerReady count the protobuf-encoded size
// of an entry; the uncommitted and in-flight byte limits count payload bytes.
import type { Entry } from '../raftpb/types.js';

/** Bytes a varint takes for a non-negative integer below 2^53 (comparisons: this runs for every entry sized). */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  // 2^35, 2^42, 2^49; below 2^53 at most 8 bytes.
  if (v < 0x800000000) return 5;
  if (v < 0x40000000000) return 6;
  if (v < 0x2000000000000) return 7;
  return 8;
}

/** The protobuf-encoded size of an entry (etcd's `proto.Size(ent)`). */
export function entrySize(e: Entry): number {
  let n = 1 + varintSize(e.term) + 1 + varintSize(e.index) + 1 + varintSize(e.type);
  const l = e.data.length;
  if (l > 0) n += 1 + varintSize(l) + l;
  return n;
}

export function entsSize(ents: readonly Entry[]): number {
  let s = 0;
  for (const e of ents) s += entrySize(e);
  return s;
}

/**
 * The longest prefix of `ents` whose encoded size is at most maxSize, but
 * never empty when `ents` is not: an oversized first entry goes alone.
 */
export function limitSize(ents: Entry[], maxSize: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]!);
  for (let limit = 1; limit < ents.length; limit++) {
    size += entrySize(ents[limit]!);
    if (size > maxSize) return ents.slice(0, limit);
  }
  return ents;
}

/** Payload bytes of one entry; empty entries (e.g. a new leader's) weigh 0. */
export function payloadSize(e: Entry): number {
  return e.data.length;
}

export function payloadsSize(ents: readonly Entry[]): number {
  let s = 0;
  for (const e of ents) s += e.data.length;
  return s;
}

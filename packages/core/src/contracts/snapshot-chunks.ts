// Snapshot data as a stream of chunks: how a state machine, the host and a
// durable store hand a snapshot to each other without any of them holding
// it whole. A snapshot can be as large as the application's state.
import { EMPTY_BYTES, type SnapshotMetadata } from '../raftpb/types.js';

/** Where a store or the host cuts snapshot data into chunks, they are at most this long: 1 MiB. */
export const SNAPSHOT_CHUNK_BYTES = 1 << 20;

/** A snapshot's data: whole, or as chunks whose concatenation is the data. */
export type SnapshotData = Uint8Array | AsyncIterable<Uint8Array>;

/**
 * A stored snapshot's data as chunks, read from the store as they are
 * iterated, and the metadata of the snapshot they belong to.
 */
export interface SnapshotChunks extends AsyncIterable<Uint8Array> {
  readonly metadata: SnapshotMetadata;
}

/** `data` as chunks of at most `size` bytes: views into it, not copies. */
export async function* chunksOf(data: Uint8Array, size = SNAPSHOT_CHUNK_BYTES): AsyncGenerator<Uint8Array, void, undefined> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, Math.min(at + size, data.length));
}

/**
 * The chunks concatenated, for consumers that need the whole data (a
 * restore() that takes bytes, raft's MsgSnap). Each chunk is copied as it
 * comes, since its producer may reuse it for the next one.
 */
export async function concatChunks(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of chunks) {
    if (chunk.length === 0) continue;
    parts.push(copyBytes(chunk));
    length += chunk.length;
  }
  return joinBytes(parts, length);
}

/** `parts` (whose lengths add up to `length`) as one array; a single part is returned as it is. */
export function joinBytes(parts: readonly Uint8Array[], length: number): Uint8Array {
  if (length === 0) return EMPTY_BYTES;
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A copy of `bytes` as a plain Uint8Array (a Buffer's slice() would be a view, not a copy). */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/**
 * Re-cuts chunks into pieces of exactly `size` bytes (the last one may be
 * shorter, and no piece is empty), so that a store writes in pieces of its
 * choosing whatever the producer's chunks are: small chunks are copied
 * together, large ones are cut into views. A piece is valid until the next
 * one is asked for; keep a copy to hold on to it.
 */
export async function* rechunk(chunks: AsyncIterable<Uint8Array>, size = SNAPSHOT_CHUNK_BYTES): AsyncGenerator<Uint8Array, void, undefined> {
  if (!(size > 0)) throw new RangeError(`piece size must be positive, got ${size}`);
  let buf: Uint8Array | undefined;
  let fill = 0;
  for await (const chunk of chunks) {
    let at = 0;
    while (at < chunk.length) {
      if (fill === 0 && chunk.length - at >= size) {
        yield chunk.subarray(at, at + size);
        at += size;
        continue;
      }
      buf ??= new Uint8Array(size);
      const n = Math.min(size - fill, chunk.length - at);
      buf.set(chunk.subarray(at, at + n), fill);
      fill += n;
      at += n;
      if (fill === size) {
        yield buf;
        buf = undefined;
        fill = 0;
      }
    }
  }
  if (fill > 0) yield buf!.subarray(0, fill);
}

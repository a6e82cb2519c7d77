// Framing options, their defaults and their validation. Invalid options
// throw ErrInvalidConfig when the Framer or transport is built, never later.
import { ErrInvalidConfig } from '@raftbus/core';
import { MAX_U32 } from './format.js';

export interface FramingOptions {
  /** Per-cluster secret; when set, every frame carries an HMAC-SHA256 and frames without a valid one are dropped. */
  key?: Uint8Array | string;
  /** Largest frame the bus carries; larger messages are split into chunks of at most this size. */
  maxFrameBytes: number;
  /** Largest message accepted after reassembly (bytes); default 256 MiB. */
  maxMessageBytes?: number;
  /** Incomplete chunked messages are discarded after this long (default 30 s). */
  reassemblyTimeoutMs?: number;
  /** Bound on bytes held in incomplete messages across all senders (default 512 MiB). */
  maxReassemblyBytes?: number;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
export const DEFAULT_REASSEMBLY_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_REASSEMBLY_BYTES = 512 * 1024 * 1024;

export interface ResolvedFramingOptions {
  key: Uint8Array | undefined;
  maxFrameBytes: number;
  maxMessageBytes: number;
  reassemblyTimeoutMs: number;
  maxReassemblyBytes: number;
}

function isSize(v: unknown, min: number): v is number {
  return typeof v === 'number' && (v === Number.POSITIVE_INFINITY || (Number.isSafeInteger(v) && v >= min));
}

export function resolveFramingOptions(options: FramingOptions): ResolvedFramingOptions {
  if (typeof options !== 'object' || options === null) throw new ErrInvalidConfig('framing: options are required');
  const { maxFrameBytes } = options;
  if (!isSize(maxFrameBytes, 1)) {
    throw new ErrInvalidConfig(`framing: maxFrameBytes must be a positive integer or Infinity, got ${String(maxFrameBytes)}`);
  }
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  // The frame header carries lengths as uint32.
  if (!isSize(maxMessageBytes, 1) || maxMessageBytes > MAX_U32) {
    throw new ErrInvalidConfig(`framing: maxMessageBytes must be an integer in [1, ${MAX_U32}], got ${String(maxMessageBytes)}`);
  }
  const reassemblyTimeoutMs = options.reassemblyTimeoutMs ?? DEFAULT_REASSEMBLY_TIMEOUT_MS;
  if (typeof reassemblyTimeoutMs !== 'number' || Number.isNaN(reassemblyTimeoutMs) || reassemblyTimeoutMs <= 0) {
    throw new ErrInvalidConfig(`framing: reassemblyTimeoutMs must be positive, got ${String(reassemblyTimeoutMs)}`);
  }
  const maxReassemblyBytes = options.maxReassemblyBytes ?? DEFAULT_MAX_REASSEMBLY_BYTES;
  if (!isSize(maxReassemblyBytes, 0)) {
    throw new ErrInvalidConfig(`framing: maxReassemblyBytes must be a non-negative integer or Infinity, got ${String(maxReassemblyBytes)}`);
  }
  return { key: resolveKey(options.key), maxFrameBytes, maxMessageBytes, reassemblyTimeoutMs, maxReassemblyBytes };
}

function resolveKey(key: Uint8Array | string | undefined): Uint8Array | undefined {
  if (key === undefined) return undefined;
  // An empty key would authenticate with a secret everyone knows: refuse it rather than pretend.
  if (typeof key === 'string') {
    if (key.length === 0) throw new ErrInvalidConfig('framing: key must not be empty');
    return new TextEncoder().encode(key);
  }
  if (!(key instanceof Uint8Array)) throw new ErrInvalidConfig('framing: key must be a Uint8Array or a string');
  if (key.length === 0) throw new ErrInvalidConfig('framing: key must not be empty');
  // A copy, so that the caller reusing its buffer cannot change the key under us.
  return new Uint8Array(key);
}

// FileStorage's options, checked when it is built: a bad option is an
// ErrInvalidConfig (from @raftbus/core, as for every raftbus package) that
// names the option, never a TypeError from deep in node:path or a WAL that
// never rolls over.
import { ErrInvalidConfig } from '@raftbus/core';

interface CheckedOptions {
  dir?: unknown;
  segmentBytes?: unknown;
  sync?: unknown;
  unsafeNoSync?: unknown;
  fs?: unknown;
}

export function checkFileStorageOptions(options: CheckedOptions): void {
  if (typeof options !== 'object' || options === null) throw new ErrInvalidConfig('FileStorage: options are required');
  const { dir, segmentBytes, sync, unsafeNoSync, fs } = options;
  if (typeof dir !== 'string' || dir === '') throw new ErrInvalidConfig(`FileStorage: dir must be a non-empty path, got ${String(dir)}`);
  // A whole number of bytes; Infinity would never roll a segment over, so compaction could never delete one.
  if (segmentBytes !== undefined && !(Number.isSafeInteger(segmentBytes) && (segmentBytes as number) > 0)) {
    throw new ErrInvalidConfig(`FileStorage: segmentBytes must be a positive integer, got ${String(segmentBytes)}`);
  }
  if (sync !== undefined && sync !== 'always' && sync !== 'batch') {
    throw new ErrInvalidConfig(`FileStorage: sync must be 'always' or 'batch', got ${String(sync)}`);
  }
  if (unsafeNoSync !== undefined && typeof unsafeNoSync !== 'boolean') {
    throw new ErrInvalidConfig(`FileStorage: unsafeNoSync must be a boolean, got ${String(unsafeNoSync)}`);
  }
  if (fs !== undefined && (typeof fs !== 'object' || fs === null)) throw new ErrInvalidConfig('FileStorage: fs must be a FileStorageFs');
}

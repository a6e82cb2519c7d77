// @raftbus/storage-file: raft's durable storage in a local directory — a
// checksummed, segmented write-ahead log with fsync, and snapshot files.
export {
  FileStorage,
  DEFAULT_SEGMENT_BYTES,
  type FileStorageOptions,
  type RecoveryReport,
  type SyncMode,
} from './file-storage.js';
export type { FileStorageFs } from './fs.js';
export {
  FileStorageError,
  ErrStorageLocked,
  ErrCorruptWAL,
  ErrCorruptSnapshot,
  ErrStorageClosed,
  ErrStorageFailed,
  ErrCompactBeyondSnapshot,
} from './errors.js';

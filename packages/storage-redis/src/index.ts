// @raftbus/storage-redis: raft's durable storage in Redis — the log, hard
// state and snapshot of a node under three keys, each save one MULTI/EXEC,
// reads answered from memory.
export { RedisStorage, type RedisStorageOptions, type RedisStorageConnectionOptions } from './redis-storage.js';
export { storageKeys, type StorageKeys } from './keys.js';
export { isDurable, readDurabilityConfig, type DurabilityConfig } from './durability.js';
export {
  RedisStorageError,
  ErrNotDurable,
  ErrCorruptStorage,
  ErrStorageClosed,
  ErrStorageFailed,
  ErrCompactBeyondSnapshot,
} from './errors.js';

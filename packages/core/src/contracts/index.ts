export type { Transport, TransportCapabilities, TransportHandlers, TransportStats } from './transport.js';
export type { DurableStorage, DurableStorageCapabilities, PersistBatch } from './durable-storage.js';
export type { StateMachine } from './state-machine.js';
export {
  SNAPSHOT_CHUNK_BYTES,
  chunksOf,
  concatChunks,
  joinBytes,
  copyBytes,
  rechunk,
  type SnapshotChunks,
  type SnapshotData,
} from './snapshot-chunks.js';
export { MemoryBackedStorage, SNAPSHOT_CACHE_IDLE_SAVES, type MemoryBackedStorageState } from './memory-backed-storage.js';

export type { Transport, TransportCapabilities, TransportHandlers, TransportStats } from './transport.js';
export type { DurableStorage, DurableStorageCapabilities, PersistBatch } from './durable-storage.js';
export type { StateMachine } from './state-machine.js';
export { MemoryBackedStorage, type MemoryBackedStorageState } from './memory-backed-storage.js';

// @raftbus/transport-memory: an in-process bus with fault injection, for
// tests, simulations and demos.
export {
  MemoryBus,
  ErrAlreadyJoined,
  type MemoryBusOptions,
  type MemoryBusStats,
  type DropRule,
  type DelayRule,
  type InFlightMessage,
} from './memory-bus.js';
export { MemoryTransport, type MemoryTransportOptions } from './memory-transport.js';
export { seededRandom } from './random.js';

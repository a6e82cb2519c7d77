// The transport suite against MemoryTransport (ordered, unbounded, knows its
// peers) and against a reference transport with the opposite capabilities
// (reordering, a 64 KiB limit, blind to missing peers), so that every branch
// of the suite runs.
import { transportConformance } from '../src/index.js';
import { MemoryBus, MemoryTransport } from '@raftbus/transport-memory';
import { ShuffleBus, ShuffleTransport } from './support/shuffle-transport.js';

transportConformance(
  'MemoryTransport',
  async () => {
    const bus = new MemoryBus();
    return { transport: () => new MemoryTransport(bus) };
  },
  { detectsUnknownPeers: true },
);

transportConformance(
  'MemoryTransport with a 256 KiB limit',
  async () => {
    const bus = new MemoryBus();
    return { transport: () => new MemoryTransport(bus, { maxPayloadBytes: 256 * 1024 }) };
  },
  { detectsUnknownPeers: true, oversized: 'refused' },
);

transportConformance('ShuffleTransport (reference: unordered, 64 KiB, blind to missing peers)', async () => {
  const bus = new ShuffleBus();
  return { transport: () => new ShuffleTransport(bus) };
});

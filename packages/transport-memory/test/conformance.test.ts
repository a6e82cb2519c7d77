import { transportConformance } from '@raftbus/testkit';
import { MemoryBus, MemoryTransport } from '../src/index.js';
transportConformance('MemoryTransport', async () => { const bus = new MemoryBus(); return { transport: () => new MemoryTransport(bus) }; }, { detectsUnknownPeers: true });

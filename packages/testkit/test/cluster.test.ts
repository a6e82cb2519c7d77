// The cluster suite on the memory bus, with the bus's own fault hooks and
// InMemoryStorage (restarted in place), and with the suite's switchboard and
// a durable store reopened from its bytes.
import { InMemoryStorage } from '@raftbus/storage-memory';
import { clusterConformance } from '../src/index.js';
import { MemoryBus, MemoryTransport } from '@raftbus/transport-memory';
import { Disk, DiskStorage } from './support/disk-storage.js';

clusterConformance('MemoryTransport + InMemoryStorage', async () => {
  const bus = new MemoryBus();
  const stores = new Map<number, InMemoryStorage>();
  return {
    node: (id) => {
      if (!stores.has(id)) stores.set(id, new InMemoryStorage());
      return { transport: new MemoryTransport(bus), storage: stores.get(id)! };
    },
    faults: bus,
  };
});

clusterConformance('MemoryTransport + DiskStorage (reopened from bytes)', async () => {
  const bus = new MemoryBus();
  const disks = new Map<number, Disk>();
  return {
    node: (id) => {
      if (!disks.has(id)) disks.set(id, new Disk());
      return { transport: new MemoryTransport(bus), storage: new DiskStorage(disks.get(id)!) };
    },
  };
});

// The host's async storage writes mode (fsync overlapping with sending),
// held to the same suite over a store that is slow to write.
clusterConformance(
  'MemoryTransport + DiskStorage, asyncStorageWrites',
  async () => {
    const bus = new MemoryBus();
    const disks = new Map<number, Disk>();
    return {
      node: (id) => {
        if (!disks.has(id)) disks.set(id, new Disk());
        return { transport: new MemoryTransport(bus), storage: new DiskStorage(disks.get(id)!) };
      },
      faults: bus,
    };
  },
  { nodeOptions: { asyncStorageWrites: true } },
);

// The storage suite against a durable reference store and a persistent,
// not durable one, so that every branch of the suite runs here;
// InMemoryStorage runs it in packages/storage-memory.
import { storageConformance } from '../src/index.js';
import { Disk, DiskStorage } from './support/disk-storage.js';

storageConformance(
  'DiskStorage (durable reference)',
  async () => {
    const disk = new Disk();
    return { storage: new DiskStorage(disk), reopen: async () => new DiskStorage(disk) };
  },
  { durable: true },
);

storageConformance(
  'DiskStorage (persistent, not durable)',
  async () => {
    const disk = new Disk();
    const caps = { durable: false };
    return { storage: new DiskStorage(disk, caps), reopen: async () => new DiskStorage(disk, caps) };
  },
  { persistent: true },
);

// The shared DurableStorage suite: what makes FileStorage a raftbus storage.
import { storageConformance } from '@raftbus/testkit';
import { fileStorage, removeTempDirs, tempDir } from './helpers.js';

storageConformance(
  'FileStorage',
  async () => {
    const dir = await tempDir();
    return {
      storage: fileStorage(dir),
      reopen: async () => fileStorage(dir),
      cleanup: removeTempDirs,
    };
  },
  { durable: true },
);

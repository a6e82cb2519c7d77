import { storageConformance } from '@raftbus/testkit';
import { InMemoryStorage } from '../src/index.js';
storageConformance('InMemoryStorage', async () => ({ storage: new InMemoryStorage() }));

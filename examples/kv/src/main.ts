#!/usr/bin/env node
// raftbus-kv: one node of the replicated key-value store. See `raftbus-kv --help`.
import { MemoryBus, MemoryTransport } from '@raftbus/transport-memory';
import { FileStorage } from '@raftbus/storage-file';
import { parseCommandLine, USAGE, UsageError, type KvConfig } from './cli.js';
import { startKvNode } from './kv-node.js';

const CLUSTER_ID = 'raftbus-kv';

async function run(config: KvConfig): Promise<void> {
  const node = await startKvNode({
    id: config.id,
    clusterId: CLUSTER_ID,
    // Used only when the data dir is empty; afterwards the membership is in the WAL.
    peers: [...config.peers.keys()],
    // The only transport until the bus adapters land (a 1-node cluster: see --help).
    transport: new MemoryTransport(new MemoryBus()),
    storage: new FileStorage({ dir: config.dataDir }),
    http: config.http,
    peerUrls: config.peers,
  });
  console.log(`raftbus-kv: node ${config.id} serving ${node.url} (data in ${config.dataDir})`);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`raftbus-kv: ${signal}, stopping`);
    node.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(`raftbus-kv: while stopping: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

let command;
try {
  command = parseCommandLine(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  console.error(`raftbus-kv: ${e.message}\nRun raftbus-kv --help for usage.`);
  process.exit(2);
}
if (command.kind === 'help') {
  console.log(USAGE);
} else {
  await run(command.config).catch((e: unknown) => {
    console.error(`raftbus-kv: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}

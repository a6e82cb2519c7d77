#!/usr/bin/env node
// raftbus-kv: one node of the replicated key-value store. See `raftbus-kv --help`.
import { parseCommandLine, USAGE, UsageError, type BusConfig, type KvConfig } from './cli.js';
import { launchKvNode } from './launch.js';

/** The bus, for the log line, with any password in a URL masked. */
function describeBus(bus: BusConfig): string {
  switch (bus.transport) {
    case 'memory':
      return 'memory (this process only)';
    case 'redis':
      return `redis ${redact(bus.url)}`;
    case 'nats':
      return `nats ${bus.servers.map(redact).join(',')}`;
    case 'kafka':
      return `kafka ${bus.brokers.join(',')}`;
  }
}

function redact(address: string): string {
  if (!address.includes('://') || !URL.canParse(address)) return address;
  const url = new URL(address);
  if (url.password === '') return address;
  url.password = '***';
  return url.href;
}

async function run(config: KvConfig): Promise<void> {
  const node = await launchKvNode(config);
  console.log(
    `raftbus-kv: node ${config.id} of cluster ${config.clusterId} serving ${node.url} ` +
      `(data in ${config.dataDir}, bus ${describeBus(config.bus)})`,
  );
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

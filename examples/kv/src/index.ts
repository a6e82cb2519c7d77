// The kv example's building blocks, for programs and tests that start kv
// nodes without the binary (the integration tests do).
export { parseCommandLine, USAGE, UsageError, DEFAULT_CLUSTER_ID, TRANSPORTS } from './cli.js';
export type { BusConfig, Command, KvConfig, TransportName } from './cli.js';
export { createTransport, launchKvNode, type LaunchOptions } from './launch.js';
export { startKvNode, type KvNode, type KvNodeOptions } from './kv-node.js';
export { KvStateMachine, type KvResult } from './kv-state-machine.js';

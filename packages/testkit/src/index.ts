// @raftbus/testkit: the conformance suites every adapter runs, and the
// helpers they are built from. Each adapter's test file is three lines:
// import a suite, import the adapter, call the suite with a factory.
export { storageConformance, type StorageHarness, type StorageConformanceOptions } from './storage-conformance.js';
export { transportConformance, expectSameMessage, type TransportHarness, type TransportConformanceOptions } from './transport-conformance.js';
export { KvStateMachine, type KvCommand } from './kv-state-machine.js';
export { AppliedCommands } from './applied-commands.js';
export { SeededRandom } from './random.js';
export { storageView, type StorageView } from './storage-view.js';
export { sleep, waitFor } from './wait.js';
export { deleteClusterKeys, type RedisKeyClient } from './redis-keys.js';
export {
  clusterConformance,
  type ClusterHarness,
  type ClusterNodeParts,
  type ClusterConformanceOptions,
  type NetworkFaults,
} from './cluster-conformance.js';
export {
  findServer,
  findRedis,
  findNats,
  findKafka,
  startPrivateRedis,
  startPrivateNats,
  startPrivateKafka,
  startPrivateServer,
  whyNo,
  serverFromEnv,
  brokerList,
  privateServerUnavailable,
  redisServerBinary,
  natsServerBinary,
  freePort,
  freePorts,
  isCI,
  HOW_TO_PROVIDE,
  SERVER_ENV,
  SERVER_TIMEOUT_MS,
  type Bus,
  type ServerHandle,
  type KafkaHandle,
  type PrivateServer,
  type PrivateNats,
  type PrivateNatsOptions,
  type PrivateKafka,
} from './servers.js';

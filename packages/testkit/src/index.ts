// @raftbus/testkit: the conformance suites every adapter runs, and the
// helpers they are built from. Each adapter's test file is three lines:
// import a suite, import the adapter, call the suite with a factory.
export { storageConformance, type StorageHarness, type StorageConformanceOptions } from './storage-conformance.js';
export { transportConformance, type TransportHarness, type TransportConformanceOptions } from './transport-conformance.js';
export { KvStateMachine, type KvCommand } from './kv-state-machine.js';
export { SeededRandom } from './random.js';
export { sleep, waitFor } from './wait.js';
export {
  clusterConformance,
  type ClusterHarness,
  type ClusterNodeParts,
  type ClusterConformanceOptions,
  type NetworkFaults,
} from './cluster-conformance.js';

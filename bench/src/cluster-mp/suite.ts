// The cluster-mp suite: the cluster suite's measurement with each of the 3
// nodes in its own OS process, as real deployments run them, so the
// followers' work no longer competes with the leader's critical path in one
// event loop. Only network buses (redis, nats; the in-process bus cannot
// span processes), memory and file storage, 128 B payloads, 1 and 1024
// closed-loop proposers (run inside the leader's process). Results:
//
//   cluster-mp/<bus>/<storage>/<size>/c<n>             p50 commit latency ÷ the
//       bus's raw round trip (target ≤ 2 with 1 proposer), with p50/p99/p999;
//   cluster-mp/<bus>/<storage>/<size>/c<n>/throughput  commits/s ÷ the bus's raw
//       one-way rate (target ≥ 0.5 with 1024 proposers).
//
// The run is the cluster suite's (suite-runner.ts): the baselines are
// measured in the same run by the same functions and included in the results.
import type { BenchResult } from '../results.js';
import type { Suite } from '../suites.js';
import type { Bus } from '../baselines/buses.js';
import { SETTLE_TIMEOUT_MS } from '../cluster/config-results.js';
import { durationFromEnv, runClusters, type ClusterKind, type ClusterRunOptions } from '../cluster/suite-runner.js';
import { MpCluster } from './mp-cluster.js';
import { ECHO_IN_ANOTHER_PROCESS, remoteEcho } from './remote-echo.js';
import type { NetworkBus } from './protocol.js';

export type ClusterMpSuiteOptions = ClusterRunOptions<NetworkBus>;

/** Three node processes, driven from this one, on a server they all reach. */
const oneProcessPerNode: ClusterKind<NetworkBus, MpCluster> = {
  prefix: 'cluster-mp',
  defaults: { buses: ['redis', 'nats'], storages: ['file', 'memory'], payloadSizes: [128], concurrency: [1, 1024] },
  starting: '3 node processes',
  start: (bus, storage, tmpDir) => MpCluster.start({ bus, url: serverUrl(bus), storage, tmpDir }),
  closedLoopOnLeader: (cluster, loop) => cluster.closedLoopOnLeader(loop, SETTLE_TIMEOUT_MS),
  nodes: 'one process per node (3 node processes)',
  proposals: "proposals in the leader's process",
  // Every hop of these clusters crosses processes; so does the round trip they are read against.
  roundTripEcho: (bus) => {
    const url = serverUrl(bus);
    return { how: ECHO_IN_ANOTHER_PROCESS, echo: (link) => remoteEcho(bus.name, url, link) };
  },
  extraParams: { processes: 3 },
  skippedNote: 'one process per node',
  // A node process can die or a request fail: what was measured stands, the rest says why.
  failureSkipsTheRest: true,
};

/** RAFTBUS_BENCH_CLUSTER_MS sets the measured window per configuration, as for the cluster suite. */
export const clusterMpSuite: Suite = {
  name: 'cluster-mp',
  title: '3-node clusters with one process per node, against the bus\'s raw round trip and one-way rate',
  run: ({ quick, log }) => runClusterMpSuite({ quick, log, ...durationFromEnv() }),
};

export function runClusterMpSuite(opts: ClusterMpSuiteOptions = {}): Promise<BenchResult[]> {
  return runClusters(oneProcessPerNode, opts);
}

/** The server's address, for the node processes to connect to. */
function serverUrl(bus: Bus): string {
  if (bus.url === undefined) throw new Error(`cluster-mp: the ${bus.name} bus has no server to connect node processes to`);
  return bus.url;
}

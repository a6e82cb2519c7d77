// Where a node's raft state lives in Redis. The cluster id is a hash tag:
// a MULTI/EXEC may touch only keys of one Redis Cluster slot.

export interface StorageKeys {
  /** Sorted set: score = entry index, member = the entry (raftpb bytes). */
  log: string;
  /** String: the HardState (raftpb bytes). */
  hardState: string;
  /** String: the newest Snapshot, metadata and data (raftpb bytes). */
  snapshot: string;
}

export function storageKeys(clusterId: string, nodeId: number): StorageKeys {
  const node = `raftbus:{${clusterId}}:node:${nodeId}`;
  return { log: `${node}:log`, hardState: `${node}:hardstate`, snapshot: `${node}:snapshot` };
}

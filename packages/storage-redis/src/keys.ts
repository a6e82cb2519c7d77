// Where a node's raft state lives in Redis. The cluster id is a hash tag:
// a MULTI/EXEC may touch only keys of one Redis Cluster slot.

export interface StorageKeys {
  /** Sorted set: score = entry index, member = the entry (raftpb bytes). */
  log: string;
  /** String: the HardState (raftpb bytes). */
  hardState: string;
  /**
   * String: the newest Snapshot (raftpb bytes), its metadata only; its data
   * is under snapshotDataKey(). (Older versions wrote the data inline; such
   * a value is still read.)
   */
  snapshot: string;
}

export function storageKeys(clusterId: string, nodeId: number): StorageKeys {
  const node = `raftbus:{${clusterId}}:node:${nodeId}`;
  return { log: `${node}:log`, hardState: `${node}:hardstate`, snapshot: `${node}:snapshot` };
}

/**
 * Hash: the data of the snapshot at `index`, in pieces of at most 1 MiB:
 * fields "0", "1", …, plus "pieces" (their count) and "bytes" (their length).
 */
export function snapshotDataKey(keys: StorageKeys, index: number): string {
  return `${keys.snapshot}:${index}`;
}

/** Set: indexes of snapshots whose data is being written and not yet the newest; cleaned up on open. */
export function snapshotsStagedKey(keys: StorageKeys): string {
  return `${keys.snapshot}:staged`;
}

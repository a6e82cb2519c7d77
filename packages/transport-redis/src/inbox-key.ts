/**
 * The stream a node reads its messages from. The cluster id is a Redis
 * Cluster hash tag, so all of one raft cluster's inboxes share a slot;
 * node ids are digits, so no two (cluster, node) pairs share a key.
 */
export function inboxKey(clusterId: string, nodeId: number): string {
  return `raftbus:{${clusterId}}:inbox:${nodeId}`;
}

/** The stream field that carries a frame. */
export const FRAME_FIELD = 'f';

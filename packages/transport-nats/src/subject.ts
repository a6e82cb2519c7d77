// Where a node's frames go: one subject per node, raftbus.<cluster>.<node>,
// and one every node of the cluster listens to, raftbus.<cluster>.all, for
// frames naming several nodes.
// A cluster id may hold any character, but a NATS subject token may not
// contain '.', whitespace or the wildcards '*' and '>', and a cluster id of
// '*' must not listen to every cluster. So the id is escaped, injectively:
// two different cluster ids never share a subject.
import { ErrInvalidConfig } from '@raftbus/core';

export const SUBJECT_PREFIX = 'raftbus';

/**
 * The cluster id as one subject token: percent-encoded UTF-8, with every
 * byte outside [A-Za-z0-9_-] escaped ('.' and '*' included), so the token is
 * legal anywhere and decodeURIComponent gives the id back.
 */
export function clusterToken(clusterId: string): string {
  if (typeof clusterId !== 'string' || clusterId.length === 0) {
    throw new ErrInvalidConfig('transport-nats: clusterId must be a non-empty string');
  }
  let encoded: string;
  try {
    encoded = encodeURIComponent(clusterId);
  } catch {
    // A lone surrogate: it has no UTF-8 encoding, so no injective token.
    throw new ErrInvalidConfig('transport-nats: clusterId must be well-formed Unicode');
  }
  return encoded.replace(/[.*!~'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The subject node `nodeId` of `clusterId` subscribes to. */
export function natsSubject(clusterId: string, nodeId: number): string {
  return nodeSubject(clusterToken(clusterId), nodeId);
}

/** The subject of a node, given its cluster's token. */
export function nodeSubject(token: string, nodeId: number): string {
  if (!Number.isSafeInteger(nodeId) || nodeId <= 0) {
    throw new ErrInvalidConfig(`transport-nats: nodeId must be a positive safe integer, got ${String(nodeId)}`);
  }
  return `${SUBJECT_PREFIX}.${token}.${nodeId}`;
}

/** The subject every node of the cluster whose token is `token` subscribes to; no node subject is `all`. */
export function clusterSubject(token: string): string {
  return `${SUBJECT_PREFIX}.${token}.all`;
}

// Topic names. Each node reads one topic, `<prefix>.<cluster>.<node>`; the
// name must be unique per (cluster, node) or one cluster's messages would
// reach another's node. Kafka allows [A-Za-z0-9._-] and at most 249
// characters, and refuses two topics whose names differ only in '.' versus
// '_' (they share metric names), so the cluster id is escaped into
// [A-Za-z0-9-] plus '_xx' escapes: a name then maps to one (cluster, node)
// pair even with every '.' read as '_'.
import { createHash } from 'node:crypto';
import { ErrInvalidConfig } from '@raftbus/core';

export const DEFAULT_TOPIC_PREFIX = 'raftbus';
/** Node topics have one partition; every frame goes to it. */
export const PARTITION = 0;
const MAX_TOPIC_LENGTH = 249;
const utf8 = new TextEncoder();

/** Throws ErrInvalidConfig unless `prefix` can begin a topic name. */
export function checkTopicPrefix(prefix: string): void {
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(prefix)) {
    throw new ErrInvalidConfig(`kafka: topicPrefix must be 1-64 characters of [A-Za-z0-9._-], got ${JSON.stringify(prefix)}`);
  }
}

/** The cluster id with every byte outside [A-Za-z0-9-] as '_' and two lowercase hex digits. */
export function escapeClusterId(clusterId: string): string {
  let out = '';
  for (const byte of utf8.encode(clusterId)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9-]/.test(c) ? c : `_${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/**
 * The topic node `nodeId` of `clusterId` reads. A cluster id too long to
 * fit is replaced by '_h' and a SHA-256 prefix ('h' is no hex digit, so no
 * escaped id looks like it).
 */
export function topicName(prefix: string, clusterId: string, nodeId: number): string {
  const name = `${prefix}.${escapeClusterId(clusterId)}.${nodeId}`;
  if (name.length <= MAX_TOPIC_LENGTH) return name;
  const digest = createHash('sha256').update(clusterId, 'utf8').digest('hex').slice(0, 32);
  return `${prefix}._h${digest}.${nodeId}`;
}

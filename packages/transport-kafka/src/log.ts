// kafkajs logs through a logCreator; ours hands its warnings and errors to
// a raftbus Logger, minus the error responses this transport provokes on
// purpose (creating a topic that exists, asking after a peer that has none).
import type { Logger } from '@raftbus/core';
import { logLevel, type logCreator } from 'kafkajs';

const EXPECTED_RESPONSE_ERRORS: ReadonlyMap<string, string> = new Map([
  ['Response CreateTopics', 'Topic creation errors'],
  ['Response Metadata', 'This server does not host this topic-partition'],
]);

function expected(namespace: string, message: string, error: unknown): boolean {
  if (namespace !== 'Connection') return false;
  for (const [prefix, text] of EXPECTED_RESPONSE_ERRORS) {
    if (message.startsWith(prefix) && error === text) return true;
  }
  return false;
}

/** A logCreator for `new Kafka({ logLevel: logLevel.WARN, logCreator })`. */
export function kafkajsLogCreator(logger: Pick<Logger, 'warning' | 'error'>): logCreator {
  return () => ({ namespace, level, log }) => {
    const { message, timestamp: _timestamp, logger: _logger, stack: _stack, ...extra } = log;
    if (expected(namespace, message, extra['error'])) return;
    const details = Object.entries(extra)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    const line = `kafkajs ${namespace}: ${message}${details ? ` (${details})` : ''}`;
    if (level === logLevel.ERROR) logger.error(line);
    else logger.warning(line);
  };
}

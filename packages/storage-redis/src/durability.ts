// Whether Redis persists a write before acknowledging it: only with the
// append-only file on and fsynced on every write (`everysec` may lose the
// last second; WAITAOF needs Redis 7.2).
import type { Redis } from 'ioredis';
import { ErrNotDurable } from './errors.js';

export interface DurabilityConfig {
  appendonly: string;
  appendfsync: string;
}

/**
 * Asks Redis for its persistence settings. Throws ErrNotDurable when Redis
 * refuses to tell (CONFIG disabled or not permitted): durability cannot be
 * shown then.
 */
export async function readDurabilityConfig(redis: Redis): Promise<DurabilityConfig> {
  try {
    return {
      appendonly: configValue(await redis.call('CONFIG', 'GET', 'appendonly'), 'appendonly'),
      appendfsync: configValue(await redis.call('CONFIG', 'GET', 'appendfsync'), 'appendfsync'),
    };
  } catch (error) {
    // Only Redis saying no (unknown command, NOPERM) means "cannot tell"; a lost connection is just that.
    if (!(error instanceof Error) || error.name !== 'ReplyError') throw error;
    throw new ErrNotDurable(undefined, undefined, `CONFIG GET was refused (${error.message})`);
  }
}

export function isDurable(config: DurabilityConfig): boolean {
  return config.appendonly === 'yes' && config.appendfsync === 'always';
}

export function notDurable(config: DurabilityConfig): ErrNotDurable {
  return new ErrNotDurable(config.appendonly, config.appendfsync, `appendonly is ${config.appendonly}, appendfsync is ${config.appendfsync}`);
}

/** CONFIG GET's reply: [name, value] (RESP2, or RESP3 in ioredis's legacy mapping) or { name: value } (RESP3 mapping). */
function configValue(reply: unknown, name: string): string {
  let value: unknown;
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) if (String(reply[i]).toLowerCase() === name) value = reply[i + 1];
  } else if (reply !== null && typeof reply === 'object') {
    value = (reply as Record<string, unknown>)[name];
  }
  if (value === undefined || value === null) throw new ErrNotDurable(undefined, undefined, `CONFIG GET ${name} returned nothing`);
  return String(value).toLowerCase();
}

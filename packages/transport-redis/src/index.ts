// @raftbus/transport-redis: raft messages over Redis Streams, one inbox
// stream per node, through ioredis.
export {
  RedisTransport,
  type RedisTransportOptions,
  type RedisConnectionOptions,
  type RedisTransportLogger,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAXLEN,
  DEFAULT_BLOCK_MS,
  DEFAULT_READ_COUNT,
} from './redis-transport.js';
export { inboxKey } from './inbox-key.js';
export { ErrRedisUnavailable, ErrPublishAborted } from './errors.js';

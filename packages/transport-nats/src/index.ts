// @raftbus/transport-nats: raft messages over NATS core pub/sub, one subject
// per node, through @nats-io/transport-node.
export {
  NatsTransport,
  type NatsTransportOptions,
  type NatsClientOptions,
  type NatsSharedConnection,
  type NatsTransportLogger,
  NATS_CLIENT_DEFAULTS,
  DEFAULT_MAX_PAYLOAD,
  HEADER_ROOM_BYTES,
  maxFrameBytesFor,
} from './nats-transport.js';
export { natsSubject, clusterSubject, clusterToken, SUBJECT_PREFIX } from './subject.js';
export { ErrNatsUnavailable, ErrNatsPayloadTooLarge } from './errors.js';

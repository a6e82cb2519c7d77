// @raftbus/framing: raft messages as frames on any bus. An envelope that
// keeps clusters and nodes apart, chunking of messages larger than the bus
// carries, and an optional per-cluster HMAC; plus FramedTransport, the base
// every bus adapter extends so that it only moves bytes.
export { Framer } from './framer.js';
export { FramedTransport, type FramedTransportOptions, type FramedTransportStats } from './framed-transport.js';
export type { FramingOptions } from './options.js';
export type { FrameDropStats } from './stats.js';
export { ErrMessageTooLarge, ErrAlreadyStarted } from './errors.js';
export { FRAME_VERSION } from './format.js';

// Why a publish was refused. The transport never throws them at the caller of
// send(): the framing base counts them as sendFailures and reports the peer
// unreachable. They name the cause for those who log or test it.
import { RaftError } from '@raftbus/core';

/**
 * The connection to NATS is down (reconnecting), closed, or not started.
 * The client would buffer the frames and then discard them on its next
 * connection attempt, so they are refused now, visibly.
 */
export class ErrNatsUnavailable extends RaftError {
  constructor(readonly state: 'not started' | 'disconnected' | 'closed') {
    super(`NATS connection is ${state}`);
  }
}

/** A frame is larger than the connected server's max_payload (a server with a smaller limit than the one frames were sized for). */
export class ErrNatsPayloadTooLarge extends RaftError {
  constructor(
    readonly frameBytes: number,
    readonly maxPayload: number,
  ) {
    super(`frame of ${frameBytes} bytes exceeds the server's max_payload of ${maxPayload} bytes`);
  }
}

// Errors of @raftbus/transport-redis. They never reach send()'s caller:
// the framing base counts a rejected publish as a send failure and reports
// the peer unreachable; they name the cause for whoever inspects one.
import { RaftError } from '@raftbus/core';

/** Frames were not published because the connection to Redis is not ready (down, reconnecting, closed). */
export class ErrRedisUnavailable extends RaftError {
  constructor(readonly status: string) {
    super(`redis transport: connection not ready (status ${status})`);
  }
}

/** The MULTI/EXEC carrying a chunked message was aborted by the server: none of its chunks was added. */
export class ErrPublishAborted extends RaftError {}

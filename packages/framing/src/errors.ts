// Errors thrown by @raftbus/framing. Frames that arrive broken are never
// errors (they are counted drops); these are the sender's and the
// configuration's mistakes.
import { RaftError } from '@raftbus/core';

/** The encoded message is larger than maxMessageBytes: receivers would drop it, so it is never sent. */
export class ErrMessageTooLarge extends RaftError {}

/** start() on a transport that is already started (or was stopped: transports are single-use). */
export class ErrAlreadyStarted extends RaftError {}

// Errors an interaction handler returns in etcd (as opposed to t.Fatal or a
// panic): the env prints their message as the block's output.
import { RaftError, RaftPanic } from '../errors.js';
import { StrconvError } from './datadriven.js';

export class EnvError extends Error {
  override name = 'EnvError';
}

/**
 * Whether a thrown value is one of etcd's returned errors, to be printed:
 * raft's and storage's sentinel errors (not RaftPanic, which is a panic),
 * strconv failures and the env's own.
 */
export function isReturnedError(e: unknown): e is Error {
  if (e instanceof RaftPanic) return false;
  return e instanceof RaftError || e instanceof EnvError || e instanceof StrconvError;
}

/** The message Go's err.Error() would give. */
export function errorText(e: Error): string {
  return e.message;
}

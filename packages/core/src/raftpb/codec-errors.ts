// How the raftpb codecs report what they refuse: ErrMalformedMessage with one
// message format, whichever decoder (direct or reflection) found the fault.
import { ErrMalformedMessage } from '../errors.js';
import { DecodeFailure } from './wire-reader.js';

export function encodeError(where: string, what: string): ErrMalformedMessage {
  return new ErrMalformedMessage(`raftpb: cannot encode ${where}: ${what}`);
}

export function describeError(e: unknown): string {
  if (e instanceof DecodeFailure) return e.message;
  const msg = e instanceof Error ? e.message : String(e);
  if (msg.startsWith('index out of range')) return `truncated input or length past the end (${msg})`;
  return msg;
}

/** The error for a failure `e` met while decoding a `typeName`, keeping it as the cause. */
export function decodeError(typeName: string, e: unknown): ErrMalformedMessage {
  const err = new ErrMalformedMessage(`raftpb: cannot decode ${typeName}: ${describeError(e)}`);
  err.cause = e;
  return err;
}

export function notBytesError(typeName: string): ErrMalformedMessage {
  return new ErrMalformedMessage(`raftpb: cannot decode ${typeName}: input is not a Uint8Array`);
}

/** The names of protobuf's wire types, for messages about a field's wire type. */
export const WIRE_TYPE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32'];

// The wire codec for the raftpb types: etcd-raft's raft.proto (proto2) run
// through protobufjs, producing exactly the bytes etcd-raft v3.6 sends.
//
// etcd v3.6 marshals with gogoproto, whose non-nullable scalars are always
// written, even when zero. The encoders write fields in field-number order,
// every scalar, and leave out only what gogo leaves out:
//   - bytes fields with no data (our zero-length array is etcd's nil slice);
//   - Message.snapshot when undefined (etcd's nil *Snapshot);
//   - repeated fields, which are written element by element (never packed).
//
// Decoding follows protobuf's rules (fields in any order, unknown field
// numbers skipped, last scalar wins, a repeated nested message merged,
// repeated fields appended, packed repeated uint64 accepted as gogo accepts
// it) and fills our zero values for absent fields. Refused with
// ErrMalformedMessage, as etcd v3.6 refuses them: truncated input, lengths
// past the end, varints longer than 10 bytes, field number 0, a stray
// end-group, reserved wire types, and a known field with the wrong wire type.
// Refused where etcd v3.6 (gogo) accepts:
//   - uint64 values above Number.MAX_SAFE_INTEGER. Our terms, indexes and ids
//     are plain numbers; a value we cannot hold exactly is refused, never
//     rounded. The reader (wire-reader.ts) parses uint64 varints itself, so
//     this holds whatever protobufjs's global Long configuration is.
//   - enum values outside our enums, including varints that are not a
//     non-negative int32. gogo stores any varint in an enum field (truncated
//     to int32); protobuf-go (etcd main) keeps an unknown value aside and
//     reads the enum as 0 (MsgHup, EntryNormal, ConfChangeAddNode). Neither
//     fits our typed fields, and reading 0 would change what an entry means,
//     so the whole message is refused. A peer running a newer raft with a new
//     message type therefore gets its messages refused at decoding, where
//     etcd v3.6 would decode them and then ignore the unknown type.
//   - tags and length prefixes written in more than 5 bytes (padded
//     varints, which gogo reads), lengths of 2^31 or more, and field numbers
//     past 2^29-1 (protobufjs reads tags and lengths as 32-bit values and
//     refuses what does not fit rather than truncating it; no encoder writes
//     these, and no real length comes close).
//   - a 10-byte varint above 2^64-1 (gogo drops the high bits; protobuf-go
//     refuses it too), and an end-group tag that does not match its group
//     inside a skipped unknown field (protobufjs checks it, gogo does not).
// Nesting deeper than protobufjs's recursion limit (100) is refused as well.
//
// Decoded byte fields are copies: a decoded value never aliases the input.
// They are views of one copy of the input per decoding, small copies
// sharing a slab (byte-slab.ts): a decoded array's `.buffer` may hold other
// values' bytes, so views over it use byteOffset and byteLength.
//
// Message, Entry, Snapshot, ConfState and HardState, the hot types, go
// through the direct encoder and decoder (message-encoder.ts,
// message-decoder.ts), written with protobufjs's Writer and Reader
// primitives; ConfChange and ConfChangeV2 through protobufjs reflection
// (reflection-codec.ts), the reference the direct codec is tested against.
// Both make the same decisions, byte for byte and fault for fault.
export {
  encodeConfState,
  encodeEntry,
  encodeEntryInto,
  encodeHardState,
  encodeMessage,
  encodeMessageWithHeadroom,
  encodeSnapshot,
} from './message-encoder.js';
export { decodeConfState, decodeEntry, decodeEntryTermIndex, decodeHardState, decodeMessage, decodeSnapshot } from './message-decoder.js';
export { decodeConfChange, decodeConfChangeV2, encodeConfChange, encodeConfChangeV2 } from './reflection-codec.js';

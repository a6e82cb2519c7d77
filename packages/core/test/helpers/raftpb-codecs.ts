// Every raftpb kind's encoder and decoder, by the kind's name, for the codec
// tests that go over all kinds. The key order is the order those tests' seeds
// draw kinds in: keep it.
import * as codec from '../../src/raftpb/codec.js';

export const raftpbCodecs = {
  Entry: { encode: codec.encodeEntry, decode: codec.decodeEntry },
  HardState: { encode: codec.encodeHardState, decode: codec.decodeHardState },
  ConfState: { encode: codec.encodeConfState, decode: codec.decodeConfState },
  Snapshot: { encode: codec.encodeSnapshot, decode: codec.decodeSnapshot },
  Message: { encode: codec.encodeMessage, decode: codec.decodeMessage },
  ConfChange: { encode: codec.encodeConfChange, decode: codec.decodeConfChange },
  ConfChangeV2: { encode: codec.encodeConfChangeV2, decode: codec.decodeConfChangeV2 },
};

export type RaftpbKind = keyof typeof raftpbCodecs;

export const RAFTPB_KINDS = Object.keys(raftpbCodecs) as RaftpbKind[];

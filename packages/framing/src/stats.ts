/**
 * Why received frames were dropped. Every counter except the two
 * reassembly ones counts frames; reassemblyExpired and reassemblyOverflow
 * count incomplete messages discarded (and frames refused because their
 * message could never fit).
 */
export interface FrameDropStats {
  /** Broken structure, inconsistent chunks, or a payload that is not a raft message for the envelope's from/to. */
  malformed: number;
  /** For another cluster on the same bus. */
  wrongCluster: number;
  /** For another node of this cluster. */
  wrongNode: number;
  /** A key is configured and the frame's HMAC is missing or wrong. */
  badMac: number;
  /** A key is configured and this authentic frame was seen already (a replay, or the bus delivering it twice), or is too old to tell. */
  replayed: number;
  /** The message is larger than maxMessageBytes. */
  tooLarge: number;
  /** Incomplete messages discarded after reassemblyTimeoutMs. */
  reassemblyExpired: number;
  /** Incomplete messages evicted to stay within maxReassemblyBytes, or refused because they could never fit. */
  reassemblyOverflow: number;
}

export function emptyDropStats(): FrameDropStats {
  return { malformed: 0, wrongCluster: 0, wrongNode: 0, badMac: 0, replayed: 0, tooLarge: 0, reassemblyExpired: 0, reassemblyOverflow: 0 };
}

export function totalDrops(d: FrameDropStats): number {
  return d.malformed + d.wrongCluster + d.wrongNode + d.badMac + d.replayed + d.tooLarge + d.reassemblyExpired + d.reassemblyOverflow;
}

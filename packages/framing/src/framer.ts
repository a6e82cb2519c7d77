// The Framer: raft messages to frames and back, for one node of one
// cluster. Pure apart from the clock it is handed and the random message
// ids of chunks; no I/O. A frame that is not a valid message for this node
// is dropped and counted, never thrown and never delivered.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrInvalidConfig, ErrMalformedMessage, decodeMessage, encodeMessageWithHeadroom, type Message } from '@raftbus/core';
import { ErrMessageTooLarge } from './errors.js';
import {
  MAC_BYTES,
  MAX_CLUSTER_ID_BYTES,
  MAX_RECIPIENTS,
  buildFrame,
  buildMulticastFrame,
  frameLength,
  hasClusterId,
  headerLength,
  isNodeId,
  isRecipientId,
  macOf,
  namesOthersOnly,
  parseFrame,
  sessionOf,
  writeHeader,
  writeMulticastHeader,
  type Header,
  type ParsedFrame,
  type Recipient,
} from './format.js';
import { resolveFramingOptions, type FramingOptions, type ResolvedFramingOptions } from './options.js';
import { Reassembly } from './reassembly.js';
import { ReplayWindows } from './replay.js';
import { emptyDropStats, type FrameDropStats } from './stats.js';

const utf8 = new TextEncoder();

/** Encodes messages into frames and decodes frames back, for one node of one cluster. Pure, no I/O. */
export class Framer {
  readonly drops: FrameDropStats = emptyDropStats();
  private passedOver = 0;
  private readonly options: ResolvedFramingOptions;
  private readonly clusterIdBytes: Uint8Array;
  /** Payload bytes a chunk frame can carry within maxFrameBytes. */
  private readonly chunkPayloadBytes: number;
  private readonly reassembly: Reassembly;
  /** This Framer's run as a sender (random 64 bits, as two words): frames of an earlier run never look new. */
  private readonly sessionHigh: number;
  private readonly sessionLow: number;
  /** Header bytes of an unchunked frame: the room left before the payload when it is encoded. */
  private readonly headroom: number;
  /** Last sequence number used per addressee (each receiver sees a gapless count of its own frames). */
  private readonly sequences = new Map<number, number>();
  /** Kept only with a key: without one, a replay cannot be told from a forgery. */
  private readonly replays: ReplayWindows | undefined;

  constructor(
    readonly clusterId: string,
    readonly nodeId: number,
    options: FramingOptions,
  ) {
    this.options = resolveFramingOptions(options);
    if (typeof clusterId !== 'string' || clusterId.length === 0) throw new ErrInvalidConfig('framing: clusterId must be a non-empty string');
    this.clusterIdBytes = utf8.encode(clusterId);
    // Lone surrogates all encode as U+FFFD: two different ids would share bytes on the wire.
    if (new TextDecoder().decode(this.clusterIdBytes) !== clusterId) {
      throw new ErrInvalidConfig('framing: clusterId must be well-formed Unicode');
    }
    if (this.clusterIdBytes.length > MAX_CLUSTER_ID_BYTES) {
      throw new ErrInvalidConfig(`framing: clusterId is ${this.clusterIdBytes.length} bytes in UTF-8; at most ${MAX_CLUSTER_ID_BYTES}`);
    }
    if (!isNodeId(nodeId) || nodeId === 0) throw new ErrInvalidConfig(`framing: nodeId must be a positive safe integer, got ${String(nodeId)}`);
    const keyed = this.options.key !== undefined;
    this.headroom = headerLength(this.clusterIdBytes.length, false);
    const session = randomBytes(8);
    this.sessionHigh = session.readUInt32BE(0);
    this.sessionLow = session.readUInt32BE(4);
    this.chunkPayloadBytes = this.options.maxFrameBytes - frameLength(this.clusterIdBytes.length, true, keyed, 0);
    if (this.chunkPayloadBytes < 1) {
      const least = frameLength(this.clusterIdBytes.length, true, keyed, 1);
      throw new ErrInvalidConfig(`framing: maxFrameBytes ${this.options.maxFrameBytes} cannot carry a chunk for this cluster id; at least ${least}`);
    }
    this.reassembly = new Reassembly(this.drops, this.options.reassemblyTimeoutMs, this.options.maxReassemblyBytes);
    this.replays = keyed ? new ReplayWindows() : undefined;
  }

  /** Bytes currently held in incomplete chunked messages (payload plus bookkeeping). */
  get reassemblyBytes(): number {
    return this.reassembly.heldBytes;
  }

  /** Chunked messages waiting for more chunks. */
  get pendingMessages(): number {
    return this.reassembly.pendingMessages;
  }

  /** Frames for several other nodes, passed over unread: a bus that publishes to all shows them to every node. Not drops. */
  get othersFrames(): number {
    return this.passedOver;
  }

  /** (sender, session) pairs whose frames are remembered for replay detection (0 without a key). */
  get replaySessions(): number {
    return this.replays?.sessions ?? 0;
  }

  /**
   * One frame, or several chunks when the encoded message exceeds
   * maxFrameBytes. Throws ErrMalformedMessage for a message the codec cannot
   * represent, ErrMessageTooLarge past maxMessageBytes.
   */
  encode(message: Message): Uint8Array[] {
    const { headroom } = this;
    const encoded = encodeMessageWithHeadroom(message, headroom);
    const payloadLength = encoded.length - headroom;
    if (!isNodeId(message.from) || !isNodeId(message.to)) {
      throw new ErrMalformedMessage(`framing: node ids must be safe non-negative integers (from ${message.from}, to ${message.to})`);
    }
    this.checkMessageBytes(payloadLength);
    const { key, maxFrameBytes } = this.options;
    if (frameLength(this.clusterIdBytes.length, false, key !== undefined, payloadLength) <= maxFrameBytes) {
      if (key === undefined) {
        // The common case: the header goes into the room left for it, no copy.
        writeHeader(encoded, this.header(message), undefined, payloadLength, false);
        return [encoded];
      }
      return [buildFrame(this.header(message), undefined, encoded.subarray(headroom), key)];
    }
    const payload = encoded.subarray(headroom);
    const size = this.chunkPayloadBytes;
    const count = Math.ceil(payloadLength / size);
    const messageId = randomBytes(8).readBigUInt64BE(0);
    const frames: Uint8Array[] = [];
    for (let index = 0; index < count; index++) {
      const part = payload.subarray(index * size, Math.min(payloadLength, (index + 1) * size));
      frames.push(buildFrame(this.header(message), { messageId, index, count, totalLength: payloadLength }, part, key));
    }
    return frames;
  }

  /**
   * One frame carrying `message` to every node in `recipients` (2 to
   * MAX_RECIPIENTS distinct positive ids; the message's own `to` is not
   * read), or undefined when that frame would exceed maxFrameBytes (then
   * send each its own with encode()). Each recipient receives the message
   * addressed to itself. Throws as encode() does.
   */
  encodeMulticast(message: Message, recipients: readonly number[]): Uint8Array | undefined {
    const count = recipients.length;
    if (count < 2 || count > MAX_RECIPIENTS) {
      throw new RangeError(`framing: a frame for several recipients names 2 to ${MAX_RECIPIENTS}, not ${count}`);
    }
    for (let i = 0; i < count; i++) {
      const to = recipients[i]!;
      if (!isRecipientId(to) || recipients.indexOf(to) !== i) {
        throw new ErrMalformedMessage(`framing: recipients must be distinct positive safe integers (got ${recipients.join(', ')})`);
      }
    }
    if (!isNodeId(message.from)) throw new ErrMalformedMessage(`framing: node ids must be safe non-negative integers (from ${message.from})`);
    // Encoded for nobody in particular (each recipient reads `to` as itself),
    // after room for the header.
    const headroom = headerLength(this.clusterIdBytes.length, false, count);
    const encoded = encodeMessageWithHeadroom({ ...message, to: 0 }, headroom);
    const payloadLength = encoded.length - headroom;
    this.checkMessageBytes(payloadLength);
    const { key, maxFrameBytes } = this.options;
    if (frameLength(this.clusterIdBytes.length, false, key !== undefined, payloadLength, count) > maxFrameBytes) return undefined;
    const addressed: Recipient[] = [];
    for (const to of recipients) addressed.push({ to, sequence: this.nextSequence(to) });
    const { clusterIdBytes: clusterId, sessionHigh, sessionLow } = this;
    const sender = { clusterId, from: message.from, sessionHigh, sessionLow };
    if (key === undefined) {
      writeMulticastHeader(encoded, sender, addressed, payloadLength, false);
      return encoded;
    }
    return buildMulticastFrame(sender, addressed, encoded.subarray(headroom), key);
  }

  /** The message once complete; undefined while chunks are missing or when the frame was dropped (counted). Never throws. */
  decode(frame: Uint8Array, now?: number): Message | undefined {
    try {
      return this.decodeFrame(frame, now);
    } catch {
      // Unreachable by design; the promise is that a frame never throws.
      this.drops.malformed++;
      return undefined;
    }
  }

  /** `now` defaults to Date.now(), read only when chunks are held or arrive. */
  private decodeFrame(frame: Uint8Array, now: number | undefined): Message | undefined {
    if (!this.reassembly.idle) this.reassembly.expire((now ??= Date.now()));
    if (!(frame instanceof Uint8Array)) return this.drop('malformed');
    if (namesOthersOnly(frame, this.nodeId)) {
      this.passedOver++;
      return undefined;
    }
    const { key } = this.options;
    // With a key, nothing in the frame is believed before its MAC checks out:
    // whatever was changed, truncated or stripped, the drop is badMac.
    if (key !== undefined && !this.authentic(frame, key)) return this.drop('badMac');
    const parsed = parseFrame(frame);
    if (parsed === undefined) return this.drop('malformed');
    if (key !== undefined && !parsed.authenticated) return this.drop('malformed');
    if (!hasClusterId(frame, this.clusterIdBytes)) return this.drop('wrongCluster');
    if (parsed.recipients !== undefined) {
      // Named, or namesOthersOnly would have passed it over.
      const mine = parsed.recipients.find((r) => r.to === this.nodeId)!;
      parsed.to = mine.to;
      parsed.sequence = mine.sequence;
    }
    if (parsed.to !== this.nodeId) return this.drop('wrongNode');
    // Authentic, and for us: drop it if we saw it already.
    if (this.replays !== undefined && !this.replays.accept(parsed.from, sessionOf(parsed), parsed.sequence)) return this.drop('replayed');

    const { chunk } = parsed;
    if (chunk === undefined) {
      if (parsed.payload.length > this.options.maxMessageBytes) return this.drop('tooLarge');
      return this.message(parsed.payload, parsed);
    }
    if (chunk.totalLength > this.options.maxMessageBytes) return this.drop('tooLarge');
    now ??= Date.now();
    const outcome = this.reassembly.add(parsed.from, chunk, parsed.payload, now);
    switch (outcome.kind) {
      case 'incomplete':
      case 'duplicate':
        return undefined;
      case 'dropped':
        return this.drop(outcome.reason);
      case 'complete': {
        const m = this.message(outcome.bytes, parsed);
        if (m === undefined) this.reassembly.refuseCompleted(parsed.from, chunk.messageId, now);
        return m;
      }
    }
  }

  private checkMessageBytes(payloadLength: number): void {
    if (payloadLength > this.options.maxMessageBytes) {
      throw new ErrMessageTooLarge(`framing: message is ${payloadLength} bytes encoded; maxMessageBytes is ${this.options.maxMessageBytes}`);
    }
  }

  /** The header of the next frame to the message's addressee. */
  private header(message: Message): Header {
    const { sessionHigh, sessionLow } = this;
    return { clusterId: this.clusterIdBytes, from: message.from, to: message.to, sessionHigh, sessionLow, sequence: this.nextSequence(message.to) };
  }

  /** The sequence number of the next frame to `to`, whether for it alone or for several. */
  private nextSequence(to: number): number {
    const sequence = (this.sequences.get(to) ?? 0) + 1;
    this.sequences.set(to, sequence);
    return sequence;
  }

  private authentic(frame: Uint8Array, key: Uint8Array): boolean {
    if (frame.length < MAC_BYTES) return false;
    const end = frame.length - MAC_BYTES;
    return timingSafeEqual(macOf(key, frame.subarray(0, end)), frame.subarray(end));
  }

  /** The raft message in `bytes`, which must be addressed as its envelope is. */
  private message(bytes: Uint8Array, envelope: ParsedFrame): Message | undefined {
    let m: Message;
    try {
      m = decodeMessage(bytes);
    } catch {
      return this.drop('malformed');
    }
    // A frame for several carries its message addressed to none of them (to 0).
    const to = envelope.recipients === undefined ? envelope.to : 0;
    if (m.to !== to || m.from !== envelope.from) return this.drop('malformed');
    m.to = envelope.to;
    return m;
  }

  private drop(reason: keyof FrameDropStats): undefined {
    this.drops[reason]++;
    return undefined;
  }
}

// The base of the bus transports. A subclass moves opaque frames (connect,
// publish, disconnect); this class turns messages into frames and back,
// keeps the counters, owns the start/stop life cycle and reports
// unreachable peers, so that every bus behaves the same above the bytes.
import {
  ErrInvalidConfig,
  type Message,
  type Transport,
  type TransportCapabilities,
  type TransportHandlers,
  type TransportStats,
} from '@raftbus/core';
import { ErrAlreadyStarted } from './errors.js';
import { Framer } from './framer.js';
import { MAX_CLUSTER_ID_BYTES, MAX_RECIPIENTS, MAX_U32, frameLength, isRecipientId, sameBytes } from './format.js';
import { DEFAULT_MAX_MESSAGE_BYTES, resolveFramingOptions, type FramingOptions } from './options.js';
import { emptyDropStats, totalDrops, type FrameDropStats } from './stats.js';

export type FramedTransportOptions = FramingOptions & {
  orderedPerPeer: boolean;
  /**
   * The subclass implements publishToAll: a message sent alike to several
   * peers in one send() (a leader's appends and heartbeats) goes out as one
   * frame naming them all. Default false.
   */
  multicast?: boolean;
  /** Default Infinity: chunking makes any size fit. When set, larger messages are refused (sendFailures). */
  maxPayloadBytes?: number;
};

/** TransportStats plus why frames were dropped. */
export type FramedTransportStats = TransportStats & { drops: FrameDropStats };

type State = 'new' | 'starting' | 'running' | 'stopped';

/** The frames of one send() for one peer. */
interface Batch {
  to: number;
  frames: Uint8Array[];
  /** Messages the frames carry. */
  messages: number;
}

interface Joined {
  framer: Framer;
  handlers: TransportHandlers;
}

/**
 * The counters, with the drop detail as an accessor: `stats()` compares
 * equal (toEqual, deep-equal) to a plain TransportStats, as the transport
 * conformance suite expects, while `stats().drops` is there for those who ask.
 */
class Stats implements FramedTransportStats {
  readonly #drops: FrameDropStats;
  constructor(
    public sent: number,
    public received: number,
    public dropped: number,
    public sendFailures: number,
    drops: FrameDropStats,
  ) {
    this.#drops = drops;
  }
  get drops(): FrameDropStats {
    return this.#drops;
  }
}

/**
 * Base class of the bus transports: subclasses move opaque frames; the base does framing,
 * stats, start/stop state and unreachable reporting. Implements the core's Transport contract.
 */
export abstract class FramedTransport implements Transport {
  readonly capabilities: TransportCapabilities;
  readonly #framing: FramingOptions;
  readonly #multicast: boolean;
  #state: State = 'new';
  #joined: Joined | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #connected = false;
  #sent = 0;
  #received = 0;
  #sendFailures = 0;
  /** Drops of frames decoded before the current framer (a failed start's). */
  readonly #earlierDrops: FrameDropStats = emptyDropStats();
  /** Peers with an unreachable report queued, so a burst of failures reports each once. */
  readonly #unreachableQueued = new Set<number>();

  constructor(options: FramedTransportOptions) {
    const maxPayloadBytes = options.maxPayloadBytes ?? Number.POSITIVE_INFINITY;
    if (typeof maxPayloadBytes !== 'number' || !(maxPayloadBytes >= 1)) {
      throw new ErrInvalidConfig(`framing: maxPayloadBytes must be positive, got ${String(maxPayloadBytes)}`);
    }
    if (typeof options.orderedPerPeer !== 'boolean') throw new ErrInvalidConfig('framing: orderedPerPeer must be a boolean');
    if (options.multicast !== undefined && typeof options.multicast !== 'boolean') throw new ErrInvalidConfig('framing: multicast must be a boolean');
    this.#multicast = options.multicast === true;
    // A finite maxPayloadBytes is a promise both ways: messages up to it are
    // carried (so the default message limit yields to it) and larger ones are
    // refused (the framer enforces it). The capability never promises more
    // than the framer will carry.
    const finite = Number.isFinite(maxPayloadBytes);
    const maxMessageBytes = Math.min(options.maxMessageBytes ?? (finite ? MAX_U32 : DEFAULT_MAX_MESSAGE_BYTES), maxPayloadBytes);
    this.#framing = {
      maxFrameBytes: options.maxFrameBytes,
      maxMessageBytes,
      ...(options.key !== undefined && { key: options.key }),
      ...(options.reassemblyTimeoutMs !== undefined && { reassemblyTimeoutMs: options.reassemblyTimeoutMs }),
      ...(options.maxReassemblyBytes !== undefined && { maxReassemblyBytes: options.maxReassemblyBytes }),
    };
    resolveFramingOptions(this.#framing); // fail at construction, not at start
    // What fits one frame whatever the cluster id (the header holds it) and with a MAC.
    const unsplit = options.maxFrameBytes - frameLength(MAX_CLUSTER_ID_BYTES, false, true, 0);
    this.capabilities = {
      maxPayloadBytes: finite ? maxMessageBytes : maxPayloadBytes,
      ...(Number.isFinite(options.maxFrameBytes) && { maxUnsplitBytes: Math.max(1, Math.min(unsplit, maxMessageBytes)) }),
      orderedPerPeer: options.orderedPerPeer,
    };
  }

  /** Joins the cluster: calls connect(), then delivers decoded messages to handlers.onMessage. */
  start(clusterId: string, nodeId: number, handlers: TransportHandlers): Promise<void> {
    if (this.#state === 'stopped') return Promise.reject(new ErrAlreadyStarted('transport was stopped; transports are single-use'));
    if (this.#state !== 'new') return Promise.reject(new ErrAlreadyStarted(`transport already started as node ${this.#joined?.framer.nodeId}`));
    let framer: Framer;
    try {
      if (typeof handlers?.onMessage !== 'function') throw new ErrInvalidConfig('framing: handlers.onMessage is required');
      framer = new Framer(clusterId, nodeId, this.#framing);
    } catch (e) {
      return Promise.reject(e);
    }
    const joined: Joined = { framer, handlers };
    this.#joined = joined;
    this.#state = 'starting';
    this.#starting = this.#join(joined, clusterId, nodeId);
    return this.#starting;
  }

  /**
   * Groups frames by destination and calls publish() once per peer per call.
   * Never throws: a message that cannot be encoded, a publish that throws or
   * rejects, and any send while not running count as sendFailures; bus
   * failures are also reported through handlers.onUnreachable.
   */
  send(messages: readonly Message[]): void {
    const joined = this.#joined;
    if (this.#state !== 'running' || joined === undefined) {
      this.#sendFailures += messages.length;
      return;
    }
    if (this.#multicast && messages.length > 1) {
      this.#sendAlikeOnce(joined, messages);
      return;
    }
    // Batches in the order their peers first appear. A send addresses a
    // few peers, so finding a batch by scanning costs less than a Map.
    const batches: Batch[] = [];
    for (const message of messages) {
      const frames = this.#framesOf(joined, message);
      if (frames === undefined) continue;
      let batch: Batch | undefined;
      for (const b of batches) if (b.to === message.to) batch = b;
      // The framer's array is ours: it becomes the batch.
      if (batch === undefined) batches.push({ to: message.to, frames, messages: 1 });
      else addFrames(batch, frames);
    }
    for (const batch of batches) this.#publishBatch(joined, batch.to, batch.frames, batch.messages);
  }

  /** Idempotent; calls disconnect() once (if connect() was ever called), after a start in progress settles. */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  stats(): FramedTransportStats {
    const drops = this.#dropStats();
    return new Stats(this.#sent, this.#received, totalDrops(drops), this.#sendFailures, drops);
  }

  /** Subclass: connect to the bus and start calling `deliver(frame)` for frames addressed to (clusterId, nodeId). */
  protected abstract connect(clusterId: string, nodeId: number, deliver: (frame: Uint8Array) => void): Promise<void>;
  /**
   * Subclass: put frames (in order) on the bus for node `to`. May be async; must not throw synchronously for bus errors (reject instead).
   * A small frame is a view into a buffer shared with other frames: send its bytes (byteOffset, byteLength), never its whole `buffer`.
   * `chunked`: some message among the frames was split into chunks (a bus that can should deliver a message's chunks all or none);
   * otherwise each frame is a whole message, and losing some of them is what raft expects of a network.
   */
  protected abstract publish(to: number, frames: Uint8Array[], chunked: boolean): Promise<void>;
  /**
   * Subclass, with the `multicast` option: put one frame on the bus where
   * every node of the cluster receives it (nodes it does not name pass it
   * over). Must keep its order with publish()'s frames to each recipient.
   * Same rules as publish() otherwise.
   */
  protected publishToAll(_recipients: readonly number[], _frame: Uint8Array): Promise<void> {
    return Promise.reject(new Error('framing: this transport does not publish to all nodes'));
  }
  /** Subclass: release connections it created (not the ones the user passed in). */
  protected abstract disconnect(): Promise<void>;

  async #join(joined: Joined, clusterId: string, nodeId: number): Promise<void> {
    // Frames may arrive before connect() resolves; they are delivered.
    const deliver = (frame: Uint8Array): void => this.#deliver(joined, frame);
    this.#connected = true;
    try {
      await this.connect(clusterId, nodeId, deliver);
    } catch (e) {
      if (this.#joined === joined && this.#state === 'starting') {
        // Not joined: the caller may start again.
        this.#addEarlierDrops(joined.framer.drops);
        this.#joined = undefined;
        this.#state = 'new';
      }
      throw e;
    }
    if (this.#state === 'starting') this.#state = 'running';
  }

  #deliver(joined: Joined, frame: Uint8Array): void {
    if (this.#joined !== joined || this.#state === 'stopped') return;
    const message = joined.framer.decode(frame);
    if (message === undefined) return;
    this.#received++;
    joined.handlers.onMessage(message);
  }

  /**
   * send() for a transport that can publish to all: each message sent
   * alike to several peers goes out once, in one frame naming them, and
   * the rest as send() sends them. Publications follow the messages' order,
   * and a message joins an earlier alike one only when no message to its
   * peer lies between them, so each peer's messages keep their order.
   */
  #sendAlikeOnce(joined: Joined, messages: readonly Message[]): void {
    const n = messages.length;
    /** 1: already sent with an earlier alike message; 2: its alike group did not fit one frame, send it alone. */
    const state = new Uint8Array(n);
    let run: Batch | undefined;
    const flush = (): void => {
      if (run !== undefined) this.#publishBatch(joined, run.to, run.frames, run.messages);
      run = undefined;
    };
    for (let i = 0; i < n; i++) {
      if (state[i] === 1) continue;
      const message = messages[i]!;
      // Only to real node ids: a message to a bad one fails alone.
      const alike = state[i] === 0 && isRecipientId(message.to) ? alikeAfter(messages, i, state) : [];
      if (alike.length > 0) {
        const recipients = [message.to];
        for (const j of alike) recipients.push(messages[j]!.to);
        let frame: Uint8Array | undefined;
        try {
          frame = joined.framer.encodeMulticast(message, recipients);
        } catch {
          // Alike messages are all unencodable alike.
          for (const j of alike) state[j] = 1;
          this.#sendFailures += recipients.length;
          continue;
        }
        if (frame !== undefined) {
          for (const j of alike) state[j] = 1;
          flush();
          this.#publishToAll(joined, recipients, frame);
          continue;
        }
        for (const j of alike) state[j] = 2;
      }
      const frames = this.#framesOf(joined, message);
      if (frames === undefined) continue;
      if (run !== undefined && run.to === message.to) {
        addFrames(run, frames);
      } else {
        flush();
        run = { to: message.to, frames, messages: 1 };
      }
    }
    flush();
  }

  /** The message's frames; undefined, counted as a send failure, when it is unencodable or too large (its fault, not the peer's). */
  #framesOf(joined: Joined, message: Message): Uint8Array[] | undefined {
    try {
      return joined.framer.encode(message);
    } catch {
      this.#sendFailures++;
      return undefined;
    }
  }

  #publishToAll(joined: Joined, recipients: number[], frame: Uint8Array): void {
    let published: Promise<void>;
    try {
      published = this.publishToAll(recipients, frame);
    } catch {
      for (const to of recipients) this.#failed(joined, to, 1);
      return;
    }
    Promise.resolve(published).then(
      () => {
        this.#sent += recipients.length;
      },
      () => {
        for (const to of recipients) this.#failed(joined, to, 1);
      },
    );
  }

  #publishBatch(joined: Joined, to: number, frames: Uint8Array[], messages: number): void {
    let published: Promise<void>;
    try {
      published = this.publish(to, frames, frames.length > messages);
    } catch {
      this.#failed(joined, to, messages);
      return;
    }
    Promise.resolve(published).then(
      () => {
        this.#sent += messages;
      },
      () => this.#failed(joined, to, messages),
    );
  }

  #failed(joined: Joined, to: number, messages: number): void {
    this.#sendFailures += messages;
    if (joined.handlers.onUnreachable === undefined || this.#unreachableQueued.has(to)) return;
    this.#unreachableQueued.add(to);
    // Later, so the handler never runs inside the caller's send().
    queueMicrotask(() => {
      this.#unreachableQueued.delete(to);
      if (this.#joined === joined && this.#state !== 'stopped') joined.handlers.onUnreachable?.(to);
    });
  }

  async #shutdown(): Promise<void> {
    this.#state = 'stopped';
    if (this.#starting !== undefined) await this.#starting.catch(() => undefined);
    if (this.#connected) await this.disconnect();
  }

  #dropStats(): FrameDropStats {
    const drops = { ...this.#earlierDrops };
    const current = this.#joined?.framer.drops;
    if (current !== undefined) {
      for (const k of Object.keys(drops) as (keyof FrameDropStats)[]) drops[k] += current[k];
    }
    return drops;
  }

  #addEarlierDrops(d: FrameDropStats): void {
    for (const k of Object.keys(d) as (keyof FrameDropStats)[]) this.#earlierDrops[k] += d[k];
  }
}

function addFrames(batch: Batch, frames: Uint8Array[]): void {
  for (const frame of frames) batch.frames.push(frame);
  batch.messages++;
}

/** How far past a message send() looks for alike ones: a Ready's messages to its peers sit close together. */
const ALIKE_LOOKAHEAD = 64;

/**
 * Indexes after `i` of messages alike to message i but for `to`, each to a
 * peer of its own (not message i's), with no message to that peer, unsent,
 * between: joining them to message i keeps every peer's order.
 */
function alikeAfter(messages: readonly Message[], i: number, state: Uint8Array): number[] {
  const first = messages[i]!;
  const alike: number[] = [];
  const end = Math.min(messages.length, i + 1 + ALIKE_LOOKAHEAD);
  /** Peers with an unsent message since i: their later messages must wait for it. */
  let passed: number[] | undefined;
  for (let j = i + 1; j < end && alike.length < MAX_RECIPIENTS - 1; j++) {
    if (state[j] === 1) continue;
    const m = messages[j]!;
    const to = m.to;
    const free = to !== first.to && isRecipientId(to) && (passed === undefined || !passed.includes(to)) && !alike.some((k) => messages[k]!.to === to);
    if (free && state[j] === 0 && sameButTo(first, m)) alike.push(j);
    else (passed ??= []).push(to);
  }
  return alike;
}

/** Whether two messages say the same, whoever they are to: raft's appends and heartbeats to peers in step. */
function sameButTo(a: Message, b: Message): boolean {
  if (
    a.type !== b.type ||
    a.from !== b.from ||
    a.term !== b.term ||
    a.logTerm !== b.logTerm ||
    a.index !== b.index ||
    a.commit !== b.commit ||
    a.vote !== b.vote ||
    a.reject !== b.reject ||
    a.rejectHint !== b.rejectHint ||
    a.snapshot !== undefined ||
    b.snapshot !== undefined ||
    a.responses.length !== 0 ||
    b.responses.length !== 0 ||
    (a.context !== b.context && (a.context.length !== 0 || b.context.length !== 0))
  ) {
    return false;
  }
  const ea = a.entries;
  const eb = b.entries;
  if (ea === eb) return true;
  if (ea.length !== eb.length) return false;
  for (let k = 0; k < ea.length; k++) {
    const x = ea[k]!;
    const y = eb[k]!;
    if (x !== y && (x.index !== y.index || x.term !== y.term || x.type !== y.type || (x.data !== y.data && !sameBytes(x.data, y.data)))) return false;
  }
  return true;
}

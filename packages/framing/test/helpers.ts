// Shared by the framing tests: seeded random raft messages and a loopback
// bus that a FramedTransport subclass publishes to.
import {
  ConfChangeType,
  EntryType,
  MessageType,
  encodeConfChange,
  encodeMessage,
  newConfChange,
  newConfState,
  newEntry,
  newMessage,
  type Message,
} from '@raftbus/core';
import { SeededRandom } from '@raftbus/testkit';
import { FramedTransport, type FramedTransportOptions } from '../src/index.js';

export { SeededRandom };
// What the transport conformance suite means by a message arriving intact.
export { expectSameMessage } from '@raftbus/testkit';

const MESSAGE_TYPES = Object.values(MessageType).filter((v): v is MessageType => typeof v === 'number');

/** A safe integer of a random magnitude: small ones mostly, and now and then the largest. */
function uint(rng: SeededRandom): number {
  switch (rng.int(6)) {
    case 0:
      return 0;
    case 1:
      return Number.MAX_SAFE_INTEGER - rng.int(3);
    case 2:
      return rng.int(2 ** 31) * 2 ** 21 + rng.int(2 ** 21);
    default:
      return rng.int(1000);
  }
}

/** A random message from `from` to `to`; `bigBytes` bounds its largest byte field. */
export function randomMessage(rng: SeededRandom, from: number, to: number, bigBytes = 2048): Message {
  const bytes = (max: number) => rng.bytes(rng.int(4) === 0 ? 0 : rng.int(max + 1));
  const entries = Array.from({ length: rng.int(4) === 0 ? 0 : rng.int(6) }, () =>
    rng.int(5) === 0
      ? newEntry({
          index: uint(rng),
          term: uint(rng),
          type: EntryType.EntryConfChange,
          data: encodeConfChange(newConfChange({ type: ConfChangeType.ConfChangeAddNode, nodeId: 1 + rng.int(9) })),
        })
      : newEntry({ index: uint(rng), term: uint(rng), data: bytes(bigBytes) }),
  );
  const m = newMessage({
    type: MESSAGE_TYPES[rng.int(MESSAGE_TYPES.length)]!,
    from,
    to,
    term: uint(rng),
    logTerm: uint(rng),
    index: uint(rng),
    commit: uint(rng),
    vote: uint(rng),
    reject: rng.int(2) === 0,
    rejectHint: uint(rng),
    context: bytes(64),
    entries,
  });
  if (rng.int(4) === 0) {
    m.snapshot = {
      data: bytes(bigBytes * 4),
      metadata: { index: uint(rng), term: uint(rng), confState: newConfState({ voters: [1, 2, 3], learners: rng.int(2) ? [4] : [] }) },
    };
  }
  if (rng.int(8) === 0) m.responses = [newMessage({ type: MessageType.MsgAppResp, from: to, to: from, index: uint(rng) })];
  return m;
}

/** A message whose raftpb encoding is exactly `size` bytes (size >= 32). */
export function messageOfSize(from: number, to: number, size: number): Message {
  const base = newMessage({ type: MessageType.MsgApp, from, to, term: 1 });
  const overhead = encodeMessage(base).length;
  // context is field 12: a tag byte, a varint length, the bytes.
  for (let n = Math.max(0, size - overhead - 6); n <= size; n++) {
    const m = { ...base, context: new Uint8Array(n).fill(0xab) };
    const len = encodeMessage(m).length;
    if (len === size) return m;
    if (len > size) break;
  }
  throw new Error(`no message of exactly ${size} bytes`);
}

/** Fisher-Yates with the seeded generator. */
export function shuffle<T>(rng: SeededRandom, xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * A bus that routes frames by node id alone, ignoring clusters (so that the
 * framing, not the bus, must keep clusters apart). Delivery is on a later
 * turn, as on a real bus.
 */
export class LoopbackBus {
  readonly inboxes = new Map<number, Set<(frame: Uint8Array) => void>>();

  join(nodeId: number, deliver: (frame: Uint8Array) => void): void {
    let set = this.inboxes.get(nodeId);
    if (set === undefined) this.inboxes.set(nodeId, (set = new Set()));
    set.add(deliver);
  }

  leave(nodeId: number, deliver: (frame: Uint8Array) => void): void {
    this.inboxes.get(nodeId)?.delete(deliver);
  }

  /** Rejects when nobody listens as `to`, as a bus that can tell would. */
  route(to: number, frames: Uint8Array[]): Promise<void> {
    const targets = [...(this.inboxes.get(to) ?? [])];
    if (targets.length === 0) return Promise.reject(new Error(`no node ${to} on the bus`));
    setImmediate(() => {
      for (const frame of frames) for (const deliver of targets) deliver(frame);
    });
    return Promise.resolve();
  }

  /** Delivers to every node on the bus, the sender too (its framer must pass over what does not name it). */
  routeAll(frame: Uint8Array): Promise<void> {
    const targets = [...this.inboxes.values()].flatMap((set) => [...set]);
    setImmediate(() => {
      for (const deliver of targets) deliver(frame);
    });
    return Promise.resolve();
  }
}

export interface PublishCall {
  /** 0 for a publication to all. */
  to: number;
  /** The nodes a publication to all named; absent for a publication to one. */
  recipients?: readonly number[];
  frames: Uint8Array[];
  /** What the base said: some message among the frames was split into chunks. */
  chunked: boolean;
}

/** The smallest bus adapter: what a Redis, NATS or Kafka transport does, minus the bus. */
export class LoopbackTransport extends FramedTransport {
  readonly publishes: PublishCall[] = [];
  connects = 0;
  disconnects = 0;
  /** Set by a test to make publish misbehave for some peers. */
  publishFault: ((to: number) => 'reject' | 'throw' | undefined) | undefined;
  /** Set by a test to make connect slow or fail. */
  connectHook: (() => Promise<void>) | undefined;
  private inbox: { nodeId: number; deliver: (frame: Uint8Array) => void } | undefined;

  constructor(
    private readonly bus: LoopbackBus,
    options: Partial<FramedTransportOptions> = {},
  ) {
    super({ maxFrameBytes: 64 * 1024, orderedPerPeer: true, ...options });
  }

  protected async connect(_clusterId: string, nodeId: number, deliver: (frame: Uint8Array) => void): Promise<void> {
    this.connects++;
    await this.connectHook?.();
    this.inbox = { nodeId, deliver };
    this.bus.join(nodeId, deliver);
  }

  protected publish(to: number, frames: Uint8Array[], chunked: boolean): Promise<void> {
    this.publishes.push({ to, frames, chunked });
    const fault = this.publishFault?.(to);
    if (fault === 'throw') throw new Error(`publish to ${to} exploded`);
    if (fault === 'reject') return Promise.reject(new Error(`publish to ${to} refused`));
    return this.bus.route(to, frames);
  }

  protected override publishToAll(recipients: readonly number[], frame: Uint8Array): Promise<void> {
    this.publishes.push({ to: 0, recipients: [...recipients], frames: [frame], chunked: false });
    const fault = this.publishFault?.(0);
    if (fault === 'throw') throw new Error('publish to all exploded');
    if (fault === 'reject') return Promise.reject(new Error('publish to all refused'));
    return this.bus.routeAll(frame);
  }

  protected async disconnect(): Promise<void> {
    this.disconnects++;
    if (this.inbox !== undefined) this.bus.leave(this.inbox.nodeId, this.inbox.deliver);
  }
}

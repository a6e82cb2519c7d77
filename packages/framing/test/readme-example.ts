import { EventEmitter } from 'node:events';
import { MessageType, newMessage, newSnapshot, type Message } from '@raftbus/core';
import { FramedTransport, type FramingOptions } from '@raftbus/framing';

/**
 * A whole bus adapter: the "bus" is an EventEmitter with one topic per node.
 * FramedTransport does the rest: envelope, chunking, HMAC, counters,
 * start/stop, unreachable reports.
 */
export class EmitterTransport extends FramedTransport {
  private topicPrefix = '';
  private inbox: { topic: string; deliver: (frame: Uint8Array) => void } | undefined;

  constructor(
    private readonly bus: EventEmitter,
    options: Partial<FramingOptions> = {},
  ) {
    super({ maxFrameBytes: 64 * 1024, ...options, orderedPerPeer: true });
  }

  protected async connect(clusterId: string, nodeId: number, deliver: (frame: Uint8Array) => void): Promise<void> {
    // Topic names may collide across clusters ('a/1' + '2' = 'a/12'): harmless, the
    // framing drops frames for another cluster or node and counts them.
    this.topicPrefix = `${clusterId}/`;
    this.inbox = { topic: this.topicPrefix + nodeId, deliver };
    this.bus.on(this.inbox.topic, deliver);
  }

  protected async publish(to: number, frames: Uint8Array[]): Promise<void> {
    const topic = this.topicPrefix + to;
    // A rejection counts the messages as send failures and reports `to` unreachable.
    if (this.bus.listenerCount(topic) === 0) throw new Error(`node ${to} is not on the bus`);
    // Deliver on a later turn, as a real bus does.
    setImmediate(() => frames.forEach((frame) => this.bus.emit(topic, frame)));
  }

  protected async disconnect(): Promise<void> {
    if (this.inbox !== undefined) this.bus.off(this.inbox.topic, this.inbox.deliver);
  }
}

// Two nodes of cluster "demo" sharing a key; a 1 MiB snapshot crosses in 64 KiB frames.
const bus = new EventEmitter();
const a = new EmitterTransport(bus, { key: 'demo secret' });
const b = new EmitterTransport(bus, { key: 'demo secret' });
const arrived = new Promise<Message>((resolve) => {
  void b.start('demo', 2, { onMessage: resolve });
});
await a.start('demo', 1, { onMessage() {}, onUnreachable: (peer) => console.log(`node ${peer} unreachable`) });

const data = new Uint8Array(1 << 20).fill(7);
a.send([newMessage({ type: MessageType.MsgSnap, from: 1, to: 2, term: 3, snapshot: newSnapshot({ data, metadata: { index: 10, term: 3 } }) })]);
a.send([newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 9, term: 3 })]); // prints "node 9 unreachable"

const m = await arrived;
console.log(`node 2 got a ${MessageType[m.type]} with ${m.snapshot?.data.length} bytes`);
console.log(a.stats(), b.stats().drops);
await Promise.all([a.stop(), b.stop()]);

// The in-process bus: frames routed by a MemoryBus, delivered on a later
// turn of the event loop (setImmediate), exactly as MemoryTransport sends
// them, without the raftpb codec around them.
import { MessageType, newMessage } from '@raftbus/core';
import { MemoryBus } from '@raftbus/transport-memory';
import type { BusEndpoint, BusLink } from './bus-link.js';

export class MemoryLink implements BusLink {
  readonly bus = 'memory';
  private readonly memoryBus = new MemoryBus();
  private readonly clusterId = `bench-${process.pid}-${Date.now().toString(36)}`;

  async endpoint(id: number, deliver: (frame: Uint8Array) => void): Promise<BusEndpoint> {
    const { memoryBus, clusterId } = this;
    const me = { receive: (_from: number, frame: Uint8Array) => deliver(frame), unreachable: () => undefined };
    memoryBus.join(clusterId, id, me);
    return {
      send(to, frame) {
        // The bus hands the message to drop rules only; none are set here.
        if (!memoryBus.route(clusterId, me, id, to, frame, newMessage({ type: MessageType.MsgApp, from: id, to }))) {
          throw new Error(`memory bus: node ${to} is not joined`);
        }
      },
      async close() {
        memoryBus.leave(clusterId, id, me);
      },
    };
  }

  async close(): Promise<void> {}
}

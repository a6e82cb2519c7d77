// A Transport over a MemoryBus. Messages cross the bus as etcd's raftpb
// bytes, encoded on send and decoded on delivery, so two nodes never share
// an object and the codec is exercised as it would be on a real bus.
import {
  decodeMessage,
  encodeMessage,
  type Message,
  type Transport,
  type TransportCapabilities,
  type TransportHandlers,
  type TransportStats,
} from '@raftbus/core';
import type { BusEndpoint, MemoryBus } from './memory-bus.js';

export interface MemoryTransportOptions {
  /**
   * Largest frame carried (bytes); larger messages are refused and counted
   * as send failures, as a bus with a payload limit would. Default: no limit.
   */
  maxPayloadBytes?: number;
}

interface Joined {
  clusterId: string;
  nodeId: number;
  handlers: TransportHandlers;
  endpoint: BusEndpoint;
}

export class MemoryTransport implements Transport {
  readonly capabilities: TransportCapabilities;
  private joined: Joined | undefined;
  private readonly counters: TransportStats = { sent: 0, received: 0, dropped: 0, sendFailures: 0 };
  /** Peers found unreachable since the last report went out (one report per peer per turn). */
  private readonly unreachable = new Set<number>();

  constructor(
    private readonly bus: MemoryBus,
    options: MemoryTransportOptions = {},
  ) {
    this.capabilities = { maxPayloadBytes: options.maxPayloadBytes ?? Number.POSITIVE_INFINITY, orderedPerPeer: true };
  }

  async start(clusterId: string, nodeId: number, handlers: TransportHandlers): Promise<void> {
    if (this.joined !== undefined) throw new Error(`transport already started as node ${this.joined.nodeId}`);
    const endpoint: BusEndpoint = {
      receive: (from, frame) => this.receive(endpoint, from, frame),
      unreachable: (peerId) => this.reportUnreachable(endpoint, peerId),
    };
    this.bus.join(clusterId, nodeId, endpoint);
    this.joined = { clusterId, nodeId, handlers, endpoint };
  }

  send(messages: readonly Message[]): void {
    const j = this.joined;
    if (j === undefined) {
      this.counters.sendFailures += messages.length;
      return;
    }
    for (const m of messages) {
      let frame: Uint8Array;
      try {
        frame = encodeMessage(m);
      } catch {
        // The codec refuses what it cannot represent exactly; never throw at the sender.
        this.counters.sendFailures++;
        continue;
      }
      if (frame.length > this.capabilities.maxPayloadBytes) {
        this.counters.sendFailures++;
        continue;
      }
      if (this.bus.route(j.clusterId, j.endpoint, j.nodeId, m.to, frame, m)) {
        this.counters.sent++;
      } else {
        this.counters.sendFailures++;
        this.reportUnreachable(j.endpoint, m.to);
      }
    }
  }

  async stop(): Promise<void> {
    const j = this.joined;
    if (j === undefined) return;
    this.joined = undefined;
    this.bus.leave(j.clusterId, j.nodeId, j.endpoint);
  }

  stats(): TransportStats {
    return { ...this.counters };
  }

  private receive(endpoint: BusEndpoint, from: number, frame: Uint8Array): void {
    const j = this.joined;
    if (j?.endpoint !== endpoint) {
      this.counters.dropped++;
      return;
    }
    let m: Message;
    try {
      m = decodeMessage(frame);
    } catch {
      this.counters.dropped++;
      return;
    }
    // Misaddressed or forged: the bus says who sent the frame.
    if (m.to !== j.nodeId || m.from !== from) {
      this.counters.dropped++;
      return;
    }
    this.counters.received++;
    j.handlers.onMessage(m);
  }

  private reportUnreachable(endpoint: BusEndpoint, peerId: number): void {
    if (this.unreachable.has(peerId)) return;
    this.unreachable.add(peerId);
    // Later, so the handler never runs inside the caller's send().
    setImmediate(() => {
      this.unreachable.delete(peerId);
      const j = this.joined;
      if (j?.endpoint === endpoint) j.handlers.onUnreachable?.(peerId);
    });
  }
}

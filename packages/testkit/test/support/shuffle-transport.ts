// A transport for testing the transport suite's other branches: it has a
// payload limit, reorders messages, and cannot tell that a peer is missing
// (it publishes into the void, as a stream or topic based bus does).
import {
  decodeMessage,
  encodeMessage,
  type Message,
  type Transport,
  type TransportHandlers,
  type TransportStats,
} from '@raftbus/core';
import { SeededRandom } from '../../src/index.js';

export class ShuffleBus {
  readonly rng = new SeededRandom(7);
  readonly inboxes = new Map<string, (frame: Uint8Array) => void>();
}

export class ShuffleTransport implements Transport {
  readonly capabilities = { maxPayloadBytes: 64 * 1024, orderedPerPeer: false };
  private readonly counters: TransportStats = { sent: 0, received: 0, dropped: 0, sendFailures: 0 };
  private address: string | undefined;
  private clusterId = '';

  constructor(private readonly bus: ShuffleBus) {}

  async start(clusterId: string, nodeId: number, handlers: TransportHandlers): Promise<void> {
    this.clusterId = clusterId;
    this.address = JSON.stringify([clusterId, nodeId]);
    this.bus.inboxes.set(this.address, (frame) => {
      this.counters.received++;
      handlers.onMessage(decodeMessage(frame));
    });
  }

  send(messages: readonly Message[]): void {
    if (this.address === undefined) return;
    for (const m of messages) {
      const frame = encodeMessage(m);
      if (frame.length > this.capabilities.maxPayloadBytes) {
        this.counters.sendFailures++;
        continue;
      }
      this.counters.sent++;
      const to = JSON.stringify([this.clusterId, m.to]);
      setTimeout(() => this.bus.inboxes.get(to)?.(frame), this.bus.rng.int(4));
    }
  }

  async stop(): Promise<void> {
    if (this.address !== undefined) this.bus.inboxes.delete(this.address);
    this.address = undefined;
  }

  stats(): TransportStats {
    return { ...this.counters };
  }
}

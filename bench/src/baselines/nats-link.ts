// Core NATS as NatsTransport uses it: each inbox a subject with a callback
// subscription (flushed before use, so it is on the server), each frame one
// publish, which the client buffers and writes out on its own schedule.
import { natsSubject } from '@raftbus/transport-nats';
import type { BusEndpoint, BusLink } from './bus-link.js';
import { nats } from './clients.js';

export class NatsLink implements BusLink {
  readonly bus = 'nats';
  /**
   * @param namespace the inboxes' subjects are this link's own; another
   *   process reaches the same inboxes through a link with the same one.
   */
  constructor(
    private readonly url: string,
    readonly namespace = `bench-${process.pid}-${Date.now().toString(36)}`,
  ) {}

  async endpoint(id: number, deliver: (frame: Uint8Array) => void): Promise<BusEndpoint> {
    const nc = await nats().connect({ servers: this.url, name: `raftbus-bench ${id}` });
    nc.subscribe(natsSubject(this.namespace, id), {
      callback: (err, msg) => {
        if (err === null) deliver(msg.data);
      },
    });
    await nc.flush();
    const subjects = new Map<number, string>();
    const namespace = this.namespace;
    return {
      send(to, frame) {
        let subject = subjects.get(to);
        if (subject === undefined) subjects.set(to, (subject = natsSubject(namespace, to)));
        nc.publish(subject, frame);
      },
      async close() {
        await nc.drain().catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {}
}

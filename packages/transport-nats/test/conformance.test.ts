import { connect } from '@nats-io/transport-node';
import { transportConformance } from '@raftbus/testkit';
import { afterAll, beforeAll, describe } from 'vitest';
import { NatsTransport } from '../src/index.js';
import { natsProvision, sharedNats, type SharedNats } from './nats-server.js';

const provision = natsProvision();
const skipped = provision.kind === 'none' ? provision.reason : undefined;

describe.skipIf(skipped !== undefined)(skipped === undefined ? 'NATS' : `NATS (skipped: ${skipped})`, () => {
  let nats: SharedNats;
  beforeAll(async () => {
    nats = await sharedNats(provision);
  });
  afterAll(() => nats?.stop());

  transportConformance('NatsTransport, a client per node', async () => ({
    transport: () => new NatsTransport({ servers: nats.url }),
  }));

  transportConformance('NatsTransport, nodes sharing one connection, with HMAC', async () => {
    const connection = await connect({ servers: nats.url });
    return {
      transport: () => new NatsTransport({ connection, key: 'conformance secret' }),
      cleanup: () => connection.close(),
    };
  });
});
